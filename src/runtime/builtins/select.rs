//! Selection, tables and sorting: `table`, `order`, `removeEmpty`, `replace`, the triangles,
//! distinct values and membership.

use super::args::num_operand;
use super::frame::ops as frame_ops;
use super::{Args, BuiltinFn::Plain, Impl, err, one};
use crate::kernels::{self, select::TableArg};
use crate::runtime::error::RtResult;
use crate::types::value::Value;
use std::sync::Arc;

pub(super) const IMPLS: &[Impl] = &[
    ("table", Plain(table)),
    ("order", Plain(order)),
    ("removeEmpty", Plain(remove_empty)),
    ("replace", Plain(replace)),
    ("lower.tri", Plain(|a| triangle(a, true))),
    ("upper.tri", Plain(|a| triangle(a, false))),
    ("unique", Plain(unique)),
    ("countDistinct", Plain(count_distinct)),
    ("colCountDistinct", Plain(|a| count_distinct_in(a, "c"))),
    ("rowCountDistinct", Plain(|a| count_distinct_in(a, "r"))),
    ("countDistinctApprox", Plain(|a| count_distinct_approx(a, None))),
    ("rowCountDistinctApprox", Plain(|a| count_distinct_approx(a, Some("r")))),
    ("colCountDistinctApprox", Plain(|a| count_distinct_approx(a, Some("c")))),
    ("contains", Plain(contains)),
];

/// An operand of `table`: a vector, or a scalar standing for a vector of that value.
fn table_arg<'a>(a: &'a Args, v: Option<&'a Value>) -> RtResult<Option<TableArg<'a>>> {
    Ok(match v {
        None => None,
        Some(Value::Matrix(m)) => Some(TableArg::Vector(m)),
        Some(s) if s.is_scalar() => Some(TableArg::Scalar(s.as_f64().unwrap_or(f64::NAN))),
        Some(x) => return Err(a.error(format!("cannot use a {}", x.kind()))),
    })
}

/// `table(A, B, W, odim1, odim2)`: the contingency table of `A` and `B` (weighted by `W`).
fn table(a: Args) -> RtResult<Vec<Value>> {
    let x = table_arg(&a, Some(a.value("A")?))?;
    let y = table_arg(&a, Some(a.value("B")?))?;
    let (w, d1, d2) = (a.get("W")?, a.get("odim1")?, a.get("odim2")?);
    // table(A, B, odim1, odim2): with four arguments the third and fourth are the dims.
    let (w, d1, d2) = match (w, d1, d2) {
        (Some(w), Some(d1), None) if w.is_scalar() => (None, Some(w), Some(d1)),
        // table(A, B, 3, cols=4): SystemDS takes the scalar third argument as the rows.
        (Some(w), None, Some(d2)) if w.is_scalar() => (None, Some(w), Some(d2)),
        other => other,
    };
    let w = table_arg(&a, w)?.unwrap_or(TableArg::Scalar(1.0));
    let dims = match (d1, d2) {
        (Some(r), Some(c)) => {
            Some((num_operand(r, "table: `odim1`")? as usize, num_operand(c, "table: `odim2`")? as usize))
        }
        _ => None,
    };
    let (Some(x), Some(y)) = (x, y) else { return err("table needs A and B") };
    one(Value::matrix(kernels::select::table(x, y, w, dims)?))
}

/// `order(target, by, decreasing, index.return)`: the rows sorted by column(s) `by`.
fn order(a: Args) -> RtResult<Vec<Value>> {
    let x = a.matrix("target")?;
    let by: Vec<usize> = match a.value("by")? {
        Value::Matrix(b) => {
            (0..b.rows() * b.cols()).map(|i| b.get(i / b.cols(), i % b.cols()) as usize).collect()
        }
        _ => vec![a.num("by")? as usize],
    };
    let (decreasing, index) = (a.flag("decreasing")?, a.flag("index.return")?);
    one(Value::matrix(kernels::select::order(x, &by, decreasing, index)?))
}

/// `removeEmpty(target, margin, select, empty.return)` of a matrix or a frame.
fn remove_empty(a: Args) -> RtResult<Vec<Value>> {
    let rows = match &*a.text("margin")? {
        "rows" => true,
        "cols" => false,
        other => return err(format!("removeEmpty: margin must be \"rows\" or \"cols\", got \"{other}\"")),
    };
    let select = a.opt_matrix("select")?.map(|m| &**m);
    if let Value::Frame(f) = a.value("target")? {
        return one(Value::Frame(Arc::new(frame_ops::remove_empty(f, rows, select)?)));
    }
    let x = a.matrix("target")?;
    one(Value::matrix(kernels::select::remove_empty(x, rows, select, a.flag("empty.return")?)?))
}

/// `replace(target, pattern, replacement)`: cells equal to `pattern` (or NaN) replaced.
fn replace(a: Args) -> RtResult<Vec<Value>> {
    let x = a.matrix("target")?;
    one(Value::matrix(kernels::select::replace(x, a.num("pattern")?, a.num("replacement")?)))
}

/// `lower.tri(target, diag, values)` and `upper.tri(...)`.
fn triangle(a: Args, lower: bool) -> RtResult<Vec<Value>> {
    let x = a.matrix("target")?;
    let (d, v) = (a.flag("diag")?, a.flag("values")?);
    one(Value::matrix(if lower {
        kernels::select::lower_tri(x, d, v)?
    } else {
        kernels::select::upper_tri(x, d, v)?
    }))
}

/// `unique(data, dir)`: the distinct values, of all cells, or per row or column.
fn unique(a: Args) -> RtResult<Vec<Value>> {
    one(Value::matrix(kernels::stats::unique(a.matrix("data")?, &a.text("dir")?)?))
}

/// `countDistinct(data, dir)`: a number for the whole matrix, a vector per row or column.
fn count_distinct(a: Args) -> RtResult<Vec<Value>> {
    let dir = a.text("dir")?;
    let r = kernels::stats::count_distinct(a.matrix("data")?, &dir)?;
    if dir == "rc" { one(Value::Int(r.get(0, 0) as i64)) } else { one(Value::matrix(r)) }
}

/// `rowCountDistinct(data)`, `colCountDistinct(data)`.
fn count_distinct_in(a: Args, dir: &str) -> RtResult<Vec<Value>> {
    one(Value::matrix(kernels::stats::count_distinct(a.matrix("data")?, dir)?))
}

/// The approximate distinct counts: exact counts here (which is what the KMV sketch gives for
/// inputs smaller than its sketch size). `dir` is fixed for the row and column forms.
fn count_distinct_approx(a: Args, dir: Option<&str>) -> RtResult<Vec<Value>> {
    let name = a.name();
    let x = a.matrix("data")?;
    let dir = match dir {
        Some(d) => d,
        None => a.opt_str("dir")?.unwrap_or("rc"),
    };
    if let Some(t) = a.get("type")? {
        match t {
            Value::Str(s) if &**s == "KMV" => {}
            other => {
                return err(format!(
                    "{name}: unsupported type {} (only \"KMV\")",
                    crate::kernels::scalar::scalar_to_string(other)
                ));
            }
        }
    }
    if !matches!(dir, "rc" | "r" | "c") {
        return err(format!("{name}: dir must be \"rc\", \"r\" or \"c\", got \"{dir}\""));
    }
    let r = kernels::stats::count_distinct(x, dir)?;
    one(if dir == "rc" { Value::Int(r.get(0, 0) as i64) } else { Value::matrix(r) })
}

/// `contains(target, pattern)`: whether a cell equals `pattern` (NaN finds NaN).
fn contains(a: Args) -> RtResult<Vec<Value>> {
    let x = a.matrix("target")?;
    let p = a.num("pattern")?;
    let d = x.dense_data();
    let found = if p.is_nan() { d.iter().any(|v| v.is_nan()) } else { d.contains(&p) };
    one(Value::Bool(found))
}
