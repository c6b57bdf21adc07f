//! A script that builds a matrix far larger than memory is refused before it starts, quickly,
//! with a message that names the estimate and the budget (not killed for running out of memory).

use std::process::Command;
use std::time::{Duration, Instant};

fn run(src: &str) -> (bool, String, Duration) {
    let dir = std::env::temp_dir().join(format!("dml-membudget-{}-{}", std::process::id(), src.len()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("big.dml");
    std::fs::write(&file, src).expect("write script");
    let start = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_dml")).arg("run").arg(&file).output().expect("run dml");
    let took = start.elapsed();
    let _ = std::fs::remove_dir_all(&dir);
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned(), took)
}

#[test]
fn huge_matrix_with_known_size_is_refused_at_compile_time() {
    let (ok, err, took) = run("X = rand(rows=1000000, cols=1000000)\nprint(sum(X))\n");
    assert!(!ok);
    assert!(took < Duration::from_secs(1), "took {took:?}");
    // 1e12 cells of 8 bytes: 7.3 TB.
    assert!(err.contains("7.3 TB") && err.contains("budget of"), "{err}");
    assert!(err.contains("big.dml:1:5"), "{err}");
}

#[test]
fn huge_matrix_with_size_known_only_at_run_time_is_refused_before_allocation() {
    let (ok, err, took) =
        run("n = 1000000\nfor (i in 1:1) { n = n + i - 1 }\nX = matrix(1, rows=n, cols=n)\nprint(sum(X))\n");
    assert!(!ok);
    assert!(took < Duration::from_secs(1), "took {took:?}");
    assert!(err.contains("estimated") && err.contains("budget of"), "{err}");
}
