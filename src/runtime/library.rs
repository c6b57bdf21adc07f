//! The runtime side of builtins and of the operators whose behaviour depends on the kinds of
//! their operands (scalar or matrix, list or frame): dispatch, argument checks with clear
//! messages, and calls into the kernels.

use crate::builtins::BuiltinId;
use crate::compiler::Options;
use crate::kernels;
use crate::kernels::format::{ToStringOpts, format_double, matrix_to_string};
use crate::kernels::scalar::{binary_scalar, scalar_to_string};
use crate::runtime::error::{RtError, RtResult};
use crate::runtime::exec::Runtime;
use crate::types::matrix::Matrix;
use crate::types::ops::CastOp;
use crate::types::ops::{AggDir, AggOp, BinOp, CumOp};
use crate::types::value::{ListValue, Value};
use std::sync::Arc;

fn err<T>(msg: impl Into<String>) -> RtResult<T> {
    Err(RtError::new(msg))
}

pub fn matrix_arg<'a>(v: &'a Value, what: &str) -> RtResult<&'a Matrix> {
    match v {
        Value::Matrix(m) => Ok(m),
        other => err(format!("{what} needs a matrix, but got a {}", other.kind())),
    }
}

fn num(v: &Option<Value>, what: &str) -> RtResult<f64> {
    match v {
        Some(x) if x.is_scalar() => {
            x.as_f64().ok_or_else(|| RtError::new(format!("{what} must be a number")))
        }
        Some(x) => err(format!("{what} must be a scalar, but got a {}", x.kind())),
        None => err(format!("{what} is missing")),
    }
}

fn opt_num(v: &Option<Value>, what: &str) -> RtResult<Option<f64>> {
    match v {
        None => Ok(None),
        some => num(some, what).map(Some),
    }
}

fn boolean(v: &Option<Value>, what: &str) -> RtResult<bool> {
    match v {
        Some(x) => x.as_bool().ok_or_else(|| RtError::new(format!("{what} must be TRUE or FALSE"))),
        None => err(format!("{what} is missing")),
    }
}

fn string(v: &Option<Value>, what: &str) -> RtResult<String> {
    match v {
        Some(Value::Str(s)) => Ok(s.to_string()),
        Some(x) if x.is_scalar() => Ok(scalar_to_string(x)),
        Some(x) => err(format!("{what} must be a string, but got a {}", x.kind())),
        None => err(format!("{what} is missing")),
    }
}

fn matrix_of(v: &Option<Value>, what: &str) -> RtResult<Arc<Matrix>> {
    match v {
        Some(Value::Matrix(m)) => Ok(m.clone()),
        Some(x) => err(format!("{what} must be a matrix, but got a {}", x.kind())),
        None => err(format!("{what} is missing")),
    }
}

/// A whole-number argument that must be non-negative (sizes, counts).
fn count(v: &Option<Value>, what: &str) -> RtResult<usize> {
    let x = num(v, what)?;
    if x.is_nan() || x < 0.0 || !x.is_finite() {
        return err(format!("{what} must be a non-negative number, got {}", format_double(x)));
    }
    Ok(x as usize)
}

/// Refuses an output of `cells` doubles that does not fit the memory budget.
pub fn check_budget_cells(opts: &Options, cells: f64) -> RtResult<()> {
    let bytes = cells * 8.0;
    if bytes > opts.budget.bytes {
        return Err(RtError::new(format!(
            "this operation needs an estimated {} of memory, more than the budget of {}",
            crate::hops::explain::format_bytes(bytes),
            crate::hops::explain::format_bytes(opts.budget.bytes)
        ))
        .with_note("the budget is 70% of physical memory; set DML_MEMORY_BUDGET (e.g. 64G) to change it"));
    }
    Ok(())
}

impl RtError {
    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }
}

/// The dense cells of a matrix this instruction owns alone (nobody else holds the `Arc`), so an
/// elementwise result can be written over them instead of into a new allocation. The executor
/// moves values out of registers at their last use, which makes this the common case in loops.
fn owned_dense(m: &mut Arc<Matrix>) -> Option<&mut [f64]> {
    match Arc::get_mut(m)? {
        Matrix::Dense(a) => a.as_slice_mut(),
        Matrix::Sparse(_) => None,
    }
}

/// `out[i] = f(out[i], other[i])` (or with the operands swapped), in parallel for large inputs.
fn zip_in_place(cells: &mut [f64], other: &[f64], swapped: bool, f: impl Fn(f64, f64) -> f64 + Sync) {
    use rayon::prelude::*;
    const CHUNK: usize = 1 << 15;
    let body = |(c, o): (&mut [f64], &[f64])| {
        if swapped {
            kernels::simd::zip_in_place(c, o, &|x, y| f(y, x))
        } else {
            kernels::simd::zip_in_place(c, o, &f)
        }
    };
    if cells.len() > 2 * CHUNK {
        cells.par_chunks_mut(CHUNK).zip(other.par_chunks(CHUNK)).for_each(body);
    } else {
        body((cells, other));
    }
}

/// `cells[i] = cells[i] op other[i]` (or `other[i] op cells[i]` when swapped), specialized for
/// the common operators so that the loops compile to vector code; the specialized forms compute
/// exactly what `BinOp::apply` computes.
fn zip_op(op: BinOp, cells: &mut [f64], other: &[f64], swapped: bool) {
    match op {
        BinOp::Add => zip_in_place(cells, other, swapped, |p, q| p + q),
        BinOp::Sub => zip_in_place(cells, other, swapped, |p, q| p - q),
        BinOp::Mul => zip_in_place(cells, other, swapped, |p, q| p * q),
        BinOp::Div => zip_in_place(cells, other, swapped, |p, q| p / q),
        o => zip_in_place(cells, other, swapped, move |p, q| o.apply(p, q)),
    }
}

/// `cells[i] = cells[i] op v` (or `v op cells[i]` when `scalar_left`), specialized likewise.
fn map_op(op: BinOp, cells: &mut [f64], v: f64, scalar_left: bool) {
    match (op, scalar_left) {
        (BinOp::Add, _) => kernels::elementwise::map_in_place(cells, move |p| p + v),
        (BinOp::Mul, _) => kernels::elementwise::map_in_place(cells, move |p| p * v),
        (BinOp::Sub, false) => kernels::elementwise::map_in_place(cells, move |p| p - v),
        (BinOp::Sub, true) => kernels::elementwise::map_in_place(cells, move |p| v - p),
        (BinOp::Div, false) => kernels::elementwise::map_in_place(cells, move |p| p / v),
        (BinOp::Div, true) => kernels::elementwise::map_in_place(cells, move |p| v / p),
        (o, false) => kernels::elementwise::map_in_place(cells, move |p| o.apply(p, v)),
        (o, true) => kernels::elementwise::map_in_place(cells, move |p| o.apply(v, p)),
    }
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
pub fn axpby(x: Value, y: Value, a: &Value, b: &Value) -> RtResult<Value> {
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
        zip_in_place(cells, &my.dense_data(), false, move |p, q| sa * p + sb * q);
        return Ok(Value::Matrix(mx));
    }
    if let Some(cells) = owned_dense(&mut my) {
        zip_in_place(cells, &mx.dense_data(), false, move |q, p| sa * p + sb * q);
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
                    zip_op(op, cells, other, false);
                    return Ok(Value::Matrix(x));
                }
                if let Some(cells) = owned_dense(&mut y)
                    && let Some(other) = x.dense_slice()
                {
                    zip_op(op, cells, other, true);
                    return Ok(Value::Matrix(y));
                }
            }
            Ok(Value::matrix(kernels::elementwise::binary_mm(op, &x, &y)?))
        }
        (Value::Matrix(mut x), s) if s.is_scalar() => {
            let v = scalar_operand(&s, op)?;
            if let Some(cells) = owned_dense(&mut x) {
                map_op(op, cells, v, false);
                return Ok(Value::Matrix(x));
            }
            Ok(Value::matrix(kernels::elementwise::binary_ms(op, &x, v)))
        }
        (s, Value::Matrix(mut y)) if s.is_scalar() => {
            let v = scalar_operand(&s, op)?;
            if let Some(cells) = owned_dense(&mut y) {
                map_op(op, cells, v, true);
                return Ok(Value::Matrix(y));
            }
            Ok(Value::matrix(kernels::elementwise::binary_sm(op, v, &y)))
        }
        (x, y) if x.is_scalar() && y.is_scalar() => Ok(binary_scalar(op, &x, &y)?),
        (Value::Frame(x), Value::Frame(y)) => {
            Ok(Value::Frame(Arc::new(crate::runtime::builtins::frame::ops::compare(op, &x, &y)?)))
        }
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

pub fn reshape(mut args: Vec<Option<Value>>, byrow: bool) -> RtResult<Value> {
    if let Some(Value::List(l)) = &args[0] {
        let vals: Vec<f64> = l
            .items
            .iter()
            .map(|v| {
                v.as_f64()
                    .filter(|_| v.is_scalar())
                    .ok_or_else(|| RtError::new("matrix() of a list needs numbers"))
            })
            .collect::<RtResult<_>>()?;
        let n = vals.len();
        args[0] = Some(Value::matrix(Matrix::from_vec(n, 1, vals)));
    }
    let m = matrix_of(&args[0], "the data of matrix()")?;
    let n = m.rows() * m.cols();
    let rows = opt_num(&args[1], "rows")?;
    let cols = opt_num(&args[2], "cols")?;
    let (r, c) = match (rows, cols) {
        (Some(r), Some(c)) => (r as usize, c as usize),
        (Some(r), None) if r > 0.0 => (r as usize, n / r as usize),
        (None, Some(c)) if c > 0.0 => (n / c as usize, c as usize),
        _ => (m.rows(), m.cols()),
    };
    Ok(Value::matrix(kernels::reorg::reshape(&m, r, c, byrow)?))
}

/// 1-based inclusive bounds of one index dimension, converted to a 0-based half-open range.
fn bounds(lo: &Option<Value>, hi: &Option<Value>, n: usize, what: &str) -> RtResult<std::ops::Range<usize>> {
    let l = match lo {
        None => 1.0,
        some => num(some, what)?,
    };
    let h = match hi {
        None => n as f64,
        some => num(some, what)?,
    };
    // Double index values are truncated as SystemDS does (with a small epsilon).
    let (l, h) = ((l + 1e-9).floor(), (h + 1e-9).floor());
    if l < 1.0 || h > n as f64 || l > h {
        return err(format!(
            "index out of bounds: {what} {}:{} of a dimension of size {n}",
            l as i64, h as i64
        ));
    }
    Ok(l as usize - 1..h as usize)
}

pub fn right_index(args: Vec<Option<Value>>) -> RtResult<Value> {
    let target = args[0].clone().ok_or_else(|| RtError::new("nothing to index"))?;
    match &target {
        Value::Matrix(m) => {
            let rows = bounds(&args[1], &args[2], m.rows(), "rows")?;
            let cols = bounds(&args[3], &args[4], m.cols(), "columns")?;
            Ok(Value::matrix(kernels::index::slice(m, rows, cols)?))
        }
        Value::List(l) => {
            if let Some(Value::Str(key)) = &args[1] {
                let i = l
                    .index_of(key)
                    .ok_or_else(|| RtError::new(format!("the list has no element named `{key}`")))?;
                return Ok(Value::List(Arc::new(sub_list(l, i..i + 1))));
            }
            let r = bounds(&args[1], &args[2], l.items.len(), "list index")?;
            Ok(Value::List(Arc::new(sub_list(l, r))))
        }
        Value::Frame(f) => {
            let rows = bounds(&args[1], &args[2], f.rows(), "rows")?;
            let cols = bounds(&args[3], &args[4], f.cols(), "columns")?;
            Ok(Value::Frame(Arc::new(crate::runtime::builtins::frame::ops::slice(f, rows, cols))))
        }
        other => err(format!("cannot index a {}", other.kind())),
    }
}

fn sub_list(l: &ListValue, r: std::ops::Range<usize>) -> ListValue {
    ListValue {
        items: l.items[r.clone()].to_vec(),
        names: if l.names.is_empty() { vec![] } else { l.names[r].to_vec() },
    }
}

pub fn left_index(mut args: Vec<Option<Value>>) -> RtResult<Value> {
    let target = args[0].take().ok_or_else(|| RtError::new("nothing to assign into"))?;
    let value = args[1].take().ok_or_else(|| RtError::new("no value to assign"))?;
    match target {
        Value::Matrix(mut m) => {
            let rows = bounds(&args[2], &args[3], m.rows(), "rows")?;
            let cols = bounds(&args[4], &args[5], m.cols(), "columns")?;
            let mm = Arc::make_mut(&mut m);
            match &value {
                Value::Matrix(src) => {
                    if src.rows() != rows.len() || src.cols() != cols.len() {
                        return err(format!(
                            "cannot assign a {}x{} matrix into a {}x{} range",
                            src.rows(),
                            src.cols(),
                            rows.len(),
                            cols.len()
                        ));
                    }
                    kernels::index::left_index(mm, rows.start, cols.start, src)?;
                }
                s if s.is_scalar() => {
                    let v = s.as_f64().ok_or_else(|| RtError::new("cannot assign a string into a matrix"))?;
                    kernels::index::left_index_fill(mm, rows, cols, v)?;
                }
                other => return err(format!("cannot assign a {} into a matrix", other.kind())),
            }
            Ok(Value::Matrix(m))
        }
        Value::List(mut l) => {
            let list = Arc::make_mut(&mut l);
            let i = match &args[2] {
                Some(Value::Str(key)) => match list.index_of(key) {
                    Some(i) => i,
                    None => {
                        list.names.push(key.to_string());
                        list.items.push(value);
                        return Ok(Value::List(l));
                    }
                },
                some => {
                    let x = num(some, "list index")?;
                    if x < 1.0 {
                        return err(format!("list index {} out of bounds", x as i64));
                    }
                    x as usize - 1
                }
            };
            let item = match value {
                Value::List(inner) if inner.items.len() == 1 => inner.items[0].clone(),
                v => v,
            };
            if i < list.items.len() {
                list.items[i] = item;
            } else if i == list.items.len() {
                list.items.push(item);
                if !list.names.is_empty() {
                    list.names.push(String::new());
                }
            } else {
                return err(format!("list index {} out of bounds (length {})", i + 1, list.items.len()));
            }
            Ok(Value::List(l))
        }
        Value::Frame(mut f) => {
            let rows = bounds(&args[2], &args[3], f.rows(), "rows")?;
            let cols = bounds(&args[4], &args[5], f.cols(), "columns")?;
            crate::runtime::builtins::frame::ops::left_index(Arc::make_mut(&mut f), rows, cols, &value)?;
            Ok(Value::Frame(f))
        }
        other => err(format!("cannot assign into an index of a {}", other.kind())),
    }
}

pub fn bind(args: Vec<Option<Value>>, columns: bool) -> RtResult<Value> {
    let mut vals: Vec<Value> = args.into_iter().flatten().collect();
    if let [Value::List(l)] = vals.as_slice() {
        // rbind(L) / cbind(L): bind the list's elements.
        if l.items.is_empty() {
            return err("cbind/rbind of an empty list");
        }
        vals = l.items.clone();
    }
    if let Some(Value::Frame(_)) = vals.first() {
        return crate::runtime::builtins::frame::ops::bind(&vals, columns);
    }
    let mut mats = Vec::with_capacity(vals.len());
    for v in &vals {
        mats.push(match v {
            Value::Matrix(m) => m.clone(),
            s if s.is_scalar() => Arc::new(Matrix::scalar(s.as_f64().unwrap_or(f64::NAN))),
            other => return err(format!("cbind/rbind cannot use a {}", other.kind())),
        });
    }
    let refs: Vec<&Matrix> = mats.iter().map(|m| &**m).collect();
    Ok(Value::matrix(if columns { kernels::reorg::cbind(&refs)? } else { kernels::reorg::rbind(&refs)? }))
}

pub fn nary_minmax(args: Vec<Option<Value>>, min: bool) -> RtResult<Value> {
    let op = if min { BinOp::Min } else { BinOp::Max };
    let mut it = args.into_iter().flatten();
    let mut acc = it.next().ok_or_else(|| RtError::new("min/max need an argument"))?;
    for v in it {
        acc = binary(op, acc, v)?;
    }
    Ok(acc)
}

pub fn cast(op: CastOp, x: Value) -> RtResult<Value> {
    match op {
        CastOp::AsScalar => match x {
            Value::Matrix(m) => {
                if m.rows() != 1 || m.cols() != 1 {
                    return err(format!(
                        "as.scalar needs a 1x1 matrix, but this one is {}x{}",
                        m.rows(),
                        m.cols()
                    ));
                }
                Ok(Value::Double(m.get(0, 0)))
            }
            Value::List(l) if l.items.len() == 1 => cast(op, l.items[0].clone()),
            Value::Frame(f) if f.rows() == 1 && f.cols() == 1 => {
                Ok(crate::runtime::builtins::frame::ops::cell(&f, 0, 0))
            }
            s if s.is_scalar() => Ok(s),
            other => err(format!("as.scalar cannot convert a {}", other.kind())),
        },
        CastOp::AsMatrix => match x {
            Value::Matrix(_) => Ok(x),
            Value::List(l) if l.items.len() == 1 => cast(op, l.items[0].clone()),
            // a list of scalars becomes a column vector
            Value::List(l) if l.items.iter().all(Value::is_scalar) => {
                let cells: Vec<f64> = l
                    .items
                    .iter()
                    .map(|v| v.as_f64().ok_or_else(|| RtError::new("as.matrix cannot convert a string")))
                    .collect::<RtResult<_>>()?;
                Ok(Value::matrix(Matrix::from_vec(cells.len(), 1, cells)))
            }
            Value::Frame(f) => Ok(Value::matrix(crate::runtime::builtins::frame::ops::to_matrix(&f)?)),
            s if s.is_scalar() => {
                let v = s.as_f64().ok_or_else(|| RtError::new("as.matrix cannot convert a string"))?;
                Ok(Value::matrix(Matrix::scalar(v)))
            }
            other => err(format!("as.matrix cannot convert a {}", other.kind())),
        },
        CastOp::AsDouble | CastOp::AsInt | CastOp::AsBool => {
            let x = match x {
                Value::List(l) if l.items.len() == 1 => l.items[0].clone(),
                Value::Matrix(m) if m.rows() == 1 && m.cols() == 1 => Value::Double(m.get(0, 0)),
                v => v,
            };
            match x {
                Value::Matrix(m) => Ok(Value::Matrix(m)),
                s if s.is_scalar() => {
                    let v = match &s {
                        Value::Str(t) => match t.trim() {
                            "TRUE" | "true" => 1.0,
                            "FALSE" | "false" => 0.0,
                            other => other.parse::<f64>().map_err(|_| {
                                RtError::new(format!("cannot convert the string \"{t}\" to a number"))
                            })?,
                        },
                        _ => s.as_f64().unwrap_or(f64::NAN),
                    };
                    Ok(match op {
                        CastOp::AsDouble => Value::Double(v),
                        CastOp::AsInt => Value::Int(v as i64),
                        _ => Value::Bool(v != 0.0),
                    })
                }
                other => err(format!("cannot convert a {} to a number", other.kind())),
            }
        }
        CastOp::Nrow | CastOp::Ncol | CastOp::Length => {
            let (r, c) = match &x {
                Value::Matrix(m) => (m.rows(), m.cols()),
                Value::Frame(f) => (f.rows(), f.cols()),
                Value::List(l) => (l.items.len(), 1),
                s if s.is_scalar() => (1, 1),
                _ => (0, 0),
            };
            if matches!(x, Value::List(_)) && op != CastOp::Length {
                return err("nrow/ncol need a matrix or frame; use length() for lists");
            }
            Ok(Value::Int(match op {
                CastOp::Nrow => r,
                CastOp::Ncol => c,
                _ => r * c,
            } as i64))
        }
    }
}

/// `matrix(value, rows, cols)`: a constant, or numbers parsed from a string.
pub fn fill(opts: &Options, args: Vec<Option<Value>>) -> RtResult<Value> {
    let data = args[0].clone().ok_or_else(|| RtError::new("matrix() needs data"))?;
    if let Value::Str(s) = &data {
        let values: Vec<f64> = s
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|t| !t.is_empty())
            .map(|t| t.parse::<f64>().map_err(|_| RtError::new(format!("matrix(): `{t}` is not a number"))))
            .collect::<RtResult<_>>()?;
        let rows = opt_num(&args[1], "rows")?;
        let cols = opt_num(&args[2], "cols")?;
        let n = values.len();
        let (r, c) = match (rows, cols) {
            (Some(r), Some(c)) => (r as usize, c as usize),
            (Some(r), None) if r > 0.0 => (r as usize, n.div_ceil(r as usize)),
            (None, Some(c)) if c > 0.0 => (n.div_ceil(c as usize), c as usize),
            _ => (n, 1),
        };
        if r * c == 0 && n == 0 {
            return Ok(Value::matrix(Matrix::zeros(r, c)));
        }
        if r * c != n {
            return err(format!("matrix(): {n} values cannot fill a {r}x{c} matrix"));
        }
        return Ok(Value::matrix(Matrix::from_vec(r, c, values)));
    }
    let v =
        data.as_f64().filter(|_| data.is_scalar()).ok_or_else(|| RtError::new("matrix() needs a number"))?;
    let r = count(&args[1], "rows")?;
    let c = count(&args[2], "cols")?;
    check_budget_cells(opts, if v == 0.0 { 0.0 } else { r as f64 * c as f64 })?;
    // An all-zero matrix is stored sparse only when it is large: smaller ones are usually filled
    // by left indexing next, which is fastest on dense storage.
    if v == 0.0 && r > 0 && c > 1 && r as f64 * c as f64 > 4.0e6 {
        return Ok(Value::matrix(Matrix::Sparse(sprs::CsMat::zero((r, c)))));
    }
    Ok(Value::matrix(Matrix::filled(r, c, v)))
}

pub fn rand(opts: &Options, args: Vec<Option<Value>>) -> RtResult<Value> {
    use kernels::datagen::{Pdf, RandSpec};
    let rows = count(&args[0], "rows")?;
    let cols = count(&args[1], "cols")?;
    let min = num(&args[2], "min")?;
    let max = num(&args[3], "max")?;
    let sparsity = num(&args[4], "sparsity")?;
    let pdf = string(&args[5], "pdf")?;
    let lambda = num(&args[6], "lambda")?;
    let seed = num(&args[7], "seed")? as i64;
    if !(0.0..=1.0).contains(&sparsity) {
        return err(format!("rand(): sparsity must be between 0 and 1, got {}", format_double(sparsity)));
    }
    let pdf = match pdf.to_lowercase().as_str() {
        "uniform" => Pdf::Uniform,
        "normal" => Pdf::Normal,
        "poisson" => Pdf::Poisson(lambda),
        other => return err(format!("rand(): unknown pdf \"{other}\" (uniform, normal or poisson)")),
    };
    if min > max {
        return err("rand(): min must not be larger than max");
    }
    check_budget_cells(opts, rows as f64 * cols as f64 * sparsity.max(0.05))?;
    let spec = RandSpec {
        rows,
        cols,
        min,
        max,
        sparsity,
        pdf,
        seed: if seed < 0 { None } else { Some(seed as u64) },
    };
    Ok(Value::matrix(kernels::datagen::rand(&spec)?))
}

pub fn seq(args: Vec<Option<Value>>) -> RtResult<Value> {
    let from = num(&args[0], "from")?;
    let to = num(&args[1], "to")?;
    let incr = match &args[2] {
        None => {
            if from <= to {
                1.0
            } else {
                -1.0
            }
        }
        some => num(some, "incr")?,
    };
    Ok(Value::matrix(kernels::datagen::seq(from, to, incr)?))
}

/// What `print` shows for a value: scalars as Java prints them, matrices and frames as
/// `toString` does.
pub fn print_string(v: &Value) -> RtResult<String> {
    Ok(match v {
        Value::Matrix(m) => matrix_to_string(m, &ToStringOpts::default()),
        Value::Frame(f) => crate::runtime::builtins::frame::ops::to_string(f, &ToStringOpts::default()),
        Value::List(l) => list_to_string(l)?,
        s => scalar_to_string(s),
    })
}

/// SystemDS prints a list as `List containing:` and its elements in brackets.
fn list_to_string(l: &ListValue) -> RtResult<String> {
    // Matrix elements are introduced by a `Matrix:` line.
    let item = |v: &Value| -> RtResult<String> {
        Ok(match v {
            Value::Matrix(_) => format!("\nMatrix:\n{}", print_string(v)?),
            other => print_string(other)?,
        })
    };
    let items: Vec<String> = l.items.iter().map(item).collect::<RtResult<_>>()?;
    Ok(format!("List containing:\n[{}]", items.join(", ")))
}

/// `print(fmt, args...)`: Java `String.format` for `%s %d %f %e %b %%` with flags, width and
/// precision.
pub fn printf(vals: &[Value]) -> RtResult<String> {
    let Value::Str(fmt) = &vals[0] else {
        return err("the first argument of a formatted print must be a string");
    };
    let mut out = String::new();
    let mut args = vals[1..].iter();
    let mut chars = fmt.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = String::new();
        while let Some(&n) = chars.peek() {
            if n.is_ascii_digit() || n == '.' || n == '-' || n == '+' || n == ' ' || n == '0' || n == ',' {
                spec.push(n);
                chars.next();
            } else {
                break;
            }
        }
        let Some(conv) = chars.next() else {
            return err("a formatted print ends in the middle of a % conversion");
        };
        if conv == '%' {
            out.push('%');
            continue;
        }
        if conv == 'n' {
            out.push('\n');
            continue;
        }
        let arg = args.next().ok_or_else(|| RtError::new(format!("missing argument for %{spec}{conv}")))?;
        let left = spec.contains('-');
        let zero = spec.starts_with('0') || spec.starts_with("-0");
        let plus = spec.contains('+');
        let clean: String = spec.chars().filter(|c| c.is_ascii_digit() || *c == '.').collect();
        let clean = clean.trim_start_matches('0').to_string();
        let (width, prec) = match clean.split_once('.') {
            Some((w, p)) => (w.parse::<usize>().ok(), p.parse::<usize>().ok()),
            None => (clean.parse::<usize>().ok(), None),
        };
        let body = match conv {
            'd' => {
                let v = match arg {
                    Value::Int(i) => *i,
                    Value::Bool(b) => *b as i64,
                    other => return err(format!("%d needs an integer, got {}", scalar_to_string(other))),
                };
                if plus && v >= 0 { format!("+{v}") } else { v.to_string() }
            }
            'f' | 'e' => {
                let v =
                    arg.as_f64().filter(|_| arg.is_scalar() && !matches!(arg, Value::Str(_))).ok_or_else(
                        || RtError::new(format!("%{conv} needs a number, got {}", scalar_to_string(arg))),
                    )?;
                let p = prec.unwrap_or(6);
                let s = if conv == 'f' { fixed_half_up(v, p) } else { java_sci(v, p) };
                if plus && v >= 0.0 { format!("+{s}") } else { s }
            }
            's' => {
                let s = print_string(arg)?;
                match prec {
                    Some(p) => s.chars().take(p).collect(),
                    None => s,
                }
            }
            'b' => match arg.as_bool() {
                Some(b) => b.to_string(),
                None => "true".into(),
            },
            other => return err(format!("unsupported conversion %{other} in a formatted print")),
        };
        let w = width.unwrap_or(0);
        let padded = if body.len() >= w {
            body
        } else if left {
            format!("{body:<w$}")
        } else if zero && conv != 's' {
            let (sign, digits) = if body.starts_with('-') || body.starts_with('+') {
                body.split_at(1)
            } else {
                ("", body.as_str())
            };
            format!("{sign}{}{digits}", "0".repeat(w - body.len()))
        } else {
            format!("{body:>w$}")
        };
        out.push_str(&padded);
    }
    Ok(out)
}

/// `%.pf` as Java's Formatter rounds: half up (away from zero) on the exact decimal value of the
/// double, where Rust's formatting rounds ties to even.
fn fixed_half_up(v: f64, p: usize) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    let wide = format!("{:.*}", p + 40, v.abs());
    let (int_part, frac) = wide.split_once('.').unwrap_or((&wide, ""));
    let tail = &frac[p.min(frac.len())..];
    let is_tie = tail.starts_with('5') && tail[1..].bytes().all(|b| b == b'0');
    let rounded = if is_tie {
        format!("{:.*}", p, v.abs() + 0.5 * 10f64.powi(-(p as i32)))
    } else {
        format!("{:.*}", p, v.abs())
    };
    let _ = int_part;
    // Java keeps the sign of a negative value even when it rounds to zero (`-0`).
    if v < 0.0 { format!("-{rounded}") } else { rounded }
}

/// Java's `%e`: mantissa with `p` decimals and a two-digit signed exponent.
fn java_sci(v: f64, p: usize) -> String {
    let s = format!("{v:.p$e}");
    match s.split_once('e') {
        Some((m, e)) => {
            let exp: i32 = e.parse().unwrap_or(0);
            format!("{m}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs())
        }
        None => s,
    }
}

/// Calls a library builtin with its arguments in parameter order.
pub fn call(rt: &Runtime, id: BuiltinId, args: Vec<Option<Value>>) -> RtResult<Vec<Value>> {
    let name = id.name();
    let one = |v: Value| Ok(vec![v]);
    match name {
        "_axpby" => {
            let mut it = args.into_iter();
            let (x, y, a, b) =
                (it.next().flatten(), it.next().flatten(), it.next().flatten(), it.next().flatten());
            match (x, y, a, b) {
                (Some(x), Some(y), Some(a), Some(b)) => one(axpby(x, y, &a, &b)?),
                _ => Err(RtError::new("_axpby needs four operands")),
            }
        }
        "lineage" | "autoDiff" => Err(RtError::new(format!(
            "`{name}` must be called directly (not through eval), so that lineage is traced"
        ))),
        "toString" => {
            let target = args[0].clone().ok_or_else(|| RtError::new("toString needs a value"))?;
            let opts = ToStringOpts {
                rows: count(&args[1], "rows")?,
                cols: count(&args[2], "cols")?,
                decimal: count(&args[3], "decimal")?,
                sparse: boolean(&args[4], "sparse")?,
                sep: string(&args[5], "sep")?,
                linesep: string(&args[6], "linesep")?,
            };
            let s = match &target {
                Value::Matrix(m) => matrix_to_string(m, &opts),
                Value::Frame(f) => crate::runtime::builtins::frame::ops::to_string(f, &opts),
                other => print_string(other)?,
            };
            one(Value::str(s))
        }
        "time" => {
            let ns = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as i64)
                .unwrap_or(0);
            one(Value::Int(ns))
        }
        "trace" => one(Value::Double(kernels::aggregate::trace(&*matrix_of(&args[0], "trace")?)?)),
        "cumsum" | "cumprod" | "cummin" | "cummax" => {
            let op = match name {
                "cumsum" => CumOp::Sum,
                "cumprod" => CumOp::Prod,
                "cummin" => CumOp::Min,
                _ => CumOp::Max,
            };
            one(Value::matrix(kernels::cumulative::cumulative(op, &*matrix_of(&args[0], name)?)))
        }
        "rowcumsum" => one(Value::matrix(kernels::cumulative::rowcumsum(&*matrix_of(&args[0], name)?))),
        "cumsumprod" => one(Value::matrix(kernels::cumulative::cumsumprod(&*matrix_of(&args[0], name)?)?)),
        "append" => append(args).map(|v| vec![v]),
        "sample" => {
            let range = num(&args[0], "range")?;
            let size = num(&args[1], "size")?;
            let replace = boolean(&args[2], "replace")?;
            let seed = num(&args[3], "seed")? as i64;
            if range < 1.0 || size < 0.0 {
                return err("sample(): range must be at least 1 and size non-negative");
            }
            one(Value::matrix(kernels::datagen::sample(
                range as u64,
                size as u64,
                replace,
                if seed < 0 { None } else { Some(seed as u64) },
            )?))
        }
        "xor" | "bitwAnd" | "bitwOr" | "bitwXor" | "bitwShiftL" | "bitwShiftR" => {
            let op = match name {
                "xor" => BinOp::Xor,
                "bitwAnd" => BinOp::BitwAnd,
                "bitwOr" => BinOp::BitwOr,
                "bitwXor" => BinOp::BitwXor,
                "bitwShiftL" => BinOp::BitwShiftL,
                _ => BinOp::BitwShiftR,
            };
            let a = args[0].clone().ok_or_else(|| RtError::new("missing argument"))?;
            let b = args[1].clone().ok_or_else(|| RtError::new("missing argument"))?;
            one(binary(op, a, b)?)
        }
        "typeof" => {
            let v = args[0].clone().ok_or_else(|| RtError::new("typeof needs a value"))?;
            one(match v {
                Value::Frame(f) => crate::runtime::library_frame::type_of(&f),
                other => Value::str(other.kind().to_string()),
            })
        }
        "remove" => {
            let Some(Value::List(l)) = &args[0] else {
                return err("remove needs a list");
            };
            let i = num(&args[1], "index")? as usize;
            if i < 1 || i > l.items.len() {
                return err(format!("remove: index {i} out of bounds (length {})", l.items.len()));
            }
            let mut rest = (**l).clone();
            let item = rest.items.remove(i - 1);
            if !rest.names.is_empty() {
                rest.names.remove(i - 1);
            }
            Ok(vec![Value::List(Arc::new(rest)), item])
        }
        _ => crate::runtime::library_ext::call(rt, name, args),
    }
}

fn append(args: Vec<Option<Value>>) -> RtResult<Value> {
    let mut it = args.into_iter().flatten();
    let first = it.next().ok_or_else(|| RtError::new("append needs arguments"))?;
    match first {
        Value::List(mut l) => {
            let list = Arc::make_mut(&mut l);
            for v in it {
                // SystemDS adds the element of a one-element list rather than the list itself
                // (executePipeline appends `list(X=Xtest)` to an argument list); its name is kept
                // only in a named list.
                let (name, v) = match v {
                    Value::List(one) if one.items.len() == 1 => {
                        (one.names.first().cloned().unwrap_or_default(), one.items[0].clone())
                    }
                    v => (String::new(), v),
                };
                list.items.push(v);
                if !list.names.is_empty() {
                    list.names.push(name);
                }
            }
            Ok(Value::List(l))
        }
        Value::Str(s) => {
            let mut out = s.to_string();
            for v in it {
                out.push('\n');
                out.push_str(&scalar_to_string(&v));
            }
            Ok(Value::str(out))
        }
        other => {
            let mut all = vec![Some(other)];
            all.extend(it.map(Some));
            bind(all, true)
        }
    }
}

/// Aggregates of a matrix used by the library (kept here so the dispatch stays in one place).
pub fn aggregate_value(op: AggOp, dir: AggDir, m: &Matrix) -> RtResult<Value> {
    Ok(match dir {
        AggDir::All => Value::Double(kernels::aggregate::aggregate_all(op, m)?),
        _ => Value::matrix(kernels::aggregate::aggregate(op, dir, m)?),
    })
}
