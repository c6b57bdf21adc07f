//! Snapshots of `--explain hops` for each rewrite rule: the DAG with every rule off, and with only
//! that rule (plus constant folding, which exposes the literals rules match on) on.

use dml::compiler::Options;
use dml::driver::explain_hops;
use dml::rewrite::{RewriteConfig, rule_names};

fn explain(src: &str, only: Option<&str>) -> String {
    dml::rewrite::check_rewrites_strictly();
    let rewrites = match only {
        None => RewriteConfig { disable_all: true, ..Default::default() },
        Some(rule) => RewriteConfig {
            disable_all: false,
            disabled: rule_names()
                .into_iter()
                .filter(|n| *n != rule && *n != "constant_folding")
                .map(String::from)
                .collect(),
            ..Default::default()
        },
    };
    let opts = Options { rewrites, ..Options::default() };
    explain_hops("test.dml", src, &opts).unwrap_or_else(|e| panic!("script failed to compile: {e:?}"))
}

fn before_after(rule: &str, src: &str) -> String {
    let before = explain(src, None);
    let after = explain(src, Some(rule));
    assert_ne!(before, after, "rule {rule} did not change the plan of:\n{src}");
    format!("script:\n{src}\n\nbefore (no rewrites):\n{before}\nafter ({rule}):\n{after}")
}

const X: &str = "X = rand(rows=10, cols=10, seed=1)\nY = rand(rows=10, cols=10, seed=2)\n";

#[test]
fn constant_folding() {
    insta::assert_snapshot!(before_after("constant_folding", "x = 2 * 3 + 1\ny = x * 2\nprint(y)\n"));
}

#[test]
fn cse() {
    insta::assert_snapshot!(before_after("cse", &format!("{X}Z = (X + 1) * (X + 1)\nprint(sum(Z))\n")));
}

#[test]
fn remove_noop() {
    insta::assert_snapshot!(before_after("remove_noop", &format!("{X}Z = t(t(X)) * 1 + 0\nprint(sum(Z))\n")));
}

#[test]
fn self_mult_to_pow() {
    insta::assert_snapshot!(before_after("self_mult_to_pow", &format!("{X}Z = X * X\nprint(sum(Z))\n")));
}

#[test]
fn fuse_sigmoid() {
    insta::assert_snapshot!(before_after(
        "fuse_sigmoid",
        &format!("{X}Z = 1 / (1 + exp(-X))\nprint(sum(Z))\n")
    ));
}

#[test]
fn trace_of_product() {
    insta::assert_snapshot!(before_after("trace_of_product", &format!("{X}s = trace(X %*% Y)\nprint(s)\n")));
}

#[test]
fn distribute_sum() {
    insta::assert_snapshot!(before_after("distribute_sum", &format!("{X}s = sum(X + Y)\nprint(s)\n")));
}

#[test]
fn aggregate_of_vector() {
    insta::assert_snapshot!(before_after(
        "aggregate_of_vector",
        &format!("{X}v = rowSums(X[, 1])\nprint(sum(v))\n")
    ));
}

#[test]
fn tsmm() {
    insta::assert_snapshot!(before_after("tsmm", &format!("{X}G = t(X) %*% X\nprint(sum(G))\n")));
}

#[test]
fn matmul_chain() {
    let src = "A = rand(rows=100, cols=100, seed=1)\nB = rand(rows=100, cols=100, seed=2)\nv = rand(rows=100, cols=1, seed=3)\nr = A %*% B %*% v\nprint(sum(r))\n";
    insta::assert_snapshot!(before_after("matmul_chain", src));
}

#[test]
fn inline_functions() {
    let src = "f = function(matrix[double] A) return (matrix[double] B) {\n  B = A + 1\n}\nX = rand(rows=10, cols=10, seed=1)\nY = f(X)\nprint(sum(Y))\n";
    insta::assert_snapshot!(before_after("inline_functions", src));
}

#[test]
fn remove_constant_branches() {
    let src = "debug = FALSE\nx = 1\nif (debug) {\n  print(\"debugging\")\n}\ny = x + 1\nprint(y)\n";
    insta::assert_snapshot!(before_after("remove_constant_branches", src));
}

/// `explain` with exactly `rules` (and constant folding) switched on.
fn explain_with(src: &str, rules: &[&str]) -> String {
    let rewrites = RewriteConfig {
        disable_all: false,
        disabled: rule_names()
            .into_iter()
            .filter(|n| !rules.contains(n) && *n != "constant_folding")
            .map(String::from)
            .collect(),
        ..Default::default()
    };
    let opts = Options { rewrites, ..Options::default() };
    explain_hops("test.dml", src, &opts).unwrap_or_else(|e| panic!("script failed to compile: {e:?}"))
}

const IMAGES: &str = "X = rand(rows=2, cols=32, min=-1, max=1, seed=1)\nW = rand(rows=3, cols=8, seed=2)\nb = rand(rows=3, cols=1, seed=3)\n";
const POOL: &str = "input_shape=[2,2,4,4], pool_size=[2,2], stride=[2,2], padding=[0,0]";

#[test]
fn fuse_conv2d_bias_add() {
    let src = format!(
        "{IMAGES}Y = bias_add(conv2d(X, W, input_shape=[2,2,4,4], filter_shape=[3,2,2,2], stride=[1,1], padding=[0,0]), b)\nprint(sum(Y))\n"
    );
    insta::assert_snapshot!(before_after("fuse_conv2d_bias_add", &src));
}

#[test]
fn fuse_relu_max_pool() {
    let src = format!("{IMAGES}Y = max_pool(max(0, X), {POOL})\nprint(sum(Y))\n");
    insta::assert_snapshot!(before_after("fuse_relu_max_pool", &src));
}

#[test]
fn fuse_relu_backward() {
    let src = format!("{IMAGES}D = rand(rows=2, cols=32, seed=4)\nY = (X > 0) * D\nprint(sum(Y))\n");
    insta::assert_snapshot!(before_after("fuse_relu_backward", &src));
}

/// Needs `fuse_relu_backward` first (it makes the `_relu_backward` this rule starts from), so
/// "before" has that rule on and "after" both.
#[test]
fn fuse_relu_max_pool_backward() {
    let src = format!(
        "{IMAGES}D = rand(rows=2, cols=8, seed=4)\nY = (X > 0) * max_pool_backward(max(0, X), D, {POOL})\nprint(sum(Y))\n"
    );
    let before = explain_with(&src, &["fuse_relu_backward"]);
    let after = explain_with(&src, &["fuse_relu_backward", "fuse_relu_max_pool_backward"]);
    assert_ne!(before, after, "fuse_relu_max_pool_backward did not change the plan");
    insta::assert_snapshot!(format!(
        "script:\n{src}\n\nbefore (fuse_relu_backward):\n{before}\nafter (+ fuse_relu_max_pool_backward):\n{after}"
    ));
}

/// Needs the rules that make `_relu_max_pool` and `_relu_max_pool_backward` first, so "before"
/// has those on and "after" adds this one: the pair becomes `_relu_max_pool_argmax` (two
/// outputs) and `_max_pool_backward_at` reading the second.
#[test]
fn fuse_max_pool_argmax() {
    let src = format!(
        "{IMAGES}D = rand(rows=2, cols=8, seed=4)\nP = max_pool(max(0, X), {POOL})\nG = (X > 0) * max_pool_backward(max(0, X), D, {POOL})\nprint(sum(P) + sum(G))\n"
    );
    let needed = ["fuse_relu_backward", "fuse_relu_max_pool_backward", "fuse_relu_max_pool", "cse"];
    let before = explain_with(&src, &needed);
    let after = explain_with(&src, &[&needed[..], &["fuse_max_pool_argmax"]].concat());
    assert_ne!(before, after, "fuse_max_pool_argmax did not change the plan");
    assert!(after.contains("_relu_max_pool_argmax") && after.contains("_max_pool_backward_at"), "{after}");
    insta::assert_snapshot!(format!(
        "script:\n{src}\n\nbefore (the rules that make the pair):\n{before}\nafter (+ fuse_max_pool_argmax):\n{after}"
    ));
}

#[test]
fn matmul_transpose() {
    insta::assert_snapshot!(before_after("matmul_transpose", &format!("{X}Z = t(X) %*% Y\nprint(sum(Z))\n")));
}

#[test]
fn dims_of_cellwise() {
    insta::assert_snapshot!(before_after(
        "dims_of_cellwise",
        &format!("{X}R = max(0, X)\nprint(nrow(R) + ncol(exp(Y)) + length(2 * X))\nprint(sum(R))\n")
    ));
}

#[test]
fn fuse_axpby() {
    // The momentum update and the plain SGD step; `lr` is a variable (not folded).
    let src = format!(
        "{X}lr = as.scalar(rand(rows=1, cols=1, seed=3))\nV = 0.9 * X - lr * Y\nW = Y - lr * V\nprint(sum(V) + sum(W))\n"
    );
    insta::assert_snapshot!(before_after("fuse_axpby", &src));
}

#[test]
fn remove_whole_index() {
    insta::assert_snapshot!(before_after(
        "remove_whole_index",
        &format!("{X}A = X[1:10, ]\nB = Y\nB[, 1:10] = X\nprint(sum(A) + sum(B))\n")
    ));
}

#[test]
fn empty_matrix() {
    insta::assert_snapshot!(before_after(
        "empty_matrix",
        &format!(
            "{X}E = matrix(0, rows=10, cols=10)\nA = X + E\nB = t(E) - Y\nprint(sum(A) + sum(B) + sum(E) + sum(colSums(E)))\n"
        )
    ));
}

#[test]
fn double_negation() {
    insta::assert_snapshot!(before_after("double_negation", &format!("{X}Z = -(-X)\nprint(sum(Z))\n")));
}

#[test]
fn self_add_to_mult() {
    insta::assert_snapshot!(before_after("self_add_to_mult", &format!("{X}Z = X + X\nprint(sum(Z))\n")));
}

#[test]
fn sum_of_product() {
    insta::assert_snapshot!(before_after("sum_of_product", &format!("{X}s = sum(X %*% Y)\nprint(s)\n")));
}

#[test]
fn sum_sq() {
    insta::assert_snapshot!(before_after("sum_sq", &format!("{X}s = sum(X ^ 2)\nprint(s)\n")));
}

#[test]
fn agg_of_transpose() {
    insta::assert_snapshot!(before_after(
        "agg_of_transpose",
        &format!("{X}s = sum(t(X))\nc = colSums(t(X))\nr = rowMaxs(t(Y))\nprint(s + sum(c) + sum(r))\n")
    ));
}

#[test]
fn negated_transpose_matmul() {
    // lmCG's first residual: the minus binds to t(X), so without the rule no fused product.
    let src = format!("{X}Z = - t(X) %*% Y\nprint(sum(Z))\n");
    let before = explain_with(&src, &["matmul_transpose"]);
    let after = explain_with(&src, &["matmul_transpose", "negated_transpose_matmul"]);
    assert_ne!(before, after, "negated_transpose_matmul did not change the plan");
    insta::assert_snapshot!(format!(
        "script:\n{src}\n\nbefore (matmul_transpose):\n{before}\nafter (+ negated_transpose_matmul):\n{after}"
    ));
}

/// Matrices above the fusion threshold (the plans are only compiled, not run).
const BIG: &str = "X = rand(rows=200, cols=200, seed=1)\nY = rand(rows=200, cols=200, seed=2)\nv = rand(rows=200, cols=1, seed=3)\n";

#[test]
fn fuse_cell() {
    insta::assert_snapshot!(before_after(
        "fuse_cell",
        &format!(
            "{BIG}s = sum((X * Y - 2)^2)\nR = rowSums(X * Y)\nZ = exp(X * 0.5 + v) / (1 + Y)\nprint(s + sum(R) + sum(Z))\n"
        )
    ));
}

#[test]
fn fuse_row() {
    insta::assert_snapshot!(before_after(
        "fuse_row",
        &format!(
            "{BIG}S = X / rowSums(X)\ne = exp(Y - rowMaxs(Y))\nP = e / rowSums(e)\nprint(sum(S) + sum(P))\n"
        )
    ));
}

/// Merges the Cell template's aggregates, so "before" has `fuse_cell` on and "after" both.
#[test]
fn fuse_multi_agg() {
    let src = format!("{BIG}a = sum(X)\nb = sum(X^2)\nc = sum(X * Y)\nprint(a + b + c)\n");
    let before = explain_with(&src, &["fuse_cell"]);
    let after = explain_with(&src, &["fuse_cell", "fuse_multi_agg"]);
    assert_ne!(before, after, "fuse_multi_agg did not change the plan");
    insta::assert_snapshot!(format!(
        "script:\n{src}\n\nbefore (fuse_cell):\n{before}\nafter (+ fuse_multi_agg):\n{after}"
    ));
}

#[test]
fn fuse_outer() {
    let src = "W = rand(rows=300, cols=200, sparsity=0.01, seed=1)\nX = rand(rows=300, cols=200, seed=2)\nU = rand(rows=300, cols=10, seed=3)\nV = rand(rows=200, cols=10, seed=4)\nl = sum(W * (X - U %*% t(V))^2)\nG = W * (U %*% t(V))\nprint(l + sum(G))\n";
    insta::assert_snapshot!(before_after("fuse_outer", src));
}
