//! The REPL's `:` commands and the handling of one complete input.

use super::display::{Preview, show};
use dml::diagnostics::render_to_string;
use dml::driver::Failure;
use dml::runtime::output::Output;
use dml::runtime::stats::Stats;
use dml::session::{InputKind, Session, classify, describe_value};
use std::path::Path;
use std::time::Instant;

pub const HELP: &str = "Enter DML statements; variables and functions persist between inputs.
A bare expression shows its value (`X`, `sum(X)`); large matrices and frames show their first
and last rows.
  :show EXPR           the whole value of EXPR
  :type NAME|EXPR      type, shape, non-zeros and format
  :vars                list the variables and their types
  :explain CODE        the optimized HOP DAGs of CODE (statements or an expression), not run
  :explain --dot CODE  the same as a Graphviz DOT graph
  :time CODE           run CODE and print how long it took
  :stats CODE          run CODE and print the --stats table of that input
  :load FILE           run a script file in this session
  :save FILE           write the statements that ran without error as a script
  :reset               forget every variable, function and sourced namespace
  :help                this text
  :quit                leave (also Ctrl-D)
An input goes on over several lines while a bracket or string is open. On a terminal, an empty
line, or a statement typed at the start of a line while `(` or `[` is open, ends a broken input
(its error is shown); indent a line to continue the open call. Ctrl-C drops the open input.
Tab completes names, `ns::` functions of sourced scripts, :commands and paths in strings.";

/// A session and where its output goes.
pub struct Repl {
    pub session: Session,
    pub out: Output,
}

/// The name when `text` is just a variable name (the display's `:show` hint uses it).
fn as_name(text: &str) -> Option<&str> {
    let t = text.trim();
    let mut chars = t.chars();
    (chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_'))
    .then_some(t)
}

impl Repl {
    pub fn new(session: Session, out: Output) -> Self {
        Repl { session, out }
    }

    fn report(&self, f: Failure) {
        let text = match f {
            Failure::Compile(d) => render_to_string(&self.session.map, &d),
            Failure::Runtime(d) => render_to_string(&self.session.map, &[d]),
        };
        eprint!("{text}");
    }

    /// Runs `code` (statements or an expression), shows the value of an expression with
    /// `preview`; false when it failed (the error is shown).
    fn evaluate(&mut self, code: &str, preview: Preview, stats: Option<&Stats>) -> bool {
        match self.session.evaluate_with_stats(code, &self.out, stats) {
            Ok(Some(v)) => {
                print!("{}", show(&v, as_name(code), preview));
                true
            }
            Ok(None) => true,
            Err(f) => {
                self.report(f);
                false
            }
        }
    }

    /// Handles one complete input; returns false to end the session.
    pub fn handle(&mut self, input: &str) -> bool {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return true;
        }
        match trimmed.strip_prefix(':') {
            Some(cmd) => self.command(cmd),
            None => {
                self.evaluate(input, Preview::default(), None);
                true
            }
        }
    }

    fn command(&mut self, cmd: &str) -> bool {
        let (name, rest) = cmd.split_once(char::is_whitespace).unwrap_or((cmd, ""));
        let rest = rest.trim();
        match name {
            "quit" | "q" | "exit" => return false,
            "help" | "h" | "?" => println!("{HELP}"),
            "vars" => {
                for (n, t) in self.session.describe_vars() {
                    println!("{n}: {t}");
                }
            }
            "explain" => {
                let (dot, code) = match rest.strip_prefix("--dot") {
                    Some(code) => (true, code.trim()),
                    None => (false, rest),
                };
                let result = if dot { self.session.explain_dot(code) } else { self.session.explain(code) };
                match result {
                    Ok(text) => print!("{text}"),
                    Err(d) => eprint!("{}", render_to_string(&self.session.map, &d)),
                }
            }
            "show" => {
                self.evaluate(rest, Preview::ALL, None);
            }
            "type" => match self.session.describe_type(rest) {
                Some(t) => println!("{rest}: {t}"),
                None if classify(rest) == InputKind::Statements => {
                    eprintln!("error: :type needs a variable or an expression, got `{rest}`")
                }
                None => match self.session.evaluate(rest, &self.out) {
                    Ok(Some(v)) => println!("{}", describe_value(&v)),
                    Ok(None) => eprintln!("error: `{rest}` has no value"),
                    Err(f) => self.report(f),
                },
            },
            "time" => {
                let start = Instant::now();
                if self.evaluate(rest, Preview::default(), None) {
                    println!("time: {:.3} s", start.elapsed().as_secs_f64());
                }
            }
            "stats" => {
                let stats = Stats::default();
                let start = Instant::now();
                if self.evaluate(rest, Preview::default(), Some(&stats)) {
                    print!("{}", stats.report(start.elapsed(), self.session.last_compile_time()));
                }
            }
            "load" => match std::fs::read_to_string(rest) {
                Ok(src) => {
                    if let Err(f) = self.session.execute(&src, &self.out) {
                        self.report(f);
                    }
                }
                Err(e) => eprintln!("error: cannot read `{rest}`: {e}"),
            },
            "save" => {
                if rest.is_empty() {
                    eprintln!("error: :save needs a file name");
                } else {
                    match write_atomically(Path::new(rest), &self.session.script()) {
                        Ok(()) => println!("saved {rest}"),
                        Err(e) => eprintln!("error: cannot write `{rest}`: {e}"),
                    }
                }
            }
            "reset" => {
                self.session.reset();
                println!("session reset");
            }
            other => eprintln!("error: unknown command :{other} (try :help)"),
        }
        true
    }
}

/// Writes `text` to a temporary file beside `path`, then renames it over `path`, so that a
/// failure never leaves a half-written script.
pub fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let file_name = path.file_name().ok_or_else(|| std::io::Error::other("not a file name"))?;
    let tmp = dir.join(format!(".{}.{}.tmp", file_name.to_string_lossy(), std::process::id()));
    let written = std::fs::write(&tmp, text).and_then(|_| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_recognised() {
        assert_eq!(as_name(" X\n"), Some("X"));
        assert_eq!(as_name("X_2"), Some("X_2"));
        assert_eq!(as_name("X + 1"), None);
        assert_eq!(as_name("sum(X)"), None);
    }

    #[test]
    fn an_atomic_write_replaces_the_file_and_leaves_no_temporary() {
        let dir = std::env::temp_dir().join(format!("dml-save-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("s.dml");
        std::fs::write(&file, "old").unwrap();
        write_atomically(&file, "x = 1\n").unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "x = 1\n");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        assert!(write_atomically(&dir.join("missing/s.dml"), "x").is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
