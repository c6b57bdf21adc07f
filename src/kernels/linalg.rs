//! Dense linear algebra with SystemDS's conventions.
//!
//! SystemDS computes these with Apache Commons Math: `solve` and `inv` by Householder QR, `det`
//! and `lu` by Crout LU with partial pivoting, `cholesky` by a row-oriented LL^T. We implement
//! the same textbook algorithms (in the same order of operations) so that results agree to the
//! last bits where possible, including on nearly singular input, where SystemDS returns huge
//! values instead of failing. `eigen` and `svd` use faer; their values match SystemDS. On the
//! examples compared, faer's SVD signs equal SystemDS's, while an eigenvector may come out with
//! the opposite sign (3x3 example: the last column is negated).

// Index loops mirror the textbook algorithms step for step, which keeps the order of floating
// point operations (and so the rounding) the same as SystemDS's.
#![allow(clippy::needless_range_loop)]

use faer::Mat;

use super::{KResult, KernelError};
use crate::types::matrix::Matrix;

/// Row-major dense copy as rows of a `Vec`.
fn rows_of(a: &Matrix) -> Vec<Vec<f64>> {
    let d = a.to_dense();
    d.rows().into_iter().map(|r| r.to_vec()).collect()
}

fn from_rows(rows: usize, cols: usize, f: impl Fn(usize, usize) -> f64) -> Matrix {
    let mut data = Vec::with_capacity(rows * cols);
    for r in 0..rows {
        for c in 0..cols {
            data.push(f(r, c));
        }
    }
    Matrix::from_vec(rows, cols, data)
}

fn square(a: &Matrix, what: &str) -> KResult<usize> {
    if a.rows() != a.cols() {
        return Err(KernelError::new(format!(
            "{what}: expected a square matrix, found {}x{}",
            a.rows(),
            a.cols()
        )));
    }
    Ok(a.rows())
}

/// Householder QR in Commons Math's layout: `qrt[j]` is column `j` (the reflector below the
/// diagonal after factoring), `rdiag` the diagonal of R.
struct Qr {
    qrt: Vec<Vec<f64>>,
    rdiag: Vec<f64>,
    m: usize,
    n: usize,
}

impl Qr {
    fn new(a: &Matrix) -> Qr {
        let (m, n) = (a.rows(), a.cols());
        let mut qrt: Vec<Vec<f64>> = (0..n).map(|c| (0..m).map(|r| a.get(r, c)).collect()).collect();
        let mut rdiag = vec![0.0; m.min(n)];
        for minor in 0..m.min(n) {
            let norm_sq: f64 = qrt[minor][minor..].iter().map(|x| x * x).sum();
            let alpha = if qrt[minor][minor] > 0.0 { -norm_sq.sqrt() } else { norm_sq.sqrt() };
            rdiag[minor] = alpha;
            if alpha != 0.0 {
                qrt[minor][minor] -= alpha;
                let (head, tail) = qrt.split_at_mut(minor + 1);
                let u = &head[minor][minor..];
                let scale = alpha * u[0];
                reflect_columns(tail, minor, u, |dot| dot / scale);
            }
        }
        Qr { qrt, rdiag, m, n }
    }

    /// Solves `A X = B` in the least-squares sense (A square here), as Commons' QR solver.
    fn solve(&self, b: &[Vec<f64>]) -> KResult<Vec<Vec<f64>>> {
        use rayon::prelude::*;
        let k = b.first().map_or(0, Vec::len);
        if self.rdiag.contains(&0.0) {
            return Err(KernelError::new("solve: the matrix is singular"));
        }
        // Columns of B are independent: each is reflected and back-substituted on its own
        // (column-major here), with every operation in Commons Math's order.
        let mut y: Vec<Vec<f64>> = (0..k).map(|c| b.iter().map(|row| row[c]).collect()).collect();
        for minor in 0..self.m.min(self.n) {
            let u = &self.qrt[minor][minor..];
            let factor = 1.0 / (self.rdiag[minor] * u[0]);
            reflect_columns(&mut y, minor, u, |dot| dot * factor);
        }
        let back_substitute = |col: &mut Vec<f64>| {
            for j in (0..self.rdiag.len()).rev() {
                col[j] *= 1.0 / self.rdiag[j];
                let yj = col[j];
                for (yi, q) in col[..j].iter_mut().zip(&self.qrt[j][..j]) {
                    *yi -= yj * q;
                }
            }
            col.truncate(self.n);
        };
        if k > 1 && self.m * self.m * k > PAR_WORK {
            y.par_iter_mut().for_each(back_substitute);
        } else {
            y.iter_mut().for_each(back_substitute);
        }
        Ok((0..self.n).map(|r| y.iter().map(|col| col[r]).collect()).collect())
    }
}

/// Work (multiply-adds) above which the QR loops split their columns across rayon threads.
const PAR_WORK: usize = 1 << 16;

/// Applies the Householder reflector `u` (the part of a reflector column from row `minor` on)
/// to every column in `cols`: `col += scale(dot(col, u)) * u` over rows `minor..`. Each dot is
/// summed in row order from -0.0, exactly as `Iterator::sum` does, so every column gets the
/// bits of the one-column loop; four columns share one pass over `u` (four independent sums
/// keep the pipeline full), and groups of columns run in parallel when the work is large.
fn reflect_columns(cols: &mut [Vec<f64>], minor: usize, u: &[f64], scale: impl Fn(f64) -> f64 + Sync) {
    use rayon::prelude::*;
    let group = |g: &mut [Vec<f64>]| {
        let mut dots = [-0.0f64; 4];
        match g {
            [a, b, c, d] => {
                let (a, b, c, d) = (&a[minor..], &b[minor..], &c[minor..], &d[minor..]);
                for r in 0..u.len() {
                    dots[0] += a[r] * u[r];
                    dots[1] += b[r] * u[r];
                    dots[2] += c[r] * u[r];
                    dots[3] += d[r] * u[r];
                }
            }
            _ => {
                for (dot, col) in dots.iter_mut().zip(g.iter()) {
                    *dot = col[minor..].iter().zip(u).map(|(x, y)| x * y).sum();
                }
            }
        }
        for (col, dot) in g.iter_mut().zip(dots) {
            let dot = scale(dot);
            for (x, y) in col[minor..].iter_mut().zip(u) {
                *x += dot * y;
            }
        }
    };
    if cols.len() > 4 && cols.len() * u.len() > PAR_WORK {
        cols.par_chunks_mut(4).for_each(group);
    } else {
        cols.chunks_mut(4).for_each(group);
    }
}

/// `solve(A, b)`: A must be square (SystemDS rejects other shapes: "The A matrix, in solve(A,b)
/// should have squared dimensions"). Solved by Householder QR; only an exactly zero pivot is an
/// error (sysds solves [1 2; 2 4] x = [1; 2] to [0; 0.5]).
pub fn solve(a: &Matrix, b: &Matrix) -> KResult<Matrix> {
    let n = square(a, "solve")?;
    if b.rows() != n {
        return Err(KernelError::new(format!("solve: b has {} rows, A has {n}", b.rows())));
    }
    let x = Qr::new(a).solve(&rows_of(b))?;
    Ok(from_rows(n, b.cols(), |r, c| x[r][c]))
}

/// Inverse via QR, as SystemDS (no singularity threshold: near-singular input gives huge values).
pub fn inverse(a: &Matrix) -> KResult<Matrix> {
    let n = square(a, "inverse")?;
    let eye: Vec<Vec<f64>> = (0..n).map(|r| (0..n).map(|c| f64::from(u8::from(r == c))).collect()).collect();
    let x = Qr::new(a).solve(&eye).map_err(|_| KernelError::new("inverse: the matrix is singular"))?;
    Ok(from_rows(n, n, |r, c| x[r][c]))
}

/// Lower Cholesky factor. Like Commons Math: the input must be symmetric (relative tolerance
/// 1e-15) and every pivot above 1e-10, else an error naming the pivot.
pub fn cholesky(a: &Matrix) -> KResult<Matrix> {
    let n = square(a, "cholesky")?;
    let mut lt = rows_of(a);
    for i in 0..n {
        for j in i + 1..n {
            let (x, y) = (lt[i][j], lt[j][i]);
            if (x - y).abs() > 1e-15 * x.abs().max(y.abs()) {
                return Err(KernelError::new(format!(
                    "cholesky: not a symmetric matrix: A[{},{}] = {x} but A[{},{}] = {y}",
                    i + 1,
                    j + 1,
                    j + 1,
                    i + 1
                )));
            }
            lt[j][i] = 0.0;
        }
    }
    for i in 0..n {
        if lt[i][i].is_nan() || lt[i][i] <= 1e-10 {
            return Err(KernelError::new(format!(
                "cholesky: not positive definite: pivot {} at index {i}",
                lt[i][i]
            )));
        }
        lt[i][i] = lt[i][i].sqrt();
        let inv = 1.0 / lt[i][i];
        for q in (i + 1..n).rev() {
            lt[i][q] *= inv;
            let liq = lt[i][q];
            for p in q..n {
                let lip = lt[i][p];
                lt[q][p] -= liq * lip;
            }
        }
    }
    Ok(from_rows(n, n, |r, c| lt[c][r]))
}

/// Crout LU with partial pivoting (largest magnitude), as Commons Math: `pivot[i]` is the
/// source row of row `i`; `None` when a pivot is below 1e-11 (singular).
fn crout(a: &Matrix) -> (Vec<Vec<f64>>, Vec<usize>, bool, bool) {
    let n = a.rows();
    let mut lu = rows_of(a);
    let mut pivot: Vec<usize> = (0..n).collect();
    let mut even = true;
    for col in 0..n {
        for row in 0..col {
            let mut sum = lu[row][col];
            for i in 0..row {
                sum -= lu[row][i] * lu[i][col];
            }
            lu[row][col] = sum;
        }
        let (mut max, mut largest) = (col, f64::NEG_INFINITY);
        for row in col..n {
            let mut sum = lu[row][col];
            for i in 0..col {
                sum -= lu[row][i] * lu[i][col];
            }
            lu[row][col] = sum;
            if sum.abs() > largest {
                largest = sum.abs();
                max = row;
            }
        }
        if lu[max][col].abs() < 1e-11 {
            return (lu, pivot, even, true);
        }
        if max != col {
            lu.swap(max, col);
            pivot.swap(max, col);
            even = !even;
        }
        let d = lu[col][col];
        for row in col + 1..n {
            lu[row][col] /= d;
        }
    }
    (lu, pivot, even, false)
}

/// Determinant by LU; 0 when a pivot is below 1e-11 (as SystemDS, via Commons Math).
pub fn det(a: &Matrix) -> KResult<f64> {
    let n = square(a, "det")?;
    let (lu, _, even, singular) = crout(a);
    if singular {
        return Ok(0.0);
    }
    let prod: f64 = (0..n).map(|i| lu[i][i]).product();
    Ok(if even { prod } else { -prod })
}

/// `[P, L, U] = lu(A)` with `P A = L U`, L unit lower triangular.
pub fn lu(a: &Matrix) -> KResult<(Matrix, Matrix, Matrix)> {
    let n = square(a, "lu")?;
    let (lu, pivot, _, singular) = crout(a);
    if singular {
        return Err(KernelError::new("lu: the matrix is singular"));
    }
    let p = from_rows(n, n, |r, c| f64::from(u8::from(pivot[r] == c)));
    let l = from_rows(n, n, |r, c| {
        if r == c {
            1.0
        } else if c < r {
            lu[r][c]
        } else {
            0.0
        }
    });
    let u = from_rows(n, n, |r, c| if c >= r { lu[r][c] } else { 0.0 });
    Ok((p, l, u))
}

/// `[H, R] = qr(A)`: H (m x n) holds the Householder vectors scaled by `-1/R[j,j]` below and on
/// the diagonal, R (m x n) is upper triangular. Shapes and values checked with sysds.
pub fn qr(a: &Matrix) -> KResult<(Matrix, Matrix)> {
    let q = Qr::new(a);
    let (m, n) = (q.m, q.n);
    let h = from_rows(m, n, |i, j| if j <= i && j < q.rdiag.len() { q.qrt[j][i] / -q.rdiag[j] } else { 0.0 });
    let r = from_rows(m, n, |i, j| {
        if i >= q.rdiag.len() || j < i {
            0.0
        } else if i == j {
            q.rdiag[i]
        } else {
            q.qrt[j][i]
        }
    });
    Ok((h, r))
}

fn to_faer(a: &Matrix) -> Mat<f64> {
    Mat::from_fn(a.rows(), a.cols(), |r, c| a.get(r, c))
}

fn from_faer(m: faer::MatRef<'_, f64>) -> Matrix {
    from_rows(m.nrows(), m.ncols(), |r, c| m[(r, c)])
}

/// Symmetric eigen-decomposition: eigenvalues ascending (n x 1, as SystemDS) and the matching
/// unit eigenvectors as columns. Non-symmetric input is rejected.
pub fn eigen(a: &Matrix) -> KResult<(Matrix, Matrix)> {
    let n = square(a, "eigen")?;
    for i in 0..n {
        for j in i + 1..n {
            let (x, y) = (a.get(i, j), a.get(j, i));
            if (x - y).abs() > 1e-12 * x.abs().max(y.abs()).max(1.0) {
                return Err(KernelError::new("eigen: only symmetric matrices are supported"));
            }
        }
    }
    if n == 0 {
        return Ok((Matrix::zeros(0, 1), Matrix::zeros(0, 0)));
    }
    let e = to_faer(a)
        .self_adjoint_eigen(faer::Side::Lower)
        .map_err(|e| KernelError::new(format!("eigen: {e:?}")))?;
    let s = e.S();
    let values = from_rows(n, 1, |r, _| s[r]);
    Ok((values, from_faer(e.U())))
}

/// Thin SVD: U (m x k), S (k x k diagonal matrix, as SystemDS), V (n x k), k = min(m, n),
/// singular values descending.
pub fn svd(a: &Matrix) -> KResult<(Matrix, Matrix, Matrix)> {
    let (m, n) = (a.rows(), a.cols());
    let k = m.min(n);
    if k == 0 {
        return Ok((Matrix::zeros(m, 0), Matrix::zeros(0, 0), Matrix::zeros(n, 0)));
    }
    let d = to_faer(a).thin_svd().map_err(|e| KernelError::new(format!("svd: {e:?}")))?;
    let s = d.S();
    let sig = from_rows(k, k, |r, c| if r == c { s[r] } else { 0.0 });
    Ok((from_faer(d.U()), sig, from_faer(d.V())))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The one-column-at-a-time Householder loops, as Commons Math writes them: the grouped and
    /// parallel loops of [`Qr`] must give exactly these bits.
    fn reference_solve(a: &[Vec<f64>], b: &[Vec<f64>]) -> Vec<Vec<f64>> {
        let (m, n) = (a.len(), a[0].len());
        let mut qrt: Vec<Vec<f64>> = (0..n).map(|c| (0..m).map(|r| a[r][c]).collect()).collect();
        let mut rdiag = vec![0.0; m.min(n)];
        for minor in 0..m.min(n) {
            let norm_sq: f64 = qrt[minor][minor..].iter().map(|x| x * x).sum();
            let alpha = if qrt[minor][minor] > 0.0 { -norm_sq.sqrt() } else { norm_sq.sqrt() };
            rdiag[minor] = alpha;
            qrt[minor][minor] -= alpha;
            let (head, tail) = qrt.split_at_mut(minor + 1);
            let u = &head[minor];
            for col in tail.iter_mut() {
                let mut dot: f64 = (minor..m).map(|r| col[r] * u[r]).sum();
                dot /= alpha * u[minor];
                for r in minor..m {
                    col[r] += dot * u[r];
                }
            }
        }
        let k = b[0].len();
        let mut y = b.to_vec();
        for minor in 0..m.min(n) {
            let u = &qrt[minor];
            let factor = 1.0 / (rdiag[minor] * u[minor]);
            for c in 0..k {
                let dot: f64 = (minor..m).map(|r| u[r] * y[r][c]).sum::<f64>() * factor;
                for r in minor..m {
                    y[r][c] += dot * u[r];
                }
            }
        }
        for j in (0..n).rev() {
            let factor = 1.0 / rdiag[j];
            for c in 0..k {
                y[j][c] *= factor;
                let yj = y[j][c];
                for i in 0..j {
                    y[i][c] -= yj * qrt[j][i];
                }
            }
        }
        y
    }

    #[test]
    fn grouped_parallel_qr_gives_the_one_column_loops_bits() {
        // Sizes around the four-column groups and above the parallel threshold; right-hand sides
        // of one column (solve) and many (inverse).
        for (n, k) in [(3, 1), (7, 2), (9, 5), (130, 9), (300, 3)] {
            let a: Vec<Vec<f64>> = (0..n)
                .map(|r| {
                    (0..n)
                        .map(|c| ((r * 31 + c * 17) as f64 * 0.37).sin() + if r == c { 3.0 } else { 0.0 })
                        .collect()
                })
                .collect();
            let b: Vec<Vec<f64>> =
                (0..n).map(|r| (0..k).map(|c| ((r + 7 * c) as f64).cos()).collect()).collect();
            let am = from_rows(n, n, |r, c| a[r][c]);
            let got = Qr::new(&am).solve(&b).unwrap();
            let want = reference_solve(&a, &b);
            for r in 0..n {
                for c in 0..k {
                    assert_eq!(got[r][c].to_bits(), want[r][c].to_bits(), "n={n} k={k} at ({r},{c})");
                }
            }
        }
    }
}
