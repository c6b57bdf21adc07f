//! Matrix multiply and transpose-self multiply.
//!
//! Dense products go to the `gemm` crate (AVX-512 kernels through the `x86-v4` feature), on
//! rayon only when the work is large enough to amortize the threads. Matrix-vector products and
//! tiny products use direct loops: they are memory bound and gemm's packing would dominate.
//! Sparse operands use row-wise (Gustavson) loops whose cost follows the non-zeros.

use gemm::Parallelism;
use rayon::prelude::*;

use super::gemm_util::{self, View};
use super::{KResult, KernelError};
use crate::types::matrix::Matrix;

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
    // SystemDS skips zero cells of `a`, so 0 * NaN and 0 * Inf add nothing: 3.4.0 gives
    // matrix(0,1,1) %*% matrix(NaN,1,1) = 0 and [3 0 5] %*% [2; Inf; 8] = 46, where the fast
    // kernels would give NaN. A non-finite `b` therefore takes the zero-skipping loop. Checking
    // `b` reads it once more; when `b` is larger than the result, the result is checked
    // instead: a non-finite cell of `b` always leaves a non-finite cell in the product (Inf or
    // NaN in every row of its column), so a finite product means a finite `b`.
    let check_b_first = b.len() <= m * n;
    if check_b_first && !super::simd::all_finite(b) {
        return skip_zero_product(a, b, m, k, n);
    }
    let out = fast_product(a, b, m, k, n, work);
    if !check_b_first && !super::simd::all_finite(&out) && !super::simd::all_finite(b) {
        return skip_zero_product(a, b, m, k, n);
    }
    out
}

/// The product with SystemDS's semantics for non-finite values: zero cells of `a` are skipped.
fn skip_zero_product(a: &[f64], b: &[f64], m: usize, k: usize, n: usize) -> Vec<f64> {
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
    out
}

/// The product for finite `b` (any `b` when the caller checks the result): dot products,
/// axpy loops for tiny products, gemm otherwise.
fn fast_product(a: &[f64], b: &[f64], m: usize, k: usize, n: usize, work: usize) -> Vec<f64> {
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
    if super::skinny::fits(m, n) {
        return super::skinny::product(a, b, m, k, n, work > PAR_FLOPS);
    }
    gemm_product(m, n, k, View::rows(a, k), View::rows(b, n))
}

/// `a * b` (`m x k` times `k x n`) as a new row-major `m x n` buffer, on rayon
/// when the work is large enough.
fn gemm_product(m: usize, n: usize, k: usize, a: View<'_>, b: View<'_>) -> Vec<f64> {
    let work = m.saturating_mul(n).saturating_mul(k);
    let par = if work > PAR_FLOPS { Parallelism::Rayon(0) } else { Parallelism::None };
    gemm_util::product(m, n, k, a, b, par)
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

/// `t(a) %*% b` for a sparse `a` (CSR, `k x m`) and a dense `b` (`k x n`) without transposing
/// `a`: row `p` of `a` scatters `a[p, j] * b[p, ]` into output row `j`. Zeros of `a` are never
/// visited, so they skip non-finite cells of `b` as SystemDS's product does. Large products split
/// `a`'s rows across threads, each accumulating its own `m x n` partial result.
fn sparse_transposed_dense(a: &Matrix, b: &Matrix) -> Matrix {
    let (k, m, n) = (a.rows(), a.cols(), b.cols());
    let csr = a.csr();
    let bd = b.dense_data();
    let accumulate = |rows: std::ops::Range<usize>, out: &mut [f64]| {
        for p in rows {
            let Some(r) = csr.outer_view(p) else { continue };
            let brow = &bd[p * n..(p + 1) * n];
            for (j, x) in r.iter() {
                for (o, y) in out[j * n..(j + 1) * n].iter_mut().zip(brow) {
                    *o += x * y;
                }
            }
        }
    };
    let threads = rayon::current_num_threads().max(1);
    let mut out = vec![0.0; m * n];
    if threads == 1 || csr.nnz().saturating_mul(n) <= PAR_FLOPS || m.saturating_mul(n) > csr.nnz() {
        accumulate(0..k, &mut out);
    } else {
        let chunk = k.div_ceil(threads);
        let partials: Vec<Vec<f64>> = (0..threads)
            .into_par_iter()
            .map(|t| {
                let mut part = vec![0.0; m * n];
                accumulate(t * chunk..((t + 1) * chunk).min(k), &mut part);
                part
            })
            .collect();
        for part in partials {
            for (o, v) in out.iter_mut().zip(part) {
                *o += v;
            }
        }
    }
    Matrix::from_vec(m, n, out).examine_format()
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
            let m = if left { c } else { r };
            let (a_view, at_view) = (View::rows(&d, c), View::transposed(&d, c));
            let (lhs, rhs) = if left { (at_view, a_view) } else { (a_view, at_view) };
            let out =
                if m == 0 { Vec::new() } else { gemm_product(m, m, if left { r } else { c }, lhs, rhs) };
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
    if ta && !tb && k == k2 && a.is_sparse() && !b.is_sparse() && m > 0 && n > 0 && k > 0 {
        return Ok(sparse_transposed_dense(a, b));
    }
    if k != k2 || !dense || m == 0 || n == 0 || k == 0 || m.saturating_mul(n).saturating_mul(k) < SMALL_FLOPS
    {
        let at = if ta { crate::kernels::reorg::transpose(a) } else { a.clone() };
        let bt = if tb { crate::kernels::reorg::transpose(b) } else { b.clone() };
        return matmul(&at, &bt);
    }
    let (ad, bd) = (a.dense_data(), b.dense_data());
    // A non-finite `b` needs the zero-skipping loop; checked on the smaller of `b` and the
    // result, as in `dense_dense`.
    let exact = || {
        let at = if ta { crate::kernels::reorg::transpose(a) } else { a.clone() };
        let bt = if tb { crate::kernels::reorg::transpose(b) } else { b.clone() };
        matmul(&at, &bt)
    };
    let check_b_first = bd.len() <= m * n;
    if check_b_first && !super::simd::all_finite(&bd) {
        return exact();
    }
    let out = transposed_views_product(&ad, &bd, a.cols(), b.cols(), (m, k, n), (ta, tb));
    if !check_b_first && !super::simd::all_finite(&out) && !super::simd::all_finite(&bd) {
        return exact();
    }
    Ok(Matrix::from_vec(m, n, out))
}

/// `op(a) %*% op(b)` of dense row-major buffers (`a_cols`, `b_cols` their stored widths) for
/// the shape (m, k, n): the skinny loops when the result has few columns and `b` is not
/// transposed, gemm on strided views otherwise.
fn transposed_views_product(
    ad: &[f64],
    bd: &[f64],
    a_cols: usize,
    b_cols: usize,
    (m, k, n): (usize, usize, usize),
    (ta, tb): (bool, bool),
) -> Vec<f64> {
    let par = m.saturating_mul(n).saturating_mul(k) > PAR_FLOPS;
    if !tb && ta && super::skinny::fits_transposed(m, n) {
        return super::skinny::transposed_product(ad, bd, k, m, n, par);
    }
    if !tb && !ta && super::skinny::fits(m, n) {
        return super::skinny::product(ad, bd, m, k, n, par);
    }
    let op_a = if ta { View::transposed(ad, a_cols) } else { View::rows(ad, a_cols) };
    let op_b = if tb { View::transposed(bd, b_cols) } else { View::rows(bd, b_cols) };
    gemm_product(m, n, k, op_a, op_b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(rows: usize, cols: usize, seed: f64) -> Matrix {
        Matrix::from_vec(rows, cols, (0..rows * cols).map(|i| ((i as f64) * 0.37 + seed).sin()).collect())
    }

    fn naive(a: &Matrix, b: &Matrix) -> Vec<f64> {
        let (m, k, n) = (a.rows(), a.cols(), b.cols());
        let mut out = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                out[i * n + j] = (0..k).map(|p| a.get(i, p) * b.get(p, j)).sum();
            }
        }
        out
    }

    fn assert_close(got: &Matrix, want: &[f64]) {
        let got = got.dense_data();
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() <= 1e-10 * (1.0 + w.abs()), "{g} != {w}");
        }
    }

    /// The skinny loops (few result columns) against gemm on the same operands, plain and with
    /// a transposed left operand, at chunk edges and on both sides of the parallel threshold:
    /// equal to 1e-12 of the sum of the terms' magnitudes (the scale of either's rounding).
    #[test]
    fn skinny_products_match_the_gemm_path() {
        for (rows, inner) in [(5, 3), (2047, 51), (2049, 51), (9001, 7), (30_000, 51)] {
            for n in [1, 2, 4, 5, 8] {
                let x = data(rows, inner, 0.4);
                let b = data(inner, n, 1.3);
                let q = data(rows, n, 2.2);
                let (xd, bd, qd) = (x.dense_data(), b.dense_data(), q.dense_data());
                let abs = |v: &[f64]| v.iter().map(|c| c.abs()).collect::<Vec<_>>();
                let pairs = [
                    (
                        transposed_views_product(&xd, &bd, inner, n, (rows, inner, n), (false, false)),
                        gemm_product(rows, n, inner, View::rows(&xd, inner), View::rows(&bd, n)),
                        gemm_product(rows, n, inner, View::rows(&abs(&xd), inner), View::rows(&abs(&bd), n)),
                    ),
                    (
                        transposed_views_product(&xd, &qd, inner, n, (inner, rows, n), (true, false)),
                        gemm_product(inner, n, rows, View::transposed(&xd, inner), View::rows(&qd, n)),
                        gemm_product(
                            inner,
                            n,
                            rows,
                            View::transposed(&abs(&xd), inner),
                            View::rows(&abs(&qd), n),
                        ),
                    ),
                ];
                for (got, want, scale) in pairs {
                    assert_eq!(got.len(), want.len());
                    for ((g, w), s) in got.iter().zip(&want).zip(&scale) {
                        assert!((g - w).abs() <= 1e-12 * s, "{rows}x{inner}, n={n}: {g} != {w}");
                    }
                }
                let via_matmul = matmul(&x, &b).expect("product");
                assert_close(&via_matmul, &naive(&x, &b));
            }
        }
    }

    /// A product large enough for the parallel gemm, directly and through transposed views.
    #[test]
    fn gemm_products_match_the_naive_product() {
        let (m, k, n) = (64, 700, 301);
        let (a, b) = (data(m, k, 0.5), data(k, n, 1.5));
        let want = naive(&a, &b);
        assert_close(&matmul(&a, &b).unwrap(), &want);
        let (at, bt) = (crate::kernels::reorg::transpose(&a), crate::kernels::reorg::transpose(&b));
        assert_close(&matmul_t(&at, &b, true, false).unwrap(), &want);
        assert_close(&matmul_t(&a, &bt, false, true).unwrap(), &want);
        assert_close(&matmul_t(&at, &bt, true, true).unwrap(), &want);
    }

    /// Zero cells of `a` skip non-finite cells of `b` (SystemDS's semantics), also when `b` is
    /// larger than the result and the kernels check the result instead of `b` first.
    #[test]
    fn non_finite_b_is_skipped_by_zeros_of_a_for_every_shape() {
        for (m, k, n) in [(2, 1000, 3), (1, 500, 4), (3, 800, 1), (40, 60, 50)] {
            let mut a = data(m, k, 0.25);
            let mut b = data(k, n, 0.75).dense_data().into_owned();
            // Row 7 of b holds Inf and NaN; column 7 of a is zero, so they add nothing.
            for i in 0..m {
                if let Matrix::Dense(d) = &mut a {
                    d[[i, 7]] = 0.0;
                }
            }
            b[7 * n] = f64::INFINITY;
            if n > 1 {
                b[7 * n + 1] = f64::NAN;
            }
            let b = Matrix::from_vec(k, n, b);
            let mut want = vec![0.0; m * n];
            for i in 0..m {
                for p in 0..k {
                    let x = a.get(i, p);
                    if x != 0.0 {
                        for j in 0..n {
                            want[i * n + j] += x * b.get(p, j);
                        }
                    }
                }
            }
            assert!(want.iter().all(|v| v.is_finite()));
            assert_close(&matmul(&a, &b).unwrap(), &want);
            let at = crate::kernels::reorg::transpose(&a);
            assert_close(&matmul_t(&at, &b, true, false).unwrap(), &want);
            // A non-zero cell of a meeting the Inf gives Inf (NaN with the NaN), as SystemDS does.
            if let Matrix::Dense(d) = &mut a {
                d[[0, 7]] = 2.0;
            }
            let got = matmul(&a, &b).unwrap();
            assert_eq!(got.get(0, 0), f64::INFINITY);
        }
    }

    /// `t(A) %*% B` of a sparse A runs without transposing A, on one thread and split across
    /// threads, and gives the plain product of the materialized transpose.
    #[test]
    fn sparse_transposed_product_matches_the_naive_product() {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(3).build().expect("pool");
        pool.install(|| {
            for (k, m, n, every) in [(50, 7, 1, 3), (3000, 40, 3, 5), (20000, 30, 1, 11)] {
                let cells =
                    (0..k * m).map(|i| if i % every == 0 { (i as f64 * 0.1).cos() } else { 0.0 }).collect();
                let a = Matrix::Sparse(Matrix::from_vec(k, m, cells).to_csr());
                let b = data(k, n, 0.3);
                let at = crate::kernels::reorg::transpose(&a);
                let want = naive(&at, &b);
                assert_close(&matmul_t(&a, &b, true, false).unwrap(), &want);
            }
        });
    }

    /// Short, wide products split into per-thread column blocks (three threads, blocks of
    /// uneven width) give the plain product, also through transposed views.
    #[test]
    fn column_block_split_matches_the_naive_product() {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(3).build().expect("pool");
        pool.install(|| {
            for (m, k, n) in [(64, 300, 517), (5, 700, 200), (128, 50, 1000)] {
                let (a, b) = (data(m, k, 0.1), data(k, n, 0.9));
                let want = naive(&a, &b);
                assert_close(&matmul(&a, &b).unwrap(), &want);
                let bt = crate::kernels::reorg::transpose(&b);
                assert_close(&matmul_t(&a, &bt, false, true).unwrap(), &want);
            }
        });
    }
}
