//! Operations on frames: slicing, binding, left indexing, conversion, cell parsing and printing.

use crate::kernels::format::{ToStringOpts, format_decimal, format_double};
use crate::runtime::error::{RtError, RtResult};
use crate::types::frame::{ColType, Frame, FrameColumn};
use crate::types::matrix::Matrix;
use crate::types::value::Value;
use std::ops::Range;
use std::sync::Arc;

fn slice_col(c: &FrameColumn, rows: Range<usize>) -> FrameColumn {
    match c {
        FrameColumn::Double(v) => FrameColumn::Double(v[rows].to_vec()),
        FrameColumn::Int(v) => FrameColumn::Int(v[rows].to_vec()),
        FrameColumn::Bool(v) => FrameColumn::Bool(v[rows].to_vec()),
        FrameColumn::Str(v) => FrameColumn::Str(v[rows].to_vec()),
    }
}

pub fn slice(f: &Frame, rows: Range<usize>, cols: Range<usize>) -> Frame {
    Frame {
        names: if f.names.is_empty() { vec![] } else { cols.clone().map(|c| f.name(c)).collect() },
        columns: f.columns[cols.clone()].iter().map(|c| slice_col(c, rows.clone())).collect(),
        narrow: if f.narrow.is_empty() { vec![] } else { cols.clone().map(|c| f.is_narrow(c)).collect() },
        impute: if f.impute.is_empty() {
            vec![]
        } else {
            cols.map(|c| f.impute.get(c).cloned().flatten()).collect()
        },
    }
}

/// The value of one cell as a scalar (a null string cell is the empty string). Integer cells
/// come out as doubles, as `as.scalar` gives them in SystemDS 3.4.0.
pub fn cell(f: &Frame, r: usize, c: usize) -> Value {
    match &f.columns[c] {
        FrameColumn::Double(v) => Value::Double(v[r]),
        FrameColumn::Int(v) => Value::Double(v[r] as f64),
        FrameColumn::Bool(v) => Value::Bool(v[r]),
        FrameColumn::Str(v) => Value::str(v[r].clone().unwrap_or_default().as_str()),
    }
}

/// Java `Float.toString` of a value stored as f32: `1.5`, `3.0`, `1.0E10`.
pub fn java_float(v: f64) -> String {
    let f = v as f32;
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity".into() } else { "-Infinity".into() };
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0.0".into() } else { "0.0".into() };
    }
    let sci = format!("{:e}", f.abs());
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mant.chars().filter(|c| *c != '.').collect();
    let sign = if f < 0.0 { "-" } else { "" };
    let abs = f.abs();
    if (1e-3..1e7).contains(&abs) {
        let point = exp + 1;
        let body = if point <= 0 {
            format!("0.{}{}", "0".repeat((-point) as usize), digits)
        } else if (point as usize) >= digits.len() {
            format!("{}{}.0", digits, "0".repeat(point as usize - digits.len()))
        } else {
            let (a, b) = digits.split_at(point as usize);
            format!("{a}.{b}")
        };
        format!("{sign}{body}")
    } else {
        let (first, rest) = digits.split_at(1);
        let rest = if rest.is_empty() { "0" } else { rest };
        format!("{sign}{first}.{rest}E{exp}")
    }
}

/// A cell as `toString` shows it: FP64 with `decimal` digits, FP32 as Java's float string,
/// booleans `TRUE`/`FALSE`, null strings `null`.
fn display_cell(f: &Frame, r: usize, c: usize, decimal: usize) -> String {
    match &f.columns[c] {
        FrameColumn::Double(v) if f.is_narrow(c) => java_float(v[r]),
        FrameColumn::Double(v) => format_decimal(v[r], decimal),
        FrameColumn::Int(v) => v[r].to_string(),
        FrameColumn::Bool(v) => if v[r] { "TRUE" } else { "FALSE" }.to_string(),
        FrameColumn::Str(v) => v[r].clone().unwrap_or_else(|| "null".into()),
    }
}

/// A cell as SystemDS writes it to a file and converts it to a string: doubles as Java's
/// `Double.toString`, booleans `true`/`false`; `None` for a null string.
pub fn raw_cell(f: &Frame, r: usize, c: usize) -> Option<String> {
    Some(match &f.columns[c] {
        FrameColumn::Double(v) if f.is_narrow(c) => java_float(v[r]),
        FrameColumn::Double(v) => format_double(v[r]),
        FrameColumn::Int(v) => v[r].to_string(),
        FrameColumn::Bool(v) => v[r].to_string(),
        FrameColumn::Str(v) => return v[r].clone(),
    })
}

/// Parses `text` as a value of type `ty`; the error says what was expected.
pub fn parse_typed(text: &str, ty: ColType) -> Result<CellValue, String> {
    let t = text.trim();
    match ty {
        ColType::String => Ok(CellValue::Str(Some(text.to_string()))),
        ColType::Fp64 | ColType::Fp32 => crate::runtime::io::parse_java_double(t)
            .map(CellValue::Double)
            .ok_or_else(|| format!("\"{t}\" is not a number ({})", ty.name())),
        ColType::Int64 | ColType::Int32 => match t.parse::<i64>() {
            Ok(i) => Ok(CellValue::Int(i)),
            Err(_) => match crate::runtime::io::parse_java_double(t) {
                Some(d) if d.fract() == 0.0 && d.abs() < 9.2e18 => Ok(CellValue::Int(d as i64)),
                _ => Err(format!("\"{t}\" is not an integer ({})", ty.name())),
            },
        },
        ColType::Boolean => match t.to_ascii_lowercase().as_str() {
            "true" | "t" | "1" => Ok(CellValue::Bool(true)),
            "false" | "f" | "0" => Ok(CellValue::Bool(false)),
            _ => Err(format!("\"{t}\" is not a boolean (BOOLEAN)")),
        },
    }
}

/// One parsed cell value.
#[derive(Clone, Debug, PartialEq)]
pub enum CellValue {
    Double(f64),
    Int(i64),
    Bool(bool),
    Str(Option<String>),
}

/// Column builder: cells appended one by one, nulls stored as the type's zero.
pub struct ColBuilder {
    pub ty: ColType,
    pub col: FrameColumn,
}

impl ColBuilder {
    pub fn new(ty: ColType) -> ColBuilder {
        ColBuilder { ty, col: ty.empty_column(0) }
    }

    pub fn push(&mut self, v: CellValue) {
        match (&mut self.col, v) {
            (FrameColumn::Double(c), CellValue::Double(d)) => c.push(d),
            (FrameColumn::Int(c), CellValue::Int(i)) => c.push(i),
            (FrameColumn::Bool(c), CellValue::Bool(b)) => c.push(b),
            (FrameColumn::Str(c), CellValue::Str(s)) => c.push(s),
            (col, _) => self::push_null(col),
        }
    }

    pub fn push_null(&mut self) {
        push_null(&mut self.col)
    }
}

fn push_null(col: &mut FrameColumn) {
    match col {
        FrameColumn::Double(c) => c.push(0.0),
        FrameColumn::Int(c) => c.push(0),
        FrameColumn::Bool(c) => c.push(false),
        FrameColumn::Str(c) => c.push(None),
    }
}

/// Converts a string cell (`None` = null) to a column type, leniently as the `frame`
/// constructor does: unparsable booleans are false; other unparsable values are errors.
pub fn convert_cell(s: Option<&str>, ty: ColType) -> RtResult<CellValue> {
    match s {
        None => Ok(match ty {
            ColType::String => CellValue::Str(None),
            ColType::Fp64 | ColType::Fp32 => CellValue::Double(0.0),
            ColType::Int64 | ColType::Int32 => CellValue::Int(0),
            ColType::Boolean => CellValue::Bool(false),
        }),
        Some(t) if ty == ColType::Boolean => {
            Ok(CellValue::Bool(t.trim().eq_ignore_ascii_case("true") || t.trim() == "1"))
        }
        Some(t) => parse_typed(t, ty).map_err(RtError::new),
    }
}

/// Builds a column of type `ty` from string cells.
pub fn column_from_strings(cells: &[Option<String>], ty: ColType) -> RtResult<FrameColumn> {
    let mut b = ColBuilder::new(ty);
    for c in cells {
        b.push(convert_cell(c.as_deref(), ty)?);
    }
    Ok(b.col)
}

/// The cells of column `c` as strings (as `raw_cell`).
pub fn column_strings(f: &Frame, c: usize) -> Vec<Option<String>> {
    (0..f.rows()).map(|r| raw_cell(f, r, c)).collect()
}

/// `as.matrix(F)`: every cell must be numeric (strings that parse as numbers are accepted).
pub fn to_matrix(f: &Frame) -> RtResult<Matrix> {
    let (rows, cols) = (f.rows(), f.cols());
    let mut data = vec![0.0; rows * cols];
    for (c, col) in f.columns.iter().enumerate() {
        for r in 0..rows {
            data[r * cols + c] = match col {
                FrameColumn::Double(v) => v[r],
                FrameColumn::Int(v) => v[r] as f64,
                FrameColumn::Bool(v) => v[r] as i64 as f64,
                FrameColumn::Str(v) => match &v[r] {
                    None => f64::NAN,
                    Some(s) => match s.trim() {
                        "TRUE" | "true" => 1.0,
                        "FALSE" | "false" => 0.0,
                        // SystemDS also takes `inf` and `-inf` in any case (not `+inf`).
                        t if t.eq_ignore_ascii_case("inf") => f64::INFINITY,
                        t if t.eq_ignore_ascii_case("-inf") => f64::NEG_INFINITY,
                        t => crate::runtime::io::parse_java_double(t).ok_or_else(|| {
                            RtError::new(format!(
                                "as.matrix: the frame cell ({}, {}) \"{s}\" is not a number",
                                r + 1,
                                c + 1
                            ))
                        })?,
                    },
                },
            };
        }
    }
    Ok(Matrix::from_vec(rows, cols, data))
}

/// `as.frame(X)`: each column gets the narrowest type that holds its values, as SystemDS 3.4.0
/// does (INT32, INT64, FP32, else FP64).
pub fn from_matrix(m: &Matrix) -> Frame {
    let (rows, cols) = (m.rows(), m.cols());
    let mut typed = Vec::with_capacity(cols);
    for c in 0..cols {
        let vals: Vec<f64> = (0..rows).map(|r| m.get(r, c)).collect();
        let integral = vals.iter().all(|v| v.is_finite() && v.fract() == 0.0 && v.abs() < 9.2e18);
        if integral {
            let narrow = vals.iter().all(|v| *v >= i32::MIN as f64 && *v <= i32::MAX as f64);
            let ints = vals.iter().map(|v| *v as i64).collect();
            typed.push((if narrow { ColType::Int32 } else { ColType::Int64 }, FrameColumn::Int(ints)));
        } else {
            // FP32 when the float's shortest digits read back as the same double (1.5, 0.1, 1e-5).
            let narrow = vals.iter().all(|v| v.is_nan() || java_float(*v).parse::<f64>().ok() == Some(*v));
            typed.push((if narrow { ColType::Fp32 } else { ColType::Fp64 }, FrameColumn::Double(vals)));
        }
    }
    Frame::from_typed(vec![], typed)
}

/// `toString(F)` as SystemDS 3.4.0: a `# FRAME` line with the dimensions, a line of column
/// names and one of value types, then the rows.
pub fn to_string(f: &Frame, opts: &ToStringOpts) -> String {
    let mut out = String::new();
    let rows = f.rows().min(opts.rows);
    let cols = f.cols().min(opts.cols);
    out.push_str(&format!("# FRAME: nrow = {}, ncol = {}{}", f.rows(), f.cols(), opts.linesep));
    let names: Vec<String> = (0..cols).map(|c| f.name(c)).collect();
    // The header lines start with `#` and the separator: `# C1 C2`, or `#,C1,C2` with sep=",".
    out.push_str(&format!("#{}{}{}", opts.sep, names.join(&opts.sep), opts.linesep));
    let types: Vec<&str> = (0..cols).map(|c| f.col_type(c).name()).collect();
    out.push_str(&format!("#{}{}{}", opts.sep, types.join(&opts.sep), opts.linesep));
    for r in 0..rows {
        let cells: Vec<String> = (0..cols).map(|c| display_cell(f, r, c, opts.decimal)).collect();
        out.push_str(&cells.join(&opts.sep));
        out.push_str(&opts.linesep);
    }
    out
}

pub fn schema_string(f: &Frame) -> String {
    f.schema().iter().map(|t| t.name()).collect::<Vec<_>>().join(",")
}

/// A 1 x n string frame with the given cells (colnames, typeof, detectSchema).
pub fn string_row(cells: Vec<String>) -> Frame {
    Frame::new(cells.into_iter().map(|s| FrameColumn::Str(vec![Some(s)])).collect())
}

/// `cbind`/`rbind` of frames.
pub fn bind(vals: &[Value], columns: bool) -> RtResult<Value> {
    let mut frames = Vec::new();
    for v in vals {
        match v {
            Value::Frame(f) => frames.push(f.clone()),
            other => return Err(RtError::new(format!("cannot bind a frame and a {}", other.kind()))),
        }
    }
    let mut out = (*frames[0]).clone();
    for f in &frames[1..] {
        if columns {
            if f.rows() != out.rows() {
                return Err(RtError::new(format!(
                    "cbind of frames needs the same number of rows, got {} and {}",
                    out.rows(),
                    f.rows()
                )));
            }
            let n = out.cols();
            if !out.narrow.is_empty() || !f.narrow.is_empty() {
                out.narrow =
                    (0..n).map(|c| out.is_narrow(c)).chain((0..f.cols()).map(|c| f.is_narrow(c))).collect();
            }
            if !out.names.is_empty() || !f.names.is_empty() {
                out.names = (0..n).map(|c| out.name(c)).collect();
                out.names.extend((0..f.cols()).map(|c| f.name(c)));
            }
            out.columns.extend(f.columns.iter().cloned());
        } else {
            if f.cols() != out.cols() {
                return Err(RtError::new(format!(
                    "rbind of frames needs the same number of columns, got {} and {}",
                    out.cols(),
                    f.cols()
                )));
            }
            for (c, (a, b)) in out.columns.iter_mut().zip(&f.columns).enumerate() {
                match (&mut *a, b) {
                    (FrameColumn::Double(x), FrameColumn::Double(y)) => x.extend(y),
                    (FrameColumn::Int(x), FrameColumn::Int(y)) => x.extend(y),
                    (FrameColumn::Bool(x), FrameColumn::Bool(y)) => x.extend(y),
                    (FrameColumn::Str(x), FrameColumn::Str(y)) => x.extend(y.iter().cloned()),
                    (a, _) => {
                        // Mixed types: both become strings.
                        let mut x: Vec<Option<String>> = column_strings(&frames_col(a), 0);
                        x.extend(column_strings(f, c));
                        *a = FrameColumn::Str(x);
                    }
                }
            }
        }
    }
    Ok(Value::Frame(Arc::new(out)))
}

fn frames_col(c: &FrameColumn) -> Frame {
    Frame::new(vec![c.clone()])
}

/// `F[rows, cols] = value`: a frame of the range's shape, or a scalar for every cell.
pub fn left_index(f: &mut Frame, rows: Range<usize>, cols: Range<usize>, value: &Value) -> RtResult<()> {
    match value {
        Value::Frame(src) => {
            if src.rows() != rows.len() || src.cols() != cols.len() {
                return Err(RtError::new(format!(
                    "cannot assign a {}x{} frame into a {}x{} range",
                    src.rows(),
                    src.cols(),
                    rows.len(),
                    cols.len()
                )));
            }
            for (j, c) in cols.enumerate() {
                for (i, r) in rows.clone().enumerate() {
                    set_cell_from(f, r, c, raw_cell(src, i, j).as_deref())?;
                }
            }
            Ok(())
        }
        s if s.is_scalar() => {
            let text = crate::kernels::scalar::scalar_to_string(s);
            for c in cols {
                for r in rows.clone() {
                    set_cell_from(f, r, c, Some(&text))?;
                }
            }
            Ok(())
        }
        other => Err(RtError::new(format!("cannot assign a {} into a frame", other.kind()))),
    }
}

fn set_cell_from(f: &mut Frame, r: usize, c: usize, text: Option<&str>) -> RtResult<()> {
    let ty = f.col_type(c);
    let v = convert_cell(text, ty)?;
    match (&mut f.columns[c], v) {
        (FrameColumn::Double(x), CellValue::Double(d)) => x[r] = d,
        (FrameColumn::Int(x), CellValue::Int(i)) => x[r] = i,
        (FrameColumn::Bool(x), CellValue::Bool(b)) => x[r] = b,
        (FrameColumn::Str(x), CellValue::Str(s)) => x[r] = s,
        _ => return Err(RtError::new("internal: cell type mismatch")),
    }
    Ok(())
}

/// `F1 op F2` for a comparison `op`: a boolean frame of the same shape, as SystemDS's frame-frame
/// relational operators give. Two numeric (or boolean) columns compare as numbers; otherwise the
/// cells compare as strings, a null below every string.
pub fn compare(op: crate::types::ops::BinOp, a: &Frame, b: &Frame) -> RtResult<Frame> {
    use crate::types::ops::BinOp;
    use std::cmp::Ordering;
    if a.rows() != b.rows() || a.cols() != b.cols() {
        return Err(RtError::new(format!(
            "operator {} needs frames of the same shape, but got {}x{} and {}x{}",
            op.name(),
            a.rows(),
            a.cols(),
            b.rows(),
            b.cols()
        )));
    }
    let keep: fn(Ordering) -> bool = match op {
        BinOp::Eq => |o| o == Ordering::Equal,
        BinOp::Ne => |o| o != Ordering::Equal,
        BinOp::Lt => |o| o == Ordering::Less,
        BinOp::Le => |o| o != Ordering::Greater,
        BinOp::Gt => |o| o == Ordering::Greater,
        BinOp::Ge => |o| o != Ordering::Less,
        _ => {
            return Err(RtError::new(format!(
                "operator {} cannot be applied to two frames (only comparisons can)",
                op.name()
            )));
        }
    };
    let number = |c: &FrameColumn, r: usize| match c {
        FrameColumn::Double(v) => Some(v[r]),
        FrameColumn::Int(v) => Some(v[r] as f64),
        FrameColumn::Bool(v) => Some(v[r] as i64 as f64),
        FrameColumn::Str(_) => None,
    };
    let columns = (0..a.cols())
        .map(|c| {
            let cells = (0..a.rows())
                .map(|r| {
                    let ord = match (number(&a.columns[c], r), number(&b.columns[c], r)) {
                        (Some(x), Some(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Less),
                        _ => raw_cell(a, r, c).cmp(&raw_cell(b, r, c)),
                    };
                    keep(ord)
                })
                .collect();
            FrameColumn::Bool(cells)
        })
        .collect();
    Ok(Frame::new(columns))
}

/// `removeEmpty(target=F, margin=...)` of a frame: drops the rows (or columns) whose cells are all
/// empty, or keeps those `select` marks. As in SystemDS, a cell is empty when it is null, zero,
/// false or the string `"0"`; kept columns keep their names.
pub fn remove_empty(f: &Frame, rows_margin: bool, select: Option<&Matrix>) -> RtResult<Frame> {
    let n = if rows_margin { f.rows() } else { f.cols() };
    let keep: Vec<usize> = match select {
        Some(s) => crate::kernels::select::selected(s, n).map_err(|e| RtError::new(e.to_string()))?,
        None => {
            let filled = |c: &FrameColumn, r: usize| match c {
                FrameColumn::Double(v) => v[r] != 0.0,
                FrameColumn::Int(v) => v[r] != 0,
                FrameColumn::Bool(v) => v[r],
                FrameColumn::Str(v) => v[r].as_deref().is_some_and(|s| s != "0"),
            };
            let mut nonempty = vec![false; n];
            for (c, col) in f.columns.iter().enumerate() {
                for r in 0..f.rows() {
                    if filled(col, r) {
                        nonempty[if rows_margin { r } else { c }] = true;
                    }
                }
            }
            (0..n).filter(|i| nonempty[*i]).collect()
        }
    };
    if rows_margin {
        let columns = f
            .columns
            .iter()
            .map(|c| match c {
                FrameColumn::Double(v) => FrameColumn::Double(keep.iter().map(|&r| v[r]).collect()),
                FrameColumn::Int(v) => FrameColumn::Int(keep.iter().map(|&r| v[r]).collect()),
                FrameColumn::Bool(v) => FrameColumn::Bool(keep.iter().map(|&r| v[r]).collect()),
                FrameColumn::Str(v) => FrameColumn::Str(keep.iter().map(|&r| v[r].clone()).collect()),
            })
            .collect();
        Ok(Frame { columns, ..f.clone() })
    } else {
        let pick = |v: &[bool]| if v.is_empty() { vec![] } else { keep.iter().map(|&c| v[c]).collect() };
        Ok(Frame {
            names: if keep.len() == n { f.names.clone() } else { keep.iter().map(|&c| f.name(c)).collect() },
            columns: keep.iter().map(|&c| f.columns[c].clone()).collect(),
            narrow: pick(&f.narrow),
            impute: if f.impute.is_empty() {
                vec![]
            } else {
                keep.iter().map(|&c| f.impute[c].clone()).collect()
            },
        })
    }
}
