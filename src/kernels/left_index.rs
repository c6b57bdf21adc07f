//! Left indexing `target[rows, cols] = value` in place, in time proportional to the cells it
//! updates: a dense target is written directly; a sparse (CSR) target has the rows of the range
//! rebuilt and spliced into its arrays, and becomes dense only when the result's non-zeros cross
//! SystemDS's turn point (each such change is counted for `--stats`). A dense target stays dense:
//! its non-zeros are not tracked, and counting them would cost a scan of the whole target.
//!
//! The ranges are 0-based and half-open; the executor converts DML's bounds and reports
//! user-facing range errors, these checks are a second line.

use std::borrow::Cow;
use std::ops::Range;

use sprs::{CompressedStorage, CsMat};

use super::{KResult, KernelError};
use crate::types::conversions;
use crate::types::matrix::Matrix;

/// What a left indexing writes into its range.
#[derive(Clone, Copy, Debug)]
pub enum Source<'a> {
    /// A matrix of exactly the range's shape.
    Matrix(&'a Matrix),
    /// One value in every cell of the range.
    Fill(f64),
}

/// The source prepared for row-by-row reading.
enum Rows<'a> {
    Dense { data: Cow<'a, [f64]>, cols: usize },
    Sparse(Cow<'a, CsMat<f64>>),
    Fill(f64),
}

impl Rows<'_> {
    /// The non-zeros the source writes into a range of `rows x cols` cells.
    fn nnz(&self, rows: usize, cols: usize) -> usize {
        match self {
            Rows::Dense { data, .. } => data.iter().filter(|v| **v != 0.0).count(),
            Rows::Sparse(s) => s.data().iter().filter(|v| **v != 0.0).count(),
            Rows::Fill(v) => {
                if *v != 0.0 {
                    rows * cols
                } else {
                    0
                }
            }
        }
    }

    /// Writes row `k` of the source into `dst` (one row of the range in a dense target).
    fn write_dense(&self, k: usize, dst: &mut [f64]) {
        match self {
            Rows::Dense { data, cols } => dst.copy_from_slice(&data[k * cols..(k + 1) * cols]),
            Rows::Sparse(s) => {
                dst.fill(0.0);
                if let Some(row) = s.outer_view(k) {
                    for (j, v) in row.iter() {
                        dst[j] = *v;
                    }
                }
            }
            Rows::Fill(v) => dst.fill(*v),
        }
    }

    /// Appends the non-zeros of row `k` of the source, columns shifted by `col0`.
    fn push_sparse(
        &self,
        k: usize,
        col0: usize,
        ncols: usize,
        indices: &mut Vec<usize>,
        data: &mut Vec<f64>,
    ) {
        match self {
            Rows::Dense { data: d, cols } => {
                for (j, v) in d[k * cols..(k + 1) * cols].iter().enumerate() {
                    if *v != 0.0 {
                        indices.push(col0 + j);
                        data.push(*v);
                    }
                }
            }
            Rows::Sparse(s) => {
                if let Some(row) = s.outer_view(k) {
                    for (j, v) in row.iter() {
                        if *v != 0.0 {
                            indices.push(col0 + j);
                            data.push(*v);
                        }
                    }
                }
            }
            Rows::Fill(v) => {
                if *v != 0.0 {
                    indices.extend(col0..col0 + ncols);
                    data.extend(std::iter::repeat_n(*v, ncols));
                }
            }
        }
    }
}

fn check(target: &Matrix, rows: &Range<usize>, cols: &Range<usize>) -> KResult<()> {
    if rows.start > rows.end || cols.start > cols.end || rows.end > target.rows() || cols.end > target.cols()
    {
        return Err(KernelError::new(format!(
            "left indexing: index range [{}:{}, {}:{}] out of bounds for a {}x{} matrix",
            rows.start + 1,
            rows.end,
            cols.start + 1,
            cols.end,
            target.rows(),
            target.cols()
        )));
    }
    Ok(())
}

/// `target[rows, cols] = source` in place.
pub fn assign(
    target: &mut Matrix,
    rows: Range<usize>,
    cols: Range<usize>,
    source: Source<'_>,
) -> KResult<()> {
    check(target, &rows, &cols)?;
    let src = match source {
        Source::Matrix(m) => {
            if m.rows() != rows.len() || m.cols() != cols.len() {
                return Err(KernelError::new(format!(
                    "left indexing: cannot assign a {}x{} matrix into a {}x{} range",
                    m.rows(),
                    m.cols(),
                    rows.len(),
                    cols.len()
                )));
            }
            match m {
                Matrix::Dense(_) => Rows::Dense { data: m.dense_data(), cols: m.cols() },
                Matrix::Sparse(_) => Rows::Sparse(m.csr()),
            }
        }
        Source::Fill(v) => Rows::Fill(v),
    };
    if rows.is_empty() || cols.is_empty() {
        return Ok(());
    }
    if let Matrix::Sparse(s) = target {
        if s.is_csc() {
            *s = s.to_csr();
        }
        let region = stored_in_range(s, &rows, &cols);
        let after = s.nnz() - region + src.nnz(rows.len(), cols.len());
        if Matrix::prefers_sparse(s.rows(), s.cols(), after) {
            splice_sparse(s, &rows, &cols, &src);
            return Ok(());
        }
        conversions::note_sparse_to_dense();
        *target = Matrix::Dense(s.to_dense());
    }
    let Matrix::Dense(a) = target else { unreachable!("sparse targets returned or converted above") };
    if !a.is_standard_layout() {
        *a = a.as_standard_layout().into_owned();
    }
    let c = a.ncols();
    let td = a.as_slice_mut().ok_or_else(|| KernelError::new("left indexing: non-contiguous target"))?;
    for (k, i) in rows.enumerate() {
        src.write_dense(k, &mut td[i * c + cols.start..i * c + cols.end]);
    }
    Ok(())
}

/// Stored entries of a CSR matrix inside the range.
fn stored_in_range(s: &CsMat<f64>, rows: &Range<usize>, cols: &Range<usize>) -> usize {
    rows.clone()
        .filter_map(|i| s.outer_view(i))
        .map(|row| {
            let idx = row.indices();
            idx.partition_point(|j| *j < cols.end) - idx.partition_point(|j| *j < cols.start)
        })
        .sum()
}

/// Rebuilds the range's rows of a CSR matrix with the source's non-zeros and splices them into
/// its arrays: the cost is the rows' entries, a move of the entries after them, and the row
/// pointers after them when the count changes.
fn splice_sparse(s: &mut CsMat<f64>, rows: &Range<usize>, cols: &Range<usize>, src: &Rows<'_>) {
    let shape = (s.rows(), s.cols());
    let (mut indptr, mut indices, mut data) = std::mem::replace(s, CsMat::zero((0, 0))).into_raw_storage();
    // An owned CSR may in principle start at an offset; make it start at 0.
    let (first, last) = (indptr[0], indptr[indptr.len() - 1]);
    if first != 0 || indices.len() != last {
        indices = indices[first..last].to_vec();
        data = data[first..last].to_vec();
        indptr.iter_mut().for_each(|p| *p -= first);
    }
    let (lo, hi) = (indptr[rows.start], indptr[rows.end]);
    let mut new_idx = Vec::new();
    let mut new_data = Vec::new();
    let mut ends = Vec::with_capacity(rows.len());
    for (k, i) in rows.clone().enumerate() {
        let (a, b) = (indptr[i], indptr[i + 1]);
        let idx = &indices[a..b];
        let p = idx.partition_point(|j| *j < cols.start);
        let q = idx.partition_point(|j| *j < cols.end);
        new_idx.extend_from_slice(&idx[..p]);
        new_data.extend_from_slice(&data[a..a + p]);
        src.push_sparse(k, cols.start, cols.len(), &mut new_idx, &mut new_data);
        new_idx.extend_from_slice(&idx[q..]);
        new_data.extend_from_slice(&data[a + q..b]);
        ends.push(lo + new_idx.len());
    }
    let grown = new_idx.len() as isize - (hi - lo) as isize;
    indices.splice(lo..hi, new_idx);
    data.splice(lo..hi, new_data);
    for (k, i) in rows.clone().enumerate() {
        indptr[i + 1] = ends[k];
    }
    if grown != 0 {
        for p in &mut indptr[rows.end + 1..] {
            *p = (*p as isize + grown) as usize;
        }
    }
    // SAFETY: the arrays describe a valid CSR matrix of `shape`: row pointers start at 0, are
    // non-decreasing and end at the number of entries; rows outside the range are unchanged, and
    // each rebuilt row lists the target's columns before the range, the source's columns inside
    // it (ascending) and the target's columns after it, so its indices are sorted and in bounds.
    *s = unsafe { CsMat::new_unchecked(CompressedStorage::CSR, shape, indptr, indices, data) };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference: a copy of the target with the range overwritten cell by cell.
    fn reference(target: &Matrix, rows: Range<usize>, cols: Range<usize>, src: Source<'_>) -> Vec<f64> {
        let c = target.cols();
        let mut out = target.dense_data().into_owned();
        for (k, i) in rows.enumerate() {
            for (l, j) in cols.clone().enumerate() {
                out[i * c + j] = match src {
                    Source::Matrix(m) => m.get(k, l),
                    Source::Fill(v) => v,
                };
            }
        }
        out
    }

    fn sparse_target(rows: usize, cols: usize, every: usize) -> Matrix {
        let mut cells = vec![0.0; rows * cols];
        for (k, v) in cells.iter_mut().enumerate() {
            if k % every == 0 {
                *v = k as f64 + 0.5;
            }
        }
        Matrix::from_vec(rows, cols, cells).examine_format()
    }

    #[test]
    fn sparse_target_stays_sparse_and_matches_the_copy() {
        let target = sparse_target(20, 30, 17);
        assert!(target.is_sparse());
        let src = Matrix::from_vec(2, 3, vec![1.0, 0.0, 2.0, 0.0, 0.0, 3.0]);
        for (r0, c0) in [(0, 0), (5, 10), (18, 27), (7, 0)] {
            let mut t = target.clone();
            assign(&mut t, r0..r0 + 2, c0..c0 + 3, Source::Matrix(&src)).unwrap();
            assert!(t.is_sparse());
            assert_eq!(
                t.dense_data().into_owned(),
                reference(&target, r0..r0 + 2, c0..c0 + 3, Source::Matrix(&src))
            );
        }
        let mut t = target.clone();
        assign(&mut t, 3..9, 4..5, Source::Fill(0.0)).unwrap();
        assert_eq!(t.dense_data().into_owned(), reference(&target, 3..9, 4..5, Source::Fill(0.0)));
    }

    #[test]
    fn sparse_source_into_dense_target_clears_the_range() {
        let target = Matrix::filled(4, 5, 7.0);
        let src = Matrix::from_csr_parts(2, 3, vec![0, 1, 1], vec![2], vec![9.0]);
        let mut t = target.clone();
        assign(&mut t, 1..3, 1..4, Source::Matrix(&src)).unwrap();
        assert_eq!(t.dense_data().into_owned(), reference(&target, 1..3, 1..4, Source::Matrix(&src)));
    }

    #[test]
    fn sparse_target_turns_dense_at_the_turn_point() {
        let before = crate::types::conversions::snapshot();
        let mut t = Matrix::from_csr_parts(2, 1000, vec![0, 0, 0], vec![], vec![]);
        let row = Matrix::filled(1, 1000, 2.0);
        assign(&mut t, 0..1, 0..1000, Source::Matrix(&row)).unwrap();
        // 1000 of 2000 cells: above 0.4, so dense.
        assert!(!t.is_sparse());
        assert!(crate::types::conversions::snapshot().since(before).sparse_to_dense >= 1);
        assert_eq!(t.get(0, 999), 2.0);
        assert_eq!(t.get(1, 0), 0.0);
    }

    #[test]
    fn out_of_range_and_wrong_shape_are_errors() {
        let mut t = Matrix::zeros(3, 3);
        assert!(assign(&mut t, 2..4, 0..1, Source::Fill(1.0)).is_err());
        let src = Matrix::zeros(2, 2);
        assert!(assign(&mut t, 0..1, 0..2, Source::Matrix(&src)).is_err());
    }
}
