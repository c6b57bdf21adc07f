//! Matrix multiply and transpose-self multiply.
//!
//! Dense products go to the `gemm` crate (AVX-512 kernels through the `x86-v4` feature), on
//! rayon only when the work is large enough to amortize the threads. Matrix-vector products and
//! tiny products use direct loops: they are memory bound and gemm's packing would dominate.
//! Sparse operands use row-wise (Gustavson) loops whose cost follows the non-zeros.

use gemm::Parallelism;
use rayon::prelude::*;

use super::{KResult, KernelError};
use crate::runtime::matrix::Matrix;

/// Multiply-adds (m*n*k) below which the product runs on one thread.
const PAR_FLOPS: usize = 1 << 21;
/// Multiply-adds below which direct loops beat gemm's packing.
const SMALL_FLOPS: usize = 4096;

/// `a %*% b`.
pub fn matmul(a: &Matrix, b: &Matrix) -> KResult<Matrix> {
    let (m, k, n) = (a.rows(), a.cols(), b.cols());
    if b.rows() != k {
        return Err(KernelError::new(format!(
            "invalid dimensions for matrix multiplication (k1={}, k2={}): {}x{} %*% {}x{}",
            k,
            b.rows(),
            m,
            k,
            b.rows(),
            n
        )));
    }
    if m == 0 || n == 0 || k == 0 {
        return Ok(Matrix::zeros(m, n));
    }
    Ok(match (a, b) {
        (Matrix::Dense(_), Matrix::Dense(_)) => {
            Matrix::from_vec(m, n, dense_dense(&a.dense_data(), &b.dense_data(), m, k, n))
        }
        (Matrix::Sparse(_), Matrix::Dense(_)) => sparse_dense(a, b),
        (Matrix::Dense(_), Matrix::Sparse(_)) => dense_sparse(a, b),
        (Matrix::Sparse(_), Matrix::Sparse(_)) => sparse_sparse(a, b),
    })
}

/// Row-major dense product of an m x k and a k x n matrix.
///
/// Panics if the slice lengths do not match the shapes (a programming error, never user input:
/// `matmul` checks the shapes first); the check keeps the raw gemm call below sound.
pub fn dense_dense(a: &[f64], b: &[f64], m: usize, k: usize, n: usize) -> Vec<f64> {
    assert!(a.len() == m * k && b.len() == k * n, "dense_dense: slice lengths do not match the shapes");
    if m == 0 || n == 0 || k == 0 {
        return vec![0.0; m * n];
    }
    let work = m.saturating_mul(n).saturating_mul(k);
    if !b.iter().all(|x| x.is_finite()) {
        // SystemDS skips zero cells of `a`, so 0 * NaN and 0 * Inf add nothing: 3.4.0 gives
        // matrix(0,1,1) %*% matrix(NaN,1,1) = 0 and [3 0 5] %*% [2; Inf; 8] = 46. gemm would
        // give NaN, so a non-finite `b` takes this loop.
        let mut out = vec![0.0; m * n];
        for i in 0..m {
            let o = &mut out[i * n..(i + 1) * n];
            for (p, &x) in a[i * k..(i + 1) * k].iter().enumerate() {
                if x != 0.0 {
                    for (o, y) in o.iter_mut().zip(&b[p * n..(p + 1) * n]) {
                        *o += x * y;
                    }
                }
            }
        }
        return out;
    }
    if n == 1 {
        // Matrix-vector: one dot product per row.
        let mut out = vec![0.0; m];
        let dot = |(o, row): (&mut f64, &[f64])| *o = dot(row, b);
        if work > PAR_FLOPS {
            out.par_iter_mut().zip(a.par_chunks(k)).for_each(dot);
        } else {
            out.iter_mut().zip(a.chunks(k)).for_each(dot);
        }
        return out;
    }
    if m == 1 || work < SMALL_FLOPS {
        // Vector-matrix and tiny products: axpy over rows of b.
        let mut out = vec![0.0; m * n];
        for i in 0..m {
            let o = &mut out[i * n..(i + 1) * n];
            for (p, &x) in a[i * k..(i + 1) * k].iter().enumerate() {
                for (o, y) in o.iter_mut().zip(&b[p * n..(p + 1) * n]) {
                    *o += x * y;
                }
            }
        }
        return out;
    }
    let par = if work > PAR_FLOPS { Parallelism::Rayon(0) } else { Parallelism::None };
    // gemm overwrites every cell (it does not read `dst`), so the buffer is not zeroed first.
    let mut out: Vec<f64> = Vec::with_capacity(m * n);
    // SAFETY: `out` has room for m x n cells, `a` is m x k and `b` is k x n, all row-major and
    // contiguous, so the row stride is the column count and the column stride is 1; the lengths
    // were checked above and `out` does not alias them. gemm writes all m*n cells (k > 0) and,
    // with `read_dst` false, reads none, so `set_len` exposes only written cells.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
            1,
            n as isize,
            false,
            a.as_ptr(),
            1,
            k as isize,
            b.as_ptr(),
            1,
            n as isize,
            0.0,
            1.0,
            false,
            false,
            false,
            par,
        );
        out.set_len(m * n);
    }
    out
}

#[inline]
fn dot(x: &[f64], y: &[f64]) -> f64 {
    // Four accumulators let the compiler keep several FMA chains in flight.
    let mut acc = [0.0; 4];
    let (xc, yc) = (x.chunks_exact(4), y.chunks_exact(4));
    let (xr, yr) = (xc.remainder(), yc.remainder());
    for (p, q) in xc.zip(yc) {
        for t in 0..4 {
            acc[t] += p[t] * q[t];
        }
    }
    let mut s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for (p, q) in xr.iter().zip(yr) {
        s += p * q;
    }
    s
}

/// Sparse (CSR) times dense: each output row is a combination of the rows of b picked by the
/// non-zeros of a's row. Dense result.
fn sparse_dense(a: &Matrix, b: &Matrix) -> Matrix {
    let (m, n) = (a.rows(), b.cols());
    let csr = a.csr();
    let bd = b.dense_data();
    let mut out = vec![0.0; m * n];
    let row = |(i, o): (usize, &mut [f64])| {
        if let Some(r) = csr.outer_view(i) {
            for (p, x) in r.iter() {
                for (o, y) in o.iter_mut().zip(&bd[p * n..(p + 1) * n]) {
                    *o += x * y;
                }
            }
        }
    };
    if csr.nnz().saturating_mul(n) > PAR_FLOPS {
        out.par_chunks_mut(n).enumerate().for_each(row);
    } else {
        out.chunks_mut(n).enumerate().for_each(row);
    }
    Matrix::from_vec(m, n, out)
}

/// Dense times sparse (CSR): output row i accumulates a[i, p] * b's row p.
fn dense_sparse(a: &Matrix, b: &Matrix) -> Matrix {
    let (m, k, n) = (a.rows(), a.cols(), b.cols());
    let ad = a.dense_data();
    let csr = b.csr();
    let mut out = vec![0.0; m * n];
    let row = |(i, o): (usize, &mut [f64])| {
        for (p, &x) in ad[i * k..(i + 1) * k].iter().enumerate() {
            if x == 0.0 {
                continue;
            }
            if let Some(r) = csr.outer_view(p) {
                for (j, y) in r.iter() {
                    o[j] += x * y;
                }
            }
        }
    };
    if m.saturating_mul(csr.nnz()) > PAR_FLOPS {
        out.par_chunks_mut(n).enumerate().for_each(row);
    } else {
        out.chunks_mut(n).enumerate().for_each(row);
    }
    Matrix::from_vec(m, n, out).examine_format()
}

/// Sparse times sparse, Gustavson's row-wise algorithm with a dense accumulator per row.
fn sparse_sparse(a: &Matrix, b: &Matrix) -> Matrix {
    let (m, n) = (a.rows(), b.cols());
    let (ca, cb) = (a.csr(), b.csr());
    let mut acc = vec![0.0; n];
    let mut mark = vec![usize::MAX; n];
    let mut touched = Vec::new();
    let mut indptr = Vec::with_capacity(m + 1);
    let mut indices = Vec::new();
    let mut data = Vec::new();
    indptr.push(0);
    for (i, ra) in ca.outer_iterator().enumerate() {
        touched.clear();
        for (p, x) in ra.iter() {
            if let Some(rb) = cb.outer_view(p) {
                for (j, y) in rb.iter() {
                    if mark[j] != i {
                        mark[j] = i;
                        acc[j] = 0.0;
                        touched.push(j);
                    }
                    acc[j] += x * y;
                }
            }
        }
        touched.sort_unstable();
        for &j in &touched {
            if acc[j] != 0.0 {
                indices.push(j);
                data.push(acc[j]);
            }
        }
        indptr.push(indices.len());
    }
    Matrix::from_csr_parts(m, n, indptr, indices, data).examine_format()
}

/// `t(a) %*% a` when `left`, else `a %*% t(a)`. The result is symmetric: the sparse path fills
/// the upper triangle and mirrors it.
pub fn tsmm(a: &Matrix, left: bool) -> Matrix {
    match (a, left) {
        (Matrix::Dense(_), _) => {
            let (r, c) = (a.rows(), a.cols());
            let d = a.dense_data();
            // Strided views: t(a) has row stride 1 and column stride c.
            let (m, k) = if left { (c, r) } else { (r, c) };
            let mut out = vec![0.0; m * m];
            if m == 0 {
                return Matrix::from_vec(0, 0, out);
            }
            let (lcs, lrs, rcs, rrs) =
                if left { (c as isize, 1, 1, c as isize) } else { (1, c as isize, c as isize, 1) };
            let work = m.saturating_mul(m).saturating_mul(k);
            let par = if work > PAR_FLOPS { Parallelism::Rayon(0) } else { Parallelism::None };
            if k > 0 {
                // SAFETY: `d` is the r x c row-major matrix; lhs is read as an m x k matrix
                // with strides (lrs, lcs) and rhs as k x m with (rrs, rcs), which cover exactly
                // the cells of `d` (a or t(a)); `out` is a fresh m x m row-major buffer.
                unsafe {
                    gemm::gemm(
                        m,
                        m,
                        k,
                        out.as_mut_ptr(),
                        1,
                        m as isize,
                        false,
                        d.as_ptr(),
                        lcs,
                        lrs,
                        d.as_ptr(),
                        rcs,
                        rrs,
                        0.0,
                        1.0,
                        false,
                        false,
                        false,
                        par,
                    );
                }
            }
            Matrix::from_vec(m, m, out)
        }
        (Matrix::Sparse(_), true) => {
            let c = a.cols();
            let csr = a.csr();
            let mut out = vec![0.0; c * c];
            for row in csr.outer_iterator() {
                let (idx, val) = (row.indices(), row.data());
                for (p, (&j1, &x)) in idx.iter().zip(val).enumerate() {
                    let o = &mut out[j1 * c..(j1 + 1) * c];
                    for (&j2, &y) in idx[p..].iter().zip(&val[p..]) {
                        o[j2] += x * y;
                    }
                }
            }
            for i in 0..c {
                for j in 0..i {
                    out[i * c + j] = out[j * c + i];
                }
            }
            Matrix::from_vec(c, c, out).examine_format()
        }
        (Matrix::Sparse(_), false) => tsmm(&super::reorg::transpose(a), true),
    }
}

/// `op(a) %*% op(b)` where `op` transposes when asked, without materializing a transpose: gemm
/// reads the transposed operand through swapped strides. Sparse operands and a non-finite `b`
/// (whose zero-skipping semantics the plain kernel implements) take the materializing path.
pub fn matmul_t(a: &Matrix, b: &Matrix, ta: bool, tb: bool) -> KResult<Matrix> {
    let (m, k) = if ta { (a.cols(), a.rows()) } else { (a.rows(), a.cols()) };
    let (k2, n) = if tb { (b.cols(), b.rows()) } else { (b.rows(), b.cols()) };
    let dense = !a.is_sparse() && !b.is_sparse();
    if k != k2 || !dense || m == 0 || n == 0 || k == 0 || m.saturating_mul(n).saturating_mul(k) < SMALL_FLOPS
    {
        let at = if ta { crate::runtime::kernels::reorg::transpose(a) } else { a.clone() };
        let bt = if tb { crate::runtime::kernels::reorg::transpose(b) } else { b.clone() };
        return matmul(&at, &bt);
    }
    let (ad, bd) = (a.dense_data(), b.dense_data());
    if !bd.iter().all(|x| x.is_finite()) {
        let at = if ta { crate::runtime::kernels::reorg::transpose(a) } else { a.clone() };
        let bt = if tb { crate::runtime::kernels::reorg::transpose(b) } else { b.clone() };
        return matmul(&at, &bt);
    }
    // Strides (in elements) of op(a) (m x k) and op(b) (k x n) over their row-major storage.
    let (a_rs, a_cs) = if ta { (1, a.cols() as isize) } else { (a.cols() as isize, 1) };
    let (b_rs, b_cs) = if tb { (1, b.cols() as isize) } else { (b.cols() as isize, 1) };
    let mut out: Vec<f64> = Vec::with_capacity(m * n);
    let work = m.saturating_mul(n).saturating_mul(k);
    let par = if work > PAR_FLOPS { Parallelism::Rayon(0) } else { Parallelism::None };
    // SAFETY: `ad` holds a.rows()*a.cols() and `bd` b.rows()*b.cols() contiguous row-major
    // values; the strides above address exactly the m x k and k x n views of them; `out` has room
    // for an m x n row-major buffer and aliases neither input. gemm writes all m*n cells (k > 0)
    // without reading them (`read_dst` false), so `set_len` exposes only written cells.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
            1,
            n as isize,
            false,
            ad.as_ptr(),
            a_cs,
            a_rs,
            bd.as_ptr(),
            b_cs,
            b_rs,
            0.0,
            1.0,
            false,
            false,
            false,
            par,
        );
        out.set_len(m * n);
    }
    Ok(Matrix::from_vec(m, n, out))
}
