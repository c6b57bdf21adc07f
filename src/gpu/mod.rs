//! The GPU backend: which operators can run on a device, the device itself, and the counters
//! `--stats` prints.
//!
//! This module exists in every build (candle's pattern): the planner and the executor name it
//! without `cfg`. Two backends sit behind one private `Device` enum, so neither the planner nor
//! the executor knows which one runs: with the `cuda` feature an NVIDIA GPU through cudarc
//! ([`cuda`] submodule: cuBLAS products, NVRTC-compiled kernels), used whenever a driver and a
//! device are present; with the `gpu` feature a wgpu adapter with f64 compute shaders ([`wgpu`]
//! submodule: device, WGSL kernels, operators), used otherwise. Both keep device copies in the
//! shared residency cache (`residency`). Without either [`probe`] answers that the build has no
//! GPU support and [`execute`] never runs anything. `DML_GPU_BACKEND=cuda|wgpu` (or
//! [`set_backend`]) pins one backend.
//!
//! A device is used under two modes: [`GpuMode::Auto`] (`--gpu`: an operator goes to the device
//! when the planner's estimate says it pays, and only on a hardware adapter) and
//! [`GpuMode::Force`] (`--gpu force`: every supported operator, a software adapter such as
//! lavapipe included, which is how the backend is tested on machines without a GPU).

use crate::hops::HopOp;
use crate::types::ops::{AggDir, AggOp, BinOp, UnOp};
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

#[cfg(feature = "cuda")]
mod cuda;
/// Without the `cuda` feature (CI's test run) the CUDA C sources are still generated and run as
/// host C++ against the CPU kernels (`cuda/host_check.rs`): both files are plain Rust.
#[cfg(all(test, not(feature = "cuda")))]
#[allow(dead_code)] // the launches that use the rest of the sources need cudarc
mod cuda {
    mod host_check;
    mod kernels;
}
#[cfg(any(feature = "gpu", feature = "cuda"))]
mod residency;
mod value;
#[cfg(feature = "gpu")]
mod wgpu;

pub use value::{DeviceMatrix, GpuValue};

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
    cfg!(any(feature = "gpu", feature = "cuda"))
}

/// The device backends a build may have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GpuBackend {
    /// NVIDIA GPUs through the CUDA driver, cuBLAS and NVRTC (feature `cuda`).
    Cuda,
    /// Vulkan, Metal or DX12 adapters through wgpu (feature `gpu`).
    Wgpu,
}

/// [`set_backend`]'s choice: 0 none (then `DML_GPU_BACKEND`), 1 CUDA, 2 wgpu, 3 automatic.
static BACKEND_CHOICE: AtomicU8 = AtomicU8::new(0);

/// Pins the backend for this process (`None`: the automatic choice, CUDA before wgpu), over
/// `DML_GPU_BACKEND`. A pinned backend that is missing is not replaced by the other one: the
/// device is then unavailable, with the pinned backend's reason.
pub fn set_backend(choice: Option<GpuBackend>) {
    let v = match choice {
        Some(GpuBackend::Cuda) => 1,
        Some(GpuBackend::Wgpu) => 2,
        None => 3,
    };
    BACKEND_CHOICE.store(v, Ordering::Relaxed);
}

/// The pinned backend, if any: [`set_backend`]'s, else `DML_GPU_BACKEND`'s (`cuda`, `wgpu`).
fn pinned_backend() -> Option<GpuBackend> {
    static FROM_ENV: std::sync::OnceLock<Option<GpuBackend>> = std::sync::OnceLock::new();
    match BACKEND_CHOICE.load(Ordering::Relaxed) {
        1 => Some(GpuBackend::Cuda),
        2 => Some(GpuBackend::Wgpu),
        3 => None,
        _ => *FROM_ENV.get_or_init(|| {
            match std::env::var("DML_GPU_BACKEND").ok()?.trim().to_ascii_lowercase().as_str() {
                "cuda" => Some(GpuBackend::Cuda),
                "wgpu" | "vulkan" => Some(GpuBackend::Wgpu),
                _ => None,
            }
        }),
    }
}

/// The opened device of one backend: what `probe`, `supports` and `execute` dispatch on.
#[derive(Clone, Copy)]
enum Device {
    #[cfg(feature = "cuda")]
    Cuda(&'static cuda::Cuda),
    #[cfg(feature = "gpu")]
    Wgpu,
}

/// The device `mode` may use: CUDA when compiled, present and not pinned away, else a wgpu
/// adapter (a software one only under [`GpuMode::Force`]); the error gives every backend's
/// reason.
fn select(mode: GpuMode) -> Result<Device, String> {
    select_with(mode, pinned_backend())
}

/// [`select`] with `pinned` in place of the process's pinned backend.
fn select_with(mode: GpuMode, pinned: Option<GpuBackend>) -> Result<Device, String> {
    if mode == GpuMode::Off {
        return Err("the GPU is off (--no-gpu)".into());
    }
    let mut why: Vec<String> = Vec::new();
    #[cfg(feature = "cuda")]
    if pinned != Some(GpuBackend::Wgpu) {
        match cuda::device() {
            Ok(d) => return Ok(Device::Cuda(d)),
            Err(e) => why.push(e),
        }
    }
    #[cfg(feature = "gpu")]
    if pinned != Some(GpuBackend::Cuda) {
        match wgpu::device() {
            Ok(d) if d.info().software && mode == GpuMode::Auto => why.push(format!(
                "the only adapter is `{}`, a software implementation on the CPU; `--gpu force` uses it",
                d.info().name
            )),
            Ok(_) => return Ok(Device::Wgpu),
            Err(e) => why.push(e),
        }
    }
    if why.is_empty() {
        why.push(match pinned {
            Some(GpuBackend::Cuda) if compiled() => {
                "this build has no CUDA backend (build with `--features cuda`)".into()
            }
            Some(GpuBackend::Wgpu) if compiled() => {
                "this build has no wgpu backend (build with `--features gpu`)".into()
            }
            _ => {
                "this build was not compiled with GPU support (build with `--features gpu` or `cuda`)".into()
            }
        });
    }
    Err(why.join("; "))
}

impl Device {
    fn info(self) -> DeviceInfo {
        match self {
            #[cfg(feature = "cuda")]
            Device::Cuda(d) => d.info(),
            #[cfg(feature = "gpu")]
            Device::Wgpu => wgpu::device().map(|d| d.info()).expect("selected, so open"),
        }
    }
}

/// Why a preferred backend was passed over for the one `probe(mode)` found (CUDA compiled but
/// no driver, so wgpu runs), for the note `--gpu` prints; `None` when nothing was passed over.
pub fn fallback_note(mode: GpuMode) -> Option<String> {
    #[cfg(all(feature = "cuda", feature = "gpu"))]
    if pinned_backend().is_none() && matches!(select(mode), Ok(Device::Wgpu)) {
        return cuda::device().err();
    }
    let _ = mode;
    None
}

/// The device's sustained rates as the planner's cost model uses them: CUDA's from its compute
/// capability and clocks; a wgpu adapter's measured once (a short product and a buffer copy),
/// as wgpu reports neither.
#[derive(Clone, Copy, Debug)]
pub struct Rates {
    /// f64 rate of a matrix product, flop/s.
    pub gemm_flops: f64,
    /// Device memory bandwidth, bytes/s.
    pub bytes_per_sec: f64,
}

/// [`Rates`] of the device `mode` uses; `None` without a device or when the measurement failed.
pub fn rates(mode: GpuMode) -> Option<Rates> {
    match select(mode).ok()? {
        #[cfg(feature = "cuda")]
        // Sustained: cuBLAS reaches about 80% of the f64 peak on large products, and
        // streaming kernels about 80% of the memory bandwidth.
        Device::Cuda(d) => {
            Some(Rates { gemm_flops: 0.8 * d.rates.gemm_flops, bytes_per_sec: 0.8 * d.rates.bytes_per_sec })
        }
        #[cfg(feature = "gpu")]
        Device::Wgpu => wgpu::measured_rates().ok(),
    }
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
    select(mode).map(Device::info)
}

/// [`probe`] for one backend, whatever the process pinned: the device `backend` would give
/// `mode`, or why there is none (for tests and the bench, which name their backend).
pub fn probe_backend(backend: GpuBackend, mode: GpuMode) -> Result<DeviceInfo, String> {
    select_with(mode, Some(backend)).map(Device::info)
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
/// the transcendentals; exp, log, sigmoid, tanh, sin, cos and tan are written in WGSL.
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
            | Sin
            | Cos
            | Tan
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

/// Builtins with a device kernel: the fused transposed product, the fused operators of the
/// DNN layers and optimizers that are cellwise, convolutions and pools, and the batch-norm and
/// LSTM builtins (several outputs each, [`builtin_outputs`]).
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
        BATCH_NORM2D,
        BATCH_NORM2D_BACKWARD,
        LSTM,
        LSTM_BACKWARD,
    ]
    .contains(&id)
}

/// The outputs a device builtin gives: more than one for the DNN layers' builtins.
fn builtin_outputs(id: crate::builtins::BuiltinId) -> u8 {
    use crate::builtins::ids::*;
    match id {
        i if i == BATCH_NORM2D || i == LSTM || i == LSTM_BACKWARD => 5,
        i if i == BATCH_NORM2D_BACKWARD => 3,
        _ => 1,
    }
}

/// Whether the operator has a device kernel (for matrix inputs; the executor still falls back
/// to the CPU for a case the kernel does not take, such as an empty matrix). Both devices have
/// the builtins and aggregates above; the cellwise lists are wgpu's, and the CUDA device, when
/// it is the one in use, has its own.
pub fn supports(op: &HopOp) -> bool {
    #[cfg(feature = "cuda")]
    if let Ok(Device::Cuda(_)) = select(GpuMode::Force) {
        return cuda::supports(op);
    }
    match op {
        HopOp::MatMul | HopOp::Tsmm { .. } | HopOp::Ternary => true,
        HopOp::Binary(b) => supports_binary(*b),
        HopOp::Unary(u) => supports_unary(*u),
        HopOp::AggUnary(a, d) => supports_aggregate(*a, *d),
        HopOp::Builtin { id, nout } => *nout <= builtin_outputs(*id) && supports_builtin(*id),
        _ => false,
    }
}

/// Runs `op` on the device with these arguments; `None` when the device does not take this
/// case (no device, a value that is not a matrix or number, an empty matrix, a buffer over the
/// device's limit), and the caller runs the CPU kernel instead. Matrix results stay on the
/// device ([`GpuValue::Device`]); scalar results come back to the host. One value per output.
pub fn execute(op: &HopOp, args: &[GpuValue]) -> Option<Result<Vec<GpuValue>, String>> {
    let _ = (op, args);
    match select(GpuMode::Force).ok()? {
        #[cfg(feature = "cuda")]
        Device::Cuda(d) => cuda::execute(d, op, args),
        #[cfg(feature = "gpu")]
        Device::Wgpu => wgpu::execute(op, args),
    }
}

/// `conv2d` (`has_bias`: `_conv2d_bias_add`) on the device, with the convolution's shape read
/// by the executor (the runtime owns the argument parsing); `None` as for [`execute`].
pub fn execute_conv(
    args: &[GpuValue],
    shape: &crate::kernels::dnn::ConvShape,
    has_bias: bool,
) -> Option<Result<GpuValue, String>> {
    let _ = (args, shape, has_bias);
    match select(GpuMode::Force).ok()? {
        #[cfg(feature = "cuda")]
        Device::Cuda(d) => cuda::conv2d(d, args, shape, has_bias),
        #[cfg(feature = "gpu")]
        Device::Wgpu => wgpu::conv2d(args, shape, has_bias),
    }
}

/// Bytes, or with a K/M/G suffix (as `DML_MEMORY_BUDGET`): `DML_GPU_MEMORY_BUDGET`.
#[cfg_attr(not(any(feature = "gpu", feature = "cuda")), allow(dead_code))]
fn parse_bytes(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, shift) = match s.chars().last()? {
        'k' | 'K' => (&s[..s.len() - 1], 10),
        'm' | 'M' => (&s[..s.len() - 1], 20),
        'g' | 'G' => (&s[..s.len() - 1], 30),
        _ => (s, 0),
    };
    num.trim().parse::<f64>().ok().filter(|v| *v > 0.0).map(|v| (v * (1u64 << shift) as f64) as u64)
}

/// What `dml gpu-bench` measured: an `n x n` f64 product on device-resident inputs.
#[derive(Clone, Debug)]
pub struct MatmulBench {
    pub device: DeviceInfo,
    /// Seconds per product, transfers excluded.
    pub seconds: f64,
    /// `2 n^3 / seconds`.
    pub flops: f64,
    /// The device's f64 peak for a product (the tensor cores where they exist; CUDA only, wgpu
    /// cannot tell), flop/s.
    pub peak_flops: Option<f64>,
    /// The device's f64 peak of its FMA units alone (CUDA only), flop/s.
    pub peak_fma_flops: Option<f64>,
    /// Largest relative error of the first row's sampled cells against the CPU.
    pub max_rel_error: f64,
}

/// Times `reps` products of `n x n` f64 matrices on `backend` (after one warm-up).
pub fn bench_matmul(backend: GpuBackend, n: usize, reps: usize) -> Result<MatmulBench, String> {
    let (seconds, max_rel_error, device, peaks) = bench_on(backend, n, reps)?;
    Ok(MatmulBench {
        device,
        seconds,
        flops: 2.0 * (n as f64).powi(3) / seconds,
        peak_flops: peaks.map(|p| p.0),
        peak_fma_flops: peaks.map(|p| p.1),
        max_rel_error,
    })
}

/// Seconds per product, the check's error, the device and its (product, FMA) peaks.
type BenchRun = (f64, f64, DeviceInfo, Option<(f64, f64)>);

fn bench_on(backend: GpuBackend, n: usize, reps: usize) -> Result<BenchRun, String> {
    let _ = (n, reps);
    match backend {
        #[cfg(feature = "cuda")]
        GpuBackend::Cuda => {
            let d = cuda::device()?;
            let (s, e) = cuda::bench_matmul(d, n, reps)?;
            Ok((s, e, d.info(), Some((d.rates.gemm_flops, d.rates.fma_flops))))
        }
        #[cfg(feature = "gpu")]
        GpuBackend::Wgpu => {
            let (s, e) = wgpu::bench_matmul(n, reps)?;
            Ok((s, e, wgpu::device()?.info(), None))
        }
        #[allow(unreachable_patterns)]
        other => Err(format!("this build has no {other:?} backend")),
    }
}

/// The bench's deterministic pseudo-random `n x n` matrix, cells in [-1, 1).
#[cfg_attr(not(any(feature = "gpu", feature = "cuda")), allow(dead_code))]
fn bench_data(n: usize, seed: u64) -> Vec<f64> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n * n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f64 / (1u64 << 52) as f64 - 1.0
        })
        .collect()
}

/// The largest relative error (to max(1, |cell|)) of up to 64 cells of the product's first row
/// against the CPU's dot products.
#[cfg_attr(not(any(feature = "gpu", feature = "cuda")), allow(dead_code))]
fn bench_check(a: &[f64], b: &[f64], n: usize, first_row: &[f64]) -> f64 {
    let step = n.div_ceil(64).max(1);
    (0..n)
        .step_by(step)
        .map(|j| {
            let want: f64 = (0..n).map(|l| a[l] * b[l * n + j]).sum();
            (first_row[j] - want).abs() / want.abs().max(1.0)
        })
        .fold(0.0, f64::max)
}

/// The geometry of a DNN builtin, read by the executor from its shape arguments.
pub enum DnnShape<'a> {
    Conv(&'a crate::kernels::dnn::ConvShape),
    Pool(&'a crate::kernels::dnn::PoolShape),
}

/// What a pool kernel computes (its `mode`), on either backend (and in the CUDA kernels' host
/// check, which every build runs).
#[cfg_attr(not(any(feature = "gpu", feature = "cuda")), allow(dead_code))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pool {
    Max = 0,
    /// `max_pool(max(0, x))` (`_relu_max_pool`).
    ReluMax = 1,
    Avg = 2,
}

impl Pool {
    /// The pool a builtin computes, and whether it is the gradient; `None` for another builtin.
    #[cfg(any(feature = "gpu", feature = "cuda"))]
    pub(in crate::gpu) fn of(id: crate::builtins::BuiltinId) -> Option<(Pool, bool)> {
        use crate::builtins::ids::*;
        Some(match id {
            i if i == MAX_POOL => (Pool::Max, false),
            i if i == RELU_MAX_POOL => (Pool::ReluMax, false),
            i if i == AVG_POOL => (Pool::Avg, false),
            i if i == MAX_POOL_BACKWARD => (Pool::Max, true),
            i if i == RELU_MAX_POOL_BACKWARD => (Pool::ReluMax, true),
            i if i == AVG_POOL_BACKWARD => (Pool::Avg, true),
            _ => return None,
        })
    }
}

/// The DNN builtins past the forward convolution (pools and their gradients, the convolution's
/// gradients) on the device; `None` as for [`execute`].
pub fn execute_dnn(
    id: crate::builtins::BuiltinId,
    args: &[GpuValue],
    shape: DnnShape,
) -> Option<Result<GpuValue, String>> {
    #[cfg(feature = "cuda")]
    if let Ok(Device::Cuda(d)) = select(GpuMode::Force) {
        return cuda::dnn(d, id, args, shape);
    }
    #[cfg(feature = "gpu")]
    {
        use crate::builtins::ids::*;
        if !matches!(select(GpuMode::Force).ok()?, Device::Wgpu) {
            return None;
        }
        match shape {
            DnnShape::Conv(s) if id == CONV2D_BACKWARD_FILTER => wgpu::conv2d_backward(args, s, false),
            DnnShape::Conv(s) if id == CONV2D_BACKWARD_DATA => wgpu::conv2d_backward(args, s, true),
            DnnShape::Pool(s) => {
                let (kind, backward) = Pool::of(id)?;
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
    /// Wall time in device calls (launching operators, waiting for results to download), in
    /// nanoseconds.
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

#[cfg_attr(not(any(feature = "gpu", feature = "cuda")), allow(dead_code))]
pub(crate) mod count {
    use super::*;
    pub fn kernel(ns: u64) {
        KERNELS.fetch_add(1, Ordering::Relaxed);
        DEVICE_NS.fetch_add(ns, Ordering::Relaxed);
    }
    /// Time waiting for the device (a download waits for the work submitted before it).
    pub fn device_wait(ns: u64) {
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
