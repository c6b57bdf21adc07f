//! Full, row and column aggregates (sum, mean, var, min, max, prod, index of max/min).
//!
//! Sums use Kahan compensation like SystemDS's `uak+` family, so `sum` of ten 0.1 cells is 1.0.
//! Facts checked with SystemDS 3.4.0: sum of a 0x3 matrix is 0.0, mean is NaN, prod is 1.0,
//! min is Infinity and max is -Infinity; var/sd of one cell is 0.0 (and colVars of one row is
//! all 0); min/max propagate NaN; rowIndexMax skips NaN cells and gives 1 for an all-NaN row.

use rayon::prelude::*;

use super::elementwise::PAR_CELLS;
use super::ops::{java_max, java_min};
use super::{KResult, KernelError};
use crate::types::matrix::Matrix;
use crate::types::ops::{AggDir, AggOp};

/// Kahan-compensated running sum.
#[derive(Clone, Copy, Default)]
struct Kahan {
    sum: f64,
    corr: f64,
}

impl Kahan {
    #[inline]
    fn add(&mut self, v: f64) {
        let y = v + self.corr;
        let t = self.sum + y;
        self.corr = y - (t - self.sum);
        self.sum = t;
    }
}

/// Summary statistics of a set of cells, fed value by value (implicit zeros in one batch).
#[derive(Clone, Copy)]
struct Acc {
    n: usize,
    sum: Kahan,
    sumsq: Kahan,
    min: f64,
    max: f64,
    prod: f64,
    /// Welford's running mean and sum of squared deviations (both Kahan compensated), kept only
    /// when `moments` is set because it costs a division per cell.
    moments: bool,
    wmean: Kahan,
    m2: Kahan,
}

impl Acc {
    fn new() -> Acc {
        Acc {
            n: 0,
            sum: Kahan::default(),
            sumsq: Kahan::default(),
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            prod: 1.0,
            moments: false,
            wmean: Kahan::default(),
            m2: Kahan::default(),
        }
    }

    fn for_op(op: AggOp) -> Acc {
        Acc { moments: matches!(op, AggOp::Var | AggOp::Sd), ..Acc::new() }
    }

    #[inline]
    fn push(&mut self, v: f64) {
        self.n += 1;
        if self.moments {
            // Welford update; SystemDS 3.4.0's var agrees to the last bit with this form
            // (var([0.1 .. 0.7]) = 0.04666666666666667, var([0.3 1.7 2.2 9.1 4.4]) =
            // 11.832999999999998), where a two-pass sum of squares differs in the last bits.
            let n = self.n as f64;
            let d = v - self.wmean.sum;
            self.wmean.add(d / n);
            self.m2.add((n - 1.0) / n * d * d);
        }
        self.sum.add(v);
        self.sumsq.add(v * v);
        self.min = java_min(self.min, v);
        self.max = java_max(self.max, v);
        self.prod *= v;
    }

    fn push_zeros(&mut self, k: usize) {
        if k > 0 {
            if self.moments {
                // Chan et al.'s merge of a group of k zeros (mean 0, no spread).
                let (na, nb) = (self.n as f64, k as f64);
                let d = -self.wmean.sum;
                let n = na + nb;
                self.wmean.add(d * nb / n);
                self.m2.add(d * d * na * nb / n);
            }
            self.n += k;
            self.min = java_min(self.min, 0.0);
            self.max = java_max(self.max, 0.0);
            self.prod *= 0.0;
        }
    }
}

/// Finishes an aggregate; var/sd divide by n - 1 (0 for a single cell, as SystemDS gives).
fn finish(op: AggOp, acc: &Acc) -> f64 {
    let n = acc.n as f64;
    match op {
        AggOp::Sum => acc.sum.sum,
        AggOp::SumSq => acc.sumsq.sum,
        AggOp::Mean => acc.sum.sum / n,
        AggOp::Min => acc.min,
        AggOp::Max => acc.max,
        AggOp::Prod => acc.prod,
        AggOp::Var | AggOp::Sd => {
            let var = match acc.n {
                0 => f64::NAN,
                1 => 0.0,
                n => acc.m2.sum / (n as f64 - 1.0),
            };
            if op == AggOp::Sd { var.sqrt() } else { var }
        }
        AggOp::IndexMax | AggOp::IndexMin => f64::NAN,
    }
}

/// The minimum or maximum of all cells under Java's `Math.min`/`Math.max`, in parallel and
/// eight lanes at a time with plain comparisons (which the compiler turns into vector min/max),
/// then Java's two special cases settled exactly: any NaN gives NaN, and a zero result is -0.0
/// for the minimum (0.0 for the maximum) when any cell is that zero. Java's min and max are
/// associative and commutative, so this is the sequential fold's value, bit for bit.
fn dense_extreme(data: &[f64], max: bool) -> f64 {
    let init = if max { f64::NEG_INFINITY } else { f64::INFINITY };
    let better = move |v: f64, m: f64| if max { v > m } else { v < m };
    let fold = |cells: &[f64]| {
        let mut lanes = [init; 8];
        let mut nan = false;
        let mut blocks = cells.chunks_exact(8);
        for b in &mut blocks {
            for (l, &v) in lanes.iter_mut().zip(b) {
                nan |= v.is_nan();
                *l = if better(v, *l) { v } else { *l };
            }
        }
        let mut m = init;
        for &v in lanes.iter().chain(blocks.remainder()) {
            nan |= v.is_nan();
            m = if better(v, m) { v } else { m };
        }
        (m, nan)
    };
    let pick = |a: (f64, bool), b: (f64, bool)| (if better(b.0, a.0) { b.0 } else { a.0 }, a.1 || b.1);
    let (m, nan) = if data.len() > PAR_CELLS {
        data.par_chunks(PAR_CELLS).map(fold).reduce(|| (init, false), pick)
    } else {
        fold(data)
    };
    if nan {
        return f64::NAN;
    }
    if m == 0.0 {
        // Java orders -0.0 below 0.0; the comparisons above treat them as equal.
        let wanted = if max { 0.0f64 } else { -0.0f64 };
        return if data.iter().any(|v| v.to_bits() == wanted.to_bits()) { wanted } else { -wanted };
    }
    m
}

/// Aggregates all cells to one value.
pub fn aggregate_all(op: AggOp, a: &Matrix) -> KResult<f64> {
    if matches!(op, AggOp::IndexMax | AggOp::IndexMin) {
        return Err(KernelError::new("rowIndexMax/rowIndexMin aggregate only by rows"));
    }
    let mut acc = Acc::for_op(op);
    match a {
        Matrix::Dense(d) => {
            let data = a.dense_data();
            let _ = d;
            if op == AggOp::Sum || op == AggOp::Mean {
                // Only the sum is needed: skip the other statistics.
                let mut k = Kahan::default();
                for v in data.iter() {
                    k.add(*v);
                }
                let n = data.len() as f64;
                return Ok(if op == AggOp::Sum { k.sum } else { k.sum / n });
            }
            match op {
                AggOp::Min => return Ok(dense_extreme(&data, false)),
                AggOp::Max => return Ok(dense_extreme(&data, true)),
                AggOp::SumSq => {
                    let mut k = Kahan::default();
                    for v in data.iter() {
                        k.add(v * v);
                    }
                    return Ok(k.sum);
                }
                _ => {}
            }
            for v in data.iter() {
                acc.push(*v);
            }
            Ok(finish(op, &acc))
        }
        Matrix::Sparse(s) => {
            for v in s.data() {
                acc.push(*v);
            }
            let zeros = a.len() - s.data().len();
            acc.push_zeros(zeros);
            Ok(finish(op, &acc))
        }
    }
}

/// Aggregates all cells (1x1), each row (rows x 1) or each column (1 x cols).
/// IndexMax/IndexMin exist only by rows: 1-based column of the last max/min, NaN cells skipped.
pub fn aggregate(op: AggOp, dir: AggDir, a: &Matrix) -> KResult<Matrix> {
    let (r, c) = (a.rows(), a.cols());
    match dir {
        AggDir::All => Ok(Matrix::scalar(aggregate_all(op, a)?)),
        AggDir::Row => {
            if matches!(op, AggOp::IndexMax | AggOp::IndexMin) {
                return Ok(Matrix::from_vec(r, 1, row_index(op == AggOp::IndexMax, a)));
            }
            let mut out = Vec::with_capacity(r);
            match a {
                Matrix::Dense(_) => {
                    let data = a.dense_data();
                    if c == 0 {
                        out.extend((0..r).map(|_| agg_slice(op, &[], 0)));
                    } else if r * c > PAR_CELLS && r > 1 {
                        // Rows are independent, so the parallel result is bit-identical.
                        data.par_chunks(c).map(|row| agg_slice(op, row, 0)).collect_into_vec(&mut out);
                    } else {
                        out.extend(data.chunks(c).map(|row| agg_slice(op, row, 0)));
                    }
                }
                Matrix::Sparse(_) => {
                    let csr = a.csr();
                    for row in csr.outer_iterator() {
                        out.push(agg_slice(op, row.data(), c - row.nnz()));
                    }
                }
            }
            Ok(Matrix::from_vec(r, 1, out))
        }
        AggDir::Col => {
            if matches!(op, AggOp::IndexMax | AggOp::IndexMin) {
                return Err(KernelError::new("rowIndexMax/rowIndexMin aggregate only by rows"));
            }
            Ok(Matrix::from_vec(1, c, col_aggregate(op, a)))
        }
    }
}

fn agg_slice(op: AggOp, vals: &[f64], zeros: usize) -> f64 {
    let mut acc = Acc::for_op(op);
    if matches!(op, AggOp::Sum | AggOp::Mean) {
        let mut k = Kahan::default();
        for v in vals {
            k.add(*v);
        }
        let n = (vals.len() + zeros) as f64;
        return if op == AggOp::Sum { k.sum } else { k.sum / n };
    }
    for v in vals {
        acc.push(*v);
    }
    acc.push_zeros(zeros);
    finish(op, &acc)
}

/// Column sums (or means) of a dense matrix: the same Kahan-compensated additions, in the same
/// order, as the general accumulator, but with the two running vectors kept apart so the inner
/// loop over a row is a straight vectorizable pass. Large matrices are split into blocks of
/// columns, one per rayon task: each column is still summed over its rows in order, so the
/// result does not depend on the split.
fn col_sums_dense(data: &[f64], r: usize, c: usize, mean: bool) -> Vec<f64> {
    const BLOCK: usize = 2048;
    let mut sum = vec![0.0f64; c];
    let mut corr = vec![0.0f64; c];
    let block = |(bi, (s, k)): (usize, (&mut [f64], &mut [f64]))| {
        let j0 = bi * BLOCK;
        for i in 0..r {
            let row = &data[i * c + j0..i * c + j0 + s.len()];
            kahan_add_row(s, k, row);
        }
    };
    if r * c > PAR_CELLS && c > BLOCK {
        sum.par_chunks_mut(BLOCK).zip(corr.par_chunks_mut(BLOCK)).enumerate().for_each(block);
    } else {
        sum.chunks_mut(BLOCK).zip(corr.chunks_mut(BLOCK)).enumerate().for_each(block);
    }
    if mean {
        for s in &mut sum {
            *s /= r as f64;
        }
    }
    sum
}

/// One row's Kahan step for every column: `sum += row` with compensation `corr`.
fn kahan_add_row(sum: &mut [f64], corr: &mut [f64], row: &[f64]) {
    #[inline(always)]
    fn step(sum: &mut [f64], corr: &mut [f64], row: &[f64]) {
        for ((s, k), &v) in sum.iter_mut().zip(corr.iter_mut()).zip(row) {
            let y = v + *k;
            let t = *s + y;
            *k = y - (t - *s);
            *s = t;
        }
    }
    /// # Safety
    /// The CPU must support AVX-512F.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx2,fma")]
    unsafe fn wide(sum: &mut [f64], corr: &mut [f64], row: &[f64]) {
        step(sum, corr, row)
    }
    #[cfg(target_arch = "x86_64")]
    if super::simd::has_avx512() {
        // SAFETY: the CPU has AVX-512F (checked).
        return unsafe { wide(sum, corr, row) };
    }
    step(sum, corr, row)
}

/// Column aggregates, walking the rows once with one accumulator per column.
fn col_aggregate(op: AggOp, a: &Matrix) -> Vec<f64> {
    let (r, c) = (a.rows(), a.cols());
    if matches!(op, AggOp::Sum | AggOp::Mean) && !a.is_sparse() {
        return col_sums_dense(&a.dense_data(), r, c, op == AggOp::Mean);
    }
    let mut accs = vec![Acc::for_op(op); c];
    match a {
        Matrix::Dense(_) => {
            let data = a.dense_data();
            for i in 0..r {
                for (acc, v) in accs.iter_mut().zip(&data[i * c..(i + 1) * c]) {
                    acc.push(*v);
                }
            }
            accs.iter().map(|acc| finish(op, acc)).collect()
        }
        Matrix::Sparse(_) => {
            let csr = a.csr();
            let mut counts = vec![0usize; c];
            for row in csr.outer_iterator() {
                for (j, v) in row.iter() {
                    accs[j].push(*v);
                    counts[j] += 1;
                }
            }
            for (acc, cnt) in accs.iter_mut().zip(&counts) {
                acc.push_zeros(r - cnt);
            }
            accs.iter().map(|acc| finish(op, acc)).collect()
        }
    }
}

/// rowIndexMax / rowIndexMin. SystemDS 3.4.0: `[1 3 3; 2 2 2]` gives 3, 3 (last on ties);
/// `[1 NaN 3; NaN 5 1]` gives 3, 2 for max and 1, 3 for min (NaN never wins); an all-NaN row
/// gives 1; `[-1 0 -2]` gives 2 and `[-3 -3 -5]` gives 2. A 0-column row gives 1 too.
fn row_index(is_max: bool, a: &Matrix) -> Vec<f64> {
    let (r, c) = (a.rows(), a.cols());
    let best = |vals: &mut dyn Iterator<Item = (usize, f64)>| -> f64 {
        let mut idx = 0usize;
        let mut cur = if is_max { f64::NEG_INFINITY } else { f64::INFINITY };
        for (j, v) in vals {
            if (is_max && v >= cur) || (!is_max && v <= cur) {
                cur = v;
                idx = j;
            }
        }
        (idx + 1) as f64
    };
    let mut out = Vec::with_capacity(r);
    match a {
        Matrix::Dense(_) => {
            let data = a.dense_data();
            for i in 0..r {
                out.push(best(&mut data[i * c..(i + 1) * c].iter().copied().enumerate()));
            }
        }
        Matrix::Sparse(_) => {
            let csr = a.csr();
            let mut buf = vec![0.0; c];
            for row in csr.outer_iterator() {
                buf.iter_mut().for_each(|x| *x = 0.0);
                for (j, v) in row.iter() {
                    buf[j] = *v;
                }
                out.push(best(&mut buf.iter().copied().enumerate()));
            }
        }
    }
    out
}

/// Sum of the diagonal of a square matrix.
pub fn trace(a: &Matrix) -> KResult<f64> {
    if a.rows() != a.cols() {
        return Err(KernelError::new(format!(
            "trace requires a square matrix, got {}x{}",
            a.rows(),
            a.cols()
        )));
    }
    let mut k = Kahan::default();
    for i in 0..a.rows() {
        k.add(a.get(i, i));
    }
    Ok(k.sum)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Wide matrices take the column-block path (in parallel above `PAR_CELLS`); every column
    /// must equal its own Kahan sum over the rows in order, bit for bit.
    #[test]
    fn blocked_column_sums_equal_per_column_kahan_sums() {
        let (r, c) = (40, 5000);
        let data: Vec<f64> = (0..r * c).map(|i| ((i as f64) * 0.7).sin() * 1e3 + 1e-7 * i as f64).collect();
        let got = col_sums_dense(&data, r, c, false);
        for j in (0..c).step_by(97).chain([c - 1]) {
            let (mut s, mut k) = (0.0f64, 0.0f64);
            for i in 0..r {
                let y = data[i * c + j] + k;
                let t = s + y;
                k = y - (t - s);
                s = t;
            }
            assert_eq!(got[j].to_bits(), s.to_bits(), "column {j}");
        }
        let means = col_sums_dense(&data, r, c, true);
        assert_eq!(means[3], got[3] / r as f64);
    }

    /// The parallel, eight-lane min and max give the sequential Java fold's bits: signed zeros
    /// (-0.0 below 0.0), NaN anywhere, values only in the remainder, empty input.
    #[test]
    fn min_max_equal_the_sequential_fold() {
        let n = PAR_CELLS * 3 + 5;
        let base: Vec<f64> = (0..n).map(|i| ((i as f64) * 0.37).sin() * 1e3).collect();
        let mut zeros = vec![0.0; n];
        zeros[n / 2] = -0.0;
        let mut with_nan = base.clone();
        with_nan[PAR_CELLS + 17] = f64::NAN;
        let mut tail_extreme = base.clone();
        tail_extreme[n - 1] = -1e300;
        tail_extreme[n - 2] = 1e300;
        for data in [base, zeros, with_nan, tail_extreme, vec![], vec![2.0, -0.0, 0.0]] {
            let m = Matrix::from_vec(1, data.len(), data.clone());
            let seq_min = data.iter().fold(f64::INFINITY, |a, &b| java_min(a, b));
            let seq_max = data.iter().fold(f64::NEG_INFINITY, |a, &b| java_max(a, b));
            let got_min = aggregate_all(AggOp::Min, &m).expect("min");
            let got_max = aggregate_all(AggOp::Max, &m).expect("max");
            assert_eq!(got_min.to_bits(), seq_min.to_bits(), "min of {} cells", data.len());
            assert_eq!(got_max.to_bits(), seq_max.to_bits(), "max of {} cells", data.len());
        }
    }
}
