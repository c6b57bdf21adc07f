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

/// Side of the product [`measured_rates`] times: 2.1 GFLOP, milliseconds on a GPU.
const CALIBRATION_N: usize = 1024;
/// Cells of the buffer copy [`measured_rates`] times (32 MB each way).
const CALIBRATION_CELLS: usize = 1 << 22;

/// The adapter's sustained rates as the planner's cost model uses them, measured once per
/// process (wgpu reports neither an adapter's f64 rate nor its memory bandwidth, and consumer
/// cards run f64 at 1/2 to 1/64 of their f32 rate): the tiled product kernel on a
/// [`CALIBRATION_N`]-square product, and a device-to-device copy for the bandwidth.
pub(in crate::gpu) fn measured_rates() -> Result<crate::gpu::Rates, String> {
    static RATES: std::sync::OnceLock<Result<crate::gpu::Rates, String>> = std::sync::OnceLock::new();
    RATES
        .get_or_init(|| {
            let (seconds, _) = matmul(CALIBRATION_N, 2)?;
            let gemm_flops = 2.0 * (CALIBRATION_N as f64).powi(3) / seconds;
            Ok(crate::gpu::Rates { gemm_flops, bytes_per_sec: copy_rate()? })
        })
        .clone()
}

/// Bytes read plus written per second by a device-to-device buffer copy, after a warm-up.
fn copy_rate() -> Result<f64, String> {
    let gpu = device()?;
    let cells = CALIBRATION_CELLS.min((gpu.info().max_buffer_bytes / 8) as usize);
    let (from, to) = (gpu.output(cells), gpu.output(cells));
    let bytes = (cells * 8) as u64;
    let copy = |reps: usize| -> Result<f64, String> {
        let start = Instant::now();
        let mut encoder = gpu.device.create_command_encoder(&Default::default());
        for _ in 0..reps {
            encoder.copy_buffer_to_buffer(&from, 0, &to, 0, bytes);
        }
        gpu.queue.submit([encoder.finish()]);
        gpu.device
            .poll(wgpu::PollType::Wait { submission_index: None, timeout: None })
            .map_err(|e| format!("GPU wait failed: {e}"))?;
        Ok(start.elapsed().as_secs_f64())
    };
    copy(1)?;
    let reps = 4;
    Ok(2.0 * bytes as f64 * reps as f64 / copy(reps)?.max(1e-9))
}

#[cfg(test)]
mod tests {
    /// Needs an adapter (lavapipe will do); without one there is nothing to measure.
    #[test]
    fn the_measured_rates_are_finite_and_the_product_checks() {
        if super::device().is_err() {
            return;
        }
        let (_, err) = super::matmul(64, 1).expect("runs");
        assert!(err < 1e-12, "the product's cells agree with the CPU: {err}");
        let r = super::measured_rates().expect("measured");
        assert!(r.gemm_flops.is_finite() && r.gemm_flops > 1e6, "{r:?}");
        assert!(r.bytes_per_sec.is_finite() && r.bytes_per_sec > 1e6, "{r:?}");
    }
}
