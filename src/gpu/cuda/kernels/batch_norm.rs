//! `batch_norm2d` and `batch_norm2d_backward` (spatial batch normalization over `N x C*H*W`
//! inputs, statistics per channel) as CUDA C, in the CPU kernel's order
//! (`crate::kernels::dnn::batchnorm`), so every output is the CPU's to the bit (the wgpu
//! kernels' design).
//!
//! The CPU sums a channel's cells row by row: each row's `H*W` cells one after the other from
//! -0.0 (Rust's float `sum`), then the rows' sums in row order from 0.0 (the mean and the
//! variance); the backward's `dgamma` and `dbeta` are one running sum each over all the
//! channel's cells of every row. The device keeps both orders: a row's segment is one thread's
//! loop (`bn_channel_sums`, `N*C` threads), the rows' sums one thread per channel (`bn_stats`),
//! the backward's running sums one thread per channel (`bn_backward_sums`), which cannot be
//! split without changing the bits. The cellwise steps evaluate the CPU's expressions in its
//! order; NVRTC compiles them without FMA contraction, so they round as the CPU does.

use super::program::{Buf, Program, sizes};
use super::{HELPERS, Scalar};

/// What `bn_stats` computes (its `phase` argument).
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

/// `S[r*C + ch]` = the sum of row `r`'s cells of channel `ch` from -0.0, or (`centered` 1) of
/// their squared deviations from `Mean[ch]`, in order from the first cell.
pub fn channel_sums(name: &str) -> String {
    format!(
        r#"{HELPERS}
extern "C" __global__ void {name}(const double* X, const double* Mean, double* S, long long n,
        long long c, long long hw, int centered) {{
    GRID_LOOP(i, n * c) {{
        /* Row r's channel ch starts at r*C*HW + ch*HW = i*HW. */
        const double* x = X + i * hw;
        double s = -0.0;
        if (centered) {{
            double mu = Mean[i % c];
            for (long long k = 0; k < hw; k++) {{
                double d = x[k] - mu;
                s = s + d * d;
            }}
        }} else {{
            for (long long k = 0; k < hw; k++) s = s + x[k];
        }}
        S[i] = s;
    }}
}}
"#
    )
}

/// One thread a channel (see [`StatsPhase`]): the rows' sums folded in row order from 0.0 and
/// divided by `count`; the moving averages `mu*ema + (1-mu)*stat`; `1/sqrt(var + eps)`.
pub fn stats(name: &str) -> String {
    format!(
        r#"{HELPERS}
extern "C" __global__ void {name}(const double* S, const double* Em, const double* Ev, double* Mean,
        double* EmOut, double* EvOut, double* Inv, long long n, long long c, int phase, double count,
        double eps, double mu) {{
    GRID_LOOP(ch, c) {{
        double v;
        if (phase == 2) {{
            double mean = Em[ch];
            v = Ev[ch];
            Mean[ch] = mean;
            EmOut[ch] = mean;
            EvOut[ch] = v;
        }} else {{
            double acc = 0.0;
            for (long long r = 0; r < n; r++) acc = acc + S[r * c + ch];
            double stat = acc / count;
            if (phase == 0) {{
                Mean[ch] = stat;
                continue;
            }}
            v = stat;
            double keep = 1.0 - mu;
            EmOut[ch] = mu * Em[ch] + keep * Mean[ch];
            EvOut[ch] = mu * Ev[ch] + keep * v;
        }}
        Inv[ch] = 1.0 / sqrt(v + eps);
    }}
}}
"#
    )
}

/// `out = x * scale + shift` with `scale = gamma * inv`, `shift = beta - mean * scale` of the
/// cell's channel, one thread a cell.
pub fn normalize(name: &str) -> String {
    format!(
        r#"{HELPERS}
extern "C" __global__ void {name}(const double* X, const double* G, const double* B,
        const double* Mean, const double* Inv, double* O, long long cells, long long chw, long long hw) {{
    GRID_LOOP(i, cells) {{
        long long ch = (i % chw) / hw;
        double scale = G[ch] * Inv[ch];
        double shift = B[ch] - Mean[ch] * scale;
        O[i] = X[i] * scale + shift;
    }}
}}
"#
    )
}

/// `dbeta[ch]` (the sum of `dout`) and `dgamma[ch]` (the sum of `dout * (x - mean) * inv`) over
/// the channel's cells of every row, one running sum each from 0.0, one thread a channel.
pub fn backward_sums(name: &str) -> String {
    format!(
        r#"{HELPERS}
extern "C" __global__ void {name}(const double* X, const double* D, const double* Mean,
        const double* Inv, double* DGamma, double* DBeta, long long n, long long c, long long hw) {{
    GRID_LOOP(ch, c) {{
        double mu = Mean[ch];
        double inv = Inv[ch];
        double dg = 0.0;
        double db = 0.0;
        for (long long r = 0; r < n; r++) {{
            long long base = (r * c + ch) * hw;
            for (long long k = 0; k < hw; k++) {{
                double d = D[base + k];
                db = db + d;
                dg = dg + d * (X[base + k] - mu) * inv;
            }}
        }}
        DGamma[ch] = dg;
        DBeta[ch] = db;
    }}
}}
"#
    )
}

/// `dX = k * (count * dout - dbeta - xhat * dgamma)` with `k = gamma * inv / count` and
/// `xhat = (x - mean) * inv` of the cell's channel, one thread a cell.
pub fn backward_dx(name: &str) -> String {
    format!(
        r#"{HELPERS}
extern "C" __global__ void {name}(const double* X, const double* D, const double* G,
        const double* Mean, const double* Inv, const double* DGamma, const double* DBeta, double* O,
        long long cells, long long chw, long long hw, double count) {{
    GRID_LOOP(i, cells) {{
        long long ch = (i % chw) / hw;
        double inv = Inv[ch];
        double k = G[ch] * inv / count;
        double xhat = (X[i] - Mean[ch]) * inv;
        O[i] = k * (count * D[i] - DBeta[ch] - xhat * DGamma[ch]);
    }}
}}
"#
    )
}

/// The forward's program on inputs `[x, gamma, beta, ema_mean, ema_var]` (`x` of `N x C*HW`,
/// the others `C x 1`), outputs `[out, ema_mean, ema_var, cache_mean, cache_inv_var]`: in
/// training the row sums, the mean, the centered row sums, the variance and the rest; in test
/// mode the running statistics; then the normalization.
pub fn forward(n: usize, c: usize, hw: usize, train: bool, eps: f64, mu: f64) -> Program {
    let [x, gamma, beta, em, ev] = [0, 1, 2, 3, 4].map(Buf::Input);
    let mut p = Program::default();
    let (mean, em_out, ev_out, inv) = (p.temp(c), p.temp(c), p.temp(c), p.temp(c));
    let out = p.temp(n * c * hw);
    // The rows' sums, one a row and channel (test mode reads none: one cell to bind).
    let sum_cells = if train { n * c } else { 1 };
    let (sums, centered) = (p.temp(sum_cells), p.temp(sum_cells));
    let count = (n * hw) as f64;
    let stats_scalars = |phase: StatsPhase| {
        let mut v = sizes(&[n, c]);
        v.extend([Scalar::I32(phase as i32), Scalar::F64(count), Scalar::F64(eps), Scalar::F64(mu)]);
        v
    };
    let sum_scalars = |centered: bool| {
        let mut v = sizes(&[n, c, hw]);
        v.push(Scalar::I32(centered as i32));
        v
    };
    if train {
        p.kernel("bn_channel_sums", channel_sums, &[x, mean, sums], sum_scalars(false), n * c);
        let bufs = [sums, em, ev, mean, em_out, ev_out, inv];
        p.kernel("bn_stats", stats, &bufs, stats_scalars(StatsPhase::Mean), c);
        p.kernel("bn_channel_sums", channel_sums, &[x, mean, centered], sum_scalars(true), n * c);
        let bufs = [centered, em, ev, mean, em_out, ev_out, inv];
        p.kernel("bn_stats", stats, &bufs, stats_scalars(StatsPhase::Variance), c);
    } else {
        let bufs = [sums, em, ev, mean, em_out, ev_out, inv];
        p.kernel("bn_stats", stats, &bufs, stats_scalars(StatsPhase::Running), c);
    }
    let cells = n * c * hw;
    let bufs = [x, gamma, beta, mean, inv, out];
    p.kernel("bn_normalize", normalize, &bufs, sizes(&[cells, c * hw, hw]), cells);
    p.output(out, n, c * hw);
    p.output(em_out, c, 1);
    p.output(ev_out, c, 1);
    p.output(mean, c, 1);
    p.output(inv, c, 1);
    p
}

/// The backward's program on inputs `[x, dout, gamma, cache_mean, cache_inv_var]`, outputs
/// `[dX, dgamma, dbeta]` (`epsilon` is not needed: the inverse deviation includes it).
pub fn backward(n: usize, c: usize, hw: usize) -> Program {
    let [x, dout, gamma, mean, inv] = [0, 1, 2, 3, 4].map(Buf::Input);
    let mut p = Program::default();
    let (dgamma, dbeta) = (p.temp(c), p.temp(c));
    let cells = n * c * hw;
    let dx = p.temp(cells);
    let bufs = [x, dout, mean, inv, dgamma, dbeta];
    p.kernel("bn_backward_sums", backward_sums, &bufs, sizes(&[n, c, hw]), c);
    let mut scalars = sizes(&[cells, c * hw, hw]);
    scalars.push(Scalar::F64((n * hw) as f64));
    let bufs = [x, dout, gamma, mean, inv, dgamma, dbeta, dx];
    p.kernel("bn_backward_dx", backward_dx, &bufs, scalars, cells);
    p.output(dx, n, c * hw);
    p.output(dgamma, c, 1);
    p.output(dbeta, c, 1);
    p
}
