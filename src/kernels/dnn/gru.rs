//! Keras's GRU, forward and backward: the fused kernels of the Keras converter's
//! `keras/gru.dml`, with the formulas and cache layout of that script.
//!
//! Variables as Keras stores them: `W` (`D x 3M`) the kernel, `U` (`M x 3M`) the recurrent kernel,
//! gate blocks `[z, r, h]`; `bx`, `bh` (`1 x 3M`) the input and recurrent biases (`bh` is zero
//! with `reset_after=False`). `X` is `N x T*D`; the initial state is zero. Per step, with `s` the
//! sigmoid:
//! - `reset_after=True`: `a = x W + bx`, `u = h U + bh`, `z = s(a_z + u_z)`, `r = s(a_r + u_r)`,
//!   `hh = tanh(a_h + r * u_h)`;
//! - `reset_after=False`: `z = s(a_z + h U_z)`, `r = s(a_r + h U_r)`,
//!   `hh = tanh(a_h + (r * h) U_h)`;
//! - `h' = z * h + (1 - z) * hh`.
//!
//! The caches are batch-major like `X`: `H` (`N x T*M`) every step's output and `G`
//! (`N x T*4M`) every step's `[z, r, hh, v]` with `v = u_h` or `r * h`.
//!
//! Speed: `X W + bx` of all steps is one product; each step is one or two small products and one
//! vectorized pass; the backward pass keeps the gate gradients of all steps and makes the weight
//! gradients and `dX` products over all steps. Rows of a batch run the whole recurrence on their
//! own thread (see `recurrent.rs`).

use super::activation::tanh;
use super::recurrent::{best_simd, row_blocks, sigmoid};
use super::{dense, dense_values, expect_shape};
use crate::kernels::gemm_util::{View, matmul, par_for, product};
use crate::kernels::{KResult, KernelError};
use crate::types::matrix::Matrix;
use gemm::Parallelism;
use rayon::prelude::*;

/// The outputs of [`gru`].
pub struct GruOut {
    pub out: Matrix,
    pub h: Matrix,
    pub g: Matrix,
}

/// The outputs of [`gru_backward`]; `dx` is `1 x 1` zero unless asked for, `dbh` is zero with
/// `reset_after=False`.
pub struct GruGrads {
    pub dx: Matrix,
    pub dw: Matrix,
    pub du: Matrix,
    pub dbx: Matrix,
    pub dbh: Matrix,
}

/// Batch `n`, steps `t`, features `d`, units `m`.
#[derive(Clone, Copy)]
struct Sizes {
    n: usize,
    t: usize,
    d: usize,
    m: usize,
}

fn sizes(op: &str, x: &Matrix, w: &Matrix, u: &Matrix) -> KResult<Sizes> {
    let (d, m) = (w.rows(), u.rows());
    if d == 0 || m == 0 || w.cols() != 3 * m || u.cols() != 3 * m {
        return Err(KernelError::new(format!(
            "{op}: the kernel must be D x 3M and the recurrent kernel M x 3M with D, M > 0, got {}x{} and {}x{}",
            w.rows(),
            w.cols(),
            u.rows(),
            u.cols()
        )));
    }
    if x.rows() == 0 || x.cols() == 0 || !x.cols().is_multiple_of(d) {
        return Err(KernelError::new(format!(
            "{op}: input is {}x{}, not N > 0 rows of a positive multiple of D = {d} columns",
            x.rows(),
            x.cols()
        )));
    }
    Ok(Sizes { n: x.rows(), t: x.cols() / d, d, m })
}

/// Where a block's step lives: row `r` of the block, step `step`, of `t` steps.
#[inline(always)]
fn at(r: usize, step: usize, t: usize) -> usize {
    r * t + step
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn gates_loop(
    a: &[f64],
    ur: &[f64],
    h: &[f64],
    g: &mut [f64],
    sv: &mut [f64],
    step: usize,
    t: usize,
    m: usize,
    after: bool,
) {
    // Per row: z and r into G; v into G and, for the candidate, into `sv`: with `after`,
    // r * u_h (what the candidate adds), else r * h (which the caller multiplies by U_h).
    let (g3, g4) = (3 * m, 4 * m);
    for (r, ((urr, hr), svr)) in
        ur.chunks_exact(g3).zip(h.chunks_exact(m)).zip(sv.chunks_exact_mut(m)).enumerate()
    {
        let k = at(r, step, t);
        let ar = &a[k * g3..(k + 1) * g3];
        let gr = &mut g[k * g4..(k + 1) * g4];
        let (gz, rest) = gr.split_at_mut(m);
        let (grr, rest) = rest.split_at_mut(m);
        let (_, gv) = rest.split_at_mut(m);
        for j in 0..m {
            gz[j] = sigmoid(ar[j] + urr[j]);
            grr[j] = sigmoid(ar[m + j] + urr[m + j]);
        }
        if after {
            for j in 0..m {
                gv[j] = urr[2 * m + j];
                svr[j] = grr[j] * gv[j];
            }
        } else {
            for j in 0..m {
                gv[j] = grr[j] * hr[j];
                svr[j] = gv[j];
            }
        }
    }
}

best_simd! {
    /// The gates of one step for a block (see `gates_loop`).
    fn gates_pass(
        a: &[f64],
        ur: &[f64],
        h: &[f64],
        g: &mut [f64],
        sv: &mut [f64],
        step: usize,
        t: usize,
        m: usize,
        after: bool
    ) => gates_loop
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn update_loop(
    a: &[f64],
    add: &[f64],
    h: &mut [f64],
    g: &mut [f64],
    hs: &mut [f64],
    step: usize,
    t: usize,
    m: usize,
) {
    // Per row: hh = tanh(a_h + add) into G, h = z * h + (1 - z) * hh in place and into H.
    let (g3, g4) = (3 * m, 4 * m);
    for (r, (addr, hr)) in add.chunks_exact(m).zip(h.chunks_exact_mut(m)).enumerate() {
        let k = at(r, step, t);
        let a_h = &a[k * g3 + 2 * m..(k + 1) * g3];
        let gr = &mut g[k * g4..(k + 1) * g4];
        let (gz, rest) = gr.split_at_mut(m);
        let (_, rest) = rest.split_at_mut(m);
        let (gh, _) = rest.split_at_mut(m);
        let out = &mut hs[k * m..(k + 1) * m];
        for j in 0..m {
            let hh = tanh(a_h[j] + addr[j]);
            gh[j] = hh;
            let z = gz[j];
            let v = z * hr[j] + (1.0 - z) * hh;
            hr[j] = v;
            out[j] = v;
        }
    }
}

best_simd! {
    /// The candidate and the new state of one step for a block (see `update_loop`).
    fn update_pass(a: &[f64], add: &[f64], h: &mut [f64], g: &mut [f64], hs: &mut [f64], step: usize, t: usize, m: usize) => update_loop
}

/// The forward pass over `T` steps.
#[allow(clippy::too_many_arguments)]
pub fn gru(
    x: &Matrix,
    w: &Matrix,
    u: &Matrix,
    bx: &Matrix,
    bh: &Matrix,
    reset_after: bool,
    return_sequences: bool,
) -> KResult<GruOut> {
    let op = "gru";
    let Sizes { n, t, d, m } = sizes(op, x, w, u)?;
    expect_shape(op, "bias_x", bx, 1, 3 * m)?;
    expect_shape(op, "bias_h", bh, 1, 3 * m)?;
    let (xv, wv, uv) = (dense_values(x), dense_values(w), dense_values(u));
    let (bxv, bhv) = (dense_values(bx), dense_values(bh));
    let (g3, g4) = (3 * m, 4 * m);
    // X W + bx for all steps: X is already (N*T) x D with rows (batch row, step).
    let rows_all = n * t;
    let mut a = product(rows_all, g3, d, View::rows(&xv, d), View::rows(&wv, g3), par_for(rows_all, g3, d));
    for row in a.chunks_exact_mut(g3) {
        row.iter_mut().zip(bxv.iter()).for_each(|(v, b)| *v += b);
    }
    let mut hs = vec![0.0; n * t * m];
    let mut gs = vec![0.0; n * t * g4];
    let blocks = row_blocks(n, t * n * m * g3);
    let uh = View { data: &uv[2 * m..], rs: g3, cs: 1 };
    let run = |(bi, (hb, gb)): (usize, (&mut [f64], &mut [f64]))| {
        let rows = hb.len() / (t * m);
        let ab = &a[bi * blocks * t * g3..(bi * blocks + rows) * t * g3];
        // The block's state (rows x M, zero at first) and per-step scratch, allocated once.
        let mut h = vec![0.0; rows * m];
        let mut ur = vec![0.0; rows * g3];
        let mut sv = vec![0.0; rows * m];
        let mut add = vec![0.0; rows * m];
        for step in 0..t {
            let width = if reset_after { g3 } else { 2 * m };
            let hv = View::rows(&h, m);
            matmul(rows, width, m, &mut ur, g3, false, hv, View::rows(&uv, g3), Parallelism::None);
            if reset_after {
                for row in ur.chunks_exact_mut(g3) {
                    row.iter_mut().zip(bhv.iter()).for_each(|(v, b)| *v += b);
                }
            }
            gates_pass(ab, &ur, &h, gb, &mut sv, step, t, m, reset_after);
            let add = if reset_after {
                &sv
            } else {
                matmul(rows, m, m, &mut add, m, false, View::rows(&sv, m), uh, Parallelism::None);
                &add
            };
            update_pass(ab, add, &mut h, gb, hb, step, t, m);
        }
    };
    let jobs = hs.chunks_mut(blocks * t * m).zip(gs.chunks_mut(blocks * t * g4)).enumerate();
    if blocks < n {
        jobs.collect::<Vec<_>>().into_par_iter().for_each(run);
    } else {
        jobs.for_each(run);
    }
    let out = if return_sequences {
        dense(n, t * m, hs.clone())
    } else {
        let mut last = Vec::with_capacity(n * m);
        for row in hs.chunks_exact(t * m) {
            last.extend_from_slice(&row[(t - 1) * m..]);
        }
        dense(n, m, last)
    };
    Ok(GruOut { out, h: dense(n, t * m, hs), g: dense(n, t * g4, gs) })
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn back_gates_loop(hs: &[f64], g: &[f64], dh: &[f64], da: &mut [f64], step: usize, t: usize, m: usize) {
    // Per row: the gradients at the candidate's and the update gate's inputs, into dA's h and z.
    let (g3, g4) = (3 * m, 4 * m);
    for (r, dhr) in dh.chunks_exact(m).enumerate() {
        let k = at(r, step, t);
        let gr = &g[k * g4..(k + 1) * g4];
        let dar = &mut da[k * g3..(k + 1) * g3];
        for j in 0..m {
            let (z, hh) = (gr[j], gr[2 * m + j]);
            let hprev = if step == 0 { 0.0 } else { hs[(k - 1) * m + j] };
            dar[2 * m + j] = dhr[j] * (1.0 - z) * (1.0 - hh * hh);
            dar[j] = dhr[j] * (hprev - hh) * z * (1.0 - z);
        }
    }
}

best_simd! {
    /// See `back_gates_loop`.
    fn back_gates_pass(hs: &[f64], g: &[f64], dh: &[f64], da: &mut [f64], step: usize, t: usize, m: usize) => back_gates_loop
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn back_reset_loop(
    hs: &[f64],
    g: &[f64],
    dreset: &[f64],
    dh: &mut [f64],
    da: &mut [f64],
    dv: &mut [f64],
    step: usize,
    t: usize,
    m: usize,
    after: bool,
) {
    // Per row: the reset gate's gradient, the gradients at the recurrent products (dV), and
    // dh := dh * z (+ dreset * r without `after`), to which the caller adds the products.
    let (g3, g4) = (3 * m, 4 * m);
    for (r, (dhr, drr)) in dh.chunks_exact_mut(m).zip(dreset.chunks_exact(m)).enumerate() {
        let k = at(r, step, t);
        let gr = &g[k * g4..(k + 1) * g4];
        let dar = &mut da[k * g3..(k + 1) * g3];
        let dvr = &mut dv[k * g3..(k + 1) * g3];
        for j in 0..m {
            let (z, rg, v) = (gr[j], gr[m + j], gr[3 * m + j]);
            let (daz, dah) = (dar[j], dar[2 * m + j]);
            let dar_j = if after {
                dah * v * rg * (1.0 - rg)
            } else {
                let hprev = if step == 0 { 0.0 } else { hs[(k - 1) * m + j] };
                drr[j] * hprev * rg * (1.0 - rg)
            };
            dar[m + j] = dar_j;
            dvr[j] = daz;
            dvr[m + j] = dar_j;
            dvr[2 * m + j] = if after { dah * rg } else { dah };
            dhr[j] = if after { dhr[j] * z } else { dhr[j] * z + drr[j] * rg };
        }
    }
}

best_simd! {
    /// See `back_reset_loop`.
    fn back_reset_pass(
        hs: &[f64],
        g: &[f64],
        dreset: &[f64],
        dh: &mut [f64],
        da: &mut [f64],
        dv: &mut [f64],
        step: usize,
        t: usize,
        m: usize,
        after: bool
    ) => back_reset_loop
}

/// The backward pass through time from the forward caches `h` and `g` (the formulas of
/// `keras/gru.dml::backward`). `dout` is `N x T*M` when `given_sequences`, else `N x M`.
#[allow(clippy::too_many_arguments)]
pub fn gru_backward(
    dout: &Matrix,
    x: &Matrix,
    w: &Matrix,
    u: &Matrix,
    reset_after: bool,
    given_sequences: bool,
    h: &Matrix,
    g: &Matrix,
    need_dx: bool,
) -> KResult<GruGrads> {
    let op = "gru_backward";
    let Sizes { n, t, d, m } = sizes(op, x, w, u)?;
    let (g3, g4) = (3 * m, 4 * m);
    expect_shape(op, "dout", dout, n, if given_sequences { t * m } else { m })?;
    expect_shape(op, "H", h, n, t * m)?;
    expect_shape(op, "G", g, n, t * g4)?;
    let (xv, wv, uv) = (dense_values(x), dense_values(w), dense_values(u));
    let (dov, hv, gv) = (dense_values(dout), dense_values(h), dense_values(g));
    // Gradients at x W + bx and at the recurrent products, rows (batch row, step).
    let mut da = vec![0.0; n * t * g3];
    let mut dv = vec![0.0; n * t * g3];
    let blocks = row_blocks(n, t * n * m * g3);
    let uh_t = View { data: &uv[2 * m..], rs: 1, cs: g3 };
    let run = |(bi, (dab, dvb)): (usize, (&mut [f64], &mut [f64]))| {
        let rows = dab.len() / (t * g3);
        let r0 = bi * blocks;
        let hb = &hv[r0 * t * m..(r0 + rows) * t * m];
        let gb = &gv[r0 * t * g4..(r0 + rows) * t * g4];
        let mut dh = vec![0.0; rows * m];
        let mut dreset = vec![0.0; rows * m];
        for step in (0..t).rev() {
            for (r, dhr) in dh.chunks_exact_mut(m).enumerate() {
                let rr = r0 + r;
                let given = if given_sequences {
                    Some(&dov[(rr * t + step) * m..(rr * t + step + 1) * m])
                } else if step == t - 1 {
                    Some(&dov[rr * m..(rr + 1) * m])
                } else {
                    None
                };
                if let Some(given) = given {
                    dhr.iter_mut().zip(given).for_each(|(a, v)| *a += v);
                }
            }
            back_gates_pass(hb, gb, &dh, dab, step, t, m);
            if !reset_after {
                // dreset = dah U_h^T, the gradient at r * h_{t-1}.
                let dah = View { data: &dab[step * g3 + 2 * m..], rs: t * g3, cs: 1 };
                matmul(rows, m, m, &mut dreset, m, false, dah, uh_t, Parallelism::None);
            }
            back_reset_pass(hb, gb, &dreset, &mut dh, dab, dvb, step, t, m, reset_after);
            // dh += dV U^T (all three blocks) or [daz, dar] U_zr^T.
            let k = if reset_after { g3 } else { 2 * m };
            let lhs = View { data: &dvb[step * g3..], rs: t * g3, cs: 1 };
            matmul(rows, m, k, &mut dh, m, true, lhs, View::transposed(&uv, g3), Parallelism::None);
        }
    };
    let jobs = da.chunks_mut(blocks * t * g3).zip(dv.chunks_mut(blocks * t * g3)).enumerate();
    if blocks < n {
        jobs.collect::<Vec<_>>().into_par_iter().for_each(run);
    } else {
        jobs.for_each(run);
    }

    let rows_all = n * t;
    let dw =
        product(d, g3, rows_all, View::transposed(&xv, d), View::rows(&da, g3), par_for(d, g3, rows_all));
    let col_sums = |v: &[f64]| {
        let mut s = vec![0.0; g3];
        for row in v.chunks_exact(g3) {
            s.iter_mut().zip(row).for_each(|(acc, x)| *acc += x);
        }
        s
    };
    let dbx = col_sums(&da);
    // Every step's previous output, rows (batch row, step), zero for the first step.
    let mut hprev = vec![0.0; rows_all * m];
    for (dst, src) in hprev.chunks_exact_mut(t * m).zip(hv.chunks_exact(t * m)) {
        dst[m..].copy_from_slice(&src[..(t - 1) * m]);
    }
    let hp_t = View::transposed(&hprev, m);
    let mut du = vec![0.0; m * g3];
    let dbh = if reset_after {
        matmul(m, g3, rows_all, &mut du, g3, false, hp_t, View::rows(&dv, g3), par_for(m, g3, rows_all));
        col_sums(&dv)
    } else {
        let par = par_for(m, m, rows_all);
        matmul(m, 2 * m, rows_all, &mut du, g3, false, hp_t, View::rows(&dv, g3), par);
        let v_t = View { data: &gv[3 * m..], rs: 1, cs: g4 };
        let dv_h = View { data: &dv[2 * m..], rs: g3, cs: 1 };
        matmul(m, m, rows_all, &mut du[2 * m..], g3, false, v_t, dv_h, par);
        vec![0.0; g3]
    };
    let dx = if need_dx {
        let dx = product(
            rows_all,
            d,
            g3,
            View::rows(&da, g3),
            View::transposed(&wv, g3),
            par_for(rows_all, d, g3),
        );
        dense(n, t * d, dx)
    } else {
        dense(1, 1, vec![0.0])
    };
    Ok(GruGrads {
        dx,
        dw: dense(d, g3, dw),
        du: dense(m, g3, du),
        dbx: dense(1, g3, dbx),
        dbh: dense(1, g3, dbh),
    })
}
