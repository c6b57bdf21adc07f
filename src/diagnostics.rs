//! Errors that point at the user's code, rendered with codespan-reporting.
//!
//! Every stage (lexer, parser, validator, compiler, runtime) reports problems as [`Diagnostic`]s.
//! A diagnostic holds spans into files registered in a [`SourceMap`]; rendering turns them into
//! the familiar `error: ... --> file.dml:3:7` output with the offending code underlined.

use codespan_reporting::diagnostic::{Diagnostic as CsDiagnostic, Label as CsLabel, LabelStyle};
use codespan_reporting::files::SimpleFiles;
use codespan_reporting::term;
use std::fmt;

/// All source files seen in one run: the main script, sourced files, REPL inputs.
#[derive(Default)]
pub struct SourceMap {
    files: SimpleFiles<String, String>,
}

impl SourceMap {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a file and returns its id; spans into it carry this id.
    pub fn add(&mut self, name: impl Into<String>, source: impl Into<String>) -> FileId {
        FileId(self.files.add(name.into(), source.into()) as u32)
    }

    pub fn name(&self, id: FileId) -> &str {
        self.files.get(id.0 as usize).map(|f| f.name().as_str()).unwrap_or("<unknown>")
    }

    pub fn source(&self, id: FileId) -> &str {
        self.files.get(id.0 as usize).map(|f| f.source().as_str()).unwrap_or("")
    }

    /// 1-based line and column of a byte offset, for messages that are not rendered with snippets.
    pub fn line_col(&self, id: FileId, offset: usize) -> (usize, usize) {
        let src = self.source(id);
        let offset = offset.min(src.len());
        let before = &src[..offset];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map(|s| s.chars().count()).unwrap_or(0) + 1;
        (line, col)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
    Note,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Label {
    pub span: Span,
    pub message: String,
    pub primary: bool,
}

/// One problem in the user's script or data.
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub message: String,
    pub labels: Vec<Label>,
    pub notes: Vec<String>,
}

impl Diagnostic {
    pub fn error(message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Error, message: message.into(), labels: vec![], notes: vec![] }
    }

    pub fn warning(message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Warning, message: message.into(), labels: vec![], notes: vec![] }
    }

    /// Adds the primary label: the place the problem is.
    pub fn with_primary(mut self, span: Span, message: impl Into<String>) -> Self {
        self.labels.push(Label { span, message: message.into(), primary: true });
        self
    }

    /// Adds a secondary label: a related place.
    pub fn with_secondary(mut self, span: Span, message: impl Into<String>) -> Self {
        self.labels.push(Label { span, message: message.into(), primary: false });
        self
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// The span of the primary label, if any.
    pub fn primary_span(&self) -> Option<Span> {
        self.labels.iter().find(|l| l.primary).map(|l| l.span)
    }

    fn to_codespan(&self) -> CsDiagnostic<usize> {
        let d = match self.severity {
            Severity::Error => CsDiagnostic::error(),
            Severity::Warning => CsDiagnostic::warning(),
            Severity::Note => CsDiagnostic::note(),
        };
        let labels = self
            .labels
            .iter()
            .map(|l| {
                let style = if l.primary { LabelStyle::Primary } else { LabelStyle::Secondary };
                CsLabel::new(style, l.span.file.0 as usize, l.span.range()).with_message(l.message.clone())
            })
            .collect();
        d.with_message(self.message.clone()).with_labels(labels).with_notes(self.notes.clone())
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Diagnostic {}

/// Renders diagnostics as plain text (no colour): used for snapshots, the REPL and pipes.
pub fn render_to_string(map: &SourceMap, diags: &[Diagnostic]) -> String {
    let config = term::Config::default();
    let mut out = String::new();
    for d in diags {
        let mut one = String::new();
        match term::emit_to_string(&mut one, &config, &map.files, &d.to_codespan()) {
            Ok(()) => out.push_str(&one),
            Err(_) => {
                out.push_str(&d.message);
                out.push('\n');
            }
        }
    }
    out
}

/// Renders diagnostics to standard error, in colour when it is a terminal.
pub fn emit_to_stderr(map: &SourceMap, diags: &[Diagnostic]) {
    use std::io::{IsTerminal, Write};
    let text = render_to_string(map, diags);
    let stderr = std::io::stderr();
    let mut lock = stderr.lock();
    let _ = lock.write_all(text.as_bytes());
    let _ = lock.flush();
    let _ = std::io::stderr().is_terminal();
}

/// Identifies one source file in a [`SourceMap`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(pub u32);

/// A byte range in one source file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Span {
    pub file: FileId,
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(file: FileId, start: usize, end: usize) -> Self {
        Span { file, start: start as u32, end: end as u32 }
    }

    /// The smallest span that covers both `self` and `other` (same file assumed).
    pub fn to(self, other: Span) -> Span {
        Span { file: self.file, start: self.start.min(other.start), end: self.end.max(other.end) }
    }

    pub fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
}
