//! 2-D convolution forward and backward, as im2col plus one gemm per image.
//!
//! Images are independent, so the batch is split across rayon threads; each thread owns one
//! column buffer for all its images and calls gemm single-threaded (nested parallelism would
//! only add scheduling overhead on top of an already busy pool). A single image gets a
//! multi-threaded product instead.

use super::im2col::{col2im_add, col2im_add_rows, im2col_dense, im2col_dense_rows, im2col_sparse};
use super::{ConvShape, Window, dense, dense_values, expect_shape};
use crate::kernels::KResult;
use crate::kernels::gemm_util::{View, matmul, matmul_colmajor, matmul_uninit, par_for, transpose_into};
use crate::kernels::uninit::{new_filled, zeroed};
use crate::types::matrix::Matrix;
use gemm::Parallelism;
use rayon::prelude::*;
use sprs::CsMat;
use std::borrow::Cow;
use std::cell::Cell;
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The input images, kept sparse when they are, so im2col can skip the zeros.
enum Images<'a> {
    Dense(Cow<'a, [f64]>),
    Sparse(Cow<'a, CsMat<f64>>),
}

impl<'a> Images<'a> {
    fn new(x: &'a Matrix) -> Self {
        match x {
            Matrix::Sparse(s) if s.is_csr() => Images::Sparse(Cow::Borrowed(s)),
            Matrix::Sparse(s) => Images::Sparse(Cow::Owned(s.to_csr())),
            Matrix::Dense(_) => Images::Dense(dense_values(x)),
        }
    }

    /// im2col of image `i` into `cols`.
    fn cols(&self, i: usize, cells: usize, g: &Window, cols: &mut [f64]) {
        match self {
            Images::Dense(d) => im2col_dense(&d[i * cells..(i + 1) * cells], g, cols),
            Images::Sparse(s) => {
                let row = s.outer_view(i).expect("row index checked against the shape");
                im2col_sparse(row.indices(), row.data(), g, cols)
            }
        }
    }
}

/// A new `N x row_len` output whose row `i` is written by `body(image, row, column buffer,
/// parallelism)`, in parallel over images when there are several (`body` then gets a
/// single-threaded gemm). Rows start uninitialised: `body` writes all of its row, or zeroes it
/// first (on its own thread, where the row is about to be used) when it accumulates.
fn new_per_image<F>(n: usize, row_len: usize, buf_len: usize, body: F) -> Vec<f64>
where
    F: Fn(usize, &mut [MaybeUninit<f64>], &mut [f64], Parallelism) + Sync,
{
    let par = if n == 1 { Parallelism::Rayon(0) } else { Parallelism::None };
    let row = |start: usize, row: &mut [MaybeUninit<f64>]| {
        with_scratch(buf_len, |buf| body(start / row_len.max(1), row, buf, par))
    };
    // SAFETY: both callers' bodies write every cell of their row (see them).
    unsafe { new_filled(n * row_len, row_len, n > 1, row) }
}

thread_local! {
    /// Each thread's column buffer, kept between calls: a LeNet layer's buffer is about 1 MB,
    /// and allocating it afresh for every call costs page faults and zeroing.
    static SCRATCH: Cell<Vec<f64>> = const { Cell::new(Vec::new()) };
}

/// Runs `f` on this thread's scratch buffer of `len` cells (contents unspecified). The buffer is
/// taken out while in use, so a nested call on the same thread just gets a fresh one.
fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [f64]) -> R) -> R {
    let mut buf = SCRATCH.with(|s| s.take());
    if buf.len() < len {
        buf.resize(len, 0.0);
    }
    let r = f(&mut buf[..len]);
    SCRATCH.with(|s| s.set(buf));
    r
}

/// Column-buffer cells (2 MB, a core's L2 cache) above which an image is convolved a band of
/// output rows at a time: a whole 224x224 image's buffer (75 taps x 50,176 positions, 30 MB)
/// would go to memory and back three times (im2col, gemm's packing, the result's transpose),
/// where a band stays in the core's cache and the product writes straight into the output. A
/// buffer that fits in L2 is faster whole (LeNet's second convolution, 800 taps x 196
/// positions: 8% slower per epoch in bands of 512 KB).
const DEFAULT_BAND_CELLS: usize = 1 << 18;
static BAND_CELLS: AtomicUsize = AtomicUsize::new(DEFAULT_BAND_CELLS);

/// Output rows per band for a column buffer of `taps` rows; `oh` (one band, the whole image)
/// when the whole buffer is small enough.
fn band_rows(taps: usize, g: &Window) -> usize {
    (BAND_CELLS.load(Ordering::Relaxed) / (taps * g.ow).max(1)).clamp(1, g.oh.max(1))
}

/// Row `oy0`'s block of an `F x p` per-image matrix (row stride `p`), `F x (p - oy0*ow)`.
fn band_view<'a>(d: &'a [f64], p: usize, start: usize) -> View<'a> {
    View { data: &d[start..], rs: p, cs: 1 }
}

fn check_conv_inputs(op: &str, x: &Matrix, w: &Matrix, s: &ConvShape) -> KResult<()> {
    s.validate()?;
    expect_shape(op, "input", x, s.n, s.in_cells())?;
    expect_shape(op, "filter", w, s.f, s.filter_cells())
}

/// Convolution: `N x F*Hout*Wout` from input `N x C*H*W` and filters `F x C*Hf*Wf`.
pub fn conv2d(x: &Matrix, w: &Matrix, s: &ConvShape) -> KResult<Matrix> {
    check_conv_inputs("conv2d", x, w, s)?;
    Ok(conv_forward(x, w, None, s))
}

/// Convolution followed by adding `b[f]` to every output cell of filter `f`, in one pass.
pub fn conv2d_bias_add(x: &Matrix, w: &Matrix, b: &Matrix, s: &ConvShape) -> KResult<Matrix> {
    check_conv_inputs("conv2d_bias_add", x, w, s)?;
    expect_shape("conv2d_bias_add", "bias", b, s.f, 1)?;
    let bias = dense_values(b);
    Ok(conv_forward(x, w, Some(&bias), s))
}

/// The forward pass. A bias is folded into the product as one more filter tap: `W` gets the bias
/// as an extra column and the column buffer an extra row of ones, so no separate pass over the
/// output is needed.
fn conv_forward(x: &Matrix, w: &Matrix, bias: Option<&[f64]>, s: &ConvShape) -> Matrix {
    let g = s.window();
    let (k, p, cells) = (s.filter_cells(), s.out_positions(), s.in_cells());
    let images = Images::new(x);
    let wv = dense_values(w);
    if let Images::Dense(d) = &images
        && super::direct::applies(&g, s.f, s.n)
    {
        // Each image's body writes all of its row (`forward_image` covers every output).
        let out = new_per_image(s.n, s.f * p, super::direct::scratch_len(&g), |i, row, buf, _| {
            super::direct::forward_image(&d[i * cells..(i + 1) * cells], &wv, bias, &g, s.f, buf, row)
        });
        return dense(s.n, s.f * p, out);
    }
    let (wk, kk) = match bias {
        Some(b) => {
            let mut aug = Vec::with_capacity(s.f * (k + 1));
            for (row, bf) in wv.chunks_exact(k).zip(b) {
                aug.extend_from_slice(row);
                aug.push(*bf);
            }
            (Cow::Owned(aug), k + 1)
        }
        None => (wv, k),
    };
    let band = band_rows(kk, &g);
    if let (Images::Dense(d), true) = (&images, band < g.oh) {
        // The bands cover every output row, and each product writes all F rows of its band.
        let out = new_per_image(s.n, s.f * p, kk * band * g.ow, |i, row, buf, par| {
            let image = &d[i * cells..(i + 1) * cells];
            for oy0 in (0..g.oh).step_by(band) {
                let oy1 = (oy0 + band).min(g.oh);
                let tp = (oy1 - oy0) * g.ow;
                let cols = &mut buf[..kk * tp];
                im2col_dense_rows(image, &g, oy0..oy1, &mut cols[..k * tp]);
                cols[k * tp..].fill(1.0);
                let dst = &mut row[oy0 * g.ow..];
                matmul_uninit(s.f, tp, kk, dst, p, View::rows(&wk, kk), View::rows(cols, tp), par);
            }
        });
        return dense(s.n, s.f * p, out);
    }
    // The transpose writes the whole row.
    let out = new_per_image(s.n, s.f * p, (kk + s.f) * p, |i, row, buf, par| {
        let (cols, result) = buf.split_at_mut(kk * p);
        // The ones row (if any) lies past the first k rows, which im2col rewrites every time.
        cols[k * p..].fill(1.0);
        images.cols(i, cells, &g, &mut cols[..k * p]);
        matmul_colmajor(s.f, p, kk, result, false, View::rows(&wk, kk), View::rows(cols, p), par);
        transpose_into(result, p, s.f, row);
    });
    dense(s.n, s.f * p, out)
}

/// Gradient of the convolution wrt the filters: `F x C*Hf*Wf`, the sum over images of
/// `dout_n * cols_n^T`. Each thread accumulates its own images, then the partial sums are added.
pub fn conv2d_backward_filter(x: &Matrix, dout: &Matrix, s: &ConvShape) -> KResult<Matrix> {
    s.validate()?;
    let op = "conv2d_backward_filter";
    expect_shape(op, "input", x, s.n, s.in_cells())?;
    expect_shape(op, "dout", dout, s.n, s.f * s.out_positions())?;
    let g = s.window();
    let (k, p, cells, f) = (s.filter_cells(), s.out_positions(), s.in_cells(), s.f);
    let images = Images::new(x);
    let dv = dense_values(dout);
    let threads = rayon::current_num_threads().max(1);
    let chunk = s.n.div_ceil(threads).max(1);
    let n_chunks = s.n.div_ceil(chunk);
    let par = if n_chunks == 1 { par_for(f, k, p) } else { Parallelism::None };
    let band = band_rows(k, &g);
    let partial = |ci: usize| {
        let mut acc = vec![0.0; f * k];
        if let (Images::Dense(x), true) = (&images, band < g.oh) {
            with_scratch(k * band * g.ow, |buf| {
                for i in ci * chunk..((ci + 1) * chunk).min(s.n) {
                    let image = &x[i * cells..(i + 1) * cells];
                    let d = &dv[i * f * p..(i + 1) * f * p];
                    for oy0 in (0..g.oh).step_by(band) {
                        let oy1 = (oy0 + band).min(g.oh);
                        let tp = (oy1 - oy0) * g.ow;
                        let cols = &mut buf[..k * tp];
                        im2col_dense_rows(image, &g, oy0..oy1, cols);
                        let first = i == ci * chunk && oy0 == 0;
                        let lhs = band_view(d, p, oy0 * g.ow);
                        matmul_colmajor(f, k, tp, &mut acc, !first, lhs, View::transposed(cols, tp), par);
                    }
                }
            });
            return acc;
        }
        with_scratch(k * p, |cols| {
            for i in ci * chunk..((ci + 1) * chunk).min(s.n) {
                images.cols(i, cells, &g, cols);
                let d = &dv[i * f * p..(i + 1) * f * p];
                // `acc` holds the transpose (column-major result: faster, see matmul_colmajor).
                matmul_colmajor(
                    f,
                    k,
                    p,
                    &mut acc,
                    i > ci * chunk,
                    View::rows(d, p),
                    View::transposed(cols, p),
                    par,
                );
            }
        });
        acc
    };
    let total = (0..n_chunks)
        .into_par_iter()
        .map(partial)
        .reduce_with(|mut a, b| {
            a.iter_mut().zip(&b).for_each(|(x, y)| *x += *y);
            a
        })
        .unwrap_or_else(|| vec![0.0; f * k]);
    // SAFETY: the transpose writes all f*k cells.
    let filters = unsafe { new_filled(f * k, f * k, false, |_, out| transpose_into(&total, k, f, out)) };
    Ok(dense(f, k, filters))
}

/// Gradient of the convolution wrt the input: `N x C*H*W`, per image `col2im(W^T * dout_n)`.
pub fn conv2d_backward_data(w: &Matrix, dout: &Matrix, s: &ConvShape) -> KResult<Matrix> {
    s.validate()?;
    let op = "conv2d_backward_data";
    expect_shape(op, "filter", w, s.f, s.filter_cells())?;
    expect_shape(op, "dout", dout, s.n, s.f * s.out_positions())?;
    let g = s.window();
    let (k, p, f) = (s.filter_cells(), s.out_positions(), s.f);
    let wv = dense_values(w);
    let dv = dense_values(dout);
    // W^T as its own row-major copy (F*K cells, once per call): gemm packs a row-major left
    // operand about 10% faster than the strided view of W.
    // SAFETY: the transpose writes all k*f cells.
    let wt = unsafe { new_filled(f * k, f * k, false, |_, out| transpose_into(&wv, f, k, out)) };
    let band = band_rows(k, &g);
    if band < g.oh {
        // The row is zeroed before col2im adds into it.
        let dx = new_per_image(s.n, s.in_cells(), k * band * g.ow, |i, row, buf, par| {
            let d = &dv[i * f * p..(i + 1) * f * p];
            let dx = zeroed(row);
            for oy0 in (0..g.oh).step_by(band) {
                let oy1 = (oy0 + band).min(g.oh);
                let tp = (oy1 - oy0) * g.ow;
                let cols = &mut buf[..k * tp];
                matmul(k, tp, f, cols, tp, false, View::rows(&wt, f), band_view(d, p, oy0 * g.ow), par);
                col2im_add_rows(cols, &g, oy0..oy1, dx);
            }
        });
        return Ok(dense(s.n, s.in_cells(), dx));
    }
    // The row is zeroed before col2im adds into it.
    let dx = new_per_image(s.n, s.in_cells(), k * p, |i, row, cols, par| {
        let d = &dv[i * f * p..(i + 1) * f * p];
        matmul(k, p, f, cols, p, false, View::rows(&wt, f), View::rows(d, p), par);
        col2im_add(cols, &g, zeroed(row));
    });
    Ok(dense(s.n, s.in_cells(), dx))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(n: usize, seed: f64) -> Vec<f64> {
        (0..n).map(|i| ((i as f64) * 0.61 + seed).sin()).collect()
    }

    fn close(a: &Matrix, b: &Matrix) {
        let (a, b) = (a.dense_data(), b.dense_data());
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b.iter()) {
            assert!((x - y).abs() <= 1e-12 * (1.0 + y.abs()), "{x} != {y}");
        }
    }

    /// The banded forward and backward passes (a band of output rows at a time) give the
    /// whole-image passes' values, for "same" and strided windows.
    #[test]
    fn bands_of_output_rows_match_the_whole_image() {
        for (stride, pad, hf) in [(1, 1, 3), (2, 1, 3), (1, 2, 5), (3, 0, 2)] {
            let s = ConvShape {
                n: 3,
                c: 2,
                h: 11,
                w: 9,
                f: 4,
                hf,
                wf: hf,
                stride_h: stride,
                stride_w: stride,
                pad_h: pad,
                pad_w: pad,
            };
            let x = Matrix::from_vec(s.n, s.in_cells(), values(s.n * s.in_cells(), 0.3));
            let w = Matrix::from_vec(s.f, s.filter_cells(), values(s.f * s.filter_cells(), 1.1));
            let b = Matrix::from_vec(s.f, 1, values(s.f, 2.0));
            let dout =
                Matrix::from_vec(s.n, s.f * s.out_positions(), values(s.n * s.f * s.out_positions(), 0.7));
            let run = || {
                (
                    conv2d_bias_add(&x, &w, &b, &s).unwrap(),
                    conv2d(&x, &w, &s).unwrap(),
                    conv2d_backward_filter(&x, &dout, &s).unwrap(),
                    conv2d_backward_data(&w, &dout, &s).unwrap(),
                )
            };
            BAND_CELLS.store(usize::MAX / 2, Ordering::Relaxed);
            let whole = run();
            for cells in [1, 40, 150] {
                BAND_CELLS.store(cells, Ordering::Relaxed);
                let banded = run();
                close(&banded.0, &whole.0);
                close(&banded.1, &whole.1);
                close(&banded.2, &whole.2);
                close(&banded.3, &whole.3);
            }
            BAND_CELLS.store(DEFAULT_BAND_CELLS, Ordering::Relaxed);
        }
    }
}
