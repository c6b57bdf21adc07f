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

impl Runtime<'_> {
    /// Runs a GPU-planned instruction on the device. `Ok(None)`: the device does not take these
    /// arguments (an empty matrix, a string, a buffer over its limit), nothing was consumed,
    /// and the CPU path runs it. Registers read for the last time are released only on success.
    pub(super) fn step_gpu(&self, ins: &Instr, regs: &mut [Option<Value>]) -> RtResult<Option<Value>> {
        let mut vals = Vec::with_capacity(ins.args.len());
        for a in &ins.args {
            match a {
                Operand::Const(v) => vals.push(v.clone()),
                Operand::Reg(r) => match &regs[*r as usize] {
                    Some(v) => vals.push(v.clone()),
                    None => return Ok(None),
                },
                Operand::Absent => return Ok(None),
            }
        }
        let result = match &ins.op {
            HopOp::Builtin { id, .. } if *id == ids::CONV2D || *id == ids::CONV2D_BIAS_ADD => {
                let args = Args::new(*id, vals.iter().cloned().map(Some).collect());
                // Shape arguments the CPU builtin rejects are left to it, for its message.
                let Ok(shape) = conv_shape(&args) else { return Ok(None) };
                crate::gpu::execute_conv(&vals, &shape, *id == ids::CONV2D_BIAS_ADD)
            }
            HopOp::Builtin { id, .. }
                if *id == ids::CONV2D_BACKWARD_FILTER || *id == ids::CONV2D_BACKWARD_DATA =>
            {
                let args = Args::new(*id, vals.iter().cloned().map(Some).collect());
                let Ok(shape) = conv_shape(&args) else { return Ok(None) };
                crate::gpu::execute_dnn(*id, &vals, crate::gpu::DnnShape::Conv(&shape))
            }
            HopOp::Builtin { id, .. } if POOLS.contains(id) => {
                let args = Args::new(*id, vals.iter().cloned().map(Some).collect());
                let Ok(shape) = pool_shape(&args) else { return Ok(None) };
                crate::gpu::execute_dnn(*id, &vals, crate::gpu::DnnShape::Pool(&shape))
            }
            op => crate::gpu::execute(op, &vals),
        };
        match result {
            None => Ok(None),
            Some(Err(e)) => Err(RtError::new(e)),
            Some(Ok(v)) => {
                drop(vals);
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
