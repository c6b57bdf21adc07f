//! What `print` shows: values as text, Java's `String.format` for `print(fmt, args...)`, and
//! `toString`.

use super::frame::ops as frame_ops;
use super::{Args, BuiltinFn::Plain, Impl, err, one};
use crate::kernels::format::{ToStringOpts, matrix_to_string};
use crate::kernels::scalar::scalar_to_string;
use crate::runtime::error::{RtError, RtResult};
use crate::types::value::{ListValue, Value};

pub(super) const IMPLS: &[Impl] = &[("toString", Plain(to_string))];

/// What `print` shows for a value: scalars as Java prints them, matrices and frames as
/// `toString` does.
pub fn print_string(v: &Value) -> RtResult<String> {
    Ok(match v {
        Value::Matrix(m) => matrix_to_string(m, &ToStringOpts::default()),
        Value::Frame(f) => frame_ops::to_string(f, &ToStringOpts::default()),
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

/// `toString(target, rows, cols, decimal, sparse, sep, linesep)`.
fn to_string(a: Args) -> RtResult<Vec<Value>> {
    let opts = ToStringOpts {
        rows: a.count("rows")?,
        cols: a.count("cols")?,
        decimal: a.count("decimal")?,
        sparse: a.flag("sparse")?,
        sep: a.text("sep")?.into_owned(),
        linesep: a.text("linesep")?.into_owned(),
    };
    let s = match a.value("target")? {
        Value::Matrix(m) => matrix_to_string(m, &opts),
        Value::Frame(f) => frame_ops::to_string(f, &opts),
        other => print_string(other)?,
    };
    one(Value::str(s))
}
