//! The wgpu device: adapter choice (f64 shaders required; hardware before software), compiled
//! pipelines cached by kernel name, and one helper that runs a kernel and brings its result back.
//!
//! Kernels are submitted without waiting: the queue runs submissions in order, so an operator
//! reading an earlier one's output buffer sees it complete; only a download waits, for the work
//! submitted before it.

mod bench;
mod kernels;
mod ops;
mod ops_batch_norm;
mod ops_lstm;
mod residency;

pub(super) use bench::{matmul as bench_matmul, measured_rates};
pub(super) use ops::{conv2d, conv2d_backward, execute, pool};

use super::DeviceInfo;
use residency::Residency;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;
use wgpu::util::DeviceExt;

/// Device memory the residency cache may fill when `DML_GPU_MEMORY_BUDGET` does not say:
/// wgpu does not report an adapter's memory size.
const DEFAULT_BUDGET_BYTES: u64 = 2 << 30;

/// The opened device.
pub(super) struct Gpu {
    device: wgpu::Device,
    queue: wgpu::Queue,
    info: DeviceInfo,
    pipelines: Mutex<HashMap<String, Arc<wgpu::ComputePipeline>>>,
    pub(super) resident: Mutex<Residency>,
}

static GPU: OnceLock<Result<Gpu, String>> = OnceLock::new();

/// The device, opened at the first call.
pub(super) fn device() -> Result<&'static Gpu, String> {
    GPU.get_or_init(open).as_ref().map_err(Clone::clone)
}

fn rank(t: wgpu::DeviceType) -> u8 {
    match t {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Other => 3,
        wgpu::DeviceType::Cpu => 4,
    }
}

/// Runs `f` with the process's stderr pointed at /dev/null. Mesa's Vulkan drivers print
/// "XDG_RUNTIME_DIR is invalid" (a window-system probe) on headless machines while wgpu
/// enumerates adapters; wgpu's own errors come back as values, so nothing of ours is lost.
#[cfg(unix)]
fn quiet_stderr<T>(f: impl FnOnce() -> T) -> T {
    // SAFETY: plain descriptor calls; the saved descriptor is restored and closed before return.
    unsafe {
        let saved = libc::dup(2);
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_WRONLY);
        if saved < 0 || null < 0 {
            return f();
        }
        libc::dup2(null, 2);
        libc::close(null);
        let out = f();
        libc::dup2(saved, 2);
        libc::close(saved);
        out
    }
}

#[cfg(not(unix))]
fn quiet_stderr<T>(f: impl FnOnce() -> T) -> T {
    f()
}

fn open() -> Result<Gpu, String> {
    quiet_stderr(open_loud)
}

fn open_loud() -> Result<Gpu, String> {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends = desc_backends();
    let instance = wgpu::Instance::new(desc);
    let adapters = pollster::block_on(instance.enumerate_adapters(desc_backends()));
    if adapters.is_empty() {
        return Err("no GPU adapter found (no Vulkan, Metal or DX12 driver; on Debian, \
                    `apt-get install mesa-vulkan-drivers` gives a software one for testing)"
            .into());
    }
    let names: Vec<String> = adapters.iter().map(|a| a.get_info().name).collect();
    let Some(adapter) = adapters
        .into_iter()
        .filter(|a| a.features().contains(wgpu::Features::SHADER_F64))
        .min_by_key(|a| rank(a.get_info().device_type))
    else {
        return Err(format!(
            "no GPU adapter supports f64 shaders, which DML's doubles need (found: {})",
            names.join(", ")
        ));
    };
    let ainfo = adapter.get_info();
    let limits = adapter.limits();
    let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
        label: Some("dml"),
        required_features: wgpu::Features::SHADER_F64,
        required_limits: limits.clone(),
        ..Default::default()
    }))
    .map_err(|e| format!("cannot open GPU `{}`: {e}", ainfo.name))?;
    let max_buffer_bytes = limits.max_storage_buffer_binding_size.min(limits.max_buffer_size);
    let budget_bytes = std::env::var("DML_GPU_MEMORY_BUDGET")
        .ok()
        .and_then(|v| super::parse_bytes(&v))
        .unwrap_or(DEFAULT_BUDGET_BYTES);
    let info = DeviceInfo {
        name: ainfo.name.clone(),
        api: format!("{:?}", ainfo.backend),
        software: ainfo.device_type == wgpu::DeviceType::Cpu,
        max_buffer_bytes,
        budget_bytes,
    };
    Ok(Gpu {
        device,
        queue,
        info,
        pipelines: Mutex::default(),
        resident: Mutex::new(Residency::new(budget_bytes)),
    })
}

fn desc_backends() -> wgpu::Backends {
    wgpu::Backends::VULKAN | wgpu::Backends::METAL | wgpu::Backends::DX12
}

/// One kernel launch of [`Gpu::run`].
pub(super) struct Pass<'a> {
    /// A kernel compiled by [`Gpu::compile`].
    pub kernel: &'a str,
    pub buffers: &'a [&'a wgpu::Buffer],
    pub params: &'a [u32],
    pub groups: (u32, u32),
}

/// A matrix on the device: a buffer of row-major f64 cells.
pub(super) struct DevMatrix {
    pub buf: Arc<wgpu::Buffer>,
    pub rows: usize,
    pub cols: usize,
}

/// Workgroups in x and y for `groups` one-dimensional workgroups (each dimension is limited to
/// 65535; kernels rebuild the linear index from `num_workgroups`).
pub(super) fn grid(groups: usize) -> (u32, u32) {
    const MAX: usize = 65535;
    if groups <= MAX { (groups.max(1) as u32, 1) } else { (MAX as u32, groups.div_ceil(MAX) as u32) }
}

impl Gpu {
    pub(super) fn info(&self) -> DeviceInfo {
        self.info.clone()
    }

    /// The pipeline of a kernel, compiled from `source()` at its first use.
    fn pipeline(
        &self,
        name: &str,
        source: impl FnOnce() -> String,
    ) -> Result<Arc<wgpu::ComputePipeline>, String> {
        let mut cache = self.pipelines.lock().map_err(|_| "GPU pipeline cache poisoned".to_string())?;
        if let Some(p) = cache.get(name) {
            return Ok(p.clone());
        }
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let module = self.device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(name),
            source: wgpu::ShaderSource::Wgsl(source().into()),
        });
        let pipeline = self.device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(name),
            layout: None,
            module: &module,
            entry_point: Some("main"),
            compilation_options: Default::default(),
            cache: None,
        });
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(format!("internal error: GPU kernel `{name}` does not compile: {e}"));
        }
        let p = Arc::new(pipeline);
        cache.insert(name.to_string(), p.clone());
        Ok(p)
    }

    /// A new device buffer holding `data`.
    pub(super) fn upload(&self, data: &[f64]) -> wgpu::Buffer {
        // SAFETY: any f64 is 8 plain bytes; the byte view lives only for this call.
        let bytes =
            unsafe { std::slice::from_raw_parts(data.as_ptr().cast::<u8>(), std::mem::size_of_val(data)) };
        super::count::upload(bytes.len() as u64);
        self.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: None,
            contents: bytes,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
        })
    }

    /// An uninitialised device buffer of `cells` f64 cells for a kernel's output.
    pub(super) fn output(&self, cells: usize) -> wgpu::Buffer {
        self.device.create_buffer(&wgpu::BufferDescriptor {
            label: None,
            size: (cells * 8) as u64,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        })
    }

    /// Runs `passes` one after the other in one submission, then brings `out`'s first `cells`
    /// cells back to the host.
    pub(super) fn run(&self, passes: &[Pass], out: &wgpu::Buffer, cells: usize) -> Result<Vec<f64>, String> {
        self.submit(passes)?;
        self.download(out, cells)
    }

    /// Submits `passes`, one after the other, without waiting for them: their outputs stay on
    /// the device for the next operator (the queue runs submissions in order) or a download.
    /// Each pass binds its buffers at 0.. in order and its parameters as a uniform at the next
    /// binding.
    pub(super) fn submit(&self, passes: &[Pass]) -> Result<(), String> {
        let start = Instant::now();
        let mut encoder = self.device.create_command_encoder(&Default::default());
        let mut keep = Vec::new();
        for &Pass { kernel, buffers, params, groups } in passes {
            let pipeline = self.pipeline_ready(kernel)?;
            let mut padded = params.to_vec();
            padded.resize(params.len().div_ceil(4).max(1) * 4, 0);
            // SAFETY: u32s are plain bytes.
            let pbytes =
                unsafe { std::slice::from_raw_parts(padded.as_ptr().cast::<u8>(), padded.len() * 4) };
            let ubuf = self.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: None,
                contents: pbytes,
                usage: wgpu::BufferUsages::UNIFORM,
            });
            let mut entries: Vec<wgpu::BindGroupEntry> = buffers
                .iter()
                .enumerate()
                .map(|(i, b)| wgpu::BindGroupEntry { binding: i as u32, resource: b.as_entire_binding() })
                .collect();
            entries.push(wgpu::BindGroupEntry {
                binding: buffers.len() as u32,
                resource: ubuf.as_entire_binding(),
            });
            let bind = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: None,
                layout: &pipeline.get_bind_group_layout(0),
                entries: &entries,
            });
            {
                let mut pass = encoder.begin_compute_pass(&Default::default());
                pass.set_pipeline(&pipeline);
                pass.set_bind_group(0, &bind, &[]);
                pass.dispatch_workgroups(groups.0, groups.1, 1);
            }
            keep.push(ubuf);
        }
        self.queue.submit([encoder.finish()]);
        // Lets wgpu free what finished submissions no longer need, without waiting.
        let _ = self.device.poll(wgpu::PollType::Poll);
        super::count::kernel(start.elapsed().as_nanos() as u64);
        Ok(())
    }

    /// Brings `buf`'s first `cells` cells to the host, once the work submitted before is done.
    pub(super) fn download(&self, buf: &wgpu::Buffer, cells: usize) -> Result<Vec<f64>, String> {
        let start = Instant::now();
        let bytes = (cells * 8) as u64;
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: None,
            size: bytes,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut encoder = self.device.create_command_encoder(&Default::default());
        encoder.copy_buffer_to_buffer(buf, 0, &staging, 0, bytes);
        self.queue.submit([encoder.finish()]);
        let slice = staging.slice(..);
        let (tx, rx) = std::sync::mpsc::channel();
        slice.map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        self.device
            .poll(wgpu::PollType::Wait { submission_index: None, timeout: None })
            .map_err(|e| format!("GPU wait failed: {e}"))?;
        rx.recv()
            .map_err(|_| "GPU result was never mapped".to_string())?
            .map_err(|e| format!("GPU result cannot be read: {e}"))?;
        let mut result = vec![0.0f64; cells];
        {
            let view = slice.get_mapped_range().map_err(|e| format!("GPU result cannot be read: {e}"))?;
            // SAFETY: `result` has exactly `bytes` bytes and any byte pattern is a valid f64.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    view.as_ptr(),
                    result.as_mut_ptr().cast::<u8>(),
                    bytes as usize,
                );
            }
        }
        staging.unmap();
        super::count::download(bytes);
        super::count::device_wait(start.elapsed().as_nanos() as u64);
        Ok(result)
    }

    /// A cached pipeline (compiled earlier by [`Gpu::compile`]).
    fn pipeline_ready(&self, name: &str) -> Result<Arc<wgpu::ComputePipeline>, String> {
        self.pipelines
            .lock()
            .map_err(|_| "GPU pipeline cache poisoned".to_string())?
            .get(name)
            .cloned()
            .ok_or_else(|| format!("internal error: GPU kernel `{name}` was not compiled"))
    }

    /// Compiles kernel `name` from `source()` unless it is compiled already.
    pub(super) fn compile(&self, name: &str, source: impl FnOnce() -> String) -> Result<(), String> {
        self.pipeline(name, source).map(|_| ())
    }
}
