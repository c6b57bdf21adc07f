//! Cleaning frames by the types and lengths of their values: `dropInvalidType`, `valueSwap`,
//! `freplicate` and `dropInvalidLength`, with SystemDS 3.4.0's semantics.

use super::frame_out;
use super::ops::{column_from_strings, column_strings, java_float, raw_cell};
use crate::kernels::format::format_double;
use crate::runtime::builtins::{Args, err};
use crate::runtime::error::RtResult;
use crate::types::frame::{ColType, Frame, FrameColumn};
use crate::types::value::Value;

/// The value type SystemDS's `FrameUtil.isType` sees in a (trimmed, lowercased) string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SeenType {
    Unknown,
    Boolean,
    Int32,
    Int64,
    Fp32,
    Fp64,
    Character,
    String,
}

impl SeenType {
    fn name(self) -> &'static str {
        match self {
            SeenType::Unknown => "UNKNOWN",
            SeenType::Boolean => "BOOLEAN",
            SeenType::Int32 => "INT32",
            SeenType::Int64 => "INT64",
            SeenType::Fp32 => "FP32",
            SeenType::Fp64 => "FP64",
            SeenType::Character => "CHARACTER",
            SeenType::String => "STRING",
        }
    }
}

fn digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn strip_sign(s: &str) -> &str {
    s.strip_prefix(['-', '+']).unwrap_or(s)
}

/// `(t|true|f|false|0|1|0\.0+|1\.0+)`
fn is_bool_text(s: &str) -> bool {
    if matches!(s, "t" | "true" | "f" | "false" | "0" | "1") {
        return true;
    }
    match s.strip_prefix("0.").or_else(|| s.strip_prefix("1.")) {
        Some(z) => !z.is_empty() && z.bytes().all(|b| b == b'0'),
        None => false,
    }
}

/// `[-+]?\d+(\.0+)?`
fn is_int_text(s: &str) -> bool {
    let t = strip_sign(s);
    match t.split_once('.') {
        None => digits(t),
        Some((a, b)) => digits(a) && !b.is_empty() && b.bytes().all(|x| x == b'0'),
    }
}

/// `[-+]?[0-9]*\.?[0-9]*([eE][-+]?[0-9]+)?`
fn is_float_text(s: &str) -> bool {
    let t = strip_sign(s);
    let (mant, exp) = match t.find(['e', 'E']) {
        Some(i) => (&t[..i], Some(&t[i + 1..])),
        None => (t, None),
    };
    let mant_ok = match mant.split_once('.') {
        None => mant.bytes().all(|b| b.is_ascii_digit()),
        Some((a, b)) => a.bytes().all(|x| x.is_ascii_digit()) && b.bytes().all(|x| x.is_ascii_digit()),
    };
    mant_ok && exp.is_none_or(|e| digits(strip_sign(e)))
}

fn int_type(v: Option<i64>) -> SeenType {
    match v {
        Some(v) if v >= i32::MIN as i64 && v <= i32::MAX as i64 => SeenType::Int32,
        _ => SeenType::Int64,
    }
}

/// SystemDS 3.4.0's `FrameUtil.isType(String)`.
pub(crate) fn seen_type(s: &str) -> SeenType {
    let len = s.chars().count();
    if len == 0 {
        return SeenType::Unknown;
    }
    if len <= 16 && is_bool_text(s) {
        return SeenType::Boolean;
    }
    if len <= 22 {
        if digits(s) {
            return if len < 8 { SeenType::Int32 } else { int_type(s.parse().ok()) };
        }
        if is_int_text(s) {
            let int_part = s.split('.').next().unwrap_or(s);
            return int_type(int_part.parse().ok());
        }
    }
    if len <= 25 && is_float_text(s) {
        if let Ok(d) = s.parse::<f64>() {
            return if java_float(d) == format_double(d) { SeenType::Fp32 } else { SeenType::Fp64 };
        }
    } else if matches!(s, "infinity" | "-infinity" | "nan") {
        return SeenType::Fp64;
    }
    if len == 1 { SeenType::Character } else { SeenType::String }
}

/// A cell as SystemDS's type checks see it: trimmed, without double quotes, lowercased.
fn normalized(s: &str) -> String {
    s.trim().replace('"', "").to_lowercase()
}

/// The schema row (first row of the frame `schema`) as strings.
fn schema_row(a: &Args, cols: usize) -> RtResult<Vec<String>> {
    let s = a.frame("schema")?;
    let what = a.name();
    if s.cols() != cols {
        return err(format!("{what}: the schema has {} columns but the frame has {cols}", s.cols()));
    }
    if s.rows() == 0 {
        return err(format!("{what}: the schema frame is empty"));
    }
    Ok((0..cols).map(|c| raw_cell(s, 0, c).unwrap_or_else(|| "null".into())).collect())
}

/// Rebuilds column `c` of `f` from string cells, keeping its type (nulls become the type's zero).
fn set_column(f: &mut Frame, c: usize, cells: &[Option<String>]) -> RtResult<()> {
    let ty = f.col_type(c);
    f.columns[c] = column_from_strings(cells, ty)?;
    Ok(())
}

/// `dropInvalidType(F, schema)`: cells whose value does not look like the column's schema type
/// become null. STRING columns are left alone; booleans pass as integers and floats.
pub(super) fn drop_invalid_type(a: Args) -> RtResult<Vec<Value>> {
    let f = a.frame("target")?;
    let schema = schema_row(&a, f.cols())?;
    let mut out = (**f).clone();
    for (c, sc) in schema.iter().enumerate() {
        let want = if sc.contains("FP") {
            "FP"
        } else if sc.contains("INT") {
            "INT"
        } else if sc.contains("STRING") {
            continue;
        } else {
            sc.as_str()
        };
        let mut cells = column_strings(f, c);
        let mut changed = false;
        for cell in cells.iter_mut() {
            let Some(v) = cell else { continue };
            let t = seen_type(&normalized(v));
            let ok = t.name().contains(want) || (t == SeenType::Boolean && (want == "INT" || want == "FP"));
            if !ok {
                *cell = None;
                changed = true;
            }
        }
        if changed {
            set_column(&mut out, c, &cells)?;
        }
    }
    frame_out(out)
}

/// `valueSwap(F, schema)`: SystemDS's heuristic that moves a value found in a column of the
/// wrong type into a column of its type. Its candidate test compares a value's length with the
/// column's (max, min) lengths swapped, so only columns without values qualify; a value with no
/// candidate is exchanged with the cell of the last chosen column (the first column at the
/// start), and stays in place but normalized (trimmed, unquoted, lowercased) when that is its
/// own column. Every column must hold strings.
#[allow(clippy::needless_range_loop)]
pub(super) fn value_swap(a: Args) -> RtResult<Vec<Value>> {
    let f = a.frame("target")?;
    let schema: Vec<String> = schema_row(&a, f.cols())?
        .into_iter()
        .map(|s| s.chars().filter(|c| !c.is_ascii_digit()).collect())
        .collect();
    let mut cols: Vec<Vec<Option<String>>> = Vec::with_capacity(f.cols());
    for c in 0..f.cols() {
        match &f.columns[c] {
            FrameColumn::Str(v) => cols.push(v.clone()),
            _ => return err(format!("valueSwap: column {} is not a string column", c + 1)),
        }
    }
    // Per column, (the smallest, the largest) length, then used the other way round.
    let lens: Vec<(usize, usize)> = cols
        .iter()
        .map(|col| {
            let ls = col.iter().flatten().map(|s| s.encode_utf16().count());
            let lo = ls.clone().min().unwrap_or(i32::MAX as usize);
            (lo, ls.max().unwrap_or(0))
        })
        .collect();
    let rows = f.rows();
    let mut best = 0usize;
    let mut candidates: Vec<usize> = Vec::new();
    for i in 0..cols.len() {
        for j in 0..rows {
            let Some(v) = cols[i][j].clone() else { continue };
            let value = normalized(&v);
            let t = seen_type(&value);
            let tname = t.name();
            let ty: String = tname.chars().filter(|c| !c.is_ascii_digit()).collect();
            let si = schema[i].as_str();
            let fits = tname.contains(si)
                || (t == SeenType::Boolean && (si == "INT" || si == "FP"))
                || (tname.contains("INT") && si == "FP");
            if fits {
                continue;
            }
            let len = value.encode_utf16().count();
            for w in 0..schema.len() {
                let (lo, hi) = lens[w];
                if schema[w] == ty && len > hi && len < lo && w != i {
                    let probe = cols[w][j].as_deref().map_or_else(|| "0".to_string(), normalized);
                    if seen_type(&probe).name() != schema[w] {
                        best = w;
                        break;
                    }
                    candidates.push(w);
                }
            }
            if candidates.len() == 1 {
                best = candidates[0];
            }
            let other = cols[best][j].clone();
            cols[i][j] = other;
            cols[best][j] = Some(value);
        }
    }
    let typed = cols.into_iter().map(|c| (ColType::String, FrameColumn::Str(c))).collect();
    frame_out(Frame::from_typed(f.names.clone(), typed))
}

/// `freplicate(F, X)`: with a 1-row frame `X`, every row of `F` becomes that row; with a
/// matrix of maximum lengths (one per column, -1 for none), longer cells become null.
pub(super) fn freplicate(a: Args) -> RtResult<Vec<Value>> {
    let f = a.frame("target")?;
    let mut out = (**f).clone();
    match a.get("X")? {
        Some(Value::Frame(row)) => {
            if row.cols() != f.cols() {
                return err(format!(
                    "freplicate: the row has {} columns but the frame {}",
                    row.cols(),
                    f.cols()
                ));
            }
            if row.rows() != 1 {
                return err(format!(
                    "freplicate: the row to replicate must be a single row, not {}",
                    row.rows()
                ));
            }
            for c in 0..f.cols() {
                let cells = vec![raw_cell(row, 0, c); f.rows()];
                set_column(&mut out, c, &cells)?;
            }
        }
        Some(Value::Matrix(m)) => {
            if m.cols() != f.cols() || m.rows() == 0 {
                return err(format!("freplicate: {} lengths for a frame of {} columns", m.cols(), f.cols()));
            }
            for c in 0..f.cols() {
                let limit = m.get(0, c);
                if limit == -1.0 {
                    continue;
                }
                let limit = limit as i64;
                let mut cells = column_strings(f, c);
                let mut changed = false;
                for cell in cells.iter_mut() {
                    if cell.as_ref().is_some_and(|s| s.encode_utf16().count() as i64 > limit) {
                        *cell = None;
                        changed = true;
                    }
                }
                if changed {
                    set_column(&mut out, c, &cells)?;
                }
            }
        }
        Some(x) => return err(format!("freplicate: the second argument cannot be a {}", x.kind())),
        None => return err("freplicate needs a second argument"),
    }
    frame_out(out)
}

/// `dropInvalidLength(F, L)`: string cells longer than column `c`'s limit `L[1, c]` become null.
pub(super) fn drop_invalid_length(a: Args) -> RtResult<Vec<Value>> {
    let f = a.frame("target")?;
    let lens = match a.get("lengths")? {
        Some(Value::Matrix(m)) => m.clone(),
        _ => return err("dropInvalidLength needs a matrix of maximum lengths"),
    };
    if lens.rows() * lens.cols() != f.cols() {
        return err(format!(
            "dropInvalidLength: {} lengths for a frame of {} columns",
            lens.rows() * lens.cols(),
            f.cols()
        ));
    }
    let mut out = (**f).clone();
    for c in 0..f.cols() {
        let limit = lens.get(c / lens.cols(), c % lens.cols());
        if let FrameColumn::Str(cells) = &mut out.columns[c] {
            for cell in cells.iter_mut() {
                if cell.as_ref().is_some_and(|s| s.chars().count() as f64 > limit) {
                    *cell = None;
                }
            }
        }
    }
    frame_out(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seen_types_as_systemds() {
        assert_eq!(seen_type("1"), SeenType::Boolean);
        assert_eq!(seen_type("1.00"), SeenType::Boolean);
        assert_eq!(seen_type("4"), SeenType::Int32);
        assert_eq!(seen_type("-4.0"), SeenType::Int32);
        assert_eq!(seen_type("12345678901"), SeenType::Int64);
        assert_eq!(seen_type("2.5"), SeenType::Fp32);
        assert_eq!(seen_type("0.1"), SeenType::Fp32);
        assert_eq!(seen_type("0.30000000000000004"), SeenType::Fp64);
        assert_eq!(seen_type("nan"), SeenType::Fp64);
        assert_eq!(seen_type("x"), SeenType::Character);
        assert_eq!(seen_type("xy"), SeenType::String);
        assert_eq!(seen_type("."), SeenType::Character);
    }
}
