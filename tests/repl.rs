//! A piped REPL session: variables and functions persist between inputs, multi-line input works,
//! an error is reported and the session goes on.

use std::io::Write;
use std::process::{Command, Stdio};

fn repl(input: &str) -> (String, String, i32) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dml"))
        .arg("repl")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start dml repl");
    child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write input");
    let out = child.wait_with_output().expect("wait for dml repl");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

#[test]
fn variables_persist_and_errors_do_not_end_the_session() {
    let (out, err, code) = repl(
        "x = 40\n\
         y = x + 2\n\
         print(y)\n\
         print(undefined_thing)\n\
         sq = function(double a) return (double b) {\n\
           b = a * a\n\
         }\n\
         print(sq(3))\n\
         M = matrix(1, rows=2, cols=3)\n\
         print(sum(M) + y)\n\
         :vars\n",
    );
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "42");
    assert_eq!(lines[1], "9.0");
    assert_eq!(lines[2], "48.0");
    assert!(out.contains("M: 2x3 matrix"), "{out}");
    assert!(out.contains("x: int scalar"), "{out}");
    assert!(err.contains("undefined variable `undefined_thing`"), "{err}");
}

#[test]
fn explain_and_load() {
    let dir = std::env::temp_dir().join(format!("dml-repl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("lib.dml");
    std::fs::write(&file, "z = 7\nprint(\"loaded\")\n").expect("write script");
    let (out, err, code) =
        repl(&format!(":load {}\nprint(z * 2)\n:explain w = z + 1\n:help\n", file.display()));
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("loaded\n14\n"), "{out}");
    assert!(out.contains("b(+)"), "explain output missing: {out}");
    assert!(out.contains(":vars"), "help missing: {out}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A scratch folder of this test process.
fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("dml-repl-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[test]
fn bare_expressions_show_their_values_as_print_would() {
    let (out, err, code) = repl(
        "X = rand(rows=2, cols=2, seed=3)\n\
         X\n\
         print(toString(X))\n\
         sum(X)\n\
         print(sum(X))\n\
         1 + 2\n\
         \"text\"\n\
         list(a=1, b=\"x\")\n",
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.is_empty(), "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "matrix 2x2");
    // The shown cells are what toString prints for the same matrix.
    assert_eq!(&lines[1..3], &lines[3..5], "{out}");
    assert_eq!(lines[5], ""); // print(toString(X)) ends with toString's newline, then print's.
    assert_eq!(lines[6], lines[7], "sum(X) shows what print(sum(X)) prints: {out}");
    assert_eq!(&lines[8..], &["3", "text", "$a", "1", "", "$b", "x", ""], "{out}");
}

#[test]
fn a_large_matrix_shows_head_and_tail_and_show_prints_it_all() {
    let (out, err, code) = repl("Z = seq(1, 100) %*% matrix(1, rows=1, cols=3)\nZ\n:show Z\n");
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "matrix 100x3");
    assert_eq!(lines[1], "1.000 1.000 1.000");
    assert_eq!(lines[7], "... 91 more rows ...");
    assert_eq!(lines[10], "100.000 100.000 100.000");
    assert_eq!(lines[11], "(:show Z prints it all)");
    // :show: the header and all 100 rows.
    assert_eq!(lines.len(), 12 + 101, "{out}");
    assert_eq!(lines[12 + 50], "50.000 50.000 50.000");
}

#[test]
fn explain_of_an_expression_shows_its_plan() {
    let (out, err, code) = repl("X = rand(rows=2, cols=2, seed=3)\n:explain sum(X %*% X)\n");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("read X [2x2, nnz=4"), "{out}");
    assert!(out.contains("ua(allsum)"), "{out}");
    assert!(out.contains("write (value)"), "{out}");
}

#[test]
fn a_broken_statement_is_reported_and_the_next_one_runs() {
    let (out, err, code) = repl("foo(\nif (TRUE) print(\"recovered\")\nx = (1 2)\nprint(\"still here\")\n");
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "recovered\nstill here\n");
    assert!(err.contains("unclosed `(`"), "{err}");
    assert!(err.contains("unexpected"), "{err}");
}

#[test]
fn function_headers_may_span_lines() {
    let (out, err, code) =
        repl("f = function(double a)\n  return (double b)\n{\n  b = a * 2\n}\nprint(f(4))\n");
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "8.0\n", "{err}");
}

#[test]
fn type_time_stats_save_reset_and_load() {
    let dir = scratch("save");
    let file = dir.join("session.dml");
    let (out, err, code) = repl(&format!(
        "X = matrix(\"1 0 0 2\", rows=2, cols=2)\n\
         :type X\n\
         :type X + 1\n\
         :time s = sum(X)\n\
         :stats t = sum(X %*% X)\n\
         X\n\
         :save {f}\n\
         :reset\n\
         :vars\n\
         :load {f}\n\
         print(s + t)\n",
        f = file.display()
    ));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("X: matrix 2x2, nnz=2, dense (32 B)"), "{out}");
    assert!(out.contains("matrix 2x2, nnz=4, dense"), "{out}");
    assert!(out.contains("time: "), "{out}");
    assert!(out.contains("dml statistics:") && out.contains("Heavy hitter instructions"), "{out}");
    assert!(out.contains("session reset\n"), "{out}");
    // After :reset, :vars lists nothing; :load brings back s = sum(X) = 3 and
    // t = sum(X %*% X) = 1 + 4 (X is diag(1, 2)).
    assert!(out.contains("session reset\n8.0\n"), "{out}");
    let saved = std::fs::read_to_string(&file).expect("saved script");
    assert_eq!(saved, "X = matrix(\"1 0 0 2\", rows=2, cols=2)\ns = sum(X)\nt = sum(X %*% X)\n");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs Graphviz's `dot -Tsvg` on `dot_text`; panics with its message when it refuses it.
fn dot_to_svg(dot_text: &str) -> String {
    let mut child = Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("Graphviz `dot` is needed (apt-get install graphviz; .ci/run installs it)");
    child.stdin.take().expect("stdin").write_all(dot_text.as_bytes()).expect("write dot");
    let out = child.wait_with_output().expect("wait for dot");
    assert!(out.status.success(), "dot refused:\n{}\n{dot_text}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn explain_dot_is_accepted_by_graphviz() {
    let dir = scratch("dot");
    let script = dir.join("plan.dml");
    std::fs::write(
        &script,
        "sq = function(matrix[double] A) return (double s) {\n  s = sum(A %*% t(A))\n}\n\
         X = rand(rows=50, cols=20, sparsity=0.1, seed=7)\n\
         total = 0\n\
         for (i in 1:3) {\n  total = total + sq(X[i, ])\n}\n\
         if (total > 0) { print(\"label \\\"quoted\\\" \" + total) }\n",
    )
    .expect("write script");
    let out = Command::new(env!("CARGO_BIN_EXE_dml"))
        .args(["run", script.to_str().unwrap(), "--explain", "dot"])
        .output()
        .expect("run dml");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let dot_text = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(dot_text.starts_with("digraph hops {"), "{dot_text}");
    assert!(dot_text.contains("cluster_"), "{dot_text}");
    assert!(dot_text.contains("function sq"), "{dot_text}");
    // The sparse rand's estimate and format are on its node.
    assert!(dot_text.contains("dg(rand)\\nmatrix 50x20, nnz=100"), "{dot_text}");
    let svg = dot_to_svg(&dot_text);
    assert!(svg.contains("<svg") && svg.contains("dg(rand)"), "not an SVG of the plan");

    let (out, err, code) = repl("X = rand(rows=2, cols=2, seed=3)\n:explain --dot sum(X %*% X)\n");
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("digraph hops {"), "{out}");
    dot_to_svg(&out);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The session API that the REPL is built on, as an embedder uses it.
#[test]
fn session_api_evaluates_expressions_and_keeps_statements() {
    use dml::session::{InputKind, Session, classify};
    use dml::types::value::Value;
    assert_eq!(classify("X"), InputKind::Expression);
    assert_eq!(classify("sum(X)"), InputKind::MaybeValue);
    assert_eq!(classify("print(X)"), InputKind::Statements);
    assert_eq!(classify("x = 1"), InputKind::Statements);
    assert_eq!(classify("x = = 1"), InputKind::Invalid);
    let out = dml::runtime::output::Output::buffer();
    let mut s = Session::new(dml::compiler::Options::default());
    assert!(s.evaluate("X = matrix(\"1 2 3 4\", rows=2, cols=2)", &out).unwrap().is_none());
    // sum(X %*% X) = sum([[7, 10], [15, 22]]) = 54.
    match s.evaluate("sum(X %*% X)", &out).unwrap() {
        Some(Value::Double(v)) => assert_eq!(v, 54.0),
        other => panic!("expected a double, got {other:?}"),
    }
    assert!(s.evaluate("print(\"p\")", &out).unwrap().is_none());
    assert_eq!(out.take(), "p\n");
    // Only the statements are kept; the value's temporary variable is gone.
    assert_eq!(s.script(), "X = matrix(\"1 2 3 4\", rows=2, cols=2)\nprint(\"p\")\n");
    assert_eq!(s.var_names(), vec!["X".to_string()]);
    assert_eq!(s.describe_type("X").as_deref(), Some("matrix 2x2, nnz=4, dense (32 B)"));
    s.reset();
    assert!(s.var_names().is_empty() && s.script().is_empty());
}
