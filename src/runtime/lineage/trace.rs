//! The executor's lineage path: runs an instruction as the interpreter does
//! ([`Runtime::step`]) and gives each of its outputs a lineage item whose inputs are the items of
//! its operands, with SystemDS's opcodes and creation texts.

use crate::builtins::ids;
use crate::hops::HopOp;
use crate::kernels;
use crate::lower::{Instr, Operand};
use crate::runtime::builtins;
use crate::runtime::error::{RtError, RtResult};
use crate::runtime::exec::{Regs, Runtime, Slots, req};
use crate::runtime::lineage::{self, LinRef, Replay, Tracer};
use crate::types::ops::{BinOp, DataGenOp, ReorgOp};
use crate::types::value::Value;

impl Runtime<'_> {
    /// The lineage item of an operand (`None` for an absent optional argument).
    fn operand_lin(t: &Tracer, op: &Operand, regs: &Regs, lins: &mut [Option<LinRef>]) -> Option<LinRef> {
        match op {
            Operand::Const(v) => Some(t.literal(v).unwrap_or_else(|| t.untraced(v))),
            Operand::Absent => None,
            Operand::Reg(r) => {
                let r = *r as usize;
                if lins[r].is_none()
                    && let Some(v) = &regs[r]
                {
                    lins[r] = Some(t.untraced(v));
                }
                lins[r].clone()
            }
        }
    }

    /// [`Runtime::step`] while tracing lineage: runs the instruction and gives each output an item.
    pub(crate) fn step_traced(
        &self,
        t: &Tracer,
        ins: &Instr,
        regs: &mut Regs,
        lins: &mut [Option<LinRef>],
        slots: &mut Slots,
        depth: usize,
    ) -> RtResult<()> {
        let out = ins.out as usize;
        match &ins.op {
            HopOp::Literal(_) | HopOp::Extract(_) | HopOp::Effect(_) => {
                return self.step(ins, regs, slots, depth);
            }
            HopOp::Read(var) => {
                self.step(ins, regs, slots, depth)?;
                let item = match slots.lin_of(*var as usize) {
                    Some(item) => item,
                    None => {
                        let item = regs[out].as_ref().map(|v| t.untraced(v));
                        slots.set_lin(*var as usize, item.clone());
                        match item {
                            Some(i) => i,
                            None => return Ok(()),
                        }
                    }
                };
                lins[out] = Some(item);
                return Ok(());
            }
            HopOp::Write(var) => {
                let item = Self::operand_lin(t, &ins.args[0], regs, lins);
                self.step(ins, regs, slots, depth)?;
                slots.set_lin(*var as usize, item);
                return Ok(());
            }
            HopOp::Call { func, .. } => {
                let items: Vec<Option<LinRef>> =
                    ins.args.iter().map(|a| Self::operand_lin(t, a, regs, lins)).collect();
                let args = self.args(ins, regs)?;
                let (outs, out_lins) = self.call_function_traced(*func, args, items, depth + 1)?;
                for (i, (v, l)) in outs.into_iter().zip(out_lins).enumerate() {
                    regs[out + i] = Some(v);
                    lins[out + i] = l;
                }
                return Ok(());
            }
            HopOp::Builtin { id, .. } if matches!(*id, ids::LINEAGE | ids::AUTO_DIFF) => {
                let items: Vec<Option<LinRef>> =
                    ins.args.iter().map(|a| Self::operand_lin(t, a, regs, lins)).collect();
                let args = self.args(ins, regs)?;
                let v = if *id == ids::LINEAGE {
                    let item = items[0].as_ref().ok_or_else(|| RtError::new("lineage needs a value"))?;
                    Value::str(lineage::explain(item))
                } else {
                    let output = req(args.into_iter().next().flatten())?;
                    let item = items[0].as_ref().ok_or_else(|| RtError::new("autoDiff needs an output"))?;
                    crate::runtime::autodiff::auto_diff(self, item, &output)?
                };
                let shown: Vec<LinRef> = items.into_iter().flatten().collect();
                lins[out] = Some(t.instr(id.name().to_string(), shown, Replay::None, 0));
                regs[out] = Some(v);
                return Ok(());
            }
            HopOp::DataGen(op) => {
                let mut args = self.args(ins, regs)?;
                if let (DataGenOp::Fill, Some(Value::Str(_))) = (op, &args[0]) {
                    // matrix("1 2 3", rows, cols): SystemDS's `sinit (rows) (cols) (text)`.
                    let lits: Vec<LinRef> = [1, 2, 0]
                        .iter()
                        .filter_map(|&i| args[i].as_ref().and_then(|v| t.literal(v)))
                        .collect();
                    let v = builtins::fill(self.opts, args.clone(), ins.format)?;
                    let replay = Replay::Const { op: ins.op.clone(), args };
                    lins[out] = Some(t.instr("sinit".into(), lits, replay, 0));
                    regs[out] = Some(v);
                    return Ok(());
                }
                if *op == DataGenOp::Rand && args[7].as_ref().and_then(|s| s.as_f64()).is_none_or(|s| s < 0.0)
                {
                    // Fix the seed now, so that the trace can generate the same matrix again.
                    let seed = kernels::datagen::random_seed() & 0x7fff_ffff;
                    args[7] = Some(Value::Int(seed as i64));
                }
                let v = match op {
                    DataGenOp::Fill => builtins::fill(self.opts, args.clone(), ins.format)?,
                    DataGenOp::Rand => builtins::rand(self.opts, args.clone(), ins.format)?,
                    DataGenOp::Seq => builtins::seq(args.clone())?,
                };
                let text = lineage::creation_text(*op, &args, &v, rayon::current_num_threads());
                lins[out] = Some(t.creation(text, Replay::Const { op: ins.op.clone(), args }));
                regs[out] = Some(v);
                return Ok(());
            }
            _ => {}
        }
        if let HopOp::Builtin { id, .. } = &ins.op {
            if matches!(*id, ids::READ | ids::READ_MM | ids::READ_CSV) {
                // A read is a creation item of its own, without items for its arguments.
                let args = self.args(ins, regs)?;
                let v = builtins::call(self, *id, args.clone())?;
                let text = read_text(&args, v.first());
                for (i, v) in v.into_iter().enumerate() {
                    regs[out + i] = Some(v);
                }
                lins[out] = Some(t.creation(text, Replay::Const { op: ins.op.clone(), args }));
                return Ok(());
            }
            if *id == ids::MATMUL_T {
                return self.step_traced_matmul_t(t, ins, regs, lins, slots, depth);
            }
        }
        let Some(mut opcode) = lineage::opcode(&ins.op) else {
            return self.step(ins, regs, slots, depth);
        };
        // Shown inputs, and where each argument sits among them (for replay).
        let mut inputs = Vec::with_capacity(ins.args.len() + 1);
        let mut arg_slots = Vec::with_capacity(ins.args.len());
        if let HopOp::Unary(crate::types::ops::UnOp::Neg) = ins.op {
            // SystemDS traces -x as 0 - x.
            inputs.extend(t.literal(&Value::Int(0)));
        }
        for a in &ins.args {
            match Self::operand_lin(t, a, regs, lins) {
                Some(item) => {
                    arg_slots.push(Some(inputs.len() as u16));
                    inputs.push(item);
                }
                None => arg_slots.push(None),
            }
        }
        if let HopOp::Unary(crate::types::ops::UnOp::Relu) = ins.op {
            // ... and relu as max(x, 0).
            inputs.extend(t.literal(&Value::Int(0)));
        }
        if let HopOp::Binary(op @ (BinOp::Mul | BinOp::Pow)) = ins.op
            && matches!(&ins.args[0], Operand::Reg(r) if matches!(regs[*r as usize], Some(Value::Matrix(_))))
            && matches!(&ins.args[1], Operand::Const(c) if c.as_f64() == Some(2.0))
        {
            // X * 2 and X ^ 2 run as SystemDS's special opcodes `*2` and `^2`.
            opcode = if op == BinOp::Mul { "*2" } else { "^2" }.to_string();
        }
        let nout = match ins.op {
            HopOp::Builtin { nout, .. } => nout.max(1),
            _ => 1,
        };
        self.step(ins, regs, slots, depth)?;
        for i in 0..nout {
            let replay = Replay::Op { op: ins.op.clone(), slots: arg_slots.clone(), out: i };
            lins[out + i as usize] = Some(t.instr(opcode.clone(), inputs.clone(), replay, i));
        }
        Ok(())
    }

    /// Our fused `_matmul_t(a, b, ta, tb)` traces as SystemDS runs it: `r'` of each transposed
    /// operand, then `ba+*`.
    fn step_traced_matmul_t(
        &self,
        t: &Tracer,
        ins: &Instr,
        regs: &mut Regs,
        lins: &mut [Option<LinRef>],
        slots: &mut Slots,
        depth: usize,
    ) -> RtResult<()> {
        let flag = |i: usize| matches!(&ins.args[i], Operand::Const(Value::Bool(true)));
        let mut operands = Vec::with_capacity(2);
        for i in 0..2 {
            let Some(item) = Self::operand_lin(t, &ins.args[i], regs, lins) else {
                return self.step(ins, regs, slots, depth);
            };
            operands.push(if flag(i + 2) {
                let replay =
                    Replay::Op { op: HopOp::Reorg(ReorgOp::Transpose), slots: vec![Some(0)], out: 0 };
                t.instr("r'".into(), vec![item], replay, 0)
            } else {
                item
            });
        }
        self.step(ins, regs, slots, depth)?;
        let replay = Replay::Op { op: HopOp::MatMul, slots: vec![Some(0), Some(1)], out: 0 };
        lins[ins.out as usize] = Some(t.instr("ba+*".into(), operands, replay, 0));
        Ok(())
    }
}

/// SystemDS's creation item of a read: `CP°createvar°pREADxxx°file°...`.
fn read_text(args: &[Option<Value>], v: Option<&Value>) -> String {
    let s = |i: usize| match args.get(i).and_then(|a| a.as_ref()) {
        Some(Value::Str(s)) => s.to_string(),
        Some(other) => builtins::print_string(other).unwrap_or_default(),
        None => String::new(),
    };
    let (dt, rows, cols) = match v {
        Some(Value::Frame(f)) => ("FRAME", f.rows() as i64, f.cols() as i64),
        Some(Value::Matrix(m)) => ("MATRIX", m.rows() as i64, m.cols() as i64),
        _ => ("SCALAR", -1, -1),
    };
    // The format: given, or from the metadata file, or SystemDS's default.
    let fmt = match s(1) {
        f if f.is_empty() => {
            let path = std::path::PathBuf::from(s(0));
            crate::runtime::io::mtd::Mtd::read(&crate::runtime::io::mtd::mtd_path(&path))
                .map(|m| m.format)
                .unwrap_or_else(|_| "text".into())
        }
        f => f,
    };
    format!("CP°createvar°pREADxxx°{}°false°{dt}°{fmt}°{rows}°{cols}°-1°-1°copy°false°,°true°0.0°", s(0))
}
