//! Delimited text (CSV): one dense row a line.

use std::io::Write;
use std::path::Path;

use super::numfmt::java_double;
use super::source::{Part, numbered_lines};
use super::{IoError, parse_java_double};
use crate::kernels::build::dense_row;
use crate::types::matrix::Matrix;

/// Settings that shape how CSV cells are read.
pub(crate) struct CsvRead<'a> {
    pub header: bool,
    pub sep: &'a str,
    pub fill: bool,
    pub default_value: f64,
    pub na_strings: &'a [String],
}

/// Parses CSV parts into a dense row-major buffer; returns `(rows, cols, data)`. Only the first
/// part carries a header line.
pub(crate) fn read(parts: &[Part], o: &CsvRead) -> Result<(usize, usize, Vec<f64>), IoError> {
    if o.sep.is_empty() {
        return Err(IoError::meta(&parts[0].path, "sep", "the separator must not be empty"));
    }
    let mut cols: Option<usize> = None;
    let mut rows = 0usize;
    let mut data = Vec::new();
    for (pi, part) in parts.iter().enumerate() {
        let mut lines = numbered_lines(&part.text).peekable();
        if o.header && pi == 0 {
            lines.next();
        }
        for (ln, line) in lines {
            if line.trim().is_empty() {
                continue;
            }
            let mut n = 0usize;
            let mut byte = 0usize;
            for field in line.split(o.sep) {
                let col = line[..byte].chars().count() + 1;
                byte += field.len() + o.sep.len();
                n += 1;
                data.push(cell(&part.path, ln, col, field, o)?);
            }
            match cols {
                None => cols = Some(n),
                Some(c) if c != n => {
                    return Err(IoError::parse(
                        &part.path,
                        ln,
                        1,
                        format!("expected {c} fields as on the first row, found {n}"),
                    ));
                }
                _ => {}
            }
            rows += 1;
        }
    }
    Ok((rows, cols.unwrap_or(0), data))
}

fn cell(path: &Path, line: usize, col: usize, field: &str, o: &CsvRead) -> Result<f64, IoError> {
    let t = field.trim();
    let t = t.strip_prefix('"').and_then(|x| x.strip_suffix('"')).unwrap_or(t);
    if t.is_empty() {
        return if o.fill {
            Ok(o.default_value)
        } else {
            Err(IoError::parse(path, line, col, "empty field (read with fill=TRUE to allow it)"))
        };
    }
    if o.na_strings.iter().any(|na| na == t) {
        return Ok(f64::NAN);
    }
    parse_java_double(t).ok_or_else(|| IoError::parse(path, line, col, format!("not a number: \"{t}\"")))
}

/// Writes `m` as CSV. Zeros are written as `0`, or left empty when `sparse` (as SystemDS does).
pub(crate) fn write(
    m: &Matrix,
    w: &mut dyn Write,
    header: bool,
    sep: &str,
    sparse: bool,
) -> std::io::Result<()> {
    if header {
        let names: Vec<String> = (1..=m.cols()).map(|c| format!("C{c}")).collect();
        writeln!(w, "{}", names.join(sep))?;
    }
    let mut buf = Vec::new();
    let mut line = String::new();
    for r in 0..m.rows() {
        dense_row(m, r, &mut buf);
        line.clear();
        for (c, v) in buf.iter().enumerate() {
            if c > 0 {
                line.push_str(sep);
            }
            if *v != 0.0 {
                line.push_str(&java_double(*v));
            } else if !sparse {
                line.push('0');
            }
        }
        line.push('\n');
        w.write_all(line.as_bytes())?;
    }
    Ok(())
}
