//! Where `print` goes: standard output for the command line, a buffer for embedders and tests,
//! or a function of the embedder's (the Python package hands each line to `sys.stdout`).

use std::io::Write;
use std::sync::Mutex;

/// What a line handed to an [`Output::callback`] function is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    /// A line the script printed.
    Print,
    /// A warning (without the `warning: ` prefix).
    Warning,
}

type LineFn = Box<dyn Fn(Stream, &str) + Send + Sync>;

enum Sink {
    Stdout,
    Buffer(String),
    Callback(LineFn),
}

/// The output of a running program. Lines are written whole, so prints from parallel `parfor`
/// workers never interleave within a line.
pub struct Output {
    sink: Mutex<Sink>,
}

impl Output {
    pub fn stdout() -> Self {
        Output { sink: Mutex::new(Sink::Stdout) }
    }

    pub fn buffer() -> Self {
        Output { sink: Mutex::new(Sink::Buffer(String::new())) }
    }

    /// Hands every line (without its newline) to `f` as it is printed, one line at a time.
    pub fn callback(f: impl Fn(Stream, &str) + Send + Sync + 'static) -> Self {
        Output { sink: Mutex::new(Sink::Callback(Box::new(f))) }
    }

    /// Prints one line (a newline is added).
    pub fn print(&self, text: &str) {
        let Ok(mut sink) = self.sink.lock() else { return };
        match &mut *sink {
            Sink::Stdout => {
                let stdout = std::io::stdout();
                let mut lock = stdout.lock();
                let _ = lock.write_all(text.as_bytes());
                let _ = lock.write_all(b"\n");
                let _ = lock.flush();
            }
            Sink::Buffer(b) => {
                b.push_str(text);
                b.push('\n');
            }
            Sink::Callback(f) => f(Stream::Print, text),
        }
    }

    /// A warning: standard error for the command line, the buffer otherwise.
    pub fn warn(&self, text: &str) {
        let Ok(mut sink) = self.sink.lock() else { return };
        match &mut *sink {
            Sink::Stdout => eprintln!("warning: {text}"),
            Sink::Buffer(b) => {
                b.push_str("warning: ");
                b.push_str(text);
                b.push('\n');
            }
            Sink::Callback(f) => f(Stream::Warning, text),
        }
    }

    /// Takes what was printed into a buffer so far.
    pub fn take(&self) -> String {
        match self.sink.lock() {
            Ok(mut sink) => match &mut *sink {
                Sink::Buffer(b) => std::mem::take(b),
                Sink::Stdout | Sink::Callback(_) => String::new(),
            },
            Err(_) => String::new(),
        }
    }
}
