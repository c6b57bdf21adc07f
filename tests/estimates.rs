//! Non-zero estimates against the non-zeros the run produces: the planner's count of `Y`, read
//! from `--explain hops`, is exact where the rule is exact, an upper bound where SystemDS's rule
//! is its worst case, and near the actual count where it is an expectation (`rand`'s sparsity,
//! the average-case product). Also the acceptance snippets (format and estimate through
//! explain, never wall time) and the format a run-time compiled block picks from a live value.

use dml::compiler::Options;
use dml::diagnostics::SourceMap;
use dml::driver::{Explain, RunConfig, explain_hops, run_script};
use dml::runtime::output::Output;

fn run(src: &str, explain: Explain) -> (String, String) {
    let cfg = RunConfig { explain, stats: false };
    let out = Output::buffer();
    let mut map = SourceMap::new();
    match run_script(&mut map, "est.dml", src, &Options::default(), &cfg, &out) {
        Ok(report) => (out.take(), report),
        Err(e) => panic!("script failed: {e:?}\n{src}"),
    }
}

/// The line of `--explain hops` that writes variable `var`.
fn write_line(explain: &str, var: &str) -> String {
    explain
        .lines()
        .rev()
        .find(|l| l.contains(&format!(" write {var} ")))
        .unwrap_or_else(|| panic!("no write of {var} in:\n{explain}"))
        .to_string()
}

/// The planner's non-zeros of `var` (from `nnz=N` on its write).
fn estimated_nnz(explain: &str, var: &str) -> f64 {
    let line = write_line(explain, var);
    let start = line.find("nnz=").unwrap_or_else(|| panic!("no estimate for {var}: {line}")) + 4;
    let digits: String = line[start..].chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().expect("a count")
}

const INPUTS: &str = "X = rand(rows=300, cols=200, sparsity=0.05, seed=1)\nV = rand(rows=200, cols=100, sparsity=0.05, seed=2)\n";

/// `(estimate, actual)` non-zeros of `Y = expr`, the estimate made where the block is compiled at
/// run time, from the live (exact) counts of `X` and `V`.
fn estimate_and_actual(expr: &str) -> (f64, f64) {
    // The loops put `Y` in a block compiled at run time, and the print in a block of its own,
    // so `Y` is written out of the first one.
    let src = format!("{INPUTS}for (i in 1:1) {{\nY = {expr}\nfor (j in 1:1) {{ print(sum(Y != 0)) }}\n}}\n");
    let (printed, explain) = run(&src, Explain::Runtime);
    let est = estimated_nnz(&explain, "Y");
    let actual: f64 = printed.trim().parse().expect("a number");
    (est, actual)
}

#[test]
fn exact_rules_give_the_exact_count() {
    for expr in [
        "t(X)",
        "X * 2",
        "-X",
        "abs(X)",
        "X != 0",
        "X / 4",
        "matrix(X, rows=200, cols=300)",
        "cbind(X, X)",
        "rbind(X, V %*% matrix(0, rows=100, cols=200))",
        "!X",
        "exp(X)",
        "X + 1",
        "matrix(0, rows=300, cols=200)",
        "matrix(3, rows=300, cols=200)",
        "seq(-5, 5)",
        "seq(1, 10, 2)",
    ] {
        let (est, actual) = estimate_and_actual(expr);
        assert_eq!(est, actual, "estimate of {expr}");
    }
}

#[test]
fn worst_case_rules_bound_the_count() {
    for expr in [
        "X > 0.5",
        "X[1:100, ]",
        "X[, 1:20]",
        "X + X",
        "X * (X > 0.5)",
        "X - t(t(X))",
        "rowSums(X)",
        "colSums(X)",
        "min(X, 0.2)",
        "sqrt(X)",
        "diag(X[1:200, ])",
        "t(X) %*% X * 0",
        "lower.tri(target=X[1:200, ], diag=TRUE, values=TRUE)",
        "lower.tri(target=X[1:200, ], diag=TRUE)",
    ] {
        let (est, actual) = estimate_and_actual(expr);
        assert!(est >= actual, "estimate of {expr}: {est} < actual {actual}");
    }
}

#[test]
fn expected_counts_are_near_the_actual_ones() {
    // rand: sparsity * cells = 3,000 (binomial, standard deviation ~54), planned statically.
    let src = format!("{INPUTS}for (i in 1:1) {{ print(sum(X != 0)) }}\n");
    let est = estimated_nnz(&explain_hops("est.dml", &src, &Options::default()).expect("compiles"), "X");
    let actual: f64 = run(&src, Explain::None).0.trim().parse().expect("a number");
    assert_eq!(est, 3000.0);
    assert!((est - actual).abs() < 300.0, "{est} vs {actual}");
    // The average-case product: 1 - (1 - 0.05 * 0.05)^200 = 0.3940 of 30,000 cells, with the
    // live sparsities a little off 0.05.
    let (est, actual) = estimate_and_actual("X %*% V");
    assert!((est - 11_820.0).abs() < 200.0, "{est}");
    assert!((est - actual).abs() < 0.05 * actual, "{est} vs {actual}");
    // t(X) %*% X (tsmm): k = 300 rows, 200 x 200 output.
    let (est, actual) = estimate_and_actual("t(X) %*% X");
    assert!((est - actual).abs() < 0.05 * actual, "{est} vs {actual}");
}

#[test]
fn a_huge_sparse_rand_is_planned_sparse_and_runs() {
    // The first snippet: 40,000 non-zeros in 4e10 cells, refused before as 298 GB.
    let src =
        "S = rand(rows=200000, cols=200000, sparsity=0.000001, seed=1)\nfor (i in 1:1) { print(sum(S)) }\n";
    let explain = explain_hops("est.dml", src, &Options::default()).expect("compiles");
    let line = write_line(&explain, "S");
    assert!(line.contains("nnz=40000") && line.contains("CPU sparse"), "{line}");
    // 100 + 4 * 200,001 + 12 * 40,000 bytes = 1.2 MB.
    assert!(line.contains("1.2 MB"), "{line}");
    let (printed, _) = run(src, Explain::None);
    // 40,000 uniform values in [0, 1): mean 20,000, standard deviation ~58 (binomial count).
    let sum: f64 = printed.trim().parse().expect("a number");
    assert!((sum - 20_000.0).abs() < 600.0, "{sum}");
}

#[test]
fn explain_shows_the_sparse_format_and_estimate_of_a_sparse_rand() {
    let src = "X = rand(rows=20000, cols=20000, sparsity=0.0001)\nprint(sum(X))\n";
    let explain = explain_hops("est.dml", src, &Options::default()).expect("compiles");
    let line = explain.lines().find(|l| l.contains("dg(rand)")).expect("a rand");
    // 100 + 4 * 20,001 + 12 * 40,000 bytes.
    assert!(line.contains("nnz=40000, 547.0 KB, CPU sparse"), "{line}");
}

#[test]
fn a_block_compiled_at_run_time_plans_from_the_live_count() {
    // The sparsity is not a literal where X is built, so only the live value tells that X is
    // sparse; the block that transposes it is compiled at run time with X's count.
    let src = "s = 0.01\nfor (i in 1:2) { s = s * 1 }\nX = rand(rows=500, cols=400, sparsity=s, seed=4)\nif (sum(X) > -1) { Y = t(X) * 3\nprint(sum(Y)) }\n";
    let (_, runtime) = run(src, Explain::Runtime);
    let line = runtime.lines().find(|l| l.contains("r(transpose)")).unwrap_or_else(|| panic!("{runtime}"));
    assert!(line.contains("CPU sparse"), "{line}");
    let explain = explain_hops("est.dml", src, &Options::default()).expect("compiles");
    let line = explain.lines().find(|l| l.contains("r(transpose)")).expect("a transpose");
    assert!(!line.contains("nnz="), "statically unknown: {line}");
}

#[test]
fn read_takes_shape_and_count_from_the_metadata() {
    let dir = std::env::temp_dir().join(format!("dml-estimates-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("A.csv");
    let p = path.display().to_string();
    run(
        &format!("A = rand(rows=400, cols=300, sparsity=0.02, seed=5)\nwrite(A, \"{p}\", format=\"csv\")\n"),
        Explain::None,
    );
    let (printed, _) = run(&format!("A = read(\"{p}\")\nprint(sum(A != 0))\n"), Explain::None);
    let actual = printed.trim().parse::<f64>().expect("a number") as i64;
    let explain =
        explain_hops("est.dml", &format!("A = read(\"{p}\")\nprint(sum(A))\n"), &Options::default())
            .expect("compiles");
    let line = explain.lines().find(|l| l.contains("f(read)")).expect("a read");
    assert!(line.contains(&format!("[400x300, nnz={actual},")) && line.contains("CPU sparse"), "{line}");

    // A Matrix Market header: 3 x 4 with 2 entries.
    let mm = dir.join("M.mtx");
    std::fs::write(&mm, "%%MatrixMarket matrix coordinate real general\n% c\n3 4 2\n1 1 5\n3 4 7\n")
        .expect("write");
    let explain = explain_hops(
        "est.dml",
        &format!("M = read(\"{}\", format=\"mm\")\nprint(sum(M))\n", mm.display()),
        &Options::default(),
    )
    .expect("compiles");
    let line = explain.lines().find(|l| l.contains("f(read)")).expect("a read");
    assert!(line.contains("[3x4, nnz=2,"), "{line}");
    let _ = std::fs::remove_dir_all(&dir);
}
