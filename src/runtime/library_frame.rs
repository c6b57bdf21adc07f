//! Frame builtins: construction (`frame`, `as.frame`), metadata (`colnames`, `detectSchema`,
//! `applySchema`), frame reading and writing, the transforms and `map`.

use crate::kernels::scalar::scalar_to_string;
use crate::runtime::builtins::frame::ops::{
    self as frame_ops, column_from_strings, column_strings, raw_cell,
};
use crate::runtime::error::{RtError, RtResult};
use crate::runtime::exec::Runtime;
use crate::runtime::io;
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

pub(crate) fn frame_arg<'a>(v: &'a Option<Value>, what: &str) -> RtResult<&'a Arc<Frame>> {
    match v {
        Some(Value::Frame(f)) => Ok(f),
        Some(x) => err(format!("{what} must be a frame, but got a {}", x.kind())),
        None => err(format!("{what} is missing")),
    }
}

pub(crate) fn text(v: &Option<Value>, what: &str) -> RtResult<String> {
    match v {
        Some(Value::Str(s)) => Ok(s.to_string()),
        Some(x) if x.is_scalar() => Ok(scalar_to_string(x)),
        Some(x) => err(format!("{what} must be a string, but got a {}", x.kind())),
        None => err(format!("{what} is missing")),
    }
}

fn count(v: &Option<Value>, what: &str) -> RtResult<usize> {
    match v {
        Some(x) if x.is_scalar() => match x.as_f64() {
            Some(n) if n >= 0.0 && n.is_finite() => Ok(n as usize),
            _ => err(format!("{what} must be a non-negative number")),
        },
        Some(x) => err(format!("{what} must be a number, but got a {}", x.kind())),
        None => err(format!("{what} is missing")),
    }
}

/// Strings of a list argument (`["a", "b"]`), a string with commas, or a 1-row frame.
fn string_items(v: &Value, what: &str) -> RtResult<Vec<String>> {
    match v {
        Value::List(l) => l
            .items
            .iter()
            .map(|x| {
                if x.is_scalar() { Ok(scalar_to_string(x)) } else { err(format!("{what} must hold scalars")) }
            })
            .collect(),
        Value::Str(s) => Ok(s.split(',').map(|t| t.trim().to_string()).filter(|t| !t.is_empty()).collect()),
        Value::Frame(f) => {
            Ok((0..f.cols()).flat_map(|c| column_strings(f, c)).map(|s| s.unwrap_or_default()).collect())
        }
        x if x.is_scalar() => Ok(vec![scalar_to_string(x)]),
        x => err(format!("{what} cannot be a {}", x.kind())),
    }
}

fn parse_schema(items: &[String], cols: usize) -> RtResult<Vec<ColType>> {
    if items.len() != cols && items.len() != 1 {
        return err(format!("the schema has {} entries but the frame has {cols} columns", items.len()));
    }
    (0..cols)
        .map(|c| {
            let it = if items.len() == 1 { &items[0] } else { &items[c] };
            if it == "*" {
                return Ok(ColType::String);
            }
            ColType::parse(it)
                .ok_or_else(|| RtError::new(format!("unknown value type \"{it}\" in the schema")))
        })
        .collect()
}

/// Tries the frame builtins; `None` when `name` is not one of them.
pub fn call(rt: &Runtime, name: &str, args: Vec<Option<Value>>) -> Option<RtResult<Vec<Value>>> {
    let r = match name {
        "frame" => construct(&args).map(|f| vec![fv(f)]),
        "as.frame" => as_frame(&args).map(|f| vec![fv(f)]),
        "colnames" => frame_arg(&args[0], "colnames")
            .map(|f| vec![fv(frame_ops::string_row((0..f.cols()).map(|c| f.name(c)).collect()))]),
        "detectSchema" => frame_arg(&args[0], "detectSchema").map(|f| vec![fv(detect_schema(f))]),
        "applySchema" => apply_schema(&args).map(|f| vec![fv(f)]),
        "transformencode" => crate::runtime::builtins::frame::transform::encode_builtin(&args),
        "transformapply" => crate::runtime::builtins::frame::transform::apply_builtin(&args).map(|v| vec![v]),
        "transformdecode" => {
            crate::runtime::builtins::frame::transform::decode_builtin(&args).map(|v| vec![v])
        }
        "dropInvalidLength" => drop_invalid_length(&args).map(|f| vec![fv(f)]),
        "map" => crate::runtime::builtins::frame::lambda::map_builtin(&args).map(|v| vec![v]),
        _ => return None,
    };
    let _ = rt;
    Some(r)
}

/// `typeof(F)`: a 1 x n frame of the column types.
pub fn type_of(f: &Frame) -> Value {
    let cells = f.schema().iter().map(|t| t.name().to_string()).collect();
    fv(frame_ops::string_row(cells))
}

/// `frame(data, rows, cols, schema)`: a scalar fills every cell; a list fills row by row, or
/// with one value per column, repeats it down the rows.
fn construct(args: &[Option<Value>]) -> RtResult<Frame> {
    let data = args[0].as_ref().ok_or_else(|| RtError::new("frame needs data"))?;
    let items: Vec<String> = match data {
        Value::List(_) => string_items(data, "the data of frame")?,
        Value::Frame(f) => return Ok((**f).clone()),
        x if x.is_scalar() => vec![scalar_to_string(x)],
        x => return err(format!("frame cannot be built from a {}", x.kind())),
    };
    let rows = match &args[1] {
        None => items.len(),
        some => count(some, "rows")?,
    };
    let cols = match &args[2] {
        None => 1,
        some => count(some, "cols")?,
    };
    let cells = rows
        .checked_mul(cols)
        .filter(|n| *n <= 1 << 31)
        .ok_or_else(|| RtError::new(format!("frame: {rows}x{cols} is too large")))?;
    if items.is_empty() && cells > 0 {
        return err("frame: the data list is empty");
    }
    // One value per cell (row by row), one per column (repeated down the rows) or one in all.
    if matches!(data, Value::List(_)) && items.len() != cells && items.len() != cols && items.len() != 1 {
        return err(format!("frame: {} data values do not fill a {rows}x{cols} frame", items.len()));
    }
    let types = match &args[3] {
        None => vec![ColType::String; cols],
        Some(s) => parse_schema(&string_items(s, "schema")?, cols)?,
    };
    let mut typed = Vec::with_capacity(cols);
    for (c, ty) in types.iter().enumerate() {
        let cells: Vec<Option<String>> =
            (0..rows).map(|r| Some(items[(r * cols + c) % items.len()].clone())).collect();
        typed.push((*ty, column_from_strings(&cells, *ty)?));
    }
    Ok(Frame::from_typed(vec![], typed))
}

fn as_frame(args: &[Option<Value>]) -> RtResult<Frame> {
    let f = match &args[0] {
        Some(Value::Matrix(m)) => frame_ops::from_matrix(m),
        Some(Value::Frame(f)) => (**f).clone(),
        Some(s) if s.is_scalar() => {
            let (ty, col) = match s {
                Value::Int(i) => (ColType::Int64, FrameColumn::Int(vec![*i])),
                Value::Double(d) => (ColType::Fp64, FrameColumn::Double(vec![*d])),
                Value::Bool(b) => (ColType::Boolean, FrameColumn::Bool(vec![*b])),
                other => (ColType::String, FrameColumn::Str(vec![Some(scalar_to_string(other))])),
            };
            Frame::from_typed(vec![], vec![(ty, col)])
        }
        // as.frame(L[i]): a one-element list holding a frame gives that frame (SystemDS).
        Some(Value::List(l)) if matches!(l.items.as_slice(), [Value::Frame(_)]) => match &l.items[0] {
            Value::Frame(f) => (**f).clone(),
            _ => unreachable!("matched a frame"),
        },
        Some(Value::List(l)) => {
            let mut cols = Vec::new();
            for x in &l.items {
                if !x.is_scalar() {
                    return err("as.frame of a list needs scalar elements");
                }
                cols.push(FrameColumn::Str(vec![Some(scalar_to_string(x))]));
            }
            Frame::new(cols)
        }
        Some(x) => return err(format!("as.frame cannot convert a {}", x.kind())),
        None => return err("as.frame needs a value"),
    };
    let mut f = f;
    if let Some(names) = &args[1] {
        let names = string_items(names, "colnames")?;
        if names.len() != f.cols() {
            return err(format!("as.frame: {} column names for {} columns", names.len(), f.cols()));
        }
        f.names = names;
    }
    Ok(f)
}

/// The type a single string value suggests, as SystemDS's schema detection.
fn detect_value(s: &str) -> ColType {
    let t = s.trim();
    if t.eq_ignore_ascii_case("true") || t.eq_ignore_ascii_case("false") || t == "0" || t == "1" {
        return ColType::Boolean;
    }
    if let Ok(i) = t.parse::<i64>() {
        return if i >= i32::MIN as i64 && i <= i32::MAX as i64 { ColType::Int32 } else { ColType::Int64 };
    }
    if io::parse_java_double(t).is_some() {
        let mant = t.split(['e', 'E']).next().unwrap_or(t);
        let digits = mant.chars().filter(|c| c.is_ascii_digit()).count();
        let digits = digits
            - mant.chars().take_while(|c| *c == '0' || *c == '.' || *c == '-').filter(|c| *c == '0').count();
        return if digits <= 7 && !t.contains("NaN") { ColType::Fp32 } else { ColType::Fp64 };
    }
    ColType::String
}

fn rank(t: ColType) -> u8 {
    match t {
        ColType::Boolean => 0,
        ColType::Int32 => 1,
        ColType::Int64 => 2,
        ColType::Fp32 => 3,
        ColType::Fp64 => 4,
        ColType::String => 5,
    }
}

fn detect_schema(f: &Frame) -> Frame {
    let mut cells = Vec::with_capacity(f.cols());
    for c in 0..f.cols() {
        let t = f.col_type(c);
        if t != ColType::String {
            cells.push(t.name().to_string());
            continue;
        }
        let mut best: Option<ColType> = None;
        let mut nulls = false;
        for v in column_strings(f, c) {
            match v.as_deref() {
                None | Some("") => nulls = true,
                Some(s) => {
                    let d = detect_value(s);
                    if best.is_none_or(|b| rank(d) > rank(b)) {
                        best = Some(d);
                    }
                }
            }
        }
        let name = best.unwrap_or(ColType::String).name().to_string();
        cells.push(if nulls { format!("{name}\u{b7}n") } else { name });
    }
    frame_ops::string_row(cells)
}

fn apply_schema(args: &[Option<Value>]) -> RtResult<Frame> {
    let f = frame_arg(&args[0], "applySchema")?;
    let s = args[1].as_ref().ok_or_else(|| RtError::new("applySchema needs a schema"))?;
    let items: Vec<String> =
        string_items(s, "schema")?.into_iter().map(|t| t.trim_end_matches("\u{b7}n").to_string()).collect();
    let types = parse_schema(&items, f.cols())?;
    let mut typed = Vec::with_capacity(f.cols());
    for (c, ty) in types.iter().enumerate() {
        let cells = column_strings(f, c);
        typed.push((*ty, column_from_strings(&cells, *ty)?));
    }
    Ok(Frame::from_typed(f.names.clone(), typed))
}

/// `read(...)` of a frame: with `data_type="frame"`, or a `.mtd` saying so. `None` when the
/// call reads something else.
pub fn read_hook(args: &[Option<Value>]) -> Option<RtResult<Vec<Value>>> {
    let file = text(&args[0], "file").ok()?;
    let dt = match &args[10] {
        None => None,
        some => Some(text(some, "data_type").ok()?.to_ascii_lowercase()),
    };
    let path = Path::new(&file);
    let is_frame = match dt.as_deref() {
        Some("frame") => true,
        None => io::is_frame_file(path),
        _ => false,
    };
    if !is_frame {
        return None;
    }
    Some(read_frame(args, path))
}

fn read_frame(args: &[Option<Value>], path: &Path) -> RtResult<Vec<Value>> {
    let opt_text = |i: usize, what: &str| -> RtResult<Option<String>> {
        match &args[i] {
            None => Ok(None),
            some => text(some, what).map(Some),
        }
    };
    let opt_count = |i: usize, what: &str| -> RtResult<Option<usize>> {
        match &args[i] {
            None => Ok(None),
            Some(v) if v.as_f64().is_some_and(|x| x < 0.0) => Ok(None),
            some => count(some, what).map(Some),
        }
    };
    let opts = io::FrameReadOptions {
        format: opt_text(1, "format")?,
        header: match &args[2] {
            None => None,
            Some(v) => Some(v.as_bool().ok_or_else(|| RtError::new("header must be TRUE or FALSE"))?),
        },
        sep: opt_text(3, "sep")?,
        na_strings: match &args[6] {
            None => vec![],
            Some(v) => string_items(v, "naStrings")?,
        },
        schema: match &args[12] {
            None => None,
            Some(v) => Some(string_items(v, "schema")?.join(",")),
        },
        rows: opt_count(7, "rows")?,
        cols: opt_count(8, "cols")?,
    };
    let f = io::read_frame(path, &opts).map_err(|e| RtError::new(e.to_string()))?;
    Ok(vec![fv(f)])
}

/// `write(F, file, format=, sep=, header=, ...)` of a frame.
pub fn write_frame(args: &[Option<Value>]) -> RtResult<Vec<Value>> {
    let f = frame_arg(&args[0], "write")?;
    let file = text(&args[1], "file")?;
    let format = text(&args[2], "format")?;
    let sep = text(&args[3], "sep")?;
    let header = args[4].as_ref().and_then(|v| v.as_bool()).unwrap_or(false);
    let description = match &args[6] {
        None => None,
        some => Some(text(some, "description")?),
    };
    io::write_frame(f, Path::new(&file), &format, header, &sep, description)
        .map_err(|e| RtError::new(e.to_string()))?;
    Ok(vec![])
}

/// A cell's string (nulls are `None`), for the transforms.
pub(crate) fn cell_string(f: &Frame, r: usize, c: usize) -> Option<String> {
    raw_cell(f, r, c)
}

/// `dropInvalidLength(F, L)`: string cells longer than column `c`'s limit `L[1, c]` become null.
fn drop_invalid_length(args: &[Option<Value>]) -> RtResult<Frame> {
    let f = frame_arg(&args[0], "dropInvalidLength")?;
    let lens = match &args[1] {
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
    Ok(out)
}
