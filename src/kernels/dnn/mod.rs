//! Deep-learning kernels: convolution, pooling, bias, LSTM, simple RNN, GRU and batch normalization.
//!
//! Images are row-major `N x (C*H*W)` matrices in NCHW order, as in SystemDS. Each kernel checks
//! its shapes up front and returns a [`KernelError`] naming them, so bad user input never panics.
//! The heavy kernels (convolution, LSTM) go through the `gemm` crate; convolution parallelizes
//! over images with rayon and keeps each product single-threaded to avoid nested parallelism.

pub(crate) mod activation;
mod batchnorm;
mod bias;
mod conv;
mod direct;
mod gru;
mod im2col;
mod lstm;
mod pool;
mod pool_argmax;
mod recurrent;
mod rnn;

pub use batchnorm::{BatchNormOut, batch_norm2d, batch_norm2d_backward};
pub use bias::{bias_add, bias_multiply, relu_backward};
pub use conv::{conv2d, conv2d_backward_data, conv2d_backward_filter, conv2d_bias_add};
pub use gru::{GruGrads, GruOut, gru, gru_backward};
pub use lstm::{LstmGrads, LstmOut, lstm, lstm_backward};
pub use pool::{
    avg_pool, avg_pool_backward, max_pool, max_pool_backward, relu_max_pool, relu_max_pool_backward,
};
pub use pool_argmax::{NO_GRADIENT, max_pool_backward_at, relu_max_pool_argmax};
pub use rnn::{RnnActivation, RnnGrads, RnnOut, rnn, rnn_backward};

use super::{KResult, KernelError};
use crate::types::matrix::Matrix;
use std::borrow::Cow;

/// The geometry of a 2-D convolution: input `N x C x H x W`, filters `F x C x Hf x Wf`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConvShape {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub f: usize,
    pub hf: usize,
    pub wf: usize,
    pub stride_h: usize,
    pub stride_w: usize,
    pub pad_h: usize,
    pub pad_w: usize,
}

/// `floor((input + 2*pad - window) / stride) + 1`, or `None` when the window does not fit.
fn out_dim(input: usize, pad: usize, window: usize, stride: usize) -> Option<usize> {
    let span = pad.checked_mul(2)?.checked_add(input)?;
    if stride == 0 || window == 0 || window > span { None } else { Some((span - window) / stride + 1) }
}

impl ConvShape {
    /// Output height; 0 when the shape is invalid (call [`ConvShape::validate`] first).
    pub fn out_h(&self) -> usize {
        out_dim(self.h, self.pad_h, self.hf, self.stride_h).unwrap_or(0)
    }

    /// Output width; 0 when the shape is invalid (call [`ConvShape::validate`] first).
    pub fn out_w(&self) -> usize {
        out_dim(self.w, self.pad_w, self.wf, self.stride_w).unwrap_or(0)
    }

    /// Cells of one image: `C*H*W`.
    pub fn in_cells(&self) -> usize {
        self.c * self.h * self.w
    }

    /// Cells of one filter: `C*Hf*Wf` (the rows of the im2col matrix).
    pub fn filter_cells(&self) -> usize {
        self.c * self.hf * self.wf
    }

    /// Output positions of one image and one filter: `Hout*Wout`.
    pub fn out_positions(&self) -> usize {
        self.out_h() * self.out_w()
    }

    /// Checks that every size is positive and the filter window fits the padded input.
    pub fn validate(&self) -> KResult<()> {
        let sizes = [
            ("N", self.n),
            ("C", self.c),
            ("H", self.h),
            ("W", self.w),
            ("F", self.f),
            ("Hf", self.hf),
            ("Wf", self.wf),
            ("stride_h", self.stride_h),
            ("stride_w", self.stride_w),
        ];
        check_positive("conv2d", &sizes)?;
        if out_dim(self.h, self.pad_h, self.hf, self.stride_h).is_none()
            || out_dim(self.w, self.pad_w, self.wf, self.stride_w).is_none()
        {
            return Err(KernelError::new(format!(
                "conv2d: filter {}x{} does not fit input {}x{} with padding [{}, {}]",
                self.hf, self.wf, self.h, self.w, self.pad_h, self.pad_w
            )));
        }
        let p = self.out_h().checked_mul(self.out_w());
        check_cells(
            "conv2d",
            &[&[self.n, self.c, self.h, self.w], &[self.c, self.hf, self.wf, p.unwrap_or(usize::MAX)]],
        )?;
        check_cells("conv2d", &[&[self.n, self.f, p.unwrap_or(usize::MAX)]])
    }

    /// The im2col geometry shared with pooling-free code paths.
    pub(crate) fn window(&self) -> Window {
        Window {
            c: self.c,
            h: self.h,
            w: self.w,
            kh: self.hf,
            kw: self.wf,
            sh: self.stride_h,
            sw: self.stride_w,
            ph: self.pad_h,
            pw: self.pad_w,
            oh: self.out_h(),
            ow: self.out_w(),
        }
    }
}

/// The geometry of 2-D pooling: input `N x C x H x W`, window `ph x pw`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PoolShape {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub ph: usize,
    pub pw: usize,
    pub stride_h: usize,
    pub stride_w: usize,
    pub pad_h: usize,
    pub pad_w: usize,
}

impl PoolShape {
    /// Output height; 0 when the shape is invalid (call [`PoolShape::validate`] first).
    pub fn out_h(&self) -> usize {
        out_dim(self.h, self.pad_h, self.ph, self.stride_h).unwrap_or(0)
    }

    /// Output width; 0 when the shape is invalid (call [`PoolShape::validate`] first).
    pub fn out_w(&self) -> usize {
        out_dim(self.w, self.pad_w, self.pw, self.stride_w).unwrap_or(0)
    }

    /// Checks that every size is positive and the pooling window fits the padded input.
    pub fn validate(&self) -> KResult<()> {
        let sizes = [
            ("N", self.n),
            ("C", self.c),
            ("H", self.h),
            ("W", self.w),
            ("pool_h", self.ph),
            ("pool_w", self.pw),
            ("stride_h", self.stride_h),
            ("stride_w", self.stride_w),
        ];
        check_positive("pooling", &sizes)?;
        if out_dim(self.h, self.pad_h, self.ph, self.stride_h).is_none()
            || out_dim(self.w, self.pad_w, self.pw, self.stride_w).is_none()
        {
            return Err(KernelError::new(format!(
                "pooling: window {}x{} does not fit input {}x{} with padding [{}, {}]",
                self.ph, self.pw, self.h, self.w, self.pad_h, self.pad_w
            )));
        }
        check_cells(
            "pooling",
            &[&[self.n, self.c, self.h, self.w], &[self.n, self.c, self.out_h(), self.out_w()]],
        )
    }

    pub(crate) fn window(&self) -> Window {
        Window {
            c: self.c,
            h: self.h,
            w: self.w,
            kh: self.ph,
            kw: self.pw,
            sh: self.stride_h,
            sw: self.stride_w,
            ph: self.pad_h,
            pw: self.pad_w,
            oh: self.out_h(),
            ow: self.out_w(),
        }
    }
}

/// Sliding-window geometry of one image, shared by im2col, col2im and pooling.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Window {
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub kh: usize,
    pub kw: usize,
    pub sh: usize,
    pub sw: usize,
    pub ph: usize,
    pub pw: usize,
    pub oh: usize,
    pub ow: usize,
}

impl Window {
    /// The valid output columns `ow` for filter column `kx`: those whose input column
    /// `ow*sw + kx - pw` lies inside `[0, w)`. Returned as a half-open range.
    #[inline]
    pub fn valid_cols(&self, kx: usize) -> (usize, usize) {
        valid_range(self.ow, self.sw, kx, self.pw, self.w)
    }

    /// Same as [`Window::valid_cols`] for rows.
    #[inline]
    pub fn valid_rows(&self, ky: usize) -> (usize, usize) {
        valid_range(self.oh, self.sh, ky, self.ph, self.h)
    }
}

/// Output indexes `o` in `[lo, hi)` with `0 <= o*s + k - p < n`, for `o < out`.
#[inline]
fn valid_range(out: usize, s: usize, k: usize, p: usize, n: usize) -> (usize, usize) {
    // o*s + k >= p  <=>  o >= ceil((p - k) / s) when p > k.
    let lo = if p > k { (p - k).div_ceil(s) } else { 0 };
    // o*s + k - p <= n - 1  <=>  o <= (n - 1 + p - k) / s.
    let hi = if n + p > k { ((n - 1 + p - k) / s + 1).min(out) } else { 0 };
    (lo.min(hi), hi)
}

/// Largest buffer (in cells) a kernel will allocate: larger shapes are refused with an error
/// instead of overflowing or aborting on allocation.
const MAX_CELLS: usize = 1 << 36;

/// Checks that each product of sizes (a buffer the kernel allocates) stays below [`MAX_CELLS`].
fn check_cells(op: &str, products: &[&[usize]]) -> KResult<()> {
    for dims in products {
        let cells = dims.iter().try_fold(1usize, |acc, d| acc.checked_mul(*d));
        if cells.is_none_or(|c| c > MAX_CELLS) {
            return Err(KernelError::new(format!("{op}: shape {dims:?} is too large")));
        }
    }
    Ok(())
}

fn check_positive(op: &str, sizes: &[(&str, usize)]) -> KResult<()> {
    for (name, v) in sizes {
        if *v == 0 {
            return Err(KernelError::new(format!("{op}: {name} must be positive, got 0")));
        }
    }
    Ok(())
}

/// Checks that `m` is `rows x cols`; `what` names the argument in the message.
pub(crate) fn expect_shape(op: &str, what: &str, m: &Matrix, rows: usize, cols: usize) -> KResult<()> {
    if m.rows() != rows || m.cols() != cols {
        return Err(KernelError::new(format!(
            "{op}: {what} must be {rows}x{cols}, got {}x{}",
            m.rows(),
            m.cols()
        )));
    }
    Ok(())
}

/// Row-major values of `m`, borrowed when `m` is already dense and contiguous.
pub(crate) fn dense_values(m: &Matrix) -> Cow<'_, [f64]> {
    match m.dense_slice() {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(m.to_dense().into_iter().collect()),
    }
}

/// A row-major dense matrix from `data`; callers guarantee `data.len() == rows * cols`.
pub(crate) fn dense(rows: usize, cols: usize, data: Vec<f64>) -> Matrix {
    Matrix::from_vec(rows, cols, data)
}
