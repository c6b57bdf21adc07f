//! The WGSL kernels, in f64 (`Features::SHADER_F64`). Each operator's scalar semantics are those
//! of `crate::kernels::ops` (Java's: NaN wins in min/max, -0.0 below 0.0, comparisons give 1/0);
//! a kernel is generated per operator by substituting its expression into a template, and
//! compiled once per process.
//!
//! One-dimensional kernels rebuild their linear index from `num_workgroups`, since a dispatch
//! has at most 65535 workgroups in a dimension (see `grid`).

use crate::types::ops::{BinOp, UnOp};

pub mod batch_norm;
pub mod dnn;
pub mod lstm;
pub mod sequential_aggregate;

/// Helpers every cellwise kernel may call. NaN and the sign of zero are read from the bits of
/// the inputs (each input matrix is bound a second time as `array<u32>`), never from `x != x` or
/// `1 / x`: naga marks no operation exact, and driver compilers (Mesa's NIR among them) fold
/// `x != x` to false and `x - x` to 0. NaN results come from the uniform `p.nan`.
pub(super) const HELPERS: &str = r#"
struct D { v: f64, nan: bool, neg: bool, inf: bool, lo: u32, hi: u32 }
fn d_of(v: f64, lo: u32, hi: u32) -> D {
    let exp_all = (hi & 0x7ff00000u) == 0x7ff00000u;
    let mant = ((hi & 0xfffffu) | lo) != 0u;
    return D(v, exp_all && mant, (hi & 0x80000000u) != 0u, exp_all && !mant, lo, hi);
}
fn java_min(a: D, b: D) -> f64 {
    if (a.nan || b.nan) { return p.nan; }
    if (a.v == b.v) { return select(b.v, a.v, a.neg); }
    return select(b.v, a.v, a.v < b.v);
}
fn java_max(a: D, b: D) -> f64 {
    if (a.nan || b.nan) { return p.nan; }
    if (a.v == b.v) { return select(b.v, a.v, !a.neg); }
    return select(b.v, a.v, a.v > b.v);
}
fn b2f(b: bool) -> f64 { return select(f64(0.0), f64(1.0), b); }
"#;

/// f64 exp, log, pow, sigmoid and tanh in WGSL (`transcendental.wgsl`): Vulkan's extended
/// instructions have no f64 forms of them. `exp` and `log` are within one ulp of libm's (the
/// CPU's `f64::exp`/`ln`); sigmoid and tanh follow the CPU's own `dnn::activation` steps, so they
/// are its values to the bit; `pow` is C's (special cases included) within a few ulp. Kernels
/// that include it have `nan`, `inf` and `one` (1.0) in their uniform: `one` keeps the driver's
/// compiler from folding the exact-error terms of the range reductions to 0.
const TRANSCENDENTAL: &str = include_str!("transcendental.wgsl");

/// f64 sin, cos and tan in WGSL (`trig.wgsl`), for the unary kernels (the uniform's `inf` and
/// `one` are used as well as `nan`). Below 1e12 the reduction and the polynomials are the
/// CPU's own (`crate::kernels::trig`), its fused multiply-adds exact through Dekker's products
/// (or the device's `fma` where it is fused), so past pi/4 the values are the CPU's to the bit;
/// below pi/4 and above 1e12 the CPU calls libm, and the device runs the same polynomials (and
/// above 1e12 Payne and Hanek's reduction on integer limbs) within one ulp of libm's values.
/// Measured in `tests/gpu_ops.rs` (`sin_cos_tan`).
const TRIG: &str = include_str!("trig.wgsl");

/// The entry point of a kernel with one invocation per cell: `i`, the cell, from a dispatch of
/// workgroups of 256 laid out in two dimensions (the caller's bound check follows).
const CELL_ENTRY: &str = "@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(num_workgroups) nw: vec3<u32>) {
    let i = (wg.y * nw.x + wg.x) * 256u + lid.x;";

/// `out = A op B` with broadcasting: each operand is `ar x ac`, and a dimension of 1 repeats
/// (a 1x1 operand is a scalar, 1 x cols a row vector, rows x 1 a column vector).
pub fn binary(op: BinOp) -> String {
    let expr = match op {
        BinOp::Add => "a.v + b.v",
        BinOp::Sub => "a.v - b.v",
        BinOp::Mul => "a.v * b.v",
        BinOp::Div => "a.v / b.v",
        BinOp::Min => "java_min(a, b)",
        BinOp::Max => "java_max(a, b)",
        // Ordered comparisons are false with a NaN, `!=` true (as in Java).
        BinOp::Lt => "b2f(!a.nan && !b.nan && a.v < b.v)",
        BinOp::Le => "b2f(!a.nan && !b.nan && a.v <= b.v)",
        BinOp::Gt => "b2f(!a.nan && !b.nan && a.v > b.v)",
        BinOp::Ge => "b2f(!a.nan && !b.nan && a.v >= b.v)",
        BinOp::Eq => "b2f(!a.nan && !b.nan && a.v == b.v)",
        BinOp::Ne => "b2f(a.nan || b.nan || a.v != b.v)",
        // NaN is non-zero, so it counts as true.
        BinOp::And => "b2f((a.nan || a.v != f64(0.0)) && (b.nan || b.v != f64(0.0)))",
        BinOp::Or => "b2f(a.nan || a.v != f64(0.0) || b.nan || b.v != f64(0.0))",
        BinOp::Xor => "b2f((a.nan || a.v != f64(0.0)) != (b.nan || b.v != f64(0.0)))",
        BinOp::Pow => "pow_c(a, b)",
        BinOp::Log => "log_acc(a) / log_acc(b)",
        _ => unreachable!("no GPU kernel for {op:?}"),
    };
    format!(
        r#"
struct P {{ rows: u32, cols: u32, ar: u32, ac: u32, br: u32, bc: u32, nan: f64, inf: f64, one: f64 }}
@group(0) @binding(0) var<storage, read> A: array<f64>;
@group(0) @binding(1) var<storage, read> B: array<f64>;
@group(0) @binding(2) var<storage, read_write> O: array<f64>;
@group(0) @binding(3) var<storage, read> Ab: array<u32>;
@group(0) @binding(4) var<storage, read> Bb: array<u32>;
@group(0) @binding(5) var<uniform> p: P;
{HELPERS}
{TRANSCENDENTAL}
fn apply(a: D, b: D) -> f64 {{ return {expr}; }}
{CELL_ENTRY}
    if (i >= p.rows * p.cols) {{ return; }}
    let r = i / p.cols;
    let c = i % p.cols;
    let ia = select(r, 0u, p.ar == 1u) * p.ac + select(c, 0u, p.ac == 1u);
    let ib = select(r, 0u, p.br == 1u) * p.bc + select(c, 0u, p.bc == 1u);
    O[i] = apply(d_of(A[ia], Ab[2u * ia], Ab[2u * ia + 1u]), d_of(B[ib], Bb[2u * ib], Bb[2u * ib + 1u]));
}}
"#
    )
}

/// `out = op(A)` cell by cell.
pub fn unary(op: UnOp) -> String {
    let expr = match op {
        UnOp::Neg => "-x.v",
        UnOp::Not => "b2f(!x.nan && x.v == f64(0.0))",
        UnOp::Abs => "abs(x.v)",
        // sign(NaN) = NaN, sign(-0.0) = -0.0 (Java's signum).
        UnOp::Sign => {
            "select(select(select(x.v, f64(-1.0), x.v < f64(0.0)), f64(1.0), x.v > f64(0.0)), p.nan, x.nan)"
        }
        UnOp::Sqrt => "sqrt(x.v)",
        UnOp::Floor => "floor(x.v)",
        UnOp::Ceil => "ceil(x.v)",
        UnOp::Relu => "java_max(D(f64(0.0), false, false, false, 0u, 0u), x)",
        UnOp::IsNa | UnOp::IsNaN => "b2f(x.nan)",
        UnOp::IsInf => "b2f(x.inf)",
        UnOp::Exp => "exp_acc(x)",
        UnOp::Log => "log_acc(x)",
        UnOp::Tanh => "tanh_cpu(x)",
        UnOp::Sigmoid => "sigmoid_cpu(x)",
        UnOp::Sin => "sin_acc(x)",
        UnOp::Cos => "cos_acc(x)",
        UnOp::Tan => "tan_acc(x)",
        _ => unreachable!("no GPU kernel for {op:?}"),
    };
    format!(
        r#"
struct P {{ n: u32, nan: f64, inf: f64, one: f64 }}
@group(0) @binding(0) var<storage, read> A: array<f64>;
@group(0) @binding(1) var<storage, read_write> O: array<f64>;
@group(0) @binding(2) var<storage, read> Ab: array<u32>;
@group(0) @binding(3) var<uniform> p: P;
{HELPERS}
{TRANSCENDENTAL}
{TRIG}
fn apply(x: D) -> f64 {{ return {expr}; }}
{CELL_ENTRY}
    if (i >= p.n) {{ return; }}
    O[i] = apply(d_of(A[i], Ab[2u * i], Ab[2u * i + 1u]));
}}
"#
    )
}

/// `ifelse(c, yes, no)` cell by cell: `yes` where `c` is non-zero (NaN counts as non-zero, as
/// on the CPU), `no` elsewhere; an operand is the full `n` cells or one cell (`*_full` 0).
pub fn ifelse() -> String {
    format!(
        r#"
struct P {{ n: u32, c_full: u32, y_full: u32, n_full: u32, nan: f64 }}
@group(0) @binding(0) var<storage, read> C: array<f64>;
@group(0) @binding(1) var<storage, read> Y: array<f64>;
@group(0) @binding(2) var<storage, read> N: array<f64>;
@group(0) @binding(3) var<storage, read_write> O: array<f64>;
@group(0) @binding(4) var<storage, read> Cb: array<u32>;
@group(0) @binding(5) var<uniform> p: P;
{HELPERS}
{CELL_ENTRY}
    if (i >= p.n) {{ return; }}
    let ic = select(0u, i, p.c_full == 1u);
    let c = d_of(C[ic], Cb[2u * ic], Cb[2u * ic + 1u]);
    let yes = c.nan || c.v != f64(0.0);
    O[i] = select(N[select(0u, i, p.n_full == 1u)], Y[select(0u, i, p.y_full == 1u)], yes);
}}
"#
    )
}

/// Side of the square tiles the product kernel stages in workgroup memory.
pub const TILE: usize = 16;

/// `C = op(A) %*% op(B)` for `C` of `m x n` and an inner dimension `k`; `ta`/`tb` say that A is
/// stored as `k x m` (so the kernel reads `t(A)`) or B as `n x k`. Tiles of 16x16 in workgroup
/// memory, one output cell per invocation, products accumulated with fma in order of `k`.
pub fn matmul() -> String {
    r#"
struct P { m: u32, n: u32, k: u32, ta: u32, tb: u32 }
@group(0) @binding(0) var<storage, read> A: array<f64>;
@group(0) @binding(1) var<storage, read> B: array<f64>;
@group(0) @binding(2) var<storage, read_write> C: array<f64>;
@group(0) @binding(3) var<uniform> p: P;
var<workgroup> As: array<array<f64, 16>, 16>;
var<workgroup> Bs: array<array<f64, 16>, 16>;
fn a_at(i: u32, l: u32) -> f64 {
    if (p.ta == 0u) { return A[i * p.k + l]; }
    return A[l * p.m + i];
}
fn b_at(l: u32, j: u32) -> f64 {
    if (p.tb == 0u) { return B[l * p.n + j]; }
    return B[j * p.k + l];
}
@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let row = wg.y * 16u + lid.y;
    let col = wg.x * 16u + lid.x;
    var acc = f64(0.0);
    let tiles = (p.k + 15u) / 16u;
    for (var t = 0u; t < tiles; t++) {
        let la = t * 16u + lid.x;
        if (row < p.m && la < p.k) { As[lid.y][lid.x] = a_at(row, la); } else { As[lid.y][lid.x] = f64(0.0); }
        let lb = t * 16u + lid.y;
        if (lb < p.k && col < p.n) { Bs[lid.y][lid.x] = b_at(lb, col); } else { Bs[lid.y][lid.x] = f64(0.0); }
        workgroupBarrier();
        for (var q = 0u; q < 16u; q++) {
            acc = fma(As[lid.y][q], Bs[q][lid.x], acc);
        }
        workgroupBarrier();
    }
    if (row < p.m && col < p.n) { C[row * p.n + col] = acc; }
}
"#
    .to_string()
}

/// The fused cellwise builtins, `O[i] = f(X[i], Y[j])`: `_axpby` (`a*x + b*y`, `j = i`),
/// `_relu_backward` (`(x > 0) * dout`, `j = i`), `bias_add` and `bias_multiply` (`x + b[channel]`,
/// `x * b[channel]`, the channel of
/// column `i % cols` being `(i % cols) / hw`). The scalars `a` and `b` come in the uniform.
pub fn fused(kind: Fused) -> String {
    let (expr, j) = match kind {
        Fused::Axpby => ("p.sa * x + p.sb * y", "i"),
        Fused::ReluBackward => ("select(f64(0.0), f64(1.0), x > f64(0.0)) * y", "i"),
        Fused::BiasAdd => ("x + y", "(i % p.cols) / p.hw"),
        Fused::BiasMultiply => ("x * y", "(i % p.cols) / p.hw"),
    };
    format!(
        r#"
struct P {{ n: u32, cols: u32, hw: u32, pad: u32, sa: f64, sb: f64 }}
@group(0) @binding(0) var<storage, read> X: array<f64>;
@group(0) @binding(1) var<storage, read> Y: array<f64>;
@group(0) @binding(2) var<storage, read_write> O: array<f64>;
@group(0) @binding(3) var<uniform> p: P;
{CELL_ENTRY}
    if (i >= p.n) {{ return; }}
    let x = X[i];
    let y = Y[{j}];
    O[i] = {expr};
}}
"#
    )
}

/// The fused builtins [`fused`] generates.
#[derive(Clone, Copy, Debug)]
pub enum Fused {
    Axpby,
    ReluBackward,
    BiasAdd,
    /// `bias_multiply` on a dense input (a sparse one keeps its zeros on the CPU).
    BiasMultiply,
}

/// `conv2d` (and `_conv2d_bias_add`) forward, one output cell an invocation: the dot product of
/// the filter with the input window (zero padding), taps in the order channel, row, column, then
/// the bias. Input rows are images `C x H x W`, filter rows `C x Hf x Wf`, output rows
/// `F x Hout x Wout`.
pub fn conv2d() -> String {
    r#"
struct P { n: u32, c: u32, h: u32, w: u32, f: u32, hf: u32, wf: u32, sh: u32, sw: u32, ph: u32, pw: u32,
           oh: u32, ow: u32, bias: u32 }
@group(0) @binding(0) var<storage, read> X: array<f64>;
@group(0) @binding(1) var<storage, read> W: array<f64>;
@group(0) @binding(2) var<storage, read> Bias: array<f64>;
@group(0) @binding(3) var<storage, read_write> O: array<f64>;
@group(0) @binding(4) var<uniform> p: P;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(num_workgroups) nw: vec3<u32>) {
    let i = (wg.y * nw.x + wg.x) * 256u + lid.x;
    let per_image = p.f * p.oh * p.ow;
    if (i >= p.n * per_image) { return; }
    let img = i / per_image;
    let rem = i % per_image;
    let fi = rem / (p.oh * p.ow);
    let pos = rem % (p.oh * p.ow);
    let oy = pos / p.ow;
    let ox = pos % p.ow;
    var acc = f64(0.0);
    for (var ci = 0u; ci < p.c; ci++) {
        let xbase = img * p.c * p.h * p.w + ci * p.h * p.w;
        let wbase = fi * p.c * p.hf * p.wf + ci * p.hf * p.wf;
        for (var ky = 0u; ky < p.hf; ky++) {
            let iy = i32(oy * p.sh + ky) - i32(p.ph);
            if (iy < 0 || iy >= i32(p.h)) { continue; }
            for (var kx = 0u; kx < p.wf; kx++) {
                let ix = i32(ox * p.sw + kx) - i32(p.pw);
                if (ix < 0 || ix >= i32(p.w)) { continue; }
                acc = fma(X[xbase + u32(iy) * p.w + u32(ix)], W[wbase + ky * p.wf + kx], acc);
            }
        }
    }
    let b = Bias[select(0u, fi, p.bias == 1u)];
    O[i] = select(acc, acc + b, p.bias == 1u);
}
"#
    .to_string()
}
