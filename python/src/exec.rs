//! Running the engine from Python: without the interpreter lock, with the script's `print` output
//! going to `sys.stdout` line by line, and Ctrl-C stopping it.
//!
//! The run happens on a thread of its own while the calling thread, without the lock, waits for
//! it in short slices; between slices it takes the lock to let Python run its signal handlers
//! (`PyErr_CheckSignals`). A `KeyboardInterrupt` there sets the run's interrupt flag, which the
//! executor checks before every block (each loop iteration, each function body), waits for the
//! run to stop, and is raised.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use dml::runtime::output::{Output, Stream};
use pyo3::prelude::*;

/// How often the waiting thread looks for Ctrl-C.
const SIGNAL_POLL: Duration = Duration::from_millis(50);

/// An [`Output`] that writes each printed line to Python's `sys.stdout` (warnings to
/// `sys.stderr`), so that Jupyter shows them under the cell and pytest's capture sees them.
pub fn python_output() -> Output {
    Output::callback(|stream, line| {
        Python::attach(|py| {
            let (name, text) = match stream {
                Stream::Print => ("stdout", format!("{line}\n")),
                Stream::Warning => ("stderr", format!("warning: {line}\n")),
            };
            let written = py
                .import("sys")
                .and_then(|sys| sys.getattr(name))
                .and_then(|f| f.call_method1("write", (text,)).map(|_| ()));
            if let Err(e) = written {
                // Nowhere to report it but the interpreter's own hook.
                e.write_unraisable(py, None);
            }
        })
    })
}

/// Runs `work` on a thread of its own without the interpreter lock; Ctrl-C sets `interrupt` and,
/// once `work` has returned, is raised as `KeyboardInterrupt`.
pub fn run_detached<T: Send>(
    py: Python<'_>,
    interrupt: &Arc<AtomicBool>,
    work: impl FnOnce() -> T + Send,
) -> PyResult<T> {
    interrupt.store(false, Ordering::Relaxed);
    let (tx, rx) = mpsc::channel::<()>();
    std::thread::scope(|s| {
        let handle = s.spawn(move || {
            let r = work();
            let _ = tx.send(());
            r
        });
        let mut pending: Option<PyErr> = None;
        let mut rx = rx;
        loop {
            let (done, back) = py.detach(move || {
                let done = match rx.recv_timeout(SIGNAL_POLL) {
                    Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => true,
                    Err(mpsc::RecvTimeoutError::Timeout) => false,
                };
                (done, rx)
            });
            rx = back;
            if done {
                break;
            }
            // Later Ctrl-Cs while the run winds down are taken here too (not raised elsewhere).
            if let Err(e) = py.check_signals() {
                interrupt.store(true, Ordering::Relaxed);
                pending.get_or_insert(e);
            }
        }
        let result = py.detach(move || handle.join());
        interrupt.store(false, Ordering::Relaxed);
        match (pending, result) {
            (Some(e), _) => Err(e),
            (None, Ok(r)) => Ok(r),
            (None, Err(_)) => {
                Err(pyo3::exceptions::PyRuntimeError::new_err("internal error: the engine's thread panicked"))
            }
        }
    })
}
