//! The DNN kernels beyond the forward convolution: pooling forward and backward (max, max of
//! ReLU, average) and both gradients of the convolution. Images are rows of `C x H x W` cells
//! (NCHW); one invocation computes one output cell by gathering, so no two invocations write
//! the same cell and nothing needs atomics.
//!
//! The pools follow `crate::kernels::dnn::pool` step by step: a window is clipped to the image
//! (padding holds no cells), its maximum is the first strictly greatest cell in row-major order,
//! and a gradient cell adds the windows that pick it in the windows' row-major order, starting
//! from 0, so the device's pools and their gradients are the CPU's to the bit. The
//! convolution gradients accumulate in another order than the CPU's im2col products, so they
//! agree to rounding (1e-12 relative).

use super::CELL_ENTRY;

/// Pooling geometry, shared by the pool kernels' uniforms.
const POOL_PARAMS: &str = "struct P { n: u32, c: u32, h: u32, w: u32, kh: u32, kw: u32, sh: u32, sw: u32, \
                           ph: u32, pw: u32, oh: u32, ow: u32, mode: u32, pad: u32, scale: f64, lowest: f64 }";

/// What a pool kernel computes (its `mode`): the one enum both backends share.
pub(crate) use crate::gpu::Pool;

/// Helpers for the pool kernels: a window's clipped rows or columns, and its argmax.
const POOL_HELPERS: &str = r#"
fn span(o: u32, stride: u32, pad: u32, k: u32, n: u32) -> vec2<u32> {
    let start = o * stride;
    let lo = min(select(0u, start - pad, start > pad), n);
    let hi = min(select(0u, start + k - pad, start + k > pad), n);
    return vec2<u32>(lo, hi);
}
// The index of the first strictly greatest cell of a window (an empty window gives none: n).
fn argmax(base: u32, ys: vec2<u32>, xs: vec2<u32>) -> u32 {
    if (ys.x >= ys.y || xs.x >= xs.y) { return 0xffffffffu; }
    var best_i = base + ys.x * p.w + xs.x;
    var best = X[best_i];
    for (var y = ys.x; y < ys.y; y++) {
        for (var x = xs.x; x < xs.y; x++) {
            let j = base + y * p.w + x;
            let v = X[j];
            if (v > best) { best = v; best_i = j; }
        }
    }
    return best_i;
}
"#;

/// `max_pool`, `_relu_max_pool` and `avg_pool`: one invocation an output cell.
pub fn pool_forward() -> String {
    format!(
        r#"
{POOL_PARAMS}
@group(0) @binding(0) var<storage, read> X: array<f64>;
@group(0) @binding(1) var<storage, read_write> O: array<f64>;
@group(0) @binding(2) var<uniform> p: P;
{POOL_HELPERS}
{CELL_ENTRY}
    let oplane = p.oh * p.ow;
    if (i >= p.n * p.c * oplane) {{ return; }}
    let plane_index = i / oplane;
    let pos = i % oplane;
    let base = plane_index * p.h * p.w;
    let ys = span(pos / p.ow, p.sh, p.ph, p.kh, p.h);
    let xs = span(pos % p.ow, p.sw, p.pw, p.kw, p.w);
    if (p.mode == 2u) {{
        // Rows summed from -0.0 (Rust's float sum), then the rows' sums.
        var s = f64(-0.0);
        for (var y = ys.x; y < ys.y; y++) {{
            var r = f64(-0.0);
            for (var x = xs.x; x < xs.y; x++) {{ r = r + X[base + y * p.w + x]; }}
            s = s + r;
        }}
        O[i] = s * p.scale;
        return;
    }}
    let j = argmax(base, ys, xs);
    var v = p.lowest;
    if (j != 0xffffffffu) {{ v = X[j]; }}
    if (p.mode == 1u && !(v > f64(0.0))) {{ v = f64(0.0); }}
    O[i] = v;
}}
"#
    )
}

/// `max_pool_backward`, `_relu_max_pool_backward` and `avg_pool_backward`: one invocation an
/// input cell, adding the gradients of the windows over it (those that pick it, for max).
pub fn pool_backward() -> String {
    format!(
        r#"
{POOL_PARAMS}
@group(0) @binding(0) var<storage, read> X: array<f64>;
@group(0) @binding(1) var<storage, read> D: array<f64>;
@group(0) @binding(2) var<storage, read_write> O: array<f64>;
@group(0) @binding(3) var<uniform> p: P;
{POOL_HELPERS}
// The output positions whose windows cover input position `i` (start - pad <= i < start + k - pad).
fn covering(i: u32, stride: u32, pad: u32, k: u32, n_out: u32) -> vec2<u32> {{
    let hi = min((i + pad) / stride + 1u, n_out);
    var lo = 0u;
    if (i + pad + 1u > k) {{ lo = (i + pad + 1u - k + stride - 1u) / stride; }}
    return vec2<u32>(lo, hi);
}}
{CELL_ENTRY}
    let plane = p.h * p.w;
    if (i >= p.n * p.c * plane) {{ return; }}
    let plane_index = i / plane;
    let iy = (i % plane) / p.w;
    let ix = i % p.w;
    let base = plane_index * plane;
    let dbase = plane_index * p.oh * p.ow;
    let oys = covering(iy, p.sh, p.ph, p.kh, p.oh);
    let oxs = covering(ix, p.sw, p.pw, p.kw, p.ow);
    var acc = f64(0.0);
    for (var oy = oys.x; oy < oys.y; oy++) {{
        for (var ox = oxs.x; ox < oxs.y; ox++) {{
            let d = D[dbase + oy * p.ow + ox];
            if (p.mode == 2u) {{
                acc = acc + d * p.scale;
            }} else {{
                let j = argmax(base, span(oy, p.sh, p.ph, p.kh, p.h), span(ox, p.sw, p.pw, p.kw, p.w));
                if (j == i && (p.mode == 0u || X[j] > f64(0.0))) {{ acc = acc + d; }}
            }}
        }}
    }}
    O[i] = acc;
}}
"#
    )
}

/// Convolution geometry, shared by the gradient kernels' uniforms (as `conv2d`'s).
const CONV_PARAMS: &str = "struct P { n: u32, c: u32, h: u32, w: u32, f: u32, hf: u32, wf: u32, sh: u32, sw: u32, \
                           ph: u32, pw: u32, oh: u32, ow: u32 }";

/// `conv2d_backward_filter(X, dout)`: `dW[f, c, ky, kx] = sum over images and output positions
/// of dout[n, f, oy, ox] * X[n, c, oy*sh + ky - ph, ox*sw + kx - pw]`, one invocation a cell.
pub fn conv2d_backward_filter() -> String {
    format!(
        r#"
{CONV_PARAMS}
@group(0) @binding(0) var<storage, read> X: array<f64>;
@group(0) @binding(1) var<storage, read> D: array<f64>;
@group(0) @binding(2) var<storage, read_write> O: array<f64>;
@group(0) @binding(3) var<uniform> p: P;
{CELL_ENTRY}
    let taps = p.hf * p.wf;
    if (i >= p.f * p.c * taps) {{ return; }}
    let fi = i / (p.c * taps);
    let ci = (i / taps) % p.c;
    let ky = (i % taps) / p.wf;
    let kx = i % p.wf;
    var acc = f64(0.0);
    for (var img = 0u; img < p.n; img++) {{
        let xbase = (img * p.c + ci) * p.h * p.w;
        let dbase = (img * p.f + fi) * p.oh * p.ow;
        for (var oy = 0u; oy < p.oh; oy++) {{
            let iy = i32(oy * p.sh + ky) - i32(p.ph);
            if (iy < 0 || iy >= i32(p.h)) {{ continue; }}
            for (var ox = 0u; ox < p.ow; ox++) {{
                let ix = i32(ox * p.sw + kx) - i32(p.pw);
                if (ix < 0 || ix >= i32(p.w)) {{ continue; }}
                acc = fma(D[dbase + oy * p.ow + ox], X[xbase + u32(iy) * p.w + u32(ix)], acc);
            }}
        }}
    }}
    O[i] = acc;
}}
"#
    )
}

/// `conv2d_backward_data(W, dout)`: `dX[n, c, iy, ix] = sum over filters and taps with
/// iy = oy*sh + ky - ph, ix = ox*sw + kx - pw of W[f, c, ky, kx] * dout[n, f, oy, ox]`, one
/// invocation a cell.
pub fn conv2d_backward_data() -> String {
    format!(
        r#"
{CONV_PARAMS}
@group(0) @binding(0) var<storage, read> W: array<f64>;
@group(0) @binding(1) var<storage, read> D: array<f64>;
@group(0) @binding(2) var<storage, read_write> O: array<f64>;
@group(0) @binding(3) var<uniform> p: P;
{CELL_ENTRY}
    let plane = p.h * p.w;
    if (i >= p.n * p.c * plane) {{ return; }}
    let img = i / (p.c * plane);
    let ci = (i / plane) % p.c;
    let iy = (i % plane) / p.w;
    let ix = i % p.w;
    var acc = f64(0.0);
    for (var fi = 0u; fi < p.f; fi++) {{
        let wbase = (fi * p.c + ci) * p.hf * p.wf;
        let dbase = (img * p.f + fi) * p.oh * p.ow;
        for (var ky = 0u; ky < p.hf; ky++) {{
            let ty = i32(iy + p.ph) - i32(ky);
            if (ty < 0 || u32(ty) % p.sh != 0u) {{ continue; }}
            let oy = u32(ty) / p.sh;
            if (oy >= p.oh) {{ continue; }}
            for (var kx = 0u; kx < p.wf; kx++) {{
                let tx = i32(ix + p.pw) - i32(kx);
                if (tx < 0 || u32(tx) % p.sw != 0u) {{ continue; }}
                let ox = u32(tx) / p.sw;
                if (ox >= p.ow) {{ continue; }}
                acc = fma(W[wbase + ky * p.wf + kx], D[dbase + oy * p.ow + ox], acc);
            }}
        }}
    }}
    O[i] = acc;
}}
"#
    )
}
