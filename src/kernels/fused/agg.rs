//! The aggregates a fused operator ends in, fed chunk by chunk in row-major order with the same
//! arithmetic as `kernels::aggregate` on a dense matrix: Kahan-compensated sums (of the squares
//! for sumSq), Java's min/max folds from ±infinity, means as the sum divided by the count.

use crate::kernels::ops::{java_max, java_min};
use crate::types::ops::AggOp;

/// A running aggregate of one output cell (a whole matrix, a row or a column).
#[derive(Clone, Copy, Debug)]
pub struct Running {
    sum: f64,
    corr: f64,
}

impl Running {
    pub fn new(op: AggOp) -> Running {
        let sum = match op {
            AggOp::Min => f64::INFINITY,
            AggOp::Max => f64::NEG_INFINITY,
            _ => 0.0,
        };
        Running { sum, corr: 0.0 }
    }

    /// Adds the cells of `vals` in order.
    #[inline]
    pub fn push_all(&mut self, op: AggOp, vals: &[f64]) {
        match op {
            AggOp::Min => {
                for &v in vals {
                    self.sum = java_min(self.sum, v);
                }
            }
            AggOp::Max => {
                for &v in vals {
                    self.sum = java_max(self.sum, v);
                }
            }
            AggOp::SumSq => {
                for &v in vals {
                    self.kahan(v * v);
                }
            }
            _ => {
                for &v in vals {
                    self.kahan(v);
                }
            }
        }
    }

    /// Adds `n` cells all equal to `v`.
    pub fn push_repeated(&mut self, op: AggOp, v: f64, n: usize) {
        for _ in 0..n {
            self.push_all(op, &[v]);
        }
    }

    #[inline(always)]
    fn kahan(&mut self, v: f64) {
        let y = v + self.corr;
        let t = self.sum + y;
        self.corr = y - (t - self.sum);
        self.sum = t;
    }

    /// The aggregate of the `n` cells pushed.
    pub fn finish(&self, op: AggOp, n: usize) -> f64 {
        match op {
            AggOp::Mean => self.sum / n as f64,
            _ => self.sum,
        }
    }
}

/// Column aggregates: one running aggregate per column, fed one row segment at a time.
pub struct Columns {
    op: AggOp,
    acc: Vec<Running>,
}

impl Columns {
    pub fn new(op: AggOp, cols: usize) -> Columns {
        Columns { op, acc: vec![Running::new(op); cols] }
    }

    /// Adds the cells `vals` of one row, starting at column `col0`.
    pub fn push_row(&mut self, col0: usize, vals: &[f64]) {
        let op = self.op;
        for (a, &v) in self.acc[col0..col0 + vals.len()].iter_mut().zip(vals) {
            a.push_all(op, &[v]);
        }
    }

    /// Adds `n` cells equal to `v` of one row, starting at column `col0`.
    pub fn push_row_repeated(&mut self, col0: usize, v: f64, n: usize) {
        let op = self.op;
        for a in &mut self.acc[col0..col0 + n] {
            a.push_all(op, &[v]);
        }
    }

    pub fn finish(&self, rows: usize) -> Vec<f64> {
        self.acc.iter().map(|a| a.finish(self.op, rows)).collect()
    }
}
