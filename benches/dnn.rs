//! Timings of the DNN kernels at LeNet and LSTM training shapes (`cargo bench --bench dnn`).
//!
//! Prints the best wall time of several runs in ms and GFLOP/s (2 flops per multiply-add of the
//! products; pooling is reported in ms only), and the mean process CPU time per run with the
//! GFLOP/s per CPU-second: on a shared, oversubscribed machine the wall times are noisy, while
//! the CPU time still shows how efficient a kernel is.

use dml::kernels::dnn::*;
use dml::types::matrix::Matrix;
use std::time::Instant;

fn data(rows: usize, cols: usize, seed: f64) -> Matrix {
    Matrix::from_vec(rows, cols, (0..rows * cols).map(|i| ((i as f64) * 0.37 + seed).sin()).collect())
}

/// User plus system CPU seconds of this process so far (all threads), from /proc/self/stat.
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let rest = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| f.get(i).and_then(|t| t.parse::<f64>().ok()).unwrap_or(f64::NAN);
    (field(11) + field(12)) / 100.0
}

/// (best wall seconds, mean CPU seconds) of `f`, after a warm-up, over at least `reps` runs and
/// at least half a second (so the 10 ms CPU clock is precise enough).
fn best<F: FnMut()>(reps: usize, mut f: F) -> (f64, f64) {
    f();
    let (start, cpu0) = (Instant::now(), cpu_secs());
    let mut best = f64::INFINITY;
    let mut runs = 0;
    while runs < reps || start.elapsed().as_secs_f64() < 0.5 {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed().as_secs_f64());
        runs += 1;
    }
    (best, (cpu_secs() - cpu0) / runs as f64)
}

/// Whether a case runs: `DNN_BENCH=lstm cargo bench --bench dnn` runs only names containing "lstm".
fn wanted(name: &str) -> bool {
    std::env::var("DNN_BENCH").map_or(true, |f| name.contains(&f))
}

fn report(name: &str, (secs, cpu): (f64, f64), flops: f64) {
    if flops > 0.0 {
        println!(
            "{name:<46} {:>8.3} ms {:>7.1} GFLOP/s | cpu {:>8.3} ms {:>6.1} GFLOP/cpu-s",
            secs * 1e3,
            flops / secs / 1e9,
            cpu * 1e3,
            flops / cpu / 1e9
        );
    } else {
        println!("{name:<46} {:>8.3} ms                 | cpu {:>8.3} ms", secs * 1e3, cpu * 1e3);
    }
}

fn conv_case(label: &str, s: ConvShape) {
    if !wanted(&format!("conv {label}")) {
        return;
    }
    let x = data(s.n, s.c * s.h * s.w, 0.1);
    let w = data(s.f, s.c * s.hf * s.wf, 0.2);
    let b = data(s.f, 1, 0.3);
    let p = s.out_h() * s.out_w();
    let dout = data(s.n, s.f * p, 0.4);
    let flops = 2.0 * (s.n * s.f * p * s.c * s.hf * s.wf) as f64;
    report(
        &format!("conv2d_bias_add {label}"),
        best(10, || drop(conv2d_bias_add(&x, &w, &b, &s).unwrap())),
        flops,
    );
    report(
        &format!("conv2d_backward_filter {label}"),
        best(10, || drop(conv2d_backward_filter(&x, &dout, &s).unwrap())),
        flops,
    );
    report(
        &format!("conv2d_backward_data {label}"),
        best(10, || drop(conv2d_backward_data(&w, &dout, &s).unwrap())),
        flops,
    );
}

fn pool_case(label: &str, s: PoolShape) {
    if !wanted(&format!("pool {label}")) {
        return;
    }
    let x = data(s.n, s.c * s.h * s.w, 0.5);
    let dout = data(s.n, s.c * s.out_h() * s.out_w(), 0.6);
    report(&format!("max_pool {label}"), best(20, || drop(max_pool(&x, &s).unwrap())), 0.0);
    report(&format!("relu_max_pool {label}"), best(20, || drop(relu_max_pool(&x, &s).unwrap())), 0.0);
    report(
        &format!("max_pool_backward {label}"),
        best(20, || drop(max_pool_backward(&x, &dout, &s).unwrap())),
        0.0,
    );
    report(
        &format!("relu_max_pool_backward {label}"),
        best(20, || drop(relu_max_pool_backward(&x, &dout, &s).unwrap())),
        0.0,
    );
    // The pair the rewrite fuse_max_pool_argmax makes of the two above (inputs hot in cache
    // here; in a training step the gain is the cold read of `x` the backward pass no longer does).
    report(
        &format!("relu_max_pool_argmax {label}"),
        best(20, || drop(relu_max_pool_argmax(&x, &s).unwrap())),
        0.0,
    );
    let (_, codes) = relu_max_pool_argmax(&x, &s).unwrap();
    report(
        &format!("max_pool_backward_at {label}"),
        best(20, || drop(max_pool_backward_at(&codes, &dout, &s).unwrap())),
        0.0,
    );
}

fn lstm_case() {
    if !wanted("lstm") {
        return;
    }
    let (n, t, d, m) = (64, 32, 32, 64);
    let x = data(n, t * d, 0.7);
    let w = Matrix::from_vec(
        d + m,
        4 * m,
        (0..(d + m) * 4 * m).map(|i| 0.1 * ((i as f64) * 0.11).cos()).collect(),
    );
    let b = data(1, 4 * m, 0.8);
    let o0 = Matrix::zeros(n, m);
    let c0 = Matrix::zeros(n, m);
    let flops = 2.0 * (n * t * (d + m) * 4 * m) as f64;
    let fwd = lstm(&x, &w, &b, &o0, &c0, true).unwrap();
    report(
        "lstm forward N=64 T=32 D=32 M=64",
        best(10, || drop(lstm(&x, &w, &b, &o0, &c0, true).unwrap())),
        flops,
    );
    let dout = data(n, t * m, 0.9);
    let dc = Matrix::zeros(n, m);
    let secs = best(10, || {
        drop(
            lstm_backward(
                &x,
                &w,
                &b,
                &o0,
                &c0,
                true,
                &dout,
                &dc,
                &fwd.cache_out,
                &fwd.cache_c,
                &fwd.cache_ifog,
            )
            .unwrap(),
        )
    });
    report("lstm backward N=64 T=32 D=32 M=64", secs, 2.0 * flops);
}

/// The bare products of the conv2 forward pass (one 64x800 by 800x196 gemm per image, images in
/// parallel): the ceiling our im2col-based kernel can reach.
fn raw_gemm_case() {
    if !wanted("raw gemm") {
        return;
    }
    use rayon::prelude::*;
    let (n, m, k, p) = (64, 64, 800, 196);
    let a: Vec<f64> = (0..m * k).map(|i| (i as f64 * 0.3).sin()).collect();
    let b: Vec<f64> = (0..k * p).map(|i| (i as f64 * 0.7).cos()).collect();
    let mut out = vec![0.0; n * m * p];
    let secs = best(10, || {
        out.par_chunks_mut(m * p).for_each(|dst| {
            // SAFETY: all three buffers are contiguous row-major with the given shapes.
            unsafe {
                gemm::gemm(
                    m,
                    p,
                    k,
                    dst.as_mut_ptr(),
                    1,
                    p as isize,
                    false,
                    a.as_ptr(),
                    1,
                    k as isize,
                    b.as_ptr(),
                    1,
                    p as isize,
                    1.0,
                    1.0,
                    false,
                    false,
                    false,
                    gemm::Parallelism::None,
                )
            }
        })
    });
    report("raw gemm 64 x (64x800 * 800x196)", secs, 2.0 * (n * m * k * p) as f64);
    // A large square product on one thread, for scale.
    let q = 1024;
    let a: Vec<f64> = (0..q * q).map(|i| (i as f64 * 0.3).sin()).collect();
    let mut c = vec![0.0; q * q];
    let secs = best(3, || {
        // SAFETY: contiguous row-major q x q buffers.
        unsafe {
            gemm::gemm(
                q,
                q,
                q,
                c.as_mut_ptr(),
                1,
                q as isize,
                false,
                a.as_ptr(),
                1,
                q as isize,
                a.as_ptr(),
                1,
                q as isize,
                1.0,
                1.0,
                false,
                false,
                false,
                gemm::Parallelism::None,
            )
        }
    });
    report("raw gemm 1024^3, one thread", secs, 2.0 * (q * q * q) as f64);
}

/// The DNN kernel calls of one LeNet training epoch (16 batches of 64): per batch conv1 with bias,
/// relu+pool, conv2 with bias, relu+pool forward, then the pool, filter and data gradients of both
/// layers backward (the affine layers and the optimizer are not DNN kernels and are left out).
fn lenet_epoch_case() {
    if !wanted("lenet") {
        return;
    }
    let c1 = ConvShape {
        n: 64,
        c: 1,
        h: 28,
        w: 28,
        f: 32,
        hf: 5,
        wf: 5,
        stride_h: 1,
        stride_w: 1,
        pad_h: 2,
        pad_w: 2,
    };
    let c2 = ConvShape { c: 32, h: 14, w: 14, f: 64, ..c1 };
    let p1 =
        PoolShape { n: 64, c: 32, h: 28, w: 28, ph: 2, pw: 2, stride_h: 2, stride_w: 2, pad_h: 0, pad_w: 0 };
    let p2 = PoolShape { c: 64, h: 14, w: 14, ..p1 };
    let x = data(64, 784, 0.1);
    let (w1, b1) = (data(32, 25, 0.2), data(32, 1, 0.3));
    let (w2, b2) = (data(64, 800, 0.4), data(64, 1, 0.5));
    let dtop = data(64, 64 * 7 * 7, 0.6);
    let batch = || {
        let a1 = conv2d_bias_add(&x, &w1, &b1, &c1).unwrap();
        let h1 = relu_max_pool(&a1, &p1).unwrap();
        let a2 = conv2d_bias_add(&h1, &w2, &b2, &c2).unwrap();
        let _h2 = relu_max_pool(&a2, &p2).unwrap();
        let da2 = relu_max_pool_backward(&a2, &dtop, &p2).unwrap();
        let _dw2 = conv2d_backward_filter(&h1, &da2, &c2).unwrap();
        let dh1 = conv2d_backward_data(&w2, &da2, &c2).unwrap();
        let da1 = relu_max_pool_backward(&a1, &dh1, &p1).unwrap();
        let _dw1 = conv2d_backward_filter(&x, &da1, &c1).unwrap();
        let _dx = conv2d_backward_data(&w1, &da1, &c1).unwrap();
    };
    let flops = 16.0 * 3.0 * 2.0 * (64 * (32 * 784 * 25 + 64 * 196 * 800)) as f64;
    report("LeNet epoch DNN kernels (16 batches of 64)", best(3, || (0..16).for_each(|_| batch())), flops);
}

fn main() {
    println!("rayon threads: {}", rayon::current_num_threads());
    let conv1 = ConvShape {
        n: 64,
        c: 1,
        h: 28,
        w: 28,
        f: 32,
        hf: 5,
        wf: 5,
        stride_h: 1,
        stride_w: 1,
        pad_h: 2,
        pad_w: 2,
    };
    let conv2 = ConvShape {
        n: 64,
        c: 32,
        h: 14,
        w: 14,
        f: 64,
        hf: 5,
        wf: 5,
        stride_h: 1,
        stride_w: 1,
        pad_h: 2,
        pad_w: 2,
    };
    raw_gemm_case();
    conv_case("N=64 1->32 28x28 5x5 pad 2", conv1);
    conv_case("N=64 32->64 14x14 5x5 pad 2", conv2);
    let pool1 =
        PoolShape { n: 64, c: 32, h: 28, w: 28, ph: 2, pw: 2, stride_h: 2, stride_w: 2, pad_h: 0, pad_w: 0 };
    let pool2 = PoolShape { n: 64, c: 64, h: 14, w: 14, ..pool1 };
    pool_case("N=64 C=32 28x28 2x2/2", pool1);
    pool_case("N=64 C=64 14x14 2x2/2", pool2);
    lstm_case();
    lenet_epoch_case();
}
