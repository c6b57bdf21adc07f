//! `dml run --gpu [force] | --no-gpu` on the command line: the answer of a build without GPU
//! support, and with the `gpu` feature (on a software adapter such as lavapipe in CI) the
//! notice of `--gpu`, the CPU's output under `--gpu force`, the choice in `--explain hops` and
//! the device counters in `--stats`; with the `cuda` feature on a machine without a CUDA driver,
//! the clear message of `--gpu` and the CPU's output (or wgpu's, when that is compiled too).

use std::path::PathBuf;
use std::process::{Command, Output};

/// Products, cellwise operators and aggregates, with printed results.
const SCRIPT: &str = r#"
X = rand(rows=120, cols=30, min=-1, max=1, seed=7)
y = rand(rows=120, cols=1, min=-1, max=1, seed=8)
G = t(X) %*% X
b = t(X) %*% y
w = G %*% b / nrow(X)
r = X %*% w - y
print(sum(r * r))
print(max(abs(r)))
print(sum(colMeans(X) + t(rowSums(G))))
"#;

fn script(name: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("dml-gpu-cli-{name}-{}.dml", std::process::id()));
    std::fs::write(&p, SCRIPT).expect("write script");
    p
}

fn dml(args: &[&str], script: &PathBuf) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dml")).arg("run").arg(script).args(args).output().expect("run dml")
}

fn text(o: &Output) -> (String, String) {
    (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

#[test]
fn no_gpu_runs_on_the_cpu_in_every_build() {
    let s = script("nogpu");
    let o = dml(&["--no-gpu"], &s);
    assert!(o.status.success(), "{:?}", text(&o));
}

#[cfg(not(any(feature = "gpu", feature = "cuda")))]
#[test]
fn gpu_flag_says_the_build_has_no_gpu_support() {
    let s = script("nofeature");
    for args in [&["--gpu"][..], &["--gpu", "force"][..]] {
        let o = dml(args, &s);
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(err.contains("not compiled with GPU support"), "{err}");
    }
    let o = repl(&["--gpu"], "print(1)\n");
    assert_eq!(o.status.code(), Some(1), "{:?}", text(&o));
    assert!(text(&o).1.contains("not compiled with GPU support"), "{:?}", text(&o));
}

/// `dml repl ARGS` reading `input` from standard input.
#[cfg(any(feature = "gpu", not(feature = "cuda")))]
fn repl(args: &[&str], input: &str) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_dml"))
        .arg("repl")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start dml repl");
    child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write input");
    child.wait_with_output().expect("run dml repl")
}

#[cfg(feature = "gpu")]
mod with_gpu {
    use super::*;

    fn numbers(out: &str) -> Vec<f64> {
        out.lines().map(|l| l.trim().parse::<f64>().unwrap_or_else(|_| panic!("not a number: {l}"))).collect()
    }

    #[test]
    fn gpu_force_prints_the_cpu_output() {
        let s = script("force");
        let cpu = dml(&[], &s);
        let gpu = dml(&["--gpu", "force"], &s);
        assert!(gpu.status.success(), "{:?}", text(&gpu));
        let (c, g) = (numbers(&text(&cpu).0), numbers(&text(&gpu).0));
        assert_eq!(c.len(), 3);
        assert_eq!(c.len(), g.len());
        for (a, b) in c.iter().zip(&g) {
            assert!((a - b).abs() <= 1e-12 * a.abs().max(1.0), "CPU {a} vs GPU {b}");
        }
    }

    #[test]
    fn explain_and_stats_show_the_device() {
        let s = script("explain");
        let o = dml(&["--gpu", "force", "--explain", "hops", "--stats"], &s);
        let (out, err) = text(&o);
        let all = out + &err;
        assert!(o.status.success(), "{all}");
        assert!(all.contains(", GPU]"), "the hops name their backend: {all}");
        assert!(all.contains("GPU:") && all.contains("operators") && all.contains("uploads"), "{all}");
    }

    /// `dml repl --gpu force`: each input's device results are brought back as the session
    /// keeps its variables, and later inputs use them: the values the CPU session shows.
    #[test]
    fn repl_under_gpu_force_shows_the_cpu_values() {
        let input = "X = rand(rows=50, cols=50, min=-1, max=1, seed=3)
Y = exp(X %*% X / 10)
Z = Y * 2
sum(Z)
W = t(Z) %*% Z
sum(W)
max(abs(W - t(W)))
";
        let cpu = repl(&[], input);
        let gpu = repl(&["--gpu", "force"], input);
        assert!(gpu.status.success(), "{:?}", text(&gpu));
        let (c, g) = (numbers(&text(&cpu).0), numbers(&text(&gpu).0));
        assert_eq!(c.len(), 3, "{:?}", text(&cpu));
        assert_eq!(c.len(), g.len(), "{:?}", text(&gpu));
        for (a, b) in c.iter().zip(&g) {
            assert!((a - b).abs() <= 1e-12 * a.abs().max(1.0), "CPU {a} vs GPU {b}");
        }
    }

    /// Under a device budget smaller than the matrices a script keeps alive, the least recently
    /// used device results move to the host (`--stats` counts the evictions) and are read
    /// from there, uploaded again where a device operator needs them: the output is the CPU's.
    #[test]
    fn device_matrices_are_evicted_under_the_budget() {
        let p = std::env::temp_dir().join(format!("dml-gpu-cli-evict-{}.dml", std::process::id()));
        std::fs::write(
            &p,
            "X = rand(rows=200, cols=200, min=-1, max=1, seed=7)
            A = X %*% X
            B = exp(A / 100)
            C = A * B
            D = tanh(C)
            E = D %*% X
            print(sum(A))
            print(sum(B))
            print(sum(C))
            print(sum(D))
            print(sum(E))
            ",
        )
        .expect("write script");
        let cpu = dml(&[], &p);
        let unlimited = dml(&["--gpu", "force"], &p);
        let gpu = Command::new(env!("CARGO_BIN_EXE_dml"))
            .args(["run", "--gpu", "force", "--stats"])
            .arg(&p)
            .env("DML_GPU_MEMORY_BUDGET", "1M")
            .output()
            .expect("run dml");
        let (out, err) = text(&gpu);
        assert!(gpu.status.success(), "{err}");
        let all = format!("{out}{err}");
        let stats =
            all.lines().find(|l| l.starts_with("GPU:")).unwrap_or_else(|| panic!("no GPU line: {all}"));
        let evictions: u64 =
            stats.rsplit("evictions ").next().and_then(|n| n.trim().parse().ok()).expect(stats);
        assert!(evictions > 0, "five 320 KB results under a 1 MB budget: {stats}");
        let printed: Vec<&str> = out.lines().take_while(|l| !l.starts_with("dml statistics")).collect();
        // Evicting moves cells, never changes them: the same bits as without a budget.
        assert_eq!(printed.join("\n"), text(&unlimited).0.trim_end(), "{out}");
        let (c, g) = (numbers(&text(&cpu).0), numbers(&printed.join("\n")));
        assert_eq!(c.len(), 5);
        assert_eq!(c.len(), g.len());
        for (a, b) in c.iter().zip(&g) {
            assert!((a - b).abs() <= 1e-12 * a.abs().max(1.0), "CPU {a} vs GPU {b}");
        }
    }

    #[test]
    fn gpu_uses_a_software_adapter_only_when_forced() {
        let Ok(info) = dml::gpu::probe(dml::gpu::GpuMode::Force) else { return };
        let s = script("auto");
        let o = dml(&["--gpu", "--stats"], &s);
        let (out, err) = text(&o);
        assert!(o.status.success(), "{err}");
        if info.software {
            assert!(err.contains("software implementation") && err.contains("--gpu force"), "{err}");
            assert!(!out.contains("GPU:"), "{out}");
        }
    }

    /// Conformance cases whose batch-norm statistics, losses or checksums came out of the device
    /// different from the CPU's (the compiler folded the aggregates' Kahan correction away):
    /// under `--gpu force` each prints its recorded expected output, compared as the
    /// conformance suite compares (numbers to 1e-9 relative, 1e-12 absolute near zero). The LSTM
    /// cases run the `lstm` builtins on the device.
    const CONFORMANCE_ON_THE_DEVICE: [&str; 14] = [
        "nn/resnet18",
        "nn/batch_norm2d",
        "nn/batch_norm2d_cached_stats",
        "nn/batch_norm1d",
        "nn/cross_entropy_loss",
        "nn/log_loss",
        "nn/softmax_cross_entropy_loss",
        "nn/caffe2dml_lenet_style",
        "nn/keras2dml_mlp_style",
        "nn/lenetForwardPass",
        "pserv/paramserv_nn",
        "pserv/binary_roundtrip",
        "nn/lstm",
        "nn/bilstm",
    ];

    fn numbers_match(expected: &str, actual: &str) -> bool {
        let split = |l: &str| -> Vec<String> {
            l.split(|c: char| c.is_whitespace() || ",;:=()[]{}".contains(c)).map(str::to_string).collect()
        };
        let (e, a) = (split(expected), split(actual));
        e.len() == a.len()
            && e.iter().zip(&a).all(|(x, y)| {
                x == y
                    || match (x.parse::<f64>(), y.parse::<f64>()) {
                        (Ok(x), Ok(y)) => (x - y).abs() <= (1e-9 * x.abs()).max(1e-12),
                        _ => false,
                    }
            })
    }

    #[test]
    fn conformance_cases_under_gpu_force_print_their_expected_output() {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/conformance");
        for case in CONFORMANCE_ON_THE_DEVICE {
            let script = root.join(format!("{case}.dml"));
            // A case that writes files gets a fresh folder for `$TMP`, as in the conformance suite.
            let tmp = std::env::temp_dir().join(format!(
                "dml-gpu-conf-{}-{}",
                std::process::id(),
                case.replace('/', "-")
            ));
            std::fs::create_dir_all(&tmp).expect("temp folder");
            let args = std::fs::read_to_string(script.with_extension("args"))
                .unwrap_or_default()
                .replace("$TMP", &tmp.to_string_lossy());
            let o = Command::new(env!("CARGO_BIN_EXE_dml"))
                .args(["run", "--gpu", "force"])
                .arg(script.file_name().expect("a file"))
                .args(args.split_whitespace())
                .current_dir(script.parent().expect("a folder"))
                .output()
                .expect("run dml");
            let _ = std::fs::remove_dir_all(&tmp);
            let (out, err) = text(&o);
            assert!(o.status.success(), "{case}: {err}");
            let expected = std::fs::read_to_string(script.with_extension("out")).expect("expected output");
            let (e, a): (Vec<&str>, Vec<&str>) = (
                expected.trim_end().lines().map(str::trim_end).collect(),
                out.trim_end().lines().map(str::trim_end).collect(),
            );
            assert_eq!(e.len(), a.len(), "{case}: line count\n{out}");
            for (x, y) in e.iter().zip(&a) {
                assert!(numbers_match(x, y), "{case}: expected `{x}`, printed `{y}`");
            }
        }
    }

    /// The LSTM benchmark (`../shared/bench/lstm_train.dml`) on 16 sequences of 8 steps, three
    /// iterations: its `lstm` builtins, products, cellwise operators, aggregates and optimizer
    /// updates run on the device, and the printed loss and checksum are
    /// the CPU's to 1e-9 relative.
    #[test]
    fn lstm_under_gpu_force_gives_the_cpu_losses() {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/bench/lstm_train.dml");
        if !script.exists() {
            eprintln!("skipped: {} is not there", script.display());
            return;
        }
        let run = |args: &[&str]| {
            let o = dml(&[args, &["-nvargs", "N=16", "T=8", "iters=3"][..]].concat(), &script);
            let (out, err) = text(&o);
            assert!(o.status.success(), "{err}");
            let line = out
                .lines()
                .find(|l| l.starts_with("final loss"))
                .unwrap_or_else(|| panic!("{out}"))
                .to_string();
            line.split([':', ',']).filter_map(|w| w.trim().parse::<f64>().ok()).collect::<Vec<f64>>()
        };
        let (cpu, gpu) = (run(&[]), run(&["--gpu", "force"]));
        assert_eq!(cpu.len(), 2, "{cpu:?}");
        assert_eq!(cpu.len(), gpu.len());
        for (a, b) in cpu.iter().zip(&gpu) {
            assert!((a - b).abs() <= 1e-9 * a.abs(), "CPU {a} vs GPU {b}");
        }
    }

    /// The LeNet benchmark (`../shared/bench/lenet_train.dml`, beside the repository in CI and
    /// on developers' machines) on 32 examples, one batch: under `--gpu force` its products,
    /// fused transposed products, optimizer updates, bias and ReLU gradients run on the device,
    /// and the final loss and parameter checksum are the CPU's.
    #[test]
    fn lenet_under_gpu_force_gives_the_cpu_losses() {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/bench/lenet_train.dml");
        if !script.exists() {
            eprintln!("skipped: {} is not there", script.display());
            return;
        }
        let losses = |args: &[&str]| {
            let o = dml(&[args, &["-nvargs", "N=32", "batch=32"][..]].concat(), &script);
            let (out, err) = text(&o);
            assert!(o.status.success(), "{err}");
            let line = out
                .lines()
                .find(|l| l.starts_with("final batch loss"))
                .unwrap_or_else(|| panic!("{out}"))
                .to_string();
            line.split([':', ',']).filter_map(|w| w.trim().parse::<f64>().ok()).collect::<Vec<f64>>()
        };
        let (cpu, gpu) = (losses(&[]), losses(&["--gpu", "force"]));
        assert_eq!(cpu.len(), 2, "{cpu:?}");
        assert_eq!(cpu.len(), gpu.len());
        for (a, b) in cpu.iter().zip(&gpu) {
            assert!((a - b).abs() <= 1e-12 * a.abs().max(1.0), "CPU {a} vs GPU {b}");
        }
    }
}

#[cfg(feature = "cuda")]
mod with_cuda {
    use super::*;

    fn numbers(out: &str) -> Vec<f64> {
        out.lines().map(|l| l.trim().parse::<f64>().unwrap_or_else(|_| panic!("not a number: {l}"))).collect()
    }

    fn same_numbers(cpu: &Output, other: &Output) {
        let (c, g) = (numbers(&text(cpu).0), numbers(&text(other).0));
        assert_eq!(c.len(), 3, "{:?}", text(cpu));
        assert_eq!(c.len(), g.len(), "{:?}", text(other));
        for (a, b) in c.iter().zip(&g) {
            assert!((a - b).abs() <= 1e-12 * a.abs().max(1.0), "CPU {a} vs {b}");
        }
    }

    /// On a machine with no CUDA driver (this test says on stderr that it skipped where there is
    /// one): `--gpu` names the missing driver and prints the CPU's numbers, `--gpu force` runs on
    /// wgpu when that is compiled (saying why not CUDA) and fails with the message otherwise, a
    /// backend pinned to CUDA is not replaced, and nothing panics.
    #[test]
    fn without_a_driver_gpu_says_so_and_gives_the_cpu_output() {
        const NO_DRIVER: &str = "no CUDA driver on this machine (libcuda not found)";
        if let Ok(info) = dml::gpu::probe_backend(dml::gpu::GpuBackend::Cuda, dml::gpu::GpuMode::Force) {
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "skipped: a CUDA device is present ({})", info.name);
            return;
        }
        let s = script("nodriver");
        let cpu = dml(&["--no-gpu"], &s);
        assert!(cpu.status.success(), "{:?}", text(&cpu));

        let auto = dml(&["--gpu"], &s);
        let (_, err) = text(&auto);
        assert!(auto.status.success(), "{err}");
        assert!(err.contains(NO_DRIVER), "{err}");
        assert!(!err.contains("panicked"), "{err}");
        same_numbers(&cpu, &auto);

        let force = dml(&["--gpu", "force"], &s);
        let (_, err) = text(&force);
        assert!(err.contains(NO_DRIVER) && !err.contains("panicked"), "{err}");
        if cfg!(feature = "gpu")
            && dml::gpu::probe_backend(dml::gpu::GpuBackend::Wgpu, dml::gpu::GpuMode::Force).is_ok()
        {
            assert!(force.status.success(), "{err}");
            assert!(err.contains("note: --gpu:") && err.contains("using `"), "{err}");
            same_numbers(&cpu, &force);
        } else {
            assert_eq!(force.status.code(), Some(1), "{err}");
            assert!(err.contains("error: --gpu force:"), "{err}");
        }

        // A backend pinned to CUDA fails clearly instead of running elsewhere.
        let pinned = Command::new(env!("CARGO_BIN_EXE_dml"))
            .args(["run", s.to_str().expect("utf-8 path"), "--gpu", "force"])
            .env("DML_GPU_BACKEND", "cuda")
            .output()
            .expect("run dml");
        let (_, err) = text(&pinned);
        assert_eq!(pinned.status.code(), Some(1), "{err}");
        assert!(err.contains(NO_DRIVER) && !err.contains("panicked"), "{err}");
    }

    /// `dml gpu-bench` on a machine without a driver reports that CUDA did not run, and fails.
    #[test]
    fn gpu_bench_without_a_driver_says_cuda_did_not_run() {
        if dml::gpu::probe_backend(dml::gpu::GpuBackend::Cuda, dml::gpu::GpuMode::Force).is_ok() {
            return;
        }
        let o = Command::new(env!("CARGO_BIN_EXE_dml"))
            .args(["gpu-bench", "--n", "64", "--reps", "1", "--backend", "cuda"])
            .output()
            .expect("run dml");
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(1), "{out}{err}");
        assert!(out.contains("Cuda: not run: no CUDA driver"), "{out}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

/// `dml gpu-bench --backend wgpu` on whatever adapter there is (lavapipe in CI): the product's
/// first row agrees with the CPU and the rate is printed.
#[cfg(feature = "gpu")]
#[test]
fn gpu_bench_runs_on_wgpu() {
    if dml::gpu::probe_backend(dml::gpu::GpuBackend::Wgpu, dml::gpu::GpuMode::Force).is_err() {
        return;
    }
    let o = Command::new(env!("CARGO_BIN_EXE_dml"))
        .args(["gpu-bench", "--n", "96", "--reps", "2", "--backend", "wgpu"])
        .output()
        .expect("run dml");
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    assert!(out.contains("Wgpu: ") && out.contains("GFLOP/s") && out.contains("max rel. error"), "{out}");
}
