//! Values themselves: casts, `typeof`, the clock, list operations, and the builtins that only
//! pass their argument on.

use super::frame::ops as frame_ops;
use super::{Args, BuiltinFn::Plain, Impl, err, one};
use crate::kernels::scalar::scalar_to_string;
use crate::runtime::error::{RtError, RtResult};
use crate::types::matrix::Matrix;
use crate::types::ops::CastOp;
use crate::types::value::Value;
use std::sync::Arc;

pub(super) const IMPLS: &[Impl] = &[
    ("time", Plain(time)),
    ("printProgress", Plain(print_progress)),
    ("typeof", Plain(type_of)),
    ("remove", Plain(remove)),
    ("as.list", Plain(as_list)),
    ("append", Plain(append)),
    // Compression is a storage choice in SystemDS; the values are unchanged.
    ("compress", Plain(pass_on)),
    ("decompress", Plain(pass_on)),
    // The executor evaluates these from the lineage it traces when a script calls them.
    ("lineage", Plain(traced_only)),
    ("autoDiff", Plain(traced_only)),
];

/// The cast operators: `as.scalar`, `as.matrix`, `as.double`, `as.integer`, `as.logical`,
/// `nrow`, `ncol` and `length`.
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
            Value::Frame(f) if f.rows() == 1 && f.cols() == 1 => Ok(frame_ops::cell(&f, 0, 0)),
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
            Value::Frame(f) => Ok(Value::matrix(frame_ops::to_matrix(&f)?)),
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

/// `time()`: nanoseconds since the epoch.
fn time(_: Args) -> RtResult<Vec<Value>> {
    let ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0);
    one(Value::Int(ns))
}

/// `printProgress(done, total, text)`: redraws a progress bar (`12/32 [=====>    ] text`) on
/// standard error when it is a terminal, and ends the line when `done` reaches `total`; where
/// standard error is a file or a pipe it draws nothing, so logs keep only the scripts' own
/// lines. Returns whether it drew.
fn print_progress(a: Args) -> RtResult<Vec<Value>> {
    use std::io::{IsTerminal, Write};
    let (done, total) = (a.num("done")?, a.num("total")?);
    let mut err = std::io::stderr();
    if !err.is_terminal() || total <= 0.0 {
        return one(Value::Bool(false));
    }
    let _ = write!(err, "{}", progress_line(done, total, &a.text("text")?));
    let _ = err.flush();
    one(Value::Bool(true))
}

/// The text that redraws a progress bar: back to the line's start, `done/total [===>   ] text`,
/// a clear to the line's end (of what a longer previous line left), and a newline when done.
fn progress_line(done: f64, total: f64, text: &str) -> String {
    const WIDTH: usize = 30;
    let frac = (done / total).clamp(0.0, 1.0);
    let filled = (frac * WIDTH as f64).round() as usize;
    let mut bar = "=".repeat(filled);
    if filled < WIDTH {
        bar.push('>');
        bar.push_str(&" ".repeat(WIDTH - filled - 1));
    }
    let digits = format!("{total}").len();
    let end = if done >= total { "\n" } else { "" };
    format!("\r{done:>digits$}/{total} [{bar}] {text}\x1b[K{end}")
}

/// `typeof(x)`: the kind of a value, or for a frame a 1 x n frame of its column types.
fn type_of(a: Args) -> RtResult<Vec<Value>> {
    one(match a.value("target")? {
        Value::Frame(f) => super::frame::type_of(f),
        other => Value::str(other.kind().to_string()),
    })
}

/// `[L2, x] = remove(L, i)`: the list without its element `i`, and that element.
fn remove(a: Args) -> RtResult<Vec<Value>> {
    let l = a.list("target")?;
    let i = a.num("index")? as usize;
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

/// `as.list(L)`: a list stays as it is; a one-element list holding a list gives the inner list,
/// as in SystemDS (independentSubnetTrain's `as.list(masks[s])`).
fn as_list(a: Args) -> RtResult<Vec<Value>> {
    let l = a.list("x")?;
    one(match l.items.as_slice() {
        [inner @ Value::List(_)] => inner.clone(),
        _ => Value::List(l.clone()),
    })
}

/// `append(L, x...)`, `append(s, t...)` and `append(X, Y...)` (a list, a string, a matrix).
fn append(a: Args) -> RtResult<Vec<Value>> {
    let mut it = a.into_values().into_iter().flatten();
    let first = it.next().ok_or_else(|| RtError::new("append needs arguments"))?;
    one(match first {
        Value::List(mut l) => {
            let list = Arc::make_mut(&mut l);
            for v in it {
                // SystemDS adds the element of a one-element list rather than the list itself
                // (executePipeline appends `list(X=Xtest)` to an argument list); its name is kept
                // only in a named list.
                let (name, v) = match v {
                    Value::List(single) if single.items.len() == 1 => {
                        (single.names.first().cloned().unwrap_or_default(), single.items[0].clone())
                    }
                    v => (String::new(), v),
                };
                list.items.push(v);
                if !list.names.is_empty() {
                    list.names.push(name);
                }
            }
            Value::List(l)
        }
        Value::Str(s) => {
            let mut out = s.to_string();
            for v in it {
                out.push('\n');
                out.push_str(&scalar_to_string(&v));
            }
            Value::str(out)
        }
        other => {
            let mut all = vec![Some(other)];
            all.extend(it.map(Some));
            super::bind(all, true)?
        }
    })
}

fn pass_on(mut a: Args) -> RtResult<Vec<Value>> {
    one(a.take("x")?)
}

fn traced_only(a: Args) -> RtResult<Vec<Value>> {
    err(format!("`{}` must be called directly (not through eval), so that lineage is traced", a.name()))
}

#[cfg(test)]
mod progress_tests {
    use super::progress_line;

    #[test]
    fn the_bar_fills_in_proportion_and_ends_the_line_when_done() {
        assert_eq!(
            progress_line(3.0, 10.0, "loss: 1"),
            format!("\r 3/10 [{}>{}] loss: 1\x1b[K", "=".repeat(9), " ".repeat(20))
        );
        assert_eq!(progress_line(10.0, 10.0, ""), format!("\r10/10 [{}] \x1b[K\n", "=".repeat(30)));
    }
}
