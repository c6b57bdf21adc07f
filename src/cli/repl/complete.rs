//! Tab completion and hints for the REPL: variable names, builtin names (with their parameter
//! lists as hints), the functions of the session and of each `source`d namespace after `ns::`,
//! file paths inside a string, and the `:` commands. The logic is pure ([`complete`], [`hint`])
//! so that it is tested without a terminal; [`ReplHelper`] plugs it into rustyline.

use dml::session::{Callable, FunctionSig};
use std::borrow::Cow;
use std::path::Path;

/// The commands the REPL knows, for completion after `:`.
pub const COMMANDS: &[&str] =
    &["explain", "help", "load", "quit", "reset", "save", "show", "stats", "time", "type", "vars"];

const KEYWORDS: &[&str] = &["else", "for", "function", "if", "in", "parfor", "return", "source", "while"];

/// Everything a completion can offer.
#[derive(Clone, Debug, Default)]
pub struct Names {
    pub variables: Vec<String>,
    pub callable: Callable,
    /// DML-bodied builtins (`NAME.dml` in `--builtin-path`).
    pub builtin_scripts: Vec<String>,
}

/// The builtins a user may call, with their parameter names (the `_`-prefixed fused operators
/// that rewrites introduce are left out).
fn builtins() -> impl Iterator<Item = &'static dml::builtins::BuiltinSpec> {
    dml::builtins::BUILTINS.iter().filter(|b| !b.name.starts_with('_'))
}

/// A candidate as shown in the list and as put into the line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub display: String,
    pub replacement: String,
}

impl Candidate {
    fn same(s: String) -> Candidate {
        Candidate { display: s.clone(), replacement: s }
    }
}

/// The byte offset where the string literal the cursor is in starts (after its quote), if it is
/// in one.
fn open_string_start(before: &str) -> Option<usize> {
    let mut in_str: Option<(char, usize)> = None;
    let mut chars = before.char_indices();
    while let Some((i, c)) = chars.next() {
        match in_str {
            Some((q, _)) => {
                if c == '\\' {
                    chars.next();
                } else if c == q {
                    in_str = None;
                }
            }
            None if c == '"' || c == '\'' => in_str = Some((c, i + 1)),
            None if c == '#' => return None,
            None => {}
        }
    }
    in_str.map(|(_, start)| start)
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == ':'
}

/// Completes the word before `pos` in `line`: returns where the replaced text starts and the
/// candidates, sorted and without duplicates.
pub fn complete(line: &str, pos: usize, names: &Names) -> (usize, Vec<Candidate>) {
    let before = &line[..pos];
    if let Some(start) = open_string_start(before) {
        return (start, complete_path(&before[start..]));
    }
    if let Some(cmd) = before.strip_prefix(':')
        && !cmd.contains(char::is_whitespace)
    {
        let c = COMMANDS.iter().filter(|c| c.starts_with(cmd)).map(|c| Candidate::same(c.to_string()));
        return (1, c.collect());
    }
    let start = before.rfind(|c: char| !is_word_char(c)).map(|i| i + 1).unwrap_or(0);
    let word = &before[start..];
    let mut out: Vec<Candidate> = Vec::new();
    if let Some((ns, prefix)) = word.split_once("::") {
        if let Some(funcs) = names.callable.namespaces.get(ns) {
            out.extend(
                funcs
                    .iter()
                    .filter(|f| f.name.starts_with(prefix))
                    .map(|f| Candidate::same(format!("{ns}::{}", f.name))),
            );
        }
    } else {
        let fits = |s: &str| s.starts_with(word);
        out.extend(names.variables.iter().filter(|v| fits(v)).map(|v| Candidate::same(v.clone())));
        out.extend(
            names
                .callable
                .functions
                .iter()
                .filter(|f| fits(&f.name))
                .map(|f| Candidate::same(f.name.clone())),
        );
        out.extend(
            names.callable.namespaces.keys().filter(|n| fits(n)).map(|n| Candidate::same(format!("{n}::"))),
        );
        out.extend(builtins().filter(|b| fits(b.name)).map(|b| Candidate::same(b.name.to_string())));
        out.extend(names.builtin_scripts.iter().filter(|n| fits(n)).map(|n| Candidate::same(n.clone())));
        out.extend(KEYWORDS.iter().filter(|k| fits(k)).map(|k| Candidate::same(k.to_string())));
    }
    out.sort_by(|a, b| a.display.cmp(&b.display));
    out.dedup_by(|a, b| a.display == b.display);
    (start, out)
}

/// Paths that start with `partial` (relative to the working directory); folders end with `/`.
/// The replacement is the whole path, the display only the last part.
fn complete_path(partial: &str) -> Vec<Candidate> {
    let (dir, prefix) = match partial.rfind('/') {
        Some(i) => (&partial[..=i], &partial[i + 1..]),
        None => ("", partial),
    };
    let read_from = if dir.is_empty() { Path::new(".") } else { Path::new(dir) };
    let Ok(entries) = std::fs::read_dir(read_from) else { return Vec::new() };
    let mut out: Vec<Candidate> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            if !name.starts_with(prefix) || (name.starts_with('.') && !prefix.starts_with('.')) {
                return None;
            }
            let slash = if e.file_type().is_ok_and(|t| t.is_dir()) { "/" } else { "" };
            Some(Candidate { display: format!("{name}{slash}"), replacement: format!("{dir}{name}{slash}") })
        })
        .collect();
    out.sort_by(|a, b| a.display.cmp(&b.display));
    out
}

/// The parameter list of the call whose `(` is right before the cursor, as a hint to show after
/// it: `rand(` gives `rows, cols, min, max, ...)`.
pub fn hint(line: &str, pos: usize, names: &Names) -> Option<String> {
    if pos != line.len() {
        return None;
    }
    let before = line[..pos].strip_suffix('(')?;
    let start = before.rfind(|c: char| !is_word_char(c)).map(|i| i + 1).unwrap_or(0);
    let name = &before[start..];
    let params: Vec<String> = if let Some((ns, f)) = name.split_once("::") {
        find(names.callable.namespaces.get(ns)?, f)?.params.clone()
    } else if let Some(f) = find(&names.callable.functions, name) {
        f.params.clone()
    } else {
        let spec = dml::builtins::lookup(name)?.spec();
        let mut p: Vec<String> = spec.params.iter().map(|p| p.name.to_string()).collect();
        if spec.variadic {
            p.push("...".into());
        }
        p
    };
    Some(format!("{})", params.join(", ")))
}

fn find<'a>(funcs: &'a [FunctionSig], name: &str) -> Option<&'a FunctionSig> {
    funcs.iter().find(|f| f.name == name)
}

/// rustyline's side: completion, hints shown dimmed, nothing else.
pub struct ReplHelper {
    pub names: Names,
}

/// A hint that is only shown: the right arrow does not insert a parameter list.
pub struct ShownHint(String);

impl rustyline::hint::Hint for ShownHint {
    fn display(&self) -> &str {
        &self.0
    }

    fn completion(&self) -> Option<&str> {
        None
    }
}

impl rustyline::completion::Completer for ReplHelper {
    type Candidate = rustyline::completion::Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _: &rustyline::Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Self::Candidate>)> {
        let (start, c) = complete(line, pos, &self.names);
        Ok((
            start,
            c.into_iter()
                .map(|c| rustyline::completion::Pair { display: c.display, replacement: c.replacement })
                .collect(),
        ))
    }
}

impl rustyline::hint::Hinter for ReplHelper {
    type Hint = ShownHint;

    fn hint(&self, line: &str, pos: usize, _: &rustyline::Context<'_>) -> Option<ShownHint> {
        hint(line, pos, &self.names).map(ShownHint)
    }
}

impl rustyline::highlight::Highlighter for ReplHelper {
    fn highlight_hint<'h>(&self, hint: &'h str) -> Cow<'h, str> {
        Cow::Owned(format!("\x1b[2m{hint}\x1b[0m"))
    }
}

impl rustyline::validate::Validator for ReplHelper {}

impl rustyline::Helper for ReplHelper {}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Names {
        let sig = |n: &str, p: &[&str]| FunctionSig {
            name: n.into(),
            params: p.iter().map(|s| s.to_string()).collect(),
        };
        let mut callable = Callable::default();
        callable.functions.push(sig("square", &["a"]));
        callable
            .namespaces
            .insert("relu".into(), vec![sig("backward", &["dout", "X"]), sig("forward", &["X"])]);
        Names {
            variables: vec!["X".into(), "Xtest".into(), "total".into()],
            callable,
            builtin_scripts: vec!["lmDS".into(), "sqrtScript".into()],
        }
    }

    fn displays(line: &str) -> (usize, Vec<String>) {
        let (start, c) = complete(line, line.len(), &names());
        (start, c.into_iter().map(|c| c.display).collect())
    }

    #[test]
    fn namespace_functions_after_the_double_colon() {
        assert_eq!(
            displays("Y = relu::"),
            (4, vec!["relu::backward".to_string(), "relu::forward".to_string()])
        );
        assert_eq!(displays("relu::f"), (0, vec!["relu::forward".to_string()]));
        assert_eq!(displays("nope::").1, Vec::<String>::new());
    }

    #[test]
    fn variables_functions_namespaces_builtins_and_keywords() {
        assert_eq!(displays("print(X").1, vec!["X", "Xtest"]);
        let (start, t) = displays("y = to");
        assert_eq!(start, 4);
        assert!(t.contains(&"total".to_string()) && t.contains(&"toString".to_string()), "{t:?}");
        assert_eq!(displays("squ").1, vec!["square"]);
        assert!(displays("sq").1.contains(&"sqrt".to_string()));
        assert_eq!(displays("lm").1, vec!["lmDS"], "DML-bodied builtins of --builtin-path");
        assert_eq!(displays("rel").1, vec!["relu::"]);
        assert!(displays("whi").1.contains(&"while".to_string()));
        assert!(!displays("_").1.iter().any(|c| c.starts_with('_')), "fused operators are internal");
    }

    #[test]
    fn commands_after_a_colon() {
        assert_eq!(displays(":ty"), (1, vec!["type".to_string()]));
        assert_eq!(displays(":s").1, vec!["save", "show", "stats"]);
    }

    #[test]
    fn paths_inside_strings() {
        let dir = std::env::temp_dir().join(format!("dml-complete-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("data.csv"), "1").unwrap();
        let base = dir.display().to_string();
        let line = format!("X = read(\"{base}/d");
        let (start, c) = complete(&line, line.len(), &names());
        assert_eq!(start, "X = read(\"".len());
        assert_eq!(
            c,
            vec![Candidate { display: "data.csv".into(), replacement: format!("{base}/data.csv") }]
        );
        let line = format!("source('{base}/s");
        assert_eq!(complete(&line, line.len(), &names()).1[0].replacement, format!("{base}/sub/"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn parameter_hints_after_an_open_parenthesis() {
        let n = names();
        let rand = hint("X = rand(", 9, &n).unwrap();
        assert!(rand.starts_with("rows, cols, "), "{rand}");
        assert_eq!(hint("relu::forward(", 14, &n).as_deref(), Some("X)"));
        assert_eq!(hint("square(", 7, &n).as_deref(), Some("a)"));
        assert_eq!(hint("nothing(", 8, &n), None);
        assert_eq!(hint("sum(X", 5, &n), None);
    }
}
