//! `read` (with its aliases `readMM` and `read.csv`) and `write`, of matrices, frames and
//! scalars.

use super::{Args, BuiltinFn::Plain, Impl, err, one};
use crate::runtime::error::{RtError, RtResult};
use crate::runtime::io;
use crate::types::value::Value;
use std::path::Path;

pub(super) const IMPLS: &[Impl] = &[
    ("read", Plain(|a| read(a, None))),
    ("readMM", Plain(|a| read(a, Some("mm")))),
    ("read.csv", Plain(|a| read(a, Some("csv")))),
    ("write", Plain(write)),
];

fn io_error(e: impl std::fmt::Display) -> RtError {
    RtError::new(e.to_string())
}

/// `read(file, format=, header=, sep=, ..., data_type=, value_type=, schema=)`: a matrix, a
/// frame (with `data_type="frame"` or a `.mtd` saying so) or a scalar; `format` defaults to
/// `default_format` when the builtin's name implies one (`readMM`, `read.csv`).
fn read(a: Args, default_format: Option<&str>) -> RtResult<Vec<Value>> {
    let file = a.text("file")?;
    let path = Path::new(&*file);
    let format = a.opt_text("format")?.map(|f| f.into_owned()).or(default_format.map(str::to_string));
    let data_type = a.opt_text("data_type")?;
    let is_frame = match data_type.as_deref().map(str::to_ascii_lowercase).as_deref() {
        Some("frame") => true,
        None => io::is_frame_file(path),
        _ => false,
    };
    if is_frame {
        return read_frame(&a, path, format);
    }
    let opts = io::ReadOptions {
        format,
        header: a.opt_flag("header")?,
        sep: a.opt_text("sep")?.map(|s| s.into_owned()),
        fill: a.opt_flag("fill")?,
        default_value: a.opt_num("default")?,
        na_strings: match a.opt_text("naStrings")? {
            Some(s) => s.split(',').map(|t| t.to_string()).collect(),
            None => vec![],
        },
        rows: a.opt_num("rows")?.map(|v| v as usize),
        cols: a.opt_num("cols")?.map(|v| v as usize),
    };
    if data_type.as_deref() == Some("scalar") {
        let vt = a.opt_text("value_type")?;
        let sv = io::read_scalar(path, vt.as_deref()).map_err(io_error)?;
        return one(match sv {
            io::ScalarValue::Double(d) => Value::Double(d),
            io::ScalarValue::Int(i) => Value::Int(i),
            io::ScalarValue::Boolean(b) => Value::Bool(b),
            io::ScalarValue::String(t) => Value::str(t.as_str()),
        });
    }
    one(Value::matrix(io::read_matrix(path, &opts).map_err(io_error)?))
}

fn read_frame(a: &Args, path: &Path, format: Option<String>) -> RtResult<Vec<Value>> {
    // A negative size is SystemDS's "unknown".
    let size = |param: &str| -> RtResult<Option<usize>> {
        match a.get(param)? {
            Some(v) if v.as_f64().is_some_and(|x| x < 0.0) => Ok(None),
            _ => a.opt_count(param),
        }
    };
    let items = |param: &str| -> RtResult<Option<Vec<String>>> {
        a.get(param)?.map(|v| super::frame::string_items(v, param)).transpose()
    };
    let opts = io::FrameReadOptions {
        format,
        header: a.opt_flag("header")?,
        sep: a.opt_text("sep")?.map(|s| s.into_owned()),
        na_strings: items("naStrings")?.unwrap_or_default(),
        schema: items("schema")?.map(|s| s.join(",")),
        rows: size("rows")?,
        cols: size("cols")?,
    };
    let f = io::read_frame(path, &opts).map_err(io_error)?;
    one(Value::Frame(std::sync::Arc::new(f)))
}

/// `write(x, file, format=, sep=, header=, sparse=, description=, ...)` of a matrix, a frame or
/// a scalar.
fn write(a: Args) -> RtResult<Vec<Value>> {
    let value = a.value("x")?;
    let file = a.text("file")?;
    let path = Path::new(&*file);
    let format = a.text("format")?;
    let sep = a.text("sep")?;
    if let Value::Frame(f) = value {
        let header = a.get("header")?.and_then(Value::as_bool).unwrap_or(false);
        let description = a.opt_text("description")?.map(|d| d.into_owned());
        io::write_frame(f, path, &format, header, &sep, description).map_err(io_error)?;
        return Ok(vec![]);
    }
    let opts = io::WriteOptions {
        format: format.into_owned(),
        sep: sep.into_owned(),
        header: a.flag("header")?,
        sparse: a.flag("sparse")?,
        description: a.opt_text("description")?.map(|d| d.into_owned()),
    };
    match value {
        Value::Matrix(x) => io::write_matrix(x, path, &opts).map_err(io_error)?,
        s if s.is_scalar() => {
            let sv = match s {
                Value::Int(i) => io::ScalarValue::Int(*i),
                Value::Bool(b) => io::ScalarValue::Boolean(*b),
                Value::Str(t) => io::ScalarValue::String(t.to_string()),
                other => io::ScalarValue::Double(other.as_f64().unwrap_or(f64::NAN)),
            };
            io::write_scalar(&sv, path, opts.description.as_deref()).map_err(io_error)?
        }
        other => return err(format!("write of a {} is not supported yet", other.kind())),
    }
    Ok(vec![])
}
