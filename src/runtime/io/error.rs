//! Errors of the file readers and writers. Every malformed input names the file and the line and
//! column (or the metadata field), so a user can find the fault without a debugger.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum IoError {
    /// The operating system refused an operation on `path`.
    #[error("{}: {source}", path.display())]
    Os { path: PathBuf, source: std::io::Error },
    /// A malformed line in a data file; `line` and `col` are 1-based (col counts characters).
    #[error("{}:{line}:{col}: {msg}", path.display())]
    Parse { path: PathBuf, line: usize, col: usize, msg: String },
    /// A bad field in a `.mtd` metadata file (or a read/write option).
    #[error("{}: field \"{field}\": {msg}", path.display())]
    Meta { path: PathBuf, field: String, msg: String },
    /// A file-level problem that has no single line (unknown dimensions, unsupported format).
    #[error("{}: {msg}", path.display())]
    Invalid { path: PathBuf, msg: String },
    /// A problem whose message already names the file and the place in it (the binary frame
    /// reader gives `file: byte N: ...`).
    #[error("{0}")]
    Located(String),
}

impl IoError {
    pub(crate) fn os(path: &Path, source: std::io::Error) -> IoError {
        IoError::Os { path: path.to_path_buf(), source }
    }

    pub(crate) fn parse(path: &Path, line: usize, col: usize, msg: impl Into<String>) -> IoError {
        IoError::Parse { path: path.to_path_buf(), line, col, msg: msg.into() }
    }

    pub(crate) fn meta(path: &Path, field: &str, msg: impl Into<String>) -> IoError {
        IoError::Meta { path: path.to_path_buf(), field: field.into(), msg: msg.into() }
    }

    pub(crate) fn invalid(path: &Path, msg: impl Into<String>) -> IoError {
        IoError::Invalid { path: path.to_path_buf(), msg: msg.into() }
    }
}
