//! Direct convolution (no im2col) for stride 1 over wide images with few filters.
//!
//! im2col copies every input pixel once per filter tap (25 times for 5x5), and the product then
//! packs that buffer again: for a 224x224 image and 16 filters the copies, not the arithmetic,
//! are most of the time. Here each image is padded once, and each block of 4 filters x 32 output
//! columns of one output row is accumulated in registers over all taps: per tap, four vectors of
//! the padded input row (shifted by the tap's column) and four filter weights give sixteen fused
//! multiply-adds, with nothing written until the block is done.
//!
//! Values: each output is `bias + sum over (channel, tap row, tap column)` in that order, one
//! fused multiply-add per term, where the im2col product sums in gemm's blocked order; the two
//! agree to rounding (the tests compare with a plain loop to 1e-12 relative).

use super::Window;
use std::mem::MaybeUninit;

/// Output columns per register block (four AVX-512 vectors).
const XB: usize = 32;
/// Filters per register block.
const FB: usize = 4;

/// Whether the direct kernel applies and pays: stride 1, rows wide enough to fill the column
/// blocks, an im2col buffer that would not fit a core's L2 cache (smaller images are faster
/// through one gemm per image), and AVX-512, where the register-pinned block was measured faster
/// (the portable form, used for edge blocks, spills its accumulators and is not).
pub(super) fn applies(g: &Window, filters: usize, images: usize) -> bool {
    g.sh == 1
        && g.sw == 1
        && g.ow >= XB
        && filters >= FB
        && images >= 2
        && g.c * g.kh * g.kw * g.oh * g.ow > 1 << 18
        && super::super::simd::has_avx512()
}

/// Padded image geometry: rows of `width` cells (the output width rounded up to whole 8-column
/// blocks, plus the taps' reach), `height` rows per channel.
#[derive(Clone, Copy)]
struct Padded {
    width: usize,
    height: usize,
}

fn padded(g: &Window) -> Padded {
    Padded { width: g.ow.div_ceil(8) * 8 + g.kw - 1, height: g.oh + g.kh - 1 }
}

/// Scratch cells one image needs: its padded copy.
pub(super) fn scratch_len(g: &Window) -> usize {
    let p = padded(g);
    g.c * p.height * p.width
}

/// Convolves one image (`C*H*W` cells) with `filters` filters (`w`: `F x C*Hf*Wf`, row-major)
/// into `out` (`F x Hout*Wout`), plus `bias[f]` when given. `scratch` holds [`scratch_len`]
/// cells. Only where [`applies`] holds.
pub(super) fn forward_image(
    image: &[f64],
    w: &[f64],
    bias: Option<&[f64]>,
    g: &Window,
    filters: usize,
    scratch: &mut [f64],
    out: &mut [MaybeUninit<f64>],
) {
    let p = padded(g);
    pad_image(image, g, p, scratch);
    let level = super::super::simd::level();
    #[cfg(target_arch = "x86_64")]
    {
        if level >= 2 {
            // SAFETY: `simd::level` detected AVX-512F/DQ.
            return unsafe { forward_avx512(scratch, w, bias, g, p, filters, out) };
        }
        if level == 1 {
            // SAFETY: `simd::level` detected AVX2 and FMA.
            return unsafe { forward_avx2(scratch, w, bias, g, p, filters, out) };
        }
    }
    forward_rows(scratch, w, bias, g, p, filters, out)
}

/// # Safety
/// The CPU must support AVX-512F and AVX-512DQ.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,avx2,fma")]
unsafe fn forward_avx512(
    xp: &[f64],
    w: &[f64],
    bias: Option<&[f64]>,
    g: &Window,
    p: Padded,
    filters: usize,
    out: &mut [MaybeUninit<f64>],
) {
    forward_rows(xp, w, bias, g, p, filters, out)
}

/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn forward_avx2(
    xp: &[f64],
    w: &[f64],
    bias: Option<&[f64]>,
    g: &Window,
    p: Padded,
    filters: usize,
    out: &mut [MaybeUninit<f64>],
) {
    forward_rows(xp, w, bias, g, p, filters, out)
}

/// Copies the image into `xp` with its zero border (and zeros past the last output column).
fn pad_image(image: &[f64], g: &Window, p: Padded, xp: &mut [f64]) {
    let plane = p.height * p.width;
    for c in 0..g.c {
        let dst = &mut xp[c * plane..(c + 1) * plane];
        for (py, row) in dst.chunks_exact_mut(p.width).enumerate() {
            let y = py as isize - g.ph as isize;
            if y < 0 || y >= g.h as isize {
                row.fill(0.0);
                continue;
            }
            let src = &image[(c * g.h + y as usize) * g.w..][..g.w];
            let (left, rest) = row.split_at_mut(g.pw.min(p.width));
            left.fill(0.0);
            let n = g.w.min(rest.len());
            rest[..n].copy_from_slice(&src[..n]);
            rest[n..].fill(0.0);
        }
    }
}

#[inline(always)]
fn forward_rows(
    xp: &[f64],
    w: &[f64],
    bias: Option<&[f64]>,
    g: &Window,
    p: Padded,
    filters: usize,
    out: &mut [MaybeUninit<f64>],
) {
    let positions = g.oh * g.ow;
    let mut f0 = 0;
    while f0 + FB <= filters {
        for oy in 0..g.oh {
            let mut x0 = 0;
            while x0 < g.ow {
                if x0 + XB <= g.ow {
                    #[cfg(target_arch = "x86_64")]
                    if super::super::simd::has_avx512() {
                        // SAFETY: AVX-512F detected.
                        unsafe { block_avx512(xp, w, bias, g, p, f0, oy, x0, positions, out) };
                        x0 += XB;
                        continue;
                    }
                    block::<FB, XB>(xp, w, bias, g, p, f0, oy, x0, positions, out);
                    x0 += XB;
                } else {
                    block::<FB, 8>(xp, w, bias, g, p, f0, oy, x0, positions, out);
                    x0 += 8;
                }
            }
        }
        f0 += FB;
    }
    for f in f0..filters {
        for oy in 0..g.oh {
            for x0 in (0..g.ow).step_by(8) {
                block::<1, 8>(xp, w, bias, g, p, f, oy, x0, positions, out);
            }
        }
    }
}

/// [`block`] for 4 filters x 32 columns with the sixteen accumulators pinned in AVX-512
/// registers (the generic form spills them to the stack on every tap).
///
/// # Safety
/// The CPU must support AVX-512F; `x0 + 32 <= ow` and the padded row holds the block.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn block_avx512(
    xp: &[f64],
    w: &[f64],
    bias: Option<&[f64]>,
    g: &Window,
    p: Padded,
    f0: usize,
    oy: usize,
    x0: usize,
    positions: usize,
    out: &mut [MaybeUninit<f64>],
) {
    use std::arch::x86_64::*;
    let taps = g.c * g.kh * g.kw;
    let plane = p.height * p.width;
    let start = |i: usize| _mm512_set1_pd(bias.map_or(0.0, |b| b[f0 + i]));
    let mut acc = [[start(0); 4], [start(1); 4], [start(2); 4], [start(3); 4]];
    for c in 0..g.c {
        for ky in 0..g.kh {
            let row = &xp[c * plane + (oy + ky) * p.width + x0..];
            let tap0 = (c * g.kh + ky) * g.kw;
            assert!(row.len() >= g.kw - 1 + 32 && w.len() >= (f0 + 3) * taps + tap0 + g.kw);
            for kx in 0..g.kw {
                // SAFETY: the assert above bounds row[kx..kx + 32] and the four weights.
                unsafe {
                    let src = row.as_ptr().add(kx);
                    let v = [
                        _mm512_loadu_pd(src),
                        _mm512_loadu_pd(src.add(8)),
                        _mm512_loadu_pd(src.add(16)),
                        _mm512_loadu_pd(src.add(24)),
                    ];
                    for (i, a) in acc.iter_mut().enumerate() {
                        let wt = _mm512_set1_pd(*w.get_unchecked((f0 + i) * taps + tap0 + kx));
                        for (aj, vj) in a.iter_mut().zip(&v) {
                            *aj = _mm512_fmadd_pd(wt, *vj, *aj);
                        }
                    }
                }
            }
        }
    }
    for (i, a) in acc.iter().enumerate() {
        let dst = &mut out[(f0 + i) * positions + oy * g.ow + x0..][..32];
        // SAFETY: `dst` holds 32 cells; MaybeUninit<f64> has f64's layout.
        unsafe {
            let d = dst.as_mut_ptr() as *mut f64;
            for (j, aj) in a.iter().enumerate() {
                _mm512_storeu_pd(d.add(8 * j), *aj);
            }
        }
    }
}

/// Filters `f0..f0+NF`, output row `oy`, columns `x0..x0+NX` (those below `ow` are written).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn block<const NF: usize, const NX: usize>(
    xp: &[f64],
    w: &[f64],
    bias: Option<&[f64]>,
    g: &Window,
    p: Padded,
    f0: usize,
    oy: usize,
    x0: usize,
    positions: usize,
    out: &mut [MaybeUninit<f64>],
) {
    let taps = g.c * g.kh * g.kw;
    let plane = p.height * p.width;
    let mut acc = [[0.0f64; NX]; NF];
    if let Some(b) = bias {
        for (i, a) in acc.iter_mut().enumerate() {
            *a = [b[f0 + i]; NX];
        }
    }
    for c in 0..g.c {
        for ky in 0..g.kh {
            let row = &xp[c * plane + (oy + ky) * p.width + x0..];
            let tap0 = (c * g.kh + ky) * g.kw;
            for kx in 0..g.kw {
                let src: &[f64; NX] = row[kx..kx + NX].try_into().expect("padded row holds the block");
                for (i, a) in acc.iter_mut().enumerate() {
                    let wt = w[(f0 + i) * taps + tap0 + kx];
                    for j in 0..NX {
                        a[j] = wt.mul_add(src[j], a[j]);
                    }
                }
            }
        }
    }
    let n = NX.min(g.ow - x0);
    for (i, a) in acc.iter().enumerate() {
        let dst = &mut out[(f0 + i) * positions + oy * g.ow + x0..][..n];
        for (d, v) in dst.iter_mut().zip(a) {
            d.write(*v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The textbook definition, summed in the kernel's order with separate multiply and add.
    fn naive(image: &[f64], w: &[f64], bias: Option<&[f64]>, g: &Window, f: usize) -> Vec<f64> {
        let mut out = vec![0.0; f * g.oh * g.ow];
        for fi in 0..f {
            for oy in 0..g.oh {
                for ox in 0..g.ow {
                    let mut s = bias.map_or(0.0, |b| b[fi]);
                    for c in 0..g.c {
                        for ky in 0..g.kh {
                            for kx in 0..g.kw {
                                let (y, x) =
                                    ((oy + ky) as isize - g.ph as isize, (ox + kx) as isize - g.pw as isize);
                                if y >= 0 && x >= 0 && (y as usize) < g.h && (x as usize) < g.w {
                                    s += w[fi * g.c * g.kh * g.kw + (c * g.kh + ky) * g.kw + kx]
                                        * image[(c * g.h + y as usize) * g.w + x as usize];
                                }
                            }
                        }
                    }
                    out[(fi * g.oh + oy) * g.ow + ox] = s;
                }
            }
        }
        out
    }

    fn window(c: usize, h: usize, w: usize, k: usize, pad: usize) -> Window {
        let (oh, ow) = (h + 2 * pad - k + 1, w + 2 * pad - k + 1);
        Window { c, h, w, kh: k, kw: k, sh: 1, sw: 1, ph: pad, pw: pad, oh, ow }
    }

    #[test]
    fn agrees_with_the_definition() {
        for (c, h, w, k, pad, f, with_bias) in [
            (3, 9, 37, 5, 2, 6, true),
            (2, 5, 64, 3, 1, 4, false),
            (1, 4, 33, 1, 0, 9, true),
            (4, 7, 45, 5, 0, 5, true),
            (2, 6, 40, 3, 2, 4, false),
        ] {
            let g = window(c, h, w, k, pad);
            let image: Vec<f64> = (0..c * h * w).map(|i| ((i as f64) * 0.37).sin()).collect();
            let wts: Vec<f64> = (0..f * c * k * k).map(|i| ((i as f64) * 0.91).cos() * 0.5).collect();
            let b: Vec<f64> = (0..f).map(|i| i as f64 * 0.25 - 0.5).collect();
            let bias = with_bias.then_some(b.as_slice());
            let mut scratch = vec![f64::NAN; scratch_len(&g)];
            let mut out = vec![MaybeUninit::new(f64::NAN); f * g.oh * g.ow];
            forward_image(&image, &wts, bias, &g, f, &mut scratch, &mut out);
            let want = naive(&image, &wts, bias, &g, f);
            for (i, (o, e)) in out.iter().zip(&want).enumerate() {
                // SAFETY: every cell was written (the NaN fill would show otherwise).
                let o = unsafe { o.assume_init() };
                assert!(
                    (o - e).abs() <= 1e-12 * (1.0 + e.abs()),
                    "{c}x{h}x{w} k{k} p{pad} f{f}: cell {i}: {o} vs {e}"
                );
            }
        }
    }
}
