//! Building matrices (`matrix`, `rand`, `seq`, `sample`, reshaping), binding them together,
//! cumulative aggregates and `roll`, with the memory budget check of large outputs.

use super::frame::ops as frame_ops;
use super::{Args, BuiltinFn::Plain, Impl, err, one, operator_id};
use crate::compiler::Options;
use crate::kernels;
use crate::kernels::format::format_double;
use crate::runtime::error::{RtError, RtResult};
use crate::types::backend::Format;
use crate::types::matrix::Matrix;
use crate::types::ops::CumOp;
use crate::types::value::Value;
use std::sync::Arc;

pub(super) const IMPLS: &[Impl] = &[
    ("cumsum", Plain(|a| cumulative(a, CumOp::Sum))),
    ("cumprod", Plain(|a| cumulative(a, CumOp::Prod))),
    ("cummin", Plain(|a| cumulative(a, CumOp::Min))),
    ("cummax", Plain(|a| cumulative(a, CumOp::Max))),
    ("rowcumsum", Plain(rowcumsum)),
    ("cumsumprod", Plain(cumsumprod)),
    ("sample", Plain(sample)),
    ("roll", Plain(roll)),
];

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

/// `matrix(value, rows, cols)`: a constant, or numbers parsed from a string.
/// The operands are those of the builtin `matrix`: `data`, `rows`, `cols`.
/// `format` is the planner's choice for the output (`None`: decided here from the size).
pub fn fill(opts: &Options, args: Vec<Option<Value>>, format: Option<Format>) -> RtResult<Value> {
    let a = Args::new(operator_id("matrix")?, args);
    let data = a.value("data")?;
    if let Value::Str(s) = data {
        let values: Vec<f64> = s
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|t| !t.is_empty())
            .map(|t| t.parse::<f64>().map_err(|_| RtError::new(format!("matrix(): `{t}` is not a number"))))
            .collect::<RtResult<_>>()?;
        let rows = a.opt_num("rows")?;
        let cols = a.opt_num("cols")?;
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
    let r = a.count("rows")?;
    let c = a.count("cols")?;
    check_budget_cells(opts, if v == 0.0 { 0.0 } else { r as f64 * c as f64 })?;
    // An all-zero matrix is stored sparse only when it is large: smaller ones are usually filled
    // by left indexing next, which is fastest on dense storage (the planner's rule too).
    let sparse = match format {
        Some(f) => f == Format::Sparse,
        None => r > 0 && c > 1 && r as f64 * c as f64 > 4.0e6,
    };
    if v == 0.0 && sparse {
        return Ok(Value::matrix(Matrix::Sparse(sprs::CsMat::zero((r, c)))));
    }
    Ok(Value::matrix(Matrix::filled(r, c, v)))
}

/// The operands are the parameters of the builtin `rand`, in order; `format` is the planner's
/// choice for the output (`None`: decided from the expected non-zeros).
pub fn rand(opts: &Options, args: Vec<Option<Value>>, format: Option<Format>) -> RtResult<Value> {
    use kernels::datagen::{Pdf, RandSpec};
    let a = Args::new(operator_id("rand")?, args);
    let rows = a.count("rows")?;
    let cols = a.count("cols")?;
    let min = a.num("min")?;
    let max = a.num("max")?;
    let sparsity = a.num("sparsity")?;
    let pdf = a.text("pdf")?;
    let lambda = a.num("lambda")?;
    let seed = a.num("seed")? as i64;
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
    let expect_nnz = (rows as f64 * cols as f64 * sparsity) as usize;
    let sparse = match format {
        Some(f) => f == Format::Sparse,
        None => sparsity < 1.0 && Matrix::prefers_sparse(rows, cols, expect_nnz),
    };
    let bytes = if sparse {
        crate::types::matrix::estimate_sparse_bytes(rows, expect_nnz)
    } else {
        crate::types::matrix::estimate_dense_bytes(rows, cols)
    };
    check_budget_cells(opts, bytes / 8.0)?;
    let spec = RandSpec {
        rows,
        cols,
        min,
        max,
        sparsity,
        pdf,
        seed: if seed < 0 { None } else { Some(seed as u64) },
        sparse,
    };
    Ok(Value::matrix(kernels::datagen::rand(&spec)?))
}

/// The operands are those of the builtin `seq`: `from`, `to`, `incr`.
pub fn seq(args: Vec<Option<Value>>) -> RtResult<Value> {
    let a = Args::new(operator_id("seq")?, args);
    let from = a.num("from")?;
    let to = a.num("to")?;
    let incr = match a.opt_num("incr")? {
        None => {
            if from <= to {
                1.0
            } else {
                -1.0
            }
        }
        Some(incr) => incr,
    };
    Ok(Value::matrix(kernels::datagen::seq(from, to, incr)?))
}

/// `matrix(X, rows, cols, byrow)` of a matrix or a list of numbers; the operands are those of
/// the builtin `matrix`: `data`, `rows`, `cols`.
pub fn reshape(args: Vec<Option<Value>>, byrow: bool) -> RtResult<Value> {
    let mut a = Args::new(operator_id("matrix")?, args);
    if byrow && let Some(moved) = reshape_owned_rows(&mut a)? {
        return Ok(moved);
    }
    let from_list;
    let m: &Matrix = match a.value("data")? {
        Value::List(l) => {
            let vals: Vec<f64> = l
                .items
                .iter()
                .map(|v| {
                    v.as_f64()
                        .filter(|_| v.is_scalar())
                        .ok_or_else(|| RtError::new("matrix() of a list needs numbers"))
                })
                .collect::<RtResult<_>>()?;
            from_list = Matrix::from_vec(vals.len(), 1, vals);
            &from_list
        }
        _ => a.matrix("data")?,
    };
    let n = m.rows() * m.cols();
    let rows = a.opt_num("rows")?;
    let cols = a.opt_num("cols")?;
    let (r, c) = match (rows, cols) {
        (Some(r), Some(c)) => (r as usize, c as usize),
        (Some(r), None) if r > 0.0 => (r as usize, n / r as usize),
        (None, Some(c)) if c > 0.0 => (n / c as usize, c as usize),
        _ => (m.rows(), m.cols()),
    };
    Ok(Value::matrix(kernels::reorg::reshape(m, r, c, byrow)?))
}

/// `matrix(X, rows=, cols=)` row-wise of a dense matrix this instruction owns alone: the cells
/// are already in the output's row-major order, so the storage moves into the new shape instead
/// of being copied (`matrix(seq(1, n * m), rows=n, cols=m)` builds large inputs this way).
/// `None` (with the argument left in place) when the data is shared, sparse, or not a matrix,
/// or when the shape arguments need the general path's checks and messages.
fn reshape_owned_rows(a: &mut Args) -> RtResult<Option<Value>> {
    let (Some(rows), Some(cols)) = (a.opt_num("rows")?, a.opt_num("cols")?) else { return Ok(None) };
    let fits = |m: &Matrix| {
        !m.is_sparse() && rows >= 0.0 && cols >= 0.0 && (m.rows() * m.cols()) as f64 == rows * cols
    };
    match a.value("data")? {
        Value::Matrix(m) if Arc::strong_count(m) == 1 && fits(m) => {}
        _ => return Ok(None),
    }
    let Value::Matrix(m) = a.take("data")? else { unreachable!("checked above") };
    let Ok(Matrix::Dense(cells)) = Arc::try_unwrap(m) else { unreachable!("owned and dense") };
    let n = cells.len();
    let cells = if cells.is_standard_layout() {
        let (mut v, start) = cells.into_raw_vec_and_offset();
        let start = start.unwrap_or(0);
        if start != 0 || v.len() != n {
            v = v[start..start + n].to_vec();
        }
        v
    } else {
        cells.iter().copied().collect()
    };
    Ok(Some(Value::matrix(Matrix::from_vec(rows as usize, cols as usize, cells))))
}

/// `cbind`/`rbind` (with `columns`) of matrices and scalars, of a list's elements, or of frames.
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
        return frame_ops::bind(&vals, columns);
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

fn cumulative(a: Args, op: CumOp) -> RtResult<Vec<Value>> {
    one(Value::matrix(kernels::cumulative::cumulative(op, a.matrix("x")?)))
}

fn rowcumsum(a: Args) -> RtResult<Vec<Value>> {
    one(Value::matrix(kernels::cumulative::rowcumsum(a.matrix("x")?)))
}

fn cumsumprod(a: Args) -> RtResult<Vec<Value>> {
    one(Value::matrix(kernels::cumulative::cumsumprod(a.matrix("x")?)?))
}

/// `sample(range, size, replace, seed)`: `size` numbers from 1 to `range`.
fn sample(a: Args) -> RtResult<Vec<Value>> {
    let range = a.num("range")?;
    let size = a.num("size")?;
    let replace = a.flag("replace")?;
    let seed = a.num("seed")? as i64;
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

/// `roll(X, shift)`: the rows of `X` shifted down by `shift`, circularly (negative shifts move
/// them up).
fn roll(a: Args) -> RtResult<Vec<Value>> {
    let x = a.matrix("x")?;
    let shift = a.real("shift")? as i64;
    let (rows, cols) = (x.rows(), x.cols());
    if rows == 0 {
        return one(Value::Matrix(x.clone()));
    }
    let s = shift.rem_euclid(rows as i64) as usize;
    let d = x.dense_data();
    let mut out = Vec::with_capacity(rows * cols);
    for r in 0..rows {
        let src = (r + rows - s) % rows;
        out.extend_from_slice(&d[src * cols..(src + 1) * cols]);
    }
    one(Value::matrix(Matrix::from_vec(rows, cols, out)))
}
