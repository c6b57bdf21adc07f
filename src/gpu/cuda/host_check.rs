//! The CUDA C kernels run as host C++ against the CPU kernels, on machines without an NVIDIA
//! GPU (CI's, and most of ours). The generated sources are compiled by the system's C++
//! compiler (`CXX`, else `c++`) against a stand-in header that makes `__global__` and
//! `__device__` plain functions and `blockIdx`/`threadIdx`/`blockDim`/`gridDim` globals; a
//! driver loops over every block and thread of a launch and calls the kernel once for each, as
//! the device would (in sequence, which the kernels allow: no thread reads a cell another one
//! writes). Each case runs twice: with the launch's own block size (256) and blocks enough for
//! one cell a thread, and with 3 blocks of 7 threads, so the grid-stride loops go round.
//!
//! The driver is built with AddressSanitizer and UBSan where the compiler has them, so a read
//! or write past a buffer fails the test; output buffers start as a NaN the CPU never writes,
//! so a cell no thread writes fails it too. The pools, `ifelse` and the fused cellwise kernels
//! must give the CPU's bits; the convolutions agree to 1e-12 relative (to max(1, |cpu|)), as
//! they sum in another order.
//!
//! What this does not check: the device compiler (NVRTC) and its math library, real
//! concurrency and the launches' argument passing through cudarc (the scalars come from the
//! same `kernels::*_scalars` lists the launches push, in the same order).

use super::kernels::dnn::{self, Pool};
use super::kernels::{self, Fused, Scalar};
use crate::kernels::dnn::{ConvShape, PoolShape};
use crate::kernels::ternary::{Operand, ifelse};
use crate::types::matrix::Matrix;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// What the CUDA C sources use beyond plain C++: the qualifiers, the thread coordinates, the
/// bit casts NVRTC has as intrinsics.
const STAND_IN: &str = r#"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <string>
#include <vector>
struct dim3 { unsigned x, y, z; };
static dim3 blockIdx, threadIdx, blockDim, gridDim;
#define __global__
#define __device__
#define __forceinline__ inline
static inline double __longlong_as_double(long long v) { double d; memcpy(&d, &v, 8); return d; }
static inline long long __double_as_longlong(double d) { long long v; memcpy(&v, &d, 8); return v; }
"#;

/// The driver's helpers: binary f64 files in and out, and a launch as a loop over the grid.
const DRIVER: &str = r#"
static std::vector<double> load(const std::string& path) {
    FILE* f = fopen(path.c_str(), "rb");
    if (!f) { fprintf(stderr, "cannot open %s\n", path.c_str()); exit(2); }
    fseek(f, 0, SEEK_END);
    long bytes = ftell(f);
    fseek(f, 0, SEEK_SET);
    std::vector<double> v(bytes / 8);
    if (fread(v.data(), 8, v.size(), f) != v.size()) { fprintf(stderr, "short read\n"); exit(2); }
    fclose(f);
    return v;
}
static void store(const std::string& path, const std::vector<double>& v) {
    FILE* f = fopen(path.c_str(), "wb");
    if (!f || fwrite(v.data(), 8, v.size(), f) != v.size()) { fprintf(stderr, "cannot write\n"); exit(2); }
    fclose(f);
}
template <class Body> static void launch(unsigned blocks, unsigned threads, Body body) {
    gridDim.x = blocks; gridDim.y = gridDim.z = 1;
    blockDim.x = threads; blockDim.y = blockDim.z = 1;
    for (unsigned b = 0; b < blocks; b++) {
        for (unsigned t = 0; t < threads; t++) {
            blockIdx.x = b; threadIdx.x = t;
            body();
        }
    }
}
/* No kernel writes this NaN: a cell that keeps it was never written. */
static const double UNWRITTEN = __longlong_as_double(0x7ff4000000dead00LL);
"#;

/// The two launch shapes of every case: (blocks, threads).
fn grids(cells: usize) -> [(usize, usize); 2] {
    [(cells.div_ceil(256).max(1), 256), (3, 7)]
}

/// One launch to check: the kernel, its input buffers and scalars, and the CPU's result.
struct Case {
    what: String,
    kernel: &'static str,
    source: String,
    inputs: Vec<Vec<f64>>,
    scalars: Vec<Scalar>,
    want: Vec<f64>,
    /// The CPU's bits, or 1e-12 relative.
    exact: bool,
}

fn literal(s: &Scalar) -> String {
    match s {
        Scalar::I64(v) => format!("{v}LL"),
        Scalar::I32(v) => format!("{v}"),
        Scalar::F64(v) => format!("__longlong_as_double((long long){:#x}ULL)", v.to_bits()),
    }
}

/// The translation unit: the stand-in, each kernel's source in its own namespace (the sources
/// repeat their helpers), the driver and a `main` that runs every case.
fn program(cases: &[Case]) -> String {
    let mut spaces: BTreeMap<&str, usize> = BTreeMap::new();
    let mut text = String::from(STAND_IN);
    for c in cases {
        if !spaces.contains_key(c.kernel) {
            let k = spaces.len();
            spaces.insert(c.kernel, k);
            let _ = write!(text, "namespace k{k} {{\n{}\n}}\n", c.source);
        }
    }
    text.push_str(DRIVER);
    text.push_str("int main(int argc, char** argv) {\n    const std::string dir = argv[1];\n");
    for (i, c) in cases.iter().enumerate() {
        let mut args: Vec<String> = (0..c.inputs.len()).map(|j| format!("in{j}.data()")).collect();
        args.push("out.data()".into());
        args.extend(c.scalars.iter().map(literal));
        let _ = writeln!(text, "    {{");
        for j in 0..c.inputs.len() {
            let _ = writeln!(text, "        std::vector<double> in{j} = load(dir + \"/c{i}_{j}.bin\");");
        }
        for (g, (blocks, threads)) in grids(c.want.len()).into_iter().enumerate() {
            let _ = writeln!(
                text,
                "        {{ std::vector<double> out({n}, UNWRITTEN);\n          \
                 launch({blocks}, {threads}, [&] {{ k{k}::{name}({args}); }});\n          \
                 store(dir + \"/c{i}_out{g}.bin\", out); }}",
                n = c.want.len(),
                k = spaces[c.kernel],
                name = c.kernel,
                args = args.join(", "),
            );
        }
        let _ = writeln!(text, "    }}");
    }
    text.push_str("    return 0;\n}\n");
    text
}

fn write_f64s(path: &Path, v: &[f64]) {
    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    std::fs::write(path, bytes).expect("write a case's input");
}

fn read_f64s(path: &Path) -> Vec<f64> {
    let bytes = std::fs::read(path).expect("read a case's output");
    bytes.chunks_exact(8).map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes"))).collect()
}

/// The C++ compiler, or why there is none.
fn compiler() -> Result<String, String> {
    let cxx = std::env::var("CXX").unwrap_or_else(|_| "c++".into());
    match Command::new(&cxx).arg("--version").output() {
        Ok(o) if o.status.success() => Ok(cxx),
        Ok(_) => Err(format!("`{cxx} --version` failed")),
        Err(e) => Err(format!("no C++ compiler `{cxx}` ({e})")),
    }
}

/// Compiles and runs `cases`; each case's two outputs, or why the check could not run.
/// `Err` only for a missing compiler: a source that does not compile or a driver that fails
/// (a sanitizer's report) panics with the compiler's or the driver's message.
fn run(cases: &[Case]) -> Result<Vec<[Vec<f64>; 2]>, String> {
    let cxx = compiler()?;
    let dir = TempDir::new();
    for (i, c) in cases.iter().enumerate() {
        for (j, input) in c.inputs.iter().enumerate() {
            write_f64s(&dir.0.join(format!("c{i}_{j}.bin")), input);
        }
    }
    let src = dir.0.join("kernels.cpp");
    std::fs::write(&src, program(cases)).expect("write the driver");
    let exe = dir.0.join("kernels");
    // No contraction of a*b + c into an FMA, as NVRTC compiles these (`--fmad=false`).
    let base = ["-std=c++17", "-O1", "-ffp-contract=off", "-fno-fast-math", "-w"];
    let sanitized = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"];
    let compile = |extra: &[&str]| {
        Command::new(&cxx)
            .args(base)
            .args(extra)
            .arg(&src)
            .arg("-o")
            .arg(&exe)
            .output()
            .expect("run the compiler")
    };
    let mut out = compile(&sanitized);
    if !out.status.success() {
        eprintln!("host check: no sanitizers with `{cxx}`, compiling without them");
        out = compile(&[]);
    }
    assert!(
        out.status.success(),
        "the CUDA C sources do not compile as host C++:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ran = Command::new(&exe)
        .arg(&dir.0)
        .env("ASAN_OPTIONS", "detect_leaks=0")
        .output()
        .expect("run the driver");
    assert!(
        ran.status.success(),
        "the kernels failed on the host:\n{}",
        String::from_utf8_lossy(&ran.stderr)
    );
    Ok((0..cases.len()).map(|i| [0, 1].map(|g| read_f64s(&dir.0.join(format!("c{i}_out{g}.bin"))))).collect())
}

/// A directory removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let k = NEXT.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("dml-cuda-host-{}-{k}", std::process::id()));
        std::fs::create_dir_all(&p).expect("create a temporary directory");
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Deterministic values in [-1, 1) rounded to tenths (ties and signed zeros in every window),
/// with NaN, infinities and -0.0 sprinkled in.
fn values(n: usize, seed: u64, specials: bool) -> Vec<f64> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|i| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let x = (s >> 11) as f64 / (1u64 << 52) as f64 - 1.0;
            match (specials, i % 23) {
                (true, 5) => f64::NAN,
                (true, 11) => f64::INFINITY,
                (true, 17) => f64::NEG_INFINITY,
                (true, 19) => -0.0,
                _ if specials => (x * 10.0).round() / 10.0,
                _ => x,
            }
        })
        .collect()
}

fn cells(m: &Matrix) -> Vec<f64> {
    m.dense_data().into_owned()
}

/// The six pool builtins on one geometry: bit for bit.
fn pool_cases(s: &PoolShape, seed: u64, cases: &mut Vec<Case>) {
    use crate::kernels::dnn as cpu;
    let x = Matrix::from_vec(s.n, s.c * s.h * s.w, values(s.n * s.c * s.h * s.w, seed, true));
    let d = Matrix::from_vec(
        s.n,
        s.c * s.out_h() * s.out_w(),
        values(s.n * s.c * s.out_h() * s.out_w(), seed + 1, true),
    );
    type Forward = fn(&Matrix, &PoolShape) -> crate::kernels::KResult<Matrix>;
    type Backward = fn(&Matrix, &Matrix, &PoolShape) -> crate::kernels::KResult<Matrix>;
    let ops: [(Pool, Forward, Backward); 3] = [
        (Pool::Max, cpu::max_pool, cpu::max_pool_backward),
        (Pool::ReluMax, cpu::relu_max_pool, cpu::relu_max_pool_backward),
        (Pool::Avg, cpu::avg_pool, cpu::avg_pool_backward),
    ];
    for (kind, forward, backward) in ops {
        cases.push(Case {
            what: format!("{kind:?} pool forward, {s:?}"),
            kernel: "pool_forward",
            source: dnn::pool_forward("pool_forward"),
            inputs: vec![cells(&x)],
            scalars: dnn::pool_scalars(s, kind),
            want: cells(&forward(&x, s).expect("a valid pool shape")),
            exact: true,
        });
        cases.push(Case {
            what: format!("{kind:?} pool backward, {s:?}"),
            kernel: "pool_backward",
            source: dnn::pool_backward("pool_backward"),
            inputs: vec![cells(&x), cells(&d)],
            scalars: dnn::pool_scalars(s, kind),
            want: cells(&backward(&x, &d, s).expect("a valid pool shape")),
            exact: true,
        });
    }
}

/// `conv2d` with and without its bias and both gradients on one geometry: to 1e-12.
fn conv_cases(s: &ConvShape, seed: u64, cases: &mut Vec<Case>) {
    use crate::kernels::dnn as cpu;
    let p = s.out_h() * s.out_w();
    let x = Matrix::from_vec(s.n, s.c * s.h * s.w, values(s.n * s.c * s.h * s.w, seed, false));
    let w = Matrix::from_vec(s.f, s.c * s.hf * s.wf, values(s.f * s.c * s.hf * s.wf, seed + 1, false));
    let b = Matrix::from_vec(s.f, 1, values(s.f, seed + 2, false));
    let d = Matrix::from_vec(s.n, s.f * p, values(s.n * s.f * p, seed + 3, false));
    for has_bias in [false, true] {
        let mut scalars = dnn::conv_scalars(s);
        scalars.push(Scalar::I32(has_bias as i32));
        let want = if has_bias { cpu::conv2d_bias_add(&x, &w, &b, s) } else { cpu::conv2d(&x, &w, s) };
        cases.push(Case {
            what: format!("conv2d (bias {has_bias}), {s:?}"),
            kernel: "conv2d",
            source: kernels::conv2d("conv2d"),
            inputs: vec![cells(&x), cells(&w), if has_bias { cells(&b) } else { vec![0.0] }],
            scalars,
            want: cells(&want.expect("a valid conv shape")),
            exact: false,
        });
    }
    cases.push(Case {
        what: format!("conv2d_backward_filter, {s:?}"),
        kernel: "conv2d_backward_filter",
        source: dnn::conv2d_backward_filter("conv2d_backward_filter"),
        inputs: vec![cells(&x), cells(&d)],
        scalars: dnn::conv_scalars(s),
        want: cells(&cpu::conv2d_backward_filter(&x, &d, s).expect("a valid conv shape")),
        exact: false,
    });
    cases.push(Case {
        what: format!("conv2d_backward_data, {s:?}"),
        kernel: "conv2d_backward_data",
        source: dnn::conv2d_backward_data("conv2d_backward_data"),
        inputs: vec![cells(&w), cells(&d)],
        scalars: dnn::conv_scalars(s),
        want: cells(&cpu::conv2d_backward_data(&w, &d, s).expect("a valid conv shape")),
        exact: false,
    });
}

/// `ifelse` with matrix, 1x1 and number operands in every position: bit for bit.
fn ifelse_cases(cases: &mut Vec<Case>) {
    let (rows, cols) = (7, 9);
    let full = |seed| Matrix::from_vec(rows, cols, values(rows * cols, seed, true));
    let (c, y, n) = (full(30), full(31), full(32));
    let one = Matrix::from_vec(1, 1, vec![-2.5]);
    // An operand: a full matrix, a 1x1 matrix, or a number.
    enum Op<'a> {
        Full(&'a Matrix),
        One(&'a Matrix),
        Number(f64),
    }
    let combos = [
        ("matrices", [Op::Full(&c), Op::Full(&y), Op::Full(&n)]),
        ("number yes", [Op::Full(&c), Op::Number(7.0), Op::Full(&n)]),
        ("1x1 no", [Op::Full(&c), Op::Full(&y), Op::One(&one)]),
        ("NaN condition", [Op::Number(f64::NAN), Op::Full(&y), Op::Full(&n)]),
        ("-0.0 condition, matrix no only", [Op::Number(-0.0), Op::Number(1.0), Op::Full(&n)]),
        ("1x1 condition and yes", [Op::One(&one), Op::One(&one), Op::Full(&n)]),
    ];
    for (what, ops) in combos {
        fn operand<'a>(o: &Op<'a>) -> Operand<'a> {
            match o {
                Op::Full(m) | Op::One(m) => Operand::Matrix(m),
                Op::Number(v) => Operand::Scalar(*v),
            }
        }
        let want = ifelse(operand(&ops[0]), operand(&ops[1]), operand(&ops[2])).expect("ifelse shapes");
        let buffer = |o: &Op| match o {
            Op::Full(m) | Op::One(m) => cells(m),
            Op::Number(v) => vec![*v],
        };
        cases.push(Case {
            what: format!("ifelse ({what})"),
            kernel: "ifelse",
            source: kernels::ifelse("ifelse"),
            inputs: ops.iter().map(buffer).collect(),
            scalars: kernels::ifelse_scalars(rows * cols, ops.each_ref().map(|o| matches!(o, Op::Full(_)))),
            want: cells(&want),
            exact: true,
        });
    }
}

/// The fused cellwise builtins: bit for bit.
fn fused_cases(cases: &mut Vec<Case>) {
    use crate::kernels::dnn as cpu;
    let (rows, cols, channels) = (5, 12, 3);
    let x = Matrix::from_vec(rows, cols, values(rows * cols, 40, true));
    let y = Matrix::from_vec(rows, cols, values(rows * cols, 41, true));
    let b = Matrix::from_vec(channels, 1, values(channels, 42, false));
    let (sa, sb) = (0.9, -0.1);
    let axpby: Vec<f64> = cells(&x).iter().zip(cells(&y)).map(|(p, q)| sa * p + sb * q).collect();
    let hw = cols / channels;
    let runs = [
        (Fused::Axpby, &y, 1, sa, sb, axpby),
        (Fused::ReluBackward, &y, 1, 0.0, 0.0, cells(&cpu::relu_backward(&x, &y).expect("shapes"))),
        (Fused::BiasAdd, &b, hw, 0.0, 0.0, cells(&cpu::bias_add(&x, &b, channels).expect("shapes"))),
        (
            Fused::BiasMultiply,
            &b,
            hw,
            0.0,
            0.0,
            cells(&cpu::bias_multiply(&x, &b, channels).expect("shapes")),
        ),
    ];
    for (kind, second, hw, sa, sb, want) in runs {
        let name: &'static str = match kind {
            Fused::Axpby => "fused_Axpby",
            Fused::ReluBackward => "fused_ReluBackward",
            Fused::BiasAdd => "fused_BiasAdd",
            Fused::BiasMultiply => "fused_BiasMultiply",
        };
        cases.push(Case {
            what: format!("{kind:?}"),
            kernel: name,
            source: kernels::fused(name, kind),
            inputs: vec![cells(&x), cells(second)],
            scalars: kernels::fused_scalars(rows * cols, cols, hw, sa, sb),
            want,
            exact: true,
        });
    }
}

/// Where a case's output differs from the CPU's, in words.
fn mismatch(c: &Case, got: &[f64]) -> Option<String> {
    if got.len() != c.want.len() {
        return Some(format!("{} cells, the CPU's {}", got.len(), c.want.len()));
    }
    let bad = got.iter().zip(&c.want).position(|(g, w)| {
        if c.exact {
            g.to_bits() != w.to_bits()
        } else {
            let close = (g - w).abs() <= 1e-12 * w.abs().max(1.0);
            !(close || g.is_nan() && w.is_nan())
        }
    })?;
    Some(format!("cell {bad} is {:e} ({:#x}), the CPU's {:e}", got[bad], got[bad].to_bits(), c.want[bad]))
}

#[test]
fn cuda_kernels_run_as_host_cpp_give_the_cpus_values() {
    let mut cases = Vec::new();
    let pool = |n, c, h, w, (ph, pw), (stride_h, stride_w), (pad_h, pad_w)| PoolShape {
        n,
        c,
        h,
        w,
        ph,
        pw,
        stride_h,
        stride_w,
        pad_h,
        pad_w,
    };
    let pools = [
        // Overlapping windows with padding.
        pool(3, 2, 7, 9, (3, 3), (1, 1), (1, 1)),
        // 2x2 tiles: the CPU's branch-free path.
        pool(2, 3, 8, 6, (2, 2), (2, 2), (0, 0)),
        // A tall window, stride 2, an odd image; strides and paddings differing by axis.
        pool(2, 1, 9, 7, (3, 2), (2, 2), (1, 1)),
        pool(2, 2, 7, 8, (3, 2), (2, 3), (1, 0)),
        // Padding wider than the window: windows wholly in the padding (-f64::MAX, no gradient).
        pool(1, 2, 5, 4, (2, 2), (1, 1), (2, 2)),
    ];
    for (k, s) in pools.iter().enumerate() {
        pool_cases(s, 10 * k as u64 + 1, &mut cases);
    }
    let conv = |n, c, h, w, f, (hf, wf), (stride_h, stride_w), (pad_h, pad_w)| ConvShape {
        n,
        c,
        h,
        w,
        f,
        hf,
        wf,
        stride_h,
        stride_w,
        pad_h,
        pad_w,
    };
    let convs = [
        conv(3, 2, 7, 6, 4, (3, 3), (2, 2), (1, 1)),
        conv(2, 3, 5, 5, 2, (2, 3), (1, 1), (0, 0)),
        conv(2, 2, 6, 7, 3, (3, 2), (2, 1), (0, 1)),
        // Padding wider than the filter: output positions that see no input cell.
        conv(1, 1, 4, 4, 2, (2, 2), (1, 1), (3, 2)),
    ];
    for (k, s) in convs.iter().enumerate() {
        conv_cases(s, 100 + 10 * k as u64, &mut cases);
    }
    ifelse_cases(&mut cases);
    fused_cases(&mut cases);
    let outputs = match run(&cases) {
        Ok(o) => o,
        Err(why) => {
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "skipped the host-compiled CUDA kernel check: {why}");
            return;
        }
    };
    let failures: Vec<String> = cases
        .iter()
        .zip(&outputs)
        .flat_map(|(c, outs)| {
            outs.iter().zip(grids(c.want.len())).filter_map(move |(got, (blocks, threads))| {
                mismatch(c, got).map(|m| format!("{} on {blocks}x{threads} threads: {m}", c.what))
            })
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} launches differ from the CPU:\n{}",
        failures.len(),
        2 * cases.len(),
        failures.join("\n")
    );
}
