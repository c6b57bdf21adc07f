//! Per-channel bias operations and the relu gradient.

use super::{dense, dense_values, expect_shape};
use crate::kernels::{KResult, KernelError};
use crate::types::matrix::Matrix;
use sprs::CsMat;

/// Cells per channel (`H*W`) of an `N x C*H*W` matrix, checking that `b` is `C x 1`.
fn channel_len(op: &str, x: &Matrix, b: &Matrix, c: usize) -> KResult<usize> {
    if c == 0 || !x.cols().is_multiple_of(c) {
        return Err(KernelError::new(format!(
            "{op}: {} columns of the input are not a multiple of the {c} channels",
            x.cols()
        )));
    }
    expect_shape(op, "bias", b, c, 1)?;
    Ok(x.cols() / c)
}

/// `x + b[c]` on every cell of channel `c`. The result is dense (the bias fills the zeros).
pub fn bias_add(x: &Matrix, b: &Matrix, c: usize) -> KResult<Matrix> {
    let hw = channel_len("bias_add", x, b, c)?;
    let bv = dense_values(b);
    let mut out = dense_values(x).into_owned();
    if hw > 0 {
        for row in out.chunks_exact_mut(c * hw) {
            for (seg, &bc) in row.chunks_exact_mut(hw).zip(bv.iter()) {
                seg.iter_mut().for_each(|v| *v += bc);
            }
        }
    }
    Ok(dense(x.rows(), x.cols(), out))
}

/// `x * b[c]` on every cell of channel `c`. A sparse input stays sparse (zeros stay zero).
pub fn bias_multiply(x: &Matrix, b: &Matrix, c: usize) -> KResult<Matrix> {
    let hw = channel_len("bias_multiply", x, b, c)?;
    let bv = dense_values(b);
    match x {
        Matrix::Sparse(s) => {
            let csr = if s.is_csr() { s.clone() } else { s.to_csr() };
            let (indptr, indices, mut data) = csr.into_raw_storage();
            for (j, v) in indices.iter().zip(data.iter_mut()) {
                *v *= bv[j / hw];
            }
            Ok(Matrix::Sparse(CsMat::new((x.rows(), x.cols()), indptr, indices, data)))
        }
        Matrix::Dense(_) => {
            let mut out = dense_values(x).into_owned();
            if hw > 0 {
                for row in out.chunks_exact_mut(c * hw) {
                    for (seg, &bc) in row.chunks_exact_mut(hw).zip(bv.iter()) {
                        seg.iter_mut().for_each(|v| *v *= bc);
                    }
                }
            }
            Ok(dense(x.rows(), x.cols(), out))
        }
    }
}

/// `(x > 0) * dout`: the gradient of `max(0, x)`.
pub fn relu_backward(x: &Matrix, dout: &Matrix) -> KResult<Matrix> {
    expect_shape("relu_backward", "dout", dout, x.rows(), x.cols())?;
    let xv = dense_values(x);
    let dv = dense_values(dout);
    // Exactly `(x > 0) * dout`: the 0/1 indicator times the gradient, so a NaN or infinite
    // gradient under a non-positive input still gives NaN, and -0.0 stays -0.0, as the
    // expression this operator replaces would.
    const CHUNK: usize = 1 << 15;
    let out = crate::kernels::uninit::zip(&xv, &dv, CHUNK, xv.len() > 4 * CHUNK, |v, d| {
        (if v > 0.0 { 1.0 } else { 0.0 }) * d
    });
    Ok(dense(x.rows(), x.cols(), out))
}
