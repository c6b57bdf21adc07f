//! Full, row and column aggregates (sum, mean, var, min, max, prod, index of max/min).
//!
//! Sums use Kahan compensation like SystemDS's `uak+` family, so `sum` of ten 0.1 cells is 1.0.
//! Facts checked with SystemDS 3.4.0: sum of a 0x3 matrix is 0.0, mean is NaN, prod is 1.0,
//! min is Infinity and max is -Infinity; var/sd of one cell is 0.0 (and colVars of one row is
//! all 0); min/max propagate NaN; rowIndexMax skips NaN cells and gives 1 for an all-NaN row.

use super::ops::{AggDir, AggOp, java_max, java_min};
use super::{KResult, KernelError};
use crate::runtime::matrix::Matrix;

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

/// Summary statistics of a set of cells, fed value by value; `zeros` counts implicit zeros.
#[derive(Clone, Copy)]
struct Acc {
    n: usize,
    sum: Kahan,
    sumsq: Kahan,
    min: f64,
    max: f64,
    prod: f64,
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
        }
    }

    #[inline]
    fn push(&mut self, v: f64) {
        self.n += 1;
        self.sum.add(v);
        self.sumsq.add(v * v);
        self.min = java_min(self.min, v);
        self.max = java_max(self.max, v);
        self.prod *= v;
    }

    fn push_zeros(&mut self, k: usize) {
        if k > 0 {
            self.n += k;
            self.min = java_min(self.min, 0.0);
            self.max = java_max(self.max, 0.0);
            self.prod *= 0.0;
        }
    }
}

/// Finishes an aggregate over the given cells; var/sd use a second pass over `cells` around the
/// mean (n - 1 denominator) for accuracy, with implicit zeros counted in `zeros`.
fn finish(op: AggOp, acc: &Acc, cells: &mut dyn Iterator<Item = f64>, zeros: usize) -> f64 {
    let n = acc.n as f64;
    match op {
        AggOp::Sum => acc.sum.sum,
        AggOp::SumSq => acc.sumsq.sum,
        AggOp::Mean => acc.sum.sum / n,
        AggOp::Min => acc.min,
        AggOp::Max => acc.max,
        AggOp::Prod => acc.prod,
        AggOp::Var | AggOp::Sd => {
            if acc.n == 0 {
                return f64::NAN;
            }
            if acc.n == 1 {
                return 0.0;
            }
            let mean = acc.sum.sum / n;
            let mut k = Kahan::default();
            for v in cells {
                let d = v - mean;
                k.add(d * d);
            }
            k.add(zeros as f64 * mean * mean);
            let var = k.sum / (n - 1.0);
            if op == AggOp::Sd { var.sqrt() } else { var }
        }
        AggOp::IndexMax | AggOp::IndexMin => f64::NAN,
    }
}

fn needs_values(op: AggOp) -> bool {
    matches!(op, AggOp::Var | AggOp::Sd)
}

/// Aggregates all cells to one value.
pub fn aggregate_all(op: AggOp, a: &Matrix) -> KResult<f64> {
    if matches!(op, AggOp::IndexMax | AggOp::IndexMin) {
        return Err(KernelError::new("rowIndexMax/rowIndexMin aggregate only by rows"));
    }
    let mut acc = Acc::new();
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
            for v in data.iter() {
                acc.push(*v);
            }
            Ok(finish(op, &acc, &mut data.iter().copied(), 0))
        }
        Matrix::Sparse(s) => {
            for v in s.data() {
                acc.push(*v);
            }
            let zeros = a.len() - s.data().len();
            acc.push_zeros(zeros);
            Ok(finish(op, &acc, &mut s.data().iter().copied(), zeros))
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
                    for i in 0..r {
                        let row = &data[i * c..(i + 1) * c];
                        out.push(agg_slice(op, row, 0));
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
    let mut acc = Acc::new();
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
    finish(op, &acc, &mut vals.iter().copied(), zeros)
}

/// Column aggregates, walking the rows once with one accumulator per column.
fn col_aggregate(op: AggOp, a: &Matrix) -> Vec<f64> {
    let (r, c) = (a.rows(), a.cols());
    let mut accs = vec![Acc::new(); c];
    match a {
        Matrix::Dense(_) => {
            let data = a.dense_data();
            for i in 0..r {
                for (acc, v) in accs.iter_mut().zip(&data[i * c..(i + 1) * c]) {
                    acc.push(*v);
                }
            }
            if !needs_values(op) {
                return accs.iter().map(|acc| finish(op, acc, &mut std::iter::empty(), 0)).collect();
            }
            let means: Vec<f64> = accs.iter().map(|a| a.sum.sum / a.n as f64).collect();
            let mut dev = vec![Kahan::default(); c];
            for i in 0..r {
                for ((k, v), m) in dev.iter_mut().zip(&data[i * c..(i + 1) * c]).zip(&means) {
                    let d = v - m;
                    k.add(d * d);
                }
            }
            finish_var(op, &accs, &dev)
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
            if !needs_values(op) {
                return accs.iter().map(|acc| finish(op, acc, &mut std::iter::empty(), 0)).collect();
            }
            let means: Vec<f64> = accs.iter().map(|a| a.sum.sum / a.n as f64).collect();
            let mut dev = vec![Kahan::default(); c];
            for row in csr.outer_iterator() {
                for (j, v) in row.iter() {
                    let d = v - means[j];
                    dev[j].add(d * d);
                }
            }
            for j in 0..c {
                dev[j].add((r - counts[j]) as f64 * means[j] * means[j]);
            }
            finish_var(op, &accs, &dev)
        }
    }
}

fn finish_var(op: AggOp, accs: &[Acc], dev: &[Kahan]) -> Vec<f64> {
    accs.iter()
        .zip(dev)
        .map(|(acc, k)| {
            let var = match acc.n {
                0 => f64::NAN,
                1 => 0.0,
                n => k.sum / (n as f64 - 1.0),
            };
            if op == AggOp::Sd { var.sqrt() } else { var }
        })
        .collect()
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
