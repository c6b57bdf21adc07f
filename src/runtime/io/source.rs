//! Input files as numbered lines, whether a path is one file or a directory of part files (as
//! SystemDS writes outputs of distributed jobs).

use std::path::{Path, PathBuf};

use super::IoError;

/// One data file's text; parts of a directory come in name order.
pub(crate) struct Part {
    pub path: PathBuf,
    pub text: String,
}

/// Whether a directory entry is a data part (not a hidden, checksum, marker or metadata file).
fn is_part_name(name: &str) -> bool {
    !(name.starts_with('.') || name.starts_with('_') || name.ends_with(".crc") || name.ends_with(".mtd"))
}

/// Reads `path`: the file itself, or every part file of the directory in name order.
pub(crate) fn read_parts(path: &Path) -> Result<Vec<Part>, IoError> {
    part_paths(path)?
        .into_iter()
        .map(|p| {
            let bytes = crate::runtime::progress::read_file(&p).map_err(|e| IoError::os(&p, e))?;
            let text = String::from_utf8(bytes).map_err(|e| {
                let offset = e.utf8_error().valid_up_to();
                let prefix = &e.as_bytes()[..offset];
                let line = prefix.iter().filter(|b| **b == b'\n').count() + 1;
                let col = offset - prefix.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1) + 1;
                IoError::parse(&p, line, col, "the file is not valid UTF-8 text")
            })?;
            Ok(Part { path: p, text })
        })
        .collect()
}

/// The data files of `path`: the file itself, or the part files of the directory in name order.
pub(crate) fn part_paths(path: &Path) -> Result<Vec<PathBuf>, IoError> {
    let meta = std::fs::metadata(path).map_err(|e| IoError::os(path, e))?;
    let files: Vec<PathBuf> = if meta.is_dir() {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(path).map_err(|e| IoError::os(path, e))? {
            let entry = entry.map_err(|e| IoError::os(path, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if is_part_name(&name) && entry.path().is_file() {
                names.push(name);
            }
        }
        names.sort();
        names.into_iter().map(|n| path.join(n)).collect()
    } else {
        vec![path.to_path_buf()]
    };
    Ok(files)
}

/// Lines of a part with their 1-based numbers, without line terminators (`\n` or `\r\n`).
pub(crate) fn numbered_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines().enumerate().map(|(i, l)| (i + 1, l))
}

/// Splits `line` on runs of spaces and tabs, giving each token with its 1-based column.
pub(crate) fn tokens(line: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, ch) in line.char_indices() {
        if ch == ' ' || ch == '\t' {
            if let Some(s) = start.take() {
                out.push((s, &line[s..i]));
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(s) = start {
        out.push((s, &line[s..]));
    }
    out.into_iter().map(move |(s, t)| (line[..s].chars().count() + 1, t))
}
