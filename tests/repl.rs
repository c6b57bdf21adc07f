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
