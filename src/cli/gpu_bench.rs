//! `dml gpu-bench` (hidden): the f64 matrix product of issue 19's acceptance, timed on each GPU
//! backend this build has, on device-resident inputs, with the result's first row checked
//! against the CPU. Everything it needs is in the binary: it runs on a machine with no network.

use dml::gpu::GpuBackend;

/// Prints one line per backend; 0 when every backend asked for ran, 1 otherwise.
pub fn run(n: usize, reps: usize, only: Option<&str>) -> i32 {
    let backends: Vec<GpuBackend> = match only.map(str::to_ascii_lowercase).as_deref() {
        None => vec![GpuBackend::Cuda, GpuBackend::Wgpu],
        Some("cuda") => vec![GpuBackend::Cuda],
        Some("wgpu") => vec![GpuBackend::Wgpu],
        Some(other) => {
            eprintln!("error: --backend: `{other}` is neither `cuda` nor `wgpu`");
            return 2;
        }
    };
    println!("f64 matrix product {n} x {n} x {n}, {reps} products after a warm-up, inputs on the device");
    let mut ok = true;
    let mut cuda_flops = None;
    for backend in backends {
        match dml::gpu::bench_matmul(backend, n, reps) {
            Ok(b) => {
                let share = |peak: Option<f64>| {
                    peak.map_or("unknown".to_string(), |p| {
                        format!("{:.1}% of {:.1} TFLOP/s", 100.0 * b.flops / p, p * 1e-12)
                    })
                };
                println!(
                    "{backend:?}: {:.1} GFLOP/s ({:.2} ms a product) on {} [{}]; f64 peak (tensor cores \
                     where present): {}; FMA units' peak: {}; max rel. error {:.1e}",
                    b.flops * 1e-9,
                    b.seconds * 1e3,
                    b.device.name,
                    b.device.api,
                    share(b.peak_flops),
                    share(b.peak_fma_flops),
                    b.max_rel_error
                );
                if backend == GpuBackend::Cuda {
                    cuda_flops = Some(b.flops);
                } else if let Some(c) = cuda_flops {
                    println!("wgpu / CUDA: {:.1}%", 100.0 * b.flops / c);
                }
                if b.max_rel_error > 1e-10 {
                    eprintln!("error: {backend:?}: the product disagrees with the CPU");
                    ok = false;
                }
            }
            Err(e) => {
                println!("{backend:?}: not run: {e}");
                ok = false;
            }
        }
    }
    if ok { 0 } else { 1 }
}
