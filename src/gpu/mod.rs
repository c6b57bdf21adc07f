//! The GPU backend: which operators can run on a device, the device itself, and the counters
//! `--stats` prints.
//!
//! This module exists in every build (candle's pattern): the planner and the executor name it
//! without `cfg`. With the `gpu` feature the device is a wgpu adapter with f64 compute shaders
//! ([`wgpu`] submodule: device and residency, WGSL kernels, operators); without it [`probe`]
//! answers that the build has no GPU support and [`execute`] never runs anything.
//!
//! A device is used under two modes: [`GpuMode::Auto`] (`--gpu`: an operator goes to the device
//! when the planner's estimate says it pays, and only on a hardware adapter) and
//! [`GpuMode::Force`] (`--gpu force`: every supported operator, a software adapter such as
//! lavapipe included, which is how the backend is tested on machines without a GPU).

use crate::hops::HopOp;
use crate::types::ops::{AggDir, AggOp, BinOp, UnOp};
use crate::types::value::Value;
use std::sync::atomic::{AtomicU64, Ordering};

#[cfg(feature = "gpu")]
mod wgpu;

/// Whether and how operators may run on a GPU.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum GpuMode {
    /// `--no-gpu` (the default): everything runs on the CPU.
    #[default]
    Off,
    /// `--gpu`: operators run on a hardware GPU where the planner's estimate says it pays.
    Auto,
    /// `--gpu force`: every supported operator runs on the device, a software adapter included.
    Force,
}

/// Whether this build has a GPU backend compiled in.
pub fn compiled() -> bool {
    cfg!(feature = "gpu")
}

/// What the device is, for the notice `--gpu` prints and for tests.
#[derive(Clone, Debug)]
pub struct DeviceInfo {
    pub name: String,
    /// The graphics API under wgpu (Vulkan, Metal, DX12).
    pub api: String,
    /// A CPU implementation (lavapipe, WARP): used only under `--gpu force`.
    pub software: bool,
    /// The largest matrix one buffer holds, in bytes.
    pub max_buffer_bytes: u64,
    /// Device memory the residency cache may fill before it evicts.
    pub budget_bytes: u64,
}

/// Opens the device for `mode` (once per process) and describes it, or says why no device can
/// be used: no GPU support compiled in, no adapter with f64 shaders, or only a software adapter
/// under [`GpuMode::Auto`].
pub fn probe(mode: GpuMode) -> Result<DeviceInfo, String> {
    if mode == GpuMode::Off {
        return Err("the GPU is off (--no-gpu)".into());
    }
    #[cfg(feature = "gpu")]
    {
        let info = wgpu::device()?.info();
        if info.software && mode == GpuMode::Auto {
            return Err(format!(
                "the only adapter is `{}`, a software implementation on the CPU; `--gpu force` uses it",
                info.name
            ));
        }
        Ok(info)
    }
    #[cfg(not(feature = "gpu"))]
    {
        Err("this build was not compiled with GPU support (build with `--features gpu`)".into())
    }
}

/// Whether `probe(mode)` finds a usable device.
pub fn usable(mode: GpuMode) -> bool {
    mode != GpuMode::Off && probe(mode).is_ok()
}

/// Binary operators with a device kernel (same semantics as `BinOp::apply`).
pub fn supports_binary(op: BinOp) -> bool {
    use BinOp::*;
    matches!(op, Add | Sub | Mul | Div | Pow | Log | Min | Max | Lt | Le | Gt | Ge | Eq | Ne | And | Or | Xor)
}

/// Unary operators with a device kernel. Vulkan's extended instructions have no f64 forms of
/// the transcendentals; exp, log, sigmoid and tanh are written in WGSL (the trigonometric
/// functions are not yet).
pub fn supports_unary(op: UnOp) -> bool {
    use UnOp::*;
    matches!(
        op,
        Neg | Not
            | Abs
            | Sign
            | Sqrt
            | Exp
            | Log
            | Sigmoid
            | Tanh
            | Floor
            | Ceil
            | Relu
            | IsNaN
            | IsNa
            | IsInf
    )
}

/// Aggregates with a device kernel, in every direction.
pub fn supports_aggregate(op: AggOp, _dir: AggDir) -> bool {
    matches!(op, AggOp::Sum | AggOp::SumSq | AggOp::Mean | AggOp::Min | AggOp::Max)
}

/// Builtins with a device kernel: the fused transposed product and the fused operators of the
/// DNN layers and optimizers that are cellwise.
pub fn supports_builtin(id: crate::builtins::BuiltinId) -> bool {
    use crate::builtins::ids::*;
    [
        MATMUL_T,
        AXPBY,
        RELU_BACKWARD,
        BIAS_ADD,
        BIAS_MULTIPLY,
        CONV2D,
        CONV2D_BIAS_ADD,
        CONV2D_BACKWARD_FILTER,
        CONV2D_BACKWARD_DATA,
        MAX_POOL,
        RELU_MAX_POOL,
        AVG_POOL,
        MAX_POOL_BACKWARD,
        RELU_MAX_POOL_BACKWARD,
        AVG_POOL_BACKWARD,
    ]
    .contains(&id)
}

/// Whether the operator has a device kernel (for matrix inputs; the executor still falls back
/// to the CPU for a case the kernel does not take, such as an empty matrix).
pub fn supports(op: &HopOp) -> bool {
    match op {
        HopOp::MatMul | HopOp::Tsmm { .. } | HopOp::Ternary => true,
        HopOp::Binary(b) => supports_binary(*b),
        HopOp::Unary(u) => supports_unary(*u),
        HopOp::AggUnary(a, d) => supports_aggregate(*a, *d),
        HopOp::Builtin { id, nout } => *nout <= 1 && supports_builtin(*id),
        _ => false,
    }
}

/// Runs `op` on the device with these argument values; `None` when the device does not take
/// this case (no device, a value that is not a matrix or number, an empty matrix, a buffer over
/// the device's limit), and the caller runs the CPU kernel instead.
pub fn execute(op: &HopOp, args: &[Value]) -> Option<Result<Value, String>> {
    #[cfg(feature = "gpu")]
    {
        wgpu::execute(op, args)
    }
    #[cfg(not(feature = "gpu"))]
    {
        let _ = (op, args);
        None
    }
}

/// `conv2d` (`has_bias`: `_conv2d_bias_add`) on the device, with the convolution's shape read
/// by the executor (the runtime owns the argument parsing); `None` as for [`execute`].
pub fn execute_conv(
    args: &[Value],
    shape: &crate::kernels::dnn::ConvShape,
    has_bias: bool,
) -> Option<Result<Value, String>> {
    #[cfg(feature = "gpu")]
    {
        wgpu::conv2d(args, shape, has_bias)
    }
    #[cfg(not(feature = "gpu"))]
    {
        let _ = (args, shape, has_bias);
        None
    }
}

/// The geometry of a DNN builtin, read by the executor from its shape arguments.
pub enum DnnShape<'a> {
    Conv(&'a crate::kernels::dnn::ConvShape),
    Pool(&'a crate::kernels::dnn::PoolShape),
}

/// The DNN builtins past the forward convolution (pools and their gradients, the convolution's
/// gradients) on the device; `None` as for [`execute`].
pub fn execute_dnn(
    id: crate::builtins::BuiltinId,
    args: &[Value],
    shape: DnnShape,
) -> Option<Result<Value, String>> {
    #[cfg(feature = "gpu")]
    {
        use crate::builtins::ids::*;
        use wgpu::Pool;
        match shape {
            DnnShape::Conv(s) if id == CONV2D_BACKWARD_FILTER => wgpu::conv2d_backward(args, s, false),
            DnnShape::Conv(s) if id == CONV2D_BACKWARD_DATA => wgpu::conv2d_backward(args, s, true),
            DnnShape::Pool(s) => {
                let (kind, backward) = match id {
                    i if i == MAX_POOL => (Pool::Max, false),
                    i if i == RELU_MAX_POOL => (Pool::ReluMax, false),
                    i if i == AVG_POOL => (Pool::Avg, false),
                    i if i == MAX_POOL_BACKWARD => (Pool::Max, true),
                    i if i == RELU_MAX_POOL_BACKWARD => (Pool::ReluMax, true),
                    i if i == AVG_POOL_BACKWARD => (Pool::Avg, true),
                    _ => return None,
                };
                wgpu::pool(args, s, kind, backward)
            }
            _ => None,
        }
    }
    #[cfg(not(feature = "gpu"))]
    {
        let _ = (id, args, shape);
        None
    }
}

/// Device activity since the process started, for `--stats`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Operators run on the device.
    pub kernels: u64,
    /// Wall time from submission to the result back on the host, in nanoseconds.
    pub device_ns: u64,
    pub uploads: u64,
    pub upload_bytes: u64,
    pub downloads: u64,
    pub download_bytes: u64,
    /// Device copies dropped to stay within the device memory budget (the host copy stays).
    pub evictions: u64,
    /// Inputs found already on the device.
    pub resident_hits: u64,
}

impl Counters {
    pub fn since(self, start: Counters) -> Counters {
        Counters {
            kernels: self.kernels - start.kernels,
            device_ns: self.device_ns - start.device_ns,
            uploads: self.uploads - start.uploads,
            upload_bytes: self.upload_bytes - start.upload_bytes,
            downloads: self.downloads - start.downloads,
            download_bytes: self.download_bytes - start.download_bytes,
            evictions: self.evictions - start.evictions,
            resident_hits: self.resident_hits - start.resident_hits,
        }
    }

    /// The `--stats` line; empty when nothing ran on the device.
    pub fn report(&self) -> String {
        if self.kernels == 0 {
            return String::new();
        }
        format!(
            "GPU:\t\t\t{} operators, {:.3} sec. on the device; uploads {} ({}), downloads {} ({}), resident hits {}, evictions {}\n",
            self.kernels,
            self.device_ns as f64 * 1e-9,
            self.uploads,
            crate::hops::explain::format_bytes(self.upload_bytes as f64),
            self.downloads,
            crate::hops::explain::format_bytes(self.download_bytes as f64),
            self.resident_hits,
            self.evictions
        )
    }
}

static KERNELS: AtomicU64 = AtomicU64::new(0);
static DEVICE_NS: AtomicU64 = AtomicU64::new(0);
static UPLOADS: AtomicU64 = AtomicU64::new(0);
static UPLOAD_BYTES: AtomicU64 = AtomicU64::new(0);
static DOWNLOADS: AtomicU64 = AtomicU64::new(0);
static DOWNLOAD_BYTES: AtomicU64 = AtomicU64::new(0);
static EVICTIONS: AtomicU64 = AtomicU64::new(0);
static RESIDENT_HITS: AtomicU64 = AtomicU64::new(0);

/// The counters now.
pub fn counters() -> Counters {
    let r = |a: &AtomicU64| a.load(Ordering::Relaxed);
    Counters {
        kernels: r(&KERNELS),
        device_ns: r(&DEVICE_NS),
        uploads: r(&UPLOADS),
        upload_bytes: r(&UPLOAD_BYTES),
        downloads: r(&DOWNLOADS),
        download_bytes: r(&DOWNLOAD_BYTES),
        evictions: r(&EVICTIONS),
        resident_hits: r(&RESIDENT_HITS),
    }
}

#[cfg_attr(not(feature = "gpu"), allow(dead_code))]
pub(crate) mod count {
    use super::*;
    pub fn kernel(ns: u64) {
        KERNELS.fetch_add(1, Ordering::Relaxed);
        DEVICE_NS.fetch_add(ns, Ordering::Relaxed);
    }
    pub fn upload(bytes: u64) {
        UPLOADS.fetch_add(1, Ordering::Relaxed);
        UPLOAD_BYTES.fetch_add(bytes, Ordering::Relaxed);
    }
    pub fn download(bytes: u64) {
        DOWNLOADS.fetch_add(1, Ordering::Relaxed);
        DOWNLOAD_BYTES.fetch_add(bytes, Ordering::Relaxed);
    }
    pub fn eviction() {
        EVICTIONS.fetch_add(1, Ordering::Relaxed);
    }
    pub fn resident_hit() {
        RESIDENT_HITS.fetch_add(1, Ordering::Relaxed);
    }
}
