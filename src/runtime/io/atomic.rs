//! Atomic file replacement: a reader (or a crash) never sees a half-written output.
//!
//! The data goes to a uniquely named temporary file in the destination's directory, which is then
//! renamed over the destination; a rename within one file system is atomic on POSIX. On any
//! failure the temporary file is removed.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::IoError;

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A temporary sibling of `dest`: hidden, and unique within this process and across processes.
fn temp_sibling(dest: &Path) -> PathBuf {
    let name = dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp = format!(".{name}.{}.{n}.tmp", std::process::id());
    match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.join(tmp),
        _ => PathBuf::from(tmp),
    }
}

/// Writes `bytes` to `dest` atomically.
pub fn write_atomic(dest: &Path, bytes: &[u8]) -> Result<(), IoError> {
    write_atomic_with(dest, |w| w.write_all(bytes))
}

/// Streams content produced by `fill` into `dest` atomically.
pub fn write_atomic_with(
    dest: &Path,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), IoError> {
    if dest.is_dir() {
        return Err(IoError::invalid(dest, "cannot write a file over an existing directory"));
    }
    let tmp = temp_sibling(dest);
    let result = (|| {
        // As SystemDS (Hadoop's file system) does, a missing parent folder is created.
        if let Some(parent) = dest.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        let file = std::fs::File::create(&tmp)?;
        // Bytes written show on a terminal when the write takes long (runtime::progress).
        let file = crate::runtime::progress::CountingWriter::new(file, format!("writing {}", dest.display()));
        let mut w = std::io::BufWriter::new(file);
        fill(&mut w)?;
        let file = w.into_inner().map_err(|e| e.into_error())?.into_inner();
        file.sync_all()?;
        std::fs::rename(&tmp, dest)
    })();
    match result {
        Ok(()) => Ok(()),
        Err(e) => {
            // The temporary file may not exist (create failed); nothing else to clean up.
            let _ = std::fs::remove_file(&tmp);
            Err(IoError::os(dest, e))
        }
    }
}
