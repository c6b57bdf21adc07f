//! The rewrite `fuse_max_pool_argmax`: a training step's ReLU + max pooling forward pass and its
//! gradient, with the rule on (the forward pass notes each window's gradient cell, the backward
//! pass reads the notes) and off (the backward pass finds the maxima again in its input), print
//! the same numbers; the report shows which operators ran.

use dml::compiler::Options;
use dml::diagnostics::SourceMap;
use dml::driver::{Explain, RunConfig, run_script};
use dml::rewrite::RewriteConfig;
use dml::runtime::output::Output;

/// The printed lines and the `--stats` report of `src` with the rules in `disabled` off.
fn run(src: &str, disabled: &[&str]) -> (Vec<String>, String) {
    dml::rewrite::check_rewrites_strictly();
    let rewrites =
        RewriteConfig { disabled: disabled.iter().map(|s| s.to_string()).collect(), ..Default::default() };
    let opts = Options { rewrites, ..Options::default() };
    let cfg = RunConfig { explain: Explain::None, stats: true };
    let out = Output::buffer();
    let mut map = SourceMap::new();
    match run_script(&mut map, "pool_argmax.dml", src, &opts, &cfg, &out) {
        Ok(report) => (out.take().lines().map(String::from).collect(), report),
        Err(e) => panic!("script failed: {e:?}\n{src}"),
    }
}

/// A convolution, ReLU and max pooling, a loss on the pooled values and the gradient back to the
/// convolution's output, in a loop (as in training) so the pair shares one block; `pool` is the
/// window, `hw` the image side.
fn step(pool: &str, hw: usize, out_cells: usize) -> String {
    format!(
        "X = rand(rows=3, cols=2*{hw}*{hw}, min=-1, max=1, seed=1)
W = rand(rows=4, cols=2*9, min=-1, max=1, seed=2)
T = rand(rows=3, cols={out_cells}, seed=3)
acc = 0
for (i in 1:2) {{
  C = conv2d(X, W, input_shape=[3,2,{hw},{hw}], filter_shape=[4,2,3,3], stride=[1,1], padding=[1,1])
  R = max(C, 0)
  P = max_pool(R, input_shape=[3,4,{hw},{hw}], {pool})
  dP = P - T
  dR = max_pool_backward(R, dP, input_shape=[3,4,{hw},{hw}], {pool})
  dC = dR * (C > 0)
  acc = acc + sum(P) + sum(dC * C) + sum(dC^2)
  W = W - 0.01 * conv2d_backward_filter(X, dC, stride=[1,1], padding=[1,1], input_shape=[3,2,{hw},{hw}], filter_shape=[4,2,3,3])
}}
print(acc)
print(sum(W))
print(as.scalar(dC[3, 4*{hw}*{hw}]))
"
    )
}

fn same_with_and_without(src: &str) {
    let (on, report) = run(src, &[]);
    assert!(report.contains("_relu_max_pool_argmax") && report.contains("_max_pool_backward_at"), "{report}");
    let (off, report) = run(src, &["fuse_max_pool_argmax"]);
    assert!(!report.contains("_max_pool_backward_at"), "{report}");
    assert!(report.contains("_relu_max_pool_backward"), "{report}");
    assert_eq!(on, off, "the rewrite changed a value:\n{src}");
}

#[test]
fn tiling_2x2_windows_give_the_unfused_values() {
    // 8x8 images, 2x2 windows at stride 2: the kernels' 2x2 path; 4 channels of 4x4 outputs.
    same_with_and_without(&step("pool_size=[2,2], stride=[2,2], padding=[0,0]", 8, 64));
}

#[test]
fn overlapping_padded_windows_give_the_unfused_values() {
    // 3x3 windows at stride 2 with padding 1 over 7x7 images: 4x4 outputs, windows overlap.
    same_with_and_without(&step("pool_size=[3,3], stride=[2,2], padding=[1,1]", 7, 64));
}
