//! LSTM forward and backward with SystemDS's gate order and cache layout.
//!
//! Gates are `[i, f, o, g]` blocks of `M` columns (i, f, o sigmoid, g tanh); `c = f*c_prev + i*g`
//! and `out = o*tanh(c)`. The caches are `T x N*M` (outputs, cells) and `T x N*4M` (activated
//! gates): row `t` is the step's `N x M` (or `N x 4M`) matrix flattened row-major, exactly what
//! SystemDS 3.4.0's builtin returns. `M = ncol(W)/4`, `D = nrow(W) - M`, `T = ncol(X)/D`.
//!
//! Speed (the work of `nn/layers/lstm.dml`, which calls these kernels):
//! - Forward: the input side of every step does not depend on the recurrence, so
//!   `[x_t, 1] * [W_x; b]` for all `T*N` rows is one large, parallel product written straight
//!   into the gate cache. Each step then adds `out_prev * W_h` (a small product) and makes one
//!   pass of branch-free gate activations and state updates (see `activation.rs`).
//! - Backward: each step makes one pass that turns `dout`, `dc` and the caches into the gate
//!   gradients of all four gates, kept for every step, and one small product `dgates * W_h^T`
//!   for the gradient of the previous output. `dW`, `db` and `dX` are then products over all
//!   steps at once.
//! - Rows of a batch are independent through the whole recurrence, so a batch is cut into one
//!   block of rows per thread and each block runs all `T` steps on its own: one fork and join
//!   per call, not per step. Buffers are allocated once per call, never per step.

use super::recurrent::{
    Dims, StepBlocks, lstm_cells, lstm_cells_backward, permute_batch_to_steps, permute_steps_to_batch,
    row_blocks,
};
use super::{dense, dense_values, expect_shape};
use crate::kernels::gemm_util::{View, matmul, par_for, product};
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
    if n == 0 {
        return Err(KernelError::new(format!("{op}: the input has no rows")));
    }
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
    let dm = dims("lstm", x, w, b, out0, c0)?;
    let Dims { n, t, d, m } = dm;
    let g4 = 4 * m;
    let xv = dense_values(x);
    let wv = dense_values(w);
    let bv = dense_values(b);
    let o0 = dense_values(out0);
    let c0v = dense_values(c0);
    // The input side of all steps: rows (step, batch row) of [x_t, 1] times [W_x; b], written
    // straight into the gate cache, whose rows are in that order.
    let k = d + 1;
    let xs = permute_batch_to_steps(&xv, n, t, d, Some(1.0));
    let mut w_aug = Vec::with_capacity(k * g4);
    w_aug.extend_from_slice(&wv[..d * g4]);
    w_aug.extend_from_slice(&bv[..g4]);
    let rows_all = t * n;
    let mut cache_ifog =
        product(rows_all, g4, k, View::rows(&xs, k), View::rows(&w_aug, g4), par_for(rows_all, g4, k));
    drop(xs);

    let mut cache_out = vec![0.0; t * n * m];
    let mut cache_c = vec![0.0; t * n * m];
    let mut seq = if return_sequences { vec![0.0; n * t * m] } else { Vec::new() };
    let blocks = row_blocks(n, t * n * m * g4);
    let ifog_parts = StepBlocks::split(&mut cache_ifog, dm, g4, blocks);
    let out_parts = StepBlocks::split(&mut cache_out, dm, m, blocks);
    let c_parts = StepBlocks::split(&mut cache_c, dm, m, blocks);
    let mut seq_parts: Vec<&mut [f64]> =
        if return_sequences { seq.chunks_mut(blocks * t * m).collect() } else { Vec::new() };
    seq_parts.resize_with(ifog_parts.len(), Default::default);
    let src = FwdSrc { out0: &o0, c0: &c0v, wh: &wv[d * g4..(d + m) * g4], dims: dm };
    let jobs = ifog_parts.into_iter().zip(out_parts).zip(c_parts).zip(seq_parts).enumerate();
    let run = |(bi, (((ifog, outs), cs), seq)): (usize, FwdBlock<'_>)| {
        forward_rows(&src, bi * blocks, ifog, outs, cs, seq)
    };
    if blocks < n {
        jobs.collect::<Vec<_>>().into_par_iter().for_each(run);
    } else {
        jobs.for_each(run);
    }

    let last = (t - 1) * n * m..t * n * m;
    let out =
        if return_sequences { dense(n, t * m, seq) } else { dense(n, m, cache_out[last.clone()].to_vec()) };
    Ok(LstmOut {
        out,
        c: dense(n, m, cache_c[last].to_vec()),
        cache_out: dense(t, n * m, cache_out),
        cache_c: dense(t, n * m, cache_c),
        cache_ifog: dense(t, n * g4, cache_ifog),
    })
}

/// One block of rows in the forward pass: its per-step slices of the gate, output and cell
/// caches, and its rows of the output sequence (empty without `return_sequences`).
type FwdBlock<'a> = (((StepBlocks<'a>, StepBlocks<'a>), StepBlocks<'a>), &'a mut [f64]);

/// The read-only inputs of the forward recurrence.
struct FwdSrc<'a> {
    out0: &'a [f64],
    c0: &'a [f64],
    /// The recurrent weights `W_h`, `M x 4M`.
    wh: &'a [f64],
    dims: Dims,
}

/// All steps for the rows `r0..r0 + rows` of the batch. On entry `ifog[s]` holds the input side
/// of step `s` (`x_t W_x + b`); on exit the activated gates.
fn forward_rows(
    s: &FwdSrc<'_>,
    r0: usize,
    mut ifog: StepBlocks<'_>,
    mut outs: StepBlocks<'_>,
    mut cs: StepBlocks<'_>,
    seq: &mut [f64],
) {
    let Dims { t, m, .. } = s.dims;
    let g4 = 4 * m;
    let rows = outs.rows(m);
    for step in 0..t {
        let (done_o, rest_o) = outs.0.split_at_mut(step);
        let (done_c, rest_c) = cs.0.split_at_mut(step);
        let (h_prev, c_prev): (&[f64], &[f64]) = if step == 0 {
            (&s.out0[r0 * m..(r0 + rows) * m], &s.c0[r0 * m..(r0 + rows) * m])
        } else {
            (&done_o[step - 1][..], &done_c[step - 1][..])
        };
        let (h_new, c_new) = (&mut *rest_o[0], &mut *rest_c[0]);
        let gates = &mut *ifog.0[step];
        matmul(rows, g4, m, gates, g4, true, View::rows(h_prev, m), View::rows(s.wh, g4), Parallelism::None);
        lstm_cells(gates, c_prev, c_new, h_new, m);
        if !seq.is_empty() {
            for (r, hn) in h_new.chunks_exact(m).enumerate() {
                seq[(r * t + step) * m..(r * t + step + 1) * m].copy_from_slice(hn);
            }
        }
    }
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
    let dm = dims(op, x, w, b, out0, c0)?;
    let Dims { n, t, d, m } = dm;
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
    let src = BackSrc {
        c0: &c0v,
        dout: &dov,
        cache_c: &cc,
        cache_ifog: &ci,
        wh: &wv[d * g4..(d + m) * g4],
        return_sequences,
        dims: dm,
    };
    // The gradients at the gate inputs of every step, rows (step, batch row) like the caches.
    let mut dgates = vec![0.0; t * n * g4];
    // dout0 starts as nothing; dc0 starts as the incoming dc and is carried back through time.
    let mut dh = vec![0.0; n * m];
    let mut dct = dense_values(dc).into_owned();
    let blocks = row_blocks(n, t * n * m * g4);
    let parts = StepBlocks::split(&mut dgates, dm, g4, blocks);
    let jobs = parts.into_iter().zip(dh.chunks_mut(blocks * m)).zip(dct.chunks_mut(blocks * m)).enumerate();
    let run =
        |(bi, ((dg, dh_b), dc_b)): (usize, BackBlock<'_>)| backward_rows(&src, bi * blocks, dg, dh_b, dc_b);
    if blocks < n {
        jobs.collect::<Vec<_>>().into_par_iter().for_each(run);
    } else {
        jobs.for_each(run);
    }

    // dW = [X_steps, [out0; out_1..out_{T-1}]]^T * dgates, db = colSums(dgates),
    // dX = dgates * W_x^T, each one product over all steps.
    let rows_all = t * n;
    let xs = permute_batch_to_steps(&xv, n, t, d, None);
    let mut dw = vec![0.0; (d + m) * g4];
    let (dwx, dwh) = dw.split_at_mut(d * g4);
    let xs_view = View::transposed(&xs, d);
    matmul(d, g4, rows_all, dwx, g4, false, xs_view, View::rows(&dgates, g4), par_for(d, g4, rows_all));
    let first = View::transposed(&o0[..n * m], m);
    matmul(m, g4, n, dwh, g4, false, first, View::rows(&dgates[..n * g4], g4), Parallelism::None);
    if t > 1 {
        let rest = (t - 1) * n;
        let prev = View::transposed(&co[..rest * m], m);
        matmul(m, g4, rest, dwh, g4, true, prev, View::rows(&dgates[n * g4..], g4), par_for(m, g4, rest));
    }
    let mut db = vec![0.0; g4];
    for row in dgates.chunks_exact(g4) {
        db.iter_mut().zip(row).for_each(|(acc, v)| *acc += v);
    }
    let wx_t = View::transposed(&wv[..d * g4], g4);
    let dxs = product(rows_all, d, g4, View::rows(&dgates, g4), wx_t, par_for(rows_all, d, g4));
    let dx = permute_steps_to_batch(&dxs, n, t, d);
    Ok(LstmGrads {
        dx: dense(n, t * d, dx),
        dw: dense(d + m, g4, dw),
        db: dense(1, g4, db),
        dout0: dense(n, m, dh),
        dc0: dense(n, m, dct),
    })
}

/// One block of rows in the backward pass: its per-step slices of the gate gradients, and its
/// rows of `dout0` and `dc0`.
type BackBlock<'a> = ((StepBlocks<'a>, &'a mut [f64]), &'a mut [f64]);

/// The read-only inputs of the backward recurrence, as row-major slices.
struct BackSrc<'a> {
    c0: &'a [f64],
    dout: &'a [f64],
    cache_c: &'a [f64],
    cache_ifog: &'a [f64],
    /// The recurrent weights `W_h`, `M x 4M`.
    wh: &'a [f64],
    return_sequences: bool,
    dims: Dims,
}

/// Backward through all steps for rows `r0..r0+rows` (rows = `dh.len() / M`). On entry `dct`
/// holds the incoming `dc` rows, on exit `dc0`; `dh` ends as `dout0`; `dgates[s]` gets the
/// block's gate gradients of step `s`.
fn backward_rows(s: &BackSrc<'_>, r0: usize, mut dgates: StepBlocks<'_>, dh: &mut [f64], dct: &mut [f64]) {
    let Dims { n, t, m, .. } = s.dims;
    let g4 = 4 * m;
    let rows = dh.len() / m;
    for step in (0..t).rev() {
        // Row r of the block is row r0 + r of the batch; a step's slice of a cache has N rows.
        let at = |base: usize, width: usize| (base * n + r0) * width;
        let gates = &s.cache_ifog[at(step, g4)..at(step, g4) + rows * g4];
        let ct = &s.cache_c[at(step, m)..at(step, m) + rows * m];
        let cprev = if step == 0 {
            &s.c0[r0 * m..(r0 + rows) * m]
        } else {
            &s.cache_c[at(step - 1, m)..][..rows * m]
        };
        let dg = &mut *dgates.0[step];
        for r in 0..rows {
            let rr = r0 + r;
            let given = if s.return_sequences {
                Some(&s.dout[(rr * t + step) * m..(rr * t + step + 1) * m])
            } else if step == t - 1 {
                Some(&s.dout[rr * m..(rr + 1) * m])
            } else {
                None
            };
            if let Some(given) = given {
                dh[r * m..(r + 1) * m].iter_mut().zip(given).for_each(|(h, g)| *h += g);
            }
        }
        lstm_cells_backward(gates, ct, cprev, dh, dct, dg, m);
        // The gradient at the previous output: dgates * W_h^T.
        matmul(rows, m, g4, dh, m, false, View::rows(dg, g4), View::transposed(s.wh, g4), Parallelism::None);
    }
}
