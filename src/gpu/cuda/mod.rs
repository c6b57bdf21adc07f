//! The CUDA device through cudarc, loaded at run time (`dynamic-loading`): the driver, cuBLAS
//! and NVRTC are found by file name when the device is first opened, so a build with the `cuda`
//! feature runs on a machine without them and says so ([`device`]'s error), never panics.
//!
//! One context, one stream, one cuBLAS handle; kernels compiled from CUDA C source by NVRTC at
//! their first use and cached by name ([`Cuda::function`]); device copies of host matrices kept
//! in the shared residency cache under a budget read from the device's free memory. Every
//! operator runs under one lock; its matrix results stay on the device (ordered on the one
//! stream) until a CPU reader downloads them, as the wgpu backend's do.

mod bench;
#[cfg(test)]
mod host_check;
mod kernels;
#[cfg(test)]
mod nvrtc_check;
mod ops;
mod ops_layers;
mod peak;

pub(super) use bench::matmul as bench_matmul;
pub(super) use ops::{conv2d, dnn, execute, supports};

use super::DeviceInfo;
use super::residency::{DeviceCopy, Residency};
use cudarc::cublas::CudaBlas;
use cudarc::driver::{CudaContext, CudaFunction, CudaSlice, CudaStream, LaunchConfig};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

/// A matrix on the device: row-major f64 cells.
pub(super) type DevBuf = Arc<CudaSlice<f64>>;

impl DeviceCopy for DevBuf {
    fn device_bytes(&self) -> u64 {
        self.num_bytes() as u64
    }
}

/// The opened device.
pub(super) struct Cuda {
    stream: Arc<CudaStream>,
    blas: CudaBlas,
    info: DeviceInfo,
    /// Sustained f64 rates for the planner and the bench ([`peak::Rates`]).
    pub(super) rates: peak::Rates,
    functions: Mutex<HashMap<String, CudaFunction>>,
    pub(in crate::gpu) resident: Mutex<Residency<DevBuf>>,
    /// Held for the whole of an operator: one operator on the device at a time (`parfor`
    /// workers may reach the device concurrently; the stream and the cache are shared).
    busy: Mutex<()>,
}

static CUDA: OnceLock<Result<Cuda, String>> = OnceLock::new();

/// The device, opened at the first call; the error says what is missing (no driver, no cuBLAS
/// or NVRTC library, no device) and is the same on every later call.
pub(super) fn device() -> Result<&'static Cuda, String> {
    CUDA.get_or_init(open).as_ref().map_err(Clone::clone)
}

/// Which of the libraries cudarc loads are missing, checked before anything that would panic
/// without them (cudarc's entry points panic when their library cannot be loaded).
fn missing_library() -> Option<String> {
    // SAFETY: these only try `dlopen` on the candidate file names and close what they opened.
    let (driver, blas, nvrtc) = unsafe {
        (
            cudarc::driver::sys::is_culib_present(),
            cudarc::cublas::sys::is_culib_present(),
            cudarc::nvrtc::sys::is_culib_present(),
        )
    };
    if !driver {
        return Some("no CUDA driver on this machine (libcuda not found)".into());
    }
    let missing: Vec<&str> =
        [(blas, "libcublas"), (nvrtc, "libnvrtc")].iter().filter(|(ok, _)| !ok).map(|(_, n)| *n).collect();
    (!missing.is_empty()).then(|| {
        format!(
            "the CUDA driver is installed but {} not found (the CUDA toolkit's runtime libraries, \
             version {} or compatible)",
            missing.join(" and "),
            CUDA_VERSION
        )
    })
}

/// The CUDA version whose library names this build looks for (cudarc's version feature).
const CUDA_VERSION: &str = "13";

fn open() -> Result<Cuda, String> {
    if let Some(why) = missing_library() {
        return Err(why);
    }
    // The libraries are there; cudarc still panics on some failures deep inside (a symbol
    // missing from an older library), which must not take the run down with it.
    match std::panic::catch_unwind(open_present) {
        Ok(r) => r,
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown failure".into());
            Err(format!("the CUDA libraries could not be used: {msg}"))
        }
    }
}

fn open_present() -> Result<Cuda, String> {
    let count = CudaContext::device_count().map_err(|e| format!("CUDA driver: {e}"))?;
    if count < 1 {
        return Err("the CUDA driver finds no NVIDIA GPU".into());
    }
    let ctx = CudaContext::new(0).map_err(|e| format!("cannot open CUDA device 0: {e}"))?;
    // SAFETY: one stream only, so allocations need no cross-stream events; every use of a
    // buffer is ordered on that stream.
    unsafe { ctx.disable_event_tracking() };
    let stream = ctx.default_stream();
    let blas = CudaBlas::new(stream.clone()).map_err(|e| format!("cannot open cuBLAS: {e}"))?;
    let name = ctx.name().map_err(|e| format!("CUDA device name: {e}"))?;
    let (major, minor) = ctx.compute_capability().map_err(|e| format!("CUDA device: {e}"))?;
    let (free, total) = ctx.mem_get_info().map_err(|e| format!("CUDA memory info: {e}"))?;
    let rates = peak::Rates::of(&ctx, (major, minor));
    let mut driver = 0i32;
    // SAFETY: writes one int.
    unsafe { cudarc::driver::sys::cuDriverGetVersion(&mut driver) };
    // The budget: what `DML_GPU_MEMORY_BUDGET` says, or 80% of the memory free at the start
    // (cuBLAS workspaces and the kernels' own allocations need the rest).
    let budget_bytes = std::env::var("DML_GPU_MEMORY_BUDGET")
        .ok()
        .and_then(|v| super::parse_bytes(&v))
        .unwrap_or(free as u64 / 10 * 8);
    let info = DeviceInfo {
        name,
        api: format!(
            "CUDA {}.{} (compute capability {major}.{minor}, {} SMs)",
            driver / 1000,
            driver % 1000 / 10,
            rates.sms
        ),
        software: false,
        max_buffer_bytes: total as u64,
        budget_bytes,
    };
    Ok(Cuda {
        stream,
        blas,
        info,
        rates,
        functions: Mutex::default(),
        resident: Mutex::new(Residency::new(budget_bytes)),
        busy: Mutex::new(()),
    })
}

/// Blocks of `threads` for a grid-stride loop over `n` cells (enough to fill the device; the
/// loop covers the rest).
pub(super) fn grid(n: usize, threads: u32) -> LaunchConfig {
    let blocks = n.div_ceil(threads as usize).clamp(1, 1 << 20) as u32;
    LaunchConfig { grid_dim: (blocks, 1, 1), block_dim: (threads, 1, 1), shared_mem_bytes: 0 }
}

impl Cuda {
    pub(super) fn info(&self) -> DeviceInfo {
        self.info.clone()
    }

    /// One operator at a time on the device.
    fn lock(&self) -> Result<MutexGuard<'_, ()>, String> {
        self.busy.lock().map_err(|_| "CUDA device lock poisoned".to_string())
    }

    /// The kernel `name` (the entry point of `source()`), compiled by NVRTC at its first use.
    /// No FMA contraction: the kernels round as the CPU's loops do.
    fn function(&self, name: &str, source: impl FnOnce() -> String) -> Result<CudaFunction, String> {
        let mut cache = self.functions.lock().map_err(|_| "CUDA kernel cache poisoned".to_string())?;
        if let Some(f) = cache.get(name) {
            return Ok(f.clone());
        }
        let opts = cudarc::nvrtc::CompileOptions {
            fmad: Some(false),
            name: Some(format!("{name}.cu")),
            ..Default::default()
        };
        let ptx = cudarc::nvrtc::compile_ptx_with_opts(source(), opts)
            .map_err(|e| format!("internal error: CUDA kernel `{name}` does not compile: {e}"))?;
        let module = self
            .stream
            .context()
            .load_module(ptx)
            .map_err(|e| format!("internal error: CUDA kernel `{name}` does not load: {e}"))?;
        let f = module.load_function(name).map_err(|e| format!("CUDA kernel `{name}`: {e}"))?;
        cache.insert(name.to_string(), f.clone());
        Ok(f)
    }

    /// `cells` uninitialised f64 cells on the device; when the device is out of memory the
    /// resident copies are dropped (their host copies stay) and the allocation is tried again.
    fn alloc(&self, cells: usize) -> Result<CudaSlice<f64>, String> {
        // SAFETY: every kernel writes each cell of its output before it is read.
        match unsafe { self.stream.alloc::<f64>(cells) } {
            Ok(s) => Ok(s),
            Err(_) => {
                if let Ok(mut r) = self.resident.lock() {
                    r.evict_all();
                }
                // SAFETY: as above.
                unsafe { self.stream.alloc::<f64>(cells) }
                    .map_err(|e| format!("CUDA: cannot allocate {} on the device: {e}", bytes_text(cells)))
            }
        }
    }

    /// A new device copy of `data`.
    fn upload(&self, data: &[f64]) -> Result<CudaSlice<f64>, String> {
        let mut buf = self.alloc(data.len())?;
        self.stream.memcpy_htod(data, &mut buf).map_err(|e| format!("CUDA upload: {e}"))?;
        super::count::upload(std::mem::size_of_val(data) as u64);
        Ok(buf)
    }

    /// Waits for the stream and brings `buf`'s first `cells` cells back to the host.
    fn download(&self, buf: &CudaSlice<f64>, cells: usize) -> Result<Vec<f64>, String> {
        let mut out = vec![0.0f64; cells];
        self.stream
            .memcpy_dtoh(&buf.slice(..cells), &mut out)
            .and_then(|_| self.stream.synchronize())
            .map_err(|e| format!("CUDA: a kernel failed or its result cannot be read: {e}"))?;
        super::count::download((cells * 8) as u64);
        Ok(out)
    }
}

impl Cuda {
    /// [`Cuda::download`] of a device matrix's cells for the executor, under the device lock.
    pub(in crate::gpu) fn download_resident(
        &self,
        buf: &CudaSlice<f64>,
        cells: usize,
    ) -> Result<Vec<f64>, String> {
        let _busy = self.lock()?;
        let start = std::time::Instant::now();
        let data = self.download(buf, cells);
        super::count::device_wait(start.elapsed().as_nanos() as u64);
        data
    }

    /// [`Cuda::download`] for an eviction, which may run inside an operator that holds the
    /// device lock (the stream orders the copy after the kernels that wrote `buf`).
    pub(in crate::gpu) fn download_unlocked(
        &self,
        buf: &CudaSlice<f64>,
        cells: usize,
    ) -> Result<Vec<f64>, String> {
        self.download(buf, cells)
    }
}

fn bytes_text(cells: usize) -> String {
    crate::hops::explain::format_bytes(cells as f64 * 8.0)
}
