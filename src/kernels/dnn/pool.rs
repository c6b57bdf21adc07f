//! Max and average pooling and their gradients, one pass over each image.
//!
//! Semantics follow SystemDS 3.4.0 as measured with its `sysds` runner: max pooling ignores the
//! padding (a window sees only real cells), average pooling divides by the full window size
//! (padding counts as zeros), and the max gradient goes to the first maximum in row-major window
//! order. Unlike SystemDS, overlapping windows *add* their gradients (SystemDS keeps only the last
//! write, which is not the derivative), and an all-zero input gets its gradient like any other
//! (SystemDS returns all zeros there).
//! A max window entirely in the padding gives `-f64::MAX`, as in SystemDS, and no gradient.

use super::{PoolShape, Window, dense, dense_values, expect_shape};
use crate::kernels::KResult;
use crate::kernels::uninit::{new_filled, zeroed};
use crate::types::matrix::Matrix;
use std::mem::MaybeUninit;

/// Input rows `[lo, hi)` of the window at output row `o` (same for columns).
#[inline]
fn span(o: usize, stride: usize, pad: usize, k: usize, n: usize) -> (usize, usize) {
    let start = o * stride;
    let lo = start.saturating_sub(pad).min(n);
    let hi = (start + k).saturating_sub(pad).min(n);
    (lo, hi)
}

/// The clipped window of every output row and column, computed once per call so the inner
/// loops do no index arithmetic beyond the window itself.
pub(super) struct Spans {
    pub(super) rows: Vec<(usize, usize)>,
    pub(super) cols: Vec<(usize, usize)>,
}

impl Spans {
    pub(super) fn new(g: &Window) -> Self {
        Spans {
            rows: (0..g.oh).map(|o| span(o, g.sh, g.ph, g.kh, g.h)).collect(),
            cols: (0..g.ow).map(|o| span(o, g.sw, g.pw, g.kw, g.w)).collect(),
        }
    }
}

/// Index (within the plane) of the first maximum in row-major order of the window
/// `rows x cols`, or `None` when the window lies entirely in the padding.
#[inline]
pub(super) fn argmax(
    plane: &[f64],
    w: usize,
    (y0, y1): (usize, usize),
    (x0, x1): (usize, usize),
) -> Option<usize> {
    if y0 >= y1 || x0 >= x1 {
        return None;
    }
    let mut best_i = y0 * w + x0;
    let mut best = plane[best_i];
    for y in y0..y1 {
        let row = &plane[y * w + x0..y * w + x1];
        for (j, &v) in row.iter().enumerate() {
            if v > best {
                best = v;
                best_i = y * w + x0 + j;
            }
        }
    }
    Some(best_i)
}

/// Whether the windows are 2x2 and tile every plane exactly (stride 2, no padding, even sizes),
/// as in LeNet's pooling: every input cell then lies in exactly one window.
pub(super) fn tiles_2x2(g: &Window) -> bool {
    (g.kh, g.kw, g.sh, g.sw, g.ph, g.pw) == (2, 2, 2, 2, 0, 0) && g.oh * 2 == g.h && g.ow * 2 == g.w
}

/// The first maximum of a 2x2 window `a b / c d` in row-major order, and its position 0..4,
/// with the same comparisons as [`argmax`] (`>`, so ties and NaNs keep the earlier cell).
#[inline(always)]
pub(super) fn max4(a: f64, b: f64, c: f64, d: f64) -> (f64, usize) {
    let (mut best, mut at) = (a, 0);
    if b > best {
        (best, at) = (b, 1);
    }
    if c > best {
        (best, at) = (c, 2);
    }
    if d > best {
        (best, at) = (d, 3);
    }
    (best, at)
}

/// The gradient `grad` routed to the first maximum of the 2x2 window `a b / c d` (the cell
/// [`max4`] picks), zeros elsewhere; with `relu`, nothing when that maximum is not positive.
///
/// Written without branches: on random activations the winning cell is unpredictable, and the
/// branchy form spent most of the pooling gradient's time in mispredictions. Each cell's value is
/// `grad` masked by a bit mask, so an infinite or NaN gradient still lands only in its cell.
#[inline(always)]
fn route_2x2(a: f64, b: f64, c: f64, d: f64, grad: f64, relu: bool) -> [f64; 4] {
    let mask = |keep: bool| 0u64.wrapping_sub(keep as u64);
    let b_wins_ab = b > a;
    let m_ab = if b_wins_ab { b } else { a };
    let c_wins = c > m_ab;
    let m_abc = if c_wins { c } else { m_ab };
    let d_wins = d > m_abc;
    let best = if d_wins { d } else { m_abc };
    let live = !relu || best > 0.0;
    // `0.0 +` as in the accumulating path: a -0.0 gradient lands as 0.0.
    let g = (0.0 + grad).to_bits() & mask(live);
    let at_d = d_wins;
    let at_c = c_wins & !d_wins;
    let at_b = b_wins_ab & !c_wins & !d_wins;
    let at_a = !(b_wins_ab | c_wins | d_wins);
    [
        f64::from_bits(g & mask(at_a)),
        f64::from_bits(g & mask(at_b)),
        f64::from_bits(g & mask(at_c)),
        f64::from_bits(g & mask(at_d)),
    ]
}

/// A new `N x row_len` output whose row `i` is written by `body(i, row)`, in parallel for large
/// batches. The rows start uninitialised: `body` must write every cell (or zero its row first
/// with [`zeroed`], on its own thread, when it accumulates).
pub(super) fn per_image<F>(n: usize, row_len: usize, body: F) -> Vec<f64>
where
    F: Fn(usize, &mut [MaybeUninit<f64>]) + Sync,
{
    let parallel = n * row_len >= 1 << 15;
    // SAFETY: every caller's body writes each cell of its row (see the callers).
    unsafe { new_filled(n * row_len, row_len, parallel, |start, row| body(start / row_len.max(1), row)) }
}

pub(super) fn check(op: &str, x: &Matrix, s: &PoolShape) -> KResult<()> {
    s.validate()?;
    expect_shape(op, "input", x, s.n, s.c * s.h * s.w)
}

fn check_backward(op: &str, x: &Matrix, dout: &Matrix, s: &PoolShape) -> KResult<()> {
    check(op, x, s)?;
    expect_shape(op, "dout", dout, s.n, s.c * s.out_h() * s.out_w())
}

/// Max pooling forward; `relu` applies `max(0, .)` first. A window entirely in the padding gives
/// `-f64::MAX` (SystemDS 3.4.0's value, measured), or 0 after the relu.
fn max_forward(x: &Matrix, s: &PoolShape, relu: bool) -> Matrix {
    let g = s.window();
    let (plane, oplane) = (g.h * g.w, g.oh * g.ow);
    let xv = dense_values(x);
    let sp = Spans::new(&g);
    let two_by_two = tiles_2x2(&g);
    // Writes every cell: c, oy and ox run over the whole row.
    let out = per_image(s.n, s.c * oplane, |i, row| {
        for c in 0..g.c {
            let src = &xv[(i * g.c + c) * plane..(i * g.c + c + 1) * plane];
            if two_by_two {
                let dst = &mut row[c * oplane..(c + 1) * oplane];
                for (oy, out_row) in dst.chunks_exact_mut(g.ow).enumerate() {
                    let (top, bottom) = (&src[2 * oy * g.w..], &src[(2 * oy + 1) * g.w..]);
                    for (ox, o) in out_row.iter_mut().enumerate() {
                        let (v, _) = max4(top[2 * ox], top[2 * ox + 1], bottom[2 * ox], bottom[2 * ox + 1]);
                        o.write(if relu { v.max(0.0) } else { v });
                    }
                }
                continue;
            }
            for (oy, &ys) in sp.rows.iter().enumerate() {
                for (ox, &xs) in sp.cols.iter().enumerate() {
                    let v = argmax(src, g.w, ys, xs).map_or(f64::MIN, |j| src[j]);
                    row[c * oplane + oy * g.ow + ox].write(if relu { v.max(0.0) } else { v });
                }
            }
        }
    });
    dense(s.n, s.c * oplane, out)
}

/// Max pooling gradient; with `relu`, the gradient of `max_pool(max(0, x))`.
fn max_backward(x: &Matrix, dout: &Matrix, s: &PoolShape, relu: bool) -> Matrix {
    let g = s.window();
    let (plane, oplane) = (g.h * g.w, g.oh * g.ow);
    let xv = dense_values(x);
    let dv = dense_values(dout);
    let sp = Spans::new(&g);
    if tiles_2x2(&g) {
        // Every input cell is in exactly one window, so each window writes its four cells (the
        // gradient at its first maximum, 0 elsewhere) and the row needs no zeroing.
        let dx = per_image(s.n, s.c * plane, |i, row| {
            for c in 0..g.c {
                let src = &xv[(i * g.c + c) * plane..(i * g.c + c + 1) * plane];
                let d = &dv[(i * g.c + c) * oplane..(i * g.c + c + 1) * oplane];
                let dst = &mut row[c * plane..(c + 1) * plane];
                for oy in 0..g.oh {
                    let (r0, r1) = (2 * oy * g.w, (2 * oy + 1) * g.w);
                    for ox in 0..g.ow {
                        let (a, b) = (r0 + 2 * ox, r1 + 2 * ox);
                        let cells =
                            route_2x2(src[a], src[a + 1], src[b], src[b + 1], d[oy * g.ow + ox], relu);
                        dst[a].write(cells[0]);
                        dst[a + 1].write(cells[1]);
                        dst[b].write(cells[2]);
                        dst[b + 1].write(cells[3]);
                    }
                }
            }
        });
        return dense(s.n, s.c * plane, dx);
    }
    let dx = per_image(s.n, s.c * plane, |i, row| {
        let row = zeroed(row);
        for c in 0..g.c {
            let src = &xv[(i * g.c + c) * plane..(i * g.c + c + 1) * plane];
            let d = &dv[(i * g.c + c) * oplane..(i * g.c + c + 1) * oplane];
            let dst = &mut row[c * plane..(c + 1) * plane];
            for (oy, &ys) in sp.rows.iter().enumerate() {
                for (ox, &xs) in sp.cols.iter().enumerate() {
                    if let Some(j) = argmax(src, g.w, ys, xs) {
                        // Below zero the relu is flat: the first max of max(0, x) then has x <= 0.
                        if !relu || src[j] > 0.0 {
                            dst[j] += d[oy * g.ow + ox];
                        }
                    }
                }
            }
        }
    });
    dense(s.n, s.c * plane, dx)
}

/// Max pooling: `N x C*Hout*Wout`.
pub fn max_pool(x: &Matrix, s: &PoolShape) -> KResult<Matrix> {
    check("max_pool", x, s)?;
    Ok(max_forward(x, s, false))
}

/// `max_pool(max(0, x))` in one pass (SystemDS's fused `relu_maxpooling`).
pub fn relu_max_pool(x: &Matrix, s: &PoolShape) -> KResult<Matrix> {
    check("relu_max_pool", x, s)?;
    Ok(max_forward(x, s, true))
}

/// Gradient of max pooling wrt its input; overlapping windows add.
pub fn max_pool_backward(x: &Matrix, dout: &Matrix, s: &PoolShape) -> KResult<Matrix> {
    check_backward("max_pool_backward", x, dout, s)?;
    Ok(max_backward(x, dout, s, false))
}

/// Gradient of `max_pool(max(0, x))` wrt `x`.
pub fn relu_max_pool_backward(x: &Matrix, dout: &Matrix, s: &PoolShape) -> KResult<Matrix> {
    check_backward("relu_max_pool_backward", x, dout, s)?;
    Ok(max_backward(x, dout, s, true))
}

/// Average pooling; the divisor is the full window size, padding included (as SystemDS).
pub fn avg_pool(x: &Matrix, s: &PoolShape) -> KResult<Matrix> {
    check("avg_pool", x, s)?;
    let g = s.window();
    let (plane, oplane) = (g.h * g.w, g.oh * g.ow);
    let scale = 1.0 / (g.kh * g.kw) as f64;
    let xv = dense_values(x);
    // Writes every cell: c, oy and ox run over the whole row.
    let out = per_image(s.n, s.c * oplane, |i, row| {
        for c in 0..g.c {
            let src = &xv[(i * g.c + c) * plane..(i * g.c + c + 1) * plane];
            for oy in 0..g.oh {
                let (y0, y1) = span(oy, g.sh, g.ph, g.kh, g.h);
                for ox in 0..g.ow {
                    let (x0, x1) = span(ox, g.sw, g.pw, g.kw, g.w);
                    let sum: f64 =
                        (y0..y1).map(|y| src[y * g.w + x0..y * g.w + x1].iter().sum::<f64>()).sum();
                    row[c * oplane + oy * g.ow + ox].write(sum * scale);
                }
            }
        }
    });
    Ok(dense(s.n, s.c * oplane, out))
}

/// Gradient of average pooling: each window spreads `dout / (ph*pw)` over its real cells.
pub fn avg_pool_backward(x: &Matrix, dout: &Matrix, s: &PoolShape) -> KResult<Matrix> {
    check_backward("avg_pool_backward", x, dout, s)?;
    let g = s.window();
    let (plane, oplane) = (g.h * g.w, g.oh * g.ow);
    let scale = 1.0 / (g.kh * g.kw) as f64;
    let dv = dense_values(dout);
    let dx = per_image(s.n, s.c * plane, |i, row| {
        let row = zeroed(row);
        for c in 0..g.c {
            let d = &dv[(i * g.c + c) * oplane..(i * g.c + c + 1) * oplane];
            let dst = &mut row[c * plane..(c + 1) * plane];
            for oy in 0..g.oh {
                let (y0, y1) = span(oy, g.sh, g.ph, g.kh, g.h);
                for ox in 0..g.ow {
                    let (x0, x1) = span(ox, g.sw, g.pw, g.kw, g.w);
                    let v = d[oy * g.ow + ox] * scale;
                    for y in y0..y1 {
                        dst[y * g.w + x0..y * g.w + x1].iter_mut().for_each(|a| *a += v);
                    }
                }
            }
        }
    });
    Ok(dense(s.n, s.c * plane, dx))
}
