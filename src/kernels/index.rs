//! Right and left indexing on 0-based half-open ranges (the executor converts DML's 1-based
//! inclusive ranges and reports user-facing range errors; these checks are a second line).

use std::ops::Range;

use super::{KResult, KernelError};
use crate::types::matrix::Matrix;

fn check(what: &str, m: &Matrix, rows: &Range<usize>, cols: &Range<usize>) -> KResult<()> {
    if rows.start > rows.end || cols.start > cols.end || rows.end > m.rows() || cols.end > m.cols() {
        return Err(KernelError::new(format!(
            "{what}: index range [{}:{}, {}:{}] out of bounds for a {}x{} matrix",
            rows.start + 1,
            rows.end,
            cols.start + 1,
            cols.end,
            m.rows(),
            m.cols()
        )));
    }
    Ok(())
}

/// `a[rows, cols]`; sparse inputs give sparse slices (re-examined for format).
pub fn slice(a: &Matrix, rows: Range<usize>, cols: Range<usize>) -> KResult<Matrix> {
    check("right indexing", a, &rows, &cols)?;
    let (nr, nc) = (rows.len(), cols.len());
    match a {
        Matrix::Dense(_) => {
            let d = a.dense_data();
            let c = a.cols();
            let mut out = Vec::with_capacity(nr * nc);
            for i in rows {
                out.extend_from_slice(&d[i * c + cols.start..i * c + cols.end]);
            }
            Ok(Matrix::from_vec(nr, nc, out))
        }
        Matrix::Sparse(_) => {
            let csr = a.csr();
            let mut indptr = Vec::with_capacity(nr + 1);
            let mut indices = Vec::new();
            let mut data = Vec::new();
            indptr.push(0);
            for i in rows {
                if let Some(row) = csr.outer_view(i) {
                    let idx = row.indices();
                    let lo = idx.partition_point(|j| *j < cols.start);
                    let hi = idx.partition_point(|j| *j < cols.end);
                    indices.extend(idx[lo..hi].iter().map(|j| j - cols.start));
                    data.extend_from_slice(&row.data()[lo..hi]);
                }
                indptr.push(indices.len());
            }
            Ok(Matrix::from_csr_parts(nr, nc, indptr, indices, data).examine_format())
        }
    }
}

/// `target[row0.., col0..] = src` in place (see [`super::left_index`]).
pub fn left_index(target: &mut Matrix, row0: usize, col0: usize, src: &Matrix) -> KResult<()> {
    let rows = row0..row0 + src.rows();
    let cols = col0..col0 + src.cols();
    super::left_index::assign(target, rows, cols, super::left_index::Source::Matrix(src))
}

/// `target[rows, cols] = v` in place (see [`super::left_index`]).
pub fn left_index_fill(target: &mut Matrix, rows: Range<usize>, cols: Range<usize>, v: f64) -> KResult<()> {
    super::left_index::assign(target, rows, cols, super::left_index::Source::Fill(v))
}
