//! Aggregates that add their cells in the CPU kernel's order (`crate::kernels::aggregate`), so
//! the device's sums are the CPU's to the last bit: one invocation a segment (a row, a column or
//! the whole matrix), folding its cells one after the other with the same Kahan steps.
//!
//! Two things made the device's sums differ from the CPU's in the last digits, which under
//! `--gpu force` moved the batch-norm statistics of the ResNet conformance scripts
//! (`channel_sums` is a `colSums` and a `rowSums`) off the CPU's printed values: the driver's
//! compiler (Mesa's NIR on lavapipe) folds Kahan's correction `y - ((s + y) - s)` to 0, so the
//! compensated sums were plain sums; and a tree kernel (since removed) folded a segment in
//! 64 strided shares and then merged them, another order than the CPU's. The kernel scales `t`
//! by a uniform `one` (1.0, unknown to the compiler) before the subtraction, which keeps the
//! correction. Segments longer than one dispatch should loop over are folded in
//! chunks, the running state kept in a device buffer between dispatches: every sum, however
//! long, is the CPU's to the last bit (one invocation a segment: a whole-matrix aggregate is
//! sequential on the device, as on the CPU).
//!
//! A sparse input is uploaded dense; `skip_zero` then makes the kernel skip its +0 cells, as the
//! CPU kernel folds only the stored cells of a sparse matrix and accounts for the zeros at the
//! end (they change a Kahan sum's rounding when folded in).

use crate::types::ops::AggOp;

/// The most cells one dispatch folds of a segment; longer segments are folded in chunks of this
/// many, one dispatch each (the `chunked` kernel). On lavapipe a
/// loop of exactly 65536 iterations here dropped one cell (a sum of 65536 ones gave 65535, and
/// so `sum` of ResNet-50's 512x128 filter gradient), where 65535 did not: half that is kept.
pub const MAX_LEN: usize = 1 << 15;

/// Invocations a workgroup (one segment each).
pub const GROUP: usize = 64;

/// The kernel for `op` (sum, sum of squares, mean, min, max) folding whole segments of at most
/// [`MAX_LEN`] cells; `chunked`: the kernel folding cells `start..end` of each segment, its
/// running state (the Kahan sum and correction, or the extreme, and the NaN, -0.0 and zero
/// flags) carried between dispatches in two buffers, so that a longer segment is folded in
/// [`MAX_LEN`]-cell chunks, one dispatch each, in the CPU's order too.
pub fn source(op: AggOp, chunked: bool) -> String {
    // State: (s, c) the Kahan sum and correction; for min/max s and `neg` (its sign, since
    // a -0.0 is tracked by flag rather than trusted to the driver).
    let (init, push, zeros, finish) = match op {
        AggOp::Sum | AggOp::Mean | AggOp::SumSq => (
            "f64(0.0)",
            if op == AggOp::SumSq { "kahan(&s, &c, x.v * x.v);" } else { "kahan(&s, &c, x.v);" },
            "",
            if op == AggOp::Mean { "s / f64(p.len)" } else { "s" },
        ),
        AggOp::Min => (
            "p.inf",
            "if (x.v < s || (x.v == s && x.neg)) { s = x.v; neg = x.neg; }",
            "if (f64(0.0) < s) { s = f64(0.0); neg = false; }",
            "select(s, -abs(s), neg)",
        ),
        AggOp::Max => (
            "-p.inf",
            "if (x.v > s || (x.v == s && !x.neg)) { s = x.v; neg = x.neg; }",
            "if (f64(0.0) > s || (s == f64(0.0) && neg)) { s = f64(0.0); neg = false; }",
            "select(s, -abs(s), neg)",
        ),
        _ => unreachable!("no GPU kernel for {op:?}"),
    };
    let (state_bindings, load, store) = if chunked {
        (
            "@group(0) @binding(3) var<storage, read_write> S: array<f64>;\n\
             @group(0) @binding(4) var<storage, read_write> F: array<u32>;\n\
             @group(0) @binding(5) var<uniform> p: P;",
            "if (p.start > 0u) {\n\
                 s = S[2u * seg]; c = S[2u * seg + 1u];\n\
                 let f = F[seg]; neg = (f & 1u) != 0u; nan = (f & 2u) != 0u; zeros = (f & 4u) != 0u;\n\
             }",
            "if (p.end < p.len) {\n\
                 S[2u * seg] = s; S[2u * seg + 1u] = c;\n\
                 F[seg] = select(0u, 1u, neg) | select(0u, 2u, nan) | select(0u, 4u, zeros);\n\
                 return;\n\
             }",
        )
    } else {
        ("@group(0) @binding(3) var<uniform> p: P;", "", "")
    };
    format!(
        r#"
struct P {{ nseg: u32, len: u32, seg_stride: u32, cell_stride: u32, skip_zero: u32, start: u32, end: u32, pad: u32, inf: f64, nan: f64, one: f64 }}
@group(0) @binding(0) var<storage, read> A: array<f64>;
@group(0) @binding(1) var<storage, read_write> O: array<f64>;
@group(0) @binding(2) var<storage, read> Ab: array<u32>;
{state_bindings}
{helpers}
fn kahan(s: ptr<function, f64>, c: ptr<function, f64>, v: f64) {{
    let y = v + *c;
    let t = *s + y;
    *c = y - (t * p.one - *s);
    *s = t;
}}
@compute @workgroup_size({GROUP})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(num_workgroups) nw: vec3<u32>) {{
    let seg = (wg.y * nw.x + wg.x) * {GROUP}u + lid.x;
    if (seg >= p.nseg) {{ return; }}
    var s = {init};
    var c = f64(0.0);
    var neg = false;
    var nan = false;
    var zeros = false;
    {load}
    let base = seg * p.seg_stride;
    for (var j = p.start; j < p.end; j++) {{
        let k = base + j * p.cell_stride;
        let lo = Ab[2u * k];
        let hi = Ab[2u * k + 1u];
        if (p.skip_zero == 1u && lo == 0u && hi == 0u) {{ zeros = true; continue; }}
        let x = d_of(A[k], lo, hi);
        if (x.nan) {{ nan = true; }} else {{ {push} }}
    }}
    {store}
    if (zeros) {{ {zeros} }}
    O[seg] = select({finish}, p.nan, nan);
}}
"#,
        helpers = super::HELPERS
    )
}
