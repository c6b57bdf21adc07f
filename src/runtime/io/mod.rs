//! Reading and writing matrices and scalars in SystemDS's file formats (text, csv, mm, libsvm, binary)
//! with their `.mtd` metadata, so that files move freely between SystemDS and this engine.
//!
//! Writes are atomic (temporary file + rename); reads accept a single file or a directory of part
//! files. Every malformed input is an [`IoError`] naming the file and line and column.

mod atomic;
mod binary;
mod csv;
mod error;
pub mod frame_binary;
mod frame_csv;
mod ijv;
mod libsvm;
pub mod mtd;
pub(crate) mod numfmt;
mod seqfile;
mod source;

use std::path::Path;

pub use atomic::write_atomic;
pub use error::IoError;
pub use frame_csv::{FrameReadOptions, is_frame_file, read_frame, write_frame};
pub use mtd::{Mtd, mtd_path};

use crate::types::matrix::Matrix;

/// Arguments of `read(...)` that shape how a matrix file is parsed; unset ones come from the
/// `.mtd` file, then from SystemDS's defaults.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReadOptions {
    pub format: Option<String>,
    pub header: Option<bool>,
    pub sep: Option<String>,
    pub fill: Option<bool>,
    pub default_value: Option<f64>,
    pub na_strings: Vec<String>,
    pub rows: Option<usize>,
    pub cols: Option<usize>,
}

/// Arguments of `write(...)`.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteOptions {
    pub format: String,
    pub header: bool,
    pub sep: String,
    /// CSV only: leave zero cells empty instead of writing `0`.
    pub sparse: bool,
    pub description: Option<String>,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            format: "text".into(),
            header: false,
            sep: ",".into(),
            sparse: false,
            description: None,
        }
    }
}

/// A scalar as stored in a scalar file; the variant is the `.mtd` value type.
#[derive(Debug, Clone, PartialEq)]
pub enum ScalarValue {
    Double(f64),
    Int(i64),
    Boolean(bool),
    String(String),
}

/// Parses a number as Java's `Double.parseDouble` does for the forms found in data files:
/// decimal and scientific notation, `NaN`, `Infinity` with an optional sign, a `d`/`f` suffix.
pub fn parse_java_double(s: &str) -> Option<f64> {
    let s = s.trim();
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let v = match body {
        "NaN" => f64::NAN,
        "Infinity" => f64::INFINITY,
        _ => {
            let body = body.strip_suffix(['d', 'D', 'f', 'F']).unwrap_or(body);
            // Rust also accepts `inf` and `nan` spellings that Java rejects.
            if !body.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
                return None;
            }
            body.parse::<f64>().ok()?
        }
    };
    Some(if neg { -v } else { v })
}

/// Reads the `.mtd` beside `path` if there is one.
fn sidecar(path: &Path) -> Result<Option<Mtd>, IoError> {
    let m = mtd_path(path);
    if m.is_file() { Mtd::read(&m).map(Some) } else { Ok(None) }
}

/// Combines a read argument with the metadata value; both present and different is an error.
fn merge<T: PartialEq + std::fmt::Debug>(
    path: &Path,
    field: &str,
    arg: Option<T>,
    meta: Option<T>,
) -> Result<Option<T>, IoError> {
    match (arg, meta) {
        (Some(a), Some(m)) if a != m => Err(IoError::meta(
            &mtd_path(path),
            field,
            format!("the read argument {a:?} conflicts with the metadata value {m:?}"),
        )),
        (Some(a), _) => Ok(Some(a)),
        (None, m) => Ok(m),
    }
}

/// Reads a matrix. The format comes from `opts`, else the `.mtd` file, else a `%%` first line
/// means Matrix Market, else text.
pub fn read_matrix(path: &Path, opts: &ReadOptions) -> Result<Matrix, IoError> {
    let meta = sidecar(path)?;
    if let Some(m) = &meta
        && m.data_type != "matrix"
    {
        return Err(IoError::meta(
            &mtd_path(path),
            "data_type",
            format!("expected a matrix, found {}", m.data_type),
        ));
    }
    let binary = match (&opts.format, &meta) {
        (Some(f), _) => f.eq_ignore_ascii_case("binary"),
        (None, Some(m)) => m.format == "binary",
        (None, None) => false,
    };
    if binary {
        return binary::read(path, meta.as_ref(), opts.rows, opts.cols);
    }
    let parts = source::read_parts(path)?;
    if parts.is_empty() {
        return Err(IoError::invalid(path, "the directory holds no part files"));
    }
    let format = match (&opts.format, &meta) {
        (Some(f), _) => f.to_ascii_lowercase(),
        (None, Some(m)) => m.format.clone(),
        (None, None) if parts[0].text.starts_with("%%") => "mm".into(),
        (None, None) => "text".into(),
    };
    let empty = Mtd::default();
    let m = meta.as_ref().unwrap_or(&empty);
    let rows = merge(path, "rows", opts.rows, m.rows)?;
    let cols = merge(path, "cols", opts.cols, m.cols)?;
    let (r, c, matrix) = match format.as_str() {
        "csv" => {
            let sep = merge(path, "sep", opts.sep.clone(), m.sep.clone())?.unwrap_or_else(|| ",".into());
            let na = if opts.na_strings.is_empty() { m.na_strings.clone() } else { opts.na_strings.clone() };
            let o = csv::CsvRead {
                header: merge(path, "header", opts.header, m.header)?.unwrap_or(false),
                sep: &sep,
                fill: merge(path, "fill", opts.fill, m.fill)?.unwrap_or(true),
                default_value: opts.default_value.or(m.default_value).unwrap_or(0.0),
                na_strings: &na,
            };
            let (r, c, data) = csv::read(&parts, &o)?;
            (r, c, Matrix::from_vec(r, c, data).examine_format())
        }
        "text" => {
            let dims = rows.zip(cols);
            let (r, c, cells) = ijv::read_text(&parts, dims)?;
            (r, c, crate::kernels::build::from_cells(r, c, cells))
        }
        "mm" | "matrixmarket" => {
            let (r, c, cells) = ijv::read_mm(&parts)?;
            return Ok(crate::kernels::build::from_cells(r, c, cells));
        }
        "libsvm" => {
            let sep = merge(path, "sep", opts.sep.clone(), m.sep.clone())?.unwrap_or_else(|| ",".into());
            let ind = m.ind_sep.clone().unwrap_or_else(|| ":".into());
            let (r, c, cells) = libsvm::read(&parts, &sep, &ind, cols)?;
            (r, c, crate::kernels::build::from_cells(r, c, cells))
        }
        other => {
            return Err(IoError::meta(
                path,
                "format",
                format!("unsupported matrix format \"{other}\" (expected text, csv, mm, libsvm or binary)"),
            ));
        }
    };
    // The LIBSVM reader appends the label column to the declared features (see `libsvm`).
    let cols = if format == "libsvm" { cols.map(|c| c + 1) } else { cols };
    if rows.is_some_and(|x| x != r) || cols.is_some_and(|x| x != c) {
        return Err(IoError::invalid(
            path,
            format!(
                "the file holds a {r}x{c} matrix but its metadata or read arguments say {}x{}",
                fmt_dim(rows),
                fmt_dim(cols)
            ),
        ));
    }
    Ok(matrix)
}

fn fmt_dim(d: Option<usize>) -> String {
    d.map_or_else(|| "?".into(), |x| x.to_string())
}

/// Writes a matrix and (except for Matrix Market, as SystemDS) its `.mtd` file, both atomically.
pub fn write_matrix(m: &Matrix, path: &Path, opts: &WriteOptions) -> Result<(), IoError> {
    let format = opts.format.to_ascii_lowercase();
    match format.as_str() {
        "text" => atomic::write_atomic_with(path, |w| ijv::write_text(m, w))?,
        "csv" => atomic::write_atomic_with(path, |w| csv::write(m, w, opts.header, &opts.sep, opts.sparse))?,
        "mm" | "matrixmarket" => {
            atomic::write_atomic_with(path, |w| ijv::write_mm(m, w))?;
            // A stale .mtd from an earlier write would make the next read mistake the format.
            let stale = mtd_path(path);
            if stale.is_file() {
                std::fs::remove_file(&stale).map_err(|e| IoError::os(&stale, e))?;
            }
            return Ok(());
        }
        "libsvm" => atomic::write_atomic_with(path, |w| libsvm::write(m, w, &opts.sep))?,
        "binary" => atomic::write_atomic_with(path, |w| binary::write(m, w))?,
        other => {
            return Err(IoError::meta(
                path,
                "format",
                format!("unsupported matrix format \"{other}\" (expected text, csv, mm, libsvm or binary)"),
            ));
        }
    }
    let meta = Mtd {
        rows: Some(m.rows()),
        cols: Some(m.cols()),
        nnz: Some(m.nnz()),
        format: if format == "matrixmarket" { "mm".into() } else { format.clone() },
        description: opts.description.clone(),
        header: (format == "csv").then_some(opts.header),
        sep: (format == "csv").then(|| opts.sep.clone()),
        rows_in_block: (format == "binary").then_some(binary::BLOCK),
        cols_in_block: (format == "binary").then_some(binary::BLOCK),
        ..Mtd::default()
    };
    meta.write_beside(path)
}

/// Writes a scalar file (the value as text, no newline, as SystemDS) and its `.mtd`.
pub fn write_scalar(v: &ScalarValue, path: &Path, description: Option<&str>) -> Result<(), IoError> {
    let (text, vt) = match v {
        ScalarValue::Double(d) => (numfmt::java_double(*d), "double"),
        ScalarValue::Int(i) => (i.to_string(), "int"),
        ScalarValue::Boolean(b) => (b.to_string(), "boolean"),
        ScalarValue::String(s) => (s.clone(), "string"),
    };
    write_atomic(path, text.as_bytes())?;
    let meta = Mtd {
        data_type: "scalar".into(),
        value_type: vt.into(),
        description: description.map(str::to_string),
        ..Mtd::default()
    };
    meta.write_beside(path)
}

/// Reads a scalar file. The value type is `value_type` if given, else the `.mtd`'s, else double.
pub fn read_scalar(path: &Path, value_type: Option<&str>) -> Result<ScalarValue, IoError> {
    let meta = sidecar(path)?;
    if let Some(m) = &meta
        && m.data_type != "scalar"
    {
        return Err(IoError::meta(
            &mtd_path(path),
            "data_type",
            format!("expected a scalar, found {}", m.data_type),
        ));
    }
    let vt = value_type
        .map(str::to_ascii_lowercase)
        .or_else(|| meta.map(|m| m.value_type))
        .unwrap_or_else(|| "double".into());
    let raw = std::fs::read_to_string(path).map_err(|e| IoError::os(path, e))?;
    let t = raw.trim();
    let bad = |what: &str| IoError::parse(path, 1, 1, format!("\"{t}\" is not {what}"));
    Ok(match vt.as_str() {
        "double" | "fp64" | "fp32" => {
            ScalarValue::Double(parse_java_double(t).ok_or_else(|| bad("a number"))?)
        }
        "int" | "int64" | "int32" => ScalarValue::Int(t.parse().map_err(|_| bad("an integer"))?),
        "boolean" => match t.to_ascii_lowercase().as_str() {
            "true" => ScalarValue::Boolean(true),
            "false" => ScalarValue::Boolean(false),
            _ => return Err(bad("TRUE or FALSE")),
        },
        "string" => ScalarValue::String(raw),
        other => {
            return Err(IoError::meta(
                &mtd_path(path),
                "value_type",
                format!("unknown value type \"{other}\""),
            ));
        }
    })
}
