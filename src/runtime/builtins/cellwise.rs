//! Cellwise operators on scalars and matrices (in place when this instruction owns the matrix),
//! `ifelse`, n-ary `min`/`max`, and the builtins that are cellwise operators by name: `xor`,
//! the `bitw*` family, `ppred`, `outer` and the fused `_axpby`.

use super::frame::ops as frame_ops;
use super::{Args, BuiltinFn::Plain, Impl, err, one};
use crate::kernels;
use crate::kernels::scalar::binary_scalar;
use crate::runtime::error::{RtError, RtResult};
use crate::types::matrix::Matrix;
use crate::types::ops::BinOp;
use crate::types::value::Value;
use std::sync::Arc;

pub(super) const IMPLS: &[Impl] = &[
    ("xor", Plain(|a| cellwise(a, BinOp::Xor))),
    ("bitwAnd", Plain(|a| cellwise(a, BinOp::BitwAnd))),
    ("bitwOr", Plain(|a| cellwise(a, BinOp::BitwOr))),
    ("bitwXor", Plain(|a| cellwise(a, BinOp::BitwXor))),
    ("bitwShiftL", Plain(|a| cellwise(a, BinOp::BitwShiftL))),
    ("bitwShiftR", Plain(|a| cellwise(a, BinOp::BitwShiftR))),
    ("ppred", Plain(ppred)),
    ("outer", Plain(outer)),
    ("_axpby", Plain(fused_axpby)),
];

/// The dense cells of a matrix this instruction owns alone (nobody else holds the `Arc`), so an
/// elementwise result can be written over them instead of into a new allocation. The executor
/// moves values out of registers at their last use, which makes this the common case in loops.
fn owned_dense(m: &mut Arc<Matrix>) -> Option<&mut [f64]> {
    match Arc::get_mut(m)? {
        Matrix::Dense(a) => a.as_slice_mut(),
        Matrix::Sparse(_) => None,
    }
}

/// Cells per work item of the in-place kernels: small enough that a chunk just written is still
/// in cache when its non-zeros are counted.
const CHUNK: usize = 1 << 15;

/// The non-zeros of a chunk just written, when `count` asks for them (0 otherwise).
fn chunk_nnz(c: &[f64], count: bool) -> usize {
    if count { c.iter().map(|v| (*v != 0.0) as usize).sum() } else { 0 }
}

/// `out[i] = f(out[i], other[i])` (or with the operands swapped), in parallel for large inputs;
/// returns the result's non-zeros when `count` asks (counted chunk by chunk while in cache).
fn zip_in_place(
    cells: &mut [f64],
    other: &[f64],
    swapped: bool,
    count: bool,
    f: impl Fn(f64, f64) -> f64 + Sync,
) -> usize {
    use rayon::prelude::*;
    let body = |(c, o): (&mut [f64], &[f64])| {
        if swapped {
            kernels::simd::zip_in_place(c, o, &|x, y| f(y, x))
        } else {
            kernels::simd::zip_in_place(c, o, &f)
        }
        chunk_nnz(c, count)
    };
    if cells.len() > 2 * CHUNK {
        cells.par_chunks_mut(CHUNK).zip(other.par_chunks(CHUNK)).map(body).sum()
    } else {
        body((cells, other))
    }
}

/// `cells[i] = f(cells[i])` like [`kernels::elementwise::map_in_place`], returning the result's
/// non-zeros when `count` asks.
fn map_in_place(cells: &mut [f64], count: bool, f: impl Fn(f64) -> f64 + Sync) -> usize {
    use rayon::prelude::*;
    if !count {
        kernels::elementwise::map_in_place(cells, f);
        return 0;
    }
    let body = |c: &mut [f64]| {
        kernels::simd::map_in_place(c, &f);
        chunk_nnz(c, true)
    };
    if cells.len() > 2 * CHUNK { cells.par_chunks_mut(CHUNK).map(body).sum() } else { body(cells) }
}

/// `cells[i] = cells[i] op other[i]` (or `other[i] op cells[i]` when swapped), specialized for
/// the common operators so that the loops compile to vector code; the specialized forms compute
/// exactly what `BinOp::apply` computes. Returns the result's non-zeros for the operators that
/// [`BinOp::may_sparsify`] (0 for the others).
fn zip_op(op: BinOp, cells: &mut [f64], other: &[f64], swapped: bool) -> usize {
    let count = op.may_sparsify();
    match op {
        BinOp::Add => zip_in_place(cells, other, swapped, count, |p, q| p + q),
        BinOp::Sub => zip_in_place(cells, other, swapped, count, |p, q| p - q),
        BinOp::Mul => zip_in_place(cells, other, swapped, count, |p, q| p * q),
        BinOp::Div => zip_in_place(cells, other, swapped, count, |p, q| p / q),
        o => zip_in_place(cells, other, swapped, count, move |p, q| o.apply(p, q)),
    }
}

/// `cells[i] = cells[i] op v` (or `v op cells[i]` when `scalar_left`), specialized likewise;
/// returns the non-zeros as [`zip_op`] does.
fn map_op(op: BinOp, cells: &mut [f64], v: f64, scalar_left: bool) -> usize {
    let count = op.may_sparsify();
    match (op, scalar_left) {
        (BinOp::Add, _) => map_in_place(cells, count, move |p| p + v),
        (BinOp::Mul, _) => map_in_place(cells, count, move |p| p * v),
        (BinOp::Sub, false) => map_in_place(cells, count, move |p| p - v),
        (BinOp::Sub, true) => map_in_place(cells, count, move |p| v - p),
        (BinOp::Div, false) => map_in_place(cells, count, move |p| p / v),
        (BinOp::Div, true) => map_in_place(cells, count, move |p| v / p),
        (BinOp::Pow, false) if v == 2.0 => map_in_place(cells, count, |p| p * p),
        (o, false) => map_in_place(cells, count, move |p| o.apply(p, v)),
        (o, true) => map_in_place(cells, count, move |p| o.apply(v, p)),
    }
}

/// A dense result written in place by an operator that [`BinOp::may_sparsify`], with its
/// counted non-zeros: stored sparse when the count crosses SystemDS's turn point (a counted
/// conversion), as SystemDS re-examines each result; otherwise left as it is.
fn settle_format(op: BinOp, m: Arc<Matrix>, nnz: usize) -> Value {
    if op.may_sparsify() && Matrix::prefers_sparse(m.rows(), m.cols(), nnz) {
        crate::types::conversions::note_dense_to_sparse();
        return Value::matrix(Matrix::Sparse(m.to_csr()));
    }
    Value::Matrix(m)
}

/// A new result of an operator that [`BinOp::may_sparsify`], re-examined likewise (the kernels
/// that build a new dense result do not count as they write).
fn settle_new(op: BinOp, m: Matrix) -> Value {
    Value::matrix(if op.may_sparsify() && !m.is_sparse() { m.examine_format() } else { m })
}

fn scalar_operand(s: &Value, op: BinOp) -> RtResult<f64> {
    s.as_f64()
        .filter(|_| !matches!(s, Value::Str(_)))
        .ok_or_else(|| RtError::new(format!("operator {} cannot combine a matrix and a string", op.name())))
}

/// `a*x + b*y` for same-shape matrices `x`, `y` and scalars `a`, `b`, in one pass, written over
/// `x` or `y` when this instruction owns one of them (rewrite `fuse_axpby`). Per cell it is
/// exactly `(a*x) + (b*y)`, what the unfused operators compute. Operands of other shapes or
/// kinds (sparse, a broadcast the compiler could not see) take the unfused operators.
fn axpby(x: Value, y: Value, a: &Value, b: &Value) -> RtResult<Value> {
    let (sa, sb) = (scalar_operand(a, BinOp::Mul)?, scalar_operand(b, BinOp::Mul)?);
    let fusable = match (&x, &y) {
        (Value::Matrix(mx), Value::Matrix(my)) => {
            !mx.is_sparse() && !my.is_sparse() && mx.rows() == my.rows() && mx.cols() == my.cols()
        }
        _ => false,
    };
    if !fusable {
        let ax = binary(BinOp::Mul, a.clone(), x)?;
        let by = binary(BinOp::Mul, b.clone(), y)?;
        return binary(BinOp::Add, ax, by);
    }
    let (Value::Matrix(mut mx), Value::Matrix(mut my)) = (x, y) else {
        return Err(RtError::new("_axpby needs two matrices"));
    };
    if let Some(cells) = owned_dense(&mut mx) {
        zip_in_place(cells, &my.dense_data(), false, false, move |p, q| sa * p + sb * q);
        return Ok(Value::Matrix(mx));
    }
    if let Some(cells) = owned_dense(&mut my) {
        zip_in_place(cells, &mx.dense_data(), false, false, move |q, p| sa * p + sb * q);
        return Ok(Value::Matrix(my));
    }
    let (xd, yd) = (mx.dense_data(), my.dense_data());
    let out = kernels::uninit::zip(&xd, &yd, 1 << 15, xd.len() > 1 << 16, move |p, q| sa * p + sb * q);
    Ok(Value::matrix(Matrix::from_vec(mx.rows(), mx.cols(), out)))
}

/// `a op b` for any mix of scalars and matrices. Dense results are computed in place when an
/// operand of the result's shape is owned by this instruction alone; the cell function is the
/// same `BinOp::apply` either way.
pub fn binary(op: BinOp, a: Value, b: Value) -> RtResult<Value> {
    match (a, b) {
        (Value::Matrix(mut x), Value::Matrix(mut y)) => {
            if x.rows() == y.rows() && x.cols() == y.cols() && !x.is_sparse() && !y.is_sparse() {
                if let Some(cells) = owned_dense(&mut x)
                    && let Some(other) = y.dense_slice()
                {
                    let nnz = zip_op(op, cells, other, false);
                    return Ok(settle_format(op, x, nnz));
                }
                if let Some(cells) = owned_dense(&mut y)
                    && let Some(other) = x.dense_slice()
                {
                    let nnz = zip_op(op, cells, other, true);
                    return Ok(settle_format(op, y, nnz));
                }
            }
            Ok(settle_new(op, kernels::elementwise::binary_mm(op, &x, &y)?))
        }
        (Value::Matrix(mut x), s) if s.is_scalar() => {
            let v = scalar_operand(&s, op)?;
            if let Some(cells) = owned_dense(&mut x) {
                let nnz = map_op(op, cells, v, false);
                return Ok(settle_format(op, x, nnz));
            }
            Ok(settle_new(op, kernels::elementwise::binary_ms(op, &x, v)))
        }
        (s, Value::Matrix(mut y)) if s.is_scalar() => {
            let v = scalar_operand(&s, op)?;
            if let Some(cells) = owned_dense(&mut y) {
                let nnz = map_op(op, cells, v, true);
                return Ok(settle_format(op, y, nnz));
            }
            Ok(settle_new(op, kernels::elementwise::binary_sm(op, v, &y)))
        }
        (x, y) if x.is_scalar() && y.is_scalar() => Ok(binary_scalar(op, &x, &y)?),
        (Value::Frame(x), Value::Frame(y)) => Ok(Value::Frame(Arc::new(frame_ops::compare(op, &x, &y)?))),
        (a, b) => {
            err(format!("operator {} cannot be applied to a {} and a {}", op.name(), a.kind(), b.kind()))
        }
    }
}

/// `op(x)` cellwise on a matrix, in place when this instruction owns it alone.
pub fn unary_matrix(op: crate::types::ops::UnOp, mut m: Arc<Matrix>) -> Value {
    if let Some(cells) = owned_dense(&mut m) {
        kernels::elementwise::unary_in_place(op, cells);
        return Value::Matrix(m);
    }
    Value::matrix(kernels::elementwise::unary(op, &m))
}

/// `ifelse(test, yes, no)` of scalars, or cellwise when any of them is a matrix.
pub fn ifelse(args: Vec<Option<Value>>) -> RtResult<Value> {
    use kernels::ternary::Operand;
    let vals: Vec<Value> = args
        .into_iter()
        .map(|a| a.ok_or_else(|| RtError::new("ifelse needs three arguments")))
        .collect::<RtResult<_>>()?;
    if vals.iter().all(|v| v.is_scalar()) {
        let c =
            vals[0].as_bool().ok_or_else(|| RtError::new("ifelse condition must be a boolean or number"))?;
        return Ok(if c { vals[1].clone() } else { vals[2].clone() });
    }
    fn op(v: &Value) -> RtResult<Operand<'_>> {
        match v {
            Value::Matrix(m) => Ok(Operand::Matrix(m)),
            s if s.is_scalar() => {
                Ok(Operand::Scalar(s.as_f64().ok_or_else(|| RtError::new("ifelse needs numbers"))?))
            }
            other => err(format!("ifelse cannot use a {}", other.kind())),
        }
    }
    Ok(Value::matrix(kernels::ternary::ifelse(op(&vals[0])?, op(&vals[1])?, op(&vals[2])?)?))
}

/// `min(a, b, ...)` or `max(a, b, ...)` of scalars and matrices, cell by cell.
pub fn nary_minmax(args: Vec<Option<Value>>, min: bool) -> RtResult<Value> {
    let op = if min { BinOp::Min } else { BinOp::Max };
    let mut it = args.into_iter().flatten();
    let mut acc = it.next().ok_or_else(|| RtError::new("min/max need an argument"))?;
    for v in it {
        acc = binary(op, acc, v)?;
    }
    Ok(acc)
}

/// `xor(x, y)`, `bitwAnd(x, y)`, ...: the operator `op` on two scalars or matrices.
#[inline]
fn cellwise(a: Args, op: BinOp) -> RtResult<Vec<Value>> {
    one(binary(op, a.value("x")?.clone(), a.value("y")?.clone())?)
}

/// `ppred(X, Y, op)`: the old spelling of the cellwise comparisons (`X > Y` for op ">").
fn ppred(mut a: Args) -> RtResult<Vec<Value>> {
    let op = match a.str("op") {
        Ok(">") => BinOp::Gt,
        Ok(">=") => BinOp::Ge,
        Ok("<") => BinOp::Lt,
        Ok("<=") => BinOp::Le,
        Ok("==") => BinOp::Eq,
        Ok("!=") => BinOp::Ne,
        Ok(other) => return err(format!("ppred: unknown comparison \"{other}\" (one of > >= < <= == !=)")),
        Err(_) => return err("ppred: the comparison must be a string such as \">\""),
    };
    let (x, y) = (a.take("x")?, a.take("y")?);
    one(binary(op, x, y)?)
}

/// `outer(x, y, op)`: `op` of every element of the column vector `x` with every element of the
/// row vector `y`.
fn outer(a: Args) -> RtResult<Vec<Value>> {
    let (x, y) = (a.matrix("x")?, a.matrix("y")?);
    let op = match &*a.text("op")? {
        "*" => BinOp::Mul,
        "+" => BinOp::Add,
        "-" => BinOp::Sub,
        "/" => BinOp::Div,
        "^" => BinOp::Pow,
        "%%" => BinOp::Mod,
        "%/%" => BinOp::IntDiv,
        "<" => BinOp::Lt,
        "<=" => BinOp::Le,
        ">" => BinOp::Gt,
        ">=" => BinOp::Ge,
        "==" => BinOp::Eq,
        "!=" => BinOp::Ne,
        "min" => BinOp::Min,
        "max" => BinOp::Max,
        other => return err(format!("outer: unknown operator \"{other}\"")),
    };
    // SystemDS checks the vector shapes only when they are known at compile time; at run time
    // two matrices of one shape combine cell by cell (mdedup relies on it).
    if (x.cols() != 1 || y.rows() != 1) && x.rows() == y.rows() && x.cols() == y.cols() {
        return one(Value::matrix(kernels::elementwise::binary_mm(op, x, y)?));
    }
    one(Value::matrix(kernels::ternary::outer(x, y, op)?))
}

/// A fused operator with one matrix result, written over the cells of a dense input of the
/// result's shape that this instruction owns alone (its register died here), as the unfused
/// cellwise operators write over theirs: no fresh allocation, no page faults on it. `None` (and
/// `vals` as they were) when no input qualifies or the kernel's dense path does not apply.
fn fused_over_dying_input(
    body: &crate::types::fused::FusedBody,
    vals: &mut [Value],
) -> RtResult<Option<Value>> {
    use crate::types::fused::{FStep, FusedOut};
    use kernels::fused::Arg;
    let [(out_step, FusedOut::Cells)] = body.outputs.as_slice() else { return Ok(None) };
    let shape =
        vals.iter().filter_map(|v| if let Value::Matrix(m) = v { Some((m.rows(), m.cols())) } else { None });
    let (rows, cols) = shape.fold((0, 0), |(r, c), (mr, mc)| (r.max(mr), c.max(mc)));
    let donor = vals.iter_mut().position(|v| match v {
        Value::Matrix(m) => (m.rows(), m.cols()) == (rows, cols) && owned_dense(m).is_some(),
        _ => false,
    });
    let Some(k) = donor else { return Ok(None) };
    let Value::Matrix(mut owner) = std::mem::replace(&mut vals[k], Value::Double(0.0)) else {
        unreachable!("the donor is a matrix")
    };
    let mut kargs = Vec::with_capacity(vals.len());
    for v in vals.iter() {
        kargs.push(match v {
            Value::Matrix(m) => Arg::Matrix(m),
            s if s.is_scalar() => Arg::Scalar(scalar_operand(s, BinOp::Add)?),
            other => return err(format!("a fused cellwise operator cannot use a {}", other.kind())),
        });
    }
    let cells = owned_dense(&mut owner).expect("checked above");
    if !kernels::fused::run_over(body, &kargs, k, rows, cols, cells) {
        drop(kargs);
        vals[k] = Value::Matrix(owner);
        return Ok(None);
    }
    let owned = Arc::try_unwrap(owner).unwrap_or_else(|shared| (*shared).clone());
    Ok(Some(match body.steps.get(*out_step as usize) {
        Some(FStep::Binary(op, ..)) => settle_new(*op, owned),
        _ => Value::matrix(owned),
    }))
}

/// `_axpby(x, y, a, b)`: `a*x + b*y` (rewrite `fuse_axpby`).
fn fused_axpby(mut a: Args) -> RtResult<Vec<Value>> {
    let (x, y) = (a.take("x")?, a.take("y")?);
    one(axpby(x, y, a.value("a")?, a.value("b")?)?)
}

/// A generated fused operator (`HopOp::Fused`): its inputs as matrices and numbers, one value
/// per output of the body.
pub fn fused(body: &crate::types::fused::FusedBody, args: Vec<Option<Value>>) -> RtResult<Vec<Value>> {
    use kernels::fused::{Arg, Out};
    let mut vals: Vec<Value> = args
        .into_iter()
        .map(|a| a.ok_or_else(|| RtError::new("internal error: a fused operator lacks an input")))
        .collect::<RtResult<_>>()?;
    if let Some(result) = fused_over_dying_input(body, &mut vals)? {
        return Ok(vec![result]);
    }
    let mut kargs = Vec::with_capacity(vals.len());
    for v in &vals {
        kargs.push(match v {
            Value::Matrix(m) => Arg::Matrix(m),
            s if s.is_scalar() => Arg::Scalar(scalar_operand(s, BinOp::Add)?),
            other => return err(format!("a fused cellwise operator cannot use a {}", other.kind())),
        });
    }
    use crate::types::fused::{FStep, FusedOut};
    // A matrix result whose last operator may leave mostly zeros (a mask, a masked product) is
    // re-examined as the unfused operator's result would be (`settle_new`).
    let last_op = |k: usize| match body.outputs.get(k) {
        Some(&(step, FusedOut::Cells)) => match body.steps.get(step as usize) {
            Some(FStep::Binary(op, ..)) => Some(*op),
            _ => None,
        },
        _ => None,
    };
    Ok(kernels::fused::run(body, &kargs)?
        .into_iter()
        .enumerate()
        .map(|(k, o)| match (o, last_op(k)) {
            (Out::Matrix(m), Some(op)) => settle_new(op, m),
            (Out::Matrix(m), None) => Value::matrix(m),
            (Out::Scalar(s), _) => Value::Double(s),
        })
        .collect())
}
