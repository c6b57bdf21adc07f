//! `ifelse` and `outer`.

use super::elementwise::PAR_CELLS;
use super::{KResult, KernelError};
use crate::types::matrix::Matrix;
use crate::types::ops::BinOp;
use rayon::prelude::*;

/// A scalar or a matrix argument.
#[derive(Clone, Copy, Debug)]
pub enum Operand<'a> {
    Scalar(f64),
    Matrix(&'a Matrix),
}

/// Cellwise `cond != 0 ? yes : no`. Matrix operands must share one shape (1x1 matrices act as
/// scalars); at least one operand must be a matrix. NaN conditions count as TRUE (non-zero).
pub fn ifelse(cond: Operand, yes: Operand, no: Operand) -> KResult<Matrix> {
    let mut shape: Option<(usize, usize)> = None;
    for op in [&cond, &yes, &no] {
        if let Operand::Matrix(m) = op {
            if m.rows() == 1 && m.cols() == 1 {
                continue;
            }
            match shape {
                None => shape = Some((m.rows(), m.cols())),
                Some((r, c)) if r == m.rows() && c == m.cols() => {}
                Some((r, c)) => {
                    return Err(KernelError::new(format!(
                        "ifelse: mismatch in dimensions ({}x{} vs {}x{})",
                        r,
                        c,
                        m.rows(),
                        m.cols()
                    )));
                }
            }
        }
    }
    let (r, c) = match shape {
        Some(s) => s,
        None if [&cond, &yes, &no].iter().any(|o| matches!(o, Operand::Matrix(_))) => (1, 1),
        None => return Err(KernelError::new("ifelse: at least one argument must be a matrix")),
    };
    let view = |o: &Operand| -> Result<f64, Vec<f64>> {
        match o {
            Operand::Scalar(s) => Ok(*s),
            Operand::Matrix(m) if m.rows() == 1 && m.cols() == 1 => Ok(m.get(0, 0)),
            Operand::Matrix(m) => Err(m.dense_data().into_owned()),
        }
    };
    let (cv, yv, nv) = (view(&cond), view(&yes), view(&no));
    let at = |v: &Result<f64, Vec<f64>>, i: usize| match v {
        Ok(s) => *s,
        Err(d) => d[i],
    };
    let n = r * c;
    let cell = |i: usize| if at(&cv, i) != 0.0 { at(&yv, i) } else { at(&nv, i) };
    let out: Vec<f64> =
        if n > PAR_CELLS { (0..n).into_par_iter().map(cell).collect() } else { (0..n).map(cell).collect() };
    Ok(Matrix::from_vec(r, c, out))
}

/// `outer(a, b, op)`: out[i, j] = a[i] op b[j] for a column vector a (n x 1) and a row vector
/// b (1 x m).
pub fn outer(a: &Matrix, b: &Matrix, op: BinOp) -> KResult<Matrix> {
    if a.cols() != 1 || b.rows() != 1 {
        return Err(KernelError::new(format!(
            "outer requires a column vector and a row vector, got {}x{} and {}x{}",
            a.rows(),
            a.cols(),
            b.rows(),
            b.cols()
        )));
    }
    let (x, y) = (a.dense_data(), b.dense_data());
    let m = y.len();
    let mut out = vec![0.0; x.len() * m];
    if m > 0 {
        let row = |(o, xi): (&mut [f64], &f64)| {
            for (o, yj) in o.iter_mut().zip(y.iter()) {
                *o = op.apply(*xi, *yj);
            }
        };
        if out.len() > PAR_CELLS {
            out.par_chunks_mut(m).zip(x.par_iter()).for_each(row);
        } else {
            out.chunks_mut(m).zip(x.iter()).for_each(row);
        }
    }
    Ok(Matrix::from_vec(x.len(), m, out))
}
