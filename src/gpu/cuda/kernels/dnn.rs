//! The CUDA C kernels of the DNN builtins past the forward convolution: pooling forward and
//! backward (max, max of ReLU, average) and both gradients of the convolution. Images are rows
//! of `C x H x W` cells (NCHW); one thread computes one output cell by gathering, so no two
//! threads write the same cell and nothing needs atomics (the wgpu kernels' design, same
//! semantics).
//!
//! The pools follow `crate::kernels::dnn::pool` step by step, so they are the CPU's to the bit:
//! a window is clipped to the image (padding holds no cells), its maximum is the first strictly
//! greatest cell in row-major order (`>`: ties and NaNs keep the earlier cell), a window wholly
//! in the padding gives `-f64::MAX` (0 after the ReLU), an average sums each row from -0.0 and
//! then the rows' sums (Rust's float `sum`) and scales by `1 / (kh*kw)`; a gradient cell adds,
//! from 0.0, the gradients of the windows that pick it, in the windows' row-major order, as the
//! CPU scatters them. The convolution gradients sum in another order than the CPU's im2col
//! products (each kernel's doc says which), so they agree with it to rounding (1e-12 relative).

use super::{HELPERS, Scalar};
use crate::kernels::dnn::{ConvShape, PoolShape};

/// What a pool kernel computes (its `mode`): the one enum both backends share.
pub(crate) use crate::gpu::Pool;

/// A window's clipped rows or columns, its first maximum, and the output positions whose
/// windows cover an input position.
const POOL_HELPERS: &str = r#"
/* Input rows [lo, hi) of the window at output row o (columns alike): clipped to [0, n). */
__device__ __forceinline__ void pool_span(long long o, long long stride, long long pad, long long k,
        long long n, long long* lo, long long* hi) {
    long long a = o * stride - pad;
    long long b = o * stride + k - pad;
    a = a < 0 ? 0 : a;
    b = b < 0 ? 0 : b;
    *lo = a < n ? a : n;
    *hi = b < n ? b : n;
}
/* The index in the plane of the first strictly greatest cell of rows [y0, y1) x columns
   [x0, x1), or -1 for an empty window (wholly in the padding). */
__device__ __forceinline__ long long pool_argmax(const double* plane, long long w, long long y0,
        long long y1, long long x0, long long x1) {
    if (y0 >= y1 || x0 >= x1) return -1;
    long long best_i = y0 * w + x0;
    double best = plane[best_i];
    for (long long y = y0; y < y1; y++) {
        for (long long x = x0; x < x1; x++) {
            long long j = y * w + x;
            double v = plane[j];
            if (v > best) { best = v; best_i = j; }
        }
    }
    return best_i;
}
/* The output positions [lo, hi) whose windows cover input position i:
   o*stride - pad <= i < o*stride + k - pad, o < n_out. */
__device__ __forceinline__ void pool_covering(long long i, long long stride, long long pad, long long k,
        long long n_out, long long* lo, long long* hi) {
    long long top = (i + pad) / stride + 1;
    *hi = top < n_out ? top : n_out;
    *lo = i + pad + 1 > k ? (i + pad + 1 - k + stride - 1) / stride : 0;
}
"#;

/// The pool kernels' scalar arguments after their buffers: the geometry `n, c, h, w, kh, kw,
/// sh, sw, ph, pw, oh, ow`, the mode, and the average's scale `1 / (kh*kw)`.
pub fn pool_scalars(s: &PoolShape, kind: Pool) -> Vec<Scalar> {
    let dims =
        [s.n, s.c, s.h, s.w, s.ph, s.pw, s.stride_h, s.stride_w, s.pad_h, s.pad_w, s.out_h(), s.out_w()];
    let mut v: Vec<Scalar> = dims.iter().map(|&d| Scalar::I64(d as i64)).collect();
    v.push(Scalar::I32(kind as i32));
    v.push(Scalar::F64(1.0 / (s.ph * s.pw) as f64));
    v
}

/// `max_pool`, `_relu_max_pool` and `avg_pool`, `(X, O, pool_scalars)`: one thread an output
/// cell of `n*c*oh*ow`.
pub fn pool_forward(name: &str) -> String {
    format!(
        r#"{HELPERS}{POOL_HELPERS}
extern "C" __global__ void {name}(const double* X, double* O, long long n, long long c, long long h,
        long long w, long long kh, long long kw, long long sh, long long sw, long long ph, long long pw,
        long long oh, long long ow, int mode, double scale) {{
    long long oplane = oh * ow;
    GRID_LOOP(i, n * c * oplane) {{
        long long pos = i % oplane;
        const double* src = X + (i / oplane) * h * w;
        long long y0, y1, x0, x1;
        pool_span(pos / ow, sh, ph, kh, h, &y0, &y1);
        pool_span(pos % ow, sw, pw, kw, w, &x0, &x1);
        if (mode == 2) {{
            double s = -0.0;
            for (long long y = y0; y < y1; y++) {{
                double r = -0.0;
                for (long long x = x0; x < x1; x++) r = r + src[y * w + x];
                s = s + r;
            }}
            O[i] = s * scale;
        }} else {{
            long long j = pool_argmax(src, w, y0, y1, x0, x1);
            double v = j < 0 ? -__longlong_as_double(0x7fefffffffffffffLL) : src[j];
            if (mode == 1 && !(v > 0.0)) v = 0.0;
            O[i] = v;
        }}
    }}
}}
"#
    )
}

/// `max_pool_backward`, `_relu_max_pool_backward` and `avg_pool_backward`, `(X, D, O,
/// pool_scalars)`: one thread an input cell of `n*c*h*w`, adding from 0.0 the gradients of the
/// windows over it in row-major window order (for max, those whose first maximum it is; after
/// the ReLU, only where that maximum is positive; for the average, `dout * scale`).
pub fn pool_backward(name: &str) -> String {
    format!(
        r#"{HELPERS}{POOL_HELPERS}
extern "C" __global__ void {name}(const double* X, const double* D, double* O, long long n, long long c,
        long long h, long long w, long long kh, long long kw, long long sh, long long sw, long long ph,
        long long pw, long long oh, long long ow, int mode, double scale) {{
    long long plane = h * w;
    GRID_LOOP(i, n * c * plane) {{
        long long at = i % plane;
        long long iy = at / w, ix = at % w;
        const double* src = X + (i / plane) * plane;
        const double* d = D + (i / plane) * oh * ow;
        long long oy0, oy1, ox0, ox1;
        pool_covering(iy, sh, ph, kh, oh, &oy0, &oy1);
        pool_covering(ix, sw, pw, kw, ow, &ox0, &ox1);
        double acc = 0.0;
        for (long long oy = oy0; oy < oy1; oy++) {{
            for (long long ox = ox0; ox < ox1; ox++) {{
                double g = d[oy * ow + ox];
                if (mode == 2) {{
                    acc = acc + g * scale;
                    continue;
                }}
                long long y0, y1, x0, x1;
                pool_span(oy, sh, ph, kh, h, &y0, &y1);
                pool_span(ox, sw, pw, kw, w, &x0, &x1);
                long long j = pool_argmax(src, w, y0, y1, x0, x1);
                if (j == at && (mode == 0 || src[j] > 0.0)) acc = acc + g;
            }}
        }}
        O[i] = acc;
    }}
}}
"#
    )
}

/// The convolution kernels' scalar arguments after their buffers: `n, c, h, w, f, hf, wf, sh,
/// sw, ph, pw, oh, ow` (`conv2d` forward adds its bias flag).
pub fn conv_scalars(s: &ConvShape) -> Vec<Scalar> {
    [s.n, s.c, s.h, s.w, s.f, s.hf, s.wf, s.stride_h, s.stride_w, s.pad_h, s.pad_w, s.out_h(), s.out_w()]
        .iter()
        .map(|&d| Scalar::I64(d as i64))
        .collect()
}

/// The geometry parameters the convolution gradients declare (as [`conv_scalars`] gives them).
const CONV_PARAMS: &str = "long long n, long long c, long long h, long long w, long long f, long long hf, \
                           long long wf, long long sh, long long sw, long long ph, long long pw, long long oh, \
                           long long ow";

/// `conv2d_backward_filter(X, dout)`, `(X, D, O, conv_scalars)`: one thread a cell
/// `dW[f, c, ky, kx]`, the sum of `dout[n, f, oy, ox] * X[n, c, oy*sh + ky - ph, ox*sw + kx - pw]`
/// over the taps inside the image, accumulated from 0.0 by fused multiply-adds in the order
/// image, output row, output column (the CPU sums per image im2col products, in gemm's order).
pub fn conv2d_backward_filter(name: &str) -> String {
    format!(
        r#"{HELPERS}
extern "C" __global__ void {name}(const double* X, const double* D, double* O, {CONV_PARAMS}) {{
    long long taps = hf * wf;
    GRID_LOOP(i, f * c * taps) {{
        long long fi = i / (c * taps);
        long long ci = (i / taps) % c;
        long long ky = (i % taps) / wf, kx = i % wf;
        double acc = 0.0;
        for (long long img = 0; img < n; img++) {{
            const double* xb = X + (img * c + ci) * h * w;
            const double* db = D + (img * f + fi) * oh * ow;
            for (long long oy = 0; oy < oh; oy++) {{
                long long iy = oy * sh + ky - ph;
                if (iy < 0 || iy >= h) continue;
                for (long long ox = 0; ox < ow; ox++) {{
                    long long ix = ox * sw + kx - pw;
                    if (ix < 0 || ix >= w) continue;
                    acc = fma(db[oy * ow + ox], xb[iy * w + ix], acc);
                }}
            }}
        }}
        O[i] = acc;
    }}
}}
"#
    )
}

/// `conv2d_backward_data(W, dout)`, `(W, D, O, conv_scalars)`: one thread a cell
/// `dX[n, c, iy, ix]`, the sum of `W[f, c, ky, kx] * dout[n, f, oy, ox]` over the filters and
/// taps with `iy = oy*sh + ky - ph`, `ix = ox*sw + kx - pw`, accumulated from 0.0 by fused
/// multiply-adds in the order filter, tap row, tap column (the CPU forms `t(W) %*% dout` per
/// image in gemm's order, then adds the columns into the image in im2col's order).
pub fn conv2d_backward_data(name: &str) -> String {
    format!(
        r#"{HELPERS}
extern "C" __global__ void {name}(const double* W, const double* D, double* O, {CONV_PARAMS}) {{
    long long plane = h * w;
    GRID_LOOP(i, n * c * plane) {{
        long long img = i / (c * plane);
        long long ci = (i / plane) % c;
        long long iy = (i % plane) / w, ix = i % w;
        double acc = 0.0;
        for (long long fi = 0; fi < f; fi++) {{
            const double* wb = W + (fi * c + ci) * hf * wf;
            const double* db = D + (img * f + fi) * oh * ow;
            for (long long ky = 0; ky < hf; ky++) {{
                long long ty = iy + ph - ky;
                if (ty < 0 || ty % sh != 0 || ty / sh >= oh) continue;
                for (long long kx = 0; kx < wf; kx++) {{
                    long long tx = ix + pw - kx;
                    if (tx < 0 || tx % sw != 0 || tx / sw >= ow) continue;
                    acc = fma(wb[ky * wf + kx], db[(ty / sh) * ow + tx / sw], acc);
                }}
            }}
        }}
        O[i] = acc;
    }}
}}
"#
    )
}
