//! Timings of the DNN kernels at LeNet and LSTM training shapes (`cargo bench --bench dnn`).
//!
//! Prints the best of several runs in ms and GFLOP/s (2 flops per multiply-add of the
//! convolution products; pooling is reported in ms only).

use dml::runtime::kernels::dnn::*;
use dml::runtime::matrix::Matrix;
use std::time::Instant;

fn data(rows: usize, cols: usize, seed: f64) -> Matrix {
    Matrix::from_vec(rows, cols, (0..rows * cols).map(|i| ((i as f64) * 0.37 + seed).sin()).collect())
}

/// Best wall time in seconds of `f` over `reps` runs after a warm-up.
fn best<F: FnMut()>(reps: usize, mut f: F) -> f64 {
    f();
    (0..reps)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn report(name: &str, secs: f64, flops: f64) {
    if flops > 0.0 {
        println!("{name:<44} {:>8.3} ms {:>8.1} GFLOP/s", secs * 1e3, flops / secs / 1e9);
    } else {
        println!("{name:<44} {:>8.3} ms", secs * 1e3);
    }
}

fn conv_case(label: &str, s: ConvShape) {
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
}

fn lstm_case() {
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
    conv_case("N=64 1->32 28x28 5x5 pad 2", conv1);
    conv_case("N=64 32->64 14x14 5x5 pad 2", conv2);
    let pool1 =
        PoolShape { n: 64, c: 32, h: 28, w: 28, ph: 2, pw: 2, stride_h: 2, stride_w: 2, pad_h: 0, pad_w: 0 };
    let pool2 = PoolShape { n: 64, c: 64, h: 14, w: 14, ..pool1 };
    pool_case("N=64 C=32 28x28 2x2/2", pool1);
    pool_case("N=64 C=64 14x14 2x2/2", pool2);
    lstm_case();
}
