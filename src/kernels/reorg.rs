//! Reorganizations: transpose, rev, diag, reshape, cbind, rbind.

use ndarray::Array2;

use super::{KResult, KernelError};
use crate::types::matrix::Matrix;

/// Tile edge for the cache-blocked dense transpose.
const TILE: usize = 32;

/// `t(a)`; sparse stays sparse (CSR of the transpose).
pub fn transpose(a: &Matrix) -> Matrix {
    let (r, c) = (a.rows(), a.cols());
    match a {
        Matrix::Sparse(s) => Matrix::Sparse(s.transpose_view().to_csr()),
        Matrix::Dense(_) => {
            let src = a.dense_data();
            let mut out = vec![0.0; r * c];
            if r == 1 || c == 1 {
                out.copy_from_slice(&src);
            } else {
                for i0 in (0..r).step_by(TILE) {
                    for j0 in (0..c).step_by(TILE) {
                        for i in i0..(i0 + TILE).min(r) {
                            for j in j0..(j0 + TILE).min(c) {
                                out[j * r + i] = src[i * c + j];
                            }
                        }
                    }
                }
            }
            Matrix::from_vec(c, r, out)
        }
    }
}

/// Reverses the row order (SystemDS 3.4.0: rev of `[1 2 3; 4 5 6]` is `[4 5 6; 1 2 3]`).
pub fn rev(a: &Matrix) -> Matrix {
    let (r, c) = (a.rows(), a.cols());
    match a {
        Matrix::Sparse(_) => {
            let csr = a.csr();
            let mut indptr = vec![0];
            let mut indices = Vec::with_capacity(csr.nnz());
            let mut data = Vec::with_capacity(csr.nnz());
            for i in (0..r).rev() {
                if let Some(row) = csr.outer_view(i) {
                    indices.extend_from_slice(row.indices());
                    data.extend_from_slice(row.data());
                }
                indptr.push(indices.len());
            }
            Matrix::from_csr_parts(r, c, indptr, indices, data)
        }
        Matrix::Dense(_) => {
            let src = a.dense_data();
            let mut out = Vec::with_capacity(r * c);
            if c > 0 {
                for row in src.chunks(c).rev() {
                    out.extend_from_slice(row);
                }
            }
            Matrix::from_vec(r, c, out)
        }
    }
}

/// `diag`: an n x 1 vector becomes an n x n diagonal matrix, a square matrix gives its diagonal
/// as n x 1. SystemDS 3.4.0 rejects anything else, including 1 x n row vectors and 2 x 3 inputs.
/// A 1x1 input is square, so it returns itself.
pub fn diag(a: &Matrix) -> KResult<Matrix> {
    let (r, c) = (a.rows(), a.cols());
    if r == c {
        return Ok(Matrix::from_vec(r, 1, (0..r).map(|i| a.get(i, i)).collect()));
    }
    if c == 1 {
        let v = a.dense_data();
        let nnz = v.iter().filter(|x| **x != 0.0).count();
        if Matrix::prefers_sparse(r, r, nnz) {
            let mut indptr = vec![0];
            let mut indices = Vec::with_capacity(nnz);
            let mut data = Vec::with_capacity(nnz);
            for (i, x) in v.iter().enumerate() {
                if *x != 0.0 {
                    indices.push(i);
                    data.push(*x);
                }
                indptr.push(indices.len());
            }
            return Ok(Matrix::from_csr_parts(r, r, indptr, indices, data));
        }
        let mut out = Array2::zeros((r, r));
        for (i, x) in v.iter().enumerate() {
            out[(i, i)] = *x;
        }
        return Ok(Matrix::Dense(out));
    }
    Err(KernelError::new(format!(
        "diag can either: (1) create diagonal matrix from (n x 1) matrix, or (2) take diagonal from a square matrix. Error invoking diag on matrix with dimensions ({r},{c})"
    )))
}

/// Reshape to rows x cols. Row-major when `byrow` (the DML default); otherwise cells are read
/// and written column-major (SystemDS 3.4.0: `matrix([1 2 3; 4 5 6], rows=3, cols=2,
/// byrow=FALSE)` is `[1 5; 4 3; 2 6]`). The cell count must match.
pub fn reshape(a: &Matrix, rows: usize, cols: usize, byrow: bool) -> KResult<Matrix> {
    let (r, c) = (a.rows(), a.cols());
    if r.checked_mul(c) != rows.checked_mul(cols) {
        return Err(KernelError::new(format!(
            "Reshape matrix requires consistent numbers of input/output cells ({r}:{c}, {rows}:{cols})."
        )));
    }
    if byrow {
        if let Matrix::Sparse(_) = a {
            let csr = a.csr();
            let mut trip = Vec::with_capacity(csr.nnz());
            for (i, row) in csr.outer_iterator().enumerate() {
                for (j, v) in row.iter() {
                    let k = i * c + j;
                    trip.push((k / cols.max(1), k % cols.max(1), *v));
                }
            }
            return Ok(from_sorted_triplets(rows, cols, &trip));
        }
        return Ok(Matrix::from_vec(rows, cols, a.dense_data().into_owned()));
    }
    let src = a.dense_data();
    let mut out = vec![0.0; rows * cols];
    for k in 0..r * c {
        // k-th cell in column-major order of the input and of the output.
        let v = src[(k % r) * c + k / r];
        out[(k % rows) * cols + k / rows] = v;
    }
    Ok(Matrix::from_vec(rows, cols, out).examine_format())
}

/// Builds a CSR matrix from (row, col, value) triplets sorted by row then column.
fn from_sorted_triplets(rows: usize, cols: usize, trip: &[(usize, usize, f64)]) -> Matrix {
    let mut indptr = vec![0usize; rows + 1];
    for (i, _, _) in trip {
        indptr[i + 1] += 1;
    }
    for i in 0..rows {
        indptr[i + 1] += indptr[i];
    }
    let indices = trip.iter().map(|t| t.1).collect();
    let data = trip.iter().map(|t| t.2).collect();
    Matrix::from_csr_parts(rows, cols, indptr, indices, data).examine_format()
}

/// Column concatenation; all parts need the same row count (SystemDS 3.4.0: "inputs to cbind
/// must have same number of rows: input 1 rows: 2, input 2 rows: 3").
pub fn cbind(parts: &[&Matrix]) -> KResult<Matrix> {
    let Some(first) = parts.first() else {
        return Err(KernelError::new("cbind requires at least one input"));
    };
    let r = first.rows();
    for (k, p) in parts.iter().enumerate().skip(1) {
        if p.rows() != r {
            return Err(KernelError::new(format!(
                "inputs to cbind must have same number of rows: input 1 rows: {r}, input {} rows: {}",
                k + 1,
                p.rows()
            )));
        }
    }
    let c: usize = parts.iter().map(|p| p.cols()).sum();
    if parts.iter().all(|p| p.is_sparse()) {
        let csrs: Vec<_> = parts.iter().map(|p| p.csr()).collect();
        let mut indptr = vec![0];
        let mut indices = Vec::new();
        let mut data = Vec::new();
        for i in 0..r {
            let mut off = 0;
            for s in &csrs {
                if let Some(row) = s.outer_view(i) {
                    indices.extend(row.indices().iter().map(|j| j + off));
                    data.extend_from_slice(row.data());
                }
                off += s.cols();
            }
            indptr.push(indices.len());
        }
        return Ok(Matrix::from_csr_parts(r, c, indptr, indices, data).examine_format());
    }
    let datas: Vec<_> = parts.iter().map(|p| (p.dense_data(), p.cols())).collect();
    let mut out = Vec::with_capacity(r * c);
    for i in 0..r {
        for (d, pc) in &datas {
            out.extend_from_slice(&d[i * pc..(i + 1) * pc]);
        }
    }
    Ok(Matrix::from_vec(r, c, out))
}

/// Row concatenation; all parts need the same column count.
pub fn rbind(parts: &[&Matrix]) -> KResult<Matrix> {
    let Some(first) = parts.first() else {
        return Err(KernelError::new("rbind requires at least one input"));
    };
    let c = first.cols();
    for (k, p) in parts.iter().enumerate().skip(1) {
        if p.cols() != c {
            return Err(KernelError::new(format!(
                "inputs to rbind must have same number of columns: input 1 columns: {c}, input {} columns: {}",
                k + 1,
                p.cols()
            )));
        }
    }
    let r: usize = parts.iter().map(|p| p.rows()).sum();
    if parts.iter().all(|p| p.is_sparse()) {
        let mut indptr = vec![0];
        let mut indices = Vec::new();
        let mut data = Vec::new();
        for p in parts {
            let s = p.csr();
            for row in s.outer_iterator() {
                indices.extend_from_slice(row.indices());
                data.extend_from_slice(row.data());
                indptr.push(indices.len());
            }
        }
        return Ok(Matrix::from_csr_parts(r, c, indptr, indices, data).examine_format());
    }
    let mut out = Vec::with_capacity(r * c);
    for p in parts {
        out.extend_from_slice(&p.dense_data());
    }
    Ok(Matrix::from_vec(r, c, out))
}
