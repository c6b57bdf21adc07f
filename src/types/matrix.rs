//! The matrix block: a 2-D FP64 matrix stored dense (row-major ndarray) or sparse (CSR, sprs).
//!
//! Values in DML are immutable from the script's point of view; the runtime shares matrices
//! behind `Arc` and copies only when a second owner exists (see `runtime::value`). Kernels take
//! `&Matrix` and return new matrices; they keep sparse inputs sparse where the output is sparse.

use std::borrow::Cow;

use ndarray::Array2;

use super::conversions;
use sprs::CsMat;

/// SystemDS's turn point: a matrix is stored sparse when its sparsity is below this, it has more
/// than one column, and the sparse form is smaller than the dense one.
pub const SPARSITY_TURN_POINT: f64 = 0.4;

#[derive(Clone, Debug)]
pub enum Matrix {
    /// Row-major (standard layout) dense storage.
    Dense(Array2<f64>),
    /// Compressed sparse rows; explicit zeros may be present but are not counted by `nnz`.
    Sparse(CsMat<f64>),
}

impl Matrix {
    pub fn zeros(rows: usize, cols: usize) -> Matrix {
        Matrix::Dense(Array2::zeros((rows, cols)))
    }

    pub fn filled(rows: usize, cols: usize, value: f64) -> Matrix {
        Matrix::Dense(Array2::from_elem((rows, cols), value))
    }

    /// Builds a dense matrix from row-major values; `data.len()` must be `rows * cols`.
    pub fn from_vec(rows: usize, cols: usize, data: Vec<f64>) -> Matrix {
        assert_eq!(data.len(), rows * cols, "Matrix::from_vec: length does not match the shape");
        Matrix::Dense(Array2::from_shape_vec((rows, cols), data).expect("shape checked above"))
    }

    /// Wraps a dense array, making its layout standard (row-major contiguous) if it is not.
    pub fn from_array(a: Array2<f64>) -> Matrix {
        if a.is_standard_layout() {
            Matrix::Dense(a)
        } else {
            Matrix::Dense(a.as_standard_layout().into_owned())
        }
    }

    /// Builds a CSR matrix from raw parts (column indices sorted within each row).
    pub fn from_csr_parts(
        rows: usize,
        cols: usize,
        indptr: Vec<usize>,
        indices: Vec<usize>,
        data: Vec<f64>,
    ) -> Matrix {
        Matrix::Sparse(CsMat::new((rows, cols), indptr, indices, data))
    }

    /// The cells in row-major order: borrowed when dense and contiguous, otherwise a copy.
    pub fn dense_data(&self) -> Cow<'_, [f64]> {
        match self {
            Matrix::Dense(a) => match a.as_slice() {
                Some(s) => Cow::Borrowed(s),
                None => Cow::Owned(a.iter().copied().collect()),
            },
            Matrix::Sparse(s) => {
                let (rows, cols) = (s.rows(), s.cols());
                let mut out = vec![0.0; rows * cols];
                let csr = csr_of(s);
                for (i, row) in csr.outer_iterator().enumerate() {
                    for (j, v) in row.iter() {
                        out[i * cols + j] = *v;
                    }
                }
                Cow::Owned(out)
            }
        }
    }

    /// The CSR form: borrowed when already CSR, otherwise converted.
    pub fn csr(&self) -> Cow<'_, CsMat<f64>> {
        match self {
            Matrix::Sparse(s) => csr_of(s),
            Matrix::Dense(_) => Cow::Owned(self.to_csr()),
        }
    }

    pub fn scalar(v: f64) -> Matrix {
        Matrix::from_vec(1, 1, vec![v])
    }

    pub fn rows(&self) -> usize {
        match self {
            Matrix::Dense(a) => a.nrows(),
            Matrix::Sparse(s) => s.rows(),
        }
    }

    pub fn cols(&self) -> usize {
        match self {
            Matrix::Dense(a) => a.ncols(),
            Matrix::Sparse(s) => s.cols(),
        }
    }

    pub fn len(&self) -> usize {
        self.rows() * self.cols()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn is_sparse(&self) -> bool {
        matches!(self, Matrix::Sparse(_))
    }

    /// Number of non-zero cells (NaN counts as non-zero).
    pub fn nnz(&self) -> usize {
        match self {
            Matrix::Dense(a) => a.iter().filter(|v| **v != 0.0).count(),
            Matrix::Sparse(s) => s.data().iter().filter(|v| **v != 0.0).count(),
        }
    }

    /// The value at 0-based `(r, c)`.
    pub fn get(&self, r: usize, c: usize) -> f64 {
        match self {
            Matrix::Dense(a) => a[(r, c)],
            Matrix::Sparse(s) => s.get(r, c).copied().unwrap_or(0.0),
        }
    }

    /// A dense copy (or a clone when already dense).
    pub fn to_dense(&self) -> Array2<f64> {
        match self {
            Matrix::Dense(a) => a.clone(),
            Matrix::Sparse(s) => s.to_dense(),
        }
    }

    /// Converts to dense storage in place.
    pub fn into_dense(self) -> Array2<f64> {
        match self {
            Matrix::Dense(a) if a.is_standard_layout() => a,
            Matrix::Dense(a) => a.as_standard_layout().into_owned(),
            Matrix::Sparse(s) => s.to_dense(),
        }
    }

    /// Row-major values as a slice; `None` for sparse storage.
    pub fn dense_slice(&self) -> Option<&[f64]> {
        match self {
            Matrix::Dense(a) => a.as_slice(),
            Matrix::Sparse(_) => None,
        }
    }

    /// A CSR copy of this matrix (zeros dropped).
    pub fn to_csr(&self) -> CsMat<f64> {
        match self {
            Matrix::Sparse(s) => csr_of(s).into_owned(),
            Matrix::Dense(a) => {
                let (rows, cols) = a.dim();
                let mut indptr = Vec::with_capacity(rows + 1);
                let mut indices = Vec::new();
                let mut data = Vec::new();
                indptr.push(0);
                for row in a.rows() {
                    for (j, v) in row.iter().enumerate() {
                        if *v != 0.0 {
                            indices.push(j);
                            data.push(*v);
                        }
                    }
                    indptr.push(indices.len());
                }
                CsMat::new((rows, cols), indptr, indices, data)
            }
        }
    }

    /// Whether SystemDS would store a matrix of this shape and non-zero count sparse.
    pub fn prefers_sparse(rows: usize, cols: usize, nnz: usize) -> bool {
        if cols <= 1 || rows == 0 {
            return false;
        }
        let cells = rows as f64 * cols as f64;
        let sparsity = nnz as f64 / cells;
        sparsity < SPARSITY_TURN_POINT && estimate_sparse_bytes(rows, nnz) < estimate_dense_bytes(rows, cols)
    }

    /// Re-examines the storage format and converts if the other one is what SystemDS would pick.
    /// A sparse matrix decides from its stored count; a dense one counts its non-zeros only
    /// until the count rules sparse storage out (a dense block of mostly non-zeros stops after
    /// about 40% of its cells). Each change of format is counted for `--stats`.
    pub fn examine_format(self) -> Matrix {
        match self {
            Matrix::Dense(a) => {
                let sparse = match a.as_slice() {
                    Some(d) => dense_prefers_sparse(d, a.nrows(), a.ncols()),
                    None => {
                        Matrix::prefers_sparse(a.nrows(), a.ncols(), a.iter().filter(|v| **v != 0.0).count())
                    }
                };
                if sparse {
                    conversions::note_dense_to_sparse();
                    Matrix::Sparse(Matrix::Dense(a).to_csr())
                } else {
                    Matrix::Dense(a)
                }
            }
            Matrix::Sparse(s) => {
                let nnz = s.data().iter().filter(|v| **v != 0.0).count();
                if Matrix::prefers_sparse(s.rows(), s.cols(), nnz) {
                    if s.is_csc() { Matrix::Sparse(s.to_csr()) } else { Matrix::Sparse(s) }
                } else {
                    conversions::note_sparse_to_dense();
                    Matrix::Dense(s.to_dense())
                }
            }
        }
    }
}

/// Whether a dense row-major block of `rows x cols` cells is better stored sparse: counts its
/// non-zeros in chunks and stops as soon as the count is too high for sparse storage (the rule
/// is monotone in the count).
fn dense_prefers_sparse(d: &[f64], rows: usize, cols: usize) -> bool {
    if cols <= 1 || rows == 0 {
        return false;
    }
    const CHUNK: usize = 1 << 14;
    let mut nnz = 0usize;
    for chunk in d.chunks(CHUNK) {
        nnz += chunk.iter().map(|v| (*v != 0.0) as usize).sum::<usize>();
        if !Matrix::prefers_sparse(rows, cols, nnz) {
            return false;
        }
    }
    true
}

/// Bytes of a dense block: 8 per cell plus a small header.
pub fn estimate_dense_bytes(rows: usize, cols: usize) -> f64 {
    120.0 + 8.0 * rows as f64 * cols as f64
}

/// Bytes of a CSR block: 12 per non-zero plus row pointers and a header.
pub fn estimate_sparse_bytes(rows: usize, nnz: usize) -> f64 {
    100.0 + 4.0 * (rows as f64 + 1.0) + 12.0 * nnz as f64
}

/// A CSR view of a sparse matrix that may have been built in CSC storage.
pub fn csr_of(s: &CsMat<f64>) -> Cow<'_, CsMat<f64>> {
    if s.is_csr() { Cow::Borrowed(s) } else { Cow::Owned(s.to_csr()) }
}
