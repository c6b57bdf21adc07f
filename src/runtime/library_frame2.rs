//! More frame builtins: `transformcolmap`, `getCategoricalMask`, `transformmeta`,
//! `dropInvalidType`, `valueSwap`, `freplicate` and `tokenize`, with SystemDS 3.4.0's semantics.

use crate::kernels::format::format_double;
use crate::runtime::builtins::frame::ops::{column_from_strings, column_strings, java_float, raw_cell};
use crate::runtime::builtins::frame::transform::{SEP, colmap, spec};
use crate::runtime::error::{RtError, RtResult};
use crate::runtime::exec::Runtime;
use crate::runtime::library_frame::{frame_arg, text};
use crate::types::frame::{ColType, Frame, FrameColumn};
use crate::types::value::Value;
use std::path::Path;
use std::sync::Arc;

fn err<T>(msg: impl Into<String>) -> RtResult<T> {
    Err(RtError::new(msg))
}

fn fv(f: Frame) -> Value {
    Value::Frame(Arc::new(f))
}

/// Tries the builtins of this module; `None` when `name` is not one of them.
pub fn call(rt: &Runtime, name: &str, args: &[Option<Value>]) -> Option<RtResult<Vec<Value>>> {
    let _ = rt;
    let r = match name {
        "transformcolmap" => (|| {
            let meta = frame_arg(&args[0], "transformcolmap: target")?;
            let spec = text(&args[1], "transformcolmap: spec")?;
            colmap::colmap(meta, &spec).map(|m| vec![Value::matrix(m)])
        })(),
        "getCategoricalMask" => (|| {
            let meta = frame_arg(&args[0], "getCategoricalMask: the meta frame")?;
            let spec = text(&args[1], "getCategoricalMask: spec")?;
            colmap::categorical_mask(meta, &spec).map(|m| vec![Value::matrix(m)])
        })(),
        "transformmeta" => (|| {
            let spec = text(&args[0], "transformmeta: spec")?;
            let path = text(&args[1], "transformmeta: transformPath")?;
            transform_meta(&spec, Path::new(&path)).map(|f| vec![fv(f)])
        })(),
        "dropInvalidType" => drop_invalid_type(args).map(|f| vec![fv(f)]),
        "valueSwap" => value_swap(args).map(|f| vec![fv(f)]),
        "freplicate" => freplicate(args).map(|f| vec![fv(f)]),
        "tokenize" => crate::runtime::builtins::frame::tokenize::tokenize_builtin(args).map(|f| vec![fv(f)]),
        _ => return None,
    };
    Some(r)
}

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

/// The schema row (first row of a frame) as strings.
fn schema_row(v: &Option<Value>, cols: usize, what: &str) -> RtResult<Vec<String>> {
    let s = frame_arg(v, what)?;
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
fn drop_invalid_type(args: &[Option<Value>]) -> RtResult<Frame> {
    let f = frame_arg(&args[0], "dropInvalidType")?;
    let schema = schema_row(&args[1], f.cols(), "dropInvalidType")?;
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
    Ok(out)
}

/// `valueSwap(F, schema)`: SystemDS's heuristic that moves a value found in a column of the
/// wrong type into a column of its type. Its candidate test compares a value's length with the
/// column's (max, min) lengths swapped, so only columns without values qualify; a value with no
/// candidate is exchanged with the cell of the last chosen column (the first column at the
/// start), and stays in place but normalized (trimmed, unquoted, lowercased) when that is its
/// own column. Every column must hold strings.
#[allow(clippy::needless_range_loop)]
fn value_swap(args: &[Option<Value>]) -> RtResult<Frame> {
    let f = frame_arg(&args[0], "valueSwap")?;
    let schema: Vec<String> = schema_row(&args[1], f.cols(), "valueSwap")?
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
    Ok(Frame::from_typed(f.names.clone(), typed))
}

/// `freplicate(F, X)`: with a 1-row frame `X`, every row of `F` becomes that row; with a
/// matrix of maximum lengths (one per column, -1 for none), longer cells become null.
fn freplicate(args: &[Option<Value>]) -> RtResult<Frame> {
    let f = frame_arg(&args[0], "freplicate")?;
    let mut out = (**f).clone();
    match &args[1] {
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
    Ok(out)
}

fn read_text(path: &Path) -> RtResult<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => err(format!("transformmeta: cannot read {}: {e}", path.display())),
    }
}

/// One recode map line, `"token",id,count` (the token may be quoted to hold commas).
fn recode_entry(line: &str) -> RtResult<(String, String)> {
    let bad = || RtError::new(format!("transformmeta: bad recode map entry \"{line}\""));
    let (token, rest) = match line.rfind('"') {
        Some(q) if line.starts_with('"') && q > 0 => (&line[1..q], line.get(q + 2..).ok_or_else(bad)?),
        _ => {
            let (t, r) = line.split_once(',').ok_or_else(bad)?;
            (t, r)
        }
    };
    let id = rest.split(',').next().ok_or_else(bad)?.trim();
    if id.is_empty() {
        return Err(bad());
    }
    Ok((token.to_string(), id.to_string()))
}

/// `transformmeta(spec=, transformPath=)`: the meta frame from the file-based layout
/// (`column.names`; `Recode/<col>.map`, `.ndistinct`; `Bin/<col>.bin`; `Impute/<col>.impute`).
fn transform_meta(spec_text: &str, dir: &Path) -> RtResult<Frame> {
    let names_file = dir.join("column.names");
    let names_text = read_text(&names_file)?
        .ok_or_else(|| RtError::new(format!("transformmeta: {} does not exist", names_file.display())))?;
    let names: Vec<String> = names_text.trim().split(',').map(|s| s.to_string()).collect();
    let specs = spec::resolve(spec_text, &names).map_err(RtError::new)?;
    let n = names.len();
    let mut cols: Vec<Vec<String>> = vec![Vec::new(); n];
    let mut impute: Vec<Option<String>> = vec![None; n];
    // As SystemDS, the frame has as many rows as the largest domain found in the directory,
    // whether or not the spec uses that column.
    let mut rows = 0usize;
    for name in &names {
        let nd = dir.join("Recode").join(format!("{name}.ndistinct"));
        if dir.join("Recode").join(format!("{name}.map")).exists()
            && let Some(t) = read_text(&nd)?
        {
            let k = t.trim().parse::<usize>().map_err(|_| {
                RtError::new(format!("transformmeta: bad distinct count in {}", nd.display()))
            })?;
            rows = rows.max(k);
        }
        if let Some(t) = read_text(&dir.join("Bin").join(format!("{name}.bin")))? {
            let nb = t.trim().split(',').nth(4).and_then(|x| x.trim().parse::<f64>().ok());
            rows = rows.max(nb.filter(|x| (0.0..=1e7).contains(x)).unwrap_or(0.0) as usize);
        }
    }
    for (c, name) in names.iter().enumerate() {
        let s = &specs[c];
        if let Some((_, k)) = s.bin {
            let file = dir.join("Bin").join(format!("{name}.bin"));
            let map = read_text(&file)?.ok_or_else(|| {
                RtError::new(format!("transformmeta: the binning map of column \"{name}\" does not exist"))
            })?;
            let fields: Vec<&str> = map.trim().split(',').collect();
            let num = |i: usize| -> RtResult<f64> {
                fields.get(i).and_then(|x| x.trim().parse::<f64>().ok()).ok_or_else(|| {
                    RtError::new(format!("transformmeta: bad binning map for column \"{name}\": {map}"))
                })
            };
            let (min, width, nbins) = (num(1)?, num(3)?, num(4)?);
            let _ = k;
            if !(0.0..=1e7).contains(&nbins) {
                return err(format!("transformmeta: bad number of bins for column \"{name}\""));
            }
            for i in 0..nbins as usize {
                let lo = min + i as f64 * width;
                let hi = min + (i + 1) as f64 * width;
                cols[c].push(format!("{}{SEP}{}", format_double(lo), format_double(hi)));
            }
        } else if s.recode || s.dummy {
            let file = dir.join("Recode").join(format!("{name}.map"));
            let map = read_text(&file)?.ok_or_else(|| {
                RtError::new(format!("transformmeta: the recode map of column \"{name}\" does not exist"))
            })?;
            for line in map.lines().filter(|l| !l.is_empty()) {
                let (tok, id) = recode_entry(line)?;
                cols[c].push(format!("{tok}{SEP}{id}"));
            }
        }
        let file = dir.join("Impute").join(format!("{name}.impute"));
        if let Some(v) = read_text(&file)? {
            let v = v.trim_end_matches(['\n', '\r']);
            impute[c] = Some(v.split_once(',').map_or(v, |(_, b)| b).to_string());
        }
    }
    let rows = cols.iter().map(|c| c.len()).max().unwrap_or(0).max(rows);
    let columns = cols
        .into_iter()
        .map(|mut c| {
            let mut cells: Vec<Option<String>> = c.drain(..).map(Some).collect();
            cells.resize(rows, None);
            FrameColumn::Str(cells)
        })
        .collect();
    let impute = if impute.iter().any(|i| i.is_some()) { impute } else { vec![] };
    Ok(Frame { names, columns, narrow: vec![], impute })
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
        assert_eq!(recode_entry("\"a,b\",3,7").unwrap(), ("a,b".to_string(), "3".to_string()));
        assert_eq!(recode_entry("x,2,1").unwrap(), ("x".to_string(), "2".to_string()));
    }
}
