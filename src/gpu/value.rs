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
use std::sync::Arc;

/// A matrix whose only copy is on the device: a device operator's result not yet needed on the
/// host. Cheap to clone (a shared handle to the buffer).
#[derive(Clone)]
pub struct DeviceMatrix {
    pub(in crate::gpu) rows: usize,
    pub(in crate::gpu) cols: usize,
    pub(in crate::gpu) copy: DeviceBuffer,
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

impl DeviceMatrix {
    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The cells on the host, as a matrix whose device copy (this buffer) stays resident.
    pub fn download(&self) -> Result<Arc<Matrix>, String> {
        #[cfg(not(any(feature = "gpu", feature = "cuda")))]
        match self.copy {}
        #[cfg(any(feature = "gpu", feature = "cuda"))]
        let cells = self.rows * self.cols;
        #[cfg(any(feature = "gpu", feature = "cuda"))]
        match &self.copy {
            #[cfg(feature = "gpu")]
            DeviceBuffer::Wgpu(buf) => {
                let gpu = crate::gpu::wgpu::device()?;
                let data = gpu.download(buf, cells)?;
                let m = Arc::new(Matrix::from_vec(self.rows, self.cols, data));
                if let Ok(mut r) = gpu.resident.lock() {
                    r.insert(&m, buf.clone());
                }
                Ok(m)
            }
            #[cfg(feature = "cuda")]
            DeviceBuffer::Cuda(buf) => {
                let gpu = crate::gpu::cuda::device()?;
                let data = gpu.download_resident(buf, cells)?;
                let m = Arc::new(Matrix::from_vec(self.rows, self.cols, data));
                gpu.keep_resident(&m, buf.clone());
                Ok(m)
            }
        }
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
