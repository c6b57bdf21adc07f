//! Snapshots of `--explain hops` for each rewrite rule: the DAG with every rule off, and with only
//! that rule (plus constant folding, which exposes the literals rules match on) on.

use dml::compiler::Options;
use dml::driver::explain_hops;
use dml::rewrite::{RewriteConfig, rule_names};

fn explain(src: &str, only: Option<&str>) -> String {
    let rewrites = match only {
        None => RewriteConfig { disable_all: true, ..Default::default() },
        Some(rule) => RewriteConfig {
            disable_all: false,
            disabled: rule_names()
                .into_iter()
                .filter(|n| *n != rule && *n != "constant_folding")
                .map(String::from)
                .collect(),
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
