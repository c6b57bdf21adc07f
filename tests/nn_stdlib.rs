//! Runs the nn library's own DML test suite (`stdlib-nn/test/run_all.dml`: finite-difference
//! gradient checks of every layer, hand-computed optimizer steps, and the fused recurrent layers
//! against their plain DML formulations) with our engine. Each check
//! prints `PASS name` or `FAIL name: details`.

use std::process::Command;

#[test]
fn nn_library_gradient_checks_and_optimizer_steps_pass() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/stdlib-nn");
    let out = Command::new(env!("CARGO_BIN_EXE_dml"))
        .args(["run", "test/run_all.dml"])
        .current_dir(dir)
        .output()
        .expect("run dml");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "run_all.dml failed:\n{stdout}\n{stderr}");
    let failures: Vec<&str> = stdout.lines().filter(|l| l.starts_with("FAIL")).collect();
    assert!(failures.is_empty(), "failing checks:\n{}", failures.join("\n"));
    let passes = stdout.lines().filter(|l| l.starts_with("PASS")).count();
    // The suite has 126 checks (102 gradient, optimizer and utility checks, 24 fused recurrent layers
    // against their DML formulations); every one must have run.
    assert!(passes >= 126, "only {passes} checks passed:\n{stdout}");
}
