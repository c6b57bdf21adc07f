//! Assembling matrices from parsed cells, and walking a matrix's cells for the writers.

use sprs::CsMat;

use crate::types::matrix::Matrix;

/// Builds a matrix from `(row, col, value)` cells (0-based, in bounds). A later cell for the same
/// position replaces an earlier one, as when a file lists a cell twice. Zeros are dropped; the
/// storage format is what SystemDS would choose.
pub(crate) fn from_cells(rows: usize, cols: usize, mut cells: Vec<(usize, usize, f64)>) -> Matrix {
    if !Matrix::prefers_sparse(rows, cols, cells.len()) {
        let mut data = vec![0.0; rows * cols];
        for (r, c, v) in cells {
            data[r * cols + c] = v;
        }
        return Matrix::from_vec(rows, cols, data).examine_format();
    }
    // Stable sort keeps file order among duplicates, so the last one wins.
    cells.sort_by_key(|&(r, c, _)| (r, c));
    let mut kept: Vec<(usize, usize, f64)> = Vec::with_capacity(cells.len());
    for cell in cells {
        match kept.last_mut() {
            Some(last) if (last.0, last.1) == (cell.0, cell.1) => *last = cell,
            _ => kept.push(cell),
        }
    }
    // A file may list `i j 0`; stored zeros would confuse nnz-based decisions.
    kept.retain(|&(_, _, v)| v != 0.0);
    let mut indptr = vec![0usize; rows + 1];
    for &(r, _, _) in &kept {
        indptr[r + 1] += 1;
    }
    for r in 0..rows {
        indptr[r + 1] += indptr[r];
    }
    let indices = kept.iter().map(|c| c.1).collect();
    let data = kept.iter().map(|c| c.2).collect();
    Matrix::Sparse(CsMat::new((rows, cols), indptr, indices, data)).examine_format()
}

/// Calls `f(row, col, value)` for each non-zero cell (NaN included) in row-major order.
pub(crate) fn for_each_nonzero(m: &Matrix, mut f: impl FnMut(usize, usize, f64)) {
    match m {
        Matrix::Dense(a) => {
            for (r, row) in a.rows().into_iter().enumerate() {
                for (c, v) in row.iter().enumerate() {
                    if *v != 0.0 {
                        f(r, c, *v);
                    }
                }
            }
        }
        Matrix::Sparse(s) => {
            let s = if s.is_csr() { s.clone() } else { s.to_csr() };
            for (r, row) in s.outer_iterator().enumerate() {
                for (c, v) in row.iter() {
                    if *v != 0.0 {
                        f(r, c, *v);
                    }
                }
            }
        }
    }
}

/// The cells of row `r` as a dense buffer (reused between calls).
pub(crate) fn dense_row(m: &Matrix, r: usize, buf: &mut Vec<f64>) {
    buf.clear();
    buf.resize(m.cols(), 0.0);
    match m {
        Matrix::Dense(a) => {
            for (c, v) in a.row(r).iter().enumerate() {
                buf[c] = *v;
            }
        }
        Matrix::Sparse(s) if s.is_csr() => {
            if let Some(row) = s.outer_view(r) {
                for (c, v) in row.iter() {
                    buf[c] = *v;
                }
            }
        }
        Matrix::Sparse(_) => {
            for (c, b) in buf.iter_mut().enumerate() {
                *b = m.get(r, c);
            }
        }
    }
}
