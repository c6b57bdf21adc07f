//! Pieces shared by the recurrent kernels (LSTM, simple RNN): sizes, the split of a batch into
//! blocks of rows that run the whole recurrence on their own thread, and the permutation between
//! the batch-major layout of `X` (`N x T*D`) and the step-major layout of the caches.

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
