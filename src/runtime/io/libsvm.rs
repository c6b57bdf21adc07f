//! LIBSVM: `label idx:val ...` with 1-based feature indexes, fields separated by `,` by default.
//!
//! SystemDS is asymmetric here, and we follow it (checked with sysds 3.4.0): the writer takes the
//! last column as the label and columns `1..n-1` as features, while the reader of a file whose
//! metadata says `n` columns returns `n + 1` columns, features `1..n` and the label last. So a
//! written 3x3 matrix reads back as 3x4.

use std::io::Write;

use super::numfmt::java_double;
use super::source::{Part, numbered_lines};
use super::{IoError, parse_java_double};
use crate::kernels::build::dense_row;
use crate::types::matrix::Matrix;

type Cells = Vec<(usize, usize, f64)>;

/// Splits on `sep`, or on runs of blanks when `sep` is blank; yields `(column, token)`.
fn fields<'a>(line: &'a str, sep: &'a str) -> Vec<(usize, &'a str)> {
    if sep.trim().is_empty() {
        return super::source::tokens(line).collect();
    }
    let mut out = Vec::new();
    let mut byte = 0;
    for f in line.split(sep) {
        let lead = f.len() - f.trim_start().len();
        out.push((line[..byte + lead].chars().count() + 1, f.trim()));
        byte += f.len() + sep.len();
    }
    out
}

/// Reads LIBSVM parts. With `cols` known (from metadata or `read(cols=)`) the result has
/// `cols + 1` columns; otherwise the largest feature index + 1 (SystemDS requires `cols`).
pub(crate) fn read(
    parts: &[Part],
    sep: &str,
    ind_sep: &str,
    cols: Option<usize>,
) -> Result<(usize, usize, Cells), IoError> {
    let mut rows = 0;
    let mut labels = Vec::new();
    let mut cells = Vec::new();
    let mut max_idx = 0usize;
    for part in parts {
        for (ln, line) in numbered_lines(&part.text) {
            if line.trim().is_empty() {
                continue;
            }
            let f = fields(line, sep);
            let (lc, lt) = f[0];
            let label = parse_java_double(lt).ok_or_else(|| {
                IoError::parse(&part.path, ln, lc, format!("label \"{lt}\" is not a number"))
            })?;
            labels.push((rows, label));
            for &(col, tok) in &f[1..] {
                if tok.is_empty() {
                    continue;
                }
                let Some((i, v)) = tok.split_once(ind_sep) else {
                    return Err(IoError::parse(
                        &part.path,
                        ln,
                        col,
                        format!("expected `index{ind_sep}value`, found \"{tok}\""),
                    ));
                };
                let idx: usize = i.trim().parse().ok().filter(|k| *k >= 1).ok_or_else(|| {
                    IoError::parse(
                        &part.path,
                        ln,
                        col,
                        format!("feature index \"{i}\" is not a positive integer"),
                    )
                })?;
                if let Some(c) = cols
                    && idx > c
                {
                    return Err(IoError::parse(
                        &part.path,
                        ln,
                        col,
                        format!("feature index {idx} is outside 1..{c}"),
                    ));
                }
                let val = parse_java_double(v.trim()).ok_or_else(|| {
                    IoError::parse(
                        &part.path,
                        ln,
                        col + i.len() + ind_sep.len(),
                        format!("not a number: \"{v}\""),
                    )
                })?;
                max_idx = max_idx.max(idx);
                cells.push((rows, idx - 1, val));
            }
            rows += 1;
        }
    }
    let cols = cols.map_or(max_idx + 1, |c| c + 1);
    cells.extend(labels.into_iter().map(|(r, v)| (r, cols - 1, v)));
    Ok((rows, cols, cells))
}

/// Writes each row as `label<sep>k:v...` with the last column as the label.
pub(crate) fn write(m: &Matrix, w: &mut dyn Write, sep: &str) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut line = String::new();
    let cols = m.cols();
    for r in 0..m.rows() {
        dense_row(m, r, &mut buf);
        line.clear();
        // SystemDS prints the label with Double.toString even when zero (`0.0`).
        line.push_str(&java_double(buf.last().copied().unwrap_or(0.0)));
        for (c, v) in buf.iter().enumerate().take(cols.saturating_sub(1)) {
            if *v != 0.0 {
                line.push_str(sep);
                line.push_str(&format!("{}:{}", c + 1, java_double(*v)));
            }
        }
        line.push('\n');
        w.write_all(line.as_bytes())?;
    }
    Ok(())
}
