//! Dense products whose result has few columns: `X %*% B` with `B` k x n and `t(X) %*% Q` with
//! `Q` r x n, for n up to [`MAX_COLS`].
//!
//! gemm's micro-kernel is built for wide results; with 4 result columns it streams `X` through
//! a 1-row panel and spends its time in packing and memory stalls. These loops read `X` exactly
//! once, row by row, with the n accumulators of a result row (or the small `m x n` result of
//! `t(X) %*% Q`) in registers or L1, split over rayon in fixed row chunks. The sums run in a
//! different order than gemm's, so values agree with it to rounding (tests check 1e-12
//! relative), and the same on every run: the chunks are fixed and reduced in order.

use rayon::prelude::*;

/// Result columns up to which the skinny loops replace gemm.
pub const MAX_COLS: usize = 8;
/// Rows of `X` per rayon task.
const CHUNK_ROWS: usize = 2048;
/// Largest `t(X) %*% Q` result (cells) kept per task; larger ones stay with gemm.
const MAX_T_RESULT: usize = 1 << 15;

/// Whether `X %*% B` (`m x k` times `k x n`) should take [`product`].
pub fn fits(m: usize, n: usize) -> bool {
    (1..=MAX_COLS).contains(&n) && m > 1
}

/// Whether `t(X) %*% Q` with `X` r x m and `Q` r x n should take [`transposed_product`].
pub fn fits_transposed(m: usize, n: usize) -> bool {
    (1..=MAX_COLS).contains(&n) && m.saturating_mul(n) <= MAX_T_RESULT
}

/// Expands `$body` with `$n` a constant equal to `n` (1..=8), so the loops over the result
/// columns unroll into registers.
macro_rules! with_cols {
    ($n:expr, $c:ident => $body:expr) => {
        match $n {
            1 => {
                const $c: usize = 1;
                $body
            }
            2 => {
                const $c: usize = 2;
                $body
            }
            3 => {
                const $c: usize = 3;
                $body
            }
            4 => {
                const $c: usize = 4;
                $body
            }
            5 => {
                const $c: usize = 5;
                $body
            }
            6 => {
                const $c: usize = 6;
                $body
            }
            7 => {
                const $c: usize = 7;
                $body
            }
            8 => {
                const $c: usize = 8;
                $body
            }
            other => panic!("skinny product with {other} result columns"),
        }
    };
}

/// `x %*% b`, `x` row-major m x k, `b` row-major k x n (n in 1..=[`MAX_COLS`]); parallel when
/// `parallel`.
pub fn product(x: &[f64], b: &[f64], m: usize, k: usize, n: usize, parallel: bool) -> Vec<f64> {
    assert!(x.len() == m * k && b.len() == k * n, "skinny::product: slice lengths do not match the shapes");
    let mut out = vec![0.0; m * n];
    with_cols!(n, N => {
        if parallel && m > CHUNK_ROWS {
            out.par_chunks_mut(N * CHUNK_ROWS)
                .zip(x.par_chunks(k * CHUNK_ROWS))
                .for_each(|(o, xs)| rows_times::<N>(xs, b, k, o));
        } else {
            rows_times::<N>(x, b, k, &mut out);
        }
    });
    out
}

/// `acc + x * y`, fused when `FMA` (only in variants compiled with the FMA feature, where
/// `mul_add` is one instruction rather than a libm call).
#[inline(always)]
fn madd<const FMA: bool>(acc: f64, x: f64, y: f64) -> f64 {
    if FMA { x.mul_add(y, acc) } else { acc + x * y }
}

/// Whether the AVX2+FMA variants run on this CPU (the crate is built for baseline x86-64).
fn has_fma() -> bool {
    super::simd::level() >= 1
}

/// Rows of `x` whose sums run interleaved: independent accumulator chains hide the add latency.
const ROW_BLOCK: usize = 4;

/// One result row per row of `xs`: the n sums of `x[i, p] * b[p, j]` over p.
fn rows_times<const N: usize>(xs: &[f64], b: &[f64], k: usize, out: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    if has_fma() {
        /// # Safety
        /// The CPU must support AVX2 and FMA.
        #[target_feature(enable = "avx2,fma")]
        unsafe fn fused<const N: usize>(xs: &[f64], b: &[f64], k: usize, out: &mut [f64]) {
            rows_times_loop::<N, true>(xs, b, k, out)
        }
        // SAFETY: `has_fma` detected the features `fused` is compiled for.
        return unsafe { fused::<N>(xs, b, k, out) };
    }
    rows_times_loop::<N, false>(xs, b, k, out)
}

#[inline(always)]
fn rows_times_loop<const N: usize, const FMA: bool>(xs: &[f64], b: &[f64], k: usize, out: &mut [f64]) {
    let blocks = out.chunks_exact_mut(N * ROW_BLOCK).zip(xs.chunks_exact(k * ROW_BLOCK));
    for (o, rows) in blocks {
        let mut acc = [[0.0; N]; ROW_BLOCK];
        for (p, br) in b.chunks_exact(N).enumerate() {
            for (r, a) in acc.iter_mut().enumerate() {
                let v = rows[r * k + p];
                for j in 0..N {
                    a[j] = madd::<FMA>(a[j], v, br[j]);
                }
            }
        }
        for (o, a) in o.chunks_exact_mut(N).zip(&acc) {
            o.copy_from_slice(a);
        }
    }
    let done = out.len() / (N * ROW_BLOCK) * ROW_BLOCK;
    for (o, row) in out[done * N..].chunks_exact_mut(N).zip(xs[done * k..].chunks_exact(k)) {
        let mut acc = [0.0; N];
        for (&v, br) in row.iter().zip(b.chunks_exact(N)) {
            for j in 0..N {
                acc[j] = madd::<FMA>(acc[j], v, br[j]);
            }
        }
        o.copy_from_slice(&acc);
    }
}

/// `t(x) %*% q`, `x` row-major r x m, `q` row-major r x n (n in 1..=[`MAX_COLS`]): the sum over
/// rows i of the outer product `x[i, ] ⊗ q[i, ]`. Each task sums a fixed chunk of rows into
/// its own m x n buffer; the buffers are added in chunk order.
pub fn transposed_product(x: &[f64], q: &[f64], r: usize, m: usize, n: usize, parallel: bool) -> Vec<f64> {
    assert!(x.len() == r * m && q.len() == r * n, "skinny::transposed_product: slice lengths do not match");
    with_cols!(n, N => {
        let partial = |(xs, qs): (&[f64], &[f64])| {
            let mut acc = vec![0.0; m * N];
            outer_sums::<N>(xs, qs, m, &mut acc);
            acc
        };
        if parallel && r > CHUNK_ROWS {
            let parts: Vec<Vec<f64>> =
                x.par_chunks(m * CHUNK_ROWS).zip(q.par_chunks(N * CHUNK_ROWS)).map(partial).collect();
            let mut parts = parts.into_iter();
            let mut out = parts.next().unwrap_or_else(|| vec![0.0; m * N]);
            for p in parts {
                out.iter_mut().zip(&p).for_each(|(o, v)| *o += v);
            }
            out
        } else {
            partial((x, q))
        }
    })
}

/// `acc[p, j] += x[i, p] * q[i, j]` over the rows i of `xs` and `qs`.
fn outer_sums<const N: usize>(xs: &[f64], qs: &[f64], m: usize, acc: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    if has_fma() {
        /// # Safety
        /// The CPU must support AVX2 and FMA.
        #[target_feature(enable = "avx2,fma")]
        unsafe fn fused<const N: usize>(xs: &[f64], qs: &[f64], m: usize, acc: &mut [f64]) {
            outer_sums_loop::<N, true>(xs, qs, m, acc)
        }
        // SAFETY: `has_fma` detected the features `fused` is compiled for.
        return unsafe { fused::<N>(xs, qs, m, acc) };
    }
    outer_sums_loop::<N, false>(xs, qs, m, acc)
}

#[inline(always)]
fn outer_sums_loop<const N: usize, const FMA: bool>(xs: &[f64], qs: &[f64], m: usize, acc: &mut [f64]) {
    // ROW_BLOCK rows per pass over `acc`: one load and store of each accumulator per block.
    let blocks = xs.chunks_exact(m * ROW_BLOCK).zip(qs.chunks_exact(N * ROW_BLOCK));
    for (xb, qb) in blocks {
        let mut qv = [[0.0; N]; ROW_BLOCK];
        for (q, qr) in qv.iter_mut().zip(qb.chunks_exact(N)) {
            q.copy_from_slice(qr);
        }
        for (p, a) in acc.chunks_exact_mut(N).enumerate() {
            let mut s = [0.0; N];
            s.copy_from_slice(a);
            for (r, q) in qv.iter().enumerate() {
                let v = xb[r * m + p];
                for j in 0..N {
                    s[j] = madd::<FMA>(s[j], v, q[j]);
                }
            }
            a.copy_from_slice(&s);
        }
    }
    let done = xs.len() / (m * ROW_BLOCK) * ROW_BLOCK;
    for (xr, qr) in xs[done * m..].chunks_exact(m).zip(qs[done * N..].chunks_exact(N)) {
        let mut qv = [0.0; N];
        qv.copy_from_slice(qr);
        for (&v, a) in xr.iter().zip(acc.chunks_exact_mut(N)) {
            for j in 0..N {
                a[j] = madd::<FMA>(a[j], v, qv[j]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(len: usize, seed: f64) -> Vec<f64> {
        (0..len).map(|i| ((i as f64) * 0.731 + seed).sin() * (1.0 + (i % 7) as f64)).collect()
    }

    /// Row-major naive product with the sum in index order, and the sum of absolute terms
    /// (the scale of the rounding error) per cell.
    fn naive(a: &[f64], b: &[f64], m: usize, k: usize, n: usize) -> (Vec<f64>, Vec<f64>) {
        let mut out = vec![0.0; m * n];
        let mut scale = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                for p in 0..k {
                    out[i * n + j] += a[i * k + p] * b[p * n + j];
                    scale[i * n + j] += (a[i * k + p] * b[p * n + j]).abs();
                }
            }
        }
        (out, scale)
    }

    fn transpose(a: &[f64], rows: usize, cols: usize) -> Vec<f64> {
        let mut t = vec![0.0; a.len()];
        for i in 0..rows {
            for j in 0..cols {
                t[j * rows + i] = a[i * cols + j];
            }
        }
        t
    }

    fn assert_close(got: &[f64], want: &[f64], scale: &[f64]) {
        assert_eq!(got.len(), want.len());
        for (c, ((g, w), s)) in got.iter().zip(want).zip(scale).enumerate() {
            assert!((g - w).abs() <= 1e-12 * s.max(w.abs()), "cell {c}: {g} != {w}");
        }
    }

    /// Shapes at and around the chunk edges, every column count, k of 1 and odd k.
    const SHAPES: [(usize, usize); 6] = [(2, 1), (7, 3), (2047, 51), (2048, 5), (2049, 17), (6000, 51)];

    #[test]
    fn product_matches_the_naive_product_for_every_column_count() {
        for (m, k) in SHAPES {
            for n in 1..=MAX_COLS {
                let (a, b) = (data(m * k, 0.3), data(k * n, 1.7));
                let (want, scale) = naive(&a, &b, m, k, n);
                for parallel in [false, true] {
                    assert_close(&product(&a, &b, m, k, n, parallel), &want, &scale);
                }
            }
        }
    }

    #[test]
    fn transposed_product_matches_the_naive_product_for_every_column_count() {
        for (r, m) in SHAPES {
            for n in 1..=MAX_COLS {
                let (x, q) = (data(r * m, 0.9), data(r * n, 2.1));
                let (want, scale) = naive(&transpose(&x, r, m), &q, m, r, n);
                for parallel in [false, true] {
                    assert_close(&transposed_product(&x, &q, r, m, n, parallel), &want, &scale);
                }
            }
        }
    }

    /// The baseline (no FMA) loops, which this machine's dispatch may never pick.
    #[test]
    fn baseline_loops_match_the_naive_product() {
        const N: usize = 5;
        for (m, k) in SHAPES {
            let (a, b) = (data(m * k, 0.3), data(k * N, 1.7));
            let (want, scale) = naive(&a, &b, m, k, N);
            let mut out = vec![0.0; m * N];
            rows_times_loop::<N, false>(&a, &b, k, &mut out);
            assert_close(&out, &want, &scale);
            let q = data(m * N, 2.1);
            let (want, scale) = naive(&transpose(&a, m, k), &q, k, m, N);
            let mut acc = vec![0.0; k * N];
            outer_sums_loop::<N, false>(&a, &q, k, &mut acc);
            assert_close(&acc, &want, &scale);
        }
    }

    /// The parallel result does not depend on the pool size: fixed chunks, reduced in order.
    #[test]
    fn transposed_product_is_the_same_on_any_pool() {
        let (r, m, n) = (9000, 13, 4);
        let (x, q) = (data(r * m, 0.5), data(r * n, 0.25));
        let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("pool");
        let three = rayon::ThreadPoolBuilder::new().num_threads(3).build().expect("pool");
        let a = one.install(|| transposed_product(&x, &q, r, m, n, true));
        let b = three.install(|| transposed_product(&x, &q, r, m, n, true));
        assert_eq!(a, b);
    }
}
