//! `dml gpu-bench`'s CUDA side: an `n x n` f64 product by cuBLAS on device-resident inputs,
//! timed over `reps` products after a warm-up (transfers excluded: they are the residency
//! cache's business, not the product's), and checked against the CPU on sampled cells.

use super::Cuda;
use cudarc::cublas::sys::cublasOperation_t;
use cudarc::cublas::{Gemm, GemmConfig};
use cudarc::driver::CudaSlice;
use std::time::Instant;

/// Seconds per product and the largest relative error of the checked cells.
pub(in crate::gpu) fn matmul(gpu: &Cuda, n: usize, reps: usize) -> Result<(f64, f64), String> {
    if n == 0 || n > i32::MAX as usize {
        return Err(format!("matrix size {n} out of range"));
    }
    let _busy = gpu.lock()?;
    let (a, b) = (crate::gpu::bench_data(n, 1), crate::gpu::bench_data(n, 2));
    let (da, db) = (gpu.upload(&a)?, gpu.upload(&b)?);
    let mut dc = gpu.alloc(n * n)?;
    let cfg = GemmConfig {
        transa: cublasOperation_t::CUBLAS_OP_N,
        transb: cublasOperation_t::CUBLAS_OP_N,
        m: n as i32,
        n: n as i32,
        k: n as i32,
        alpha: 1.0f64,
        lda: n as i32,
        ldb: n as i32,
        beta: 0.0f64,
        ldc: n as i32,
    };
    let sync = |what: &str| gpu.stream.synchronize().map_err(|e| format!("CUDA {what}: {e}"));
    // Row-major C = A B is column-major t(C) = t(B) t(A): B's buffer first.
    // SAFETY: three n x n buffers, described exactly by `cfg`.
    let gemm = |dc: &mut CudaSlice<f64>| {
        unsafe { gpu.blas.gemm(cfg, &db, &da, dc) }.map_err(|e| format!("cuBLAS: {e}"))
    };
    gemm(&mut dc)?;
    sync("warm-up")?;
    let start = Instant::now();
    for _ in 0..reps {
        gemm(&mut dc)?;
    }
    sync("products")?;
    let seconds = start.elapsed().as_secs_f64() / reps.max(1) as f64;
    let first_row = gpu.download(&dc, n)?;
    Ok((seconds, crate::gpu::bench_check(&a, &b, n, &first_row)))
}
