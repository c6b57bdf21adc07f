//! A checked, safe front for `gemm::gemm` on strided row-major views.
//!
//! The convolution and LSTM kernels multiply sub-blocks and transposed views of larger buffers;
//! expressing those as (row stride, column stride) views avoids copying. Every view is checked
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
    unsafe { matmul_raw(m, n, k, dst.as_mut_ptr(), dst.len(), dst_rs, accumulate, lhs, rhs, par) }
}

/// `dst = lhs * rhs` into cells that may be uninitialised; every cell of the `m x n` view is
/// written (cells between rows, when `dst_rs > n`, are left as they are).
#[allow(clippy::too_many_arguments)]
pub(crate) fn matmul_into_uninit(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [MaybeUninit<f64>],
    dst_rs: usize,
    lhs: View<'_>,
    rhs: View<'_>,
    par: Parallelism,
) {
    // SAFETY: with `accumulate == false` the product only writes `dst`, never reads it, and the
    // pointer and length come from one live mutable slice.
    unsafe { matmul_raw(m, n, k, dst.as_mut_ptr().cast(), dst.len(), dst_rs, false, lhs, rhs, par) }
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
    dst_rs: usize,
    accumulate: bool,
    lhs: View<'_>,
    rhs: View<'_>,
    par: Parallelism,
) {
    if m == 0 || n == 0 {
        return;
    }
    assert!((m - 1) * dst_rs + n <= dst_len && dst_rs >= n, "dnn gemm: dst view out of bounds");
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                // SAFETY: row i lies inside the checked view.
                unsafe { std::slice::from_raw_parts_mut(dst.add(i * dst_rs), n).fill(0.0) };
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
            1,
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
