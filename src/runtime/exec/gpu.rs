//! The executor's side of the GPU backend: an instruction the planner placed on the GPU runs
//! there when the device takes its actual arguments, and on the CPU otherwise.

use crate::builtins::ids;
use crate::hops::HopOp;
use crate::lower::{Instr, Operand};
use crate::runtime::builtins::{Args, conv_shape, pool_shape};
use crate::runtime::error::{RtError, RtResult};
use crate::runtime::exec::Runtime;
use crate::types::value::Value;

/// The pool builtins, whose shape comes from `input_shape`, `pool_size`, `stride`, `padding`.
const POOLS: [crate::builtins::BuiltinId; 6] = [
    ids::MAX_POOL,
    ids::RELU_MAX_POOL,
    ids::AVG_POOL,
    ids::MAX_POOL_BACKWARD,
    ids::RELU_MAX_POOL_BACKWARD,
    ids::AVG_POOL_BACKWARD,
];

/// The builtins whose shape the executor reads from their arguments, optional ones included.
const SHAPED: [crate::builtins::BuiltinId; 10] = [
    ids::CONV2D,
    ids::CONV2D_BIAS_ADD,
    ids::CONV2D_BACKWARD_FILTER,
    ids::CONV2D_BACKWARD_DATA,
    ids::MAX_POOL,
    ids::RELU_MAX_POOL,
    ids::AVG_POOL,
    ids::MAX_POOL_BACKWARD,
    ids::RELU_MAX_POOL_BACKWARD,
    ids::AVG_POOL_BACKWARD,
];

impl Runtime<'_> {
    /// Runs a GPU-planned instruction on the device. `Ok(None)`: the device does not take these
    /// arguments (an empty matrix, a string, a buffer over its limit), nothing was consumed,
    /// and the CPU path runs it. Registers read for the last time are released only on success.
    pub(super) fn step_gpu(&self, ins: &Instr, regs: &mut [Option<Value>]) -> RtResult<Option<Value>> {
        let mut given = Vec::with_capacity(ins.args.len());
        for a in &ins.args {
            match a {
                Operand::Const(v) => given.push(Some(v.clone())),
                Operand::Reg(r) => match &regs[*r as usize] {
                    Some(v) => given.push(Some(v.clone())),
                    None => return Ok(None),
                },
                Operand::Absent => given.push(None),
            }
        }
        // Only the DNN builtins read their optional arguments (a default stride or padding),
        // through the shape parsing below; their device kernels take the leading matrices, which
        // are required, so an absent argument stands there as FALSE.
        let shaped = matches!(&ins.op, HopOp::Builtin { id, .. } if SHAPED.contains(id));
        if !shaped && given.iter().any(Option::is_none) {
            return Ok(None);
        }
        let vals: Vec<Value> = given.iter().map(|v| v.clone().unwrap_or(Value::Bool(false))).collect();
        let result = match &ins.op {
            HopOp::Builtin { id, .. } if *id == ids::CONV2D || *id == ids::CONV2D_BIAS_ADD => {
                let args = Args::new(*id, given.clone());
                // Shape arguments the CPU builtin rejects are left to it, for its message.
                let Ok(shape) = conv_shape(&args) else { return Ok(None) };
                crate::gpu::execute_conv(&vals, &shape, *id == ids::CONV2D_BIAS_ADD)
            }
            HopOp::Builtin { id, .. }
                if *id == ids::CONV2D_BACKWARD_FILTER || *id == ids::CONV2D_BACKWARD_DATA =>
            {
                let args = Args::new(*id, given.clone());
                let Ok(shape) = conv_shape(&args) else { return Ok(None) };
                crate::gpu::execute_dnn(*id, &vals, crate::gpu::DnnShape::Conv(&shape))
            }
            HopOp::Builtin { id, .. } if POOLS.contains(id) => {
                let args = Args::new(*id, given.clone());
                let Ok(shape) = pool_shape(&args) else { return Ok(None) };
                crate::gpu::execute_dnn(*id, &vals, crate::gpu::DnnShape::Pool(&shape))
            }
            op => crate::gpu::execute(op, &vals),
        };
        match result {
            None => Ok(None),
            Some(Err(e)) => Err(RtError::new(e)),
            Some(Ok(v)) => {
                drop((vals, given));
                for (i, a) in ins.args.iter().enumerate() {
                    if let Operand::Reg(r) = a
                        && ins.moves & (1 << i) != 0
                    {
                        regs[*r as usize] = None;
                    }
                }
                Ok(Some(v))
            }
        }
    }
}
