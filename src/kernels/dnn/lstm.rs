//! LSTM forward and backward with SystemDS's gate order and cache layout.
//!
//! Gates are `[i, f, o, g]` blocks of `M` columns (i, f, o sigmoid, g tanh); `c = f*c_prev + i*g`
//! and `out = o*tanh(c)`. The caches are `T x N*M` (outputs, cells) and `T x N*4M` (activated
//! gates): row `t` is the step's `N x M` (or `N x 4M`) matrix flattened row-major, exactly what
//! SystemDS 3.4.0's builtin returns. `M = ncol(W)/4`, `D = nrow(W) - M`, `T = ncol(X)/D`.
//!
//! Speed: each step is one product `[x_t, out_prev, 1] * [W; b]` written straight into the gate
//! cache, then one pass of branch-free, vectorizable gate activations (see `activation.rs`).

use super::activation::{sigmoid_in_place, tanh, tanh_in_place};
use super::{dense, dense_values, expect_shape};
use crate::kernels::gemm_util::{View, matmul};
use crate::kernels::{KResult, KernelError};
use crate::types::matrix::Matrix;
use gemm::Parallelism;
use rayon::prelude::*;

/// The outputs of [`lstm`].
pub struct LstmOut {
    pub out: Matrix,
    pub c: Matrix,
    pub cache_out: Matrix,
    pub cache_c: Matrix,
    pub cache_ifog: Matrix,
}

/// The outputs of [`lstm_backward`].
pub struct LstmGrads {
    pub dx: Matrix,
    pub dw: Matrix,
    pub db: Matrix,
    pub dout0: Matrix,
    pub dc0: Matrix,
}

/// Sizes inferred from the inputs.
#[derive(Clone, Copy)]
struct Dims {
    n: usize,
    t: usize,
    d: usize,
    m: usize,
}

fn dims(op: &str, x: &Matrix, w: &Matrix, b: &Matrix, out0: &Matrix, c0: &Matrix) -> KResult<Dims> {
    let m = w.cols() / 4;
    if m == 0 || !w.cols().is_multiple_of(4) || w.rows() <= m {
        return Err(KernelError::new(format!(
            "{op}: weights must be (D+M) x 4M with D, M > 0, got {}x{}",
            w.rows(),
            w.cols()
        )));
    }
    let d = w.rows() - m;
    if x.cols() == 0 || !x.cols().is_multiple_of(d) {
        return Err(KernelError::new(format!(
            "{op}: input has {} columns, not a positive multiple of D = {d} (from weights {}x{})",
            x.cols(),
            w.rows(),
            w.cols()
        )));
    }
    let n = x.rows();
    expect_shape(op, "bias", b, 1, 4 * m)?;
    // SystemDS's nn layer accepts longer initial states and uses their first N rows.
    for (what, s) in [("out0", out0), ("c0", c0)] {
        if s.rows() < n || s.cols() != m {
            return Err(KernelError::new(format!(
                "{op}: {what} must be {n}x{m}, got {}x{}",
                s.rows(),
                s.cols()
            )));
        }
    }
    Ok(Dims { n, t: x.cols() / d, d, m })
}

/// LSTM forward over `T` steps.
pub fn lstm(
    x: &Matrix,
    w: &Matrix,
    b: &Matrix,
    out0: &Matrix,
    c0: &Matrix,
    return_sequences: bool,
) -> KResult<LstmOut> {
    let Dims { n, t, d, m } = dims("lstm", x, w, b, out0, c0)?;
    let g4 = 4 * m;
    let xv = dense_values(x);
    let wv = dense_values(w);
    let bv = dense_values(b);
    let o0 = dense_values(out0);
    let c0v = dense_values(c0);
    // One product per step: [x_t, out_prev, 1] (N x (D+M+1)) times [W; b], straight into the
    // step's gate cache; the ones column folds the bias into the product.
    let k = d + m + 1;
    let mut w_aug = Vec::with_capacity(k * g4);
    w_aug.extend_from_slice(&wv[..(d + m) * g4]);
    w_aug.extend_from_slice(&bv[..g4]);
    let mut input = vec![1.0; n * k];
    let mut cache_out = vec![0.0; t * n * m];
    let mut cache_c = vec![0.0; t * n * m];
    let mut cache_ifog = vec![0.0; t * n * g4];
    // Rows are independent within a step, so a step is split into row blocks, one per thread.
    let threads = rayon::current_num_threads().max(1);
    let block = if n >= 16 && threads > 1 { n.div_ceil(threads) } else { n };
    for step in 0..t {
        let ifog = &mut cache_ifog[step * n * g4..(step + 1) * n * g4];
        let (done_out, rest_out) = cache_out.split_at_mut(step * n * m);
        let (done_c, rest_c) = cache_c.split_at_mut(step * n * m);
        let (prev_out, prev_c): (&[f64], &[f64]) = if step == 0 {
            (&o0[..n * m], &c0v[..n * m])
        } else {
            (&done_out[(step - 1) * n * m..], &done_c[(step - 1) * n * m..])
        };
        let run = |r0: usize, input: &mut [f64], ifog: &mut [f64], out_new: &mut [f64], c_new: &mut [f64]| {
            let rows = out_new.len() / m;
            for r in 0..rows {
                let row = &mut input[r * k..(r + 1) * k];
                let rr = r0 + r;
                row[..d].copy_from_slice(&xv[(rr * t + step) * d..(rr * t + step + 1) * d]);
                row[d..d + m].copy_from_slice(&prev_out[rr * m..(rr + 1) * m]);
            }
            let input = &input[..rows * k];
            matmul(
                rows,
                g4,
                k,
                ifog,
                g4,
                false,
                View::rows(input, k),
                View::rows(&w_aug, g4),
                Parallelism::None,
            );
            for r in 0..rows {
                let gates = &mut ifog[r * g4..(r + 1) * g4];
                sigmoid_in_place(&mut gates[..3 * m]);
                tanh_in_place(&mut gates[3 * m..]);
                for j in 0..m {
                    let (i, f, o, g) = (gates[j], gates[m + j], gates[2 * m + j], gates[3 * m + j]);
                    let c = f * prev_c[(r0 + r) * m + j] + i * g;
                    c_new[r * m + j] = c;
                    out_new[r * m + j] = o * tanh(c);
                }
            }
        };
        let parts = input
            .chunks_mut(block * k)
            .zip(ifog.chunks_mut(block * g4))
            .zip(rest_out[..n * m].chunks_mut(block * m))
            .zip(rest_c[..n * m].chunks_mut(block * m))
            .enumerate();
        if block < n {
            parts.par_bridge().for_each(|(bi, (((inp, fg), o), c))| run(bi * block, inp, fg, o, c));
        } else {
            parts.for_each(|(bi, (((inp, fg), o), c))| run(bi * block, inp, fg, o, c));
        }
    }
    let last = (t - 1) * n * m..t * n * m;
    let out = if return_sequences {
        let mut seq = vec![0.0; n * t * m];
        for step in 0..t {
            for r in 0..n {
                let src = &cache_out[(step * n + r) * m..(step * n + r + 1) * m];
                seq[(r * t + step) * m..(r * t + step + 1) * m].copy_from_slice(src);
            }
        }
        dense(n, t * m, seq)
    } else {
        dense(n, m, cache_out[last.clone()].to_vec())
    };
    Ok(LstmOut {
        out,
        c: dense(n, m, cache_c[last].to_vec()),
        cache_out: dense(t, n * m, cache_out),
        cache_c: dense(t, n * m, cache_c),
        cache_ifog: dense(t, n * g4, cache_ifog),
    })
}

/// LSTM backward through time from the forward caches (the formulas of SystemDS's
/// `nn/layers/lstm.dml::backward`). `dout` is `N x T*M` when `return_sequences`, else `N x M`.
#[allow(clippy::too_many_arguments)]
pub fn lstm_backward(
    x: &Matrix,
    w: &Matrix,
    b: &Matrix,
    out0: &Matrix,
    c0: &Matrix,
    return_sequences: bool,
    dout: &Matrix,
    dc: &Matrix,
    cache_out: &Matrix,
    cache_c: &Matrix,
    cache_ifog: &Matrix,
) -> KResult<LstmGrads> {
    let op = "lstm_backward";
    let Dims { n, t, d, m } = dims(op, x, w, b, out0, c0)?;
    let g4 = 4 * m;
    expect_shape(op, "dout", dout, n, if return_sequences { t * m } else { m })?;
    expect_shape(op, "dc", dc, n, m)?;
    expect_shape(op, "cache_out", cache_out, t, n * m)?;
    expect_shape(op, "cache_c", cache_c, t, n * m)?;
    expect_shape(op, "cache_ifog", cache_ifog, t, n * g4)?;
    let xv = dense_values(x);
    let wv = dense_values(w);
    let o0 = dense_values(out0);
    let c0v = dense_values(c0);
    let dov = dense_values(dout);
    let co = dense_values(cache_out);
    let cc = dense_values(cache_c);
    let ci = dense_values(cache_ifog);
    let dm = d + m;
    let sizes = Dims { n, t, d, m };
    let src = BackSrc {
        x: &xv,
        w: &wv,
        out0: &o0,
        c0: &c0v,
        dout: &dov,
        cache_out: &co,
        cache_c: &cc,
        cache_ifog: &ci,
        return_sequences,
    };
    let mut dx = vec![0.0; n * t * d];
    // dout0 starts as nothing; dc0 starts as the incoming dc and is carried back through time.
    let mut dh = vec![0.0; n * m];
    let mut dct = dense_values(dc).into_owned();
    // Rows are independent through the whole recurrence: each block of rows runs all steps on
    // its own and keeps its own dW/db, which are summed at the end.
    let threads = rayon::current_num_threads().max(1);
    let block = if n >= 16 && threads > 1 { n.div_ceil(threads) } else { n };
    let parts =
        dx.chunks_mut(block * t * d).zip(dh.chunks_mut(block * m)).zip(dct.chunks_mut(block * m)).enumerate();
    let run =
        |(bi, ((dx_b, dh_b), dc_b)): RowBlock<'_>| backward_rows(&src, sizes, bi * block, dx_b, dh_b, dc_b);
    let sum = |mut a: (Vec<f64>, Vec<f64>), b: (Vec<f64>, Vec<f64>)| {
        a.0.iter_mut().zip(&b.0).for_each(|(x, y)| *x += *y);
        a.1.iter_mut().zip(&b.1).for_each(|(x, y)| *x += *y);
        a
    };
    let (dw, db) = if block < n {
        parts.par_bridge().map(run).reduce(|| (vec![0.0; dm * g4], vec![0.0; g4]), sum)
    } else {
        parts.map(run).fold((vec![0.0; dm * g4], vec![0.0; g4]), sum)
    };
    Ok(LstmGrads {
        dx: dense(n, t * d, dx),
        dw: dense(dm, g4, dw),
        db: dense(1, g4, db),
        dout0: dense(n, m, dh),
        dc0: dense(n, m, dct),
    })
}

/// One block of rows in the backward pass: its index and its slices of dX, dout0 and dc0.
type RowBlock<'a> = (usize, ((&'a mut [f64], &'a mut [f64]), &'a mut [f64]));

/// The read-only inputs of the backward pass, as row-major slices.
struct BackSrc<'a> {
    x: &'a [f64],
    w: &'a [f64],
    out0: &'a [f64],
    c0: &'a [f64],
    dout: &'a [f64],
    cache_out: &'a [f64],
    cache_c: &'a [f64],
    cache_ifog: &'a [f64],
    return_sequences: bool,
}

/// Backward through all steps for rows `r0..r0+rows` (rows = `dh.len() / M`). On entry `dct`
/// holds the incoming `dc` rows, on exit `dc0`; `dh` ends as `dout0`; `dx` gets the block's rows.
/// Returns this block's `(dW, db)`.
fn backward_rows(
    s: &BackSrc<'_>,
    Dims { n, t, d, m }: Dims,
    r0: usize,
    dx: &mut [f64],
    dh: &mut [f64],
    dct: &mut [f64],
) -> (Vec<f64>, Vec<f64>) {
    let (g4, dm, rows) = (4 * m, d + m, dh.len() / m);
    let mut dw = vec![0.0; dm * g4];
    let mut db = vec![0.0; g4];
    let mut difog = vec![0.0; rows * g4];
    let mut input = vec![0.0; rows * dm];
    let mut dinput = vec![0.0; rows * dm];
    for step in (0..t).rev() {
        // Row r of the block is row r0 + r of the batch; step slices of the caches are N rows.
        let at = |base: usize, width: usize, r: usize| base * n * width + (r0 + r) * width;
        let (prev_out, prev_c, prev_base): (&[f64], &[f64], usize) =
            if step == 0 { (s.out0, s.c0, 0) } else { (s.cache_out, s.cache_c, step - 1) };
        for r in 0..rows {
            let gates = &s.cache_ifog[at(step, g4, r)..at(step, g4, r) + g4];
            let ct = &s.cache_c[at(step, m, r)..at(step, m, r) + m];
            let pc = &prev_c[at(prev_base, m, r)..at(prev_base, m, r) + m];
            let dg_row = &mut difog[r * g4..(r + 1) * g4];
            let rr = r0 + r;
            for j in 0..m {
                let k = r * m + j;
                let given = if s.return_sequences {
                    s.dout[rr * t * m + step * m + j]
                } else if step == t - 1 {
                    s.dout[rr * m + j]
                } else {
                    0.0
                };
                let dhk = given + dh[k];
                let (i, f, o, g) = (gates[j], gates[m + j], gates[2 * m + j], gates[3 * m + j]);
                let tc = tanh(ct[j]);
                let dcell = dct[k] + o * (1.0 - tc * tc) * dhk;
                let d_o = tc * dhk;
                let d_f = pc[j] * dcell;
                let d_i = g * dcell;
                let d_g = i * dcell;
                dct[k] = f * dcell;
                dg_row[j] = i * (1.0 - i) * d_i;
                dg_row[m + j] = f * (1.0 - f) * d_f;
                dg_row[2 * m + j] = o * (1.0 - o) * d_o;
                dg_row[3 * m + j] = (1.0 - g * g) * d_g;
            }
            for (acc, v) in db.iter_mut().zip(dg_row.iter()) {
                *acc += v;
            }
            let irow = &mut input[r * dm..(r + 1) * dm];
            irow[..d].copy_from_slice(&s.x[(rr * t + step) * d..(rr * t + step + 1) * d]);
            irow[d..].copy_from_slice(&prev_out[at(prev_base, m, r)..at(prev_base, m, r) + m]);
        }
        // dW += input^T * difog; dinput = difog * W^T.
        let none = Parallelism::None;
        matmul(dm, g4, rows, &mut dw, g4, true, View::transposed(&input, dm), View::rows(&difog, g4), none);
        matmul(rows, dm, g4, &mut dinput, dm, false, View::rows(&difog, g4), View::transposed(s.w, g4), none);
        for r in 0..rows {
            dx[(r * t + step) * d..(r * t + step + 1) * d].copy_from_slice(&dinput[r * dm..r * dm + d]);
            dh[r * m..(r + 1) * m].copy_from_slice(&dinput[r * dm + d..(r + 1) * dm]);
        }
    }
    (dw, db)
}
