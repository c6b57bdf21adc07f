//! Prefix aggregates: column-wise cumsum/cumprod/cummin/cummax, rowcumsum and cumsumprod.
//!
//! SystemDS 3.4.0 checked: cumprod of `[1 2 3; 4 0 6; 5 6 7]` is `[1 2 3; 4 0 18; 20 0 126]`;
//! a NaN cell makes every later cummin/cummax/cumsum cell of its column NaN; rowcumsum of
//! `[1 2 3; 4 5 6]` is `[1 3 6; 4 9 15]`; cumsumprod of `[1 2; 3 4; 5 6]` is `[1; 7; 47]`.
//! Sums use Kahan compensation (SystemDS's `ucumk+`).

use super::ops::{java_max, java_min};
use super::{KResult, KernelError};
use crate::types::matrix::Matrix;
use crate::types::ops::CumOp;

/// Column-wise prefix aggregate; the result is dense.
pub fn cumulative(op: CumOp, a: &Matrix) -> Matrix {
    let (r, c) = (a.rows(), a.cols());
    let mut data = a.dense_data().into_owned();
    if r == 0 {
        return Matrix::from_vec(r, c, data);
    }
    match op {
        CumOp::Sum => {
            let mut corr = vec![0.0; c];
            for i in 1..r {
                let (prev, cur) = data.split_at_mut(i * c);
                let prev = &prev[(i - 1) * c..];
                for j in 0..c {
                    let y = cur[j] + corr[j];
                    let t = prev[j] + y;
                    corr[j] = y - (t - prev[j]);
                    cur[j] = t;
                }
            }
        }
        CumOp::Prod | CumOp::Min | CumOp::Max => {
            let f = match op {
                CumOp::Prod => |x: f64, y: f64| x * y,
                CumOp::Min => java_min,
                _ => java_max,
            };
            for i in 1..r {
                let (prev, cur) = data.split_at_mut(i * c);
                let prev = &prev[(i - 1) * c..];
                for (x, p) in cur[..c].iter_mut().zip(prev) {
                    *x = f(*p, *x);
                }
            }
        }
    }
    Matrix::from_vec(r, c, data)
}

/// Row-wise prefix sum (Kahan compensated).
pub fn rowcumsum(a: &Matrix) -> Matrix {
    let (r, c) = (a.rows(), a.cols());
    let mut data = a.dense_data().into_owned();
    if c > 0 {
        for row in data.chunks_mut(c) {
            let (mut sum, mut corr) = (row[0], 0.0);
            for x in row.iter_mut().skip(1) {
                let y = *x + corr;
                let t = sum + y;
                corr = y - (t - sum);
                sum = t;
                *x = t;
            }
        }
    }
    Matrix::from_vec(r, c, data)
}

/// For a 2-column X: y_i = X[i,1] + X[i,2] * y_{i-1}, y_0 = 0; the result is rows x 1.
pub fn cumsumprod(a: &Matrix) -> KResult<Matrix> {
    if a.cols() != 2 {
        return Err(KernelError::new(format!(
            "cumsumprod requires a matrix with two columns, got {}x{}",
            a.rows(),
            a.cols()
        )));
    }
    let data = a.dense_data();
    let mut y = 0.0;
    let out = data
        .chunks(2)
        .map(|p| {
            y = p[0] + p[1] * y;
            y
        })
        .collect();
    Ok(Matrix::from_vec(a.rows(), 1, out))
}
