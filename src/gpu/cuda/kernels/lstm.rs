//! `lstm` and `lstm_backward` (`crate::kernels::dnn::lstm`) as CUDA C: SystemDS's gate order
//! `[i, f, o, g]` and cache layout (`T x N*M` outputs and cells, `T x N*4M` activated gates, row
//! `t` the step's rows flattened). The time loop is a launch a step on one stream, no host work
//! between; the products over all steps at once (the input side forward; `dW_x` and `dX`
//! backward) are cuBLAS products (the wgpu kernels' design, `crate::gpu::wgpu::kernels::lstm`).
//!
//! Forward: the product `X W_x` over all `N*T` rows (X read as `N*T x D`, batch-major), then
//! `lstm_gates_in` adds the bias and lays it out step-major in the gate cache; each step's
//! `lstm_step` adds `out_prev W_h` (four dot products a thread), activates the gates and
//! updates the cell and the output. Backward: each step's `lstm_backward_step` takes the
//! gradient at the step's output from the next step's gate gradients (`dgates W_h^T`) plus the
//! given `dout`, and gives the step's gate gradients (kept batch-major, so `dW_x = t(X) dgates`
//! and `dX = dgates t(W_x)` are plain products on `X`'s own layout) and the gradient at the
//! previous cell.
//!
//! The activations are the CPU's (`dnn::activation`: its branch-free `exp`, its `sigmoid` and
//! fast `tanh`), written out step by step below, so they are its bits for the same argument;
//! the dot products add in another order than the CPU's gemm (from 0.0 by fused multiply-adds,
//! in the order of the inner index), so results agree to rounding (1e-12 relative).

use super::program::{Buf, Product, Program, sizes};
use super::{HELPERS, Scalar};

/// The Taylor coefficients of `e^r` the CPU's `exp` uses, highest degree first (`1/13!` ...
/// `1/1!`, `1/0!`), as the same f64 expressions, printed as the shortest decimals that read back
/// to them.
const EXP_TAYLOR: [f64; 14] = [
    1.0 / 6_227_020_800.0,
    1.0 / 479_001_600.0,
    1.0 / 39_916_800.0,
    1.0 / 3_628_800.0,
    1.0 / 362_880.0,
    1.0 / 40_320.0,
    1.0 / 5_040.0,
    1.0 / 720.0,
    1.0 / 120.0,
    1.0 / 24.0,
    1.0 / 6.0,
    0.5,
    1.0,
    1.0,
];

/// `ln 2` in two parts as the CPU splits it (`n * LN2_HI` exact), and the constant whose
/// addition rounds to an integer (1.5 * 2^52).
const LN2_HI: f64 = 0.693_147_180_369_123_8;
const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
const ROUND: f64 = 6_755_399_441_055_744.0;

/// The CPU's gate activations: `exp_cpu` (the reduction `x = n ln2 + r` by adding and
/// subtracting [`ROUND`], the degree-13 Horner polynomial, the scaling by `2^n` in two normal
/// powers of two read from `t`'s low bits), `sigmoid_gate = 1/(1 + e^-x)` and
/// `tanh_gate = copysign(1 - 2/(e^{2|x|} + 1), x)`. A NaN argument passes the clamp and the
/// polynomial as NaN.
pub fn activations() -> String {
    let mut horner = format!("    double p = {:?};\n", EXP_TAYLOR[0]);
    for c in &EXP_TAYLOR[1..] {
        horner.push_str(&format!("    p = p * r + {c:?};\n"));
    }
    format!(
        r#"
__device__ __forceinline__ double pow2_bits(long long e) {{
    return __longlong_as_double((long long)((unsigned long long)(e + 1023) << 52));
}}
__device__ __forceinline__ double exp_cpu(double x) {{
    x = x < -746.0 ? -746.0 : (x > 710.0 ? 710.0 : x);
    const double round_c = {ROUND:?};
    double t = x * {log2e:?} + round_c;
    double n = t - round_c;
    double r = (x - n * {LN2_HI:?}) - n * {LN2_LO:?};
{horner}    long long ni = __double_as_longlong(t) - __double_as_longlong(round_c);
    long long n1 = ni >> 1;
    return p * pow2_bits(n1) * pow2_bits(ni - n1);
}}
__device__ __forceinline__ double sigmoid_gate(double x) {{ return 1.0 / (1.0 + exp_cpu(-x)); }}
__device__ __forceinline__ double tanh_gate(double x) {{
    double a = 1.0 - 2.0 / (exp_cpu(2.0 * fabs(x)) + 1.0);
    return copysign(a, x);
}}
"#,
        log2e = std::f64::consts::LOG2_E,
    )
}

/// The parameters of the step kernels: sizes, the step, whether outputs are sequences.
const STEP_PARAMS: &str = "long long n, long long t, long long d, long long m, long long s, int seq";

/// `IFOG[(s*N + r)*4M + j] = Xw[(r*T + s)*4M + j] + bias[j]`: the input side of every step
/// (`Xw`, batch-major rows, from the product) step-major, one thread a cell.
pub fn gates_in(name: &str) -> String {
    format!(
        r#"{HELPERS}
extern "C" __global__ void {name}(const double* Xw, const double* Bias, double* IFOG, long long n,
        long long t, long long g4) {{
    GRID_LOOP(i, t * n * g4) {{
        long long s = i / (n * g4);
        long long r = (i / g4) % n;
        long long j = i % g4;
        IFOG[i] = Xw[(r * t + s) * g4 + j] + Bias[j];
    }}
}}
"#
    )
}

/// One forward step `s` for all rows, one thread a (row, unit): the four gates' recurrent dot
/// products `out_prev W_h` added to the input side in `IFOG`, activated in place; then
/// `c = f*c_prev + i*g` and `out = o*tanh(c)` into the caches, and into `Seq` (the `N x T*M`
/// output) when `seq` is 1. Step 0 reads `out0` and `c0`, later steps the caches' previous rows.
pub fn step(name: &str) -> String {
    format!(
        r#"{HELPERS}{activations}
extern "C" __global__ void {name}(const double* W, const double* O0, const double* C0, double* IFOG,
        double* CO, double* CC, double* Seq, {STEP_PARAMS}) {{
    long long g4 = 4 * m;
    GRID_LOOP(i, n * m) {{
        long long r = i / m, j = i % m;
        double zi = 0.0, zf = 0.0, zo = 0.0, zg = 0.0;
        /* The previous step's output row (out0's row at step 0). */
        const double* h_prev = s == 0 ? O0 + r * m : CO + ((s - 1) * n + r) * m;
        for (long long k = 0; k < m; k++) {{
            double h = h_prev[k];
            const double* w = W + (d + k) * g4 + j;
            zi = fma(h, w[0], zi);
            zf = fma(h, w[m], zf);
            zo = fma(h, w[2 * m], zo);
            zg = fma(h, w[3 * m], zg);
        }}
        double* gates = IFOG + (s * n + r) * g4 + j;
        double gi = sigmoid_gate(gates[0] + zi);
        double gf = sigmoid_gate(gates[m] + zf);
        double go = sigmoid_gate(gates[2 * m] + zo);
        double gg = tanh_gate(gates[3 * m] + zg);
        gates[0] = gi;
        gates[m] = gf;
        gates[2 * m] = go;
        gates[3 * m] = gg;
        double cp = s == 0 ? C0[r * m + j] : CC[((s - 1) * n + r) * m + j];
        double c = gf * cp + gi * gg;
        double h = go * tanh_gate(c);
        long long here = (s * n + r) * m + j;
        CC[here] = c;
        CO[here] = h;
        if (seq) Seq[(r * t + s) * m + j] = h;
    }}
}}
"#,
        activations = activations(),
    )
}

/// `O[i] = A[offset + i]` for `i < cells`: the last step's rows of a cache as the `N x M`
/// output, or a copy of an input the kernels then update.
pub fn copy(name: &str) -> String {
    format!(
        r#"{HELPERS}
extern "C" __global__ void {name}(const double* A, double* O, long long cells, long long offset) {{
    GRID_LOOP(i, cells) O[i] = A[offset + i];
}}
"#
    )
}

/// One backward step `s` for all rows, one thread a (row, unit), in the operations of
/// `nn/layers/lstm.dml::backward`: the gradient at the step's output (`dgates` of step `s+1`
/// times row `j` of `W_h`, then the given `dout`), the gradient at the cell (`DC` holds the one
/// from step `s+1`, and gets the one at `c_prev`), the four gate gradients into `DG` (rows
/// batch-major: `r*T + s`).
pub fn backward_step(name: &str) -> String {
    format!(
        r#"{HELPERS}{activations}
extern "C" __global__ void {name}(const double* W, const double* Dout, const double* IFOG,
        const double* CC, const double* C0, double* DG, double* DC, {STEP_PARAMS}) {{
    long long g4 = 4 * m;
    GRID_LOOP(i, n * m) {{
        long long r = i / m, j = i % m;
        double dh = 0.0;
        if (s + 1 < t) {{
            const double* next = DG + (r * t + s + 1) * g4;
            const double* w = W + (d + j) * g4;
            for (long long col = 0; col < g4; col++) dh = fma(next[col], w[col], dh);
        }}
        if (seq) {{
            dh = dh + Dout[(r * t + s) * m + j];
        }} else if (s + 1 == t) {{
            dh = dh + Dout[r * m + j];
        }}
        const double* gates = IFOG + (s * n + r) * g4 + j;
        double gi = gates[0], gf = gates[m], go = gates[2 * m], gg = gates[3 * m];
        double ct = CC[(s * n + r) * m + j];
        double cp = s == 0 ? C0[r * m + j] : CC[((s - 1) * n + r) * m + j];
        double tc = tanh_gate(ct);
        double dcell = DC[i] + dh * go * (1.0 - tc * tc);
        double* dg = DG + (r * t + s) * g4 + j;
        dg[0] = dcell * gg * gi * (1.0 - gi);
        dg[m] = dcell * cp * gf * (1.0 - gf);
        dg[2 * m] = dh * tc * go * (1.0 - go);
        dg[3 * m] = dcell * gi * (1.0 - gg * gg);
        DC[i] = dcell * gf;
    }}
}}
"#,
        activations = activations(),
    )
}

/// `dout0 = dgates_0 W_h^T`: the gradient at the initial output, one thread a (row, unit).
pub fn backward_dout0(name: &str) -> String {
    format!(
        r#"{HELPERS}
extern "C" __global__ void {name}(const double* W, const double* DG, double* O, long long n,
        long long t, long long d, long long m) {{
    long long g4 = 4 * m;
    GRID_LOOP(i, n * m) {{
        long long r = i / m, k = i % m;
        const double* first = DG + r * t * g4;
        const double* w = W + (d + k) * g4;
        double acc = 0.0;
        for (long long col = 0; col < g4; col++) acc = fma(first[col], w[col], acc);
        O[i] = acc;
    }}
}}
"#
    )
}

/// The recurrent rows of `dW` and the bias gradient, one thread a cell of `(M+1) x 4M`: row
/// `k < M` is `dW[D + k, col]`, the sum from 0.0 over steps and rows of the previous output
/// (`out0` at step 0, else the output cache's previous step) times the gate gradient, by fused
/// multiply-adds; row `M` is `db[col]`, the gate gradients added step by step, rows in order.
pub fn backward_dwh_db(name: &str) -> String {
    format!(
        r#"{HELPERS}
extern "C" __global__ void {name}(const double* O0, const double* CO, const double* DG, double* DW,
        double* DB, long long n, long long t, long long d, long long m) {{
    long long g4 = 4 * m;
    GRID_LOOP(i, (m + 1) * g4) {{
        long long k = i / g4, col = i % g4;
        double acc = 0.0;
        if (k == m) {{
            for (long long s = 0; s < t; s++)
                for (long long r = 0; r < n; r++) acc = acc + DG[(r * t + s) * g4 + col];
            DB[col] = acc;
            continue;
        }}
        for (long long s = 0; s < t; s++) {{
            for (long long r = 0; r < n; r++) {{
                double h = s == 0 ? O0[r * m + k] : CO[((s - 1) * n + r) * m + k];
                acc = fma(h, DG[(r * t + s) * g4 + col], acc);
            }}
        }}
        DW[(d + k) * g4 + col] = acc;
    }}
}}
"#
    )
}

/// Batch `n`, steps `t`, features `d`, units `m`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dims {
    pub n: usize,
    pub t: usize,
    pub d: usize,
    pub m: usize,
}

/// The step kernels' scalars at step `s`.
fn step_scalars(dims: Dims, s: usize, seq: bool) -> Vec<Scalar> {
    let Dims { n, t, d, m } = dims;
    let mut v = sizes(&[n, t, d, m, s]);
    v.push(Scalar::I32(seq as i32));
    v
}

/// The forward's program on inputs `[x, W, bias, out0, c0]`, outputs `[out, c, cache_out,
/// cache_c, cache_ifog]` (`seq`: `return_sequences`).
pub fn forward(dims: Dims, seq: bool) -> Program {
    let Dims { n, t, d, m } = dims;
    let g4 = 4 * m;
    let [x, w, bias, out0, c0] = [0, 1, 2, 3, 4].map(Buf::Input);
    let mut p = Program::default();
    let xw = p.temp(t * n * g4);
    let ifog = p.temp(t * n * g4);
    let (cache_out, cache_c) = (p.temp(t * n * m), p.temp(t * n * m));
    // Without sequences the steps write no output sequence: `out` is the last step's rows.
    let out = p.temp(if seq { n * t * m } else { n * m });
    let c_last = p.temp(n * m);
    // The input side of every step: X (read as N*T x D) %*% W_x (W's first D rows).
    p.product(Product { m: n * t, n: g4, k: d, ta: false, tb: false, a: x, lda: d, b: w, ldb: g4, c: xw });
    p.kernel("lstm_gates_in", gates_in, &[xw, bias, ifog], sizes(&[n, t, g4]), t * n * g4);
    for s in 0..t {
        let bufs = [w, out0, c0, ifog, cache_out, cache_c, out];
        p.kernel("lstm_step", step, &bufs, step_scalars(dims, s, seq), n * m);
    }
    let last = sizes(&[n * m, (t - 1) * n * m]);
    if !seq {
        p.kernel("lstm_copy", copy, &[cache_out, out], last.clone(), n * m);
    }
    p.kernel("lstm_copy", copy, &[cache_c, c_last], last, n * m);
    p.output(out, n, if seq { t * m } else { m });
    p.output(c_last, n, m);
    p.output(cache_out, t, n * m);
    p.output(cache_c, t, n * m);
    p.output(ifog, t, n * g4);
    p
}

/// The backward's program on inputs `[x, W, out0, c0, dout, dc, cache_out, cache_c,
/// cache_ifog]`, outputs `[dX, dW, db, dout0, dc0]` (`seq`: `given_sequences`).
pub fn backward(dims: Dims, seq: bool) -> Program {
    let Dims { n, t, d, m } = dims;
    let g4 = 4 * m;
    let [x, w, out0, c0, dout, dc, cache_out, cache_c, cache_ifog] =
        [0, 1, 2, 3, 4, 5, 6, 7, 8].map(Buf::Input);
    let mut p = Program::default();
    // The gate gradients of every step, rows batch-major (`r*T + s`) like `X`'s.
    let dgates = p.temp(n * t * g4);
    let dc0 = p.temp(n * m);
    let dout0 = p.temp(n * m);
    let dw = p.temp((d + m) * g4);
    let db = p.temp(g4);
    let dx = p.temp(n * t * d);
    p.kernel("lstm_copy", copy, &[dc, dc0], sizes(&[n * m, 0]), n * m);
    for s in (0..t).rev() {
        let bufs = [w, dout, cache_ifog, cache_c, c0, dgates, dc0];
        p.kernel("lstm_backward_step", backward_step, &bufs, step_scalars(dims, s, seq), n * m);
    }
    let dims_scalars = sizes(&[n, t, d, m]);
    p.kernel("lstm_backward_dout0", backward_dout0, &[w, dgates, dout0], dims_scalars.clone(), n * m);
    // dW_x = t(X) %*% dgates over all N*T rows (X read as N*T x D), into dW's first D rows.
    p.product(Product {
        m: d,
        n: g4,
        k: n * t,
        ta: true,
        tb: false,
        a: x,
        lda: d,
        b: dgates,
        ldb: g4,
        c: dw,
    });
    let bufs = [out0, cache_out, dgates, dw, db];
    p.kernel("lstm_backward_dwh_db", backward_dwh_db, &bufs, dims_scalars, (m + 1) * g4);
    // dX = dgates %*% t(W_x): N*T x D, which is dX's N x T*D layout.
    p.product(Product {
        m: n * t,
        n: d,
        k: g4,
        ta: false,
        tb: true,
        a: dgates,
        lda: g4,
        b: w,
        ldb: g4,
        c: dx,
    });
    p.output(dx, n, t * d);
    p.output(dw, d + m, g4);
    p.output(db, 1, g4);
    p.output(dout0, n, m);
    p.output(dc0, n, m);
    p
}
