//! `dml gpu-bench`'s wgpu side: an `n x n` f64 product by the tiled WGSL kernel on
//! device-resident inputs, `reps` dispatches in one submission after a warm-up, the first row
//! read back and checked against the CPU on sampled cells.

use super::{Pass, device, kernels};
use std::time::Instant;

/// Seconds per product and the largest relative error of the checked cells.
pub(in crate::gpu) fn matmul(n: usize, reps: usize) -> Result<(f64, f64), String> {
    let gpu = device()?;
    let tiles = n.div_ceil(kernels::TILE);
    if n == 0 || tiles > 65535 || (n * n * 8) as u64 > gpu.info().max_buffer_bytes {
        return Err(format!("an {n} x {n} matrix does not fit one buffer of this adapter"));
    }
    let (a, b) = (crate::gpu::bench_data(n, 1), crate::gpu::bench_data(n, 2));
    let (da, db) = (gpu.upload(&a), gpu.upload(&b));
    let out = gpu.output(n * n);
    gpu.compile("matmul", kernels::matmul)?;
    let params = [n as u32, n as u32, n as u32, 0, 0];
    let buffers = [&da, &db, &out];
    let pass = || Pass {
        kernel: "matmul",
        buffers: &buffers,
        params: &params,
        groups: (tiles as u32, tiles as u32),
    };
    gpu.run(&[pass()], &out, 1)?;
    let passes: Vec<Pass> = (0..reps.max(1)).map(|_| pass()).collect();
    let start = Instant::now();
    let first_row = gpu.run(&passes, &out, n)?;
    let seconds = start.elapsed().as_secs_f64() / passes.len() as f64;
    Ok((seconds, crate::gpu::bench_check(&a, &b, n, &first_row)))
}
