//! Spatial batch normalization over `N x C*H*W` inputs, statistics per channel.
//!
//! Matches SystemDS 3.4.0's builtin (population variance, `cache_inv_var = 1/sqrt(var+eps)`; in
//! test mode the caches are the running mean and `1/sqrt(ema_var+eps)` and the running
//! statistics pass through), except the running variance update: SystemDS computes
//! `mu*ema_var + (1-mu)*mean`, which is a bug; ours is `mu*ema_var + (1-mu)*var`.

use super::{dense, dense_values, expect_shape};
use crate::kernels::{KResult, KernelError};
use crate::types::matrix::Matrix;

/// The outputs of [`batch_norm2d`].
pub struct BatchNormOut {
    pub out: Matrix,
    pub ema_mean: Matrix,
    pub ema_var: Matrix,
    pub cache_mean: Matrix,
    pub cache_inv_var: Matrix,
}

fn plane_len(op: &str, x: &Matrix, c: usize) -> KResult<usize> {
    if c == 0 || !x.cols().is_multiple_of(c) || x.rows() == 0 || x.cols() == 0 {
        return Err(KernelError::new(format!(
            "{op}: input {}x{} is not a non-empty N x C*H*W matrix with C = {c}",
            x.rows(),
            x.cols()
        )));
    }
    Ok(x.cols() / c)
}

/// Per-channel mean and population variance (two passes, for accuracy).
fn channel_stats(xv: &[f64], n: usize, c: usize, hw: usize) -> (Vec<f64>, Vec<f64>) {
    let count = (n * hw) as f64;
    let mut mean = vec![0.0; c];
    for row in xv.chunks_exact(c * hw) {
        for (ch, seg) in row.chunks_exact(hw).enumerate() {
            mean[ch] += seg.iter().sum::<f64>();
        }
    }
    mean.iter_mut().for_each(|v| *v /= count);
    let mut var = vec![0.0; c];
    for row in xv.chunks_exact(c * hw) {
        for (ch, seg) in row.chunks_exact(hw).enumerate() {
            let mu = mean[ch];
            var[ch] += seg.iter().map(|v| (v - mu) * (v - mu)).sum::<f64>();
        }
    }
    var.iter_mut().for_each(|v| *v /= count);
    (mean, var)
}

/// Batch normalization forward; `train` uses batch statistics, else the running ones.
#[allow(clippy::too_many_arguments)]
pub fn batch_norm2d(
    x: &Matrix,
    gamma: &Matrix,
    beta: &Matrix,
    ema_mean: &Matrix,
    ema_var: &Matrix,
    train: bool,
    epsilon: f64,
    mu: f64,
    c: usize,
) -> KResult<BatchNormOut> {
    let op = "batch_norm2d";
    let hw = plane_len(op, x, c)?;
    for (what, m) in [("gamma", gamma), ("beta", beta), ("ema_mean", ema_mean), ("ema_var", ema_var)] {
        expect_shape(op, what, m, c, 1)?;
    }
    let xv = dense_values(x);
    let (g, bt) = (dense_values(gamma), dense_values(beta));
    let (em, ev) = (dense_values(ema_mean), dense_values(ema_var));
    let (mean, var, em_upd, ev_upd) = if train {
        let (mean, var) = channel_stats(&xv, x.rows(), c, hw);
        let em_upd: Vec<f64> = em.iter().zip(&mean).map(|(e, m)| mu * e + (1.0 - mu) * m).collect();
        let ev_upd: Vec<f64> = ev.iter().zip(&var).map(|(e, v)| mu * e + (1.0 - mu) * v).collect();
        (mean, var, em_upd, ev_upd)
    } else {
        (em.to_vec(), ev.to_vec(), em.to_vec(), ev.to_vec())
    };
    let inv: Vec<f64> = var.iter().map(|v| 1.0 / (v + epsilon).sqrt()).collect();
    let mut out = xv.into_owned();
    for row in out.chunks_exact_mut(c * hw) {
        for (ch, seg) in row.chunks_exact_mut(hw).enumerate() {
            let scale = g[ch] * inv[ch];
            let shift = bt[ch] - mean[ch] * scale;
            seg.iter_mut().for_each(|v| *v = *v * scale + shift);
        }
    }
    Ok(BatchNormOut {
        out: dense(x.rows(), x.cols(), out),
        ema_mean: dense(c, 1, em_upd),
        ema_var: dense(c, 1, ev_upd),
        cache_mean: dense(c, 1, mean),
        cache_inv_var: dense(c, 1, inv),
    })
}

/// Batch normalization backward (training-mode formula) from the forward caches: returns
/// `(dX, dgamma, dbeta)`. `epsilon` is unused because `cache_inv_var` already includes it;
/// it is kept so the signature mirrors the DML builtin.
pub fn batch_norm2d_backward(
    x: &Matrix,
    dout: &Matrix,
    gamma: &Matrix,
    epsilon: f64,
    cache_mean: &Matrix,
    cache_inv_var: &Matrix,
    c: usize,
) -> KResult<(Matrix, Matrix, Matrix)> {
    let _ = epsilon;
    let op = "batch_norm2d_backward";
    let hw = plane_len(op, x, c)?;
    expect_shape(op, "dout", dout, x.rows(), x.cols())?;
    for (what, m) in [("gamma", gamma), ("cache_mean", cache_mean), ("cache_inv_var", cache_inv_var)] {
        expect_shape(op, what, m, c, 1)?;
    }
    let xv = dense_values(x);
    let dv = dense_values(dout);
    let (g, mean, inv) = (dense_values(gamma), dense_values(cache_mean), dense_values(cache_inv_var));
    let mut dgamma = vec![0.0; c];
    let mut dbeta = vec![0.0; c];
    for (xr, dr) in xv.chunks_exact(c * hw).zip(dv.chunks_exact(c * hw)) {
        for ch in 0..c {
            let (xs, ds) = (&xr[ch * hw..(ch + 1) * hw], &dr[ch * hw..(ch + 1) * hw]);
            for (xi, di) in xs.iter().zip(ds) {
                dbeta[ch] += di;
                dgamma[ch] += di * (xi - mean[ch]) * inv[ch];
            }
        }
    }
    let count = (x.rows() * hw) as f64;
    let mut dx = dv.into_owned();
    for (xr, dr) in xv.chunks_exact(c * hw).zip(dx.chunks_exact_mut(c * hw)) {
        for ch in 0..c {
            let k = g[ch] * inv[ch] / count;
            let (xs, ds) = (&xr[ch * hw..(ch + 1) * hw], &mut dr[ch * hw..(ch + 1) * hw]);
            for (xi, di) in xs.iter().zip(ds.iter_mut()) {
                let xhat = (xi - mean[ch]) * inv[ch];
                *di = k * (count * *di - dbeta[ch] - xhat * dgamma[ch]);
            }
        }
    }
    Ok((dense(x.rows(), x.cols(), dx), dense(c, 1, dgamma), dense(c, 1, dbeta)))
}
