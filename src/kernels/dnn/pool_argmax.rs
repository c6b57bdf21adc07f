//! Max pooling after a ReLU that writes down where each window's gradient goes, and the pooling
//! gradient computed from those notes alone.
//!
//! `relu_max_pool_backward(X, dout)` finds every window's first maximum again, so it reads all of
//! `X`: in LeNet's training step that is the first convolution's output, 12 MB that left the
//! caches long before the backward pass, and reading it was about two thirds of the gradient's
//! time (measured: 0.145 against 0.043 CPU-seconds per epoch without the read). The forward pass
//! has just found every maximum, so it writes them down, one number per window (a quarter of `X`
//! for LeNet's 2x2 windows), and the backward pass reads those instead: per LeNet epoch
//! (`../shared/bench/lenet_train.dml`, `--stats`) the pair takes 0.082 CPU-seconds against 0.163
//! for `relu_max_pool` and `relu_max_pool_backward`. The rewrite `fuse_max_pool_argmax` pairs the
//! two passes when both pool the same matrix the same way.
//!
//! Each window's code names the cell its gradient goes to (the first maximum in row-major window
//! order, the cell `relu_max_pool_backward` picks), or is [`NO_GRADIENT`] when there is none: the
//! maximum is not positive (the ReLU is flat there) or the window lies entirely in the padding.
//! For windows that tile the plane 2x2 (LeNet's) the code is the cell's place in the window, 1
//! to 4 in row-major order; for other windows it is the 1-based index of the cell within its
//! channel's plane. No code is 0, so the codes matrix (`N x C*Hout*Wout`, as the pooled output)
//! stays dense. (Packing sixteen 2x2 codes into one cell reads 16 times less but was slower:
//! unpacking costs more than the read it saves.) Both passes give exactly the values of
//! `relu_max_pool` and `relu_max_pool_backward`: the same comparisons pick the same cells.

use super::pool::{Spans, argmax, check, max4, per_image, tiles_2x2};
use super::{PoolShape, dense, dense_values, expect_shape};
use crate::kernels::KResult;
use crate::kernels::uninit::zeroed;
use crate::types::matrix::Matrix;
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// The code of a window whose gradient goes nowhere (windows other than 2x2 tiles).
pub const NO_GRADIENT: f64 = -1.0;

/// New `N x len_a` and `N x len_b` outputs whose rows `i` are written by `body(i, row of the
/// first, row of the second)`, in parallel for large batches.
fn two_per_image<F>(n: usize, len_a: usize, len_b: usize, body: F) -> (Vec<f64>, Vec<f64>)
where
    F: Fn(usize, &mut [MaybeUninit<f64>], &mut [MaybeUninit<f64>]) + Sync,
{
    let (mut first, mut second) = (Vec::with_capacity(n * len_a), Vec::with_capacity(n * len_b));
    let a = &mut first.spare_capacity_mut()[..n * len_a];
    let b = &mut second.spare_capacity_mut()[..n * len_b];
    if len_a == 0 || len_b == 0 {
        // Nothing to write (no windows); the rows of the other output are empty too.
    } else if n * len_a >= 1 << 15 {
        a.par_chunks_mut(len_a)
            .zip(b.par_chunks_mut(len_b))
            .enumerate()
            .for_each(|(i, (x, y))| body(i, x, y));
    } else {
        a.chunks_mut(len_a).zip(b.chunks_mut(len_b)).enumerate().for_each(|(i, (x, y))| body(i, x, y));
    }
    // SAFETY: the capacities are `n * len_a` and `n * len_b`, and the caller's body writes every
    // cell of both rows (the caller's lengths are both 0 or both positive).
    unsafe {
        first.set_len(n * len_a);
        second.set_len(n * len_b);
    }
    (first, second)
}

/// `relu_max_pool(x)` (`N x C*Hout*Wout`) and the codes of its windows (see the module).
pub fn relu_max_pool_argmax(x: &Matrix, s: &PoolShape) -> KResult<(Matrix, Matrix)> {
    check("relu_max_pool_argmax", x, s)?;
    let g = s.window();
    let (plane, oplane) = (g.h * g.w, g.oh * g.ow);
    let xv = dense_values(x);
    let sp = Spans::new(&g);
    let two_by_two = tiles_2x2(&g);
    let row_len = s.c * oplane;
    let code_of = |cell: Option<usize>, src: &[f64]| match cell {
        Some(j) if src[j] > 0.0 => (j + 1) as f64,
        _ => NO_GRADIENT,
    };
    // Writes every cell of both rows: c, oy and ox run over the whole row.
    let (pooled, codes) = two_per_image(s.n, row_len, row_len, |i, out, code| {
        if two_by_two {
            for c in 0..g.c {
                let src = &xv[(i * g.c + c) * plane..(i * g.c + c + 1) * plane];
                let out = &mut out[c * oplane..(c + 1) * oplane];
                let code = &mut code[c * oplane..(c + 1) * oplane];
                for oy in 0..g.oh {
                    let (r0, r1) = (2 * oy * g.w, (2 * oy + 1) * g.w);
                    for ox in 0..g.ow {
                        let (a, b) = (r0 + 2 * ox, r1 + 2 * ox);
                        let (v, at) = max4(src[a], src[a + 1], src[b], src[b + 1]);
                        let o = oy * g.ow + ox;
                        out[o].write(v.max(0.0));
                        code[o].write(if v > 0.0 { (at + 1) as f64 } else { NO_GRADIENT });
                    }
                }
            }
            return;
        }
        for c in 0..g.c {
            let src = &xv[(i * g.c + c) * plane..(i * g.c + c + 1) * plane];
            let out = &mut out[c * oplane..(c + 1) * oplane];
            let code = &mut code[c * oplane..(c + 1) * oplane];
            for (oy, &ys) in sp.rows.iter().enumerate() {
                for (ox, &xs) in sp.cols.iter().enumerate() {
                    let o = oy * g.ow + ox;
                    let best = argmax(src, g.w, ys, xs);
                    out[o].write(best.map_or(f64::MIN, |j| src[j]).max(0.0));
                    code[o].write(code_of(best, src));
                }
            }
        }
    });
    Ok((dense(s.n, row_len, pooled), dense(s.n, row_len, codes)))
}

/// The gradient `grad` in the cell of a 2x2 window that `code` names (1 to 4; none for
/// [`NO_GRADIENT`]), zeros in the others; without branches, as the unfused 2x2 gradient.
#[inline(always)]
fn route_to(code: f64, grad: f64) -> [f64; 4] {
    // `0.0 +` as in the unfused gradient: a -0.0 gradient lands as 0.0.
    let g = (0.0 + grad).to_bits();
    [1.0, 2.0, 3.0, 4.0].map(|place| f64::from_bits(g & 0u64.wrapping_sub((code == place) as u64)))
}

/// The gradient of `relu_max_pool` wrt its input (`N x C*H*W`) from the window codes that
/// [`relu_max_pool_argmax`] wrote and `dout` (both `N x C*Hout*Wout`); overlapping windows add.
pub fn max_pool_backward_at(codes: &Matrix, dout: &Matrix, s: &PoolShape) -> KResult<Matrix> {
    s.validate()?;
    let op = "max_pool_backward_at";
    let g = s.window();
    let (plane, oplane) = (g.h * g.w, g.oh * g.ow);
    let two_by_two = tiles_2x2(&g);
    expect_shape(op, "codes", codes, s.n, s.c * oplane)?;
    expect_shape(op, "dout", dout, s.n, s.c * oplane)?;
    let (cv, dv) = (dense_values(codes), dense_values(dout));
    if two_by_two {
        // Every input cell is in exactly one window, so each window writes its four cells.
        let dx = per_image(s.n, s.c * plane, |i, row| {
            for c in 0..g.c {
                let at = (i * g.c + c) * oplane;
                let (code, d) = (&cv[at..at + oplane], &dv[at..at + oplane]);
                let dst = &mut row[c * plane..(c + 1) * plane];
                for oy in 0..g.oh {
                    let (r0, r1) = (2 * oy * g.w, (2 * oy + 1) * g.w);
                    for ox in 0..g.ow {
                        let (a, b) = (r0 + 2 * ox, r1 + 2 * ox);
                        let o = oy * g.ow + ox;
                        let cells = route_to(code[o], d[o]);
                        dst[a].write(cells[0]);
                        dst[a + 1].write(cells[1]);
                        dst[b].write(cells[2]);
                        dst[b + 1].write(cells[3]);
                    }
                }
            }
        });
        return Ok(dense(s.n, s.c * plane, dx));
    }
    // The row is zeroed before the windows add into it.
    let dx = per_image(s.n, s.c * plane, |i, row| {
        let row = zeroed(row);
        for c in 0..g.c {
            let at = (i * g.c + c) * oplane;
            let (code, d) = (&cv[at..at + oplane], &dv[at..at + oplane]);
            let dst = &mut row[c * plane..(c + 1) * plane];
            for (k, gr) in code.iter().zip(d) {
                if *k >= 1.0 && *k <= plane as f64 {
                    dst[*k as usize - 1] += *gr;
                }
            }
        }
    });
    Ok(dense(s.n, s.c * plane, dx))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::dnn::{relu_max_pool, relu_max_pool_backward};

    fn values(n: usize, seed: f64) -> Vec<f64> {
        // Rounded to quarters so windows have ties, with zeros and negatives.
        (0..n).map(|i| (((i as f64) * 0.73 + seed).sin() * 4.0).round() / 4.0).collect()
    }

    fn same_bits(a: &Matrix, b: &Matrix) {
        assert_eq!((a.rows(), a.cols()), (b.rows(), b.cols()));
        let (a, b) = (a.dense_data(), b.dense_data());
        for (i, (x, y)) in a.iter().zip(b.iter()).enumerate() {
            assert_eq!(x.to_bits(), y.to_bits(), "cell {i}: {x} != {y}");
        }
    }

    /// The pair gives the unfused forward and backward bit for bit, on LeNet's 2x2 tiling and on
    /// overlapping, strided and padded windows (including windows entirely in the padding), with
    /// ties, non-positive windows, a NaN and infinite and negative-zero gradients.
    #[test]
    fn codes_give_the_unfused_values() {
        let shapes =
            [(2, 3, 6, 8, 2, 2, 2, 2, 0, 0), (2, 2, 7, 5, 3, 3, 1, 1, 1, 1), (1, 2, 5, 5, 2, 3, 2, 1, 2, 2)];
        for (n, c, h, w, ph, pw, sh, sw, pad_h, pad_w) in shapes {
            let s = PoolShape { n, c, h, w, ph, pw, stride_h: sh, stride_w: sw, pad_h, pad_w };
            let mut xv = values(n * c * h * w, 0.4);
            xv[3] = f64::NAN;
            let x = Matrix::from_vec(n, c * h * w, xv);
            let cells = c * s.out_h() * s.out_w();
            let mut dv = values(n * cells, 1.3);
            dv[0] = f64::INFINITY;
            dv[1] = -0.0;
            dv[2] = f64::NAN;
            let dout = Matrix::from_vec(n, cells, dv);
            let (pooled, codes) = relu_max_pool_argmax(&x, &s).unwrap();
            same_bits(&pooled, &relu_max_pool(&x, &s).unwrap());
            assert!(codes.dense_data().iter().all(|&k| k != 0.0));
            let dx = max_pool_backward_at(&codes, &dout, &s).unwrap();
            same_bits(&dx, &relu_max_pool_backward(&x, &dout, &s).unwrap());
        }
    }

    #[test]
    fn mismatched_codes_are_an_error() {
        let s =
            PoolShape { n: 2, c: 1, h: 4, w: 4, ph: 2, pw: 2, stride_h: 2, stride_w: 2, pad_h: 0, pad_w: 0 };
        let codes = Matrix::from_vec(2, 3, vec![1.0; 6]);
        let dout = Matrix::from_vec(2, 4, vec![1.0; 8]);
        let e = max_pool_backward_at(&codes, &dout, &s).unwrap_err().to_string();
        assert!(e.contains("codes"), "{e}");
    }
}
