//! Helpers shared by the command-line tests of the converters: the `dml` binary, a scratch
//! folder per test, a command that must succeed, and arrays written as CSV the way users give
//! data to the generated scripts.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use dml::convert::npz::NpyArray;

/// The `dml` binary this test run built.
pub fn dml() -> Command {
    Command::new(env!("CARGO_BIN_EXE_dml"))
}

/// A fresh, empty folder `dml-<prefix>-<name>-<pid>` in the temporary directory.
pub fn scratch(prefix: &str, name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("dml-{prefix}-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs `cmd`, which must succeed; returns its standard output.
pub fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Writes an array as CSV, one row per example (the trailing axes flattened), full precision.
pub fn write_npy_csv(a: &NpyArray, path: &Path) {
    let rows = a.shape.first().copied().unwrap_or(1).max(1);
    let cols = a.data.len() / rows;
    let mut s = String::new();
    for r in 0..rows {
        let line: Vec<String> = a.data[r * cols..(r + 1) * cols].iter().map(|v| format!("{v:?}")).collect();
        s.push_str(&line.join(","));
        s.push('\n');
    }
    std::fs::write(path, s).unwrap();
}
