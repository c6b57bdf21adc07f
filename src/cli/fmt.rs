//! `dml fmt`: prints a script in canonical formatting, comments and blank lines kept (see
//! [`dml::syntax::pretty`]); `--check` only says which files would change, `-i` rewrites them.
use super::report;
use dml::diagnostics::SourceMap;
use dml::syntax::format_source;
use std::io::Write;
use std::path::{Path, PathBuf};

/// What `dml fmt` does with the formatted text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Print it to standard output (one file).
    Print,
    /// Name each file whose text differs from it; write nothing.
    Check,
    /// Replace each file that differs, atomically.
    InPlace,
}

/// Formats `files`; returns the exit status: 0 when all went well (and, with `--check`, every
/// file is formatted already), 1 otherwise.
pub fn run(files: &[PathBuf], mode: Mode) -> i32 {
    if mode == Mode::Print && files.len() != 1 {
        eprintln!("error: dml fmt prints one file; use --check or --in-place for several");
        return 1;
    }
    let mut status = 0;
    for path in files {
        if !format_file(path, mode) {
            status = 1;
        }
    }
    status
}

/// Formats one file; false on a read, syntax or write error, or (`--check`) when it would change.
fn format_file(path: &Path, mode: Mode) -> bool {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", path.display());
            return false;
        }
    };
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        // Rewriting would replace the bytes that are not UTF-8, maybe inside a comment.
        Err(_) if mode == Mode::InPlace => {
            eprintln!("error: {} is not valid UTF-8; not rewritten", path.display());
            return false;
        }
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    };
    let mut map = SourceMap::new();
    let file = map.add(path.display().to_string(), text);
    let source = map.source(file);
    let formatted = match format_source(source, file) {
        Ok(formatted) => formatted,
        Err(diags) => {
            report(&map, &diags);
            return false;
        }
    };
    match mode {
        Mode::Print => {
            print!("{formatted}");
            true
        }
        Mode::Check if formatted == source => true,
        Mode::Check => {
            let line = first_difference(source, &formatted);
            println!(
                "{}: not formatted as `dml fmt` prints it (first difference on line {line})",
                path.display()
            );
            false
        }
        Mode::InPlace if formatted == source => true,
        Mode::InPlace => match write_atomically(path, &formatted) {
            Ok(()) => true,
            Err(e) => {
                eprintln!("error: cannot write {}: {e}", path.display());
                false
            }
        },
    }
}

/// The 1-based line of `a` where `b` first differs from it.
fn first_difference(a: &str, b: &str) -> usize {
    let mut a_lines = a.split('\n');
    let mut b_lines = b.split('\n');
    let mut line = 1;
    while let (Some(x), Some(y)) = (a_lines.next(), b_lines.next()) {
        if x != y {
            break;
        }
        line += 1;
    }
    line
}

/// Writes `text` to a temporary file beside `path` and renames it over `path`, so that a reader
/// (or a crash) sees the old file or the new one, never a part. The file keeps its permissions.
fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.dml-fmt-{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        drop(f);
        let permissions = std::fs::metadata(path)?.permissions();
        std::fs::set_permissions(&tmp, permissions)?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
