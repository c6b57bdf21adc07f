//! `lstm` and `lstm_backward` (`crate::kernels::dnn::lstm`): SystemDS's gate order `[i, f, o, g]`
//! and cache layout (`T x N*M` outputs and cells, `T x N*4M` activated gates, row `t` the step's
//! rows flattened). The time loop is one pass a step in one submission; the products over all
//! steps at once (the input side forward; `dW` and `dX` backward) are the shared tiled product.
//!
//! Forward: the product `X W_x` over all `N*T` rows (X read as `N*T x D`, batch-major), then
//! [`gates_in`] adds the bias and lays it out step-major in the gate cache; each step's
//! [`step`] adds `out_prev W_h`, activates the gates and updates the cell and the output.
//! Backward: each step's [`backward_step`] takes the gradient at the step's output from the
//! next step's gate gradients (`dgates W_h^T`, one row of `W_h` an invocation) plus the given
//! `dout`, and gives the step's gate gradients (kept batch-major, so `dW_x = t(X) dgates` and
//! `dX = dgates t(W_x)` are plain products on `X`'s own layout) and the gradient at the previous
//! cell.
//!
//! The activations are the CPU's (its branch-free `exp` from `transcendental.wgsl`, its
//! `sigmoid` and fast `tanh` steps), so they are its bits for the same argument; the products
//! add in another order than the CPU's gemm, so results agree to rounding (1e-12 relative).

use super::{CELL_ENTRY, HELPERS, TRANSCENDENTAL};

/// The gate activations of the CPU's LSTM kernels (`dnn::recurrent`): `1/(1 + e^-x)` and
/// `sign(x) (1 - 2/(e^{2|x|} + 1))`, with the CPU's `exp` and the sign of a zero kept.
const ACTIVATIONS: &str = r#"
fn sigmoid_gate(x: f64) -> f64 { return f64(1.0) / (f64(1.0) + exp_cpu(-x)); }
fn tanh_gate(x: f64) -> f64 {
    let a = f64(1.0) - f64(2.0) / (exp_cpu(f64(2.0) * abs(x)) + f64(1.0));
    // The CPU's `copysign`: -0.0 (whose reciprocal is -inf) keeps its sign too.
    return select(a, -a, x < f64(0.0) || (x == f64(0.0) && f64(1.0) / x < f64(0.0)));
}
"#;

/// The uniform of the step kernels: sizes, the step, whether outputs are sequences, and the
/// constants `transcendental.wgsl` reads.
const STEP_PARAMS: &str =
    "struct P { n: u32, t: u32, d: u32, m: u32, s: u32, seq: u32, nan: f64, inf: f64, one: f64 }";

/// `IFOG[(s*N + r)*4M + j] = Xw[(r*T + s)*4M + j] + bias[j]`: the input side of every step
/// (`Xw`, batch-major rows, from the product) step-major, one invocation a cell.
pub fn gates_in() -> String {
    format!(
        r#"
struct P {{ n: u32, t: u32, g4: u32, pad: u32 }}
@group(0) @binding(0) var<storage, read> Xw: array<f64>;
@group(0) @binding(1) var<storage, read> Bias: array<f64>;
@group(0) @binding(2) var<storage, read_write> IFOG: array<f64>;
@group(0) @binding(3) var<uniform> p: P;
{CELL_ENTRY}
    if (i >= p.t * p.n * p.g4) {{ return; }}
    let s = i / (p.n * p.g4);
    let r = (i / p.g4) % p.n;
    let j = i % p.g4;
    IFOG[i] = Xw[(r * p.t + s) * p.g4 + j] + Bias[j];
}}
"#
    )
}

/// One forward step `s` for all rows, one invocation a (row, unit): the four gates' recurrent
/// dot products `out_prev W_h` added to the input side in `IFOG`, activated in place; then
/// `c = f*c_prev + i*g` and `out = o*tanh(c)` into the caches, and into `Seq` (the `N x T*M`
/// output) when `seq` is 1. Step 0 reads `out0` and `c0`, later steps the caches' previous rows.
pub fn step() -> String {
    format!(
        r#"
{STEP_PARAMS}
@group(0) @binding(0) var<storage, read> W: array<f64>;
@group(0) @binding(1) var<storage, read> O0: array<f64>;
@group(0) @binding(2) var<storage, read> C0: array<f64>;
@group(0) @binding(3) var<storage, read_write> IFOG: array<f64>;
@group(0) @binding(4) var<storage, read_write> CO: array<f64>;
@group(0) @binding(5) var<storage, read_write> CC: array<f64>;
@group(0) @binding(6) var<storage, read_write> Seq: array<f64>;
@group(0) @binding(7) var<uniform> p: P;
{HELPERS}
{TRANSCENDENTAL}
{ACTIVATIONS}
{CELL_ENTRY}
    if (i >= p.n * p.m) {{ return; }}
    let r = i / p.m;
    let j = i % p.m;
    let m = p.m;
    let g4 = 4u * m;
    var zi = f64(0.0);
    var zf = f64(0.0);
    var zo = f64(0.0);
    var zg = f64(0.0);
    // The previous step's rows (unused, and wrapped, at step 0).
    let prev = (p.s - 1u) * p.n * m + r * m;
    for (var k = 0u; k < m; k++) {{
        var h: f64;
        if (p.s == 0u) {{ h = O0[r * m + k]; }} else {{ h = CO[prev + k]; }}
        let w = (p.d + k) * g4 + j;
        zi = fma(h, W[w], zi);
        zf = fma(h, W[w + m], zf);
        zo = fma(h, W[w + 2u * m], zo);
        zg = fma(h, W[w + 3u * m], zg);
    }}
    let row = (p.s * p.n + r) * g4 + j;
    let gi = sigmoid_gate(IFOG[row] + zi);
    let gf = sigmoid_gate(IFOG[row + m] + zf);
    let go = sigmoid_gate(IFOG[row + 2u * m] + zo);
    let gg = tanh_gate(IFOG[row + 3u * m] + zg);
    IFOG[row] = gi;
    IFOG[row + m] = gf;
    IFOG[row + 2u * m] = go;
    IFOG[row + 3u * m] = gg;
    var cp: f64;
    if (p.s == 0u) {{ cp = C0[r * m + j]; }} else {{ cp = CC[prev + j]; }}
    let c = gf * cp + gi * gg;
    let h = go * tanh_gate(c);
    let here = (p.s * p.n + r) * m + j;
    CC[here] = c;
    CO[here] = h;
    if (p.seq == 1u) {{ Seq[(r * p.t + p.s) * m + j] = h; }}
}}
"#
    )
}

/// `O[i] = A[offset + i]` for `i < cells`: the last step's rows of a cache as the `N x M`
/// output, or a copy of an input the kernels then update.
pub fn copy() -> String {
    format!(
        r#"
struct P {{ cells: u32, offset: u32 }}
@group(0) @binding(0) var<storage, read> A: array<f64>;
@group(0) @binding(1) var<storage, read_write> O: array<f64>;
@group(0) @binding(2) var<uniform> p: P;
{CELL_ENTRY}
    if (i >= p.cells) {{ return; }}
    O[i] = A[p.offset + i];
}}
"#
    )
}

/// One backward step `s` for all rows, one invocation a (row, unit), in the operations of
/// `nn/layers/lstm.dml::backward`: the gradient at the step's output (`dgates` of step `s+1`
/// times row `j` of `W_h`, then the given `dout`), the gradient at the cell (`DC` holds the one
/// from step `s+1`, and gets the one at `c_prev`), the four gate gradients into `DG` (rows
/// batch-major: `r*T + s`).
pub fn backward_step() -> String {
    format!(
        r#"
{STEP_PARAMS}
@group(0) @binding(0) var<storage, read> W: array<f64>;
@group(0) @binding(1) var<storage, read> Dout: array<f64>;
@group(0) @binding(2) var<storage, read> IFOG: array<f64>;
@group(0) @binding(3) var<storage, read> CC: array<f64>;
@group(0) @binding(4) var<storage, read> C0: array<f64>;
@group(0) @binding(5) var<storage, read_write> DG: array<f64>;
@group(0) @binding(6) var<storage, read_write> DC: array<f64>;
@group(0) @binding(7) var<uniform> p: P;
{HELPERS}
{TRANSCENDENTAL}
{ACTIVATIONS}
{CELL_ENTRY}
    if (i >= p.n * p.m) {{ return; }}
    let r = i / p.m;
    let j = i % p.m;
    let m = p.m;
    let g4 = 4u * m;
    var dh = f64(0.0);
    if (p.s + 1u < p.t) {{
        let next = (r * p.t + p.s + 1u) * g4;
        let w = (p.d + j) * g4;
        for (var col = 0u; col < g4; col++) {{ dh = fma(DG[next + col], W[w + col], dh); }}
    }}
    if (p.seq == 1u) {{
        dh = dh + Dout[(r * p.t + p.s) * m + j];
    }} else if (p.s + 1u == p.t) {{
        dh = dh + Dout[r * m + j];
    }}
    let row = (p.s * p.n + r) * g4 + j;
    let gi = IFOG[row];
    let gf = IFOG[row + m];
    let go = IFOG[row + 2u * m];
    let gg = IFOG[row + 3u * m];
    let ct = CC[(p.s * p.n + r) * m + j];
    var cp: f64;
    if (p.s == 0u) {{ cp = C0[r * m + j]; }} else {{ cp = CC[((p.s - 1u) * p.n + r) * m + j]; }}
    let tc = tanh_gate(ct);
    let dcell = DC[i] + dh * go * (f64(1.0) - tc * tc);
    let out = (r * p.t + p.s) * g4 + j;
    DG[out] = dcell * gg * gi * (f64(1.0) - gi);
    DG[out + m] = dcell * cp * gf * (f64(1.0) - gf);
    DG[out + 2u * m] = dh * tc * go * (f64(1.0) - go);
    DG[out + 3u * m] = dcell * gi * (f64(1.0) - gg * gg);
    DC[i] = dcell * gf;
}}
"#
    )
}

/// `dout0 = dgates_0 W_h^T`: the gradient at the initial output, one invocation a (row, unit).
pub fn backward_dout0() -> String {
    format!(
        r#"
struct P {{ n: u32, t: u32, d: u32, m: u32 }}
@group(0) @binding(0) var<storage, read> W: array<f64>;
@group(0) @binding(1) var<storage, read> DG: array<f64>;
@group(0) @binding(2) var<storage, read_write> O: array<f64>;
@group(0) @binding(3) var<uniform> p: P;
{CELL_ENTRY}
    if (i >= p.n * p.m) {{ return; }}
    let r = i / p.m;
    let k = i % p.m;
    let g4 = 4u * p.m;
    let first = r * p.t * g4;
    let w = (p.d + k) * g4;
    var acc = f64(0.0);
    for (var col = 0u; col < g4; col++) {{ acc = fma(DG[first + col], W[w + col], acc); }}
    O[i] = acc;
}}
"#
    )
}

/// The recurrent rows of `dW` and the bias gradient, one invocation a cell of `(M+1) x 4M`:
/// row `k < M` is `dW[D + k, col]`, the sum over steps and rows of the previous output (`out0`
/// at step 0, else the output cache's previous step) times the gate gradient; row `M` is
/// `db[col]`, the gate gradients summed in the CPU's order (step by step, rows in order).
pub fn backward_dwh_db() -> String {
    format!(
        r#"
struct P {{ n: u32, t: u32, d: u32, m: u32 }}
@group(0) @binding(0) var<storage, read> O0: array<f64>;
@group(0) @binding(1) var<storage, read> CO: array<f64>;
@group(0) @binding(2) var<storage, read> DG: array<f64>;
@group(0) @binding(3) var<storage, read_write> DW: array<f64>;
@group(0) @binding(4) var<storage, read_write> DB: array<f64>;
@group(0) @binding(5) var<uniform> p: P;
{CELL_ENTRY}
    let g4 = 4u * p.m;
    if (i >= (p.m + 1u) * g4) {{ return; }}
    let k = i / g4;
    let col = i % g4;
    var acc = f64(0.0);
    if (k == p.m) {{
        for (var s = 0u; s < p.t; s++) {{
            for (var r = 0u; r < p.n; r++) {{ acc = acc + DG[(r * p.t + s) * g4 + col]; }}
        }}
        DB[col] = acc;
        return;
    }}
    for (var s = 0u; s < p.t; s++) {{
        for (var r = 0u; r < p.n; r++) {{
            var h: f64;
            if (s == 0u) {{ h = O0[r * p.m + k]; }} else {{ h = CO[((s - 1u) * p.n + r) * p.m + k]; }}
            acc = fma(h, DG[(r * p.t + s) * g4 + col], acc);
        }}
    }}
    DW[(p.d + k) * g4 + col] = acc;
}}
"#
    )
}
