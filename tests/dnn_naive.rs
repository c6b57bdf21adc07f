//! DNN kernels against naive reference loops written here, centered finite differences (f64),
//! sparse-vs-dense storage, and shape errors.

use dml::kernels::dnn::*;
use dml::types::matrix::Matrix;

/// A small xorshift generator: deterministic inputs without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    }
    fn mat(&mut self, rows: usize, cols: usize) -> Matrix {
        Matrix::from_vec(rows, cols, (0..rows * cols).map(|_| self.next()).collect())
    }
    /// About half the cells zero, stored sparse.
    fn sparse(&mut self, rows: usize, cols: usize) -> Matrix {
        let v = (0..rows * cols).map(|_| if self.next() > 0.0 { self.next() } else { 0.0 }).collect();
        Matrix::Sparse(Matrix::from_vec(rows, cols, v).to_csr())
    }
}

fn vals(m: &Matrix) -> Vec<f64> {
    m.to_dense().iter().copied().collect()
}

#[track_caller]
fn close(name: &str, got: &Matrix, want: &[f64], tol: f64) {
    let g = vals(got);
    assert_eq!(g.len(), want.len(), "{name}: length");
    for (i, (a, b)) in g.iter().zip(want).enumerate() {
        assert!((a - b).abs() <= tol * (1.0 + b.abs()), "{name}[{i}]: got {a}, want {b}");
    }
}

fn with(m: &Matrix, i: usize, v: f64) -> Matrix {
    let mut d = vals(m);
    d[i] = v;
    Matrix::from_vec(m.rows(), m.cols(), d)
}

fn dot(a: &Matrix, b: &Matrix) -> f64 {
    vals(a).iter().zip(vals(b)).map(|(x, y)| x * y).sum()
}

/// Centered difference of `loss` wrt cell `i` of `m`.
fn fd(m: &Matrix, i: usize, loss: &dyn Fn(&Matrix) -> f64) -> f64 {
    let h = 1e-6;
    let v = vals(m)[i];
    (loss(&with(m, i, v + h)) - loss(&with(m, i, v - h))) / (2.0 * h)
}

/// Checks `grad` against finite differences of `loss` on every `step`-th cell of `m`.
#[track_caller]
fn grad_check(name: &str, m: &Matrix, grad: &Matrix, loss: &dyn Fn(&Matrix) -> f64, step: usize) {
    let g = vals(grad);
    assert_eq!(g.len(), m.len(), "{name}: gradient shape");
    for i in (0..m.len()).step_by(step) {
        let want = fd(m, i, loss);
        assert!(
            (g[i] - want).abs() <= 1e-6 * (1.0 + want.abs()),
            "{name}[{i}]: analytic {}, numeric {want}",
            g[i]
        );
    }
}

// ---- convolution ----

fn conv_naive(x: &Matrix, w: &Matrix, s: &ConvShape) -> Vec<f64> {
    let (oh, ow) = (s.out_h(), s.out_w());
    let mut out = vec![0.0; s.n * s.f * oh * ow];
    for n in 0..s.n {
        for f in 0..s.f {
            for y in 0..oh {
                for xo in 0..ow {
                    let mut acc = 0.0;
                    for c in 0..s.c {
                        for ky in 0..s.hf {
                            for kx in 0..s.wf {
                                let iy = (y * s.stride_h + ky) as isize - s.pad_h as isize;
                                let ix = (xo * s.stride_w + kx) as isize - s.pad_w as isize;
                                if iy < 0 || ix < 0 || iy >= s.h as isize || ix >= s.w as isize {
                                    continue;
                                }
                                let xi = x.get(n, (c * s.h + iy as usize) * s.w + ix as usize);
                                acc += xi * w.get(f, (c * s.hf + ky) * s.wf + kx);
                            }
                        }
                    }
                    out[(n * s.f + f) * oh * ow + y * ow + xo] = acc;
                }
            }
        }
    }
    out
}

fn conv_shapes() -> Vec<ConvShape> {
    let base = ConvShape {
        n: 3,
        c: 2,
        h: 7,
        w: 6,
        f: 4,
        hf: 3,
        wf: 2,
        stride_h: 2,
        stride_w: 1,
        pad_h: 1,
        pad_w: 2,
    };
    vec![
        base,
        ConvShape { n: 1, ..base },
        ConvShape { stride_h: 3, stride_w: 2, pad_h: 0, pad_w: 0, ..base },
        ConvShape {
            n: 5,
            c: 1,
            h: 8,
            w: 8,
            f: 3,
            hf: 5,
            wf: 5,
            stride_h: 1,
            stride_w: 1,
            pad_h: 2,
            pad_w: 2,
        },
        ConvShape {
            n: 2,
            c: 3,
            h: 4,
            w: 5,
            f: 2,
            hf: 4,
            wf: 1,
            stride_h: 1,
            stride_w: 3,
            pad_h: 3,
            pad_w: 1,
        },
        // Output as wide as the input, with a row stride of 2 and of 1 (im2col's long-copy path).
        ConvShape {
            n: 2,
            c: 2,
            h: 6,
            w: 5,
            f: 3,
            hf: 3,
            wf: 3,
            stride_h: 2,
            stride_w: 1,
            pad_h: 1,
            pad_w: 1,
        },
        ConvShape {
            n: 2,
            c: 2,
            h: 6,
            w: 5,
            f: 3,
            hf: 2,
            wf: 3,
            stride_h: 1,
            stride_w: 1,
            pad_h: 0,
            pad_w: 1,
        },
    ]
}

#[test]
fn conv2d_matches_naive_loops() {
    let mut r = Rng(7);
    for s in conv_shapes() {
        let x = r.mat(s.n, s.c * s.h * s.w);
        let w = r.mat(s.f, s.c * s.hf * s.wf);
        let b = r.mat(s.f, 1);
        let want = conv_naive(&x, &w, &s);
        close("conv2d", &conv2d(&x, &w, &s).unwrap(), &want, 1e-12);
        let p = s.out_h() * s.out_w();
        let with_bias: Vec<f64> = want.iter().enumerate().map(|(i, v)| v + b.get((i / p) % s.f, 0)).collect();
        close("conv2d_bias_add", &conv2d_bias_add(&x, &w, &b, &s).unwrap(), &with_bias, 1e-12);
        let xs = r.sparse(s.n, s.c * s.h * s.w);
        close("conv2d sparse", &conv2d(&xs, &w, &s).unwrap(), &conv_naive(&xs, &w, &s), 1e-12);
    }
}

#[test]
fn conv2d_backward_matches_finite_differences() {
    let mut r = Rng(11);
    for s in conv_shapes() {
        let x = r.mat(s.n, s.c * s.h * s.w);
        let w = r.mat(s.f, s.c * s.hf * s.wf);
        let dout = r.mat(s.n, s.f * s.out_h() * s.out_w());
        let dw = conv2d_backward_filter(&x, &dout, &s).unwrap();
        let dx = conv2d_backward_data(&w, &dout, &s).unwrap();
        grad_check("dW", &w, &dw, &|w2| dot(&conv2d(&x, w2, &s).unwrap(), &dout), 1);
        grad_check("dX", &x, &dx, &|x2| dot(&conv2d(x2, &w, &s).unwrap(), &dout), 3);
        // Sparse input and sparse dout give the same gradients.
        let xs = Matrix::Sparse(x.to_csr());
        let ds = Matrix::Sparse(dout.to_csr());
        close("dW sparse", &conv2d_backward_filter(&xs, &ds, &s).unwrap(), &vals(&dw), 1e-12);
        close("dX sparse", &conv2d_backward_data(&w, &ds, &s).unwrap(), &vals(&dx), 1e-12);
    }
}

#[test]
fn conv2d_rejects_bad_shapes() {
    let s = conv_shapes()[0];
    let x = Matrix::zeros(s.n, s.c * s.h * s.w);
    let w = Matrix::zeros(s.f, s.c * s.hf * s.wf);
    assert!(conv2d(&x, &Matrix::zeros(s.f, 5), &s).is_err());
    assert!(conv2d(&Matrix::zeros(s.n + 1, 3), &w, &s).is_err());
    assert!(conv2d(&x, &w, &ConvShape { hf: 20, ..s }).is_err());
    assert!(conv2d(&x, &w, &ConvShape { stride_h: 0, ..s }).is_err());
    assert!(ConvShape { pad_h: usize::MAX / 4, ..s }.validate().is_err());
    assert!(ConvShape { n: 1 << 40, ..s }.validate().is_err());
    assert!(ConvShape { pad_w: usize::MAX, ..s }.validate().is_err());
    assert!(ConvShape { stride_h: usize::MAX, hf: usize::MAX, ..s }.validate().is_err());
    assert!(conv2d_bias_add(&x, &w, &Matrix::zeros(s.f + 1, 1), &s).is_err());
    assert!(conv2d_backward_filter(&x, &Matrix::zeros(s.n, 2), &s).is_err());
    assert!(conv2d_backward_data(&w, &Matrix::zeros(s.n, 2), &s).is_err());
    let msg = conv2d(&x, &Matrix::zeros(s.f, 5), &s).unwrap_err().0;
    assert!(msg.contains("4x12") && msg.contains("4x5"), "{msg}");
}

// ---- pooling ----

/// Naive max pooling: returns the output and, per output cell, the flat input index of the first
/// maximum (None for a window entirely in the padding).
fn pool_naive(x: &Matrix, s: &PoolShape, relu: bool) -> (Vec<f64>, Vec<Option<usize>>, Vec<f64>) {
    let (oh, ow) = (s.out_h(), s.out_w());
    let cells = s.n * s.c * oh * ow;
    let (mut mx, mut arg, mut avg) = (vec![0.0; cells], vec![None; cells], vec![0.0; cells]);
    for n in 0..s.n {
        for c in 0..s.c {
            for y in 0..oh {
                for xo in 0..ow {
                    let o = ((n * s.c + c) * oh + y) * ow + xo;
                    let mut best: Option<(usize, f64)> = None;
                    let mut sum = 0.0;
                    for ky in 0..s.ph {
                        for kx in 0..s.pw {
                            let iy = (y * s.stride_h + ky) as isize - s.pad_h as isize;
                            let ix = (xo * s.stride_w + kx) as isize - s.pad_w as isize;
                            if iy < 0 || ix < 0 || iy >= s.h as isize || ix >= s.w as isize {
                                continue;
                            }
                            let col = (c * s.h + iy as usize) * s.w + ix as usize;
                            let mut v = x.get(n, col);
                            sum += v;
                            if relu {
                                v = v.max(0.0);
                            }
                            if best.is_none_or(|(_, b)| v > b) {
                                best = Some((n * s.c * s.h * s.w + col, v));
                            }
                        }
                    }
                    mx[o] = best.map_or(f64::MIN, |b| b.1);
                    arg[o] = best.map(|b| b.0);
                    avg[o] = sum / (s.ph * s.pw) as f64;
                }
            }
        }
    }
    (mx, arg, avg)
}

fn pool_shapes() -> Vec<PoolShape> {
    let base =
        PoolShape { n: 3, c: 2, h: 7, w: 6, ph: 3, pw: 3, stride_h: 2, stride_w: 2, pad_h: 1, pad_w: 1 };
    vec![
        base,
        PoolShape { ph: 2, pw: 2, pad_h: 0, pad_w: 0, ..base },
        PoolShape { ph: 3, pw: 2, stride_h: 1, stride_w: 1, pad_h: 0, pad_w: 1, ..base },
        PoolShape { n: 2, c: 3, h: 8, w: 8, ph: 2, pw: 3, stride_h: 2, stride_w: 1, pad_h: 1, pad_w: 0 },
        // Windows that tile the plane exactly: the kernels' 2x2 fast path.
        PoolShape { n: 2, c: 3, h: 6, w: 8, ph: 2, pw: 2, stride_h: 2, stride_w: 2, pad_h: 0, pad_w: 0 },
    ]
}

#[test]
fn pooling_matches_naive_loops_with_overlapping_windows() {
    let mut r = Rng(13);
    for s in pool_shapes() {
        let x = r.mat(s.n, s.c * s.h * s.w);
        let dout = r.mat(s.n, s.c * s.out_h() * s.out_w());
        let (mx, arg, avg) = pool_naive(&x, &s, false);
        close("max_pool", &max_pool(&x, &s).unwrap(), &mx, 0.0);
        close("avg_pool", &avg_pool(&x, &s).unwrap(), &avg, 1e-14);
        let (rmx, rarg, _) = pool_naive(&x, &s, true);
        close("relu_max_pool", &relu_max_pool(&x, &s).unwrap(), &rmx, 0.0);
        // Gradients add over overlapping windows.
        let dv = vals(&dout);
        let xv = vals(&x);
        let (mut dmax, mut drelu) = (vec![0.0; x.len()], vec![0.0; x.len()]);
        for (o, a) in arg.iter().enumerate() {
            if let Some(i) = a {
                dmax[*i] += dv[o];
            }
        }
        for (o, a) in rarg.iter().enumerate() {
            if let Some(i) = a.filter(|i| xv[*i] > 0.0) {
                drelu[i] += dv[o];
            }
        }
        close("max_pool_backward", &max_pool_backward(&x, &dout, &s).unwrap(), &dmax, 1e-14);
        close("relu_max_pool_backward", &relu_max_pool_backward(&x, &dout, &s).unwrap(), &drelu, 1e-14);
        // The forward pass that notes each window's gradient cell, and the gradient from the notes.
        let (pooled, codes) = relu_max_pool_argmax(&x, &s).unwrap();
        close("relu_max_pool_argmax", &pooled, &rmx, 0.0);
        close("max_pool_backward_at", &max_pool_backward_at(&codes, &dout, &s).unwrap(), &drelu, 1e-14);
        // Sparse storage gives the same results.
        let xs = r.sparse(s.n, s.c * s.h * s.w);
        let (smx, _, savg) = pool_naive(&xs, &s, false);
        close("max_pool sparse", &max_pool(&xs, &s).unwrap(), &smx, 0.0);
        close("avg_pool sparse", &avg_pool(&xs, &s).unwrap(), &savg, 1e-14);
        let xd = Matrix::from_vec(xs.rows(), xs.cols(), vals(&xs));
        close(
            "max_pool_backward sparse",
            &max_pool_backward(&xs, &dout, &s).unwrap(),
            &vals(&max_pool_backward(&xd, &dout, &s).unwrap()),
            0.0,
        );
    }
}

#[test]
fn pooling_backward_matches_finite_differences() {
    let mut r = Rng(17);
    for s in pool_shapes() {
        let x = r.mat(s.n, s.c * s.h * s.w);
        let dout = r.mat(s.n, s.c * s.out_h() * s.out_w());
        let g = max_pool_backward(&x, &dout, &s).unwrap();
        grad_check("max_pool", &x, &g, &|x2| dot(&max_pool(x2, &s).unwrap(), &dout), 1);
        let g = relu_max_pool_backward(&x, &dout, &s).unwrap();
        grad_check("relu_max_pool", &x, &g, &|x2| dot(&relu_max_pool(x2, &s).unwrap(), &dout), 1);
        let g = avg_pool_backward(&x, &dout, &s).unwrap();
        grad_check("avg_pool", &x, &g, &|x2| dot(&avg_pool(x2, &s).unwrap(), &dout), 1);
    }
}

#[test]
fn max_pool_backward_ties_go_to_the_first_maximum() {
    let s = PoolShape { n: 1, c: 1, h: 4, w: 4, ph: 2, pw: 2, stride_h: 2, stride_w: 2, pad_h: 0, pad_w: 0 };
    let x = Matrix::filled(1, 16, 1.0);
    let dout = Matrix::from_vec(1, 4, vec![1.0, 2.0, 3.0, 4.0]);
    // The same as SystemDS 3.4.0 gives for this input.
    let want = [1.0, 0.0, 2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 3.0, 0.0, 4.0, 0.0, 0.0, 0.0, 0.0, 0.0];
    close("ties", &max_pool_backward(&x, &dout, &s).unwrap(), &want, 0.0);
    // With the relu folded in: ties among positives go to the first, a window whose maximum is
    // not positive (all -1, or ties at 0) gets no gradient, and NaN never wins a window.
    let x = Matrix::from_vec(
        1,
        16,
        vec![2.0, 2.0, -1.0, -1.0, 1.0, 2.0, -1.0, -1.0, 0.0, f64::NAN, 3.0, f64::NAN, 0.0, 0.0, 3.0, 5.0],
    );
    let want = [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 4.0];
    close("relu ties", &relu_max_pool_backward(&x, &dout, &s).unwrap(), &want, 0.0);
}

#[test]
fn max_pool_windows_entirely_in_the_padding() {
    // SystemDS 3.4.0 gives -Double.MAX_VALUE for such windows; avg pooling gives 0, and the
    // gradient of the real cells is unaffected.
    let s = PoolShape { n: 1, c: 1, h: 2, w: 2, ph: 1, pw: 1, stride_h: 1, stride_w: 1, pad_h: 1, pad_w: 1 };
    let x = Matrix::from_vec(1, 4, vec![-9.0, -8.0, -7.0, -6.0]);
    let m = f64::MIN;
    let want = [m, m, m, m, m, -9.0, -8.0, m, m, -7.0, -6.0, m, m, m, m, m];
    close("max_pool", &max_pool(&x, &s).unwrap(), &want, 0.0);
    let want_avg: Vec<f64> = want.iter().map(|v| if *v == m { 0.0 } else { *v }).collect();
    close("avg_pool", &avg_pool(&x, &s).unwrap(), &want_avg, 0.0);
    close("relu_max_pool", &relu_max_pool(&x, &s).unwrap(), &[0.0; 16], 0.0);
    let d = Matrix::from_vec(1, 16, (1..=16).map(f64::from).collect());
    close("max_pool_backward", &max_pool_backward(&x, &d, &s).unwrap(), &[6.0, 7.0, 10.0, 11.0], 0.0);
}

#[test]
fn pooling_rejects_bad_shapes() {
    let s = pool_shapes()[0];
    let x = Matrix::zeros(s.n, s.c * s.h * s.w);
    assert!(max_pool(&Matrix::zeros(s.n, 3), &s).is_err());
    assert!(avg_pool(&x, &PoolShape { ph: 0, ..s }).is_err());
    assert!(max_pool(&x, &PoolShape { ph: 10, ..s }).is_err());
    assert!(PoolShape { pad_w: usize::MAX / 4, ..s }.validate().is_err());
    assert!(max_pool_backward(&x, &Matrix::zeros(s.n, 1), &s).is_err());
    assert!(avg_pool_backward(&x, &Matrix::zeros(s.n, 1), &s).is_err());
    assert!(relu_max_pool_backward(&x, &Matrix::zeros(1, 1), &s).is_err());
}

// ---- bias and relu ----

#[test]
fn bias_and_relu_match_naive_loops() {
    let mut r = Rng(19);
    let (n, c, hw) = (3, 4, 6);
    let x = r.mat(n, c * hw);
    let b = r.mat(c, 1);
    let xv = vals(&x);
    let add: Vec<f64> = xv.iter().enumerate().map(|(i, v)| v + b.get((i % (c * hw)) / hw, 0)).collect();
    let mul: Vec<f64> = xv.iter().enumerate().map(|(i, v)| v * b.get((i % (c * hw)) / hw, 0)).collect();
    close("bias_add", &bias_add(&x, &b, c).unwrap(), &add, 1e-15);
    close("bias_multiply", &bias_multiply(&x, &b, c).unwrap(), &mul, 1e-15);
    let xs = r.sparse(n, c * hw);
    let sv = vals(&xs);
    let add: Vec<f64> = sv.iter().enumerate().map(|(i, v)| v + b.get((i % (c * hw)) / hw, 0)).collect();
    let mul: Vec<f64> = sv.iter().enumerate().map(|(i, v)| v * b.get((i % (c * hw)) / hw, 0)).collect();
    close("bias_add sparse", &bias_add(&xs, &b, c).unwrap(), &add, 1e-15);
    let m = bias_multiply(&xs, &b, c).unwrap();
    assert!(m.is_sparse());
    close("bias_multiply sparse", &m, &mul, 1e-15);
    let dout = r.mat(n, c * hw);
    let want: Vec<f64> = xv.iter().zip(vals(&dout)).map(|(x, d)| if *x > 0.0 { d } else { 0.0 }).collect();
    close("relu_backward", &relu_backward(&x, &dout).unwrap(), &want, 0.0);
    assert!(bias_add(&x, &Matrix::zeros(c + 1, 1), c).is_err());
    assert!(bias_multiply(&x, &b, 5).is_err());
    assert!(relu_backward(&x, &Matrix::zeros(1, 1)).is_err());
}

// ---- LSTM ----

fn sig(v: f64) -> f64 {
    1.0 / (1.0 + (-v).exp())
}

/// Naive LSTM: returns the per-step outputs (N x T*M) and the final cell state.
fn lstm_naive(x: &Matrix, w: &Matrix, b: &Matrix, o0: &Matrix, c0: &Matrix) -> (Vec<f64>, Vec<f64>) {
    let m = w.cols() / 4;
    let d = w.rows() - m;
    let (n, t) = (x.rows(), x.cols() / d);
    let mut out = vec![0.0; n * t * m];
    let mut c_last = vec![0.0; n * m];
    for r in 0..n {
        let mut h: Vec<f64> = (0..m).map(|j| o0.get(r, j)).collect();
        let mut c: Vec<f64> = (0..m).map(|j| c0.get(r, j)).collect();
        for step in 0..t {
            let input: Vec<f64> = (0..d).map(|k| x.get(r, step * d + k)).chain(h.iter().copied()).collect();
            let z: Vec<f64> = (0..4 * m)
                .map(|g| b.get(0, g) + input.iter().enumerate().map(|(k, v)| v * w.get(k, g)).sum::<f64>())
                .collect();
            for j in 0..m {
                let (i, f, o, g) = (sig(z[j]), sig(z[m + j]), sig(z[2 * m + j]), z[3 * m + j].tanh());
                c[j] = f * c[j] + i * g;
                h[j] = o * c[j].tanh();
                out[r * t * m + step * m + j] = h[j];
            }
        }
        c_last[r * m..(r + 1) * m].copy_from_slice(&c);
    }
    (out, c_last)
}

#[test]
fn lstm_matches_naive_loops_and_finite_differences() {
    let mut r = Rng(23);
    let (n, t, d, m) = (3, 4, 3, 5);
    let x = r.mat(n, t * d);
    let w = r.mat(d + m, 4 * m);
    let b = r.mat(1, 4 * m);
    let o0 = r.mat(n, m);
    let c0 = r.mat(n, m);
    let (seq, c_last) = lstm_naive(&x, &w, &b, &o0, &c0);
    let f = lstm(&x, &w, &b, &o0, &c0, true).unwrap();
    close("lstm out", &f.out, &seq, 1e-12);
    close("lstm c", &f.c, &c_last, 1e-12);
    let last: Vec<f64> =
        (0..n).flat_map(|i| seq[i * t * m + (t - 1) * m..(i + 1) * t * m].to_vec()).collect();
    close("lstm last", &lstm(&x, &w, &b, &o0, &c0, false).unwrap().out, &last, 1e-12);
    let dc = r.mat(n, m);
    for rs in [true, false] {
        let dout = r.mat(n, if rs { t * m } else { m });
        let f = lstm(&x, &w, &b, &o0, &c0, rs).unwrap();
        let g = lstm_backward(&x, &w, &b, &o0, &c0, rs, &dout, &dc, &f.cache_out, &f.cache_c, &f.cache_ifog)
            .unwrap();
        let loss = |x: &Matrix, w: &Matrix, b: &Matrix, o0: &Matrix, c0: &Matrix| {
            let f = lstm(x, w, b, o0, c0, rs).unwrap();
            dot(&f.out, &dout) + dot(&f.c, &dc)
        };
        grad_check("lstm dX", &x, &g.dx, &|v| loss(v, &w, &b, &o0, &c0), 1);
        grad_check("lstm dW", &w, &g.dw, &|v| loss(&x, v, &b, &o0, &c0), 1);
        grad_check("lstm db", &b, &g.db, &|v| loss(&x, &w, v, &o0, &c0), 1);
        grad_check("lstm dout0", &o0, &g.dout0, &|v| loss(&x, &w, &b, v, &c0), 1);
        grad_check("lstm dc0", &c0, &g.dc0, &|v| loss(&x, &w, &b, &o0, v), 1);
    }
}

#[test]
fn lstm_large_batch_matches_naive_loops() {
    // N >= 16 takes the row-block parallel paths of the forward and backward passes.
    let mut r = Rng(31);
    let (n, t, d, m) = (37, 5, 4, 6);
    let x = r.mat(n, t * d);
    let w = r.mat(d + m, 4 * m);
    let b = r.mat(1, 4 * m);
    let o0 = r.mat(n, m);
    let c0 = r.mat(n, m);
    let (seq, c_last) = lstm_naive(&x, &w, &b, &o0, &c0);
    let f = lstm(&x, &w, &b, &o0, &c0, true).unwrap();
    close("lstm out", &f.out, &seq, 1e-12);
    close("lstm c", &f.c, &c_last, 1e-12);
    let dout = r.mat(n, t * m);
    let dc = r.mat(n, m);
    let g = lstm_backward(&x, &w, &b, &o0, &c0, true, &dout, &dc, &f.cache_out, &f.cache_c, &f.cache_ifog)
        .unwrap();
    let loss = |x: &Matrix, w: &Matrix, b: &Matrix, o0: &Matrix, c0: &Matrix| {
        let f = lstm(x, w, b, o0, c0, true).unwrap();
        dot(&f.out, &dout) + dot(&f.c, &dc)
    };
    grad_check("lstm dX", &x, &g.dx, &|v| loss(v, &w, &b, &o0, &c0), 13);
    grad_check("lstm dW", &w, &g.dw, &|v| loss(&x, v, &b, &o0, &c0), 7);
    grad_check("lstm db", &b, &g.db, &|v| loss(&x, &w, v, &o0, &c0), 1);
    grad_check("lstm dout0", &o0, &g.dout0, &|v| loss(&x, &w, &b, v, &c0), 11);
    grad_check("lstm dc0", &c0, &g.dc0, &|v| loss(&x, &w, &b, &o0, v), 11);
}

#[test]
fn lstm_rejects_bad_shapes() {
    let (n, t, d, m) = (2, 3, 2, 2);
    let x = Matrix::zeros(n, t * d);
    let w = Matrix::zeros(d + m, 4 * m);
    let b = Matrix::zeros(1, 4 * m);
    let s = Matrix::zeros(n, m);
    assert!(lstm(&x, &Matrix::zeros(d + m, 7), &b, &s, &s, true).is_err());
    assert!(lstm(&x, &Matrix::zeros(m, 4 * m), &b, &s, &s, true).is_err());
    assert!(lstm(&Matrix::zeros(n, 5), &w, &b, &s, &s, true).is_err());
    assert!(lstm(&x, &w, &Matrix::zeros(1, 3), &s, &s, true).is_err());
    assert!(lstm(&x, &w, &b, &Matrix::zeros(1, m), &s, true).is_err());
    let f = lstm(&x, &w, &b, &s, &s, true).unwrap();
    let bad = Matrix::zeros(1, 1);
    assert!(
        lstm_backward(&x, &w, &b, &s, &s, true, &bad, &s, &f.cache_out, &f.cache_c, &f.cache_ifog).is_err()
    );
    let dout = Matrix::zeros(n, t * m);
    assert!(lstm_backward(&x, &w, &b, &s, &s, true, &dout, &s, &bad, &f.cache_c, &f.cache_ifog).is_err());
}

// ---- batch norm ----

#[test]
fn batch_norm_matches_naive_loops_and_finite_differences() {
    let mut r = Rng(29);
    let (n, c, hw) = (4, 3, 5);
    let x = r.mat(n, c * hw);
    let gamma = r.mat(c, 1);
    let beta = r.mat(c, 1);
    let em = r.mat(c, 1);
    let ev = Matrix::from_vec(c, 1, vec![0.5, 1.5, 2.0]);
    let (eps, mu) = (1e-5, 0.9);
    let t = batch_norm2d(&x, &gamma, &beta, &em, &ev, true, eps, mu, c).unwrap();
    let xv = vals(&x);
    let mut want = vec![0.0; xv.len()];
    for ch in 0..c {
        let cells: Vec<usize> = (0..n).flat_map(|i| (0..hw).map(move |k| i * c * hw + ch * hw + k)).collect();
        let mean = cells.iter().map(|&i| xv[i]).sum::<f64>() / cells.len() as f64;
        let var = cells.iter().map(|&i| (xv[i] - mean).powi(2)).sum::<f64>() / cells.len() as f64;
        for &i in &cells {
            want[i] = gamma.get(ch, 0) * (xv[i] - mean) / (var + eps).sqrt() + beta.get(ch, 0);
        }
        assert!((t.ema_mean.get(ch, 0) - (mu * em.get(ch, 0) + (1.0 - mu) * mean)).abs() < 1e-14);
        assert!((t.ema_var.get(ch, 0) - (mu * ev.get(ch, 0) + (1.0 - mu) * var)).abs() < 1e-14);
        assert!((t.cache_mean.get(ch, 0) - mean).abs() < 1e-14);
        assert!((t.cache_inv_var.get(ch, 0) - 1.0 / (var + eps).sqrt()).abs() < 1e-12);
    }
    close("bn out", &t.out, &want, 1e-12);
    let dout = r.mat(n, c * hw);
    let (dx, dg, db) =
        batch_norm2d_backward(&x, &dout, &gamma, eps, &t.cache_mean, &t.cache_inv_var, c).unwrap();
    let loss = |x: &Matrix, g: &Matrix, b: &Matrix| {
        dot(&batch_norm2d(x, g, b, &em, &ev, true, eps, mu, c).unwrap().out, &dout)
    };
    grad_check("bn dX", &x, &dx, &|v| loss(v, &gamma, &beta), 1);
    grad_check("bn dgamma", &gamma, &dg, &|v| loss(&x, v, &beta), 1);
    grad_check("bn dbeta", &beta, &db, &|v| loss(&x, &gamma, v), 1);
    // Sparse input gives the same output.
    let xs = Matrix::Sparse(x.to_csr());
    close(
        "bn sparse",
        &batch_norm2d(&xs, &gamma, &beta, &em, &ev, true, eps, mu, c).unwrap().out,
        &want,
        1e-12,
    );
    assert!(batch_norm2d(&x, &gamma, &beta, &em, &ev, true, eps, mu, 4).is_err());
    assert!(batch_norm2d(&x, &Matrix::zeros(2, 1), &beta, &em, &ev, true, eps, mu, c).is_err());
    assert!(
        batch_norm2d_backward(&x, &Matrix::zeros(1, 1), &gamma, eps, &t.cache_mean, &t.cache_inv_var, c)
            .is_err()
    );
}
