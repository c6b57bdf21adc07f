//! Building frames (`frame`, `as.frame`) and their schemas (`colnames`, `detectSchema`,
//! `applySchema`, `typeof`).

use super::ops::{self, column_from_strings, column_strings};
use super::{frame_out, fv};
use crate::kernels::scalar::scalar_to_string;
use crate::runtime::builtins::{Args, err};
use crate::runtime::error::{RtError, RtResult};
use crate::runtime::io;
use crate::types::frame::{ColType, Frame, FrameColumn};
use crate::types::value::Value;

/// Strings of a list argument (`["a", "b"]`), a string with commas, or a 1-row frame.
pub(crate) fn string_items(v: &Value, what: &str) -> RtResult<Vec<String>> {
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

/// `colnames(F)`: a 1 x n frame of the column names.
pub(super) fn colnames(a: Args) -> RtResult<Vec<Value>> {
    let f = a.frame("target")?;
    frame_out(ops::string_row((0..f.cols()).map(|c| f.name(c)).collect()))
}

/// `typeof(F)`: a 1 x n frame of the column types.
pub fn type_of(f: &Frame) -> Value {
    let cells = f.schema().iter().map(|t| t.name().to_string()).collect();
    fv(ops::string_row(cells))
}

/// `frame(data, rows, cols, schema)`: a scalar fills every cell; a list fills row by row, or
/// with one value per column, repeats it down the rows.
pub(super) fn construct(a: Args) -> RtResult<Vec<Value>> {
    let data = a.value("data")?;
    let items: Vec<String> = match data {
        Value::List(_) => string_items(data, "the data of frame")?,
        Value::Frame(f) => return frame_out((**f).clone()),
        x if x.is_scalar() => vec![scalar_to_string(x)],
        x => return err(format!("frame cannot be built from a {}", x.kind())),
    };
    let rows = a.opt_count("rows")?.unwrap_or(items.len());
    let cols = a.opt_count("cols")?.unwrap_or(1);
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
    let types = match a.get("schema")? {
        None => vec![ColType::String; cols],
        Some(s) => parse_schema(&string_items(s, "schema")?, cols)?,
    };
    let mut typed = Vec::with_capacity(cols);
    for (c, ty) in types.iter().enumerate() {
        let cells: Vec<Option<String>> =
            (0..rows).map(|r| Some(items[(r * cols + c) % items.len()].clone())).collect();
        typed.push((*ty, column_from_strings(&cells, *ty)?));
    }
    frame_out(Frame::from_typed(vec![], typed))
}

/// `as.frame(x, colnames)` of a matrix, a frame, a scalar or a list of scalars.
pub(super) fn as_frame(a: Args) -> RtResult<Vec<Value>> {
    let mut f = match a.value("x")? {
        Value::Matrix(m) => ops::from_matrix(m),
        Value::Frame(f) => (**f).clone(),
        s if s.is_scalar() => {
            let (ty, col) = match s {
                Value::Int(i) => (ColType::Int64, FrameColumn::Int(vec![*i])),
                Value::Double(d) => (ColType::Fp64, FrameColumn::Double(vec![*d])),
                Value::Bool(b) => (ColType::Boolean, FrameColumn::Bool(vec![*b])),
                other => (ColType::String, FrameColumn::Str(vec![Some(scalar_to_string(other))])),
            };
            Frame::from_typed(vec![], vec![(ty, col)])
        }
        Value::List(l) => match l.items.as_slice() {
            // as.frame(L[i]): a one-element list holding a frame gives that frame (SystemDS).
            [Value::Frame(f)] => (**f).clone(),
            items => {
                let mut cols = Vec::new();
                for x in items {
                    if !x.is_scalar() {
                        return err("as.frame of a list needs scalar elements");
                    }
                    cols.push(FrameColumn::Str(vec![Some(scalar_to_string(x))]));
                }
                Frame::new(cols)
            }
        },
        x => return err(format!("as.frame cannot convert a {}", x.kind())),
    };
    if let Some(names) = a.get("colnames")? {
        let names = string_items(names, "colnames")?;
        if names.len() != f.cols() {
            return err(format!("as.frame: {} column names for {} columns", names.len(), f.cols()));
        }
        f.names = names;
    }
    frame_out(f)
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

/// `detectSchema(F)`: a 1 x n frame of the types the values of each string column suggest.
pub(super) fn detect_schema(a: Args) -> RtResult<Vec<Value>> {
    let f = a.frame("target")?;
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
    frame_out(ops::string_row(cells))
}

/// `applySchema(F, schema)`: the columns converted to the schema's types.
pub(super) fn apply_schema(a: Args) -> RtResult<Vec<Value>> {
    let f = a.frame("target")?;
    let s = a.value("schema")?;
    let items: Vec<String> =
        string_items(s, "schema")?.into_iter().map(|t| t.trim_end_matches("\u{b7}n").to_string()).collect();
    let types = parse_schema(&items, f.cols())?;
    let mut typed = Vec::with_capacity(f.cols());
    for (c, ty) in types.iter().enumerate() {
        let cells = column_strings(f, c);
        typed.push((*ty, column_from_strings(&cells, *ty)?));
    }
    frame_out(Frame::from_typed(f.names.clone(), typed))
}
