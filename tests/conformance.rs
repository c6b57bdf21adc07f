//! Data-driven conformance suite: runs every `tests/conformance/**/NAME.dml` with `dml run` and
//! compares what it prints with the expected output recorded from Apache SystemDS 3.4.0.
//!
//! Conventions (see `tests/conformance/README.md` for the full text):
//! - `NAME.out`: expected stdout. Lines are compared after trimming trailing whitespace; tokens that
//!   are numbers on both sides compare with a relative tolerance of 1e-9 (absolute 1e-12 near zero),
//!   but an int-looking token (`3`) never equals a double-looking one (`3.0`). A script containing
//!   the comment line `# conformance: exact` is compared exactly instead (no numeric tolerance).
//! - `NAME.args` (optional): arguments after the file name, whitespace separated. The token part
//!   `$TMP` is replaced by a fresh, empty per-case temporary directory (for cases that write files).
//! - `NAME.err` (optional): first line `exit N`; each further line a substring stderr must contain.
//!   Without it the case must exit with status 0.
//! - `DML_BLESS=1`: rewrite `NAME.out` from our stdout (never `.err`).
//! - `tests/conformance/PENDING`: cases expected to fail for now; they are reported as ignored and a
//!   note `now passes, remove from PENDING: NAME` is printed when one passes anyway.
//! - `DML_BIN=/path/to/engine`: run that executable instead of the `dml` built by cargo.
//! - Directories named `data` and files named `*.inc.dml` are not cases (inputs and sourced helpers).

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use libtest_mimic::{Arguments, Completion, Failed, Trial};

const TIMEOUT: Duration = Duration::from_secs(60);
const REL_TOL: f64 = 1e-9;
const ABS_TOL: f64 = 1e-12;
const EXACT_MARKER: &str = "# conformance: exact";

static NOTES: Mutex<Vec<String>> = Mutex::new(Vec::new());
static TMP_COUNTER: AtomicUsize = AtomicUsize::new(0);

fn main() {
    let args = Arguments::from_args();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("conformance");
    let pending = read_pending(&root);
    let mut cases = Vec::new();
    collect_cases(&root, &mut cases);
    cases.sort();

    let mut known = BTreeSet::new();
    let mut trials = Vec::new();
    for script in cases {
        let name = case_name(&root, &script);
        known.insert(name.clone());
        let is_pending = pending.contains(&name);
        let case_name = name.clone();
        trials.push(Trial::ignorable_test(name, move || run_trial(&case_name, &script, is_pending)));
    }
    for p in &pending {
        if !known.contains(p) {
            eprintln!("warning: PENDING lists {p}, which is not a case");
        }
    }

    let conclusion = libtest_mimic::run(&args, trials);
    let notes = NOTES.lock().unwrap();
    if !notes.is_empty() {
        eprintln!();
        for n in notes.iter() {
            eprintln!("{n}");
        }
    }
    conclusion.exit();
}

/// Case name: the script path relative to `tests/conformance`, without `.dml`, with `/` separators.
fn case_name(root: &Path, script: &Path) -> String {
    let rel = script.strip_prefix(root).unwrap().with_extension("");
    rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect::<Vec<_>>().join("/")
}

fn read_pending(root: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(root.join("PENDING")).unwrap_or_default();
    text.lines()
        .map(|l| l.split('#').next().unwrap().trim())
        .filter(|l| !l.is_empty())
        .map(|l| l.trim_end_matches(".dml").to_string())
        .collect()
}

fn collect_cases(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let file_name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            if file_name != "data" {
                collect_cases(&path, out);
            }
        } else if file_name.ends_with(".dml") && !file_name.ends_with(".inc.dml") {
            out.push(path);
        }
    }
}

fn run_trial(name: &str, script: &Path, pending: bool) -> Result<Completion, Failed> {
    let result = check_case(script);
    match (pending, result) {
        (false, Ok(())) => Ok(Completion::Completed),
        (false, Err(msg)) => Err(msg.into()),
        (true, Ok(())) => {
            let note = format!("now passes, remove from PENDING: {name}");
            NOTES.lock().unwrap().push(note.clone());
            Ok(Completion::ignored_with(note))
        }
        (true, Err(_)) => Ok(Completion::ignored_with("pending")),
    }
}

struct TempDir(PathBuf);

impl TempDir {
    fn new() -> std::io::Result<Self> {
        let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("dml-conformance-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path)?;
        Ok(TempDir(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct RunOutput {
    status: Option<i32>,
    stdout: String,
    stderr: String,
}

fn check_case(script: &Path) -> Result<(), String> {
    let dir = script.parent().unwrap();
    let file_name = script.file_name().unwrap().to_string_lossy().into_owned();
    let out_path = script.with_extension("out");
    let args_path = script.with_extension("args");
    let err_path = script.with_extension("err");

    let tmp = TempDir::new().map_err(|e| format!("cannot create temp dir: {e}"))?;
    let tmp_str = tmp.0.to_string_lossy().into_owned();
    let extra: Vec<String> = match std::fs::read_to_string(&args_path) {
        Ok(text) => text.split_whitespace().map(|a| a.replace("$TMP", &tmp_str)).collect(),
        Err(_) => Vec::new(),
    };
    let source = std::fs::read_to_string(script).map_err(|e| format!("cannot read {file_name}: {e}"))?;
    let exact = source.lines().any(|l| l.trim_end() == EXACT_MARKER);

    let bin = std::env::var_os("DML_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_dml").into());
    let mut cmd = Command::new(bin);
    cmd.arg("run").arg(&file_name).args(&extra).current_dir(dir).env("DML_TEST_TMP", &tmp.0);
    // Every rewrite must keep the type and shape of the node it replaces (src/rewrite/mod.rs).
    cmd.env("DML_CHECK_REWRITES", "1");
    let run = run_with_timeout(cmd, TIMEOUT)?;

    let bless = std::env::var_os("DML_BLESS").is_some_and(|v| !v.is_empty() && v != "0");
    let mut problems = String::new();

    // Exit status and stderr.
    let (want_status, want_stderr) = match std::fs::read_to_string(&err_path) {
        Ok(text) => parse_err_file(&text).map_err(|e| format!("{}: {e}", err_path.display()))?,
        Err(_) => (0, Vec::new()),
    };
    match run.status {
        Some(s) if s == want_status => {}
        Some(s) => {
            let _ = writeln!(problems, "exit status {s}, expected {want_status}");
        }
        None => {
            let _ = writeln!(problems, "killed by a signal, expected exit status {want_status}");
        }
    }
    for needle in &want_stderr {
        if !run.stderr.contains(needle.as_str()) {
            let _ = writeln!(problems, "stderr does not contain {needle:?}");
        }
    }

    // Stdout.
    if bless {
        std::fs::write(&out_path, &run.stdout)
            .map_err(|e| format!("cannot bless {}: {e}", out_path.display()))?;
    } else {
        let expected = std::fs::read_to_string(&out_path)
            .map_err(|e| format!("cannot read {}: {e}", out_path.display()))?;
        if let Some(diff) = compare_output(&expected, &run.stdout, exact) {
            problems.push_str(&diff);
        }
    }

    if problems.is_empty() {
        Ok(())
    } else {
        let mut msg = format!("case {} failed:\n{problems}", script.display());
        if !run.stderr.trim().is_empty() {
            let _ = write!(msg, "--- stderr ---\n{}", truncate(&run.stderr, 4000));
        }
        Err(msg)
    }
}

fn parse_err_file(text: &str) -> Result<(i32, Vec<String>), String> {
    let mut lines = text.lines();
    let first = lines.next().unwrap_or("").trim();
    let status = first
        .strip_prefix("exit")
        .and_then(|s| s.trim().parse::<i32>().ok())
        .ok_or_else(|| format!("first line must be `exit N`, found {first:?}"))?;
    let needles = lines.map(|l| l.trim_end().to_string()).filter(|l| !l.is_empty()).collect();
    Ok((status, needles))
}

fn run_with_timeout(mut cmd: Command, timeout: Duration) -> Result<RunOutput, String> {
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| format!("cannot start {:?}: {e}", cmd.get_program()))?;
    let mut out_pipe = child.stdout.take().unwrap();
    let mut err_pipe = child.stderr.take().unwrap();
    let out_thread = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = out_pipe.read_to_end(&mut buf);
        buf
    });
    let err_thread = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = err_pipe.read_to_end(&mut buf);
        buf
    });
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() > timeout => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("timed out after {} s (killed)", timeout.as_secs()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(format!("wait failed: {e}")),
        }
    };
    let stdout = String::from_utf8_lossy(&out_thread.join().unwrap_or_default()).into_owned();
    let stderr = String::from_utf8_lossy(&err_thread.join().unwrap_or_default()).into_owned();
    Ok(RunOutput { status: status.code(), stdout, stderr })
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Compares expected and actual stdout; returns a readable diff when they differ.
fn compare_output(expected: &str, actual: &str, exact: bool) -> Option<String> {
    let exp: Vec<&str> = trim_trailing_empty(expected.lines().map(str::trim_end).collect());
    let act: Vec<&str> = trim_trailing_empty(actual.lines().map(str::trim_end).collect());
    let n = exp.len().max(act.len());
    let mut first_bad = None;
    for i in 0..n {
        let ok = match (exp.get(i), act.get(i)) {
            (Some(e), Some(a)) => lines_match(e, a, exact),
            _ => false,
        };
        if !ok {
            first_bad = Some(i);
            break;
        }
    }
    let first = first_bad?;
    let mut msg = String::new();
    let _ = writeln!(
        msg,
        "stdout differs from line {} (expected {} lines, got {}){}:",
        first + 1,
        exp.len(),
        act.len(),
        if exact { " [exact]" } else { "" }
    );
    let from = first.saturating_sub(3);
    let to = (first + 12).min(n);
    for i in from..to {
        match (exp.get(i), act.get(i)) {
            (Some(e), Some(a)) if lines_match(e, a, exact) => {
                let _ = writeln!(msg, "   {:>4} | {e}", i + 1);
            }
            (e, a) => {
                if let Some(e) = e {
                    let _ = writeln!(msg, "-  {:>4} | {e}", i + 1);
                }
                if let Some(a) = a {
                    let _ = writeln!(msg, "+  {:>4} | {a}", i + 1);
                }
            }
        }
    }
    if to < n {
        let _ = writeln!(msg, "   ... ({} more lines)", n - to);
    }
    let _ = writeln!(msg, "(- expected, + actual)");
    Some(msg)
}

fn trim_trailing_empty(mut v: Vec<&str>) -> Vec<&str> {
    while v.last().is_some_and(|l| l.is_empty()) {
        v.pop();
    }
    v
}

fn lines_match(expected: &str, actual: &str, exact: bool) -> bool {
    if expected == actual {
        return true;
    }
    if exact {
        return false;
    }
    let e = tokenize(expected);
    let a = tokenize(actual);
    e.len() == a.len() && e.iter().zip(&a).all(|(x, y)| tokens_match(x, y))
}

/// Splits a line into tokens and separators, keeping both: runs of word characters, runs of
/// whitespace, and each of `,;:=()[]{}` on its own.
fn tokenize(line: &str) -> Vec<&str> {
    #[derive(PartialEq, Clone, Copy)]
    enum Class {
        Word,
        Space,
        Punct,
    }
    let class = |c: char| {
        if c.is_whitespace() {
            Class::Space
        } else if ",;:=()[]{}".contains(c) {
            Class::Punct
        } else {
            Class::Word
        }
    };
    let mut out = Vec::new();
    let mut start = 0;
    let mut prev: Option<Class> = None;
    for (i, c) in line.char_indices() {
        let cur = class(c);
        if let Some(p) = prev
            && (p != cur || cur == Class::Punct)
        {
            out.push(&line[start..i]);
            start = i;
        }
        prev = Some(cur);
    }
    if start < line.len() {
        out.push(&line[start..]);
    }
    out
}

#[derive(Clone, Copy)]
enum Num {
    Int(i128),
    Double(f64),
}

fn parse_num(tok: &str) -> Option<Num> {
    let body = tok.strip_prefix(['-', '+']).unwrap_or(tok);
    if body.is_empty() {
        return None;
    }
    if body.bytes().all(|b| b.is_ascii_digit()) {
        return tok.parse::<i128>().ok().map(Num::Int);
    }
    if body == "NaN" || body == "Infinity" {
        return tok.replace("Infinity", "inf").parse::<f64>().ok().map(Num::Double);
    }
    let ok_chars = body.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'));
    let starts_digit = body.as_bytes()[0].is_ascii_digit() || body.starts_with('.');
    if ok_chars && starts_digit && body.contains(['.', 'e', 'E']) {
        return tok.parse::<f64>().ok().map(Num::Double);
    }
    None
}

fn tokens_match(expected: &str, actual: &str) -> bool {
    if expected == actual {
        return true;
    }
    match (parse_num(expected), parse_num(actual)) {
        (Some(Num::Int(x)), Some(Num::Int(y))) => x == y,
        (Some(Num::Double(x)), Some(Num::Double(y))) => {
            if x.is_nan() || y.is_nan() || x.is_infinite() || y.is_infinite() {
                return x == y || (x.is_nan() && y.is_nan());
            }
            let diff = (x - y).abs();
            diff <= ABS_TOL || diff <= REL_TOL * x.abs().max(y.abs())
        }
        _ => false,
    }
}
