//! im2col and col2im for one image.
//!
//! The column matrix of an image is `(C*Hf*Wf) x (Hout*Wout)`, row-major: row `(c, ky, kx)`
//! holds, for every output position, the input cell that filter tap sees (0 in the padding).
//! A convolution is then one matrix product, which is what makes it run at gemm speed.

use super::Window;

/// Fills `cols` (`C*kh*kw x oh*ow`) from one dense image `x` (`C*H*W`).
pub(crate) fn im2col_dense(x: &[f64], g: &Window, cols: &mut [f64]) {
    let p = g.oh * g.ow;
    let plane = g.h * g.w;
    for c in 0..g.c {
        let src = &x[c * plane..(c + 1) * plane];
        for ky in 0..g.kh {
            let (y_lo, y_hi) = g.valid_rows(ky);
            for kx in 0..g.kw {
                let row = (c * g.kh + ky) * g.kw + kx;
                let dst = &mut cols[row * p..(row + 1) * p];
                let (x_lo, x_hi) = g.valid_cols(kx);
                dst[..y_lo * g.ow].fill(0.0);
                dst[y_hi * g.ow..].fill(0.0);
                if g.sw == 1 && g.sh == 1 && g.ow == g.w && y_lo < y_hi && x_lo < x_hi {
                    same_width_rows(src, g, ky, kx, (y_lo, y_hi), (x_lo, x_hi), dst);
                    continue;
                }
                for oy in y_lo..y_hi {
                    let iy = oy * g.sh + ky - g.ph;
                    let d = &mut dst[oy * g.ow..(oy + 1) * g.ow];
                    d[..x_lo].fill(0.0);
                    d[x_hi..].fill(0.0);
                    if x_lo >= x_hi {
                        continue;
                    }
                    let s = &src[iy * g.w..(iy + 1) * g.w];
                    let ix0 = x_lo * g.sw + kx - g.pw;
                    if g.sw == 1 {
                        d[x_lo..x_hi].copy_from_slice(&s[ix0..ix0 + (x_hi - x_lo)]);
                    } else {
                        for (j, v) in d[x_lo..x_hi].iter_mut().enumerate() {
                            *v = s[ix0 + j * g.sw];
                        }
                    }
                }
            }
        }
    }
}

/// The rows `y_lo..y_hi` of one im2col row when both strides are 1 and the output is as wide as the
/// input ("same" convolutions such as LeNet's 5x5 pad 2): consecutive output cells then read
/// consecutive input cells, even across rows, so one long copy replaces a short copy per output
/// row, and only the few cells that fall in the left/right padding are zeroed afterwards.
fn same_width_rows(
    src: &[f64],
    g: &Window,
    ky: usize,
    kx: usize,
    (y_lo, y_hi): (usize, usize),
    (x_lo, x_hi): (usize, usize),
    dst: &mut [f64],
) {
    let w = g.w;
    // Output cell q = oy*w + ox reads input cell q + (ky - ph)*w + (kx - pw).
    let first = y_lo * w + x_lo;
    let last = (y_hi - 1) * w + x_hi;
    let src_first = (y_lo + ky - g.ph) * w + x_lo + kx - g.pw;
    dst[first..last].copy_from_slice(&src[src_first..src_first + (last - first)]);
    dst[y_lo * w..first].fill(0.0);
    dst[last..y_hi * w].fill(0.0);
    if x_lo > 0 || x_hi < w {
        for oy in y_lo..y_hi - 1 {
            // The right padding of row oy and the left padding of row oy+1 are adjacent.
            for v in &mut dst[oy * w + x_hi..(oy + 1) * w + x_lo] {
                *v = 0.0;
            }
        }
    }
}

/// Fills `cols` from one sparse image given as (column index, value) pairs of its CSR row: each
/// non-zero is scattered to the taps that see it, so the cost follows the non-zero count.
pub(crate) fn im2col_sparse(idx: &[usize], vals: &[f64], g: &Window, cols: &mut [f64]) {
    let p = g.oh * g.ow;
    let plane = g.h * g.w;
    cols.fill(0.0);
    for (&j, &v) in idx.iter().zip(vals) {
        let c = j / plane;
        let iy = (j % plane) / g.w;
        let ix = j % g.w;
        for ky in 0..g.kh {
            // oy*sh = iy + ph - ky must be a non-negative multiple of sh below oh*sh.
            let Some(ty) = (iy + g.ph).checked_sub(ky) else { continue };
            if ty % g.sh != 0 || ty / g.sh >= g.oh {
                continue;
            }
            let oy = ty / g.sh;
            for kx in 0..g.kw {
                let Some(tx) = (ix + g.pw).checked_sub(kx) else { continue };
                if tx % g.sw != 0 || tx / g.sw >= g.ow {
                    continue;
                }
                let row = (c * g.kh + ky) * g.kw + kx;
                cols[row * p + oy * g.ow + tx / g.sw] = v;
            }
        }
    }
}

/// Adds `cols` (`C*kh*kw x oh*ow`) back into one image `dx` (`C*H*W`): the adjoint of im2col.
pub(crate) fn col2im_add(cols: &[f64], g: &Window, dx: &mut [f64]) {
    let p = g.oh * g.ow;
    let plane = g.h * g.w;
    for c in 0..g.c {
        let dst = &mut dx[c * plane..(c + 1) * plane];
        for ky in 0..g.kh {
            let (y_lo, y_hi) = g.valid_rows(ky);
            for kx in 0..g.kw {
                let row = (c * g.kh + ky) * g.kw + kx;
                let src = &cols[row * p..(row + 1) * p];
                let (x_lo, x_hi) = g.valid_cols(kx);
                if x_lo >= x_hi {
                    continue;
                }
                for oy in y_lo..y_hi {
                    let iy = oy * g.sh + ky - g.ph;
                    let s = &src[oy * g.ow + x_lo..oy * g.ow + x_hi];
                    let d = &mut dst[iy * g.w..(iy + 1) * g.w];
                    let ix0 = x_lo * g.sw + kx - g.pw;
                    if g.sw == 1 {
                        for (a, b) in d[ix0..ix0 + s.len()].iter_mut().zip(s) {
                            *a += *b;
                        }
                    } else {
                        for (j, b) in s.iter().enumerate() {
                            d[ix0 + j * g.sw] += *b;
                        }
                    }
                }
            }
        }
    }
}

/// [`im2col_dense`] for the output rows `oy` only: `cols` is `C*kh*kw x oy.len()*ow`. Large
/// images are convolved a band of output rows at a time, so the column buffer stays in cache.
pub(crate) fn im2col_dense_rows(x: &[f64], g: &Window, oy: std::ops::Range<usize>, cols: &mut [f64]) {
    let tp = oy.len() * g.ow;
    let plane = g.h * g.w;
    for c in 0..g.c {
        let src = &x[c * plane..(c + 1) * plane];
        for ky in 0..g.kh {
            let (y_lo, y_hi) = g.valid_rows(ky);
            for kx in 0..g.kw {
                let row = (c * g.kh + ky) * g.kw + kx;
                let dst = &mut cols[row * tp..(row + 1) * tp];
                let (x_lo, x_hi) = g.valid_cols(kx);
                for (t, o) in oy.clone().enumerate() {
                    let d = &mut dst[t * g.ow..(t + 1) * g.ow];
                    if o < y_lo || o >= y_hi || x_lo >= x_hi {
                        d.fill(0.0);
                        continue;
                    }
                    let iy = o * g.sh + ky - g.ph;
                    d[..x_lo].fill(0.0);
                    d[x_hi..].fill(0.0);
                    let s = &src[iy * g.w..(iy + 1) * g.w];
                    let ix0 = x_lo * g.sw + kx - g.pw;
                    if g.sw == 1 {
                        d[x_lo..x_hi].copy_from_slice(&s[ix0..ix0 + (x_hi - x_lo)]);
                    } else {
                        for (j, v) in d[x_lo..x_hi].iter_mut().enumerate() {
                            *v = s[ix0 + j * g.sw];
                        }
                    }
                }
            }
        }
    }
}

/// [`col2im_add`] for the output rows `oy` only (`cols` as [`im2col_dense_rows`] lays it out).
pub(crate) fn col2im_add_rows(cols: &[f64], g: &Window, oy: std::ops::Range<usize>, dx: &mut [f64]) {
    let tp = oy.len() * g.ow;
    let plane = g.h * g.w;
    for c in 0..g.c {
        let dst = &mut dx[c * plane..(c + 1) * plane];
        for ky in 0..g.kh {
            let (y_lo, y_hi) = g.valid_rows(ky);
            for kx in 0..g.kw {
                let row = (c * g.kh + ky) * g.kw + kx;
                let src = &cols[row * tp..(row + 1) * tp];
                let (x_lo, x_hi) = g.valid_cols(kx);
                if x_lo >= x_hi {
                    continue;
                }
                for o in oy.start.max(y_lo)..oy.end.min(y_hi) {
                    let t = o - oy.start;
                    let iy = o * g.sh + ky - g.ph;
                    let s = &src[t * g.ow + x_lo..t * g.ow + x_hi];
                    let d = &mut dst[iy * g.w..(iy + 1) * g.w];
                    let ix0 = x_lo * g.sw + kx - g.pw;
                    if g.sw == 1 {
                        for (a, b) in d[ix0..ix0 + s.len()].iter_mut().zip(s) {
                            *a += *b;
                        }
                    } else {
                        for (j, b) in s.iter().enumerate() {
                            d[ix0 + j * g.sw] += *b;
                        }
                    }
                }
            }
        }
    }
}
