//! The CUDA C kernels, compiled at run time by NVRTC (no toolkit at build time) once per
//! process and kernel. Each operator's scalar semantics are those of `crate::kernels::ops`
//! (Java's: NaN wins in min/max, -0.0 below 0.0, comparisons give 1/0, NaN counts as true);
//! a kernel is generated per operator by substituting its expression into a template.
//!
//! Compiled without FMA contraction (`--fmad=false`, see `super::Cuda::function`), so `a*x + b*y`
//! rounds as on the CPU. Cellwise kernels loop over their cells with a grid stride, so any
//! matrix size takes a bounded grid; sizes and indices are 64-bit.

use crate::types::ops::{AggOp, BinOp, UnOp};

pub mod batch_norm;
pub mod dnn;
pub mod lstm;
pub mod program;

/// A kernel's scalar argument, in the order the kernel declares them after its buffers. The
/// launch (`super::ops`) pushes these, and the host-compiled check (`super::host_check`) writes
/// them into its calls, so both pass the same values in the same order.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scalar {
    I64(i64),
    I32(i32),
    F64(f64),
}

/// Helpers every kernel may call: NaN, infinity and the sign bit read from the bits (no headers
/// needed, nothing a compiler may fold), Java's min and max.
pub(super) const HELPERS: &str = r#"
#define DML_NAN (__longlong_as_double(0x7ff8000000000000LL))
#define DML_INF (__longlong_as_double(0x7ff0000000000000LL))
__device__ __forceinline__ bool dml_isnan(double x) {
    return (__double_as_longlong(x) & 0x7fffffffffffffffLL) > 0x7ff0000000000000LL;
}
__device__ __forceinline__ bool dml_isinf(double x) {
    return (__double_as_longlong(x) & 0x7fffffffffffffffLL) == 0x7ff0000000000000LL;
}
__device__ __forceinline__ bool dml_signbit(double x) { return __double_as_longlong(x) < 0; }
__device__ __forceinline__ double java_min(double a, double b) {
    if (dml_isnan(a) || dml_isnan(b)) return DML_NAN;
    if (a == b) return dml_signbit(a) ? a : b;
    return a < b ? a : b;
}
__device__ __forceinline__ double java_max(double a, double b) {
    if (dml_isnan(a) || dml_isnan(b)) return DML_NAN;
    if (a == b) return dml_signbit(a) ? b : a;
    return a > b ? a : b;
}
__device__ __forceinline__ double b2f(bool b) { return b ? 1.0 : 0.0; }
/* Java's Math.round as a long, back to double: half up, NaN to 0, saturating at 2^63, no -0. */
__device__ __forceinline__ double java_round(double x) {
    if (dml_isnan(x)) return 0.0;
    const double two63 = 9223372036854775808.0;
    if (fabs(x) >= 4503599627370496.0) return x < -two63 ? -two63 : (x > two63 ? two63 : x);
    double r = floor(x);
    double v = (x - r >= 0.5) ? r + 1.0 : r;
    return v == 0.0 ? 0.0 : v;
}
#define GRID_LOOP(i, n) for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < (n); \
                             i += (long long)gridDim.x * blockDim.x)
"#;

/// The expression of a binary operator on `a` and `b`, or `None` without a kernel.
pub fn binary_expr(op: BinOp) -> Option<&'static str> {
    Some(match op {
        BinOp::Add => "a + b",
        BinOp::Sub => "a - b",
        BinOp::Mul => "a * b",
        BinOp::Div => "a / b",
        BinOp::Min => "java_min(a, b)",
        BinOp::Max => "java_max(a, b)",
        // C's ordered comparisons are false with a NaN and `!=` true, as Java's.
        BinOp::Lt => "b2f(a < b)",
        BinOp::Le => "b2f(a <= b)",
        BinOp::Gt => "b2f(a > b)",
        BinOp::Ge => "b2f(a >= b)",
        BinOp::Eq => "b2f(a == b)",
        BinOp::Ne => "b2f(a != b)",
        // NaN is non-zero, so it counts as true (`NaN != 0` holds).
        BinOp::And => "b2f(a != 0.0 && b != 0.0)",
        BinOp::Or => "b2f(a != 0.0 || b != 0.0)",
        BinOp::Xor => "b2f((a != 0.0) != (b != 0.0))",
        _ => return None,
    })
}

/// The expression of a unary operator on `x`, or `None` without a kernel. CUDA's f64 math
/// library is within 2 ulp of the correctly rounded result for these (CUDA C Programming
/// Guide, "Double-Precision Floating-Point Functions").
pub fn unary_expr(op: UnOp) -> Option<&'static str> {
    Some(match op {
        UnOp::Neg => "-x",
        UnOp::Not => "b2f(x == 0.0)",
        UnOp::Abs => "fabs(x)",
        // sign(NaN) = NaN, sign(-0.0) = -0.0 (Java's signum).
        UnOp::Sign => "(x > 0.0 ? 1.0 : (x < 0.0 ? -1.0 : x))",
        UnOp::Sqrt => "sqrt(x)",
        UnOp::Exp => "exp(x)",
        UnOp::Log => "log(x)",
        UnOp::Floor => "floor(x)",
        UnOp::Ceil => "ceil(x)",
        UnOp::Round => "java_round(x)",
        UnOp::Sin => "sin(x)",
        UnOp::Cos => "cos(x)",
        UnOp::Tan => "tan(x)",
        UnOp::Asin => "asin(x)",
        UnOp::Acos => "acos(x)",
        UnOp::Atan => "atan(x)",
        UnOp::Sinh => "sinh(x)",
        UnOp::Cosh => "cosh(x)",
        UnOp::Tanh => "tanh(x)",
        UnOp::Sigmoid => "1.0 / (1.0 + exp(-x))",
        UnOp::IsNa | UnOp::IsNaN => "b2f(dml_isnan(x))",
        UnOp::IsInf => "b2f(dml_isinf(x))",
        UnOp::Relu => "java_max(0.0, x)",
    })
}

/// `O = A op B` with broadcasting: each operand is `ar x ac`, and a dimension of 1 repeats
/// (a 1x1 operand is a scalar, 1 x cols a row vector, rows x 1 a column vector).
pub fn binary(name: &str, expr: &str) -> String {
    format!(
        r#"{HELPERS}
extern "C" __global__ void {name}(const double* A, const double* B, double* O, long long rows,
        long long cols, long long ar, long long ac, long long br, long long bc) {{
    GRID_LOOP(i, rows * cols) {{
        long long r = i / cols, c = i % cols;
        double a = A[(ar == 1 ? 0 : r) * ac + (ac == 1 ? 0 : c)];
        double b = B[(br == 1 ? 0 : r) * bc + (bc == 1 ? 0 : c)];
        O[i] = {expr};
    }}
}}
"#
    )
}

/// `O = op(A)` cell by cell.
pub fn unary(name: &str, expr: &str) -> String {
    format!(
        r#"{HELPERS}
extern "C" __global__ void {name}(const double* A, double* O, long long n) {{
    GRID_LOOP(i, n) {{
        double x = A[i];
        O[i] = {expr};
    }}
}}
"#
    )
}

/// The fused cellwise builtins, `O[i] = f(X[i], Y[j])`: `_axpby` (`a*x + b*y`, `j = i`),
/// `_relu_backward` (`(x > 0) * dout`, `j = i`), `bias_add` and `bias_multiply` (`x + b[channel]`,
/// `x * b[channel]`, the channel of column `i % cols` being `(i % cols) / hw`).
#[derive(Clone, Copy, Debug)]
pub enum Fused {
    Axpby,
    ReluBackward,
    BiasAdd,
    /// `bias_multiply` on a dense input (a sparse one keeps its zeros on the CPU).
    BiasMultiply,
}

/// [`fused`]'s scalar arguments: cells, columns, cells a channel, `a` and `b` of `_axpby`.
pub fn fused_scalars(cells: usize, cols: usize, hw: usize, sa: f64, sb: f64) -> Vec<Scalar> {
    vec![
        Scalar::I64(cells as i64),
        Scalar::I64(cols as i64),
        Scalar::I64(hw as i64),
        Scalar::F64(sa),
        Scalar::F64(sb),
    ]
}

/// `(X, Y, O, fused_scalars)`.
pub fn fused(name: &str, kind: Fused) -> String {
    let (expr, j) = match kind {
        Fused::Axpby => ("sa * x + sb * y", "i"),
        Fused::ReluBackward => ("(x > 0.0 ? 1.0 : 0.0) * y", "i"),
        Fused::BiasAdd => ("x + y", "(i % cols) / hw"),
        Fused::BiasMultiply => ("x * y", "(i % cols) / hw"),
    };
    format!(
        r#"{HELPERS}
extern "C" __global__ void {name}(const double* X, const double* Y, double* O, long long n,
        long long cols, long long hw, double sa, double sb) {{
    GRID_LOOP(i, n) {{
        double x = X[i];
        double y = Y[{j}];
        O[i] = {expr};
    }}
}}
"#
    )
}

/// Threads of an aggregate's block (one block folds one segment).
pub const AGG_THREADS: u32 = 256;

/// Aggregates `nseg` segments of `len` cells (segment `s` starts at `s * seg_stride`, its cells
/// `cell_stride` apart, none past `total`): a block a segment, each thread folding a strided
/// share, then a tree over the block's partial states in shared memory. Sums are
/// Kahan-compensated like the CPU's (`c` is the correction); a NaN cell makes the result NaN.
/// Rows are `stride 1`, columns `stride cols`; a whole matrix is folded in blocks, then the
/// blocks' results by a second launch.
pub fn aggregate(name: &str, op: AggOp) -> Option<String> {
    let (init, push, merge, finish) = match op {
        AggOp::Sum | AggOp::Mean | AggOp::SumSq => (
            "0.0",
            if op == AggOp::SumSq { "kahan(s, c, x * x);" } else { "kahan(s, c, x);" },
            "kahan(s, c, os); kahan(s, c, oc);",
            if op == AggOp::Mean {
                "s / (double)(len < total - seg * seg_stride ? len : total - seg * seg_stride)"
            } else {
                "s"
            },
        ),
        AggOp::Min => ("DML_INF", "s = java_min(s, x);", "s = java_min(s, os);", "s"),
        AggOp::Max => ("-DML_INF", "s = java_max(s, x);", "s = java_max(s, os);", "s"),
        _ => return None,
    };
    let t = AGG_THREADS;
    Some(format!(
        r#"{HELPERS}
__device__ __forceinline__ void kahan(double& s, double& c, double v) {{
    double y = v + c;
    double t = s + y;
    c = y - (t - s);
    s = t;
}}
extern "C" __global__ void {name}(const double* A, double* O, long long nseg, long long len,
        long long seg_stride, long long cell_stride, long long total) {{
    __shared__ double ss[{t}];
    __shared__ double cs[{t}];
    __shared__ int ns[{t}];
    int tid = threadIdx.x;
    for (long long seg = blockIdx.x; seg < nseg; seg += gridDim.x) {{
        double s = {init};
        double c = 0.0;
        int nan = 0;
        long long base = seg * seg_stride;
        for (long long j = tid; j < len; j += {t}) {{
            long long k = base + j * cell_stride;
            if (k >= total) break;
            double x = A[k];
            if (dml_isnan(x)) {{ nan = 1; }} else {{ {push} }}
        }}
        ss[tid] = s;
        cs[tid] = c;
        ns[tid] = nan;
        __syncthreads();
        for (int half = {t} / 2; half > 0; half /= 2) {{
            if (tid < half) {{
                s = ss[tid];
                c = cs[tid];
                double os = ss[tid + half];
                double oc = cs[tid + half];
                (void)oc;
                {merge}
                ss[tid] = s;
                cs[tid] = c;
                ns[tid] |= ns[tid + half];
            }}
            __syncthreads();
        }}
        if (tid == 0) {{
            s = ss[0];
            O[seg] = ns[0] ? DML_NAN : {finish};
        }}
        __syncthreads();
    }}
}}
"#
    ))
}

/// `ifelse(c, yes, no)` cell by cell, `(C, Y, N, O, ifelse_scalars)`: `yes` where `c` is
/// non-zero (C's `!=` holds for NaN, which counts as TRUE as on the CPU; -0.0 is FALSE), `no`
/// elsewhere; an operand is all `n` cells or one cell repeated (its `*_full` flag 0).
pub fn ifelse(name: &str) -> String {
    format!(
        r#"{HELPERS}
extern "C" __global__ void {name}(const double* C, const double* Y, const double* N, double* O,
        long long n, int c_full, int y_full, int n_full) {{
    GRID_LOOP(i, n) {{
        double c = C[c_full ? i : 0];
        O[i] = c != 0.0 ? Y[y_full ? i : 0] : N[n_full ? i : 0];
    }}
}}
"#
    )
}

/// [`ifelse`]'s scalar arguments: the cells, and whether each operand has them all.
pub fn ifelse_scalars(cells: usize, full: [bool; 3]) -> Vec<Scalar> {
    let mut v = vec![Scalar::I64(cells as i64)];
    v.extend(full.map(|f| Scalar::I32(f as i32)));
    v
}

/// `conv2d` (and `_conv2d_bias_add`) forward, one output cell a thread, `(X, W, Bias, O,
/// dnn::conv_scalars, has_bias)`: the dot product of the
/// filter with the input window (zero padding), taps in the order channel, row, column, then
/// the bias. Input rows are images `C x H x W`, filter rows `C x Hf x Wf`, output rows
/// `F x Hout x Wout`.
pub fn conv2d(name: &str) -> String {
    format!(
        r#"{HELPERS}
extern "C" __global__ void {name}(const double* X, const double* W, const double* Bias, double* O,
        long long n, long long c, long long h, long long w, long long f, long long hf, long long wf,
        long long sh, long long sw, long long ph, long long pw, long long oh, long long ow,
        int has_bias) {{
    long long per_image = f * oh * ow;
    GRID_LOOP(i, n * per_image) {{
        long long img = i / per_image;
        long long rem = i % per_image;
        long long fi = rem / (oh * ow);
        long long pos = rem % (oh * ow);
        long long oy = pos / ow, ox = pos % ow;
        double acc = 0.0;
        for (long long ci = 0; ci < c; ci++) {{
            const double* xb = X + img * c * h * w + ci * h * w;
            const double* wb = W + fi * c * hf * wf + ci * hf * wf;
            for (long long ky = 0; ky < hf; ky++) {{
                long long iy = oy * sh + ky - ph;
                if (iy < 0 || iy >= h) continue;
                for (long long kx = 0; kx < wf; kx++) {{
                    long long ix = ox * sw + kx - pw;
                    if (ix < 0 || ix >= w) continue;
                    acc = fma(xb[iy * w + ix], wb[ky * wf + kx], acc);
                }}
            }}
        }}
        O[i] = has_bias ? acc + Bias[fi] : acc;
    }}
}}
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every operator the device claims has an expression, and every generated kernel names
    /// its entry point (the sources are compiled for real only where NVRTC exists).
    #[test]
    fn every_supported_operator_generates_a_kernel() {
        for op in [BinOp::Add, BinOp::Min, BinOp::Xor] {
            let src = binary("k", binary_expr(op).unwrap());
            assert!(src.contains("void k(") && src.contains("java_min"));
        }
        assert!(unary("u", unary_expr(UnOp::Tanh).unwrap()).contains("tanh(x)"));
        for op in [AggOp::Sum, AggOp::SumSq, AggOp::Mean, AggOp::Min, AggOp::Max] {
            assert!(aggregate("a", op).unwrap().contains("void a("));
        }
        assert!(aggregate("a", AggOp::Var).is_none());
        assert!(fused("f", Fused::BiasAdd).contains("(i % cols) / hw"));
        assert!(conv2d("c").contains("has_bias"));
    }
}
