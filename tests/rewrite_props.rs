//! Property: a rewrite never changes a value. Random expression programs over small matrices give
//! the same printed numbers with every rewrite on and with every rewrite off (`--no-rewrites`).

use dml::compiler::Options;
use dml::diagnostics::SourceMap;
use dml::driver::{Explain, RunConfig, run_script};
use dml::rewrite::RewriteConfig;
use dml::runtime::output::Output;
use proptest::prelude::*;

/// A random 4x4-matrix expression in DML, built from patterns the rewrites match.
fn matrix_expr() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![Just("X".to_string()), Just("Y".to_string()), Just("Z".to_string())];
    leaf.prop_recursive(4, 24, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} + {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} - {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} * {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} %*% {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("(0.9 * {a} - 0.37 * {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} + {b} * -1.5e-3)")),
            inner.clone().prop_map(|a| format!("t({a})")),
            inner.clone().prop_map(|a| format!("t(t({a}))")),
            inner.clone().prop_map(|a| format!("({a} * 1)")),
            inner.clone().prop_map(|a| format!("({a} + 0)")),
            inner.clone().prop_map(|a| format!("({a} * {a})")),
            inner.clone().prop_map(|a| format!("(1 / (1 + exp(-{a})))")),
            inner.clone().prop_map(|a| format!("({a} / (abs({a}) + 1))")),
            inner.clone().prop_map(|a| format!("(t({a}) %*% {a})")),
            inner.clone().prop_map(|a| format!("({a} + {a})")),
            inner.clone().prop_map(|a| format!("(-(-{a}))")),
            inner.clone().prop_map(|a| format!("(matrix(0, rows=4, cols=4) + {a})")),
            inner.clone().prop_map(|a| format!("({a} - t(matrix(0, rows=4, cols=4)))")),
            inner.clone().prop_map(|a| format!("(t(colSums(t({a}))) %*% t(rowSums(t({a}))))")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("(-t({a}) %*% {b})")),
            (inner.clone(), inner.clone(), inner.clone())
                .prop_map(|(a, b, c)| format!("({a} %*% {b} %*% {c})")),
            // Fused templates: cell chains with broadcasting, rows, softmax, exp chains.
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} + rowSums({a} * {b}))")),
            inner.clone().prop_map(|a| format!("({a} / rowSums(abs({a}) + 1))")),
            inner
                .clone()
                .prop_map(|a| format!("(exp({a} - rowMaxs({a})) / rowSums(exp({a} - rowMaxs({a}))))")),
            inner.clone().prop_map(|a| format!("exp(exp({a} * 0.1) - 1)")),
            inner.clone().prop_map(|a| format!("({a} * colMeans({a}) - 0.5)")),
            (inner.clone(), inner.clone())
                .prop_map(|(a, b)| format!("(({a} > {b}) * {a} + ({a} <= {b}) * {b})")),
            (inner.clone(), inner.clone(), inner)
                .prop_map(|(a, b, c)| format!("ifelse({a} > 0.2, {b} * 2, {c} - 1)")),
        ]
    })
}

/// A statement computing the matrix `M` and a scalar `r` from it (indexing applies to names only).
fn program(m: String) -> impl Strategy<Value = String> {
    prop_oneof![
        Just(format!("r = sum({m})")),
        Just(format!("r = sum({m} + X)")),
        Just(format!("r = trace({m} %*% Y)")),
        Just(format!("r = sum(rowSums({m}))")),
        Just(format!("M = {m}\nr = as.scalar(M[2, 3])")),
        Just(format!("r = sum(colSums({m}) %*% rowSums({m}))")),
        Just(format!("r = sum({m} %*% {m}) + sum({m} ^ 2) + sum(t({m}))")),
        Just(format!("r = max(t({m})) - min(t({m})) + sum(rowSums(matrix(0, rows=4, cols=4)))")),
        Just(format!("C = colSums(t({m}))\nr = as.scalar(C[1, 3])")),
        Just(format!("C = rowMeans(t({m}))\nr = as.scalar(C[2, 1])")),
        Just(format!("M = {m}\nN = M[1:4, ]\nr = as.scalar(N[3, 2])")),
        Just(format!("M = {m}\nN = X\nN[, 1:4] = M\nr = as.scalar(N[2, 4])")),
        Just(format!("r = sum({m} ^ 2) + sum({m}) + max({m} * X) + min({m} - Y)")),
        Just(format!("r = sum((X - {m})^2) / sum(X^2) + mean(Y * {m})")),
        Just(format!("R = rowSums({m} * Y) + rowMaxs({m} / 2)\nr = as.scalar(R[3, 1])")),
        Just(format!("C = colSums(({m} - 0.5)^2)\nr = as.scalar(C[1, 2])")),
        Just(format!("r = sum(X * (Y - {m} %*% t(Z))^2) + sum(Z * ({m} %*% t(X)))")),
        Just(format!("W = (X > 0.8) * X\nr = sum(W * (Y - {m} %*% t(Z))^2)")),
    ]
}

fn run(src: &str, rewrites: bool) -> String {
    dml::rewrite::check_rewrites_strictly();
    let opts = Options {
        // Fusion thresholds off, so the fused templates run on the 4x4 matrices too.
        rewrites: RewriteConfig { disable_all: !rewrites, fuse_min_cells: Some(0.0), ..Default::default() },
        ..Options::default()
    };
    let cfg = RunConfig { explain: Explain::None, stats: false };
    let out = Output::buffer();
    let mut map = SourceMap::new();
    match run_script(&mut map, "prop.dml", src, &opts, &cfg, &out) {
        Ok(_) => out.take(),
        Err(e) => panic!("script failed: {e:?}\n{src}"),
    }
}

fn close(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan()) || (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

const PRELUDE: &str = "X = matrix(seq(1, 16), rows=4, cols=4) / 10\nY = matrix(seq(16, 1, -1), rows=4, cols=4) / 20 - 0.3\nZ = sin(matrix(seq(1, 16), rows=4, cols=4))\n";

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
    #[test]
    fn rewrites_preserve_values(s in matrix_expr().prop_flat_map(program)) {
        let src = format!("{PRELUDE}{s}\nprint(r)\n");
        let on = run(&src, true);
        let off = run(&src, false);
        let a: f64 = on.trim().parse().unwrap_or(f64::NAN);
        let b: f64 = off.trim().parse().unwrap_or(f64::NAN);
        prop_assert!(close(a, b), "rewrites changed a value: {} vs {}\n{}", on.trim(), off.trim(), src);
    }
}
