//! Cellwise binary and unary kernels over dense and sparse matrices.
//!
//! Dense work runs over contiguous row-major slices (rayon above [`PAR_CELLS`] cells). Sparse
//! inputs stay sparse where the result is sparse: products with anything, `op(0, 0) == 0` ops of
//! two sparse inputs, and zero-preserving unary ops.

use std::mem::MaybeUninit;

use super::{KResult, KernelError, uninit};
use crate::types::matrix::Matrix;
use crate::types::ops::{BinOp, UnOp};

/// Cells above which a cellwise kernel splits its work across rayon threads.
pub const PAR_CELLS: usize = 1 << 16;
/// Rayon chunk size for cellwise work: large enough to amortize scheduling.
const CHUNK: usize = 1 << 14;

/// Expands `$body` once per operator with `$f` bound to a closure specialized for it, so the
/// inner loops see a constant operator and vectorize.
macro_rules! with_binop {
    ($op:expr, $f:ident => $body:expr) => {
        match $op {
            BinOp::Add => {
                let $f = |x: f64, y: f64| x + y;
                $body
            }
            BinOp::Sub => {
                let $f = |x: f64, y: f64| x - y;
                $body
            }
            BinOp::Mul => {
                let $f = |x: f64, y: f64| x * y;
                $body
            }
            BinOp::Div => {
                let $f = |x: f64, y: f64| x / y;
                $body
            }
            BinOp::Min => {
                let $f = |x: f64, y: f64| BinOp::Min.apply(x, y);
                $body
            }
            BinOp::Max => {
                let $f = |x: f64, y: f64| BinOp::Max.apply(x, y);
                $body
            }
            BinOp::Lt => {
                let $f = |x: f64, y: f64| BinOp::Lt.apply(x, y);
                $body
            }
            BinOp::Le => {
                let $f = |x: f64, y: f64| BinOp::Le.apply(x, y);
                $body
            }
            BinOp::Gt => {
                let $f = |x: f64, y: f64| BinOp::Gt.apply(x, y);
                $body
            }
            BinOp::Ge => {
                let $f = |x: f64, y: f64| BinOp::Ge.apply(x, y);
                $body
            }
            BinOp::Eq => {
                let $f = |x: f64, y: f64| BinOp::Eq.apply(x, y);
                $body
            }
            BinOp::Ne => {
                let $f = |x: f64, y: f64| BinOp::Ne.apply(x, y);
                $body
            }
            other => {
                let $f = move |x: f64, y: f64| other.apply(x, y);
                $body
            }
        }
    };
}

/// Same as [`with_binop`] for unary operators.
macro_rules! with_unop {
    ($op:expr, $f:ident => $body:expr) => {
        match $op {
            UnOp::Neg => {
                let $f = |x: f64| -x;
                $body
            }
            UnOp::Abs => {
                let $f = |x: f64| x.abs();
                $body
            }
            UnOp::Exp => {
                let $f = |x: f64| x.exp();
                $body
            }
            UnOp::Sqrt => {
                let $f = |x: f64| x.sqrt();
                $body
            }
            UnOp::Relu => {
                let $f = |x: f64| UnOp::Relu.apply(x);
                $body
            }
            UnOp::Sigmoid => {
                let $f = |x: f64| crate::kernels::dnn::activation::sigmoid_accurate(x);
                $body
            }
            UnOp::Tanh => {
                let $f = |x: f64| crate::kernels::dnn::activation::tanh_accurate(x);
                $body
            }
            UnOp::Log => {
                let $f = |x: f64| x.ln();
                $body
            }
            other => {
                let $f = move |x: f64| other.apply(x);
                $body
            }
        }
    };
}
pub(crate) use {with_binop, with_unop};

/// out[i] = f(a[i], b[i]).
fn zip_into<F: Fn(f64, f64) -> f64 + Sync>(a: &[f64], b: &[f64], f: F) -> Vec<f64> {
    uninit::zip(a, b, CHUNK, a.len() > PAR_CELLS, f)
}

/// out[i] = f(a[i]).
fn map_into<F: Fn(f64) -> f64 + Sync>(a: &[f64], f: F) -> Vec<f64> {
    uninit::map(a, CHUNK, a.len() > PAR_CELLS, f)
}

/// Row-broadcast: out[i, j] = f(a[i, j], v[j]); or column-broadcast when `by_col`: f(a[i, j], v[i]).
fn broadcast_into<F: Fn(f64, f64) -> f64 + Sync>(
    a: &[f64],
    cols: usize,
    v: &[f64],
    by_col: bool,
    f: F,
) -> Vec<f64> {
    if cols == 0 {
        return Vec::new();
    }
    let row = |start: usize, o: &mut [MaybeUninit<f64>]| {
        let x = &a[start..start + o.len()];
        if by_col {
            let s = v[start / cols];
            for (o, x) in o.iter_mut().zip(x) {
                o.write(f(*x, s));
            }
        } else {
            for ((o, x), y) in o.iter_mut().zip(x).zip(v) {
                o.write(f(*x, *y));
            }
        }
    };
    // SAFETY: chunks are whole rows of `cols` cells and `v` has at least `cols` cells (row
    // broadcast), so each row's zip writes all of its cells.
    assert!(by_col || v.len() >= cols, "broadcast_into: vector shorter than a row");
    unsafe { uninit::new_filled(a.len(), cols, a.len() > PAR_CELLS, row) }
}

fn dims_error(op: BinOp, a: &Matrix, b: &Matrix) -> KernelError {
    KernelError::new(format!(
        "Mismatch in dimensions for operation '{}': {}x{} and {}x{}",
        op.name(),
        a.rows(),
        a.cols(),
        b.rows(),
        b.cols()
    ))
}

/// `a op b` cellwise.
///
/// Shapes accepted (SystemDS 3.4.0 checked): equal dimensions; `b` a row vector `1 x a.cols`;
/// `b` a column vector `a.rows x 1`; `b` 1x1. A vector or 1x1 on the LEFT (`rowvec + X`,
/// `colvec + rowvec`) is rejected by SystemDS with "Mismatch in dimensions", and so here.
pub fn binary_mm(op: BinOp, a: &Matrix, b: &Matrix) -> KResult<Matrix> {
    let (r, c) = (a.rows(), a.cols());
    if b.rows() == r && b.cols() == c {
        return Ok(binary_same(op, a, b));
    }
    if b.rows() == 1 && b.cols() == 1 {
        return Ok(binary_ms(op, a, b.get(0, 0)));
    }
    let by_col = if b.rows() == 1 && b.cols() == c {
        false
    } else if b.cols() == 1 && b.rows() == r {
        true
    } else {
        return Err(dims_error(op, a, b));
    };
    let v = b.dense_data();
    if let (Matrix::Sparse(_), BinOp::Mul) = (a, op) {
        // 0 * v stays 0 for finite v; NaN/Inf in v would produce NaN in the empty cells.
        if super::simd::all_finite(&v) {
            return Ok(sparse_map_indexed(a, |i, j, x| x * if by_col { v[i] } else { v[j] }));
        }
    }
    let ad = a.dense_data();
    let out = with_binop!(op, f => broadcast_into(&ad, c, &v, by_col, f));
    Ok(Matrix::from_vec(r, c, out))
}

/// Equal shapes: chooses a sparse path when the result is sparse.
fn binary_same(op: BinOp, a: &Matrix, b: &Matrix) -> Matrix {
    let (r, c) = (a.rows(), a.cols());
    match (a, b) {
        (Matrix::Sparse(_), Matrix::Sparse(_)) if op.zero_zero_is_zero() => sparse_sparse(op, a, b),
        (Matrix::Sparse(_), Matrix::Dense(_)) if op == BinOp::Mul && all_finite(b) => {
            let bd = b.dense_data();
            sparse_map_indexed(a, |i, j, x| x * bd[i * c + j])
        }
        (Matrix::Dense(_), Matrix::Sparse(_)) if op == BinOp::Mul && all_finite(a) => {
            let ad = a.dense_data();
            sparse_map_indexed(b, |i, j, y| ad[i * c + j] * y)
        }
        _ => {
            let (ad, bd) = (a.dense_data(), b.dense_data());
            let out = with_binop!(op, f => zip_into(&ad, &bd, f));
            Matrix::from_vec(r, c, out)
        }
    }
}

fn all_finite(m: &Matrix) -> bool {
    match m {
        Matrix::Dense(_) => super::simd::all_finite(&m.dense_data()),
        Matrix::Sparse(s) => super::simd::all_finite(s.data()),
    }
}

/// Applies `f(i, j, x)` to the stored cells of a sparse matrix, dropping zeros from the result.
fn sparse_map_indexed<F: Fn(usize, usize, f64) -> f64>(a: &Matrix, f: F) -> Matrix {
    let csr = a.csr();
    let mut indptr = Vec::with_capacity(csr.rows() + 1);
    let mut indices = Vec::with_capacity(csr.nnz());
    let mut data = Vec::with_capacity(csr.nnz());
    indptr.push(0);
    for (i, row) in csr.outer_iterator().enumerate() {
        for (j, x) in row.iter() {
            let v = f(i, j, *x);
            if v != 0.0 {
                indices.push(j);
                data.push(v);
            }
        }
        indptr.push(indices.len());
    }
    Matrix::from_csr_parts(csr.rows(), csr.cols(), indptr, indices, data).examine_format()
}

/// Merges two sparse matrices row by row for ops with `0 op 0 == 0`.
fn sparse_sparse(op: BinOp, a: &Matrix, b: &Matrix) -> Matrix {
    let (ca, cb) = (a.csr(), b.csr());
    let mut indptr = Vec::with_capacity(ca.rows() + 1);
    let mut indices = Vec::new();
    let mut data = Vec::new();
    indptr.push(0);
    fn push(indices: &mut Vec<usize>, data: &mut Vec<f64>, j: usize, v: f64) {
        if v != 0.0 {
            indices.push(j);
            data.push(v);
        }
    }
    for (ra, rb) in ca.outer_iterator().zip(cb.outer_iterator()) {
        let (ia, va) = (ra.indices(), ra.data());
        let (ib, vb) = (rb.indices(), rb.data());
        let (mut p, mut q) = (0, 0);
        while p < ia.len() || q < ib.len() {
            if q >= ib.len() || (p < ia.len() && ia[p] < ib[q]) {
                push(&mut indices, &mut data, ia[p], op.apply(va[p], 0.0));
                p += 1;
            } else if p >= ia.len() || ib[q] < ia[p] {
                push(&mut indices, &mut data, ib[q], op.apply(0.0, vb[q]));
                q += 1;
            } else {
                push(&mut indices, &mut data, ia[p], op.apply(va[p], vb[q]));
                p += 1;
                q += 1;
            }
        }
        indptr.push(indices.len());
    }
    Matrix::from_csr_parts(ca.rows(), ca.cols(), indptr, indices, data).examine_format()
}

/// `a op s` cellwise.
pub fn binary_ms(op: BinOp, a: &Matrix, s: f64) -> Matrix {
    if a.is_sparse() && op.apply(0.0, s) == 0.0 {
        return sparse_map_indexed(a, |_, _, x| op.apply(x, s));
    }
    let ad = a.dense_data();
    let out = with_binop!(op, f => map_into(&ad, |x| f(x, s)));
    Matrix::from_vec(a.rows(), a.cols(), out)
}

/// `s op a` cellwise.
pub fn binary_sm(op: BinOp, s: f64, a: &Matrix) -> Matrix {
    if a.is_sparse() && op.apply(s, 0.0) == 0.0 {
        return sparse_map_indexed(a, |_, _, x| op.apply(s, x));
    }
    let ad = a.dense_data();
    let out = with_binop!(op, f => map_into(&ad, |x| f(s, x)));
    Matrix::from_vec(a.rows(), a.cols(), out)
}

/// `op(a)` cellwise; sparse inputs stay sparse for zero-preserving ops.
/// Applies `op` to `cells` in place (a matrix the caller owns), in parallel above
/// [`PAR_CELLS`], with the loop specialized for the operator so it vectorizes.
pub fn unary_in_place(op: UnOp, cells: &mut [f64]) {
    with_unop!(op, f => map_in_place(cells, f))
}

/// `cells[i] = f(cells[i])`, in parallel above [`PAR_CELLS`], each chunk in its best vector
/// variant.
pub fn map_in_place(cells: &mut [f64], f: impl Fn(f64) -> f64 + Sync) {
    use rayon::prelude::*;
    if cells.len() > PAR_CELLS {
        cells.par_chunks_mut(CHUNK).for_each(|c| super::simd::map_in_place(c, &f));
    } else {
        super::simd::map_in_place(cells, &f);
    }
}

pub fn unary(op: UnOp, a: &Matrix) -> Matrix {
    if a.is_sparse() && op.zero_preserving() {
        return sparse_map_indexed(a, |_, _, x| op.apply(x));
    }
    let ad = a.dense_data();
    let out = with_unop!(op, f => map_into(&ad, f));
    Matrix::from_vec(a.rows(), a.cols(), out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Above [`PAR_CELLS`] the unary kernels split the cells over rayon; each cell must still be
    /// exactly the scalar f64 function (the same bits), on one thread and on several, through
    /// both the copying and the in-place kernel. Large arguments (up to 4e9) exercise sin's and
    /// cos's argument reduction, as the scale benchmarks' data generation does.
    /// An operator, its f64 function, and a scale that keeps the arguments in its range.
    type Case = (UnOp, fn(f64) -> f64, f64);

    #[test]
    fn parallel_unary_kernels_give_the_scalar_functions_bits() {
        let (rows, cols) = (PAR_CELLS / 16 * 3 + 5, 17);
        let cells: Vec<f64> = (1..=rows * cols).map(|i| (i as f64) * (i as f64) * 0.9e-5 + 0.25).collect();
        let cases: [Case; 5] = [
            (UnOp::Sin, crate::kernels::trig::sin, 1.0),
            (UnOp::Cos, crate::kernels::trig::cos, 1.0),
            (UnOp::Exp, f64::exp, 1e-8),
            (UnOp::Log, f64::ln, 1.0),
            (UnOp::Sqrt, f64::sqrt, 1.0),
        ];
        for threads in [1, 3] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("pool");
            for (op, f, scale) in cases {
                let input: Vec<f64> = cells.iter().map(|x| x * scale).collect();
                let want: Vec<u64> = input.iter().map(|&x| f(x).to_bits()).collect();
                let m = Matrix::from_vec(rows, cols, input.clone());
                let got = pool.install(|| unary(op, &m));
                assert!(got.dense_data().iter().map(|x| x.to_bits()).eq(want.iter().copied()), "{op:?}");
                let mut in_place = input;
                pool.install(|| unary_in_place(op, &mut in_place));
                assert!(in_place.iter().map(|x| x.to_bits()).eq(want.iter().copied()), "{op:?} in place");
            }
        }
    }
}
