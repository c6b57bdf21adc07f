//! Scalar arithmetic with SystemDS's value-type rules: integer operations stay integers (and fail
//! on overflow instead of wrapping), `/` and `^` give doubles, `+` with a string concatenates.
//! The constant folder uses the same functions, so folding never changes a value.

use crate::kernels::format::format_double;
use crate::types::ops::{BinOp, UnOp};
use crate::types::value::Value;

/// How a scalar prints and concatenates: integers plainly, doubles as Java prints them.
pub fn scalar_to_string(v: &Value) -> String {
    match v {
        Value::Int(i) => i.to_string(),
        Value::Double(d) => format_double(*d),
        Value::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_string(),
        Value::Str(s) => s.to_string(),
        Value::Matrix(_) => "matrix".into(),
        Value::Frame(_) => "frame".into(),
        Value::List(_) => "list".into(),
    }
}

fn is_int(v: &Value) -> bool {
    matches!(v, Value::Int(_) | Value::Bool(_))
}

fn num(v: &Value, what: &str) -> Result<f64, String> {
    match v {
        Value::Int(i) => Ok(*i as f64),
        Value::Double(d) => Ok(*d),
        Value::Bool(b) => Ok(*b as i64 as f64),
        _ => Err(format!("{what} needs a number, but got a {}", v.kind())),
    }
}

fn int(v: &Value) -> i64 {
    match v {
        Value::Int(i) => *i,
        Value::Bool(b) => *b as i64,
        Value::Double(d) => *d as i64,
        _ => 0,
    }
}

fn overflow(op: &str, a: i64, b: i64) -> String {
    format!("integer overflow in {a} {op} {b}")
}

/// `a op b` on two scalars.
pub fn binary_scalar(op: BinOp, a: &Value, b: &Value) -> Result<Value, String> {
    if let (Value::Str(_), _) | (_, Value::Str(_)) = (a, b) {
        return string_binary(op, a, b);
    }
    let both_int = is_int(a) && is_int(b);
    match op {
        // SystemDS 3.4.0: integer + and - wrap around; * fails on overflow.
        BinOp::Add | BinOp::Sub | BinOp::Mul if both_int => {
            let (x, y) = (int(a), int(b));
            let r = match op {
                BinOp::Add => x.wrapping_add(y),
                BinOp::Sub => x.wrapping_sub(y),
                // Computed in doubles and converted back, as SystemDS does: the result can lose low
                // digits near the int64 limit, and overflows are errors.
                _ => {
                    let r = x as f64 * y as f64;
                    if r.abs() >= 9.223_372_036_854_776e18 {
                        return Err(overflow("*", x, y));
                    }
                    match x.checked_mul(y) {
                        Some(exact) if exact.unsigned_abs() < (1u64 << 53) => exact,
                        _ => r as i64,
                    }
                }
            };
            Ok(Value::Int(r))
        }
        // Integer division by zero overflows (an error); the modulus by zero is 0, as SystemDS
        // computes both in doubles and casts.
        BinOp::IntDiv if both_int => {
            let (x, y) = (int(a), int(b));
            if y == 0 {
                return Err(format!("integer operation created numerical result overflow ({x} %/% 0)"));
            }
            Ok(Value::Int(x.checked_div(y).ok_or_else(|| overflow("%/%", x, y))?))
        }
        BinOp::Mod if both_int => {
            let (x, y) = (int(a), int(b));
            if y == 0 {
                return Ok(Value::Int(0));
            }
            Ok(Value::Int(x.wrapping_rem(y)))
        }
        BinOp::Min | BinOp::Max if both_int => {
            let (x, y) = (int(a), int(b));
            Ok(Value::Int(if op == BinOp::Min { x.min(y) } else { x.max(y) }))
        }
        BinOp::BitwAnd | BinOp::BitwOr | BinOp::BitwXor | BinOp::BitwShiftL | BinOp::BitwShiftR => {
            let (x, y) = (int(a), int(b));
            Ok(Value::Int(match op {
                BinOp::BitwAnd => x & y,
                BinOp::BitwOr => x | y,
                BinOp::BitwXor => x ^ y,
                BinOp::BitwShiftL => x.wrapping_shl(y as u32),
                _ => x.wrapping_shr(y as u32),
            }))
        }
        _ if op.is_boolean_valued() => {
            let r = op.apply(num(a, "comparison")?, num(b, "comparison")?);
            Ok(Value::Bool(r != 0.0))
        }
        _ => {
            let r = op.apply(num(a, "arithmetic")?, num(b, "arithmetic")?);
            Ok(Value::Double(r))
        }
    }
}

fn string_binary(op: BinOp, a: &Value, b: &Value) -> Result<Value, String> {
    match op {
        BinOp::Add => {
            let mut s = scalar_to_string(a);
            s.push_str(&scalar_to_string(b));
            Ok(Value::str(s))
        }
        BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge | BinOp::Eq | BinOp::Ne => {
            let (x, y) = (scalar_to_string(a), scalar_to_string(b));
            let ord = x.cmp(&y);
            use std::cmp::Ordering::*;
            let r = match op {
                BinOp::Lt => ord == Less,
                BinOp::Le => ord != Greater,
                BinOp::Gt => ord == Greater,
                BinOp::Ge => ord != Less,
                BinOp::Eq => ord == Equal,
                _ => ord != Equal,
            };
            Ok(Value::Bool(r))
        }
        _ => Err(format!("operator {} cannot be applied to strings", op.name())),
    }
}

/// `op(x)` on a scalar.
pub fn unary_scalar(op: UnOp, x: &Value) -> Result<Value, String> {
    if let Value::Str(_) = x {
        return Err(format!("{} cannot be applied to a string", op.name()));
    }
    match op {
        UnOp::Not => Ok(Value::Bool(num(x, "!")? == 0.0)),
        UnOp::IsNa | UnOp::IsNaN | UnOp::IsInf => Ok(Value::Bool(op.apply(num(x, op.name())?) != 0.0)),
        UnOp::Neg if is_int(x) => {
            int(x).checked_neg().map(Value::Int).ok_or_else(|| "integer overflow in negation".into())
        }
        _ => Ok(Value::Double(op.apply(num(x, op.name())?))),
    }
}
