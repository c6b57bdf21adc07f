//! `autoDiff(output=Y, lineage=L)`: gradients computed from the lineage of `Y`.
//!
//! SystemDS 3.4.0 supports exactly the affine layer: `Y = X %*% W` gives the list `dX`, `dW`,
//! and `Y = X %*% W + b` adds `dB`. The backward pass is seeded with `Y` itself (what SystemDS
//! does: its `dX` equals `affine::backward(Y, X, W, b)`'s), so `dX = Y %*% t(W)`,
//! `dW = t(X) %*% Y`, `dB = colSums(Y)`. `X` and `W` are computed again from their lineage (a
//! rand with its recorded seed, a read, a literal matrix, and the instructions in between); the
//! `lineage=` argument is accepted for compatibility, the trace kept by the executor is used.

use crate::kernels;
use crate::lower::{Instr, Operand};
use crate::runtime::error::{RtError, RtResult};
use crate::runtime::exec::{Runtime, Slots};
use crate::runtime::lineage::{LinItem, LinRef, Replay};
use crate::types::Backend;
use crate::types::ops::{AggDir, AggOp};
use crate::types::value::{ListValue, Value};
use std::collections::HashMap;
use std::sync::Arc;

pub fn auto_diff(rt: &Runtime, item: &LinRef, output: &Value) -> RtResult<Value> {
    let dout = match output {
        Value::Matrix(m) => m.clone(),
        other => {
            return Err(RtError::new(format!(
                "autoDiff: the output must be a matrix, got a {}",
                other.kind()
            )));
        }
    };
    let (product, with_bias) = match item.text.as_str() {
        "ba+*" => (item.clone(), false),
        "+" if item.inputs.first().is_some_and(|i| i.text == "ba+*") => (item.inputs[0].clone(), true),
        other => {
            return Err(RtError::new(format!(
                "autoDiff supports an output computed as X %*% W or X %*% W + b (as SystemDS does); \
                 this one comes from `{other}`"
            )));
        }
    };
    let x = replay(rt, &product.inputs[0])?;
    let w = replay(rt, &product.inputs[1])?;
    let (x, w) = match (&x, &w) {
        (Value::Matrix(x), Value::Matrix(w)) => (x, w),
        _ => return Err(RtError::new("autoDiff: both operands of the product must be matrices")),
    };
    let dx = kernels::matmul::matmul(&dout, &kernels::reorg::transpose(w))?;
    let dw = kernels::matmul::matmul(&kernels::reorg::transpose(x), &dout)?;
    let mut items = vec![Value::matrix(dx), Value::matrix(dw)];
    let mut names = vec!["dX".to_string(), "dW".to_string()];
    if with_bias {
        items.push(Value::matrix(kernels::aggregate::aggregate(AggOp::Sum, AggDir::Col, &dout)?));
        names.push("dB".into());
    }
    Ok(Value::List(Arc::new(ListValue { items, names })))
}

/// Computes an item's value again from its lineage.
pub fn replay(rt: &Runtime, root: &LinRef) -> RtResult<Value> {
    // Items are created after their inputs: increasing ids are a topological order.
    let mut seen: HashMap<*const LinItem, LinRef> = HashMap::new();
    let mut stack = vec![root.clone()];
    while let Some(item) = stack.pop() {
        if seen.insert(Arc::as_ptr(&item), item.clone()).is_none() {
            stack.extend(item.inputs.iter().cloned());
        }
    }
    let mut items: Vec<LinRef> = seen.into_values().collect();
    items.sort_by_key(|i| i.id);
    let mut values: HashMap<*const LinItem, Value> = HashMap::new();
    for item in &items {
        let v = match &item.replay {
            Replay::Value(v) => v.clone(),
            Replay::Const { op, args } => {
                let ops =
                    args.iter().map(|a| a.clone().map(Operand::Const).unwrap_or(Operand::Absent)).collect();
                run_one(rt, op, ops, Vec::new(), 0)?
            }
            Replay::Op { op, slots, out } => {
                let regs: Vec<Option<Value>> =
                    item.inputs.iter().map(|i| values.get(&Arc::as_ptr(i)).cloned()).collect();
                let ops = slots
                    .iter()
                    .map(|s| s.map(|k| Operand::Reg(k as u32)).unwrap_or(Operand::Absent))
                    .collect();
                run_one(rt, op, ops, regs, *out)?
            }
            Replay::None => {
                return Err(RtError::new(format!(
                    "autoDiff: cannot compute `{}` again from its lineage",
                    item.text
                )));
            }
        };
        values.insert(Arc::as_ptr(item), v);
    }
    values.remove(&Arc::as_ptr(root)).ok_or_else(|| RtError::new("autoDiff: the lineage has no value"))
}

/// Runs one instruction on the given registers; returns output `out`.
fn run_one(
    rt: &Runtime,
    op: &crate::hops::HopOp,
    args: Vec<Operand>,
    regs: Vec<Option<Value>>,
    out: u8,
) -> RtResult<Value> {
    let mut regs = crate::runtime::exec::Regs::from_values(regs);
    let first_out = regs.len();
    let nout = match op {
        crate::hops::HopOp::Builtin { nout, .. } => (*nout as usize).max(1),
        _ => 1,
    };
    regs.resize(first_out + nout);
    let ins = Instr {
        op: op.clone(),
        args,
        out: first_out as u32,
        moves: 0,
        span: Default::default(),
        backend: Backend::CpuDense,
        format: None,
    };
    let mut slots = Slots::new(0);
    rt.step(&ins, &mut regs, &mut slots, 0)?;
    regs[first_out + out as usize]
        .take()
        .ok_or_else(|| RtError::new("autoDiff: an instruction gave no value"))
}
