//! Pieces shared by the recurrent kernels (LSTM, simple RNN): sizes, the split of a batch into
//! blocks of rows that run the whole recurrence on their own thread, and the permutation between
//! the batch-major layout of `X` (`N x T*D`) and the step-major layout of the caches; and
//! the per-step cell passes, compiled for the widest vector instructions the CPU has.

use super::activation::{exp, tanh};

/// Sizes of a recurrent layer: batch `n`, steps `t`, input features `d`, units `m`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Dims {
    pub n: usize,
    pub t: usize,
    pub d: usize,
    pub m: usize,
}

/// Multiply-adds of the recurrent products below which a layer runs on one thread: a fork and
/// join costs some microseconds, a recurrence this small costs less.
const PARALLEL_MIN_MACS: usize = 1 << 16;

/// Rows per block when a batch of `n` rows is split over the threads; `n` (one block) when the
/// recurrence (`macs` multiply-adds in all) is too small to share or there is one thread.
///
/// Rows of a batch are independent through the whole recurrence, so each block runs all steps
/// on its own thread: one fork and join per layer call, not one per step.
pub(crate) fn row_blocks(n: usize, macs: usize) -> usize {
    let threads = rayon::current_num_threads().max(1);
    if threads > 1 && n >= 2 && macs >= PARALLEL_MIN_MACS { n.div_ceil(threads) } else { n.max(1) }
}

/// One block of rows of a step-major buffer (`T` steps of `N` rows of `width` cells each):
/// entry `s` is the block's rows of step `s`.
pub(crate) struct StepBlocks<'a>(pub Vec<&'a mut [f64]>);

impl<'a> StepBlocks<'a> {
    /// Splits `buf` into blocks of `block` rows (the last may be shorter), every step.
    pub fn split(buf: &'a mut [f64], dims: Dims, width: usize, block: usize) -> Vec<StepBlocks<'a>> {
        let Dims { n, t, .. } = dims;
        debug_assert_eq!(buf.len(), n * t * width);
        let count = n.div_ceil(block.max(1)).max(1);
        let mut parts: Vec<StepBlocks<'a>> = (0..count).map(|_| StepBlocks(Vec::with_capacity(t))).collect();
        if n * width == 0 {
            return parts;
        }
        for step in buf.chunks_mut(n * width) {
            for (b, part) in step.chunks_mut(block * width).enumerate() {
                parts[b].0.push(part);
            }
        }
        parts
    }

    /// The number of rows in this block, for rows of `width` cells.
    pub fn rows(&self, width: usize) -> usize {
        self.0.first().map_or(0, |s| s.len() / width.max(1))
    }
}

/// `x` (`N x T*D`, step `s` of row `r` at columns `s*D..`) as a step-major `T*N x D` matrix (row
/// `s*N + r`), with one more column holding `extra` when it is given (a column of ones folds a
/// bias into a product).
pub(crate) fn permute_batch_to_steps(
    x: &[f64],
    n: usize,
    t: usize,
    d: usize,
    extra: Option<f64>,
) -> Vec<f64> {
    let k = d + usize::from(extra.is_some());
    let mut out = vec![0.0; t * n * k];
    for (s, step) in out.chunks_mut((n * k).max(1)).enumerate().take(t) {
        for (r, row) in step.chunks_mut(k.max(1)).enumerate() {
            row[..d].copy_from_slice(&x[(r * t + s) * d..(r * t + s + 1) * d]);
            if let Some(v) = extra {
                row[d] = v;
            }
        }
    }
    out
}

/// The inverse of [`permute_batch_to_steps`] without the extra column: a step-major `T*N x D`
/// matrix as `N x T*D`.
pub(crate) fn permute_steps_to_batch(xs: &[f64], n: usize, t: usize, d: usize) -> Vec<f64> {
    let mut out = vec![0.0; n * t * d];
    if d == 0 {
        return out;
    }
    for (r, row) in out.chunks_mut(t * d).enumerate() {
        for (s, cells) in row.chunks_mut(d).enumerate() {
            cells.copy_from_slice(&xs[(s * n + r) * d..(s * n + r + 1) * d]);
        }
    }
    out
}

/// Defines `$name`, which runs the `#[inline(always)]` loop `$body` compiled for AVX-512, for
/// AVX2 with FMA or for the baseline, whichever the CPU supports (see `kernels/simd.rs`: the
/// crate is built for baseline x86-64, where the branch-free `exp` of the gates stays scalar).
/// Without `fast-math` the compiler does not fuse multiply-adds, so every variant gives the
/// same cells.
macro_rules! best_simd {
    ($(#[$doc:meta])* fn $name:ident($($arg:ident: $ty:ty),*) => $body:ident) => {
        $(#[$doc])*
        #[allow(clippy::too_many_arguments)]
        pub(crate) fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                /// # Safety
                /// The CPU must support AVX-512F and AVX-512DQ.
                #[target_feature(enable = "avx512f,avx512dq,avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                unsafe fn wide($($arg: $ty),*) {
                    $body($($arg),*)
                }
                /// # Safety
                /// The CPU must support AVX2 and FMA.
                #[target_feature(enable = "avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                unsafe fn medium($($arg: $ty),*) {
                    $body($($arg),*)
                }
                match crate::kernels::simd::level() {
                    // SAFETY: `level` detected the features each variant is compiled for.
                    2 => return unsafe { wide($($arg),*) },
                    // SAFETY: as above.
                    1 => return unsafe { medium($($arg),*) },
                    _ => {}
                }
            }
            $body($($arg),*)
        }
    };
}

pub(crate) use best_simd;

/// `1 / (1 + e^{-x})` with the branch-free `exp`.
#[inline(always)]
pub(crate) fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + exp(-x))
}

#[inline(always)]
fn lstm_cells_loop(gates: &mut [f64], c_prev: &[f64], c_new: &mut [f64], h_new: &mut [f64], m: usize) {
    let g4 = 4 * m;
    for (((row, cp), cn), hn) in gates
        .chunks_exact_mut(g4)
        .zip(c_prev.chunks_exact(m))
        .zip(c_new.chunks_exact_mut(m))
        .zip(h_new.chunks_exact_mut(m))
    {
        let (ifo, g) = row.split_at_mut(3 * m);
        for x in ifo.iter_mut() {
            *x = sigmoid(*x);
        }
        for x in g.iter_mut() {
            *x = tanh(*x);
        }
        let (i, fo) = ifo.split_at(m);
        let (f, o) = fo.split_at(m);
        for j in 0..m {
            let c = f[j] * cp[j] + i[j] * g[j];
            cn[j] = c;
            hn[j] = o[j] * tanh(c);
        }
    }
}

best_simd! {
    /// One LSTM step for a block of rows after the gate products: `gates` (rows x 4M, the
    /// pre-activations of `[i, f, o, g]`) is activated in place, then `c = f*c_prev + i*g` and
    /// `h = o*tanh(c)` (rows x M each).
    fn lstm_cells(gates: &mut [f64], c_prev: &[f64], c_new: &mut [f64], h_new: &mut [f64], m: usize) => lstm_cells_loop
}

#[inline(always)]
fn lstm_cells_backward_loop(
    gates: &[f64],
    c: &[f64],
    c_prev: &[f64],
    dh: &[f64],
    dc: &mut [f64],
    dgates: &mut [f64],
    m: usize,
) {
    let g4 = 4 * m;
    let rows = gates.chunks_exact(g4).zip(dgates.chunks_exact_mut(g4));
    let cells =
        c.chunks_exact(m).zip(c_prev.chunks_exact(m)).zip(dh.chunks_exact(m)).zip(dc.chunks_exact_mut(m));
    for ((gate, dg), (((ct, cp), dhr), dcr)) in rows.zip(cells) {
        let (i, rest) = gate.split_at(m);
        let (f, rest) = rest.split_at(m);
        let (o, g) = rest.split_at(m);
        let (di, rest) = dg.split_at_mut(m);
        let (df, rest) = rest.split_at_mut(m);
        let (d_o, dgg) = rest.split_at_mut(m);
        for j in 0..m {
            // The operations of nn/layers/lstm.dml::backward, in its order.
            let tc = tanh(ct[j]);
            let dcell = dcr[j] + dhr[j] * o[j] * (1.0 - tc * tc);
            di[j] = dcell * g[j] * i[j] * (1.0 - i[j]);
            df[j] = dcell * cp[j] * f[j] * (1.0 - f[j]);
            d_o[j] = dhr[j] * tc * o[j] * (1.0 - o[j]);
            dgg[j] = dcell * i[j] * (1.0 - g[j] * g[j]);
            dcr[j] = dcell * f[j];
        }
    }
}

best_simd! {
    /// One LSTM step backward for a block of rows: from the activated `gates` (rows x 4M), the
    /// cells `c` and `c_prev` and the output gradient `dh` (rows x M each), the gradients at the
    /// gate inputs `dgates` (rows x 4M); `dc` goes from the gradient at `c` to the one at `c_prev`.
    fn lstm_cells_backward(
        gates: &[f64],
        c: &[f64],
        c_prev: &[f64],
        dh: &[f64],
        dc: &mut [f64],
        dgates: &mut [f64],
        m: usize
    ) => lstm_cells_backward_loop
}

#[inline(always)]
fn tanh_loop(v: &mut [f64]) {
    for x in v.iter_mut() {
        *x = tanh(*x);
    }
}

#[inline(always)]
fn sigmoid_loop(v: &mut [f64]) {
    for x in v.iter_mut() {
        *x = sigmoid(*x);
    }
}

best_simd! {
    /// `tanh` in place, vectorized.
    fn tanh_cells(v: &mut [f64]) => tanh_loop
}

best_simd! {
    /// The logistic sigmoid in place, vectorized.
    fn sigmoid_cells(v: &mut [f64]) => sigmoid_loop
}
