//! A simple recurrent layer, `h_t = act(x_t W_x + h_{t-1} W_h + b)`, forward and backward: the
//! fused kernels of `nn/layers/rnn.dml` (tanh) and of the Keras converter's SimpleRNN (tanh,
//! sigmoid, relu or linear).
//!
//! Layouts as in the LSTM kernels: `X` is `N x T*D`, `W` is `(D+M) x M` (`[W_x; W_h]`), `b` is
//! `1 x M`, `out0` is `N x M` (longer initial states are cut to the batch, as nn's layer does).
//! The cache is `T x N*M`: row `t` holds the step's outputs, flattened row-major, as in
//! `nn/layers/rnn.dml`.
//!
//! Speed: the input side of all steps (`[x_t, 1] [W_x; b]`) is one product, each step adds a
//! small product `h_{t-1} W_h` and activates in the same buffer; the backward pass keeps the
//! gradient at every step's activation input and makes `dW`, `db` and `dX` products over all
//! steps. Rows of a batch run the whole recurrence on their own thread (see `recurrent.rs`).

use super::recurrent::{
    Dims, StepBlocks, permute_batch_to_steps, permute_steps_to_batch, row_blocks, sigmoid_cells, tanh_cells,
};
use super::{dense, dense_values, expect_shape};
use crate::kernels::gemm_util::{View, matmul, par_for, product};
use crate::kernels::{KResult, KernelError};
use crate::types::matrix::Matrix;
use gemm::Parallelism;
use rayon::prelude::*;

/// The activation of a simple recurrent layer. The backward pass takes the derivative from the
/// activation's output, which is exact for these four.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RnnActivation {
    Tanh,
    Sigmoid,
    Relu,
    Linear,
}

impl RnnActivation {
    /// The activation named `name` (`"tanh"`, `"sigmoid"`, `"relu"` or `"linear"`).
    pub fn parse(name: &str) -> Option<RnnActivation> {
        match name {
            "tanh" => Some(RnnActivation::Tanh),
            "sigmoid" => Some(RnnActivation::Sigmoid),
            "relu" => Some(RnnActivation::Relu),
            "linear" => Some(RnnActivation::Linear),
            _ => None,
        }
    }

    fn apply(self, v: &mut [f64]) {
        match self {
            RnnActivation::Tanh => tanh_cells(v),
            RnnActivation::Sigmoid => sigmoid_cells(v),
            RnnActivation::Relu => v.iter_mut().for_each(|x| *x = x.max(0.0)),
            RnnActivation::Linear => {}
        }
    }

    /// The derivative at an input whose activation is `h`.
    #[inline(always)]
    fn derivative(self, h: f64) -> f64 {
        match self {
            RnnActivation::Tanh => 1.0 - h * h,
            RnnActivation::Sigmoid => h * (1.0 - h),
            RnnActivation::Relu => f64::from(u8::from(h > 0.0)),
            RnnActivation::Linear => 1.0,
        }
    }
}

/// The outputs of [`rnn`]: `out` (`N x T*M` with `return_sequences`, else `N x M`) and the
/// cache of every step's output (`T x N*M`).
pub struct RnnOut {
    pub out: Matrix,
    pub cache_out: Matrix,
}

/// The outputs of [`rnn_backward`].
pub struct RnnGrads {
    pub dx: Matrix,
    pub dw: Matrix,
    pub db: Matrix,
    pub dout0: Matrix,
}

fn dims(op: &str, x: &Matrix, w: &Matrix, b: &Matrix, out0: &Matrix) -> KResult<Dims> {
    let m = w.cols();
    if m == 0 || w.rows() <= m {
        return Err(KernelError::new(format!(
            "{op}: weights must be (D+M) x M with D, M > 0, got {}x{}",
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
    expect_shape(op, "bias", b, 1, m)?;
    if out0.rows() < n || out0.cols() != m {
        return Err(KernelError::new(format!(
            "{op}: out0 must be {n}x{m}, got {}x{}",
            out0.rows(),
            out0.cols()
        )));
    }
    Ok(Dims { n, t: x.cols() / d, d, m })
}

/// The forward pass over `T` steps.
pub fn rnn(
    x: &Matrix,
    w: &Matrix,
    b: &Matrix,
    out0: &Matrix,
    return_sequences: bool,
    act: RnnActivation,
) -> KResult<RnnOut> {
    let dm = dims("rnn", x, w, b, out0)?;
    let Dims { n, t, d, m } = dm;
    let (xv, wv, bv, o0) = (dense_values(x), dense_values(w), dense_values(b), dense_values(out0));
    // The input side of all steps, rows (step, batch row), straight into the cache.
    let k = d + 1;
    let xs = permute_batch_to_steps(&xv, n, t, d, Some(1.0));
    let mut w_aug = Vec::with_capacity(k * m);
    w_aug.extend_from_slice(&wv[..d * m]);
    w_aug.extend_from_slice(&bv[..m]);
    let mut cache = vec![0.0; t * n * m];
    let rows_all = t * n;
    matmul(
        rows_all,
        m,
        k,
        &mut cache,
        m,
        false,
        View::rows(&xs, k),
        View::rows(&w_aug, m),
        par_for(rows_all, m, k),
    );
    drop(xs);

    let mut seq = if return_sequences { vec![0.0; n * t * m] } else { Vec::new() };
    let blocks = row_blocks(n, t * n * m * m);
    let parts = StepBlocks::split(&mut cache, dm, m, blocks);
    let mut seq_parts: Vec<&mut [f64]> =
        if return_sequences { seq.chunks_mut(blocks * t * m).collect() } else { Vec::new() };
    seq_parts.resize_with(parts.len(), Default::default);
    let wh = &wv[d * m..(d + m) * m];
    let run = |(bi, (mut hs, seq)): (usize, (StepBlocks<'_>, &mut [f64]))| {
        let r0 = bi * blocks;
        let rows = hs.rows(m);
        for step in 0..t {
            let (done, rest) = hs.0.split_at_mut(step);
            let h_prev: &[f64] = if step == 0 { &o0[r0 * m..(r0 + rows) * m] } else { &done[step - 1][..] };
            let h = &mut *rest[0];
            matmul(rows, m, m, h, m, true, View::rows(h_prev, m), View::rows(wh, m), Parallelism::None);
            act.apply(h);
            if !seq.is_empty() {
                for (r, row) in h.chunks_exact(m).enumerate() {
                    seq[(r * t + step) * m..(r * t + step + 1) * m].copy_from_slice(row);
                }
            }
        }
    };
    let jobs = parts.into_iter().zip(seq_parts).enumerate();
    if blocks < n {
        jobs.collect::<Vec<_>>().into_par_iter().for_each(run);
    } else {
        jobs.for_each(run);
    }
    let out =
        if return_sequences { dense(n, t * m, seq) } else { dense(n, m, cache[(t - 1) * n * m..].to_vec()) };
    Ok(RnnOut { out, cache_out: dense(t, n * m, cache) })
}

/// The backward pass through time from the forward cache (the formulas of
/// `nn/layers/rnn.dml::backward`). `dout` is `N x T*M` when `given_sequences`, else `N x M`.
#[allow(clippy::too_many_arguments)]
pub fn rnn_backward(
    x: &Matrix,
    w: &Matrix,
    b: &Matrix,
    out0: &Matrix,
    given_sequences: bool,
    dout: &Matrix,
    cache_out: &Matrix,
    act: RnnActivation,
) -> KResult<RnnGrads> {
    let op = "rnn_backward";
    let dm = dims(op, x, w, b, out0)?;
    let Dims { n, t, d, m } = dm;
    expect_shape(op, "dout", dout, n, if given_sequences { t * m } else { m })?;
    expect_shape(op, "cache_out", cache_out, t, n * m)?;
    let (xv, wv, o0) = (dense_values(x), dense_values(w), dense_values(out0));
    let (dov, co) = (dense_values(dout), dense_values(cache_out));
    let wh = &wv[d * m..(d + m) * m];
    // The gradients at every step's activation input, rows (step, batch row).
    let mut da = vec![0.0; t * n * m];
    let mut dh = vec![0.0; n * m];
    let blocks = row_blocks(n, t * n * m * m);
    let parts = StepBlocks::split(&mut da, dm, m, blocks);
    let run = |(bi, (mut das, dh)): (usize, (StepBlocks<'_>, &mut [f64]))| {
        let r0 = bi * blocks;
        let rows = dh.len() / m;
        for step in (0..t).rev() {
            let h = &co[(step * n + r0) * m..(step * n + r0 + rows) * m];
            let da_s = &mut *das.0[step];
            for r in 0..rows {
                let rr = r0 + r;
                let given: Option<&[f64]> = if given_sequences {
                    Some(&dov[(rr * t + step) * m..(rr * t + step + 1) * m])
                } else if step == t - 1 {
                    Some(&dov[rr * m..(rr + 1) * m])
                } else {
                    None
                };
                let dhr = &mut dh[r * m..(r + 1) * m];
                if let Some(g) = given {
                    dhr.iter_mut().zip(g).for_each(|(a, v)| *a += v);
                }
                let hr = &h[r * m..(r + 1) * m];
                let dar = &mut da_s[r * m..(r + 1) * m];
                for j in 0..m {
                    dar[j] = act.derivative(hr[j]) * dhr[j];
                }
            }
            matmul(rows, m, m, dh, m, false, View::rows(da_s, m), View::transposed(wh, m), Parallelism::None);
        }
    };
    let jobs = parts.into_iter().zip(dh.chunks_mut(blocks * m)).enumerate();
    if blocks < n {
        jobs.collect::<Vec<_>>().into_par_iter().for_each(run);
    } else {
        jobs.for_each(run);
    }

    let rows_all = t * n;
    let xs = permute_batch_to_steps(&xv, n, t, d, None);
    let mut dw = vec![0.0; (d + m) * m];
    let (dwx, dwh) = dw.split_at_mut(d * m);
    matmul(
        d,
        m,
        rows_all,
        dwx,
        m,
        false,
        View::transposed(&xs, d),
        View::rows(&da, m),
        par_for(d, m, rows_all),
    );
    matmul(
        m,
        m,
        n,
        dwh,
        m,
        false,
        View::transposed(&o0[..n * m], m),
        View::rows(&da[..n * m], m),
        Parallelism::None,
    );
    if t > 1 {
        let rest = (t - 1) * n;
        let prev = View::transposed(&co[..rest * m], m);
        matmul(m, m, rest, dwh, m, true, prev, View::rows(&da[n * m..], m), par_for(m, m, rest));
    }
    let mut db = vec![0.0; m];
    for row in da.chunks_exact(m) {
        db.iter_mut().zip(row).for_each(|(acc, v)| *acc += v);
    }
    let wx_t = View::transposed(&wv[..d * m], m);
    let dxs = product(rows_all, d, m, View::rows(&da, m), wx_t, par_for(rows_all, d, m));
    Ok(RnnGrads {
        dx: dense(n, t * d, permute_steps_to_batch(&dxs, n, t, d)),
        dw: dense(d + m, m, dw),
        db: dense(1, m, db),
        dout0: dense(n, m, dh),
    })
}
