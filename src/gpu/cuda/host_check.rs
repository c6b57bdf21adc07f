//! The CUDA C kernels run as host C++ against the CPU kernels, on machines without an NVIDIA
//! GPU (CI's, and most of ours). The generated sources are compiled by the system's C++
//! compiler (`CXX`, else `c++`) against a stand-in header that makes `__global__` and
//! `__device__` plain functions and `blockIdx`/`threadIdx`/`blockDim`/`gridDim` globals; a
//! driver loops over every block and thread of a launch and calls the kernel once for each, as
//! the device would (in sequence, which the kernels allow: no thread reads a cell another one
//! writes). Each case runs twice: with the launch's own block size (256) and blocks enough for
//! one cell a thread, and with 3 blocks of 7 threads, so the grid-stride loops go round.
//!
//! Multi-launch builtins (batch normalization, the LSTM) are checked as whole programs
//! (`kernels::program`): the driver runs their launch list in order, each cuBLAS product as a
//! host `dgemm` with the very column-major parameters the device call gets, and compares every
//! output with the CPU builtin's (batch normalization to the bit, the LSTM to 1e-12).
//!
//! The driver is built with AddressSanitizer and UBSan where the compiler has them, so a read
//! or write past a buffer fails the test; output buffers start as a NaN the CPU never writes,
//! so a cell no thread writes fails it too. The pools, `ifelse` and the fused cellwise kernels
//! must give the CPU's bits; the convolutions agree to 1e-12 relative (to max(1, |cpu|)), as
//! they sum in another order.
//!
//! What this does not check: the device compiler (NVRTC, see `nvrtc_check`) and its math
//! library, cuBLAS, real concurrency and the launches' argument passing through cudarc (the
//! scalars come from the same `kernels::*_scalars` lists and programs the launches push, in the
//! same order).

use super::kernels::dnn::{self, Pool};
use super::kernels::program::{Buf, Program, Step};
use super::kernels::{self, Fused, Scalar, batch_norm, lstm};
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
/* cuBLAS's column-major dgemm with alpha 1 and beta 0, as a program's products call it: a read
   past a buffer (a wrong size or leading dimension) is the sanitizer's to report. */
static void host_dgemm(bool ta, bool tb, long long m, long long n, long long k, const double* A,
        long long lda, const double* B, long long ldb, double* C, long long ldc) {
    for (long long j = 0; j < n; j++) {
        for (long long i = 0; i < m; i++) {
            double s = 0.0;
            for (long long l = 0; l < k; l++) {
                double a = ta ? A[l + i * lda] : A[i + l * lda];
                double b = tb ? B[j + l * ldb] : B[l + j * ldb];
                s = fma(a, b, s);
            }
            C[i + j * ldc] = s;
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
/// repeat their helpers), the driver and a `main` that runs every case and every program.
fn program(cases: &[Case], programs: &[ProgramCase]) -> String {
    let mut spaces: BTreeMap<&str, usize> = BTreeMap::new();
    let mut text = String::from(STAND_IN);
    let mut add = |name: &'static str, source: &dyn Fn() -> String| {
        if !spaces.contains_key(name) {
            let k = spaces.len();
            spaces.insert(name, k);
            let _ = write!(text, "namespace k{k} {{\n{}\n}}\n", source());
        }
    };
    for c in cases {
        add(c.kernel, &|| c.source.clone());
    }
    for p in programs {
        for step in &p.program.steps {
            if let Step::Kernel(k) = step {
                add(k.name, &|| (k.source)(k.name));
            }
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
    for (i, p) in programs.iter().enumerate() {
        program_block(&mut text, i, p, &spaces);
    }
    text.push_str("    return 0;\n}\n");
    text
}

/// The driver's block for program `i`: its inputs loaded once, then for each launch shape its
/// buffers (unwritten NaN), its steps in order, its outputs stored.
fn program_block(text: &mut String, i: usize, p: &ProgramCase, spaces: &BTreeMap<&str, usize>) {
    let name = |b: Buf| match b {
        Buf::Input(j) => format!("in{j}.data()"),
        Buf::Temp(j) => format!("t{j}.data()"),
    };
    let _ = writeln!(text, "    {{");
    for j in 0..p.inputs.len() {
        let _ = writeln!(text, "        std::vector<double> in{j} = load(dir + \"/p{i}_{j}.bin\");");
    }
    for g in 0..2 {
        let _ = writeln!(text, "        {{");
        for (j, cells) in p.program.temps.iter().enumerate() {
            let _ = writeln!(text, "            std::vector<double> t{j}({cells}, UNWRITTEN);");
        }
        for step in &p.program.steps {
            match step {
                Step::Kernel(k) => {
                    let (blocks, threads) = grids(k.cells)[g];
                    let mut args: Vec<String> = k.bufs.iter().map(|&b| name(b)).collect();
                    args.extend(k.scalars.iter().map(literal));
                    let _ = writeln!(
                        text,
                        "            launch({blocks}, {threads}, [&] {{ k{}::{}({}); }});",
                        spaces[k.name],
                        k.name,
                        args.join(", ")
                    );
                }
                Step::Product(q) => {
                    let g = q.gemm();
                    let _ = writeln!(
                        text,
                        "            host_dgemm({}, {}, {}LL, {}LL, {}LL, {}, {}LL, {}, {}LL, {}, {}LL);",
                        g.transa,
                        g.transb,
                        g.m,
                        g.n,
                        g.k,
                        name(g.a),
                        g.lda,
                        name(g.b),
                        g.ldb,
                        name(g.c),
                        g.ldc
                    );
                }
            }
        }
        for (o, (buf, ..)) in p.program.outputs.iter().enumerate() {
            let Buf::Temp(j) = buf else { panic!("a program's output is one of its own buffers") };
            let _ = writeln!(text, "            store(dir + \"/p{i}_g{g}_o{o}.bin\", t{j});");
        }
        let _ = writeln!(text, "        }}");
    }
    let _ = writeln!(text, "    }}");
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

/// Each case's two outputs, and each program's outputs for its two launch shapes.
type Outputs = (Vec<[Vec<f64>; 2]>, Vec<[Vec<Vec<f64>>; 2]>);

/// Compiles and runs `cases` and `programs`; their outputs, or why the check could not run.
/// `Err` only for a missing compiler: a source that does not compile or a driver that fails
/// (a sanitizer's report) panics with the compiler's or the driver's message.
fn run(cases: &[Case], programs: &[ProgramCase]) -> Result<Outputs, String> {
    let cxx = compiler()?;
    let dir = TempDir::new();
    for (i, c) in cases.iter().enumerate() {
        for (j, input) in c.inputs.iter().enumerate() {
            write_f64s(&dir.0.join(format!("c{i}_{j}.bin")), input);
        }
    }
    for (i, p) in programs.iter().enumerate() {
        for (j, input) in p.inputs.iter().enumerate() {
            write_f64s(&dir.0.join(format!("p{i}_{j}.bin")), input);
        }
    }
    let src = dir.0.join("kernels.cpp");
    std::fs::write(&src, program(cases, programs)).expect("write the driver");
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
    let case_outputs = (0..cases.len())
        .map(|i| [0, 1].map(|g| read_f64s(&dir.0.join(format!("c{i}_out{g}.bin")))))
        .collect();
    let program_outputs = programs
        .iter()
        .enumerate()
        .map(|(i, p)| {
            [0, 1].map(|g| {
                (0..p.program.outputs.len())
                    .map(|o| read_f64s(&dir.0.join(format!("p{i}_g{g}_o{o}.bin"))))
                    .collect()
            })
        })
        .collect();
    Ok((case_outputs, program_outputs))
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

/// The LSTM kernels' gate activations (`lstm::activations`) against the CPU's
/// (`dnn::activation`): `exp`, `sigmoid` and `tanh` to the bit, on the range the gates see and
/// past both ends of `exp`'s (its clamps, subnormal results, overflow), infinities and signed
/// zeros (NaN is left out: its payload depends on which operand a compiler puts first).
fn activation_cases(cases: &mut Vec<Case>) {
    use crate::kernels::dnn::activation as cpu;
    let mut x: Vec<f64> = values(400, 50, false).iter().map(|v| 40.0 * v).collect();
    x.extend([0.0, -0.0, 1e-300, -1e-300, 708.5, 709.9, 710.5, -744.0, -745.5, -800.0, 800.0]);
    x.extend([f64::INFINITY, f64::NEG_INFINITY, 354.9, -354.9, 1e-9, -1e-9]);
    let want: Vec<f64> =
        x.iter().flat_map(|&v| [cpu::exp(v), 1.0 / (1.0 + cpu::exp(-v)), cpu::tanh(v)]).collect();
    let source = format!(
        r#"{helpers}{activations}
extern "C" __global__ void activations_probe(const double* X, double* O, long long n) {{
    GRID_LOOP(i, n) {{
        O[3 * i] = exp_cpu(X[i]);
        O[3 * i + 1] = sigmoid_gate(X[i]);
        O[3 * i + 2] = tanh_gate(X[i]);
    }}
}}
"#,
        helpers = kernels::HELPERS,
        activations = lstm::activations()
    );
    cases.push(Case {
        what: "the LSTM gates' exp, sigmoid and tanh".into(),
        kernel: "activations_probe",
        source,
        scalars: vec![Scalar::I64(x.len() as i64)],
        inputs: vec![x],
        want,
        exact: true,
    });
}

/// Where a case's output differs from the CPU's, in words.
fn mismatch(c: &Case, got: &[f64]) -> Option<String> {
    differs(&c.want, got, c.exact)
}

/// Where `got` differs from the CPU's `want` (its bits when `exact`, else 1e-12 relative to
/// max(1, |want|), NaN meeting NaN), in words.
fn differs(want: &[f64], got: &[f64], exact: bool) -> Option<String> {
    if got.len() != want.len() {
        return Some(format!("{} cells, the CPU's {}", got.len(), want.len()));
    }
    let bad = got.iter().zip(want).position(|(g, w)| {
        if exact {
            g.to_bits() != w.to_bits()
        } else {
            let close = (g - w).abs() <= 1e-12 * w.abs().max(1.0);
            !(close || g.is_nan() && w.is_nan())
        }
    })?;
    Some(format!("cell {bad} is {:e} ({:#x}), the CPU's {:e}", got[bad], got[bad].to_bits(), want[bad]))
}

/// A program to run against the CPU builtin: its inputs' cells, and per output a name, the
/// CPU's matrix and whether its bits must match (else 1e-12 relative).
struct ProgramCase {
    what: String,
    program: Program,
    inputs: Vec<Vec<f64>>,
    want: Vec<(&'static str, Matrix, bool)>,
}

/// `batch_norm2d` in both modes and `batch_norm2d_backward` on each mode's caches, for one
/// geometry: every output the CPU's bits.
fn batch_norm_cases(n: usize, c: usize, hw: usize, seed: u64, programs: &mut Vec<ProgramCase>) {
    use crate::kernels::dnn as cpu;
    let m = |rows, cols, k: u64| Matrix::from_vec(rows, cols, values(rows * cols, seed + k, false));
    let (x, dout) = (m(n, c * hw, 0), m(n, c * hw, 1));
    let (gamma, beta, em) = (m(c, 1, 2), m(c, 1, 3), m(c, 1, 4));
    // Running variances stay positive: [0.5, 1.5).
    let ev = Matrix::from_vec(c, 1, values(c, seed + 5, false).iter().map(|v| 1.0 + 0.5 * v).collect());
    for (train, eps, mu) in [(true, 1e-5, 0.9), (false, 1e-3, 0.7)] {
        let mode = if train { "train" } else { "test" };
        let f = cpu::batch_norm2d(&x, &gamma, &beta, &em, &ev, train, eps, mu, c).expect("batch-norm shapes");
        programs.push(ProgramCase {
            what: format!("batch_norm2d {mode}, N={n} C={c} HW={hw}"),
            program: batch_norm::forward(n, c, hw, train, eps, mu),
            inputs: [&x, &gamma, &beta, &em, &ev].map(cells).to_vec(),
            want: vec![
                ("out", f.out, true),
                ("ema_mean", f.ema_mean, true),
                ("ema_var", f.ema_var, true),
                ("cache_mean", f.cache_mean.clone(), true),
                ("cache_inv_var", f.cache_inv_var.clone(), true),
            ],
        });
        let (dx, dgamma, dbeta) =
            cpu::batch_norm2d_backward(&x, &dout, &gamma, eps, &f.cache_mean, &f.cache_inv_var, c)
                .expect("batch-norm shapes");
        programs.push(ProgramCase {
            what: format!("batch_norm2d_backward after {mode}, N={n} C={c} HW={hw}"),
            program: batch_norm::backward(n, c, hw),
            inputs: [&x, &dout, &gamma, &f.cache_mean, &f.cache_inv_var].map(cells).to_vec(),
            want: vec![("dX", dx, true), ("dgamma", dgamma, true), ("dbeta", dbeta, true)],
        });
    }
}

/// `lstm` with and without sequences and `lstm_backward` on each one's caches, for one size:
/// every output to 1e-12. The initial states have more rows than the batch (the first are used).
fn lstm_cases(dims: lstm::Dims, seed: u64, programs: &mut Vec<ProgramCase>) {
    use crate::kernels::dnn as cpu;
    let lstm::Dims { n, t, d, m } = dims;
    let r = |rows, cols, k: u64| Matrix::from_vec(rows, cols, values(rows * cols, seed + k, false));
    let (x, w, b) = (r(n, t * d, 0), r(d + m, 4 * m, 1), r(1, 4 * m, 2));
    let (out0, c0) = (r(n + 2, m, 3), r(n + 1, m, 4));
    let dc = r(n, m, 5);
    for seq in [true, false] {
        let f = cpu::lstm(&x, &w, &b, &out0, &c0, seq).expect("lstm shapes");
        let dout = r(n, if seq { t * m } else { m }, 6);
        let g = cpu::lstm_backward(
            &x,
            &w,
            &b,
            &out0,
            &c0,
            seq,
            &dout,
            &dc,
            &f.cache_out,
            &f.cache_c,
            &f.cache_ifog,
        )
        .expect("lstm shapes");
        programs.push(ProgramCase {
            what: format!("lstm_backward (sequences {seq}), {dims:?}"),
            program: lstm::backward(dims, seq),
            inputs: [&x, &w, &out0, &c0, &dout, &dc, &f.cache_out, &f.cache_c, &f.cache_ifog]
                .map(cells)
                .to_vec(),
            want: vec![
                ("dX", g.dx, false),
                ("dW", g.dw, false),
                ("db", g.db, false),
                ("dout0", g.dout0, false),
                ("dc0", g.dc0, false),
            ],
        });
        programs.push(ProgramCase {
            what: format!("lstm (sequences {seq}), {dims:?}"),
            program: lstm::forward(dims, seq),
            inputs: [&x, &w, &b, &out0, &c0].map(cells).to_vec(),
            want: vec![
                ("out", f.out, false),
                ("c", f.c, false),
                ("cache_out", f.cache_out, false),
                ("cache_c", f.cache_c, false),
                ("cache_ifog", f.cache_ifog, false),
            ],
        });
    }
}

/// Where a program's outputs differ from the CPU's (shapes and cells), in words.
fn program_failures(p: &ProgramCase, outs: &[Vec<Vec<f64>>; 2]) -> Vec<String> {
    let mut failures = Vec::new();
    if p.program.outputs.len() != p.want.len() {
        failures.push(format!("{}: {} outputs, the CPU's {}", p.what, p.program.outputs.len(), p.want.len()));
        return failures;
    }
    for (k, ((_, rows, cols), (name, want, exact))) in p.program.outputs.iter().zip(&p.want).enumerate() {
        if (*rows, *cols) != (want.rows(), want.cols()) {
            failures.push(format!(
                "{} {name}: {rows}x{cols}, the CPU's {}x{}",
                p.what,
                want.rows(),
                want.cols()
            ));
            continue;
        }
        for (g, got) in outs.iter().enumerate() {
            if let Some(m) = differs(&cells(want), &got[k], *exact) {
                let shape = if g == 0 { "blocks of 256" } else { "3 blocks of 7" };
                failures.push(format!("{} {name} on {shape}: {m}", p.what));
            }
        }
    }
    failures
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
    activation_cases(&mut cases);
    let mut programs = Vec::new();
    // More channels than a block has threads; planes of one cell.
    for (k, (n, c, hw)) in [(5, 3, 7), (3, 300, 1), (6, 2, 9)].into_iter().enumerate() {
        batch_norm_cases(n, c, hw, 200 + 10 * k as u64, &mut programs);
    }
    // Several steps; one step with more units than features; more steps than units.
    let sizes = [(3, 4, 5, 6), (2, 1, 3, 17), (5, 6, 4, 2)];
    for (k, (n, t, d, m)) in sizes.into_iter().enumerate() {
        lstm_cases(lstm::Dims { n, t, d, m }, 300 + 10 * k as u64, &mut programs);
    }
    let (outputs, program_outputs) = match run(&cases, &programs) {
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
        .chain(programs.iter().zip(&program_outputs).flat_map(|(p, outs)| program_failures(p, outs)))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} launches and {} program runs differ from the CPU:\n{}",
        failures.len(),
        2 * cases.len(),
        2 * programs.len(),
        failures.join("\n")
    );
}
