//! The Caffe converter against references that do not come from it: finite differences of the
//! loss for every layer's backward pass, Rust transcriptions of Caffe's own forward loops
//! (pooling in ceil mode, average pooling's divisor, LRN, grouped and dilated convolution,
//! BatchNorm's stored statistics), Caffe's update rules and learning-rate formulas step by step,
//! and a `.caffemodel` written here with prost that must read back exactly. Each of SystemML's
//! Caffe2DML bugs (docs caffe2dml.md §10) that applies to Caffe input has a test named after it.

use dml::convert::Model;
use dml::convert::caffe::{NetOptions, caffe_from_text, proto, solver};
use dml::convert::ir::CaffePolicy;
use ndarray::Array2;
use prost::Message;

const SGD: &str = "base_lr: 0.1 lr_policy: \"fixed\" max_iter: 1 display: 0";

fn load(net: &str, solver: &str) -> Model {
    caffe_from_text(("net.prototxt", net), Some(("solver.prototxt", solver)), None, &NetOptions::default())
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A deterministic pseudo-random matrix in [-1, 1).
fn rand(rows: usize, cols: usize, seed: u64) -> Array2<f64> {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    Array2::from_shape_fn((rows, cols), |_| {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    })
}

/// An Input layer giving `data` (N x shape) and `label` (N x label_width).
fn input(shape: &[usize], label: usize) -> String {
    let dims: String = shape.iter().map(|d| format!("dim: {d} ")).collect();
    format!(
        "layer {{ name: \"in\" type: \"Input\" top: \"data\" top: \"label\" \
         input_param {{ shape {{ dim: 2 {dims}}} shape {{ dim: 2 dim: {label} }} }} }}\n"
    )
}

fn gauss(std: f64) -> String {
    format!("weight_filler {{ type: \"gaussian\" std: {std} }} bias_filler {{ type: \"gaussian\" std: 0.1 }}")
}

/// Checks every trainable parameter's gradient against central differences of the loss.
fn fd_check(m: &Model, x: &Array2<f64>, y: &Array2<f64>, what: &str) {
    let g = m.gradients(x, y).unwrap_or_else(|e| panic!("{what}: {e}"));
    let h = 1e-5;
    for (&p, grad) in &g.grads {
        let n = grad.len();
        let picks: Vec<usize> = (0..n.min(4)).map(|k| k * n / n.min(4)).chain([n - 1]).collect();
        for idx in picks {
            let (r, c) = (idx / grad.ncols(), idx % grad.ncols());
            let mut plus = m.clone();
            plus.graph.params[p].value[[r, c]] += h;
            let mut minus = m.clone();
            minus.graph.params[p].value[[r, c]] -= h;
            let lp = plus.gradients(x, y).unwrap().loss;
            let lm = minus.gradients(x, y).unwrap().loss;
            let fd = (lp - lm) / (2.0 * h);
            let an = grad[[r, c]];
            assert!(
                (fd - an).abs() <= 1e-6 + 1e-5 * an.abs().max(fd.abs()),
                "{what}: d{}[{r},{c}]: backward {an}, finite differences {fd}",
                m.graph.params[p].var
            );
        }
    }
}

/// A net: Input (2 examples), a trainable 1x1 convolution (so the tested layer's input gradient
/// is checked through it), the layers under test, EuclideanLoss on `last`.
fn conv_net(shape: [usize; 3], body: &str, last: &str, label: usize) -> String {
    let loss = if label == 0 {
        String::new()
    } else {
        format!(
            "layer {{ name: \"loss\" type: \"EuclideanLoss\" bottom: \"{last}\" bottom: \"label\" top: \"loss\" }}\n"
        )
    };
    format!(
        "name: \"t\"\n{}layer {{ name: \"pre\" type: \"Convolution\" bottom: \"data\" top: \"pre\" \
         convolution_param {{ num_output: {} kernel_size: 1 {} }} }}\n{body}\n{loss}",
        input(&shape, label.max(1)),
        shape[0],
        gauss(0.7)
    )
}

fn check_layers(shape: [usize; 3], body: &str, last: &str, what: &str) {
    // The label width is the tested output's size: load once to learn it.
    let probe = load(&conv_net(shape, body, last, 0), SGD);
    let width = probe.graph.tensors[probe.graph.outputs[0]].width();
    let m = load(&conv_net(shape, body, last, width), SGD);
    let cells = shape.iter().product();
    let x = rand(2, cells, 7);
    let y = rand(2, width, 11);
    fd_check(&m, &x, &y, what);
}

#[test]
fn convolution_with_groups_and_dilation_matches_finite_differences() {
    check_layers(
        [4, 7, 6],
        &format!(
            "layer {{ name: \"c\" type: \"Convolution\" bottom: \"pre\" top: \"c\" convolution_param {{ num_output: 6 kernel_size: 3 group: 2 dilation: 2 pad: 1 stride: 2 {} }} }}",
            gauss(0.5)
        ),
        "c",
        "grouped dilated convolution",
    );
    check_layers(
        [3, 6, 5],
        &format!(
            "layer {{ name: \"c\" type: \"Convolution\" bottom: \"pre\" top: \"c\" convolution_param {{ num_output: 2 kernel_h: 3 kernel_w: 2 pad_h: 1 stride_h: 1 stride_w: 2 bias_term: false {} }} }}",
            gauss(0.5)
        ),
        "c",
        "plain convolution without bias",
    );
}

#[test]
fn deconvolution_has_num_output_channels_and_matches_finite_differences() {
    // Caffe2DML bug 11: the output shape reported the input channels instead of num_output.
    let body = format!(
        "layer {{ name: \"d\" type: \"Deconvolution\" bottom: \"pre\" top: \"d\" convolution_param {{ num_output: 5 kernel_size: 3 stride: 2 pad: 1 {} }} }}",
        gauss(0.5)
    );
    let m = load(&conv_net([2, 4, 3], &body, "d", 0), SGD);
    // (4 - 1) * 2 + 3 - 2 = 7, (3 - 1) * 2 + 3 - 2 = 5, 5 channels.
    assert_eq!(m.graph.tensors[m.graph.outputs[0]].width(), 5 * 7 * 5);
    check_layers([2, 4, 3], &body, "d", "deconvolution");
}

#[test]
fn pooling_in_ceil_mode_matches_finite_differences() {
    for pool in ["MAX", "AVE"] {
        check_layers(
            [2, 6, 7],
            &format!(
                "layer {{ name: \"p\" type: \"Pooling\" bottom: \"pre\" top: \"p\" pooling_param {{ pool: {pool} kernel_size: 3 stride: 2 pad: 1 }} }}"
            ),
            "p",
            &format!("{pool} pooling with padding, ceil mode"),
        );
        check_layers(
            [2, 5, 4],
            &format!(
                "layer {{ name: \"p\" type: \"Pooling\" bottom: \"pre\" top: \"p\" pooling_param {{ pool: {pool} global_pooling: true }} }}"
            ),
            "p",
            &format!("global {pool} pooling"),
        );
    }
}

/// Caffe's pooling forward loop (pooling_layer.cpp), transcribed: NCHW in, NCHW out.
#[allow(clippy::too_many_arguments)]
fn caffe_pool(
    x: &[f64],
    c: usize,
    h: usize,
    w: usize,
    k: usize,
    s: usize,
    p: usize,
    max: bool,
) -> (Vec<f64>, usize, usize) {
    let out = |n: usize| {
        let mut o = (n + 2 * p - k).div_ceil(s) + 1;
        if p > 0 && (o - 1) * s >= n + p {
            o -= 1;
        }
        o
    };
    let (oh, ow) = (out(h), out(w));
    let mut y = vec![0.0; c * oh * ow];
    for ch in 0..c {
        for i in 0..oh {
            for j in 0..ow {
                let (hs, ws) = ((i * s) as i64 - p as i64, (j * s) as i64 - p as i64);
                let (he, we) = ((hs + k as i64).min((h + p) as i64), (ws + k as i64).min((w + p) as i64));
                let size = ((he - hs) * (we - ws)) as f64;
                let (hs, ws, he, we) = (hs.max(0), ws.max(0), he.min(h as i64), we.min(w as i64));
                let mut acc = if max { f64::NEG_INFINITY } else { 0.0 };
                for a in hs..he {
                    for b in ws..we {
                        let v = x[ch * h * w + a as usize * w + b as usize];
                        if max { acc = acc.max(v) } else { acc += v }
                    }
                }
                y[ch * oh * ow + i * ow + j] = if max { acc } else { acc / size };
            }
        }
    }
    (y, oh, ow)
}

fn forward_only(shape: [usize; 3], body: &str) -> Model {
    let net = format!("name: \"f\"\n{}{body}\n", input(&shape, 1));
    load(&net, SGD)
}

fn assert_close(ours: &[f64], theirs: &[f64], tol: f64, what: &str) {
    assert_eq!(ours.len(), theirs.len(), "{what}: sizes");
    for (i, (a, b)) in ours.iter().zip(theirs).enumerate() {
        assert!((a - b).abs() <= tol * (1.0 + b.abs()), "{what}: cell {i}: ours {a}, reference {b}");
    }
}

#[test]
fn pooling_forward_is_caffes_loop() {
    let (c, h, w) = (2, 6, 7);
    let x = rand(2, c * h * w, 3);
    for (pool, max) in [("MAX", true), ("AVE", false)] {
        for (k, s, p) in [(3, 2, 1), (3, 2, 0), (2, 2, 1), (3, 3, 0)] {
            let m = forward_only(
                [c, h, w],
                &format!(
                    "layer {{ name: \"p\" type: \"Pooling\" bottom: \"data\" top: \"p\" pooling_param {{ pool: {pool} kernel_size: {k} stride: {s} pad: {p} }} }}"
                ),
            );
            let got = m.predict(&x, 2).unwrap();
            for r in 0..2 {
                let (want, _, _) = caffe_pool(&x.row(r).to_vec(), c, h, w, k, s, p, max);
                assert_close(&got.row(r).to_vec(), &want, 1e-12, &format!("{pool} k{k} s{s} p{p}"));
            }
        }
    }
}

#[test]
fn lrn_matches_caffes_formula_and_finite_differences() {
    let (c, h, w) = (5, 2, 3);
    let x = rand(2, c * h * w, 5);
    let m = forward_only(
        [c, h, w],
        "layer { name: \"n\" type: \"LRN\" bottom: \"data\" top: \"n\" lrn_param { local_size: 3 alpha: 0.5 beta: 0.75 k: 2 } }",
    );
    let got = m.predict(&x, 2).unwrap();
    for r in 0..2 {
        let xr = x.row(r).to_vec();
        let mut want = vec![0.0; xr.len()];
        for ch in 0..c {
            for q in 0..h * w {
                let lo = ch.saturating_sub(1);
                let hi = (ch + 1).min(c - 1);
                let sum: f64 = (lo..=hi).map(|cc| xr[cc * h * w + q].powi(2)).sum();
                want[ch * h * w + q] = xr[ch * h * w + q] * (2.0 + 0.5 / 3.0 * sum).powf(-0.75);
            }
        }
        assert_close(&got.row(r).to_vec(), &want, 1e-12, "LRN");
    }
    check_layers(
        [4, 2, 2],
        "layer { name: \"n\" type: \"LRN\" bottom: \"pre\" top: \"n\" lrn_param { local_size: 3 alpha: 0.5 beta: 0.75 } }",
        "n",
        "LRN",
    );
}

#[test]
fn grouped_dilated_convolution_forward_is_caffes_loop() {
    let (c, h, w, f, k, g, d, p, s) = (4, 7, 6, 6, 3, 2, 2, 1, 2);
    let x = rand(2, c * h * w, 9);
    let m = forward_only(
        [c, h, w],
        &format!(
            "layer {{ name: \"c\" type: \"Convolution\" bottom: \"data\" top: \"c\" convolution_param {{ num_output: {f} kernel_size: {k} group: {g} dilation: {d} pad: {p} stride: {s} {} }} }}",
            gauss(0.5)
        ),
    );
    let wt = &m.graph.params[0].value; // (F, C/g * k * k), Caffe's blob
    let b = &m.graph.params[1].value;
    let got = m.predict(&x, 2).unwrap();
    let ke = d * (k - 1) + 1;
    let (oh, ow) = ((h + 2 * p - ke) / s + 1, (w + 2 * p - ke) / s + 1);
    let cg = c / g;
    for r in 0..2 {
        let mut want = vec![0.0; f * oh * ow];
        for o in 0..f {
            let grp = o / (f / g);
            for i in 0..oh {
                for j in 0..ow {
                    let mut acc = b[[o, 0]];
                    for ci in 0..cg {
                        for a in 0..k {
                            for bb in 0..k {
                                let (y, xx) =
                                    ((i * s + a * d) as i64 - p as i64, (j * s + bb * d) as i64 - p as i64);
                                if y < 0 || xx < 0 || y >= h as i64 || xx >= w as i64 {
                                    continue;
                                }
                                let ch = grp * cg + ci;
                                acc += wt[[o, ci * k * k + a * k + bb]]
                                    * x[[r, ch * h * w + y as usize * w + xx as usize]];
                            }
                        }
                    }
                    want[o * oh * ow + i * ow + j] = acc;
                }
            }
        }
        assert_close(&got.row(r).to_vec(), &want, 1e-12, "grouped dilated convolution");
    }
}

#[test]
fn inner_product_activations_and_merges_match_finite_differences() {
    let ip = |name: &str, bottom: &str, n: usize| {
        format!(
            "layer {{ name: \"{name}\" type: \"InnerProduct\" bottom: \"{bottom}\" top: \"{name}\" inner_product_param {{ num_output: {n} {} }} }}\n",
            gauss(0.4)
        )
    };
    let cases = [
        (
            "ReLU leaky",
            "layer { name: \"a\" type: \"ReLU\" bottom: \"ip\" top: \"ip\" relu_param { negative_slope: 0.1 } }",
            "ip",
        ),
        (
            "PReLU",
            "layer { name: \"a\" type: \"PReLU\" bottom: \"ip\" top: \"a\" prelu_param { filler { type: \"constant\" value: 0.3 } } }",
            "a",
        ),
        (
            "ELU",
            "layer { name: \"a\" type: \"ELU\" bottom: \"ip\" top: \"a\" elu_param { alpha: 0.7 } }",
            "a",
        ),
        ("Sigmoid", "layer { name: \"a\" type: \"Sigmoid\" bottom: \"ip\" top: \"a\" }", "a"),
        ("TanH", "layer { name: \"a\" type: \"TanH\" bottom: \"ip\" top: \"a\" }", "a"),
        ("Softmax", "layer { name: \"a\" type: \"Softmax\" bottom: \"ip\" top: \"a\" }", "a"),
    ];
    for (what, body, last) in cases {
        check_layers([2, 3, 3], &format!("{}{body}", ip("ip", "pre", 5)), last, what);
    }
    // Split (fan-out) into Eltwise SUM with coefficients, PROD, MAX, and Concat.
    let two = format!(
        "layer {{ name: \"sp\" type: \"Split\" bottom: \"pre\" top: \"s1\" top: \"s2\" }}\n{}{}",
        ip("u", "s1", 4),
        ip("v", "s2", 4)
    );
    for (what, op) in [
        ("Eltwise SUM with coefficients", "eltwise_param { operation: SUM coeff: 0.5 coeff: -2 }"),
        ("Eltwise PROD", "eltwise_param { operation: PROD }"),
        ("Eltwise MAX", "eltwise_param { operation: MAX }"),
    ] {
        check_layers(
            [2, 2, 2],
            &format!(
                "{two}layer {{ name: \"e\" type: \"Eltwise\" bottom: \"u\" bottom: \"v\" top: \"e\" {op} }}"
            ),
            "e",
            what,
        );
    }
    check_layers(
        [2, 2, 2],
        &format!("{two}layer {{ name: \"e\" type: \"Concat\" bottom: \"u\" bottom: \"v\" top: \"e\" }}"),
        "e",
        "Concat of vectors",
    );
}

#[test]
fn image_layers_match_finite_differences() {
    let conv = |name: &str, bottom: &str, n: usize| {
        format!(
            "layer {{ name: \"{name}\" type: \"Convolution\" bottom: \"{bottom}\" top: \"{name}\" convolution_param {{ num_output: {n} kernel_size: 3 pad: 1 {} }} }}\n",
            gauss(0.4)
        )
    };
    // Caffe2DML bug 21: a standalone Scale was an identity with no gradients.
    check_layers(
        [3, 4, 4],
        "layer { name: \"sc\" type: \"Scale\" bottom: \"pre\" top: \"sc\" scale_param { bias_term: true filler { type: \"gaussian\" std: 1 } bias_filler { type: \"gaussian\" std: 1 } } }",
        "sc",
        "standalone Scale",
    );
    check_layers(
        [3, 4, 4],
        "layer { name: \"bn\" type: \"BatchNorm\" bottom: \"pre\" top: \"pre\" }\nlayer { name: \"sc\" type: \"Scale\" bottom: \"pre\" top: \"pre\" scale_param { bias_term: true filler { type: \"gaussian\" std: 1 } } }\nlayer { name: \"sq\" type: \"Eltwise\" bottom: \"pre\" bottom: \"pre\" top: \"sq\" eltwise_param { operation: PROD } }",
        "sq",
        "in-place BatchNorm + Scale (batch statistics)",
    );
    check_layers(
        [2, 3, 4],
        &format!(
            "{}{}layer {{ name: \"cat\" type: \"Concat\" bottom: \"c1\" bottom: \"c2\" top: \"cat\" }}",
            conv("c1", "pre", 2),
            conv("c2", "pre", 3)
        ),
        "cat",
        "Concat of channels",
    );
    check_layers(
        [2, 3, 2],
        "layer { name: \"u\" type: \"Upsample\" bottom: \"pre\" top: \"u\" upsample_param { size_h: 2 size_w: 3 } }",
        "u",
        "Upsample",
    );
    check_layers(
        [2, 3, 2],
        &format!(
            "layer {{ name: \"fl\" type: \"Flatten\" bottom: \"pre\" top: \"fl\" }}\nlayer {{ name: \"r\" type: \"Reshape\" bottom: \"fl\" top: \"r\" reshape_param {{ shape {{ dim: 0 dim: 3 dim: -1 dim: 2 }} }} }}\n{}",
            conv("c", "r", 2)
        ),
        "c",
        "Flatten and Reshape in NCHW order",
    );
}

/// One training step with full batches equals Caffe's update rule computed here from the
/// converter's own gradients (checked against finite differences above).
fn solver_steps(solver_text: &str, decay_l1: bool) {
    let net = format!(
        "name: \"s\"\n{}layer {{ name: \"ip\" type: \"InnerProduct\" bottom: \"data\" top: \"ip\" param {{ lr_mult: 1 decay_mult: 1 }} param {{ lr_mult: 2 decay_mult: 0 }} inner_product_param {{ num_output: 3 {} }} }}\n\
         layer {{ name: \"loss\" type: \"EuclideanLoss\" bottom: \"ip\" bottom: \"label\" top: \"loss\" }}\n",
        input(&[4], 3),
        gauss(0.5)
    );
    let mut m = load(&net, solver_text);
    let s = m.caffe.as_ref().unwrap().solver.clone();
    let x = rand(2, 4, 1);
    let y = rand(2, 3, 2);
    let mults = [(1.0, 1.0), (2.0, 0.0)];
    let mut hist: Vec<[Array2<f64>; 2]> =
        m.graph.params.iter().map(|p| [Array2::zeros(p.value.dim()), Array2::zeros(p.value.dim())]).collect();
    for it in 0..3 {
        let g = m.gradients(&x, &y).unwrap();
        let rate = solver::rate(s.base_lr, &s.policy, it as f64);
        let mut want = Vec::new();
        for (p, param) in m.graph.params.iter().enumerate() {
            let (lr_mult, decay_mult) = mults[p];
            let w = &param.value;
            let decay = s.weight_decay * decay_mult;
            let d = &g.grads[&p] + &(if decay_l1 { w.mapv(f64::signum) } else { w.clone() } * decay);
            let lr = rate * lr_mult;
            let [h, h2] = &mut hist[p];
            let new = match s.kind {
                solver::SolverType::Sgd => {
                    *h = &*h * s.momentum + &(&d * lr);
                    w - &*h
                }
                solver::SolverType::Nesterov => {
                    let prev = h.clone();
                    *h = &*h * s.momentum + &(&d * lr);
                    w - &(&*h * (1.0 + s.momentum) - &prev * s.momentum)
                }
                solver::SolverType::AdaGrad => {
                    *h = &*h + &d.mapv(|v| v * v);
                    w - &(&d * lr / &h.mapv(|v| v.sqrt() + s.delta))
                }
                solver::SolverType::RmsProp => {
                    *h = &*h * s.rms_decay + &(d.mapv(|v| v * v) * (1.0 - s.rms_decay));
                    w - &(&d * lr / &h.mapv(|v| v.sqrt() + s.delta))
                }
                solver::SolverType::AdaDelta => {
                    *h = &*h * s.momentum + &(d.mapv(|v| v * v) * (1.0 - s.momentum));
                    let upd = &d * &((&*h2 + s.delta) / (&*h + s.delta)).mapv(f64::sqrt);
                    *h2 = &*h2 * s.momentum + &(upd.mapv(|v| v * v) * (1.0 - s.momentum));
                    w - &(upd * lr)
                }
                solver::SolverType::Adam => {
                    *h = &*h * s.momentum + &(&d * (1.0 - s.momentum));
                    *h2 = &*h2 * s.momentum2 + &(d.mapv(|v| v * v) * (1.0 - s.momentum2));
                    let t = it as f64 + 1.0;
                    let corr = (1.0 - s.momentum2.powf(t)).sqrt() / (1.0 - s.momentum.powf(t));
                    w - &(&*h * (lr * corr) / &h2.mapv(|v| v.sqrt() + s.delta))
                }
            };
            want.push(new);
        }
        m.fit_caffe(&x, &y, None, Some(1), false).unwrap();
        for (p, w) in want.iter().enumerate() {
            assert_close(
                &m.graph.params[p].value.iter().copied().collect::<Vec<_>>(),
                &w.iter().copied().collect::<Vec<_>>(),
                1e-12,
                &format!("{:?} step {it} param {p}", s.kind),
            );
        }
    }
}

#[test]
fn every_solver_type_updates_as_caffe_with_lr_and_decay_multipliers() {
    let base =
        "base_lr: 0.05 lr_policy: \"step\" gamma: 0.5 stepsize: 2 max_iter: 10 display: 0 weight_decay: 0.01";
    solver_steps(&format!("{base} type: \"SGD\" momentum: 0.9"), false);
    solver_steps(&format!("{base} type: \"SGD\" momentum: 0.9 regularization_type: \"L1\""), true);
    solver_steps(&format!("{base} type: \"Nesterov\" momentum: 0.8"), false);
    solver_steps(&format!("{base} type: \"AdaGrad\""), false);
    solver_steps(&format!("{base} type: \"RMSProp\" rms_decay: 0.9"), false);
    solver_steps(&format!("{base} type: \"AdaDelta\" momentum: 0.95 delta: 1e-6"), false);
    // Caffe2DML bug 5: Adam's bias update used the weight's moments.
    solver_steps(&format!("{base} type: \"Adam\" momentum: 0.9 momentum2: 0.999"), false);
}

#[test]
fn omitted_solver_fields_keep_caffes_defaults() {
    // Caffe2DML bug 13: a missing delta or momentum2 became 0.
    let m = proto::parse_text(
        "s",
        "base_lr: 0.1 lr_policy: \"fixed\" type: \"Adam\" momentum: 0.9",
        "SolverParameter",
    )
    .unwrap();
    let s = solver::read(&m, "s").unwrap();
    assert_eq!((s.delta as f32, s.momentum2 as f32, s.rms_decay as f32), (1e-8, 0.999, 0.99));
}

#[test]
fn every_lr_policy_gives_caffes_rate_at_every_iteration() {
    // Caffe2DML bug 6: poly and sigmoid did not run, and rates followed epochs, not iterations.
    let policies = [
        ("fixed", CaffePolicy::Fixed),
        ("step gamma: 0.5 stepsize: 3", CaffePolicy::Step { gamma: 0.5, stepsize: 3.0 }),
        (
            "multistep gamma: 0.1 stepvalue: 2 stepvalue: 5",
            CaffePolicy::MultiStep { gamma: 0.1, steps: vec![2.0, 5.0] },
        ),
        ("exp gamma: 0.9", CaffePolicy::Exp { gamma: 0.9 }),
        ("inv gamma: 0.1 power: 0.75", CaffePolicy::Inv { gamma: 0.1, power: 0.75 }),
        ("poly power: 2", CaffePolicy::Poly { power: 2.0, max_iter: 8.0 }),
        ("sigmoid gamma: -0.5 stepsize: 4", CaffePolicy::Sigmoid { gamma: -0.5, stepsize: 4.0 }),
    ];
    // Caffe's documented formulas (solver.prototxt comments), written out independently.
    let caffe = |p: &CaffePolicy, it: f64| -> f64 {
        let b = 0.2;
        match p {
            CaffePolicy::Fixed => b,
            CaffePolicy::Step { .. } => b * 0.5f64.powi((it / 3.0).floor() as i32),
            CaffePolicy::MultiStep { .. } => b * 0.1f64.powi((it >= 2.0) as i32 + (it >= 5.0) as i32),
            CaffePolicy::Exp { .. } => b * 0.9f64.powf(it),
            CaffePolicy::Inv { .. } => b * (1.0 + 0.1 * it).powf(-0.75),
            CaffePolicy::Poly { .. } => b * (1.0 - it / 8.0).powi(2),
            CaffePolicy::Sigmoid { .. } => b / (1.0 + (0.5 * (it - 4.0)).exp()),
        }
    };
    let net = format!(
        "name: \"l\"\n{}layer {{ name: \"ip\" type: \"InnerProduct\" bottom: \"data\" top: \"ip\" inner_product_param {{ num_output: 1 {} }} }}\n\
         layer {{ name: \"loss\" type: \"EuclideanLoss\" bottom: \"ip\" bottom: \"label\" top: \"loss\" }}\n",
        input(&[2], 1),
        gauss(0.1)
    );
    for (text, policy) in policies {
        let (name, rest) = text.split_once(' ').unwrap_or((text, ""));
        let solver_text = format!("base_lr: 0.2 max_iter: 8 display: 0 lr_policy: \"{name}\" {rest}");
        let mut m = load(&net, &solver_text);
        let read = m.caffe.as_ref().unwrap().solver.policy.clone();
        assert_eq!(std::mem::discriminant(&read), std::mem::discriminant(&policy), "{name}");
        let policy = read;
        let h = m.fit_caffe(&rand(4, 2, 3), &rand(4, 1, 4), None, None, false).unwrap();
        let lr = &h["lr"];
        assert_eq!(lr.len(), 8, "{name}: one rate per iteration");
        for (it, &r) in lr.iter().enumerate() {
            let want = caffe(&policy, it as f64);
            // The solver's numbers are Caffe floats; compare at float precision.
            assert!(
                (r - want).abs() <= 1e-6 * want.abs().max(1e-12),
                "{name} iteration {it}: {r} vs Caffe {want}"
            );
            assert!(
                (r - solver::rate(0.2f32 as f64, &policy, it as f64)).abs() <= 1e-15,
                "{name}: the script's rate is solver::rate"
            );
        }
    }
}

#[test]
fn dropout_ratio_is_the_drop_probability() {
    // Caffe2DML bug 1: nn's dropout takes the keep probability; the ratio went straight through.
    let net = format!(
        "name: \"d\"\n{}layer {{ name: \"sc\" type: \"Scale\" bottom: \"data\" top: \"sc\" }}\n\
         layer {{ name: \"drop\" type: \"Dropout\" bottom: \"sc\" top: \"sc\" dropout_param {{ dropout_ratio: 0.2 }} }}\n\
         layer {{ name: \"loss\" type: \"EuclideanLoss\" bottom: \"sc\" bottom: \"label\" top: \"loss\" }}\n",
        input(&[2000], 2000)
    );
    let m = load(&net, SGD);
    let x = Array2::from_elem((2, 2000), 1.0);
    let y = Array2::zeros((2, 2000));
    // Kept cells are 1 / 0.8; the loss is (kept count / 0.64) / (2 * 2): about 2000 * 0.8 / 0.64 / 2 * ... per row.
    let loss = m.gradients(&x, &y).unwrap().loss;
    let expected = 2.0 * 2000.0 * 0.8 / 0.64 / 4.0;
    assert!((loss / expected - 1.0).abs() < 0.05, "loss {loss}, expected about {expected} (keep 0.8)");
    // Inference is the identity.
    assert_eq!(m.predict(&x, 2).unwrap(), x);
}

fn lenet() -> Model {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/caffe");
    dml::convert::load_caffe_with(
        &dir.join("lenet.prototxt"),
        Some(&dir.join("lenet_solver.prototxt")),
        None,
        &NetOptions { input_shape: Some(vec![1, 28, 28]), seed: 0 },
    )
    .unwrap()
}

/// Images of 10 classes: a bright block whose place is the class, on noise (0..255 like MNIST).
fn blocks(n: usize, seed: u64) -> (Array2<f64>, Array2<f64>) {
    let noise = rand(n, 784, seed);
    let mut x = noise.mapv(|v| (v + 1.0) * 20.0);
    let mut y = Array2::zeros((n, 1));
    for r in 0..n {
        let k = (r * 7 + seed as usize) % 10;
        y[[r, 0]] = k as f64;
        let (r0, c0) = ((k / 5) * 14, (k % 5) * 5);
        for a in r0..r0 + 10 {
            for b in c0..c0 + 5 {
                x[[r, a * 28 + b]] += 200.0;
            }
        }
    }
    (x, y)
}

#[test]
fn lenet_converts_and_its_loss_falls() {
    let mut m = lenet();
    let s = &m.caffe.as_ref().unwrap().solver;
    assert_eq!((s.max_iter, s.test_iter, s.test_interval, s.display), (2000, 10, 500, 100));
    assert_eq!(s.policy, CaffePolicy::Exp { gamma: 0.95f32 as f64 });
    assert_eq!(m.caffe.as_ref().unwrap().batch_size, Some(64));
    let (x, y) = blocks(128, 1);
    let h = m.fit_caffe(&x, &y, None, Some(12), false).unwrap();
    let l = &h["loss"];
    assert!(l[11] < 0.5 * l[0], "loss fell from {} to {}", l[0], l[11]);
    // The scale 1/256 of the Data layer applies at prediction too (Caffe2DML bug 12).
    let p = m.predict(&x, 64).unwrap();
    let acc = (0..128)
        .filter(|&r| {
            let row = p.row(r);
            let best = (0..10).max_by(|&a, &b| row[a].total_cmp(&row[b])).unwrap();
            best as f64 == y[[r, 0]]
        })
        .count();
    assert!(acc > 64, "accuracy {acc}/128 after 12 iterations");
}

#[test]
fn a_residual_net_with_batchnorm_scale_and_eltwise_trains() {
    let conv = |name: &str, bottom: &str| {
        format!(
            "layer {{ name: \"{name}\" type: \"Convolution\" bottom: \"{bottom}\" top: \"{name}\" convolution_param {{ num_output: 4 kernel_size: 3 pad: 1 bias_term: false weight_filler {{ type: \"msra\" }} }} }}\n\
                 layer {{ name: \"{name}_bn\" type: \"BatchNorm\" bottom: \"{name}\" top: \"{name}\" }}\n\
                 layer {{ name: \"{name}_scale\" type: \"Scale\" bottom: \"{name}\" top: \"{name}\" scale_param {{ bias_term: true }} }}\n"
        )
    };
    let net = format!(
        "name: \"res\"\nlayer {{ name: \"in\" type: \"Input\" top: \"data\" top: \"label\" input_param {{ shape {{ dim: 8 dim: 1 dim: 6 dim: 6 }} shape {{ dim: 8 dim: 1 }} }} }}\n{}\
         layer {{ name: \"relu0\" type: \"ReLU\" bottom: \"c0\" top: \"c0\" }}\n{}\
         layer {{ name: \"relu1\" type: \"ReLU\" bottom: \"c1\" top: \"c1\" }}\n{}\
         layer {{ name: \"sum\" type: \"Eltwise\" bottom: \"c0\" bottom: \"c2\" top: \"sum\" }}\n\
         layer {{ name: \"relu2\" type: \"ReLU\" bottom: \"sum\" top: \"sum\" }}\n\
         layer {{ name: \"gap\" type: \"Pooling\" bottom: \"sum\" top: \"gap\" pooling_param {{ pool: AVE global_pooling: true }} }}\n\
         layer {{ name: \"fc\" type: \"InnerProduct\" bottom: \"gap\" top: \"fc\" inner_product_param {{ num_output: 2 weight_filler {{ type: \"xavier\" }} }} }}\n\
         layer {{ name: \"loss\" type: \"SoftmaxWithLoss\" bottom: \"fc\" bottom: \"label\" top: \"loss\" }}\n",
        conv("c0", "data"),
        conv("c1", "c0"),
        conv("c2", "c1")
    );
    let solver = "base_lr: 0.1 lr_policy: \"fixed\" momentum: 0.9 max_iter: 30 display: 0 type: \"SGD\"";
    let mut m = load(&net, solver);
    // Two classes: bright top half or bright bottom half.
    let n = 16;
    let mut x = rand(n, 36, 5).mapv(|v| v * 0.3);
    let mut y = Array2::zeros((n, 1));
    for r in 0..n {
        let k = r % 2;
        y[[r, 0]] = k as f64;
        for c in (k * 18)..(k * 18 + 18) {
            x[[r, c]] += 1.0;
        }
    }
    fd_check(
        &m,
        &x.slice(ndarray::s![0..4, ..]).to_owned(),
        &y.slice(ndarray::s![0..4, ..]).to_owned(),
        "residual net",
    );
    let h = m.fit_caffe(&x, &y, None, None, false).unwrap();
    let l = &h["loss"];
    let first: f64 = l[..5].iter().sum::<f64>() / 5.0;
    let last: f64 = l[25..].iter().sum::<f64>() / 5.0;
    assert!(last < 0.5 * first, "loss fell from {first} to {last}");
    // Training updated BatchNorm's running sums; its factor counts the iterations (Caffe's blob 2).
    let factor = m.graph.params.iter().find(|p| p.var == "c0_bn_factor").unwrap().value[[0, 0]];
    let want: f64 = (0..30).fold(0.0, |f, _| f * 0.999f32 as f64 + 1.0);
    assert!((factor - want).abs() < 1e-9, "factor {factor} vs {want}");
}

#[test]
fn a_caffemodel_written_with_prost_reads_back_exactly() {
    let net = format!(
        "name: \"w\"\n{}layer {{ name: \"conv\" type: \"Convolution\" bottom: \"data\" top: \"conv\" convolution_param {{ num_output: 3 kernel_size: 2 }} }}\n\
         layer {{ name: \"bn\" type: \"BatchNorm\" bottom: \"conv\" top: \"conv\" }}\n\
         layer {{ name: \"ip\" type: \"InnerProduct\" bottom: \"conv\" top: \"ip\" inner_product_param {{ num_output: 4 }} }}\n",
        input(&[2, 3, 3], 1)
    );
    // Blob values: distinct float32 numbers.
    let vals = |n: usize, base: f32| -> Vec<f32> { (0..n).map(|i| base + i as f32 * 0.125 - 1.5).collect() };
    let blob = |shape: &[usize], data: &[f32]| {
        let dims: String = shape.iter().map(|d| format!("dim: {d} ")).collect();
        let data: String = data.iter().map(|v| format!("data: {v:?} ")).collect();
        format!("blobs {{ shape {{ {dims}}} {data}}}")
    };
    let (cw, cb) = (vals(3 * 2 * 4, 0.0), vals(3, 5.0));
    let (mean, var, factor) = (vals(3, 1.0), vals(3, 9.0), vec![4.0f32]);
    let (iw, ib) = (vals(4 * 12, 2.0), vals(4, -3.0));
    let text = format!(
        "name: \"w\" layer {{ name: \"conv\" type: \"Convolution\" {} {} }} layer {{ name: \"bn\" type: \"BatchNorm\" {} {} {} }} \
         layer {{ name: \"ip\" type: \"InnerProduct\" {} {} }} layer {{ name: \"unused\" type: \"ReLU\" }}",
        blob(&[3, 2, 2, 2], &cw),
        blob(&[3], &cb),
        blob(&[3], &mean),
        blob(&[3], &var),
        blob(&[1], &factor),
        blob(&[4, 12], &iw),
        blob(&[4], &ib)
    );
    let bytes = proto::parse_text("gen", &text, "NetParameter").unwrap().encode_to_vec();
    let m =
        caffe_from_text(("net", &net), None, Some(("w.caffemodel", &bytes)), &NetOptions::default()).unwrap();
    let p = |v: &str| m.graph.params.iter().find(|p| p.var == v).unwrap().value.clone();
    let f = |x: &[f32]| x.iter().map(|&v| v as f64).collect::<Vec<_>>();
    assert_eq!(p("conv_weight").iter().copied().collect::<Vec<_>>(), f(&cw));
    assert_eq!(p("conv_bias").iter().copied().collect::<Vec<_>>(), f(&cb));
    assert_eq!(p("bn_mean").iter().copied().collect::<Vec<_>>(), f(&mean));
    assert_eq!(p("bn_variance").iter().copied().collect::<Vec<_>>(), f(&var));
    assert_eq!(p("bn_factor")[[0, 0]], 4.0);
    // Caffe's InnerProduct blob is (M, D); the DML weight is its transpose.
    let w = p("ip_weight");
    for o in 0..4 {
        for d in 0..12 {
            assert_eq!(w[[d, o]], iw[o * 12 + d] as f64);
        }
    }
    // Caffe2DML bug 14: the third BatchNorm blob (the factor) divides the stored sums.
    let x = rand(2, 18, 4);
    let out = m.predict(&x, 2).unwrap();
    let conv = m.clone();
    let _ = conv;
    let one = caffe_from_text(
        (
            "net",
            &net.replace(
                "layer { name: \"ip\"",
                "layer { name: \"cut\" type: \"Sigmoid\" bottom: \"x\" top: \"x\" }\nlayer { name: \"ipx\"",
            ),
        ),
        None,
        None,
        &NetOptions::default(),
    );
    let _ = one;
    // ip(bn(conv(x))) with bn = (c - mean/4) / sqrt(var/4 + 1e-5), checked on one output cell.
    let (c, h) = (3, 2);
    let xr = x.row(0);
    let mut conv_out = vec![0.0; c * h * h];
    for o in 0..c {
        for i in 0..h {
            for j in 0..h {
                let mut acc = cb[o] as f64;
                for ci in 0..2 {
                    for a in 0..2 {
                        for b in 0..2 {
                            acc += cw[o * 8 + ci * 4 + a * 2 + b] as f64 * xr[ci * 9 + (i + a) * 3 + j + b];
                        }
                    }
                }
                conv_out[o * 4 + i * 2 + j] =
                    (acc - mean[o] as f64 / 4.0) / (var[o] as f64 / 4.0 + 1e-5f32 as f64).sqrt();
            }
        }
    }
    let want: f64 = ib[0] as f64 + (0..12).map(|d| iw[d] as f64 * conv_out[d]).sum::<f64>();
    assert!((out[[0, 0]] - want).abs() < 1e-9 * want.abs().max(1.0), "{} vs {want}", out[[0, 0]]);
}

#[test]
fn bad_files_are_clear_errors() {
    let err = |net: &str, solver: &str| {
        caffe_from_text(
            ("net.prototxt", net),
            Some(("solver.prototxt", solver)),
            None,
            &NetOptions::default(),
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default()
    };
    let ok_net = format!(
        "{}layer {{ name: \"ip\" type: \"InnerProduct\" bottom: \"data\" top: \"ip\" inner_product_param {{ num_output: 2 }} }}",
        input(&[3], 2)
    );
    let e = err(&format!("{ok_net} layer {{ name: \"s\" type: \"SPP\" bottom: \"ip\" top: \"s\" }}"), SGD);
    assert!(e.contains("`s` (SPP)") && e.contains("not supported") && e.contains("Convolution"), "{e}");
    let e = err(&ok_net, "base_lr: 0.1 lr_policy: \"fixed\" momentum_typo: 0.9");
    assert!(e.contains("solver.prototxt") && e.contains("momentum_typo"), "{e}");
    let e = err(&ok_net, "base_lr: 0.1 lr_policy: \"cosine\"");
    assert!(e.contains("lr_policy") && e.contains("cosine"), "{e}");
    let e = err(&ok_net, "base_lr: 0.1 lr_policy: \"step\" gamma: 0.1");
    assert!(e.contains("stepsize"), "{e}");
    let e = err("layer { name: \"x\" type: \"ReLU\" bottom: ", SGD);
    assert!(e.contains("net.prototxt") && e.contains("line 1"), "{e}");
    let e = err(&format!("{ok_net} layer {{ name: \"r\" type: \"ReLU\" bottom: \"nope\" top: \"r\" }}"), SGD);
    assert!(e.contains("`r`") && e.contains("nope"), "{e}");
    // A corrupt .caffemodel.
    let e = caffe_from_text(
        ("net", &ok_net),
        None,
        Some(("bad.caffemodel", &[0x0a, 0xff, 0xff, 0x01, 0x02])),
        &NetOptions::default(),
    )
    .err()
    .unwrap()
    .to_string();
    assert!(e.contains("bad.caffemodel") && e.contains("protobuf"), "{e}");
    // Blobs that do not fit the layer.
    let bytes = proto::parse_text(
        "gen",
        "layer { name: \"ip\" blobs { data: 1 data: 2 } blobs { data: 1 data: 2 } }",
        "NetParameter",
    )
    .unwrap()
    .encode_to_vec();
    let e = caffe_from_text(("net", &ok_net), None, Some(("w.caffemodel", &bytes)), &NetOptions::default())
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("w.caffemodel") && e.contains("ip") && e.contains("expects 6"), "{e}");
}

#[test]
fn generated_text_and_weights_are_deterministic() {
    // Caffe2DML bug 20: random names made every generated script different.
    let a = lenet();
    let b = lenet();
    let o = dml::convert::script::TrainOptions::default();
    let io = dml::convert::script::Io::Files { weights_dir: "w".into() };
    assert_eq!(a.training_script(&o, &io).unwrap(), b.training_script(&o, &io).unwrap());
    assert_eq!(a.weights(), b.weights());
}

/// A recurrent net over `T x 2 x D` sequences: Input (data, cont, label), the layer under test
/// (`body`, reading `data` and `cont`), EuclideanLoss on `last` against a `T x 2 x width` label.
fn seq_net(t: usize, d: usize, body: &str, last: &str, width: usize) -> String {
    format!(
        "name: \"seq\"\nlayer {{ name: \"in\" type: \"Input\" top: \"data\" top: \"cont\" top: \"label\" \
         input_param {{ shape {{ dim: {t} dim: 2 dim: {d} }} shape {{ dim: {t} dim: 2 }} shape {{ dim: {t} dim: 2 dim: {width} }} }} }}\n\
         {body}\nlayer {{ name: \"loss\" type: \"EuclideanLoss\" bottom: \"{last}\" bottom: \"label\" top: \"loss\" }}\n"
    )
}

fn sigmoid(v: f64) -> f64 {
    1.0 / (1.0 + (-v).exp())
}

/// `W v` for a row-major `(rows, v.len())` matrix.
fn matvec(w: &[f64], v: &[f64]) -> Vec<f64> {
    w.chunks(v.len()).map(|row| row.iter().zip(v).map(|(a, b)| a * b).sum()).collect()
}

/// Caffe's LSTM over one sequence (rows of `x`: step-major `T*D`), from its blobs, transcribed
/// from LSTMUnitLayer: gates `[i, f, o, g]`, `cont` 0 at step 0 and 1 after.
fn caffe_lstm(x: &[f64], t: usize, d: usize, h: usize, wxc: &[f64], bc: &[f64], whc: &[f64]) -> Vec<f64> {
    let (mut hp, mut cp) = (vec![0.0; h], vec![0.0; h]);
    let mut out = Vec::new();
    for s in 0..t {
        let cont = if s == 0 { 0.0 } else { 1.0 };
        let hc: Vec<f64> = hp.iter().map(|v| v * cont).collect();
        let xs = &x[s * d..(s + 1) * d];
        let pre: Vec<f64> =
            matvec(wxc, xs).iter().zip(bc).zip(matvec(whc, &hc)).map(|((a, b), c)| a + b + c).collect();
        for j in 0..h {
            let (i, f, o, g) =
                (sigmoid(pre[j]), sigmoid(pre[h + j]), sigmoid(pre[2 * h + j]), pre[3 * h + j].tanh());
            cp[j] = cont * f * cp[j] + i * g;
            hp[j] = o * cp[j].tanh();
        }
        out.extend_from_slice(&hp);
    }
    out
}

/// Caffe's RNN: `h_t = tanh(W_hh h_{t-1} + W_xh x_t + b_h)`, `o_t = tanh(W_ho h_t + b_o)`.
#[allow(clippy::too_many_arguments)]
fn caffe_rnn(x: &[f64], t: usize, d: usize, h: usize, b: [&[f64]; 5]) -> Vec<f64> {
    let [wxh, bh, whh, who, bo] = b;
    let mut hp = vec![0.0; h];
    let mut out = Vec::new();
    for s in 0..t {
        let xs = &x[s * d..(s + 1) * d];
        let pre: Vec<f64> =
            matvec(wxh, xs).iter().zip(bh).zip(matvec(whh, &hp)).map(|((a, b), c)| a + b + c).collect();
        hp = pre.iter().map(|v| v.tanh()).collect();
        out.extend(matvec(who, &hp).iter().zip(bo).map(|(a, b)| (a + b).tanh()));
    }
    out
}

/// A `.caffemodel` with the given blobs for layer `name`.
fn caffemodel(name: &str, blobs: &[(&[usize], &[f32])]) -> Vec<u8> {
    let text: String = blobs
        .iter()
        .map(|(shape, data)| {
            let dims: String = shape.iter().map(|d| format!("dim: {d} ")).collect();
            let data: String = data.iter().map(|v| format!("data: {v:?} ")).collect();
            format!("blobs {{ shape {{ {dims}}} {data}}} ")
        })
        .collect();
    let text = format!("name: \"m\" layer {{ name: \"{name}\" type: \"X\" {text}}}");
    proto::parse_text("gen", &text, "NetParameter").unwrap().encode_to_vec()
}

fn blob_values(n: usize, seed: u64) -> Vec<f32> {
    rand(1, n, seed).iter().map(|&v| (v * 0.8) as f32).collect()
}

#[test]
fn caffe_lstm_forward_is_caffes_recurrence_and_its_blobs_read_back() {
    let (t, d, h) = (4, 3, 2);
    let net = seq_net(
        t,
        d,
        &format!(
            "layer {{ name: \"lstm\" type: \"LSTM\" bottom: \"data\" bottom: \"cont\" top: \"lstm\" \
             recurrent_param {{ num_output: {h} {} }} }}",
            gauss(0.5)
        ),
        "lstm",
        h,
    );
    let (wxc, bc, whc) = (blob_values(4 * h * d, 1), blob_values(4 * h, 2), blob_values(4 * h * h, 3));
    let bytes = caffemodel("lstm", &[(&[4 * h, d], &wxc), (&[4 * h], &bc), (&[4 * h, h], &whc)]);
    let m = caffe_from_text(
        ("net", &net),
        Some(("s", SGD)),
        Some(("w.caffemodel", &bytes)),
        &NetOptions::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let f = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<_>>();
    let (wxc, bc, whc) = (f(&wxc), f(&bc), f(&whc));
    // The blobs, exactly, in the DML layout (transposed weights).
    let p =
        |v: &str| m.graph.params.iter().find(|p| p.var == v).unwrap_or_else(|| panic!("{v}")).value.clone();
    let (k, r, b) = (p("lstm_kernel"), p("lstm_recurrent"), p("lstm_bias"));
    for c in 0..4 * h {
        for i in 0..d {
            assert_eq!(k[[i, c]], wxc[c * d + i]);
        }
        for i in 0..h {
            assert_eq!(r[[i, c]], whc[c * h + i]);
        }
        assert_eq!(b[[0, c]], bc[c]);
    }
    let x = rand(3, t * d, 21);
    let got = m.predict(&x, 2).unwrap();
    for n in 0..3 {
        let want = caffe_lstm(x.row(n).as_slice().unwrap(), t, d, h, &wxc, &bc, &whc);
        assert_close(got.row(n).as_slice().unwrap(), &want, 1e-12, "LSTM forward");
    }
    // The scripts say how X carries the sequences.
    let io = dml::convert::script::Io::Files { weights_dir: "w".into() };
    let opts = dml::convert::script::TrainOptions::default();
    for src in [m.prediction_script(&io, 2).unwrap(), m.training_script(&opts, &io).unwrap()] {
        assert!(
            src.contains("one row per sequence") && src.contains("cont"),
            "{}",
            &src[..src.len().min(2000)]
        );
    }
}

#[test]
fn caffe_rnn_forward_is_caffes_recurrence_and_its_blobs_read_back() {
    let (t, d, h) = (3, 2, 3);
    let net = seq_net(
        t,
        d,
        &format!(
            "layer {{ name: \"rnn\" type: \"RNN\" bottom: \"data\" bottom: \"cont\" top: \"rnn\" \
             recurrent_param {{ num_output: {h} {} }} }}",
            gauss(0.5)
        ),
        "rnn",
        h,
    );
    let blobs = [
        blob_values(h * d, 4),
        blob_values(h, 5),
        blob_values(h * h, 6),
        blob_values(h * h, 7),
        blob_values(h, 8),
    ];
    let shapes: [&[usize]; 5] = [&[h, d], &[h], &[h, h], &[h, h], &[h]];
    let pairs: Vec<(&[usize], &[f32])> = shapes.iter().zip(&blobs).map(|(s, b)| (*s, b.as_slice())).collect();
    let bytes = caffemodel("rnn", &pairs);
    let m = caffe_from_text(
        ("net", &net),
        Some(("s", SGD)),
        Some(("w.caffemodel", &bytes)),
        &NetOptions::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let f: Vec<Vec<f64>> = blobs.iter().map(|v| v.iter().map(|&x| x as f64).collect()).collect();
    let x = rand(2, t * d, 22);
    let got = m.predict(&x, 2).unwrap();
    for n in 0..2 {
        let want = caffe_rnn(x.row(n).as_slice().unwrap(), t, d, h, [&f[0], &f[1], &f[2], &f[3], &f[4]]);
        assert_close(got.row(n).as_slice().unwrap(), &want, 1e-12, "RNN forward");
    }
}

#[test]
fn caffe_lstm_and_rnn_backward_match_finite_differences() {
    let (t, d) = (3, 2);
    // LSTM, then a per-step InnerProduct (axis 2), then an RNN on top.
    let body = format!(
        "layer {{ name: \"lstm\" type: \"LSTM\" bottom: \"data\" bottom: \"cont\" top: \"lstm\" recurrent_param {{ num_output: 3 {g} }} }}\n\
         layer {{ name: \"ip\" type: \"InnerProduct\" bottom: \"lstm\" top: \"ip\" inner_product_param {{ num_output: 2 axis: 2 {g} }} }}\n\
         layer {{ name: \"rnn\" type: \"RNN\" bottom: \"ip\" bottom: \"cont\" top: \"rnn\" recurrent_param {{ num_output: 2 {g} }} }}",
        g = gauss(0.6)
    );
    let m = load(&seq_net(t, d, &body, "rnn", 2), SGD);
    assert_eq!(m.graph.tensors[m.graph.outputs[0]].width(), t * 2);
    let x = rand(2, t * d, 31);
    let y = rand(2, t * 2, 32);
    fd_check(&m, &x, &y, "LSTM/InnerProduct(axis 2)/RNN");
    assert!(m.gradients(&x, &y).unwrap().grads.len() >= 10);
}

#[test]
fn caffe_recurrent_layers_refuse_what_they_do_not_support() {
    let err = |body: &str| {
        caffe_from_text(("net", &seq_net(3, 2, body, "r", 2)), Some(("s", SGD)), None, &NetOptions::default())
            .err()
            .unwrap_or_else(|| panic!("accepted: {body}"))
            .to_string()
    };
    let e = err("layer { name: \"c2\" type: \"Sigmoid\" bottom: \"data\" top: \"c2\" }\n\
                 layer { name: \"r\" type: \"LSTM\" bottom: \"data\" bottom: \"c2\" top: \"r\" recurrent_param { num_output: 2 } }");
    assert!(e.contains("`r`") || e.contains("r"), "{e}");
    assert!(e.contains("cont"), "{e}");
    let e = err(
        "layer { name: \"r\" type: \"RNN\" bottom: \"data\" bottom: \"cont\" top: \"r\" recurrent_param { num_output: 2 expose_hidden: true } }",
    );
    assert!(e.contains("expose_hidden"), "{e}");
    let e = err(
        "layer { name: \"r\" type: \"LSTM\" bottom: \"data\" bottom: \"cont\" top: \"r\" recurrent_param { } }",
    );
    assert!(e.contains("num_output"), "{e}");
}

#[test]
fn grouped_dilated_deconvolution_forward_is_caffes_scatter_and_matches_finite_differences() {
    // Caffe's deconvolution: each input cell scatters its kernel (dilated) onto the output,
    // group by group: out[g*F/g + o, i*s + a*d - p, j*s + b*d - p] += x[c, i, j] * W[c, o, a, b].
    let (c, h, w, f, k, g, d, p, s) = (4, 3, 4, 6, 2, 2, 2, 1, 2);
    let body = format!(
        "layer {{ name: \"dc\" type: \"Deconvolution\" bottom: \"data\" top: \"dc\" convolution_param {{ num_output: {f} kernel_size: {k} group: {g} dilation: {d} pad: {p} stride: {s} {} }} }}",
        gauss(0.5)
    );
    let m = forward_only([c, h, w], &body);
    let wt = &m.graph.params[0].value; // (C, F/g * k * k), Caffe's blob
    let b = &m.graph.params[1].value;
    let ke = d * (k - 1) + 1;
    let (oh, ow) = (s * (h - 1) + ke - 2 * p, s * (w - 1) + ke - 2 * p);
    assert_eq!(m.graph.tensors[m.graph.outputs[0]].width(), f * oh * ow);
    let x = rand(2, c * h * w, 19);
    let got = m.predict(&x, 2).unwrap();
    let (cg, fg) = (c / g, f / g);
    for r in 0..2 {
        let mut want: Vec<f64> = (0..f * oh * ow).map(|cell| b[[cell / (oh * ow), 0]]).collect();
        for ch in 0..c {
            let grp = ch / cg;
            for i in 0..h {
                for j in 0..w {
                    for o in 0..fg {
                        for a in 0..k {
                            for bb in 0..k {
                                let (y, xx) =
                                    ((i * s + a * d) as i64 - p as i64, (j * s + bb * d) as i64 - p as i64);
                                if y < 0 || xx < 0 || y >= oh as i64 || xx >= ow as i64 {
                                    continue;
                                }
                                want[(grp * fg + o) * oh * ow + y as usize * ow + xx as usize] +=
                                    x[[r, ch * h * w + i * w + j]] * wt[[ch, o * k * k + a * k + bb]];
                            }
                        }
                    }
                }
            }
        }
        assert_close(&got.row(r).to_vec(), &want, 1e-12, "grouped dilated deconvolution");
    }
    check_layers(
        [c, h, w],
        &body.replace("bottom: \"data\"", "bottom: \"pre\""),
        "dc",
        "grouped dilated deconvolution",
    );
}
