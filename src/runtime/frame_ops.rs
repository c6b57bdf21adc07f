//! Operations on frames that the core executor needs: slicing, binding, conversion and printing.

use crate::runtime::exec::{RtError, RtResult};
use crate::runtime::format::{ToStringOpts, format_double};
use crate::runtime::frame::{Frame, FrameColumn};
use crate::runtime::matrix::Matrix;
use crate::runtime::value::Value;
use std::ops::Range;

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
        names: f.names.get(cols.clone()).map(|n| n.to_vec()).unwrap_or_default(),
        columns: f.columns[cols].iter().map(|c| slice_col(c, rows.clone())).collect(),
    }
}

/// The value of one cell as a scalar.
pub fn cell(f: &Frame, r: usize, c: usize) -> Value {
    match &f.columns[c] {
        FrameColumn::Double(v) => Value::Double(v[r]),
        FrameColumn::Int(v) => Value::Int(v[r]),
        FrameColumn::Bool(v) => Value::Bool(v[r]),
        FrameColumn::Str(v) => Value::str(v[r].clone().unwrap_or_default().as_str()),
    }
}

fn cell_text(f: &Frame, r: usize, c: usize) -> String {
    match &f.columns[c] {
        FrameColumn::Double(v) => format_double(v[r]),
        FrameColumn::Int(v) => v[r].to_string(),
        FrameColumn::Bool(v) => if v[r] { "true" } else { "false" }.to_string(),
        FrameColumn::Str(v) => v[r].clone().unwrap_or_else(|| "NULL".into()),
    }
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
                    Some(s) => s.trim().parse::<f64>().map_err(|_| {
                        RtError::new(format!(
                            "as.matrix: the frame cell ({}, {}) \"{s}\" is not a number",
                            r + 1,
                            c + 1
                        ))
                    })?,
                },
            };
        }
    }
    Ok(Matrix::from_vec(rows, cols, data))
}

pub fn to_string(f: &Frame, opts: &ToStringOpts) -> String {
    let mut out = String::new();
    let rows = f.rows().min(opts.rows);
    let cols = f.cols().min(opts.cols);
    for r in 0..rows {
        let cells: Vec<String> = (0..cols).map(|c| cell_text(f, r, c)).collect();
        out.push_str(&cells.join(&opts.sep));
        out.push_str(&opts.linesep);
    }
    out
}

pub fn schema_string(f: &Frame) -> String {
    f.columns.iter().map(|c| c.value_type().to_string().to_uppercase()).collect::<Vec<_>>().join(",")
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
                return Err(RtError::new("cbind of frames needs the same number of rows"));
            }
            out.names.extend(f.names.iter().cloned());
            out.columns.extend(f.columns.iter().cloned());
        } else {
            if f.cols() != out.cols() {
                return Err(RtError::new("rbind of frames needs the same number of columns"));
            }
            for (a, b) in out.columns.iter_mut().zip(&f.columns) {
                match (a, b) {
                    (FrameColumn::Double(x), FrameColumn::Double(y)) => x.extend(y),
                    (FrameColumn::Int(x), FrameColumn::Int(y)) => x.extend(y),
                    (FrameColumn::Bool(x), FrameColumn::Bool(y)) => x.extend(y),
                    (FrameColumn::Str(x), FrameColumn::Str(y)) => x.extend(y.iter().cloned()),
                    _ => return Err(RtError::new("rbind of frames needs the same column types")),
                }
            }
        }
    }
    Ok(Value::Frame(std::sync::Arc::new(out)))
}
