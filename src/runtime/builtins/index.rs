//! Indexing: `X[rows, cols]` and `X[rows, cols] = Y` of matrices, lists and frames. The
//! operands are the target (and the value assigned), then the 1-based inclusive bounds
//! `rows_lo, rows_hi, cols_lo, cols_hi`, each absent when the dimension is taken whole.

use super::args::num_operand;
use super::err;
use super::frame::ops as frame_ops;
use crate::kernels;
use crate::runtime::error::{RtError, RtResult};
use crate::types::value::{ListValue, Value};
use std::sync::Arc;

/// 1-based inclusive bounds of one index dimension, converted to a 0-based half-open range.
fn bounds(lo: &Option<Value>, hi: &Option<Value>, n: usize, what: &str) -> RtResult<std::ops::Range<usize>> {
    let l = match lo {
        None => 1.0,
        Some(v) => num_operand(v, what)?,
    };
    let h = match hi {
        None => n as f64,
        Some(v) => num_operand(v, what)?,
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

/// `X[rows, cols]` of a matrix, list or frame (`L["name"]` of a named list).
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
            Ok(Value::Frame(Arc::new(frame_ops::slice(f, rows, cols))))
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

/// `X[rows, cols] = value` into a matrix, list or frame; the target is updated in place when
/// this instruction owns it.
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
                Some(v) => {
                    let x = num_operand(v, "list index")?;
                    if x < 1.0 {
                        return err(format!("list index {} out of bounds", x as i64));
                    }
                    x as usize - 1
                }
                None => return err("list index is missing"),
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
            frame_ops::left_index(Arc::make_mut(&mut f), rows, cols, &value)?;
            Ok(Value::Frame(f))
        }
        other => err(format!("cannot assign into an index of a {}", other.kind())),
    }
}
