//! The GPU backend against the CPU: one test body per operator family, run once per backend
//! (candle's `test_device!` pattern). The CPU variant always runs; the `wgpu` variant is
//! compiled with the `gpu` feature and runs under `--gpu force` semantics, so a software adapter
//! (lavapipe, `apt-get install mesa-vulkan-drivers`) is enough; the `cuda` variant is compiled
//! with the `cuda` feature and runs where a CUDA driver and device are present, and elsewhere
//! says on stderr that it skipped and why. Each GPU variant pins its backend for its runs
//! (`dml::gpu::set_backend`, process-wide, so GPU runs take a lock).
//!
//! Every body runs a DML script on the backend and compares each cell with a reference computed
//! here cell by cell: naive loops for products and aggregates, the CPU's scalar semantics
//! (`BinOp::apply`, `UnOp::apply`) for cellwise operators. Tolerance: 1e-12 relative (to
//! max(1, |reference|)); NaN must meet NaN.

use dml::compiler::Options;
use dml::gpu::GpuMode;
use dml::session::PreparedScript;
use dml::types::matrix::Matrix;
use dml::types::ops::{BinOp, UnOp};
use dml::types::value::Value;
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Device {
    Cpu,
    #[cfg_attr(not(feature = "gpu"), allow(dead_code))]
    Wgpu,
    #[cfg_attr(not(feature = "cuda"), allow(dead_code))]
    Cuda,
}

/// One test per backend for a body `fn(Device)`; `@cuda` bodies test operators only the CUDA
/// device has, on the CPU and CUDA; `@wgpu` bodies those only the wgpu backend has so far
/// (bit-exact sequential aggregates, the WGSL transcendentals' bits, lavapipe's loop lengths), on
/// the CPU and wgpu.
macro_rules! test_device {
    ($body:ident) => {
        mod $body {
            #[test]
            fn cpu() {
                super::$body(super::Device::Cpu)
            }
            #[cfg(feature = "gpu")]
            #[test]
            fn wgpu() {
                super::$body(super::Device::Wgpu)
            }
            #[cfg(feature = "cuda")]
            #[test]
            fn cuda() {
                if super::cuda_missing(stringify!($body)) {
                    return;
                }
                super::$body(super::Device::Cuda)
            }
        }
    };
    (@wgpu $body:ident) => {
        mod $body {
            #[test]
            fn cpu() {
                super::$body(super::Device::Cpu)
            }
            #[cfg(feature = "gpu")]
            #[test]
            fn wgpu() {
                super::$body(super::Device::Wgpu)
            }
        }
    };
    (@cuda $body:ident) => {
        mod $body {
            #[test]
            fn cpu() {
                super::$body(super::Device::Cpu)
            }
            #[cfg(feature = "cuda")]
            #[test]
            fn cuda() {
                if super::cuda_missing(stringify!($body)) {
                    return;
                }
                super::$body(super::Device::Cuda)
            }
        }
    };
}

/// Whether the CUDA variant must skip (no driver or device here); says so on stderr past the
/// test harness's capture, so a run that skipped cannot pass for one that tested.
#[cfg_attr(not(feature = "cuda"), allow(dead_code))]
fn cuda_missing(test: &str) -> bool {
    use std::io::Write;
    match dml::gpu::probe_backend(dml::gpu::GpuBackend::Cuda, GpuMode::Force) {
        Ok(_) => false,
        Err(why) => {
            let _ = writeln!(std::io::stderr(), "skipped {test}::cuda: {why}");
            true
        }
    }
}

/// GPU runs one at a time: each pins its backend for the whole process.
static GPU_RUNS: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Pins `dev`'s backend for one run; the guard keeps other GPU runs out until it drops.
fn pin(dev: Device) -> Option<std::sync::MutexGuard<'static, ()>> {
    let backend = match dev {
        Device::Cpu => return None,
        Device::Wgpu => dml::gpu::GpuBackend::Wgpu,
        Device::Cuda => dml::gpu::GpuBackend::Cuda,
    };
    let guard = GPU_RUNS.lock().unwrap_or_else(|e| e.into_inner());
    dml::gpu::set_backend(Some(backend));
    Some(guard)
}

const TOL: f64 = 1e-12;

/// A deterministic pseudo-random matrix in [-1, 1); with `density < 1` most cells are zero and
/// the matrix is stored sparse (the device takes it converted to dense).
fn random(rows: usize, cols: usize, density: f64, seed: u64) -> Value {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let mut next = move || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    let data: Vec<f64> = (0..rows * cols)
        .map(|_| {
            let keep = next() < density;
            let v = 2.0 * next() - 1.0;
            if keep { v } else { 0.0 }
        })
        .collect();
    let m = Matrix::from_vec(rows, cols, data);
    let m = if density < 1.0 { Matrix::Sparse(m.to_csr()) } else { m };
    Value::Matrix(Arc::new(m))
}

fn cells(v: &Value) -> (usize, usize, Vec<f64>) {
    match v {
        Value::Matrix(m) => (m.rows(), m.cols(), m.dense_data().into_owned()),
        other => (1, 1, vec![other.as_f64().expect("a number")]),
    }
}

/// Runs `src` on `dev` with `inputs` bound and returns `outputs`; on the GPU also checks that
/// the device ran operators.
fn run(dev: Device, src: &str, inputs: &[(&str, Value)], outputs: &[&str]) -> Vec<Value> {
    run_counted(dev, src, inputs, outputs).0
}

/// [`run`], with what the device did during the run (nothing on the CPU).
fn run_counted(
    dev: Device,
    src: &str,
    inputs: &[(&str, Value)],
    outputs: &[&str],
) -> (Vec<Value>, dml::gpu::Counters) {
    let opts =
        Options { gpu: if dev == Device::Cpu { GpuMode::Off } else { GpuMode::Force }, ..Options::default() };
    let names: Vec<&str> = inputs.iter().map(|(n, _)| *n).collect();
    let _pinned = pin(dev);
    let mut ps = PreparedScript::compile_with(src, &names, outputs, opts).expect("compiles");
    for (n, v) in inputs {
        ps.set_value(n, v.clone());
    }
    let before = dml::gpu::counters();
    let mut r = ps.execute().unwrap_or_else(|e| panic!("{dev:?}: {e}"));
    let did = dml::gpu::counters().since(before);
    if dev != Device::Cpu {
        assert!(did.kernels > 0, "nothing ran on the device: {src}");
    }
    (outputs.iter().map(|n| r.take(n).expect("output")).collect(), did)
}

fn close(got: f64, want: f64) -> bool {
    (got.is_nan() && want.is_nan()) || got == want || (got - want).abs() <= TOL * want.abs().max(1.0)
}

fn assert_cells(what: &str, got: &Value, rows: usize, cols: usize, want: &[f64]) {
    let (r, c, g) = cells(got);
    assert_eq!((r, c), (rows, cols), "{what}: shape");
    for (i, (a, b)) in g.iter().zip(want).enumerate() {
        assert!(close(*a, *b), "{what}: cell ({}, {}) is {a}, expected {b}", i / cols, i % cols);
    }
}

fn naive_matmul(a: &[f64], b: &[f64], m: usize, k: usize, n: usize) -> Vec<f64> {
    let mut c = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            c[i * n + j] = (0..k).map(|l| a[i * k + l] * b[l * n + j]).sum();
        }
    }
    c
}

fn transpose(a: &[f64], rows: usize, cols: usize) -> Vec<f64> {
    (0..rows * cols).map(|i| a[(i % rows) * cols + i / rows]).collect()
}

fn matmul(dev: Device) {
    for density in [1.0, 0.1] {
        let (x, y) = (random(37, 23, density, 1), random(23, 41, 1.0, 2));
        let out = run(dev, "Z = X %*% Y", &[("X", x.clone()), ("Y", y.clone())], &["Z"]);
        let ((_, _, xs), (_, _, ys)) = (cells(&x), cells(&y));
        assert_cells(
            &format!("X %*% Y, density {density}"),
            &out[0],
            37,
            41,
            &naive_matmul(&xs, &ys, 37, 23, 41),
        );
    }
}
test_device!(matmul);

fn matmul_transposed(dev: Device) {
    let (x, y) = (random(53, 19, 1.0, 3), random(53, 7, 0.2, 4));
    let src = "A = t(X) %*% X\nB = X %*% t(X)\nC = t(X) %*% Y";
    let out = run(dev, src, &[("X", x.clone()), ("Y", y.clone())], &["A", "B", "C"]);
    let ((_, _, xs), (_, _, ys)) = (cells(&x), cells(&y));
    let xt = transpose(&xs, 53, 19);
    assert_cells("t(X) %*% X", &out[0], 19, 19, &naive_matmul(&xt, &xs, 19, 53, 19));
    assert_cells("X %*% t(X)", &out[1], 53, 53, &naive_matmul(&xs, &xt, 53, 19, 53));
    assert_cells("t(X) %*% Y", &out[2], 19, 7, &naive_matmul(&xt, &ys, 19, 53, 7));
}
test_device!(matmul_transposed);

/// Cells that exercise Java's min/max and comparison rules: NaN, signed zeros, infinities.
fn special_cells() -> Value {
    let v = [f64::NAN, 0.0, -0.0, 1.5, -2.25, f64::INFINITY, f64::NEG_INFINITY, 3.0, 0.0, -1.0, 7.5, -0.0];
    Value::Matrix(Arc::new(Matrix::from_vec(3, 4, v.to_vec())))
}

const BINARY: [(BinOp, &str); 14] = [
    (BinOp::Add, "A + B"),
    (BinOp::Sub, "A - B"),
    (BinOp::Mul, "A * B"),
    (BinOp::Div, "A / B"),
    (BinOp::Min, "min(A, B)"),
    (BinOp::Max, "max(A, B)"),
    (BinOp::Lt, "A < B"),
    (BinOp::Le, "A <= B"),
    (BinOp::Gt, "A > B"),
    (BinOp::Ge, "A >= B"),
    (BinOp::Eq, "A == B"),
    (BinOp::Ne, "A != B"),
    (BinOp::And, "A & B"),
    (BinOp::Or, "A | B"),
];

fn binary(dev: Device) {
    let m = random(3, 4, 1.0, 5);
    let cases: Vec<(&str, Value, Value)> = vec![
        ("matrix-matrix", special_cells(), m.clone()),
        ("matrix-matrix, both special", special_cells(), special_cells()),
        ("sparse-matrix", random(3, 4, 0.3, 6), m.clone()),
        ("matrix-scalar", special_cells(), Value::Double(-0.0)),
        ("scalar-matrix", Value::Double(1.5), special_cells()),
        ("matrix-row vector", special_cells(), random(1, 4, 1.0, 7)),
        ("matrix-column vector", m.clone(), random(3, 1, 1.0, 8)),
    ];
    for (op, expr) in BINARY {
        for (what, a, b) in &cases {
            let out = run(dev, &format!("C = {expr}"), &[("A", a.clone()), ("B", b.clone())], &["C"]);
            let ((ar, ac, av), (br, bc, bv)) = (cells(a), cells(b));
            let (rows, cols) = (ar.max(br), ac.max(bc));
            let at = |r: usize, c: usize, (mr, mc): (usize, usize), v: &[f64]| {
                v[if mr == 1 { 0 } else { r } * mc + if mc == 1 { 0 } else { c }]
            };
            let want: Vec<f64> = (0..rows * cols)
                .map(|i| {
                    op.apply(at(i / cols, i % cols, (ar, ac), &av), at(i / cols, i % cols, (br, bc), &bv))
                })
                .collect();
            assert_cells(&format!("{expr} ({what})"), &out[0], rows, cols, &want);
        }
    }
}
test_device!(binary);

fn unary(dev: Device) {
    let ops = [
        (UnOp::Neg, "-A"),
        (UnOp::Not, "!A"),
        (UnOp::Abs, "abs(A)"),
        (UnOp::Sign, "sign(A)"),
        (UnOp::Sqrt, "sqrt(A)"),
        (UnOp::Floor, "floor(A)"),
        (UnOp::Ceil, "ceil(A)"),
        (UnOp::IsNa, "is.na(A)"),
        (UnOp::IsInf, "is.infinite(A)"),
    ];
    for (op, expr) in ops {
        for a in [special_cells(), random(17, 9, 1.0, 10), random(17, 9, 0.2, 11)] {
            let out = run(dev, &format!("C = {expr}"), &[("A", a.clone())], &["C"]);
            let (rows, cols, av) = cells(&a);
            let want: Vec<f64> = av.iter().map(|&x| op.apply(x)).collect();
            assert_cells(expr, &out[0], rows, cols, &want);
        }
    }
}
test_device!(unary);

/// The f64 transcendentals and rounding, which CUDA's math library has (within 2 ulp) and
/// Vulkan's shaders do not: each against the CPU's `UnOp::apply` cell by cell.
fn unary_transcendental(dev: Device) {
    let ops = [
        (UnOp::Exp, "exp(A)"),
        (UnOp::Log, "log(A)"),
        (UnOp::Round, "round(A)"),
        (UnOp::Sin, "sin(A)"),
        (UnOp::Cos, "cos(A)"),
        (UnOp::Tan, "tan(A)"),
        (UnOp::Asin, "asin(A)"),
        (UnOp::Acos, "acos(A)"),
        (UnOp::Atan, "atan(A)"),
        (UnOp::Sinh, "sinh(A)"),
        (UnOp::Cosh, "cosh(A)"),
        (UnOp::Tanh, "tanh(A)"),
        (UnOp::Sigmoid, "sigmoid(A)"),
    ];
    // Halves and their neighbours for round(); the rest in [-1, 1) and the special cells.
    let halves = Value::Matrix(Arc::new(Matrix::from_vec(
        2,
        4,
        vec![0.5, -0.5, 2.5, -2.5, 0.49999999999999994, -1.5, 1e300, -0.0],
    )));
    for (op, expr) in ops {
        for a in [special_cells(), random(17, 9, 1.0, 30), halves.clone()] {
            let out = run(dev, &format!("C = {expr}"), &[("A", a.clone())], &["C"]);
            let (rows, cols, av) = cells(&a);
            let want: Vec<f64> = av.iter().map(|&x| op.apply(x)).collect();
            assert_cells(expr, &out[0], rows, cols, &want);
        }
    }
}
test_device!(@cuda unary_transcendental);

fn aggregates(dev: Device) {
    type Fold = fn(&[f64]) -> f64;
    let sum: Fold = |v| v.iter().sum();
    let ops: [(&str, Fold); 5] = [
        ("sum", sum),
        ("mean", |v| v.iter().sum::<f64>() / v.len() as f64),
        ("min", |v| v.iter().copied().fold(f64::INFINITY, f64::min)),
        ("max", |v| v.iter().copied().fold(f64::NEG_INFINITY, f64::max)),
        ("sumsq", |v| v.iter().map(|x| x * x).sum()),
    ];
    // 300 x 131 has rows and columns longer than one workgroup's 64 threads.
    for a in [random(300, 131, 1.0, 12), random(45, 70, 0.1, 13), random(1, 1, 1.0, 14)] {
        let (rows, cols, av) = cells(&a);
        for (name, fold) in ops {
            let (all, row, col) = match name {
                "sumsq" => ("sum(A^2)".to_string(), "rowSums(A^2)".to_string(), "colSums(A^2)".to_string()),
                _ => {
                    let cap = format!("{}{}s", name[..1].to_uppercase(), &name[1..]);
                    (format!("{name}(A)"), format!("row{cap}(A)"), format!("col{cap}(A)"))
                }
            };
            let src = format!("s = {all}\nR = {row}\nC = {col}");
            let out = run(dev, &src, &[("A", a.clone())], &["s", "R", "C"]);
            assert_cells(&all, &out[0], 1, 1, &[fold(&av)]);
            let rows_want: Vec<f64> = av.chunks(cols).map(fold).collect();
            assert_cells(&row, &out[1], rows, 1, &rows_want);
            let t = transpose(&av, rows, cols);
            let cols_want: Vec<f64> = t.chunks(rows).map(fold).collect();
            assert_cells(&col, &out[2], 1, cols, &cols_want);
        }
    }
}
test_device!(aggregates);

/// A whole script (gradient descent for linear regression, then its loss): under `--gpu force`
/// the products, cellwise operators and aggregates run on the device, the rest on the CPU, and
/// every output agrees with the CPU run.
fn script_linear_regression(dev: Device) {
    let src = r#"
        w = matrix(0, rows=ncol(X), cols=1)
        for (i in 1:20) {
            g = t(X) %*% (X %*% w - y) / nrow(X)
            w = w - 0.1 * g
        }
        r = X %*% w - y
        loss = sum(r * r) / nrow(X)
        spread = max(abs(r)) - min(r)
        cm = colMeans(X)
    "#;
    let (x, y) = (random(200, 12, 1.0, 15), random(200, 1, 1.0, 16));
    let inputs = [("X", x), ("y", y)];
    let got = run(dev, src, &inputs, &["w", "loss", "spread", "cm"]);
    let want = run(Device::Cpu, src, &inputs, &["w", "loss", "spread", "cm"]);
    for (name, (g, w)) in ["w", "loss", "spread", "cm"].iter().zip(got.iter().zip(&want)) {
        let (r, c, wv) = cells(w);
        assert_cells(name, g, r, c, &wv);
    }
}
test_device!(script_linear_regression);

/// A chain of device operators leaves its intermediate results on the device: only what a CPU
/// operator or a variable needs comes back. Here the product, the two cellwise steps and `exp`
/// run on the device; `Y` is downloaded once (for the CPU's transpose, and the variable), and
/// `sum(Y)` then finds that download's buffer still resident and brings back only its scalar.
fn device_results_stay_on_the_device(dev: Device) {
    let src = "Y = exp((X %*% W) * 0.5 + 1)\nZ = t(Y)\ns = sum(Y)";
    let (x, w) = (random(40, 30, 1.0, 31), random(30, 20, 1.0, 32));
    let inputs = [("X", x), ("W", w)];
    let (got, did) = run_counted(dev, src, &inputs, &["Y", "Z", "s"]);
    let want = run(Device::Cpu, src, &inputs, &["Y", "Z", "s"]);
    for (name, (g, w)) in ["Y", "Z", "s"].iter().zip(got.iter().zip(&want)) {
        let (r, c, wv) = cells(w);
        assert_cells(name, g, r, c, &wv);
    }
    if dev != Device::Cpu {
        assert_eq!(did.kernels, 5, "product, *, +, exp and sum on the device: {did:?}");
        assert_eq!(did.downloads, 2, "Y once and the scalar: {did:?}");
        assert_eq!(did.download_bytes, 40 * 20 * 8 + 8, "{did:?}");
        assert!(did.resident_hits >= 1, "sum(Y) reads the downloaded Y's device copy: {did:?}");
    }
    // `nrow`/`ncol` of a device matrix read its shape, not its cells: only the sum comes back.
    // (After `removeEmpty` the number of rows is known only at run time, so `nrow` runs.)
    let src = "Z = removeEmpty(target=X, margin=\"rows\")
        n = nrow(exp(Z %*% W)) * 1000 + ncol(exp(Z %*% W))
        s = sum(exp(Z %*% W))";
    let (got, did) = run_counted(dev, src, &inputs, &["n", "s"]);
    let want = run(Device::Cpu, src, &inputs, &["n", "s"]);
    assert_eq!(got[0].as_f64(), Some(40_020.0));
    assert_cells("s", &got[1], 1, 1, &cells(&want[1]).2);
    if dev != Device::Cpu {
        assert_eq!((did.downloads, did.download_bytes), (1, 8), "{did:?}");
    }
}
test_device!(device_results_stay_on_the_device);

/// A device matrix written to a variable stays on the device from block to block, and a
/// function call takes it and returns its result there: here `Y` crosses a loop's blocks three
/// times and goes into and out of `f` without a transfer. Only what leaves the script comes
/// back: `Z` once, and the scalar `s`.
fn variables_and_calls_keep_device_matrices(dev: Device) {
    let src = r#"
        f = function(matrix[double] A, matrix[double] B) return (matrix[double] C) {
            C = exp(A %*% B * 0.25)
            while (FALSE) {}
        }
        Y = (X %*% W) * 0.5
        for (i in 1:3) {
            Y = tanh(Y %*% V)
        }
        Z = f(Y, V)
        s = sum(Z)
    "#;
    let (x, w, v) = (random(40, 30, 1.0, 41), random(30, 20, 1.0, 42), random(20, 20, 1.0, 43));
    let inputs = [("X", x), ("W", w), ("V", v)];
    let (got, did) = run_counted(dev, src, &inputs, &["Z", "s"]);
    let want = run(Device::Cpu, src, &inputs, &["Z", "s"]);
    for (name, (g, w)) in ["Z", "s"].iter().zip(got.iter().zip(&want)) {
        let (r, c, wv) = cells(w);
        assert_cells(name, g, r, c, &wv);
    }
    if dev != Device::Cpu {
        assert_eq!(did.downloads, 2, "Z at the end and the scalar: {did:?}");
        assert_eq!(did.download_bytes, 40 * 20 * 8 + 8, "{did:?}");
        let inputs_bytes = (40 * 30 + 30 * 20 + 20 * 20) * 8;
        assert_eq!(
            (did.uploads, did.upload_bytes),
            (5, inputs_bytes + 2 * 8),
            "X, W and V once each, and the constants 0.5 and 0.25: {did:?}"
        );
    }
}
test_device!(variables_and_calls_keep_device_matrices);

/// The fused builtins the rewrites produce (`_axpby` from `a*X - b*Y`, `_relu_backward` from
/// `(X > 0) * dout`) and `bias_add`, against their unfused definitions cell by cell.
fn fused_builtins(dev: Device) {
    let (x, y) = (special_cells(), random(3, 4, 1.0, 17));
    let z = random(4, 15, 1.0, 18);
    let b = random(3, 1, 1.0, 19);
    let src = "A = 0.9 * X - 0.1 * Y\nR = (X > 0) * Y\nB = bias_add(Z, b)\nM = bias_multiply(Z, b)";
    let out = run(
        dev,
        src,
        &[("X", x.clone()), ("Y", y.clone()), ("Z", z.clone()), ("b", b.clone())],
        &["A", "R", "B", "M"],
    );
    let ((_, _, xv), (_, _, yv), (_, _, zv), (_, _, bv)) = (cells(&x), cells(&y), cells(&z), cells(&b));
    let axpby: Vec<f64> = xv.iter().zip(&yv).map(|(x, y)| 0.9 * x - 0.1 * y).collect();
    assert_cells("0.9 * X - 0.1 * Y", &out[0], 3, 4, &axpby);
    let relu_back: Vec<f64> = xv.iter().zip(&yv).map(|(x, y)| if *x > 0.0 { *y } else { 0.0 * y }).collect();
    assert_cells("(X > 0) * Y", &out[1], 3, 4, &relu_back);
    let bias: Vec<f64> = zv.iter().enumerate().map(|(i, v)| v + bv[(i % 15) / 5]).collect();
    assert_cells("bias_add(Z, b)", &out[2], 4, 15, &bias);
    let scaled: Vec<f64> = zv.iter().enumerate().map(|(i, v)| v * bv[(i % 15) / 5]).collect();
    assert_cells("bias_multiply(Z, b)", &out[3], 4, 15, &scaled);
}
test_device!(fused_builtins);

/// `conv2d` with padding and stride, with and without the fused bias (`conv2d` then
/// `bias_add` becomes `_conv2d_bias_add`), against a direct convolution written here.
fn convolution(dev: Device) {
    let (n, c, h, w, f, hf, wf, s, pad) = (3, 2, 7, 6, 4, 3, 3, 2, 1);
    let (x, k, b) = (random(n, c * h * w, 1.0, 20), random(f, c * hf * wf, 1.0, 21), random(f, 1, 1.0, 22));
    let shapes = format!(
        "input_shape=[{n},{c},{h},{w}], filter_shape=[{f},{c},{hf},{wf}], stride=[{s},{s}], padding=[{pad},{pad}]"
    );
    let src = format!("Y = conv2d(X, K, {shapes})\nZ = bias_add(conv2d(X, K, {shapes}), b)");
    let out = run(dev, &src, &[("X", x.clone()), ("K", k.clone()), ("b", b.clone())], &["Y", "Z"]);
    let ((_, _, xv), (_, _, kv), (_, _, bv)) = (cells(&x), cells(&k), cells(&b));
    let (oh, ow) = ((h + 2 * pad - hf) / s + 1, (w + 2 * pad - wf) / s + 1);
    let mut y = vec![0.0; n * f * oh * ow];
    for img in 0..n {
        for fi in 0..f {
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut acc = 0.0;
                    for ci in 0..c {
                        for ky in 0..hf {
                            for kx in 0..wf {
                                let (iy, ix) = (
                                    (oy * s + ky) as isize - pad as isize,
                                    (ox * s + kx) as isize - pad as isize,
                                );
                                if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < w {
                                    acc += xv[img * c * h * w + ci * h * w + iy as usize * w + ix as usize]
                                        * kv[fi * c * hf * wf + ci * hf * wf + ky * wf + kx];
                                }
                            }
                        }
                    }
                    y[img * f * oh * ow + fi * oh * ow + oy * ow + ox] = acc;
                }
            }
        }
    }
    assert_cells("conv2d", &out[0], n, f * oh * ow, &y);
    let z: Vec<f64> = y.iter().enumerate().map(|(i, v)| v + bv[(i % (f * oh * ow)) / (oh * ow)]).collect();
    assert_cells("bias_add(conv2d)", &out[1], n, f * oh * ow, &z);
}
test_device!(convolution);

/// Whole-matrix aggregates over 8M cells (a single workgroup over that many gave wrong sums on
/// lavapipe; they are folded in blocks, then the blocks).
fn large_aggregates(dev: Device) {
    let a = random(2000, 4096, 1.0, 23);
    let out = run(
        dev,
        "s = sum(A)\nq = sum(A^2)\nm = mean(A)\nlo = min(A)",
        &[("A", a.clone())],
        &["s", "q", "m", "lo"],
    );
    let (_, _, av) = cells(&a);
    let sum: f64 = av.iter().sum();
    assert_cells("sum", &out[0], 1, 1, &[sum]);
    assert_cells("sum(A^2)", &out[1], 1, 1, &[av.iter().map(|x| x * x).sum()]);
    assert_cells("mean", &out[2], 1, 1, &[sum / av.len() as f64]);
    assert_cells("min", &out[3], 1, 1, &[av.iter().copied().fold(f64::INFINITY, f64::min)]);
}
test_device!(large_aggregates);

/// Cells of very different magnitudes (1e-8 .. 1e8), where a Kahan-compensated sum and a plain
/// one differ in the last bits; `density < 1` stores them sparse.
fn wide_range(rows: usize, cols: usize, density: f64, seed: u64) -> Value {
    let (_, _, v) = cells(&random(rows, cols, density, seed));
    let (_, _, e) = cells(&random(rows, cols, 1.0, seed + 1000));
    let data: Vec<f64> = v.iter().zip(&e).map(|(x, k)| x * 10f64.powi((k * 8.0).round() as i32)).collect();
    let m = Matrix::from_vec(rows, cols, data);
    Value::Matrix(Arc::new(if density < 1.0 { Matrix::Sparse(m.to_csr()) } else { m }))
}

/// Sums, means and sums of squares in every direction are the CPU kernel's to the last bit
/// (the same Kahan steps in the same order; the driver once folded the compensation away),
/// on dense and sparse inputs, shapes that are not multiples of a workgroup and segments
/// longer than one dispatch.
fn aggregates_are_the_cpus_to_the_bit(dev: Device) {
    let src = "s = sum(A)\nm = mean(A)\nq = sum(A^2)\nR = rowSums(A)\nC = colSums(A)\nRM = rowMeans(A)\n\
               CM = colMeans(A)\nlo = rowMins(A)\nhi = colMaxs(A)";
    let names = ["s", "m", "q", "R", "C", "RM", "CM", "lo", "hi"];
    for a in [
        wide_range(37, 23, 1.0, 30),
        wide_range(1, 301, 1.0, 31),
        wide_range(257, 1, 1.0, 32),
        wide_range(64, 65, 0.15, 33),
        // Segments longer than one dispatch folds (32768 cells): in chunks, the state carried.
        wide_range(300, 250, 1.0, 34),
        wide_range(2, 40_000, 0.3, 35),
        wide_range(40_000, 2, 1.0, 36),
    ] {
        let got = run(dev, src, &[("A", a.clone())], &names);
        let want = run(Device::Cpu, src, &[("A", a.clone())], &names);
        for (name, (g, w)) in names.iter().zip(got.iter().zip(&want)) {
            let ((gr, gc, gv), (wr, wc, wv)) = (cells(g), cells(w));
            assert_eq!((gr, gc), (wr, wc), "{name}: shape");
            for (i, (x, y)) in gv.iter().zip(&wv).enumerate() {
                assert!(x.to_bits() == y.to_bits(), "{name}: cell {i} is {x:e}, the CPU's {y:e}");
            }
        }
    }
}
test_device!(@wgpu aggregates_are_the_cpus_to_the_bit);

/// Cells across the ranges of exp, log and pow: signed zeros, subnormals, the overflow and
/// underflow edges of exp, huge and tiny magnitudes, infinities and NaN, then random values in
/// [-800, 800], [-2, 2] and magnitudes 1e-300 .. 1e300 of either sign.
fn transcendental_cells(n: usize, seed: u64) -> Vec<f64> {
    let mut v = vec![
        0.0,
        -0.0,
        1.0,
        -1.0,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        5e-324,
        -5e-324,
        1e-310,
        f64::MIN_POSITIVE,
        f64::MAX,
        -f64::MAX,
        709.78,
        709.79,
        -745.1,
        -745.2,
        1e-20,
        -1e-20,
        0.5,
        2.0,
        3.0,
        0.3466,
        1.0 + f64::EPSILON,
    ];
    let (_, _, r) = cells(&random(1, n, 1.0, seed));
    for (i, x) in r.iter().enumerate() {
        v.push(match i % 3 {
            0 => 800.0 * x,
            1 => 2.0 * x,
            _ => x.signum() * 10f64.powf(300.0 * x),
        });
    }
    v
}

fn rel_close(got: f64, want: f64, tol: f64) -> bool {
    (got.is_nan() && want.is_nan())
        || (got == want && got.is_sign_negative() == want.is_sign_negative())
        || (got - want).abs() <= tol * want.abs()
}

/// exp, log, sigmoid, tanh, `^` and `log(x, base)` against the CPU's scalar semantics, relative
/// to the value itself (not to 1): 1e-12 for exp, log and pow (measured: within 1 ulp for exp
/// and log, 8 for pow), the same bits for sigmoid and tanh (the device follows the CPU's steps).
fn transcendentals(dev: Device) {
    let v = transcendental_cells(600, 40);
    let shapes = [(1, v.len()), (v.len(), 1), (16, v.len() / 16)];
    for (rows, cols) in shapes {
        let a = Value::Matrix(Arc::new(Matrix::from_vec(rows, cols, v[..rows * cols].to_vec())));
        let src = "E = exp(A)\nL = log(A)\nS = sigmoid(A)\nT = tanh(A)";
        let out = run(dev, src, &[("A", a.clone())], &["E", "L", "S", "T"]);
        let (_, _, av) = cells(&a);
        for (k, (op, tol)) in
            [(UnOp::Exp, 1e-12), (UnOp::Log, 1e-12), (UnOp::Sigmoid, 0.0), (UnOp::Tanh, 0.0)]
                .iter()
                .enumerate()
        {
            let (_, _, got) = cells(&out[k]);
            for (x, g) in av.iter().zip(&got) {
                let want = op.apply(*x);
                assert!(rel_close(*g, want, *tol), "{op:?}({x:e}) is {g:e}, the CPU's {want:e}");
            }
        }
    }
    // Powers and logarithms: every base against a set of exponents that holds the special
    // cases (0, 1, 2, odd and even integers, halves, infinities, NaN) and random ones; sparse
    // bases too.
    let bases = transcendental_cells(200, 41);
    let exps = [
        0.0,
        -0.0,
        1.0,
        2.0,
        3.0,
        -1.0,
        -2.0,
        -3.0,
        0.5,
        -0.5,
        2.5,
        7.0,
        1e300,
        f64::INFINITY,
        f64::NAN,
        10.0,
    ];
    let (_, _, r) = cells(&random(1, 16, 1.0, 42));
    // Every base in a row, every exponent in a column: same-shaped operands.
    let n = bases.len();
    let a = Value::Matrix(Arc::new(Matrix::from_vec(n, 16, bases.iter().flat_map(|x| [*x; 16]).collect())));
    let random_exps: Vec<f64> = r.iter().map(|x| 30.0 * x).collect();
    for e in [exps.to_vec(), random_exps] {
        let b = Value::Matrix(Arc::new(Matrix::from_vec(n, 16, (0..n).flat_map(|_| e.clone()).collect())));
        let out = run(
            dev,
            "P = A ^ B\nG = log(abs(A) + 1, B + 3)",
            &[("A", a.clone()), ("B", b.clone())],
            &["P", "G"],
        );
        let bc = 16;
        let (_, _, pv) = cells(&out[0]);
        let (_, _, gv) = cells(&out[1]);
        for (i, x) in bases.iter().enumerate() {
            for (j, y) in e.iter().enumerate() {
                let want = BinOp::Pow.apply(*x, *y);
                let g = pv[i * bc + j];
                assert!(rel_close(g, want, 1e-12), "{x:e} ^ {y:e} is {g:e}, the CPU's {want:e}");
                let want = BinOp::Log.apply(x.abs() + 1.0, y + 3.0);
                let g = gv[i * bc + j];
                assert!(rel_close(g, want, 1e-12), "log({x:e}, {y:e}) is {g:e}, the CPU's {want:e}");
            }
        }
    }
    // Sparse inputs (uploaded dense) through exp and a power.
    let s = random(40, 33, 0.1, 43);
    let out = run(dev, "E = exp(S)\nP = S ^ 3", &[("S", s.clone())], &["E", "P"]);
    let (_, _, sv) = cells(&s);
    assert_cells("exp(S)", &out[0], 40, 33, &sv.iter().map(|x| x.exp()).collect::<Vec<_>>());
    assert_cells("S ^ 3", &out[1], 40, 33, &sv.iter().map(|x| x.powf(3.0)).collect::<Vec<_>>());
}
test_device!(@wgpu transcendentals);

/// Values rounded to tenths, so windows hold ties (the first greatest cell wins) and zeros.
fn with_ties(rows: usize, cols: usize, seed: u64) -> Value {
    let (_, _, v) = cells(&random(rows, cols, 1.0, seed));
    Value::Matrix(Arc::new(Matrix::from_vec(
        rows,
        cols,
        v.iter().map(|x| (x * 10.0).round() / 10.0).collect(),
    )))
}

fn assert_same_bits(what: &str, got: &Value, want: &Value) {
    let ((gr, gc, gv), (wr, wc, wv)) = (cells(got), cells(want));
    assert_eq!((gr, gc), (wr, wc), "{what}: shape");
    for (i, (x, y)) in gv.iter().zip(&wv).enumerate() {
        assert!(x.to_bits() == y.to_bits(), "{what}: cell {i} is {x:e}, the CPU's {y:e}");
    }
}

/// max, max-of-ReLU and average pooling and their gradients, against the CPU kernels bit for
/// bit: overlapping 3x3 windows with padding, 2x2 tiles (the CPU's fast path), and a window
/// taller than wide with stride 2 on an odd image; dense and sparse inputs.
fn pooling(dev: Device) {
    let geometries = [(3, 2, 7, 9, 3, 3, 1, 1), (2, 3, 8, 6, 2, 2, 2, 0), (2, 1, 9, 7, 3, 2, 2, 1)];
    for (k, (n, c, h, w, ph, pw, s, pad)) in geometries.into_iter().enumerate() {
        let (oh, ow) = ((h + 2 * pad - ph) / s + 1, (w + 2 * pad - pw) / s + 1);
        let shapes = format!(
            "input_shape=[{n},{c},{h},{w}], pool_size=[{ph},{pw}], stride=[{s},{s}], padding=[{pad},{pad}]"
        );
        let src = format!(
            "M = max_pool(X, {shapes})\nR = max_pool(max(X, 0), {shapes})\nA = avg_pool(X, {shapes})\n\
             DM = max_pool_backward(X, D, {shapes})\nDA = avg_pool_backward(X, D, {shapes})\n\
             Z = max_pool(X, input_shape=[{n},{c},{h},{w}], pool_size=[{ph},{pw}])"
        );
        for x in [with_ties(n, c * h * w, 50 + k as u64), random(n, c * h * w, 0.3, 60 + k as u64)] {
            let d = random(n, c * oh * ow, 1.0, 70 + k as u64);
            // Z leaves stride and padding to their defaults (1 and 0).
            let names = ["M", "R", "A", "DM", "DA", "Z"];
            let inputs = [("X", x.clone()), ("D", d.clone())];
            let got = run(dev, &src, &inputs, &names);
            let want = run(Device::Cpu, &src, &inputs, &names);
            for (name, (g, w)) in names.iter().zip(got.iter().zip(&want)) {
                assert_same_bits(&format!("{name} for geometry {k}"), g, w);
            }
        }
    }
}
test_device!(pooling);

/// Both gradients of the convolution against a direct computation written here (strides,
/// padding, several channels and filters, an odd image).
fn convolution_gradients(dev: Device) {
    for (n, c, h, w, f, hf, wf, s, pad) in [(3, 2, 7, 6, 4, 3, 3, 2, 1), (2, 3, 5, 5, 2, 2, 3, 1, 0)] {
        let (oh, ow) = ((h + 2 * pad - hf) / s + 1, (w + 2 * pad - wf) / s + 1);
        let (x, k, d) =
            (random(n, c * h * w, 1.0, 80), random(f, c * hf * wf, 0.5, 81), random(n, f * oh * ow, 1.0, 82));
        let shapes = format!(
            "stride=[{s},{s}], padding=[{pad},{pad}], input_shape=[{n},{c},{h},{w}], filter_shape=[{f},{c},{hf},{wf}]"
        );
        let src =
            format!("DW = conv2d_backward_filter(X, D, {shapes})\nDX = conv2d_backward_data(K, D, {shapes})");
        let out = run(dev, &src, &[("X", x.clone()), ("K", k.clone()), ("D", d.clone())], &["DW", "DX"]);
        let ((_, _, xv), (_, _, kv), (_, _, dv)) = (cells(&x), cells(&k), cells(&d));
        let (mut dw, mut dx) = (vec![0.0; f * c * hf * wf], vec![0.0; n * c * h * w]);
        for img in 0..n {
            for fi in 0..f {
                for oy in 0..oh {
                    for ox in 0..ow {
                        let g = dv[img * f * oh * ow + fi * oh * ow + oy * ow + ox];
                        for ci in 0..c {
                            for ky in 0..hf {
                                for kx in 0..wf {
                                    let (iy, ix) = (
                                        (oy * s + ky) as isize - pad as isize,
                                        (ox * s + kx) as isize - pad as isize,
                                    );
                                    if iy < 0 || ix < 0 || iy as usize >= h || ix as usize >= w {
                                        continue;
                                    }
                                    let xi = img * c * h * w + ci * h * w + iy as usize * w + ix as usize;
                                    let wi = fi * c * hf * wf + ci * hf * wf + ky * wf + kx;
                                    dw[wi] += g * xv[xi];
                                    dx[xi] += g * kv[wi];
                                }
                            }
                        }
                    }
                }
            }
        }
        assert_cells("conv2d_backward_filter", &out[0], f, c * hf * wf, &dw);
        assert_cells("conv2d_backward_data", &out[1], n, c * h * w, &dx);
    }
}
test_device!(convolution_gradients);

/// `ifelse` with matrix, 1x1 and scalar operands in every position; conditions hold NaN, -0.0
/// and infinities (NaN counts as TRUE, -0.0 as FALSE).
fn ternary(dev: Device) {
    let c = special_cells();
    let (y, n) = (random(3, 4, 1.0, 90), random(3, 4, 0.4, 91));
    let one = Value::Matrix(Arc::new(Matrix::from_vec(1, 1, vec![-2.5])));
    let cases: [(&str, &Value, &Value, &Value); 5] = [
        ("matrices", &c, &y, &n),
        ("scalar yes", &c, &Value::Double(7.0), &n),
        ("1x1 no", &c, &y, &one),
        ("scalar condition", &Value::Double(f64::NAN), &y, &n),
        ("matrix no only", &Value::Double(0.0), &Value::Double(1.0), &n),
    ];
    for (what, c, y, n) in cases {
        let inputs = [("C", c.clone()), ("Y", y.clone()), ("N", n.clone())];
        let got = run(dev, "R = ifelse(C, Y, N)", &inputs, &["R"]);
        let ((cr, cc, cv), (yr, yc, yv), (nr, nc, nv)) = (cells(c), cells(y), cells(n));
        let (rows, cols) = [(cr, cc), (yr, yc), (nr, nc)].into_iter().max().unwrap_or((1, 1));
        let at = |v: &[f64], i: usize| if v.len() == 1 { v[0] } else { v[i] };
        let want: Vec<f64> =
            (0..rows * cols).map(|i| if at(&cv, i) != 0.0 { at(&yv, i) } else { at(&nv, i) }).collect();
        assert_cells(&format!("ifelse ({what})"), &got[0], rows, cols, &want);
    }
}
test_device!(ternary);

/// Sums of ones around the lengths where one invocation stops folding a segment alone (32768)
/// and where lavapipe once dropped a cell (a loop of 65536 iterations): every count exact, in
/// every direction.
fn aggregate_lengths(dev: Device) {
    for n in [32767, 32768, 32769, 65535, 65536, 65537] {
        let src = format!("X = matrix(1, rows={n}, cols=2)\ns = sum(X)\nC = colSums(X)\nR = rowSums(t(X))");
        let out = run(dev, &src, &[], &["s", "C", "R"]);
        assert_cells(&format!("sum of {n}x2 ones"), &out[0], 1, 1, &[2.0 * n as f64]);
        assert_cells(&format!("colSums of {n}x2 ones"), &out[1], 1, 2, &[n as f64; 2]);
        assert_cells(&format!("rowSums of 2x{n} ones"), &out[2], 2, 1, &[n as f64; 2]);
    }
}
test_device!(@wgpu aggregate_lengths);

/// `random` with every cell in [0.5, 1.5): running variances, which must stay positive.
fn positive(rows: usize, cols: usize, seed: u64) -> Value {
    let (_, _, v) = cells(&random(rows, cols, 1.0, seed));
    Value::Matrix(Arc::new(Matrix::from_vec(rows, cols, v.iter().map(|x| 1.0 + 0.5 * x).collect())))
}

/// `batch_norm2d` in both modes and `batch_norm2d_backward` after each: every output is the CPU
/// kernel's to the bit (the device sums in the CPU's order), on dense and sparse inputs, with
/// planes of one cell and more channels than a workgroup has invocations. All four builtins run
/// on the device.
fn batch_norm_builtins(dev: Device) {
    let src = r#"
        [Y, EM, EV, CM, CI] = batch_norm2d(X, G, B, Em, Ev, "train", 1e-5, 0.9)
        [Yt, EMt, EVt, CMt, CIt] = batch_norm2d(X, G, B, Em, Ev, "test", 1e-3, 0.7)
        [DX, DG, DB] = batch_norm2d_backward(X, D, G, 1e-5, CM, CI)
        [DXt, DGt, DBt] = batch_norm2d_backward(X, D, G, 1e-3, CMt, CIt)
    "#;
    let names = [
        "Y", "EM", "EV", "CM", "CI", "Yt", "EMt", "EVt", "CMt", "CIt", "DX", "DG", "DB", "DXt", "DGt", "DBt",
    ];
    for (k, (n, c, hw, density)) in [(5, 3, 7, 1.0), (4, 70, 1, 1.0), (6, 2, 9, 0.3)].into_iter().enumerate()
    {
        let seed = 100 + 10 * k as u64;
        let inputs = [
            ("X", wide_range(n, c * hw, density, seed)),
            ("D", random(n, c * hw, 1.0, seed + 1)),
            ("G", random(c, 1, 1.0, seed + 2)),
            ("B", random(c, 1, 1.0, seed + 3)),
            ("Em", random(c, 1, 1.0, seed + 4)),
            ("Ev", positive(c, 1, seed + 5)),
        ];
        let (got, did) = run_counted(dev, src, &inputs, &names);
        let want = run(Device::Cpu, src, &inputs, &names);
        for (name, (g, w)) in names.iter().zip(got.iter().zip(&want)) {
            assert_same_bits(&format!("{name} for N={n}, C={c}, HW={hw}"), g, w);
        }
        if dev != Device::Cpu {
            assert_eq!(did.kernels, 4, "the four builtins on the device: {did:?}");
        }
    }
}
test_device!(batch_norm_builtins);

/// `lstm` with and without sequences and `lstm_backward` after each, every output against the
/// CPU kernel to 1e-12 relative (the products add in another order; the activations are the
/// CPU's): several steps, one step, more units than features, a sparse input, and initial
/// states with more rows than the batch (their first rows are used). The backward reads the
/// forward's caches where the forward left them, on the device.
fn lstm_builtins(dev: Device) {
    let src = r#"
        [S, SC, SCO, SCC, SCI] = lstm(X, W, b, O0, C0, TRUE)
        [L, LC, LCO, LCC, LCI] = lstm(X, W, b, O0, C0, FALSE)
        [SDX, SDW, SDB, SDO, SDC] = lstm_backward(X, W, b, O0, C0, TRUE, DS, DC, SCO, SCC, SCI)
        [LDX, LDW, LDB, LDO, LDC] = lstm_backward(X, W, b, O0, C0, FALSE, DL, DC, LCO, LCC, LCI)
    "#;
    let names = [
        "S", "SC", "SCO", "SCC", "SCI", "L", "LC", "LCO", "LCC", "LCI", "SDX", "SDW", "SDB", "SDO", "SDC",
        "LDX", "LDW", "LDB", "LDO", "LDC",
    ];
    for (k, (n, t, d, m, density)) in
        [(3, 4, 5, 6, 1.0), (2, 1, 3, 17, 1.0), (5, 3, 4, 2, 0.3)].into_iter().enumerate()
    {
        let seed = 200 + 20 * k as u64;
        let inputs = [
            ("X", random(n, t * d, density, seed)),
            ("W", random(d + m, 4 * m, 1.0, seed + 1)),
            ("b", random(1, 4 * m, 1.0, seed + 2)),
            ("O0", random(n + 2, m, 1.0, seed + 3)),
            ("C0", random(n + 1, m, 1.0, seed + 4)),
            ("DS", random(n, t * m, 1.0, seed + 5)),
            ("DL", random(n, m, 1.0, seed + 6)),
            ("DC", random(n, m, 1.0, seed + 7)),
        ];
        let (got, did) = run_counted(dev, src, &inputs, &names);
        let want = run(Device::Cpu, src, &inputs, &names);
        for (name, (g, w)) in names.iter().zip(got.iter().zip(&want)) {
            let (r, c, wv) = cells(w);
            assert_cells(&format!("{name} for N={n}, T={t}, D={d}, M={m}"), g, r, c, &wv);
        }
        if dev != Device::Cpu {
            assert_eq!(did.kernels, 4, "the four builtins on the device: {did:?}");
        }
    }
}
test_device!(lstm_builtins);

/// The LSTM's `tanh` keeps the sign of a zero as the CPU's `copysign` does: with the input gate
/// shut (`sigmoid(-1000)` is 0), a negative candidate and a cell state of -0.0, the new cell is
/// -0.0 and so is the output `o * tanh(c)`.
fn lstm_keeps_the_sign_of_zero(dev: Device) {
    let src = r#"
        X = matrix(0, rows=1, cols=1)
        W = matrix(0, rows=2, cols=4)
        b = matrix("-1000 1000 1000 -5", rows=1, cols=4)
        O0 = matrix(0, rows=1, cols=1)
        C0 = -1 * matrix(0, rows=1, cols=1)
        [L, LC, LCO, LCC, LCI] = lstm(X, W, b, O0, C0, FALSE)
    "#;
    for name in ["L", "LC"] {
        let got = run(dev, src, &[], &[name]);
        let (_, _, cells) = cells(&got[0]);
        assert_eq!(cells[0].to_bits(), (-0.0f64).to_bits(), "{name} on {dev:?}: {}", cells[0]);
    }
}
test_device!(lstm_keeps_the_sign_of_zero);

/// Compares every output of `src` on `dev` with the CPU run's, to 1e-12 relative.
fn same_outputs_as_the_cpu(dev: Device, src: &str, inputs: &[(&str, Value)], names: &[&str]) {
    let got = run(dev, src, inputs, names);
    let want = run(Device::Cpu, src, inputs, names);
    for (name, (g, w)) in names.iter().zip(got.iter().zip(&want)) {
        let (r, c, wv) = cells(w);
        assert_cells(name, g, r, c, &wv);
    }
}

/// Three SGD steps of a two-layer LSTM through `nn/layers/lstm.dml` (forward with and without
/// sequences, backward through both) and an L2 loss: the losses, the updated weights and the
/// input gradient are the CPU's.
fn lstm_layer_training(dev: Device) {
    let src = r#"
        source("nn/layers/lstm.dml") as lstm
        N = nrow(X)
        T = 3
        D = 4
        M = 5
        b1 = matrix(0.1, rows=1, cols=4*M)
        b2 = matrix(-0.1, rows=1, cols=4*M)
        o1 = matrix(0, rows=N, cols=M)
        losses = matrix(0, rows=3, cols=1)
        for (i in 1:3) {
            [out1, c1, co1, cc1, ci1] = lstm::forward(X, W1, b1, T, D, TRUE, o1, o1)
            [out2, c2, co2, cc2, ci2] = lstm::forward(out1, W2, b2, T, M, FALSE, o1, o1)
            losses[i, 1] = sum((out2 - Y)^2) / N
            dout2 = 2 * (out2 - Y) / N
            [dout1, dW2, db2, d02, dc02] = lstm::backward(dout2, o1, out1, W2, b2, T, M, FALSE, o1, o1, co2, cc2, ci2)
            [dX, dW1, db1, d01, dc01] = lstm::backward(dout1, o1, X, W1, b1, T, D, TRUE, o1, o1, co1, cc1, ci1)
            W1 = W1 - 0.5 * dW1
            b1 = b1 - 0.5 * db1
            W2 = W2 - 0.5 * dW2
            b2 = b2 - 0.5 * db2
        }
    "#;
    let inputs = [
        ("X", random(6, 12, 1.0, 300)),
        ("Y", random(6, 5, 1.0, 301)),
        ("W1", random(9, 20, 1.0, 302)),
        ("W2", random(10, 20, 1.0, 303)),
    ];
    same_outputs_as_the_cpu(dev, src, &inputs, &["losses", "W1", "b1", "W2", "b2", "dX"]);
}
test_device!(lstm_layer_training);

/// Three SGD steps of a product, a batch normalization (the builtins, as the Keras converter's
/// scripts call them) and a ReLU under an L2 loss, then the trained network in test mode: the
/// losses, parameters, running statistics and predictions are the CPU's.
fn batch_norm_training(dev: Device) {
    let src = r#"
        N = nrow(X)
        losses = matrix(0, rows=3, cols=1)
        for (i in 1:3) {
            H = X %*% W
            [Y, em, ev, cm, ci] = batch_norm2d(H, g, b, em, ev, "train", 1e-5, 0.9)
            R = max(Y, 0)
            losses[i, 1] = sum((R - T)^2) / N
            dY = (Y > 0) * (2 * (R - T) / N)
            [dH, dg, db] = batch_norm2d_backward(H, dY, g, 1e-5, cm, ci)
            W = W - 0.1 * (t(X) %*% dH)
            g = g - 0.1 * dg
            b = b - 0.1 * db
        }
        [P, em2, ev2, cm2, ci2] = batch_norm2d(X %*% W, g, b, em, ev, "test", 1e-5, 0.9)
    "#;
    let (c, hw) = (3, 4);
    let inputs = [
        ("X", random(8, 6, 1.0, 310)),
        ("W", random(6, c * hw, 1.0, 311)),
        ("T", random(8, c * hw, 1.0, 312)),
        ("g", positive(c, 1, 313)),
        ("b", random(c, 1, 1.0, 314)),
        ("em", random(c, 1, 1.0, 315)),
        ("ev", positive(c, 1, 316)),
    ];
    same_outputs_as_the_cpu(dev, src, &inputs, &["losses", "W", "g", "b", "em", "ev", "P"]);
}
test_device!(batch_norm_training);

/// Distance in units in the last place between two doubles of the same sign (0 for equal
/// bits, NaN meeting NaN; signed zeros and NaN against a number are infinitely apart).
fn ulps_apart(a: f64, b: f64) -> u64 {
    if a.is_nan() || b.is_nan() {
        return if a.is_nan() && b.is_nan() { 0 } else { u64::MAX };
    }
    if a.is_sign_negative() != b.is_sign_negative() {
        return if a == 0.0 && b == 0.0 {
            u64::MAX
        } else {
            (a.to_bits() & !(1 << 63)) + (b.to_bits() & !(1 << 63))
        };
    }
    a.to_bits().abs_diff(b.to_bits())
}

fn next_up(x: f64) -> f64 {
    f64::from_bits(x.to_bits() + 1)
}

fn next_down(x: f64) -> f64 {
    f64::from_bits(x.to_bits() - 1)
}

/// Arguments of sin, cos and tan by range, each of both signs: uniform below 1, 100, 1e6 and
/// 1e11; next to multiples of pi/2 (the integers nearest them and the doubles nearest
/// `k * pi/2`, where the reduced argument is tiny and a reduction that loses low-order terms
/// shows); magnitudes from 1e12 to 1e308 (the CPU's libm range, Payne and Hanek's here) with the
/// classic hard cases; special values.
fn trig_arguments() -> Vec<(&'static str, Vec<f64>)> {
    let (_, _, u) = cells(&random(1, 24_000, 1.0, 90));
    let scaled =
        |range: std::ops::Range<usize>, scale: f64| u[range].iter().map(|x| x * scale).collect::<Vec<_>>();
    let mut near = Vec::new();
    for k in 1..3000u64 {
        let n = (k * k * 7919) as f64;
        let by_integer = (n * std::f64::consts::FRAC_PI_2).round();
        let by_double = n * std::f64::consts::FRAC_PI_2;
        near.extend([
            by_integer,
            -by_integer,
            by_double,
            -by_double,
            (k as f64) * std::f64::consts::FRAC_PI_2,
        ]);
    }
    // The neighbours of the doubles of `NEAR_PIO2` below 1e12.
    for &(x, _, _, _, _) in &NEAR_PIO2[13..] {
        near.extend([next_up(x), next_down(x), -next_up(x), -next_down(x)]);
    }
    let huge: Vec<f64> =
        u[20_000..24_000].iter().map(|x| x.signum() * 10f64.powf(12.0 + 296.0 * x.abs())).collect();
    let mut hard = vec![
        1e12,
        -1e12,
        1e12 - 1e-4,
        1e22,
        -1e22,
        5_319_372_648_326_062.0 * 2f64.powi(199),
        2f64.powi(1023),
        f64::MAX,
        -f64::MAX,
        9_007_199_254_740_993.0,
        1.0e15 + 0.5,
    ];
    hard.extend(huge);
    let special = vec![
        0.0,
        -0.0,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        5e-324,
        -5e-324,
        1e-310,
        f64::MIN_POSITIVE,
        1e-300,
        -1e-20,
        1e-8,
        0.785,
        0.786,
        std::f64::consts::FRAC_PI_4,
        -std::f64::consts::FRAC_PI_4,
        std::f64::consts::FRAC_PI_2,
        std::f64::consts::PI,
        1.0,
        2.0,
        3.0,
    ];
    vec![
        ("|x| < 1", scaled(0..5000, 1.0)),
        ("|x| < 100", scaled(5000..10_000, 100.0)),
        ("|x| < 1e6", scaled(10_000..15_000, 1e6)),
        ("|x| < 1e11", scaled(15_000..20_000, 1e11)),
        ("near k pi/2", near),
        ("|x| >= 1e12", hard),
        ("special", special),
    ]
}

/// Doubles next to multiples of pi/2 as `m * 2^e`, with sin, cos and tan correctly rounded
/// (mpmath at 2600 bits). In each binade sampled, the best found from the continued fraction
/// of pi/2 over the binade's ulp: 13 above 1e12 (the first the closest of all doubles,
/// |x mod pi/2| about 4.7e-19), then one a binade from 1 to 2^39 (|x mod pi/2| down to 6e-19,
/// where dropping any low-order term of the reduction costs hundreds of ulp). glibc 2.36, the
/// CPU's tan everywhere and its sin and cos above 1e12, is up to 2e4 ulp off on them.
const NEAR_PIO2: [(f64, i32, f64, f64, f64); 53] = [
    (6_381_956_970_095_103.0, 797, 1.0, -4.687165924254628e-19, -2.133485385753704e18),
    (4_615_509_997_160_240.0, -11, -6.004489456758327e-17, 1.0, -6.004489456758327e-17),
    (6_563_124_118_766_349.0, -5, 1.0, 1.9177273808217003e-17, 5.214505513142978e16),
    (6_027_843_377_079_719.0, 1, -1.0, 6.943873666686217e-17, -1.4401183662047008e16),
    (7_458_244_090_391_966.0, 12, 1.0, -5.861872080508489e-17, -1.7059396490843498e16),
    (8_533_304_399_137_111.0, 48, -1.3172252844103665e-16, 1.0, -1.3172252844103665e-16),
    (6_437_311_976_313_129.0, 148, -2.005457001995384e-17, -1.0, 2.005457001995384e-17),
    (5_477_981_804_930_813.0, 281, -1.0, 9.492436527306631e-17, -1.0534703046191854e16),
    (7_356_920_383_555_375.0, 448, 1.0, 9.994482155052721e-17, 1.000552089128949e16),
    (7_428_470_938_102_426.0, 648, 1.0, 2.72838287952063e-17, 3.665174735943577e16),
    (5_419_456_094_778_897.0, 848, 1.1700217436877547e-16, -1.0, -1.1700217436877547e-16),
    (6_890_810_106_373_409.0, 948, -9.777584714196311e-17, 1.0, -9.777584714196311e-17),
    (6_221_301_883_130_153.0, 971, -2.586287505210448e-17, 1.0, -2.586287505210448e-17),
    (std::f64::consts::FRAC_PI_2, 0, 1.0, 6.123233995736766e-17, 1.633123935319537e16),
    (std::f64::consts::PI, 0, 1.2246467991473532e-16, -1.0, -1.2246467991473532e-16),
    (4.71238898038469, 0, -1.0, -1.8369701987210297e-16, 5443746451065123.0),
    (9.42477796076938, 0, 3.6739403974420594e-16, -1.0, -3.6739403974420594e-16),
    (18.84955592153876, 0, -7.347880794884119e-16, 1.0, -7.347880794884119e-16),
    (45.553093477052, 0, 1.0, -6.189806365883577e-19, -1.6155594228467482e18),
    (91.106186954104, 0, -1.2379612731767154e-18, -1.0, 1.2379612731767154e-18),
    (182.212373908208, 0, 2.475922546353431e-18, 1.0, 2.475922546353431e-18),
    (364.424747816416, 0, 4.951845092706862e-18, 1.0, 4.951845092706862e-18),
    (728.849495632832, 0, 9.903690185413723e-18, 1.0, 9.903690185413723e-18),
    (1457.698991265664, 0, 1.9807380370827447e-17, 1.0, 1.9807380370827447e-17),
    (2915.397982531328, 0, 3.9614760741654893e-17, 1.0, 3.9614760741654893e-17),
    (5830.795965062656, 0, 7.922952148330979e-17, 1.0, 7.922952148330979e-17),
    (11661.591930125313, 0, 1.5845904296661957e-16, 1.0, 1.5845904296661957e-16),
    (23323.183860250625, 0, 3.1691808593323915e-16, 1.0, 3.1691808593323915e-16),
    (46066.74387591393, 0, -1.0, 1.3593070393188837e-16, -7356689629894628.0),
    (92133.48775182787, 0, -2.7186140786377673e-16, -1.0, 2.7186140786377673e-16),
    (138200.2316277418, 0, 1.0, -4.077921117956651e-16, -2452229876631542.5),
    (321307.9594422229, 0, -1.0, -4.429600834596129e-17, 2.2575397588644696e16),
    (642615.9188844458, 0, 8.859201669192259e-17, -1.0, -8.859201669192259e-17),
    (1698673.2849629424, 0, 1.0, -5.038136613397025e-17, -1.984860826006339e16),
    (3397346.5699258847, 0, -1.007627322679405e-16, -1.0, 1.007627322679405e-16),
    (6794693.139851769, 0, 2.01525464535881e-16, 1.0, 2.01525464535881e-16),
    (14461176.67027838, 0, -1.0, -1.6985038298986004e-18, 5.88753456069451e17),
    (28922353.34055676, 0, 3.3970076597972008e-18, -1.0, -3.3970076597972008e-18),
    (57844706.68111352, 0, -6.7940153195944015e-18, 1.0, -6.7940153195944015e-18),
    (115689413.36222704, 0, -1.3588030639188803e-17, 1.0, -1.3588030639188803e-17),
    (231378826.72445408, 0, -2.7176061278377606e-17, 1.0, -2.7176061278377606e-17),
    (462757653.44890815, 0, -5.435212255675521e-17, 1.0, -5.435212255675521e-17),
    (925515306.8978163, 0, -1.0870424511351042e-16, 1.0, -1.0870424511351042e-16),
    (1430784699.9669847, 0, -2.365975537416992e-16, -1.0, 2.365975537416992e-16),
    (2861569399.9339695, 0, 4.731951074833984e-16, 1.0, 4.731951074833984e-16),
    (5848238277.541742, 0, 1.0, 7.992064984149294e-17, 1.251241077222602e16),
    (11696476555.083485, 0, 1.5984129968298588e-16, -1.0, -1.5984129968298588e-16),
    (32102760787.64268, 0, 1.0, -7.359185827593368e-17, -1.3588459694148316e16),
    (43799237342.726166, 0, -1.0, -8.624944140705218e-17, 1.1594277988196164e16),
    (87598474685.45233, 0, 1.7249888281410437e-16, -1.0, -1.7249888281410437e-16),
    (175196949370.90466, 0, -3.4499776562820873e-16, 1.0, -3.4499776562820873e-16),
    (475818273014.7723, 0, -1.0, 1.5748765917220856e-16, -6349703876838545.0),
    (563416747700.2246, 0, 1.0, 1.5011223641895818e-17, 6.661682111037462e16),
];

/// sin, cos and tan against the CPU's (`kernels::trig` below 1e12 past pi/4, libm elsewhere),
/// every range at most 2 ulp apart; the distribution of the distances goes to stderr
/// (`--nocapture`). Signed zeros and NaN must match exactly.
fn sin_cos_tan(dev: Device) {
    let ranges = trig_arguments();
    let all: Vec<f64> = ranges.iter().flat_map(|(_, v)| v.iter().copied()).collect();
    let a = Value::Matrix(Arc::new(Matrix::from_vec(all.len(), 1, all.clone())));
    let out = run(dev, "S = sin(A)\nC = cos(A)\nT = tan(A)", &[("A", a)], &["S", "C", "T"]);
    for (k, op) in [UnOp::Sin, UnOp::Cos, UnOp::Tan].into_iter().enumerate() {
        let (_, _, got) = cells(&out[k]);
        let mut at = 0;
        // Cells off by one ulp: all of them, and those of sin and cos the CPU reduces itself.
        let (mut off, mut reduced, mut reduced_off) = (0, 0, 0);
        for (name, xs) in &ranges {
            let mut histogram = [0usize; 3];
            for (x, g) in xs.iter().zip(&got[at..]) {
                let want = op.apply(*x);
                let d = ulps_apart(*g, want);
                assert!(d <= 2, "{op:?}({x:e}) is {g:e}, the CPU's {want:e}: {d} ulp apart");
                histogram[d as usize] += 1;
                off += usize::from(d > 0);
                if op != UnOp::Tan && x.abs() > 0.785 && x.abs() < 1e12 {
                    reduced += 1;
                    reduced_off += usize::from(d > 0);
                }
            }
            at += xs.len();
            eprintln!("{dev:?} {op:?} {name}: {} cells, ulp 0/1/2: {histogram:?}", xs.len());
        }
        // The device runs the CPU's steps where the CPU reduces (measured: every cell the
        // CPU's bits; a compiler that reorders the exact steps shows here as 15% of the cells
        // one ulp off), and is as close to libm elsewhere as the CPU's kernel is (under 5% one
        // ulp off, the bound of `kernels::trig`'s own test).
        assert!(
            reduced_off * 1000 <= reduced,
            "{op:?}: {reduced_off} of {reduced} reduced cells not the CPU's"
        );
        assert!(off * 20 < all.len(), "{op:?}: {off} of {} cells not the CPU's", all.len());
    }
    // Next to multiples of pi/2 libm loses accuracy (glibc 2.36: up to 2e4 ulp on `NEAR_PIO2`),
    // so there the reference is the correctly rounded value, and the device must be within one
    // ulp of it; so must the CPU's sin and cos below 1e12 (`kernels::trig`).
    let xs: Vec<f64> = NEAR_PIO2.iter().flat_map(|c| [c.0 * 2f64.powi(c.1), -c.0 * 2f64.powi(c.1)]).collect();
    let a = Value::Matrix(Arc::new(Matrix::from_vec(xs.len(), 1, xs)));
    let out = run(dev, "S = sin(A)\nC = cos(A)\nT = tan(A)", &[("A", a)], &["S", "C", "T"]);
    let (s, c, t) = (cells(&out[0]).2, cells(&out[1]).2, cells(&out[2]).2);
    let mut worst = 0;
    for (i, &(m, e, sin, cos, tan)) in NEAR_PIO2.iter().enumerate() {
        let x = m * 2f64.powi(e);
        for (sign, j) in [(1.0, 2 * i), (-1.0, 2 * i + 1)] {
            for (op, got, want) in [("sin", s[j], sign * sin), ("cos", c[j], cos), ("tan", t[j], sign * tan)]
            {
                let d = ulps_apart(got, want);
                worst = worst.max(d);
                if dev != Device::Cpu || (op != "tan" && x < 1e12) {
                    assert!(
                        d <= 1,
                        "{op}({:e}) is {got:e}, {d} ulp from the correctly rounded {want:e}",
                        sign * x
                    );
                }
            }
        }
    }
    eprintln!("{dev:?} next to multiples of pi/2: at most {worst} ulp from the correctly rounded values");
}
test_device!(@wgpu sin_cos_tan);

/// A script that computes with sin, cos and tan (phases over four ranges, a rotation, the
/// Pythagorean identity) printed by `dml run --gpu force`, against `dml run`: the same lines,
/// numbers equal to 1e-12 relative (the sums run on the device in its own order), and the
/// device must have run the trigonometric operators (`--stats`).
#[cfg(feature = "gpu")]
#[test]
fn trig_script_under_gpu_force_prints_the_cpu_output() {
    let src = r#"
        P = matrix(seq(1, 1200), rows=40, cols=30)
        X = cbind(P * 0.000613, P * 0.0931 - 50, P * 833.7, P * P * 61.3, P * 8.337e9)
        S = sin(X)
        C = cos(X)
        T = tan(X / 3)
        print(sum(S))
        print(sum(C))
        print(sum(T))
        print(max(abs(S * S + C * C - 1)))
        R = S %*% t(C)
        print(sum(R))
        for (j in seq(1, 150, 17)) {
            print(as.scalar(S[7, j]) + " " + as.scalar(C[13, j]) + " " + as.scalar(T[40, j]))
        }
    "#;
    let path = std::env::temp_dir().join(format!("dml-gpu-trig-{}.dml", std::process::id()));
    std::fs::write(&path, src).expect("write the script");
    let run = |args: &[&str]| {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_dml"))
            .arg("run")
            .arg(&path)
            .args(args)
            .output()
            .expect("run dml");
        let (out, err) = (
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        );
        assert!(o.status.success(), "{args:?}: {err}");
        (out, err)
    };
    let (cpu, _) = run(&[]);
    let (gpu, stats) = run(&["--gpu", "force", "--stats"]);
    let _ = std::fs::remove_file(&path);
    assert!(stats.contains("GPU:"), "{stats}");
    let (c, g): (Vec<&str>, Vec<&str>) = (cpu.lines().collect(), gpu.lines().collect());
    assert!(c.len() == 14 && g.len() == c.len(), "CPU printed\n{cpu}\nGPU printed\n{gpu}");
    for (a, b) in c.iter().zip(&g) {
        let (wa, wb): (Vec<&str>, Vec<&str>) =
            (a.split_whitespace().collect(), b.split_whitespace().collect());
        assert_eq!(wa.len(), wb.len(), "`{a}` against `{b}`");
        for (x, y) in wa.iter().zip(&wb) {
            let (x, y): (f64, f64) = (x.parse().expect("a number"), y.parse().expect("a number"));
            assert!((x - y).abs() <= 1e-12 * x.abs().max(1e-300), "CPU printed {x:e}, GPU {y:e} in `{a}`");
        }
    }
}
