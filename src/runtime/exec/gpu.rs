//! The executor's side of the GPU backend: an instruction the planner placed on the GPU runs
//! there when the device takes its actual arguments, and on the CPU otherwise. Its arguments are
//! host values or device matrices an earlier device instruction left in their registers
//! ([`Regs`]); its matrix results stay on the device.

use crate::builtins::ids;
use crate::gpu::GpuValue;
use crate::hops::HopOp;
use crate::lower::{Instr, Operand};
use crate::runtime::builtins::{Args, conv_shape, pool_shape};
use crate::runtime::error::{RtError, RtResult};
use crate::runtime::exec::{Regs, Runtime};
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
    /// Runs a GPU-planned instruction on the device, one value per output (matrices left on
    /// the device). `Ok(None)`: the device does not take these arguments (an empty matrix, a
    /// string, a buffer over its limit), nothing was consumed, and the CPU path runs it.
    /// Registers read for the last time are released only on success.
    pub(super) fn step_gpu(&self, ins: &Instr, regs: &mut Regs) -> RtResult<Option<Vec<GpuValue>>> {
        let mut given: Vec<Option<GpuValue>> = Vec::with_capacity(ins.args.len());
        for a in &ins.args {
            match a {
                Operand::Const(v) => given.push(Some(GpuValue::Host(v.clone()))),
                Operand::Reg(r) => {
                    let r = *r as usize;
                    match (&regs[r], regs.device(r)) {
                        (Some(v), _) => given.push(Some(GpuValue::Host(v.clone()))),
                        (None, Some(d)) => given.push(Some(GpuValue::Device(d.clone()))),
                        (None, None) => return Ok(None),
                    }
                }
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
        let vals: Vec<GpuValue> =
            given.iter().map(|v| v.clone().unwrap_or(GpuValue::Host(Value::Bool(false)))).collect();
        // The shape arguments as the CPU builtin parses them: host scalars and lists (a device
        // matrix, which no shape argument is, stands as FALSE).
        let shape_args = |id| {
            let host = given.iter().map(|v| match v {
                Some(GpuValue::Host(v)) => Some(v.clone()),
                Some(GpuValue::Device(_)) => Some(Value::Bool(false)),
                None => None,
            });
            Args::new(id, host.collect())
        };
        let one = |r: Option<Result<GpuValue, String>>| r.map(|r| r.map(|v| vec![v]));
        let result = match &ins.op {
            HopOp::Builtin { id, .. } if *id == ids::CONV2D || *id == ids::CONV2D_BIAS_ADD => {
                // Shape arguments the CPU builtin rejects are left to it, for its message.
                let Ok(shape) = conv_shape(&shape_args(*id)) else { return Ok(None) };
                one(crate::gpu::execute_conv(&vals, &shape, *id == ids::CONV2D_BIAS_ADD))
            }
            HopOp::Builtin { id, .. }
                if *id == ids::CONV2D_BACKWARD_FILTER || *id == ids::CONV2D_BACKWARD_DATA =>
            {
                let Ok(shape) = conv_shape(&shape_args(*id)) else { return Ok(None) };
                one(crate::gpu::execute_dnn(*id, &vals, crate::gpu::DnnShape::Conv(&shape)))
            }
            HopOp::Builtin { id, .. } if POOLS.contains(id) => {
                let Ok(shape) = pool_shape(&shape_args(*id)) else { return Ok(None) };
                one(crate::gpu::execute_dnn(*id, &vals, crate::gpu::DnnShape::Pool(&shape)))
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
                        regs.clear(*r as usize);
                    }
                }
                Ok(Some(v))
            }
        }
    }
}
