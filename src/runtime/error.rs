//! The run-time error: what every builtin, kernel call and instruction reports, with the place in
//! the script attached by the executor when the failing instruction has one.

use crate::diagnostics::{Diagnostic, Span};
use crate::kernels;

/// A run-time failure, with the place in the script when known.
#[derive(Debug, Clone)]
pub struct RtError {
    pub message: String,
    pub span: Option<Span>,
    /// Raised by `stop()`: the message is the user's own.
    pub stopped: bool,
    pub notes: Vec<String>,
}

impl RtError {
    pub fn new(message: impl Into<String>) -> Self {
        RtError { message: message.into(), span: None, stopped: false, notes: vec![] }
    }

    pub fn at(mut self, span: Span) -> Self {
        if self.span.is_none() {
            self.span = Some(span);
        }
        self
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    pub fn into_diagnostic(self) -> Diagnostic {
        let mut d = Diagnostic::error(self.message.clone());
        if let Some(s) = self.span {
            d = d.with_primary(s, if self.stopped { "stopped here" } else { "" });
        }
        for n in self.notes {
            d = d.with_note(n);
        }
        d
    }
}

impl From<Vec<Diagnostic>> for RtError {
    fn from(d: Vec<Diagnostic>) -> Self {
        let first = d.into_iter().next().unwrap_or_else(|| Diagnostic::error("compilation failed"));
        RtError {
            message: first.message.clone(),
            span: first.primary_span(),
            stopped: false,
            notes: first.notes,
        }
    }
}

impl From<kernels::KernelError> for RtError {
    fn from(e: kernels::KernelError) -> Self {
        RtError::new(e.0)
    }
}

impl From<String> for RtError {
    fn from(e: String) -> Self {
        RtError::new(e)
    }
}

pub type RtResult<T> = Result<T, RtError>;
