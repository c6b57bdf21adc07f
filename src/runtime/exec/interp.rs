//! The instruction interpreter: runs a plan's instructions over its registers, reading and
//! writing the scope's variable slots. With lineage traced each instruction goes through
//! [`Runtime::step_traced`](crate::runtime::lineage) instead, which calls [`Runtime::step`].

use crate::hops::HopOp;
use crate::kernels;
use crate::kernels::scalar::unary_scalar;
use crate::lower::{Instr, Operand, Plan, TAKE_FROM_FRAME};
use crate::runtime::builtins;
use crate::runtime::error::{RtError, RtResult};
use crate::runtime::exec::{Regs, Runtime, Slots, req};
use crate::runtime::lineage::LinRef;
use crate::types::ops::{AggDir, CastOp, DataGenOp, EffectOp, NaryOp, ReorgOp};
use crate::types::value::{ListValue, Value};
use std::sync::Arc;
use std::time::Instant;

impl Runtime<'_> {
    /// Runs a plan's instructions; returns the register file (predicates read their result).
    pub(super) fn execute(&self, plan: &Plan, slots: &mut Slots, depth: usize) -> RtResult<Regs> {
        let mut regs = Regs::new(plan.nregs as usize);
        let mut lins: Vec<Option<LinRef>> =
            if self.tracer.is_some() { vec![None; plan.nregs as usize] } else { Vec::new() };
        for ins in &plan.instrs {
            let start = self.stats.map(|_| (Instant::now(), crate::runtime::stats::process_cpu_time()));
            match self.tracer {
                None => self.step(ins, &mut regs, slots, depth),
                Some(t) => self.step_traced(t, ins, &mut regs, &mut lins, slots, depth),
            }
            .map_err(|e| e.at(ins.span))?;
            if let (Some(s), Some((t, cpu))) = (self.stats, start) {
                s.record(&ins.op, t.elapsed(), crate::runtime::stats::process_cpu_time().saturating_sub(cpu));
            }
        }
        Ok(regs)
    }

    fn arg(&self, ins: &Instr, i: usize, regs: &mut Regs) -> RtResult<Option<Value>> {
        match &ins.args[i] {
            Operand::Const(v) => Ok(Some(v.clone())),
            Operand::Absent => Ok(None),
            Operand::Reg(r) => regs
                .read(*r as usize, ins.moves & (1 << i) != 0)?
                .map(Some)
                .ok_or_else(|| RtError::new("internal error: register read before it was written")),
        }
    }

    /// Argument `i` as a matrix still only on the device, for an instruction that passes it on
    /// without reading its cells (a variable write, a function call); the register is released
    /// when this is its last reader. `None` for anything else (read it with [`Runtime::arg`]).
    fn device_arg(&self, ins: &Instr, i: usize, regs: &mut Regs) -> Option<crate::gpu::DeviceMatrix> {
        let Operand::Reg(r) = ins.args[i] else { return None };
        let d = regs.device(r as usize).filter(|d| d.on_device())?.clone();
        if ins.moves & (1 << i) != 0 {
            regs.clear(r as usize);
        }
        Some(d)
    }

    pub(crate) fn args(&self, ins: &Instr, regs: &mut Regs) -> RtResult<Vec<Option<Value>>> {
        // A plain loop: collecting into a Result compiled into a slower loop here (measured).
        let mut out = Vec::with_capacity(ins.args.len());
        for i in 0..ins.args.len() {
            out.push(self.arg(ins, i, regs)?);
        }
        Ok(out)
    }

    pub(crate) fn step(&self, ins: &Instr, regs: &mut Regs, slots: &mut Slots, depth: usize) -> RtResult<()> {
        let out = ins.out as usize;
        if ins.backend == crate::types::Backend::Gpu
            && let Some(outs) = self.step_gpu(ins, regs)?
        {
            for (i, v) in outs.into_iter().enumerate() {
                match v {
                    crate::gpu::GpuValue::Host(v) => regs[out + i] = Some(v),
                    // Lineage items are made from host values, so a traced program downloads.
                    crate::gpu::GpuValue::Device(d) if self.tracer.is_some() => {
                        regs[out + i] = Some(Value::Matrix(d.download().map_err(RtError::new)?))
                    }
                    crate::gpu::GpuValue::Device(d) => regs.put_device(out + i, d),
                }
            }
            return Ok(());
        }
        let v = match &ins.op {
            HopOp::Read(var) => {
                let (var, take) = (*var as usize, ins.moves & TAKE_FROM_FRAME != 0);
                // A variable on the device stays there: the register gets the device matrix.
                if let Some(d) = slots.device(var) {
                    let d = if take { slots.take_device(var) } else { Some(d.clone()) };
                    if let Some(d) = d {
                        regs.put_device(out, d);
                    }
                    return Ok(());
                }
                let slot = &mut slots.vals[var];
                let v = if take { slot.take() } else { slot.clone() };
                v.ok_or_else(|| RtError::new("variable has no value at this point"))?
            }
            HopOp::Write(var) => {
                if let Some(d) = self.device_arg(ins, 0, regs) {
                    slots.set_device(*var as usize, d);
                    return Ok(());
                }
                let v = req(self.arg(ins, 0, regs)?)?;
                slots.set(*var as usize, v);
                return Ok(());
            }
            HopOp::Literal(_) | HopOp::Extract(_) => return Ok(()),
            HopOp::Unary(op) => {
                let x = req(self.arg(ins, 0, regs)?)?;
                match x {
                    Value::Matrix(m) => builtins::unary_matrix(*op, m),
                    _ if x.is_scalar() => unary_scalar(*op, &x)?,
                    _ => {
                        return Err(RtError::new(format!(
                            "{} cannot be applied to a {}",
                            op.name(),
                            x.kind()
                        )));
                    }
                }
            }
            HopOp::Binary(op) => {
                let a = req(self.arg(ins, 0, regs)?)?;
                let b = req(self.arg(ins, 1, regs)?)?;
                builtins::binary(*op, a, b)?
            }
            HopOp::Ternary => {
                let args = self.args(ins, regs)?;
                builtins::ifelse(args)?
            }
            HopOp::AggUnary(op, dir) => {
                let x = req(self.arg(ins, 0, regs)?)?;
                let m = builtins::matrix_arg(&x, "aggregate")?;
                match dir {
                    AggDir::All => Value::Double(kernels::aggregate::aggregate_all(*op, m)?),
                    _ => Value::matrix(kernels::aggregate::aggregate(*op, *dir, m)?),
                }
            }
            HopOp::MatMul => {
                let a = req(self.arg(ins, 0, regs)?)?;
                let b = req(self.arg(ins, 1, regs)?)?;
                let (ma, mb) = (builtins::matrix_arg(&a, "%*%")?, builtins::matrix_arg(&b, "%*%")?);
                // A product the planner placed in sparse storage was checked against the budget in
                // that format; only a dense one is checked here by its cells.
                if ins.format != Some(crate::types::backend::Format::Sparse) {
                    builtins::check_budget_cells(self.opts, ma.rows() as f64 * mb.cols() as f64)?;
                }
                Value::matrix(kernels::matmul::matmul(ma, mb)?)
            }
            HopOp::Tsmm { left } => {
                let x = req(self.arg(ins, 0, regs)?)?;
                Value::matrix(kernels::matmul::tsmm(builtins::matrix_arg(&x, "%*%")?, *left))
            }
            HopOp::Reorg(op) => {
                let x = req(self.arg(ins, 0, regs)?)?;
                let m = builtins::matrix_arg(&x, "reorganisation")?;
                Value::matrix(match op {
                    ReorgOp::Transpose => kernels::reorg::transpose(m),
                    ReorgOp::Rev => kernels::reorg::rev(m),
                    ReorgOp::Diag => kernels::reorg::diag(m)?,
                })
            }
            HopOp::Reshape { byrow } => {
                let args = self.args(ins, regs)?;
                builtins::reshape(args, *byrow)?
            }
            HopOp::Index | HopOp::ListIndex => {
                let args = self.args(ins, regs)?;
                builtins::right_index(args)?
            }
            HopOp::LeftIndex => {
                let args = self.args(ins, regs)?;
                builtins::left_index(args)?
            }
            HopOp::Nary(op) => {
                let args = self.args(ins, regs)?;
                match op {
                    NaryOp::Cbind | NaryOp::Rbind => builtins::bind(args, *op == NaryOp::Cbind)?,
                    NaryOp::Min | NaryOp::Max => builtins::nary_minmax(args, *op == NaryOp::Min)?,
                }
            }
            HopOp::Cast(op) => {
                // The dimensions of a matrix on the device are known without its cells.
                if matches!(op, CastOp::Nrow | CastOp::Ncol | CastOp::Length)
                    && let Operand::Reg(r) = ins.args[0]
                    && let Some(d) = regs.device(r as usize)
                {
                    let (rows, cols) = (d.rows(), d.cols());
                    if ins.moves & 1 != 0 {
                        regs.clear(r as usize);
                    }
                    let n = match op {
                        CastOp::Nrow => rows,
                        CastOp::Ncol => cols,
                        _ => rows * cols,
                    };
                    regs[out] = Some(Value::Int(n as i64));
                    return Ok(());
                }
                let x = req(self.arg(ins, 0, regs)?)?;
                builtins::cast(*op, x)?
            }
            HopOp::DataGen(op) => {
                let args = self.args(ins, regs)?;
                match op {
                    DataGenOp::Fill => builtins::fill(self.opts, args, ins.format)?,
                    DataGenOp::Rand => builtins::rand(self.opts, args, ins.format)?,
                    DataGenOp::Seq => builtins::seq(args)?,
                }
            }
            HopOp::MakeList(names) => {
                let items = self.args(ins, regs)?.into_iter().map(req).collect::<RtResult<Vec<_>>>()?;
                Value::List(Arc::new(ListValue { items, names: names.clone() }))
            }
            HopOp::Builtin { id, nout } => {
                let args = self.args(ins, regs)?;
                let outs = builtins::call(self, *id, args)?;
                if (outs.len() as u8) < (*nout).max(1) && id.spec().out != crate::builtins::Out::Nothing {
                    return Err(RtError::new(format!("`{}` produced too few outputs", id.name())));
                }
                for (i, v) in outs.into_iter().enumerate() {
                    regs[out + i] = Some(v);
                }
                return Ok(());
            }
            HopOp::Call { func, .. } => {
                // Matrices on the device are passed as they are, and results stay there.
                let mut args = Vec::with_capacity(ins.args.len());
                for i in 0..ins.args.len() {
                    args.push(match self.device_arg(ins, i, regs) {
                        Some(d) => Some(crate::gpu::GpuValue::Device(d)),
                        None => self.arg(ins, i, regs)?.map(crate::gpu::GpuValue::Host),
                    });
                }
                let outs = self.call_function_values(*func, args, depth + 1)?;
                for (i, v) in outs.into_iter().enumerate() {
                    match v {
                        crate::gpu::GpuValue::Host(v) => regs[out + i] = Some(v),
                        crate::gpu::GpuValue::Device(d) => regs.put_device(out + i, d),
                    }
                }
                return Ok(());
            }
            HopOp::Effect(e) => {
                let args = self.args(ins, regs)?;
                return self.effect(*e, args);
            }
            HopOp::Fused(body) => {
                let args = self.args(ins, regs)?;
                for (i, v) in builtins::fused(body, args)?.into_iter().enumerate() {
                    regs[out + i] = Some(v);
                }
                return Ok(());
            }
        };
        regs[out] = Some(v);
        Ok(())
    }

    fn effect(&self, e: EffectOp, args: Vec<Option<Value>>) -> RtResult<()> {
        match e {
            EffectOp::Print => {
                let v = req(args.into_iter().next().flatten())?;
                let text = builtins::print_string(&v)?;
                self.out.print(&text);
                Ok(())
            }
            EffectOp::Printf => {
                let vals: Vec<Value> = args.into_iter().map(req).collect::<RtResult<_>>()?;
                let text = builtins::printf(&vals)?;
                self.out.print(&text);
                Ok(())
            }
            EffectOp::Stop => {
                let v = args.into_iter().next().flatten();
                let msg = match v {
                    Some(v) => builtins::print_string(&v)?,
                    None => String::new(),
                };
                Err(RtError { message: msg, span: None, stopped: true, notes: vec![] })
            }
            EffectOp::Assert => {
                let v = req(args.into_iter().next().flatten())?;
                match v.as_bool() {
                    Some(true) => Ok(()),
                    Some(false) => Err(RtError::new("assertion failed")),
                    None => Err(RtError::new(format!("assert needs a boolean, got a {}", v.kind()))),
                }
            }
        }
    }
}
