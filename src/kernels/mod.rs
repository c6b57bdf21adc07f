//! Matrix kernels: pure functions from input matrices to output matrices, dense and sparse.
//!
//! Each family lives in its own file. Kernels report bad shapes and arguments as
//! [`KernelError`]; the executor attaches the place in the script.

/// A kernel refused its inputs (mismatched shapes, out-of-range indexes, invalid arguments).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct KernelError(pub String);

impl KernelError {
    pub fn new(msg: impl Into<String>) -> Self {
        KernelError(msg.into())
    }
}

pub type KResult<T> = Result<T, KernelError>;

pub mod aggregate;
pub mod build;
pub mod cumulative;
pub mod datagen;
pub mod distributions;
pub mod dnn;
pub mod einsum;
pub mod elementwise;
pub mod fft;
pub mod format;
pub mod fused;
pub(crate) mod gemm_util;
pub mod index;
pub mod left_index;
pub mod linalg;
pub mod matmul;
pub mod merge;
pub mod ops;
pub mod reorg;
pub mod scalar;
pub mod select;
pub mod simd;
pub mod skinny;
pub mod stats;
pub mod ternary;
pub mod trig;
pub mod uninit;
