//! A checked, safe front for `gemm::gemm` on strided row-major views.
//!
//! The matrix product, convolution and LSTM kernels multiply sub-blocks and transposed views of
//! larger buffers; expressing those as (row stride, column stride) views avoids copying. Every view is checked
//! against its slice before the unsafe call, so a wrong stride is a panic in our code (an
//! internal bug), never undefined behaviour.

use gemm::Parallelism;
use std::mem::MaybeUninit;

/// A read-only `rows x cols` view of `data`: element `(i, j)` is `data[i*rs + j*cs]`.
#[derive(Clone, Copy)]
pub(crate) struct View<'a> {
    pub data: &'a [f64],
    pub rs: usize,
    pub cs: usize,
}

impl<'a> View<'a> {
    /// A contiguous row-major view with `cols` columns.
    pub fn rows(data: &'a [f64], cols: usize) -> Self {
        View { data, rs: cols, cs: 1 }
    }

    /// The transpose of a contiguous row-major matrix with `cols` columns.
    pub fn transposed(data: &'a [f64], cols: usize) -> Self {
        View { data, rs: 1, cs: cols }
    }

    fn check(&self, rows: usize, cols: usize, what: &str) {
        if rows > 0 && cols > 0 {
            let last = (rows - 1) * self.rs + (cols - 1) * self.cs;
            assert!(last < self.data.len(), "dnn gemm: {what} view out of bounds");
        }
    }
}

/// Products below this many multiply-adds run on one thread: spawning costs more than it saves.
const PARALLEL_MIN_MACS: usize = 1 << 21;

/// Parallelism for a product of this size when the caller is not itself parallel.
pub(crate) fn par_for(m: usize, n: usize, k: usize) -> Parallelism {
    if m.saturating_mul(n).saturating_mul(k) >= PARALLEL_MIN_MACS {
        Parallelism::Rayon(0)
    } else {
        Parallelism::None
    }
}

/// `dst = (accumulate ? dst : 0) + lhs * rhs` where `dst` is `m x n` with row stride `dst_rs`,
/// `lhs` is `m x k` and `rhs` is `k x n`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn matmul(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [f64],
    dst_rs: usize,
    accumulate: bool,
    lhs: View<'_>,
    rhs: View<'_>,
    par: Parallelism,
) {
    // SAFETY: `dst` is initialised, so reading it (when accumulating) is fine, and the pointer
    // and length come from one live mutable slice.
    unsafe { matmul_raw(m, n, k, dst.as_mut_ptr(), dst.len(), (dst_rs, 1), accumulate, lhs, rhs, par) }
}

/// `dst = lhs * rhs` where `dst` is `m x n` with row stride `dst_rs`, not yet initialised: the
/// product writes every cell of the view without reading any.
#[allow(clippy::too_many_arguments)]
pub(crate) fn matmul_uninit(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [MaybeUninit<f64>],
    dst_rs: usize,
    lhs: View<'_>,
    rhs: View<'_>,
    par: Parallelism,
) {
    // SAFETY: the pointer and length come from one live mutable slice; with `accumulate ==
    // false` nothing reads the (uninitialised) cells.
    unsafe { matmul_raw(m, n, k, dst.as_mut_ptr().cast(), dst.len(), (dst_rs, 1), false, lhs, rhs, par) }
}

/// `dst = (accumulate ? dst : 0) + lhs * rhs` with `dst` an `m x n` matrix stored column by
/// column (that is, `dst` holds the transpose, `n x m`, row-major).
///
/// gemm's micro-kernels write columns of the result. For the short, wide results of the
/// convolutions (64 filters x 196 positions) a column-major result runs about 25% faster than a
/// row-major one, which is worth a transpose of the (small) result afterwards.
#[allow(clippy::too_many_arguments)]
pub(crate) fn matmul_colmajor(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [f64],
    accumulate: bool,
    lhs: View<'_>,
    rhs: View<'_>,
    par: Parallelism,
) {
    // SAFETY: as in `matmul`.
    unsafe { matmul_raw(m, n, k, dst.as_mut_ptr(), dst.len(), (1, m), accumulate, lhs, rhs, par) }
}

/// Writes the transpose of `src` (`rows x cols`, row-major) into `dst` (`cols x rows`, row-major),
/// in tiles so that both sides stay in cache.
pub(crate) fn transpose_into(src: &[f64], rows: usize, cols: usize, dst: &mut [MaybeUninit<f64>]) {
    assert!(src.len() >= rows * cols && dst.len() >= rows * cols, "transpose_into: buffers too short");
    const TILE: usize = 16;
    for r0 in (0..rows).step_by(TILE) {
        for c0 in (0..cols).step_by(TILE) {
            for c in c0..(c0 + TILE).min(cols) {
                let d = &mut dst[c * rows..(c + 1) * rows];
                for r in r0..(r0 + TILE).min(rows) {
                    d[r].write(src[r * cols + c]);
                }
            }
        }
    }
}

/// `lhs * rhs` (`m x k` times `k x n`) as a new row-major `m x n` buffer. gemm writes every cell
/// without reading it, so the buffer is not zeroed first.
///
/// A short, wide parallel product (a minibatch times a weight matrix: 64 x 3136 times
/// 3136 x 512) is split into one block of columns per thread, each a single-threaded gemm:
/// gemm's own split of such shapes keeps the second core mostly waiting (58 against 100
/// GFLOP/s measured for the LeNet layer on two cores). Each output cell is the same dot
/// product either way.
pub(crate) fn product(
    m: usize,
    n: usize,
    k: usize,
    lhs: View<'_>,
    rhs: View<'_>,
    par: Parallelism,
) -> Vec<f64> {
    let mut out: Vec<f64> = Vec::with_capacity(m * n);
    let threads = rayon::current_num_threads();
    let split = matches!(par, Parallelism::Rayon(_)) && threads > 1 && m <= 128 && n >= 64 * threads;
    if split {
        use rayon::prelude::*;
        // Column blocks of a multiple of 8 cells (whole cache lines of a row).
        let block = n.div_ceil(threads).div_ceil(8) * 8;
        /// The output's base pointer, shared by the threads that write disjoint column blocks.
        #[derive(Clone, Copy)]
        struct Base(*mut f64);
        // SAFETY: the threads write disjoint cells (their own column ranges) of one buffer.
        unsafe impl Send for Base {}
        unsafe impl Sync for Base {}
        impl Base {
            /// Cell `j` of the buffer (a method, so closures capture the whole `Send` wrapper).
            fn at(self, j: usize) -> *mut f64 {
                self.0.wrapping_add(j)
            }
        }
        let base = Base(out.as_mut_ptr());
        rhs.check(k, n, "rhs");
        (0..n.div_ceil(block)).into_par_iter().for_each(|b| {
            let (j0, j1) = (b * block, ((b + 1) * block).min(n));
            let rhs_block = View { data: &rhs.data[j0 * rhs.cs..], rs: rhs.rs, cs: rhs.cs };
            // SAFETY: columns j0..j1 of the m x n row-major output start at cell j0 and are
            // written by this block only; the view (row stride n) stays inside the m*n - j0
            // cells from there; nothing reads them before `set_len` below.
            unsafe {
                matmul_raw(
                    m,
                    j1 - j0,
                    k,
                    base.at(j0),
                    m * n - j0,
                    (n, 1),
                    false,
                    lhs,
                    rhs_block,
                    Parallelism::None,
                )
            };
        });
        // SAFETY: the blocks cover every column, so every cell has been written.
        unsafe { out.set_len(m * n) };
        return out;
    }
    // SAFETY: `out` has room for the m x n result and nothing else refers to it; with
    // `accumulate == false` the product (or the zero fill when k == 0) writes every cell of the
    // row-major view without reading any, so `set_len` exposes only written cells.
    unsafe {
        matmul_raw(m, n, k, out.as_mut_ptr(), m * n, (n, 1), false, lhs, rhs, par);
        out.set_len(m * n);
    }
    out
}

/// # Safety
/// `dst` must point to `dst_len` writable cells that nothing else accesses during the call, and
/// be initialised when `accumulate` is true.
#[allow(clippy::too_many_arguments)]
unsafe fn matmul_raw(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut f64,
    dst_len: usize,
    (dst_rs, dst_cs): (usize, usize),
    accumulate: bool,
    lhs: View<'_>,
    rhs: View<'_>,
    par: Parallelism,
) {
    if m == 0 || n == 0 {
        return;
    }
    let distinct = (dst_cs == 1 && dst_rs >= n) || (dst_rs == 1 && dst_cs >= m);
    assert!(distinct && (m - 1) * dst_rs + (n - 1) * dst_cs < dst_len, "dnn gemm: dst view out of bounds");
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                for j in 0..n {
                    // SAFETY: cell (i, j) lies inside the checked view.
                    unsafe { dst.add(i * dst_rs + j * dst_cs).write(0.0) };
                }
            }
        }
        return;
    }
    lhs.check(m, k, "lhs");
    rhs.check(k, n, "rhs");
    // SAFETY: every element the product reads or writes lies inside the views (checked above);
    // `dst` is exclusively ours (the caller's contract), so it cannot alias `lhs` or `rhs`; with
    // `accumulate == false` gemm does not read `dst`.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            dst_cs as isize,
            dst_rs as isize,
            accumulate,
            lhs.data.as_ptr(),
            lhs.cs as isize,
            lhs.rs as isize,
            rhs.data.as_ptr(),
            rhs.cs as isize,
            rhs.rs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            par,
        );
    }
}
