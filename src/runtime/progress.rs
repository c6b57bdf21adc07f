//! Progress of long-running work on standard error: bytes of a file read or written, `parfor`
//! iterations done. Drawn only where standard error is a terminal (the rule `printProgress`
//! follows; logs and pipes get nothing), and only once the work has taken a second, so that
//! quick reads and loops never flicker a line. The line is cleared when the work ends.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Nothing is drawn before the work has run this long.
const DELAY: Duration = Duration::from_secs(1);
/// At most one redraw per this interval.
const INTERVAL: Duration = Duration::from_millis(100);

/// What is counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Bytes,
    Iterations,
}

/// One piece of work whose progress may be drawn; shared by the threads doing it.
pub struct Progress {
    label: String,
    total: Option<u64>,
    unit: Unit,
    done: AtomicU64,
    start: Instant,
    /// When the line was last drawn (`None`: never); only a terminal gets a `Some` here.
    drawn: Mutex<Option<Instant>>,
    enabled: bool,
}

impl Progress {
    /// Work of `total` units (unknown: `None`) described by `label` (`reading X.csv`).
    pub fn new(label: impl Into<String>, total: Option<u64>, unit: Unit) -> Progress {
        Progress {
            label: label.into(),
            total,
            unit,
            done: AtomicU64::new(0),
            start: Instant::now(),
            drawn: Mutex::new(None),
            enabled: std::io::stderr().is_terminal(),
        }
    }

    /// Counts `n` more units done and redraws when it is time to.
    pub fn add(&self, n: u64) {
        let done = self.done.fetch_add(n, Ordering::Relaxed) + n;
        if !self.enabled {
            return;
        }
        let elapsed = self.start.elapsed();
        if elapsed < DELAY {
            return;
        }
        let Ok(mut drawn) = self.drawn.try_lock() else { return };
        if drawn.is_some_and(|t| t.elapsed() < INTERVAL) {
            return;
        }
        *drawn = Some(Instant::now());
        let mut err = std::io::stderr();
        let _ = write!(err, "\r{}\x1b[K", progress_text(&self.label, done, self.total, self.unit, elapsed));
        let _ = err.flush();
    }

    /// Clears the line if one was drawn.
    pub fn finish(&self) {
        if let Ok(mut drawn) = self.drawn.lock()
            && drawn.take().is_some()
        {
            let mut err = std::io::stderr();
            let _ = write!(err, "\r\x1b[K");
            let _ = err.flush();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

fn amount(n: u64, unit: Unit) -> String {
    match unit {
        Unit::Bytes => crate::hops::explain::format_bytes(n as f64),
        Unit::Iterations => n.to_string(),
    }
}

/// The progress line: `reading X.csv: 1.5 GB of 3.0 GB (50%), 12 s left`, or without a total
/// `writing Y.csv: 700.0 MB`. The time left assumes the rate so far goes on.
pub fn progress_text(label: &str, done: u64, total: Option<u64>, unit: Unit, elapsed: Duration) -> String {
    let suffix = if unit == Unit::Iterations { " iterations" } else { "" };
    match total {
        Some(total) if total > 0 => {
            let frac = (done as f64 / total as f64).min(1.0);
            let left = if done > 0 {
                elapsed.as_secs_f64() * (total.saturating_sub(done)) as f64 / done as f64
            } else {
                0.0
            };
            format!(
                "{label}: {} of {}{suffix} ({:.0}%), {:.0} s left",
                amount(done, unit),
                amount(total, unit),
                frac * 100.0,
                left
            )
        }
        _ => format!("{label}: {}{suffix}", amount(done, unit)),
    }
}

/// Reads a whole file, counting the bytes on a progress line (large files on a terminal).
pub fn read_file(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let progress = Progress::new(format!("reading {}", path.display()), Some(size), Unit::Bytes);
    let mut bytes = Vec::with_capacity(size as usize);
    let mut chunk = vec![0u8; 8 << 20];
    loop {
        let n = match file.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        bytes.extend_from_slice(&chunk[..n]);
        progress.add(n as u64);
    }
    Ok(bytes)
}

/// A writer that counts the bytes passing through it on a progress line (put it under the
/// buffer, so that it sees large writes only).
pub struct CountingWriter<W: Write> {
    inner: W,
    progress: Progress,
}

impl<W: Write> CountingWriter<W> {
    pub fn new(inner: W, label: String) -> Self {
        CountingWriter { inner, progress: Progress::new(label, None, Unit::Bytes) }
    }

    /// The writer underneath (the progress line is cleared).
    pub fn into_inner(self) -> W {
        self.progress.finish();
        self.inner
    }
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.progress.add(n as u64);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_shows_the_fraction_and_the_time_left() {
        let t =
            progress_text("reading X.csv", 512 << 20, Some(2048 << 20), Unit::Bytes, Duration::from_secs(4));
        assert_eq!(t, "reading X.csv: 512.0 MB of 2.0 GB (25%), 12 s left");
        let t = progress_text("parfor", 30, Some(40), Unit::Iterations, Duration::from_secs(3));
        assert_eq!(t, "parfor: 30 of 40 iterations (75%), 1 s left");
        assert_eq!(progress_text("writing Y", 1536, None, Unit::Bytes, Duration::ZERO), "writing Y: 1.5 KB");
    }

    #[test]
    fn reading_through_the_counter_gives_the_file_and_counts_it() {
        let path = std::env::temp_dir().join(format!("dml-progress-{}", std::process::id()));
        std::fs::write(&path, b"1,2\n3,4\n").unwrap();
        assert_eq!(read_file(&path).unwrap(), b"1,2\n3,4\n");
        let mut w = CountingWriter::new(Vec::new(), "writing".into());
        w.write_all(b"abc").unwrap();
        assert_eq!(w.progress.done.load(Ordering::Relaxed), 3);
        assert_eq!(w.into_inner(), b"abc");
        std::fs::remove_file(&path).unwrap();
    }
}
