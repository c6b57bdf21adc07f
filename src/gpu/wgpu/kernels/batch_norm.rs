//! `batch_norm2d` and `batch_norm2d_backward` (spatial batch normalization over `N x C*H*W`
//! inputs, statistics per channel) in the CPU kernel's order (`crate::kernels::dnn::batchnorm`),
//! so every output is the CPU's to the bit.
//!
//! The CPU sums a channel's cells row by row: each row's `H*W` cells one after the other, then
//! the rows' sums in row order (the mean and the variance), or all the channel's cells of all
//! rows into one running sum (the backward's `dgamma` and `dbeta`). The device keeps both orders:
//! a row's segment is one invocation's loop ([`channel_sums`], `N*C` invocations in parallel),
//! the rows' sums one invocation per channel ([`stats`]); the backward's running sums one
//! invocation per channel ([`backward_sums`]), which cannot be split without changing the bits.
//! The cellwise steps ([`normalize`], [`backward_dx`]) evaluate the CPU's expressions in its
//! order, with no fused multiply-add.

use super::CELL_ENTRY;

/// What [`stats`] computes (the `phase` of its uniform).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatsPhase {
    /// Training, first: the mean from the row sums.
    Mean = 0,
    /// Training, second: the variance from the centered row sums, the moving averages and the
    /// inverse standard deviation.
    Variance = 1,
    /// Test mode: the running statistics pass through, the inverse standard deviation of the
    /// running variance.
    Running = 2,
}

/// `S[r*C + ch]` = the sum of row `r`'s cells of channel `ch`, or (`centered` 1) of their squared
/// deviations from `Mean[ch]`, in order from the first cell.
pub fn channel_sums() -> String {
    format!(
        r#"
struct P {{ n: u32, c: u32, hw: u32, centered: u32 }}
@group(0) @binding(0) var<storage, read> X: array<f64>;
@group(0) @binding(1) var<storage, read> Mean: array<f64>;
@group(0) @binding(2) var<storage, read_write> S: array<f64>;
@group(0) @binding(3) var<uniform> p: P;
{CELL_ENTRY}
    if (i >= p.n * p.c) {{ return; }}
    // Row r's channel ch starts at r*C*HW + ch*HW = i*HW.
    let base = i * p.hw;
    var s = f64(-0.0);
    if (p.centered == 1u) {{
        let mu = Mean[i % p.c];
        for (var k = 0u; k < p.hw; k++) {{
            let d = X[base + k] - mu;
            s = s + d * d;
        }}
    }} else {{
        for (var k = 0u; k < p.hw; k++) {{ s = s + X[base + k]; }}
    }}
    S[i] = s;
}}
"#
    )
}

/// Per channel, one invocation each (see [`StatsPhase`]): rows' sums folded in row order from
/// 0 and divided by `count`; the moving averages `mu*ema + (1-mu)*stat`; `1/sqrt(var + eps)`.
pub fn stats() -> String {
    r#"
struct P { n: u32, c: u32, phase: u32, pad: u32, count: f64, eps: f64, mu: f64 }
@group(0) @binding(0) var<storage, read> S: array<f64>;
@group(0) @binding(1) var<storage, read> Em: array<f64>;
@group(0) @binding(2) var<storage, read> Ev: array<f64>;
@group(0) @binding(3) var<storage, read_write> Mean: array<f64>;
@group(0) @binding(4) var<storage, read_write> EmOut: array<f64>;
@group(0) @binding(5) var<storage, read_write> EvOut: array<f64>;
@group(0) @binding(6) var<storage, read_write> Inv: array<f64>;
@group(0) @binding(7) var<uniform> p: P;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let ch = gid.x;
    if (ch >= p.c) { return; }
    var v: f64;
    if (p.phase == 2u) {
        let mean = Em[ch];
        v = Ev[ch];
        Mean[ch] = mean;
        EmOut[ch] = mean;
        EvOut[ch] = v;
    } else {
        var acc = f64(0.0);
        for (var r = 0u; r < p.n; r++) { acc = acc + S[r * p.c + ch]; }
        let stat = acc / p.count;
        if (p.phase == 0u) {
            Mean[ch] = stat;
            return;
        }
        v = stat;
        let keep = f64(1.0) - p.mu;
        EmOut[ch] = p.mu * Em[ch] + keep * Mean[ch];
        EvOut[ch] = p.mu * Ev[ch] + keep * v;
    }
    Inv[ch] = f64(1.0) / sqrt(v + p.eps);
}
"#
    .to_string()
}

/// `out = x * scale + shift` with `scale = gamma * inv`, `shift = beta - mean * scale` of the
/// cell's channel, one invocation a cell.
pub fn normalize() -> String {
    format!(
        r#"
struct P {{ cells: u32, chw: u32, hw: u32, pad: u32 }}
@group(0) @binding(0) var<storage, read> X: array<f64>;
@group(0) @binding(1) var<storage, read> G: array<f64>;
@group(0) @binding(2) var<storage, read> B: array<f64>;
@group(0) @binding(3) var<storage, read> Mean: array<f64>;
@group(0) @binding(4) var<storage, read> Inv: array<f64>;
@group(0) @binding(5) var<storage, read_write> O: array<f64>;
@group(0) @binding(6) var<uniform> p: P;
{CELL_ENTRY}
    if (i >= p.cells) {{ return; }}
    let ch = (i % p.chw) / p.hw;
    let scale = G[ch] * Inv[ch];
    let shift = B[ch] - Mean[ch] * scale;
    O[i] = X[i] * scale + shift;
}}
"#
    )
}

/// `dbeta[ch]` (the sum of `dout`) and `dgamma[ch]` (the sum of `dout * (x - mean) * inv`) over
/// the channel's cells of every row, one running sum each, one invocation a channel.
pub fn backward_sums() -> String {
    r#"
struct P { n: u32, c: u32, hw: u32, pad: u32 }
@group(0) @binding(0) var<storage, read> X: array<f64>;
@group(0) @binding(1) var<storage, read> D: array<f64>;
@group(0) @binding(2) var<storage, read> Mean: array<f64>;
@group(0) @binding(3) var<storage, read> Inv: array<f64>;
@group(0) @binding(4) var<storage, read_write> DGamma: array<f64>;
@group(0) @binding(5) var<storage, read_write> DBeta: array<f64>;
@group(0) @binding(6) var<uniform> p: P;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let ch = gid.x;
    if (ch >= p.c) { return; }
    let mu = Mean[ch];
    let inv = Inv[ch];
    var dg = f64(0.0);
    var db = f64(0.0);
    for (var r = 0u; r < p.n; r++) {
        let base = (r * p.c + ch) * p.hw;
        for (var k = 0u; k < p.hw; k++) {
            let d = D[base + k];
            db = db + d;
            dg = dg + d * (X[base + k] - mu) * inv;
        }
    }
    DGamma[ch] = dg;
    DBeta[ch] = db;
}
"#
    .to_string()
}

/// `dX = k * (count * dout - dbeta - xhat * dgamma)` with `k = gamma * inv / count` and
/// `xhat = (x - mean) * inv` of the cell's channel, one invocation a cell.
pub fn backward_dx() -> String {
    format!(
        r#"
struct P {{ cells: u32, chw: u32, hw: u32, pad: u32, count: f64 }}
@group(0) @binding(0) var<storage, read> X: array<f64>;
@group(0) @binding(1) var<storage, read> D: array<f64>;
@group(0) @binding(2) var<storage, read> G: array<f64>;
@group(0) @binding(3) var<storage, read> Mean: array<f64>;
@group(0) @binding(4) var<storage, read> Inv: array<f64>;
@group(0) @binding(5) var<storage, read> DGamma: array<f64>;
@group(0) @binding(6) var<storage, read> DBeta: array<f64>;
@group(0) @binding(7) var<storage, read_write> O: array<f64>;
@group(0) @binding(8) var<uniform> p: P;
{CELL_ENTRY}
    if (i >= p.cells) {{ return; }}
    let ch = (i % p.chw) / p.hw;
    let inv = Inv[ch];
    let k = G[ch] * inv / p.count;
    let xhat = (X[i] - Mean[ch]) * inv;
    O[i] = k * (p.count * D[i] - DBeta[ch] - xhat * DGamma[ch]);
}}
"#
    )
}
