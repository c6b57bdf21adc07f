//! Cell formats: SystemDS text (`i j v`) and Matrix Market coordinate.

use std::io::Write;
use std::path::Path;

use super::numfmt::java_double;
use super::source::{Part, numbered_lines, tokens};
use super::{IoError, parse_java_double};
use crate::kernels::build::for_each_nonzero;
use crate::types::matrix::Matrix;

type Cells = Vec<(usize, usize, f64)>;

/// Parses a 1-based index token that must lie in `1..=bound`.
fn index(
    path: &Path,
    line: usize,
    col: usize,
    tok: &str,
    bound: usize,
    what: &str,
) -> Result<usize, IoError> {
    let i: usize = tok.parse().map_err(|_| {
        IoError::parse(path, line, col, format!("{what} index \"{tok}\" is not a positive integer"))
    })?;
    if i == 0 || i > bound {
        return Err(IoError::parse(path, line, col, format!("{what} index {i} is outside 1..{bound}")));
    }
    Ok(i - 1)
}

fn value(path: &Path, line: usize, col: usize, tok: &str) -> Result<f64, IoError> {
    parse_java_double(tok).ok_or_else(|| IoError::parse(path, line, col, format!("not a number: \"{tok}\"")))
}

/// Reads text cells. Without known dimensions they are the largest indexes seen. The line
/// `0 0 0` marks an empty matrix and is skipped.
pub(crate) fn read_text(
    parts: &[Part],
    dims: Option<(usize, usize)>,
) -> Result<(usize, usize, Cells), IoError> {
    let bound = dims.unwrap_or((usize::MAX, usize::MAX));
    let mut cells = Vec::new();
    let (mut max_r, mut max_c) = (0, 0);
    for part in parts {
        for (ln, line) in numbered_lines(&part.text) {
            let toks: Vec<(usize, &str)> = tokens(line).collect();
            if toks.is_empty() || toks[0].1.starts_with('%') || toks[0].1.starts_with('#') {
                continue;
            }
            if toks.len() != 3 {
                let col = toks.get(3).map_or(line.chars().count() + 1, |t| t.0);
                return Err(IoError::parse(
                    &part.path,
                    ln,
                    col,
                    format!("expected `row col value`, found {} fields", toks.len()),
                ));
            }
            if toks.iter().all(|t| t.1 == "0") {
                continue;
            }
            let r = index(&part.path, ln, toks[0].0, toks[0].1, bound.0, "row")?;
            let c = index(&part.path, ln, toks[1].0, toks[1].1, bound.1, "column")?;
            let v = value(&part.path, ln, toks[2].0, toks[2].1)?;
            max_r = max_r.max(r + 1);
            max_c = max_c.max(c + 1);
            cells.push((r, c, v));
        }
    }
    let (rows, cols) = dims.unwrap_or((max_r, max_c));
    Ok((rows, cols, cells))
}

/// Symmetry of a Matrix Market file, which says how to mirror the listed triangle.
#[derive(Clone, Copy, PartialEq)]
enum Symmetry {
    General,
    Symmetric,
    Skew,
}

/// Reads a Matrix Market coordinate file; its size line gives the dimensions.
pub(crate) fn read_mm(parts: &[Part]) -> Result<(usize, usize, Cells), IoError> {
    let path = &parts[0].path;
    let mut lines = parts.iter().flat_map(|p| numbered_lines(&p.text).map(move |(n, l)| (&p.path, n, l)));
    let Some((_, _, banner)) = lines.next() else {
        return Err(IoError::parse(path, 1, 1, "empty file: expected a %%MatrixMarket header"));
    };
    let words: Vec<String> = banner.split_whitespace().map(str::to_ascii_lowercase).collect();
    if words.first().map(String::as_str) != Some("%%matrixmarket") || words.len() < 5 {
        return Err(IoError::parse(
            path,
            1,
            1,
            "expected `%%MatrixMarket matrix coordinate <field> <symmetry>`",
        ));
    }
    if words[1] != "matrix" || words[2] != "coordinate" {
        return Err(IoError::parse(
            path,
            1,
            1,
            format!(
                "unsupported Matrix Market layout \"{} {}\" (only matrix coordinate)",
                words[1], words[2]
            ),
        ));
    }
    let pattern = match words[3].as_str() {
        "real" | "integer" | "double" => false,
        "pattern" => true,
        other => {
            return Err(IoError::parse(path, 1, 1, format!("unsupported Matrix Market field \"{other}\"")));
        }
    };
    let sym = match words[4].as_str() {
        "general" => Symmetry::General,
        "symmetric" => Symmetry::Symmetric,
        "skew-symmetric" => Symmetry::Skew,
        other => {
            return Err(IoError::parse(
                path,
                1,
                1,
                format!("unsupported Matrix Market symmetry \"{other}\""),
            ));
        }
    };
    let mut dims: Option<(usize, usize)> = None;
    let mut cells = Vec::new();
    for (p, ln, line) in lines {
        let toks: Vec<(usize, &str)> = tokens(line).collect();
        if toks.is_empty() || toks[0].1.starts_with('%') {
            continue;
        }
        let Some((rows, cols)) = dims else {
            if toks.len() != 3 {
                return Err(IoError::parse(p, ln, 1, "expected the size line `rows cols nnz`"));
            }
            let mut n = [0usize; 3];
            for (k, (col, t)) in toks.iter().enumerate() {
                n[k] = t.parse().map_err(|_| {
                    IoError::parse(p, ln, *col, format!("\"{t}\" is not a non-negative integer"))
                })?;
            }
            dims = Some((n[0], n[1]));
            continue;
        };
        let want = if pattern { 2 } else { 3 };
        if toks.len() != want {
            let col = toks.get(want).map_or(line.chars().count() + 1, |t| t.0);
            return Err(IoError::parse(p, ln, col, format!("expected {want} fields, found {}", toks.len())));
        }
        // SystemDS writes `0 0 0` for a matrix without non-zeros.
        if toks.iter().all(|t| t.1 == "0") {
            continue;
        }
        let r = index(p, ln, toks[0].0, toks[0].1, rows, "row")?;
        let c = index(p, ln, toks[1].0, toks[1].1, cols, "column")?;
        let v = if pattern { 1.0 } else { value(p, ln, toks[2].0, toks[2].1)? };
        cells.push((r, c, v));
        if r != c && r < cols && c < rows {
            match sym {
                Symmetry::General => {}
                Symmetry::Symmetric => cells.push((c, r, v)),
                Symmetry::Skew => cells.push((c, r, -v)),
            }
        }
    }
    let Some((rows, cols)) = dims else {
        return Err(IoError::invalid(path, "missing the Matrix Market size line"));
    };
    Ok((rows, cols, cells))
}

/// Writes `i j v` lines for the non-zeros; `0 0 0` alone when there are none (as SystemDS).
pub(crate) fn write_text(m: &Matrix, w: &mut dyn Write) -> std::io::Result<()> {
    write_cells(m, w)
}

/// Writes a Matrix Market `coordinate real general` file.
pub(crate) fn write_mm(m: &Matrix, w: &mut dyn Write) -> std::io::Result<()> {
    writeln!(w, "%%MatrixMarket matrix coordinate real general")?;
    writeln!(w, "{} {} {}", m.rows(), m.cols(), m.nnz())?;
    write_cells(m, w)
}

fn write_cells(m: &Matrix, w: &mut dyn Write) -> std::io::Result<()> {
    let mut any = false;
    let mut res = Ok(());
    for_each_nonzero(m, |r, c, v| {
        any = true;
        if res.is_ok() {
            res = writeln!(w, "{} {} {}", r + 1, c + 1, java_double(v));
        }
    });
    res?;
    if !any {
        writeln!(w, "0 0 0")?;
    }
    Ok(())
}
