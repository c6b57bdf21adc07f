//! What device operators take and give: host values, or matrices that live on the device.
//!
//! A device operator's matrix result stays on the device as a [`DeviceMatrix`]: the executor
//! keeps it in its register and hands it to the next device operator as it is, so a chain of
//! device operators moves no data between host and device. Only a CPU operator (or a variable
//! write at the end of a block, a function call, a print) needs the cells on the host; it gets
//! them by [`DeviceMatrix::download`], which also records the buffer as the host matrix's
//! resident copy, so a later device operator reading that matrix does not upload it again.

use crate::types::matrix::Matrix;
use crate::types::value::Value;
use std::sync::{Arc, Mutex};

/// A matrix a device operator produced, not yet needed on the host. Cheap to clone: every clone
/// shares one [`Cell`], so the matrix is downloaded at most once however many registers and
/// variables hold it, and an eviction (which moves its cells to the host to free device memory
/// under the budget) is seen by all of them.
#[derive(Clone)]
pub struct DeviceMatrix {
    pub(in crate::gpu) rows: usize,
    pub(in crate::gpu) cols: usize,
    pub(in crate::gpu) cell: Arc<Cell>,
}

/// Where a [`DeviceMatrix`]'s cells are now.
pub(in crate::gpu) struct Cell {
    state: Mutex<Place>,
}

#[derive(Clone)]
#[cfg_attr(not(any(feature = "gpu", feature = "cuda")), allow(dead_code))]
pub(in crate::gpu) enum Place {
    /// Only on the device.
    Device(DeviceBuffer),
    /// On the host: downloaded for a CPU reader (its buffer then lives on as the host matrix's
    /// resident copy) or evicted.
    Host(Arc<Matrix>),
}

/// The buffer of a [`DeviceMatrix`], row-major f64 cells, of the backend that made it. Without a
/// GPU backend compiled in it has no variants, so no `DeviceMatrix` can exist.
#[derive(Clone)]
pub(in crate::gpu) enum DeviceBuffer {
    #[cfg(feature = "gpu")]
    Wgpu(Arc<::wgpu::Buffer>),
    #[cfg(feature = "cuda")]
    Cuda(crate::gpu::cuda::DevBuf),
}

impl std::fmt::Debug for DeviceMatrix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DeviceMatrix({}x{})", self.rows, self.cols)
    }
}

impl Cell {
    /// A cell holding `buf` on the device, tracked by no cache (for the caches' own tests).
    #[cfg(all(test, feature = "gpu"))]
    pub(in crate::gpu) fn on_device(buf: DeviceBuffer) -> Arc<Cell> {
        Arc::new(Cell { state: Mutex::new(Place::Device(buf)) })
    }

    /// Where the cells are now (a poisoned lock is read through: the place is always whole).
    pub(in crate::gpu) fn place(&self) -> Place {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Moves the cells to the host to free their device memory, unless another thread is using
    /// the cell right now (then nothing happens). True when the cells are now on the host.
    #[cfg_attr(not(any(feature = "gpu", feature = "cuda")), allow(dead_code))]
    pub(in crate::gpu) fn evict(&self, rows: usize, cols: usize) -> bool {
        let Ok(mut state) = self.state.try_lock() else { return false };
        let Place::Device(buf) = &*state else { return true };
        match raw_download(buf, rows * cols, true) {
            Ok(data) => {
                *state = Place::Host(Arc::new(Matrix::from_vec(rows, cols, data)));
                true
            }
            Err(_) => false,
        }
    }
}

/// The cells of `buf`, without touching the residency cache (whose lock an eviction holds).
/// `evicting`: called by an eviction, which may run inside a CUDA operator holding the device
/// lock, so the download must not take it again.
#[cfg(any(feature = "gpu", feature = "cuda"))]
#[cfg_attr(not(feature = "cuda"), allow(unused_variables))]
fn raw_download(buf: &DeviceBuffer, cells: usize, evicting: bool) -> Result<Vec<f64>, String> {
    match buf {
        #[cfg(feature = "gpu")]
        DeviceBuffer::Wgpu(b) => crate::gpu::wgpu::device()?.download(b, cells),
        #[cfg(feature = "cuda")]
        DeviceBuffer::Cuda(b) => {
            let gpu = crate::gpu::cuda::device()?;
            if evicting { gpu.download_unlocked(b, cells) } else { gpu.download_resident(b, cells) }
        }
    }
}

/// Without a GPU backend no device buffer exists.
#[cfg(not(any(feature = "gpu", feature = "cuda")))]
fn raw_download(buf: &DeviceBuffer, _cells: usize, _evicting: bool) -> Result<Vec<f64>, String> {
    match *buf {}
}

impl DeviceMatrix {
    /// A kernel's output, tracked by its backend's residency cache against the device budget
    /// (which may evict older device matrices to the host to make room).
    #[cfg(any(feature = "gpu", feature = "cuda"))]
    pub(in crate::gpu) fn new(rows: usize, cols: usize, copy: DeviceBuffer) -> DeviceMatrix {
        let cell = Arc::new(Cell { state: Mutex::new(Place::Device(copy.clone())) });
        let bytes = (rows * cols * 8) as u64;
        match copy {
            #[cfg(feature = "gpu")]
            DeviceBuffer::Wgpu(_) => {
                if let Ok(gpu) = crate::gpu::wgpu::device()
                    && let Ok(mut r) = gpu.resident.lock()
                {
                    r.track(&cell, rows, cols, bytes);
                }
            }
            #[cfg(feature = "cuda")]
            DeviceBuffer::Cuda(_) => {
                if let Ok(gpu) = crate::gpu::cuda::device()
                    && let Ok(mut r) = gpu.resident.lock()
                {
                    r.track(&cell, rows, cols, bytes);
                }
            }
        }
        DeviceMatrix { rows, cols, cell }
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Whether the cells are still only on the device (not downloaded or evicted).
    pub fn on_device(&self) -> bool {
        matches!(self.cell.place(), Place::Device(_))
    }

    /// The cells on the host, as a matrix whose device copy (this buffer) stays resident.
    /// Downloads once: later calls, from any clone, return the same host matrix.
    pub fn download(&self) -> Result<Arc<Matrix>, String> {
        match self.cell.place() {
            Place::Host(m) => Ok(m),
            Place::Device(buf) => self.download_from(buf),
        }
    }

    #[cfg(not(any(feature = "gpu", feature = "cuda")))]
    fn download_from(&self, buf: DeviceBuffer) -> Result<Arc<Matrix>, String> {
        match buf {}
    }

    #[cfg(any(feature = "gpu", feature = "cuda"))]
    fn download_from(&self, buf: DeviceBuffer) -> Result<Arc<Matrix>, String> {
        let m = Arc::new(Matrix::from_vec(
            self.rows,
            self.cols,
            raw_download(&buf, self.rows * self.cols, false)?,
        ));
        {
            let mut state = self.cell.state.lock().unwrap_or_else(|e| e.into_inner());
            if let Place::Host(other) = &*state {
                // Another thread downloaded (or evicted) it meanwhile.
                return Ok(other.clone());
            }
            *state = Place::Host(m.clone());
        }
        match buf {
            #[cfg(feature = "gpu")]
            DeviceBuffer::Wgpu(b) => {
                if let Ok(mut r) = crate::gpu::wgpu::device()?.resident.lock() {
                    r.settle(&self.cell, &m, b);
                }
            }
            #[cfg(feature = "cuda")]
            DeviceBuffer::Cuda(b) => {
                if let Ok(mut r) = crate::gpu::cuda::device()?.resident.lock() {
                    r.settle(&self.cell, &m, b);
                }
            }
        }
        Ok(m)
    }
}

/// An argument or result of a device operator.
#[derive(Clone, Debug)]
pub enum GpuValue {
    /// A value on the host (a matrix may also have a resident device copy).
    Host(Value),
    /// A matrix only on the device.
    Device(DeviceMatrix),
}

impl GpuValue {
    /// The value on the host, downloading a device matrix.
    pub fn into_host(self) -> Result<Value, String> {
        match self {
            GpuValue::Host(v) => Ok(v),
            GpuValue::Device(d) => d.download().map(Value::Matrix),
        }
    }
}

/// A matrix argument as a device operator reads it: a host matrix (uploaded or found resident)
/// or a device matrix.
#[cfg(any(feature = "gpu", feature = "cuda"))]
#[derive(Clone, Copy)]
pub(in crate::gpu) enum MatArg<'a> {
    Host(&'a Arc<Matrix>),
    Device(&'a DeviceMatrix),
}

#[cfg(any(feature = "gpu", feature = "cuda"))]
impl MatArg<'_> {
    pub fn rows(&self) -> usize {
        match self {
            MatArg::Host(m) => m.rows(),
            MatArg::Device(d) => d.rows,
        }
    }

    pub fn cols(&self) -> usize {
        match self {
            MatArg::Host(m) => m.cols(),
            MatArg::Device(d) => d.cols,
        }
    }

    /// Cells, rows times columns.
    #[cfg_attr(not(feature = "gpu"), allow(dead_code))]
    pub fn len(&self) -> usize {
        self.rows() * self.cols()
    }

    /// Stored sparse on the host (a device matrix is always dense).
    #[cfg_attr(not(feature = "gpu"), allow(dead_code))]
    pub fn is_sparse(&self) -> bool {
        matches!(self, MatArg::Host(m) if m.is_sparse())
    }
}

/// A device builtin's arguments by position, as both backends read them: `None` where an
/// argument is absent or of another kind, so the CPU kernel runs it (and gives its message).
#[cfg(any(feature = "gpu", feature = "cuda"))]
pub(in crate::gpu) struct BuiltinArgs<'a>(pub &'a [GpuValue]);

#[cfg(any(feature = "gpu", feature = "cuda"))]
impl<'a> BuiltinArgs<'a> {
    pub fn matrix(&self, i: usize) -> Option<MatArg<'a>> {
        matrix_arg(self.0.get(i)?)
    }

    pub fn flag(&self, i: usize) -> Option<bool> {
        match self.0.get(i)? {
            GpuValue::Host(Value::Bool(b)) => Some(*b),
            _ => None,
        }
    }

    pub fn number(&self, i: usize) -> Option<f64> {
        match self.0.get(i)? {
            GpuValue::Host(v @ (Value::Int(_) | Value::Double(_) | Value::Bool(_))) => v.as_f64(),
            _ => None,
        }
    }
}

/// The matrix `v` holds, on the host or the device; `None` for anything else.
#[cfg(any(feature = "gpu", feature = "cuda"))]
pub(in crate::gpu) fn matrix_arg(v: &GpuValue) -> Option<MatArg<'_>> {
    match v {
        GpuValue::Host(Value::Matrix(m)) => Some(MatArg::Host(m)),
        GpuValue::Device(d) => Some(MatArg::Device(d)),
        _ => None,
    }
}

/// An argument of a cellwise device operator: a matrix or a number (uploaded as a 1x1 matrix).
#[cfg(any(feature = "gpu", feature = "cuda"))]
pub(in crate::gpu) enum Arg<'a> {
    Matrix(MatArg<'a>),
    Number(f64),
}

#[cfg(any(feature = "gpu", feature = "cuda"))]
impl Arg<'_> {
    /// Rows and columns (a number is 1x1).
    pub fn shape(&self) -> (usize, usize) {
        match self {
            Arg::Matrix(m) => (m.rows(), m.cols()),
            Arg::Number(_) => (1, 1),
        }
    }
}

#[cfg(any(feature = "gpu", feature = "cuda"))]
pub(in crate::gpu) fn arg(v: &GpuValue) -> Option<Arg<'_>> {
    match v {
        GpuValue::Host(v @ (Value::Int(_) | Value::Double(_) | Value::Bool(_))) => {
            v.as_f64().map(Arg::Number)
        }
        v => matrix_arg(v).map(Arg::Matrix),
    }
}

#[cfg(any(feature = "gpu", feature = "cuda"))]
/// The output shape of `a op b` with DML's broadcasting (equal shapes, a scalar, or a row or
/// column vector on either side); `None` for shapes the CPU kernel must judge.
pub(in crate::gpu) fn broadcast_shape(a: (usize, usize), b: (usize, usize)) -> Option<(usize, usize)> {
    let fits = |x: (usize, usize), y: (usize, usize)| (x.0 == y.0 || x.0 == 1) && (x.1 == y.1 || x.1 == 1);
    if fits(b, a) {
        Some(a)
    } else if fits(a, b) {
        Some(b)
    } else {
        None
    }
}

/// The output shape of `ifelse(c, yes, no)` as the CPU kernel takes it: every matrix operand of
/// one shape, 1x1 matrices and numbers acting as scalars (1x1 when all are). `None` for other
/// shapes and for three numbers, which the CPU computes or reports.
#[cfg(any(feature = "gpu", feature = "cuda"))]
pub(in crate::gpu) fn ifelse_shape(ops: &[Arg; 3]) -> Option<(usize, usize)> {
    let full = |a: &Arg| match a {
        Arg::Matrix(m) if m.len() != 1 => Some((m.rows(), m.cols())),
        _ => None,
    };
    let shapes: Vec<(usize, usize)> = ops.iter().filter_map(full).collect();
    match shapes.first() {
        Some(&s) if shapes.iter().all(|&t| t == s) => Some(s),
        Some(_) => None,
        None if ops.iter().any(|a| matches!(a, Arg::Matrix(_))) => Some((1, 1)),
        None => None,
    }
}
