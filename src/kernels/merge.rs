//! The cell merge of `parfor` results: copies into a result every cell where a worker's matrix
//! differs from the matrix before the loop, in one pass over the rows. A dense result is written
//! in place; a sparse one has its rows rebuilt once (its non-zeros and the changes merged) and
//! becomes dense only when the merged non-zeros cross the turn point. Where both the original
//! and the worker's matrix are sparse only their stored entries are visited.

use std::borrow::Cow;

use sprs::CsMat;

use super::{KResult, KernelError};
use crate::types::conversions;
use crate::types::matrix::Matrix;

/// Row access to a matrix in either storage.
enum RowsOf<'a> {
    Dense { data: Cow<'a, [f64]>, cols: usize },
    Sparse(Cow<'a, CsMat<f64>>),
}

impl<'a> RowsOf<'a> {
    fn new(m: &'a Matrix) -> Self {
        match m {
            Matrix::Dense(_) => RowsOf::Dense { data: m.dense_data(), cols: m.cols() },
            Matrix::Sparse(_) => RowsOf::Sparse(m.csr()),
        }
    }

    /// Row `i` as dense cells: borrowed from dense storage, else expanded into `buf`.
    fn dense_row<'b>(&'b self, i: usize, buf: &'b mut [f64]) -> &'b [f64] {
        match self {
            RowsOf::Dense { data, cols } => &data[i * cols..(i + 1) * cols],
            RowsOf::Sparse(s) => {
                buf.fill(0.0);
                if let Some(row) = s.outer_view(i) {
                    for (j, v) in row.iter() {
                        buf[j] = *v;
                    }
                }
                buf
            }
        }
    }

    /// Row `i`'s stored entries; `None` for dense storage.
    fn sparse_row(&self, i: usize) -> Option<(&[usize], &[f64])> {
        match self {
            RowsOf::Sparse(s) => Some(csr_row(s, i)),
            RowsOf::Dense { .. } => None,
        }
    }
}

/// Whether two cells differ (bitwise, so a NaN equals itself and the merge is exact).
fn differs(a: f64, b: f64) -> bool {
    a.to_bits() != b.to_bits()
}

/// The cells of row `i` where `changed` differs from `orig`, in column order, into `out`.
fn row_changes(
    orig: &RowsOf<'_>,
    changed: &RowsOf<'_>,
    i: usize,
    bufs: &mut (Vec<f64>, Vec<f64>),
    out: &mut Vec<(usize, f64)>,
) {
    out.clear();
    if let (Some((oi, ov)), Some((ci, cv))) = (orig.sparse_row(i), changed.sparse_row(i)) {
        let (mut a, mut b) = (0, 0);
        while a < oi.len() || b < ci.len() {
            let (ja, jb) =
                (oi.get(a).copied().unwrap_or(usize::MAX), ci.get(b).copied().unwrap_or(usize::MAX));
            if ja < jb {
                if differs(ov[a], 0.0) {
                    out.push((ja, 0.0));
                }
                a += 1;
            } else if jb < ja {
                if differs(cv[b], 0.0) {
                    out.push((jb, cv[b]));
                }
                b += 1;
            } else {
                if differs(ov[a], cv[b]) {
                    out.push((jb, cv[b]));
                }
                a += 1;
                b += 1;
            }
        }
        return;
    }
    let (ob, cb) = bufs;
    let o = orig.dense_row(i, ob);
    let c = changed.dense_row(i, cb);
    out.extend(
        o.iter().zip(c).enumerate().filter(|(_, (x, y))| differs(**x, **y)).map(|(j, (_, y))| (j, *y)),
    );
}

/// Writes into `result` every cell where `changed` differs from `orig`; all three have the same
/// shape. `result` usually starts as another worker's matrix, so changes of later workers win.
pub fn merge_changes(result: &mut Matrix, orig: &Matrix, changed: &Matrix) -> KResult<()> {
    let (r, c) = (orig.rows(), orig.cols());
    for m in [&*result, changed] {
        if m.rows() != r || m.cols() != c {
            return Err(KernelError::new(format!(
                "parfor result merge: a {}x{} matrix does not match the original {r}x{c}",
                m.rows(),
                m.cols()
            )));
        }
    }
    let o = RowsOf::new(orig);
    let w = RowsOf::new(changed);
    let mut bufs = (vec![0.0; c], vec![0.0; c]);
    let mut changes = Vec::new();
    if let Matrix::Sparse(s) = result {
        let merged = merge_into_sparse(&csr_owned(s), |i, out| row_changes(&o, &w, i, &mut bufs, out));
        *result = if Matrix::prefers_sparse(r, c, merged.nnz()) {
            Matrix::Sparse(merged)
        } else {
            conversions::note_sparse_to_dense();
            Matrix::Dense(merged.to_dense())
        };
        return Ok(());
    }
    let Matrix::Dense(a) = result else { unreachable!("sparse results returned above") };
    if !a.is_standard_layout() {
        *a = a.as_standard_layout().into_owned();
    }
    let td =
        a.as_slice_mut().ok_or_else(|| KernelError::new("parfor result merge: non-contiguous result"))?;
    for i in 0..r {
        let t = &mut td[i * c..(i + 1) * c];
        if let (Some(_), Some(_)) = (o.sparse_row(i), w.sparse_row(i)) {
            row_changes(&o, &w, i, &mut bufs, &mut changes);
            for &(j, v) in &changes {
                t[j] = v;
            }
            continue;
        }
        let (ob, cb) = &mut bufs;
        let orow = o.dense_row(i, ob);
        let crow = w.dense_row(i, cb);
        for ((dst, x), y) in t.iter_mut().zip(orow).zip(crow) {
            if differs(*x, *y) {
                *dst = *y;
            }
        }
    }
    Ok(())
}

/// Row `i` of a CSR matrix: its column indices and values.
fn csr_row(s: &CsMat<f64>, i: usize) -> (&[usize], &[f64]) {
    let r = s.indptr().outer_inds_sz(i);
    (&s.indices()[r.clone()], &s.data()[r])
}

fn csr_owned(s: &CsMat<f64>) -> Cow<'_, CsMat<f64>> {
    if s.is_csr() { Cow::Borrowed(s) } else { Cow::Owned(s.to_csr()) }
}

/// A new CSR matrix: each row of `base` with the changes `changes_of(i, out)` lists applied
/// (a change to zero removes the entry).
fn merge_into_sparse(
    base: &CsMat<f64>,
    mut changes_of: impl FnMut(usize, &mut Vec<(usize, f64)>),
) -> CsMat<f64> {
    let mut indptr = Vec::with_capacity(base.rows() + 1);
    let mut indices = Vec::with_capacity(base.nnz());
    let mut data = Vec::with_capacity(base.nnz());
    indptr.push(0);
    let mut changes = Vec::new();
    for i in 0..base.rows() {
        changes_of(i, &mut changes);
        let (bi, bv) = csr_row(base, i);
        let (mut a, mut b) = (0, 0);
        while a < bi.len() || b < changes.len() {
            let ja = bi.get(a).copied().unwrap_or(usize::MAX);
            let jb = changes.get(b).map(|c| c.0).unwrap_or(usize::MAX);
            let (j, v) = if ja < jb {
                a += 1;
                (ja, bv[a - 1])
            } else {
                if ja == jb {
                    a += 1;
                }
                b += 1;
                changes[b - 1]
            };
            if v != 0.0 {
                indices.push(j);
                data.push(v);
            }
        }
        indptr.push(indices.len());
    }
    CsMat::new((base.rows(), base.cols()), indptr, indices, data)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cells(m: &Matrix) -> Vec<f64> {
        m.dense_data().into_owned()
    }

    /// The reference merge: cell by cell on dense copies.
    fn reference(result: &Matrix, orig: &Matrix, changed: &Matrix) -> Vec<f64> {
        let (o, w) = (cells(orig), cells(changed));
        let mut out = cells(result);
        for k in 0..out.len() {
            if differs(o[k], w[k]) {
                out[k] = w[k];
            }
        }
        out
    }

    fn pattern(rows: usize, cols: usize, every: usize, scale: f64) -> Vec<f64> {
        (0..rows * cols).map(|k| if k % every == 0 { scale * (k as f64 + 1.0) } else { 0.0 }).collect()
    }

    #[test]
    fn every_combination_of_formats_matches_the_cell_reference() {
        let (r, c) = (12, 40);
        let orig_cells = pattern(r, c, 13, 1.0);
        let mut w1 = orig_cells.clone();
        w1[5] = 3.0;
        w1[13] = 0.0;
        let mut w2 = orig_cells.clone();
        w2[r * c - 1] = -2.0;
        w2[5] = 4.0; // the later worker wins a cell both changed
        let forms = |v: &Vec<f64>| {
            [Matrix::from_vec(r, c, v.clone()), Matrix::Sparse(Matrix::from_vec(r, c, v.clone()).to_csr())]
        };
        for orig in forms(&orig_cells) {
            for first in forms(&w1) {
                for second in forms(&w2) {
                    let want = reference(&first, &orig, &second);
                    let mut result = first.clone();
                    merge_changes(&mut result, &orig, &second).unwrap();
                    assert_eq!(cells(&result), want);
                    assert_eq!(result.get(0, 5), 4.0);
                    assert_eq!(result.get(0, 13), 0.0);
                }
            }
        }
    }

    #[test]
    fn a_sparse_result_turns_dense_when_the_merge_fills_it() {
        let orig = Matrix::Sparse(CsMat::zero((2, 50)));
        let mut result =
            Matrix::Sparse(Matrix::from_vec(2, 50, [vec![1.0; 50], vec![0.0; 50]].concat()).to_csr());
        let second = Matrix::from_vec(2, 50, [vec![0.0; 50], vec![2.0; 50]].concat());
        merge_changes(&mut result, &orig, &second).unwrap();
        assert!(!result.is_sparse());
        assert_eq!(cells(&result), [vec![1.0; 50], vec![2.0; 50]].concat());
    }

    #[test]
    fn shapes_must_agree() {
        let orig = Matrix::zeros(2, 2);
        let mut result = Matrix::zeros(2, 2);
        assert!(merge_changes(&mut result, &orig, &Matrix::zeros(2, 3)).is_err());
    }
}
