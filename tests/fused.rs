//! Generated fused operators (`fuse_cell`, `fuse_row`, `fuse_multi_agg`, `fuse_outer`): each
//! template runs (the `--stats` report names the fused instruction) and prints the values of the
//! unfused plan (`--no-rewrite` of the rule) and of a hand derivation, over shapes that take each
//! path of the kernel: bands of short rows, pieces of long rows, rows in parallel, broadcast row
//! and column vectors, and a sparse driver.

use dml::compiler::Options;
use dml::diagnostics::SourceMap;
use dml::driver::{Explain, RunConfig, run_script};
use dml::rewrite::RewriteConfig;
use dml::runtime::output::Output;

/// Runs `src` with the fusion threshold off and the rules in `disabled` off; returns the printed
/// lines and the `--stats` report.
fn run(src: &str, disabled: &[&str]) -> (Vec<String>, String) {
    dml::rewrite::check_rewrites_strictly();
    let rewrites = RewriteConfig {
        fuse_min_cells: Some(0.0),
        disabled: disabled.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    };
    let opts = Options { rewrites, ..Options::default() };
    let cfg = RunConfig { explain: Explain::None, stats: true };
    let out = Output::buffer();
    let mut map = SourceMap::new();
    match run_script(&mut map, "fused.dml", src, &opts, &cfg, &out) {
        Ok(report) => (out.take().lines().map(String::from).collect(), report),
        Err(e) => panic!("script failed: {e:?}\n{src}"),
    }
}

const FUSION_RULES: [&str; 4] = ["fuse_outer", "fuse_row", "fuse_cell", "fuse_multi_agg"];

/// The printed numbers with fusion on must be the unfused plan's: the same text for values that
/// are computed cell by cell in the same order.
fn same_as_unfused(src: &str, template: &str) -> Vec<f64> {
    let (fused, report) = run(src, &[]);
    assert!(
        report.contains(&format!("fused {template}")),
        "no fused {template} operator ran:\n{report}\n{src}"
    );
    let (plain, report) = run(src, &FUSION_RULES);
    assert!(!report.contains("fused "), "a fused operator ran with the rules off:\n{report}");
    assert_eq!(fused, plain, "fusion changed a value:\n{src}");
    fused.iter().map(|l| l.parse().unwrap_or_else(|_| panic!("not a number: {l}"))).collect()
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * a.abs().max(b.abs()).max(1.0)
}

/// `X = seq(1, rows*cols)` by rows, scaled; shapes chosen for the kernel's paths.
fn seq_matrix(name: &str, rows: usize, cols: usize, scale: f64) -> String {
    format!("{name} = matrix(seq(1, {}), rows={rows}, cols={cols}) * {scale}\n", rows * cols)
}

#[test]
fn cell_template_sums_squares_like_the_closed_form() {
    // sum(X^2) over 1..n is n(n+1)(2n+1)/6 exactly in doubles for n = 40000; the fused
    // sum((X*Y)^2) with Y = 1 takes the same squares.
    for (rows, cols) in [(200, 200), (4, 10000), (300, 300)] {
        let n = (rows * cols) as f64;
        let src = format!(
            "{}Y = matrix(1, rows={rows}, cols={cols})\nprint(sum((X * Y)^2))\nprint(sum(exp(X * 0) * 2 - 1))\n",
            seq_matrix("X", rows, cols, 1.0)
        );
        // Both sums read X: the MultiAgg template merges the two cell aggregates.
        let v = same_as_unfused(&src, "magg");
        assert_eq!(v[0], n * (n + 1.0) * (2.0 * n + 1.0) / 6.0, "{rows}x{cols}");
        assert_eq!(v[1], n);
    }
}

#[test]
fn cell_template_broadcasts_vectors_and_scalars() {
    // Bands of short rows, pieces of long rows (4 x 3000), parallel bands (400 x 300).
    for (rows, cols) in [(7, 13), (4, 3000), (400, 300)] {
        let src = format!(
            "{}Y = rand(rows={rows}, cols={cols}, min=-1, max=1, seed=2)\nr = rand(rows=1, cols={cols}, seed=3)\nc = rand(rows={rows}, cols=1, seed=4)\ns = as.scalar(rand(rows=1, cols=1, seed=5))\nZ = (sin(X) * r - c) / (s + abs(Y)) + 1\nprint(sum(Z))\nprint(as.scalar(Z[{rows}, {cols}]))\nprint(as.scalar(Z[1, 2]))\nR = rowSums(X * Y - c)\nprint(sum(R))\nprint(as.scalar(R[{rows}, 1]))\nC = colMaxs(X - r)\nprint(as.scalar(C[1, {cols}]))\nM = colMeans(Y * 2)\nprint(as.scalar(M[1, 1]))\n",
            seq_matrix("X", rows, cols, 0.01),
        );
        // The cells are checked against the unfused plan (the hand-computed case is below).
        let v = same_as_unfused(&src, "cell");
        assert!(v.iter().all(|x| x.is_finite()), "{v:?}");
    }
}

#[test]
fn cell_template_matches_hand_computed_cells() {
    // X = 1..12 by rows (3x4), r = [1 2 3 4], c = [10; 20; 30]: (X*r - c)^2 summed by rows.
    let src = "X = matrix(seq(1, 12), rows=3, cols=4)\nr = matrix(seq(1, 4), rows=1, cols=4)\nc = matrix(seq(10, 30, 10), rows=3, cols=1)\nR = rowSums((X * r - c)^2)\nprint(as.scalar(R[1, 1]))\nprint(as.scalar(R[3, 1]))\nprint(max(X * r - c))\n";
    let v = same_as_unfused(src, "cell");
    // Row 1: x = 1..4, x*r = 1 4 9 16, minus 10: -9 -6 -1 6 -> 81+36+1+36 = 154.
    // Row 3: x = 9..12, x*r = 9 20 33 48, minus 30: -21 -10 3 18 -> 441+100+9+324 = 874.
    assert_eq!(v, vec![154.0, 874.0, 18.0]);
}

#[test]
fn row_template_normalizes_rows_and_softmax() {
    for (rows, cols) in [(5, 6), (3, 2000), (300, 300)] {
        let src = format!(
            "X = rand(rows={rows}, cols={cols}, min=0.1, max=3, seed=7)\nS = X / rowSums(X)\nprint(sum(S))\nprint(as.scalar(S[2, 3]))\ne = exp(X - rowMaxs(X))\nP = e / rowSums(e)\nprint(sum(P))\nprint(as.scalar(P[{rows}, {cols}]))\n"
        );
        let v = same_as_unfused(&src, "row");
        // Every row of S and of the softmax sums to 1.
        assert!(close(v[0], rows as f64, 1e-12), "{v:?}");
        assert!(close(v[2], rows as f64, 1e-12), "{v:?}");
    }
    // By hand: X = [1 3; 2 2]: S = [0.25 0.75; 0.5 0.5].
    let v = same_as_unfused(
        "X = matrix(\"1 3 2 2\", rows=2, cols=2)\nS = X / rowSums(X)\nprint(as.scalar(S[1, 2]))\nprint(as.scalar(S[2, 1]))\n",
        "row",
    );
    assert_eq!(v, vec![0.75, 0.5]);
}

#[test]
fn multi_agg_template_shares_one_pass() {
    // X = 1..n: sum n(n+1)/2, sum of squares n(n+1)(2n+1)/6, sum(X*Y) with Y = 2 twice the sum.
    let (rows, cols) = (150, 120);
    let n = (rows * cols) as f64;
    let src = format!(
        "{}Y = matrix(2, rows={rows}, cols={cols})\na = sum(X)\nb = sum(X^2)\nc = sum(X * Y)\nd = max(X - Y)\nprint(a)\nprint(b)\nprint(c)\nprint(d)\n",
        seq_matrix("X", rows, cols, 1.0)
    );
    let v = same_as_unfused(&src, "magg");
    assert_eq!(v, vec![n * (n + 1.0) / 2.0, n * (n + 1.0) * (2.0 * n + 1.0) / 6.0, n * (n + 1.0), n - 2.0]);
}

#[test]
fn outer_template_visits_the_sparse_driver_only() {
    // W has non-zeros (value 1) only at (1,1), (2,3) and (4,2); U %*% t(V) has cells
    // i*j*(1+1) for U = [i i], V = [j j]; X = 10 everywhere.
    // The loop body is a block of its own, compiled with W's exact (sparse) count.
    let src = "W = table(matrix(\"1 2 4\", rows=3, cols=1), matrix(\"1 3 2\", rows=3, cols=1), 400, 300)\n\
               X = matrix(10, rows=400, cols=300)\n\
               U = cbind(seq(1, 400), seq(1, 400))\n\
               V = cbind(seq(1, 300), seq(1, 300))\n\
               for (i in 1:1) {\n\
                 print(sum(W * (X - U %*% t(V))^2))\n\
                 G = W * (U %*% t(V))\n\
                 print(sum(G))\n\
                 print(as.scalar(G[4, 2]))\n\
               }\n";
    let v = same_as_unfused(src, "outer");
    // Cells: (1,1): 2 -> (10-2)^2 = 64; (2,3): 12 -> 4; (4,2): 16 -> 36. G: 2 + 12 + 16.
    assert_eq!(v, vec![104.0, 30.0, 16.0]);
}

#[test]
fn outer_template_matches_unfused_on_random_factors() {
    let src = "W = rand(rows=300, cols=200, sparsity=0.02, seed=1)\nX = rand(rows=300, cols=200, seed=2)\nU = rand(rows=300, cols=7, seed=3)\nV = rand(rows=200, cols=7, seed=4)\nprint(sum(W * (X - U %*% t(V))^2))\n";
    let (fused, report) = run(src, &[]);
    assert!(report.contains("fused outer"), "{report}");
    let (plain, _) = run(src, &FUSION_RULES);
    // The dot products may be rounded differently from the blocked product kernel.
    let (a, b): (f64, f64) = (fused[0].parse().expect("number"), plain[0].parse().expect("number"));
    assert!(close(a, b, 1e-12), "{a} vs {b}");
}

#[test]
fn each_rule_is_switched_off_by_name() {
    let src =
        "X = rand(rows=100, cols=100, seed=1)\nY = rand(rows=100, cols=100, seed=2)\nprint(sum((X * Y)^2))\n";
    let (_, report) = run(src, &["fuse_cell"]);
    assert!(!report.contains("fused cell"), "{report}");
    let (_, report) = run(src, &[]);
    assert!(report.contains("fused cell"), "{report}");
}

#[test]
fn sparse_inputs_stay_unfused() {
    let src = "X = rand(rows=200, cols=200, sparsity=0.01, seed=1)\nprint(sum(abs(X) * 2 + 0))\nprint(sum(X * X * 3))\n";
    let (fused, report) = run(src, &[]);
    assert!(!report.contains("fused cell"), "a cell template over a sparse input:\n{report}");
    let (plain, _) = run(src, &FUSION_RULES);
    assert_eq!(fused, plain);
}

#[test]
fn a_bad_broadcast_still_reports_the_unfused_error() {
    // A column vector on the left of a cellwise operator is an error in SystemDS, and so here.
    let src = "X = rand(rows=10, cols=10, seed=1)\nc = rand(rows=10, cols=1, seed=2)\nZ = exp(c - X) * 2\nprint(sum(Z))\n";
    dml::rewrite::check_rewrites_strictly();
    let opts = Options {
        rewrites: RewriteConfig { fuse_min_cells: Some(0.0), ..Default::default() },
        ..Options::default()
    };
    let cfg = RunConfig { explain: Explain::None, stats: false };
    let out = Output::buffer();
    let mut map = SourceMap::new();
    let err = run_script(&mut map, "bad.dml", src, &opts, &cfg, &out).expect_err("must fail");
    assert!(format!("{err:?}").contains("Mismatch in dimensions"), "{err:?}");
}

#[test]
fn outer_template_keeps_operators_that_could_make_nan_off_the_driver_unfused() {
    // log of a non-positive difference is NaN or -Infinity where W is zero too, and the unfused
    // `W * M` then is NaN: such a region is not sparse-driven.
    let src = "W = rand(rows=200, cols=200, sparsity=0.02, seed=1)\nX = rand(rows=200, cols=200, seed=2)\nU = rand(rows=200, cols=5, seed=3)\nV = rand(rows=200, cols=5, seed=4)\nprint(sum(W * log(X - U %*% t(V))))\n";
    let (fused, report) = run(src, &[]);
    assert!(!report.contains("fused outer"), "{report}");
    let (plain, _) = run(src, &FUSION_RULES);
    assert_eq!(fused, plain);
    assert_eq!(fused, vec!["NaN".to_string()]);
}

#[test]
fn outer_template_keeps_overflow_off_the_driver_as_the_unfused_plan_does() {
    // (X - U %*% t(V))^2 overflows to infinity at every cell (1e200 squared), so the unfused
    // `W * M` is NaN where W is zero and its sum is NaN; skipping W's zeros would hide that.
    // With factors of 1 the same plan is fused and finite.
    let body = |scale: &str| {
        format!(
            "W = rand(rows=200, cols=200, sparsity=0.02, seed=1)\nX = rand(rows=200, cols=200, seed=2)\n\
             U = rand(rows=200, cols=5, seed=3) * {scale}\nV = rand(rows=200, cols=5, seed=4)\n\
             print(sum(W * (X - U %*% t(V))^2))\n"
        )
    };
    let (fused, _) = run(&body("1e200"), &[]);
    let (plain, _) = run(&body("1e200"), &FUSION_RULES);
    assert_eq!(fused, plain);
    assert_eq!(fused, vec!["NaN".to_string()]);
    let (fused, report) = run(&body("1"), &[]);
    assert!(report.contains("fused outer"), "{report}");
    assert_ne!(fused, vec!["NaN".to_string()]);
}
