//! `dml run --stats`: the report lists each instruction kind with its count, wall time and CPU
//! time, after the script's own output.

use std::process::Command;

#[test]
fn stats_report_counts_instructions_and_their_cpu_time() {
    let dir = std::env::temp_dir().join(format!("dml_stats_{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let script = dir.join("s.dml");
    // Five products of 300x300 matrices: enough work for a measurable CPU time.
    std::fs::write(
        &script,
        "s = 0\nfor (i in 1:5) {\n  A = matrix(i, rows=300, cols=300)\n  s = s + sum(A %*% A)\n}\nprint(s)\n",
    )
    .expect("write script");
    let out = Command::new(env!("CARGO_BIN_EXE_dml"))
        .arg("run")
        .arg(&script)
        .arg("--stats")
        // Keep the products: `sum(A %*% A)` would otherwise become column and row sums.
        .arg("--no-rewrite")
        .arg("sum_of_product")
        .output()
        .expect("run dml");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    // sum over i of 300 * 300 * 300 * i^2 = 27e6 * 55
    assert!(text.starts_with("1.485E9\n"), "{text}");
    let header =
        text.lines().position(|l| l.contains("Instruction") && l.contains("CPU(s)")).expect("header");
    let row = text
        .lines()
        .skip(header + 1)
        .find(|l| l.contains("ba(%*%)"))
        .unwrap_or_else(|| panic!("no %*% row in\n{text}"));
    let cols: Vec<&str> = row.split_whitespace().collect();
    // "#  kind  wall  cpu  count"
    let (wall, cpu, count): (f64, f64, u64) =
        (cols[2].parse().expect("wall"), cols[3].parse().expect("cpu"), cols[4].parse().expect("count"));
    assert_eq!(count, 5, "{row}");
    assert!(wall > 0.0 && cpu > 0.0, "{row}");
}

/// A dense result that turns out mostly zeros (a mask, and a matrix multiplied by it) is stored
/// sparse once counted, as SystemDS re-examines each result: `--stats` counts the conversion.
#[test]
fn mostly_zero_results_of_dense_operators_are_stored_sparse() {
    let dir = std::env::temp_dir().join(format!("dml_stats_sparse_{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let script = dir.join("s.dml");
    std::fs::write(
        &script,
        "S = sin(matrix(seq(1, 100000), rows=1000, cols=100) * 0.731)\n\
         M = abs(S) > 0.99\n\
         X = S * M\n\
         print(sum(M) + \" \" + sum(X != 0))\n",
    )
    .expect("write script");
    let out = Command::new(env!("CARGO_BIN_EXE_dml"))
        .arg("run")
        .arg(&script)
        .arg("--stats")
        .output()
        .expect("run dml");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    // The mask and the masked matrix have the same non-zeros, about 9% of the cells (|sin| > 0.99).
    let first: Vec<f64> =
        text.lines().next().unwrap_or("").split(' ').map(|v| v.parse().expect("number")).collect();
    assert_eq!(first[0], first[1], "{text}");
    assert!(first[0] > 5000.0 && first[0] < 13000.0, "{text}");
    let line = text.lines().find(|l| l.starts_with("Format conversions:")).expect("conversions line");
    let to_sparse: u64 = line
        .split("dense->sparse ")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    assert!(to_sparse >= 1, "{line}");
}
