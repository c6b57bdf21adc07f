//! When the REPL has a whole input: lines are gathered while a bracket or a string is open, and
//! a statement that can no longer become valid is handed on (so that its error is shown) instead
//! of swallowing every later line.
//!
//! Rules, in order, for a line that arrives while an input is open:
//! - on a terminal, an empty line ends the open input (like a blank line ends a block in
//!   Python's REPL);
//! - on a terminal, a line typed at the start of the line (not indented) that is a whole
//!   statement by itself, while the innermost open bracket is `(` or `[`, starts a new input: the
//!   open one is handed on to fail (`foo(` then `Y = X + 1`); indent a line to continue instead;
//! - anywhere, when the text so far has a syntax error before its end (not just "unexpected end
//!   of file"), the open input is handed on: without the new line when the error is at the new
//!   line's first token (the new line then starts a fresh input), with it otherwise.
//!
//! A line starting with `:` outside an open input is a command and complete by itself.

use dml::syntax::ast::FileId;

/// The scanner's view of a text: bracket nesting and whether it ends inside a string.
#[derive(Debug, PartialEq, Eq)]
struct Nesting {
    /// The brackets still open, innermost last.
    open: Vec<char>,
    in_string: bool,
}

fn nesting(text: &str) -> Nesting {
    let mut open = Vec::new();
    let mut chars = text.chars().peekable();
    let mut in_str: Option<char> = None;
    while let Some(c) = chars.next() {
        if let Some(q) = in_str {
            if c == '\\' {
                chars.next();
            } else if c == q {
                in_str = None;
            }
            continue;
        }
        match c {
            '"' | '\'' => in_str = Some(c),
            '#' => {
                for n in chars.by_ref() {
                    if n == '\n' {
                        break;
                    }
                }
            }
            '(' | '[' | '{' => open.push(c),
            ')' | ']' | '}' => {
                open.pop();
            }
            _ => {}
        }
    }
    Nesting { open, in_string: in_str.is_some() }
}

/// What a text is as an input.
#[derive(Debug, PartialEq, Eq)]
pub enum State {
    /// Parses (or fails to parse in a way no further line can mend): run it.
    Complete,
    /// A bracket or string is open, or the parser ran out of input (`x = 1 +`, a function
    /// header whose body follows): wait for more lines.
    Open,
    /// A syntax error before the end, at this byte offset.
    Broken(usize),
}

/// The state of `text` (see [`State`]).
pub fn state(text: &str) -> State {
    if nesting(text).in_string {
        return State::Open;
    }
    let Err(diags) = dml::syntax::parse_program(text, FileId(u32::MAX)) else { return State::Complete };
    // A bare expression (`X`, `X[1, ] + 2`) is no statement, but a whole input all the same.
    if dml::session::classify(text) == dml::session::InputKind::Expression {
        return State::Complete;
    }
    let errors: Vec<&dml::diagnostics::Diagnostic> =
        diags.iter().filter(|d| d.severity == dml::diagnostics::Severity::Error).collect();
    let broken = errors
        .iter()
        .filter(|d| d.message != "unexpected end of file")
        .filter_map(|d| d.labels.iter().find(|l| l.primary).map(|l| l.span.start as usize))
        .min();
    match broken {
        Some(at) => State::Broken(at),
        None if errors.is_empty() => State::Complete,
        None => State::Open,
    }
}

/// Whether `line` alone parses as complete statements.
fn is_whole_statement(line: &str) -> bool {
    !line.trim().is_empty() && state(line) == State::Complete
}

/// Gathers lines into inputs.
#[derive(Debug, Default)]
pub struct LineBuffer {
    pending: String,
    /// Whether a person types the lines (the first two rules apply only then).
    interactive: bool,
}

impl LineBuffer {
    pub fn new(interactive: bool) -> Self {
        LineBuffer { pending: String::new(), interactive }
    }

    /// Whether an input is open (the prompt says `...>`).
    pub fn is_continuing(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Drops the open input (Ctrl-C).
    pub fn clear(&mut self) {
        self.pending.clear();
    }

    /// What is left at the end of the input stream.
    pub fn finish(&mut self) -> Option<String> {
        let rest = std::mem::take(&mut self.pending);
        (!rest.trim().is_empty()).then_some(rest)
    }

    /// Adds one line; returns the inputs it completes, in order (possibly a broken one, to be
    /// run so that its error is shown, then the next).
    pub fn push(&mut self, line: &str) -> Vec<String> {
        let mut ready = Vec::new();
        if self.pending.is_empty() {
            if line.trim().is_empty() {
                return ready;
            }
            if line.trim_start().starts_with(':') {
                ready.push(line.to_string());
                return ready;
            }
        } else if self.interactive && line.trim().is_empty() {
            ready.push(std::mem::take(&mut self.pending));
            return ready;
        } else if self.interactive && self.starts_fresh(line) {
            ready.push(std::mem::take(&mut self.pending));
        } else {
            let first_token = self.pending.len() + (line.len() - line.trim_start().len());
            let joined = format!("{}{line}\n", self.pending);
            match state(&joined) {
                // The new line cannot continue the open input: hand that on, start afresh.
                State::Broken(at) if at == first_token => ready.push(std::mem::take(&mut self.pending)),
                State::Broken(_) | State::Complete => {
                    self.pending.clear();
                    ready.push(joined);
                    return ready;
                }
                State::Open => {
                    self.pending = joined;
                    return ready;
                }
            }
        }
        self.pending.push_str(line);
        self.pending.push('\n');
        if state(&self.pending) != State::Open {
            ready.push(std::mem::take(&mut self.pending));
        }
        ready
    }

    /// The second rule: an unindented whole statement while `(` or `[` is innermost.
    fn starts_fresh(&self, line: &str) -> bool {
        let n = nesting(&self.pending);
        !n.in_string
            && matches!(n.open.last(), Some('(') | Some('['))
            && !line.starts_with(char::is_whitespace)
            && is_whole_statement(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(interactive: bool, lines: &[&str]) -> (Vec<String>, Option<String>) {
        let mut b = LineBuffer::new(interactive);
        let mut out = Vec::new();
        for l in lines {
            out.extend(b.push(l));
        }
        (out, b.finish())
    }

    #[test]
    fn brackets_strings_and_comments_decide_completeness() {
        assert_eq!(state("f = function(double a) {\n"), State::Open);
        assert_eq!(state("print(\"a(\""), State::Open);
        assert_eq!(state("print(\"a(\")\n"), State::Complete);
        assert_eq!(state("x = 1 # (\n"), State::Complete);
        assert_eq!(state("X = M[1,\n"), State::Open);
        assert_eq!(state("x = 1 +\n"), State::Open);
        assert_eq!(state("x = 1 +\n2\n"), State::Complete);
        assert_eq!(state("x = (1 2)\n"), State::Broken(7));
        assert_eq!(state("X\n"), State::Complete);
        assert_eq!(state("X[1, ] + 2\n"), State::Complete);
    }

    #[test]
    fn multi_line_statements_are_joined() {
        let (inputs, rest) = feed(
            false,
            &["f = function(double a)", "  return (double b) {", "  b = a * 2", "}", "print(f(2))"],
        );
        assert_eq!(
            inputs,
            vec!["f = function(double a)\n  return (double b) {\n  b = a * 2\n}\n", "print(f(2))\n"]
        );
        assert_eq!(rest, None);
        let (inputs, _) = feed(true, &["X = rand(rows=2,", "  cols=2)"]);
        assert_eq!(inputs, vec!["X = rand(rows=2,\n  cols=2)\n"]);
    }

    #[test]
    fn commands_are_complete_lines() {
        let (inputs, _) = feed(true, &[":explain sum(X", "x = 1"]);
        assert_eq!(inputs, vec![":explain sum(X", "x = 1\n"]);
    }

    #[test]
    fn a_statement_starting_at_an_error_position_starts_a_new_input() {
        // `foo(` cannot be continued by `if`: `foo(` is handed on alone, the `if` runs next.
        let (inputs, _) = feed(false, &["foo(", "if (TRUE) print(1)"]);
        assert_eq!(inputs, vec!["foo(\n", "if (TRUE) print(1)\n"]);
    }

    #[test]
    fn an_error_inside_the_new_line_abandons_both() {
        let (inputs, rest) = feed(false, &["X = rand(rows=2,", "cols=2 seed=3)", "print(1)"]);
        assert_eq!(inputs, vec!["X = rand(rows=2,\ncols=2 seed=3)\n", "print(1)\n"]);
        assert_eq!(rest, None);
    }

    #[test]
    fn on_a_terminal_an_unindented_statement_or_an_empty_line_ends_a_broken_input() {
        let (inputs, _) = feed(true, &["foo(", "Y = 1 + 2"]);
        assert_eq!(inputs, vec!["foo(\n", "Y = 1 + 2\n"]);
        let (inputs, _) = feed(true, &["foo(", "", "Y = 1"]);
        assert_eq!(inputs, vec!["foo(\n", "Y = 1\n"]);
        // Indented, the line continues the call; piped, nothing is guessed.
        let (inputs, _) = feed(true, &["print(", "  toString(1)", ")"]);
        assert_eq!(inputs, vec!["print(\n  toString(1)\n)\n"]);
        let (inputs, rest) = feed(false, &["foo(", "Y = 1 + 2"]);
        assert!(inputs.is_empty());
        assert_eq!(rest.as_deref(), Some("foo(\nY = 1 + 2\n"));
    }

    #[test]
    fn blank_lines_inside_a_piped_function_body_are_kept() {
        let (inputs, _) = feed(false, &["f = function() {", "", "  x = 1", "}"]);
        assert_eq!(inputs, vec!["f = function() {\n\n  x = 1\n}\n"]);
    }
}
