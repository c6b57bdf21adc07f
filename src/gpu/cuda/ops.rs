//! The operators the CUDA device runs: arguments checked and uploaded (or found resident, or
//! already device matrices), the kernel or cuBLAS call launched, the result left on the device
//! as a [`DeviceMatrix`] (scalars come back to the host). Any case the device does not take returns `None` and the executor runs the
//! CPU kernel; so does an upload that finds the device full even after evicting everything.

use super::kernels::dnn::Pool;
use super::kernels::{self, Fused, Scalar};
use super::{Cuda, DevBuf, grid};
use crate::builtins::BuiltinId;
use crate::gpu::DnnShape;
use crate::gpu::value::{
    Arg, BuiltinArgs, DeviceBuffer, DeviceMatrix, GpuValue, MatArg, Place, arg, broadcast_shape,
    ifelse_shape, matrix_arg,
};
use crate::hops::HopOp;
use crate::kernels::dnn::{ConvShape, PoolShape};
use crate::types::ops::{AggDir, AggOp, BinOp, UnOp};
use crate::types::value::Value;
use cudarc::cublas::sys::cublasOperation_t;
use cudarc::cublas::{Gemm, GemmConfig};
use cudarc::driver::{CudaSlice, LaunchArgs, LaunchConfig, PushKernelArg};
use std::sync::Arc;
use std::time::Instant;

/// Threads of a cellwise kernel's block.
const THREADS: u32 = 256;

/// Whether the CUDA device has a kernel for `op` (the planner asks through `crate::gpu::supports`
/// when this is the device in use): the builtins and aggregates wgpu has, and the cellwise
/// operators CUDA's math library gives (its own list).
pub(in crate::gpu) fn supports(op: &HopOp) -> bool {
    match op {
        HopOp::MatMul | HopOp::Tsmm { .. } | HopOp::Ternary => true,
        HopOp::Binary(b) => kernels::binary_expr(*b).is_some(),
        HopOp::Unary(u) => kernels::unary_expr(*u).is_some(),
        HopOp::AggUnary(a, d) => crate::gpu::supports_aggregate(*a, *d),
        HopOp::Builtin { id, nout } => {
            *nout <= crate::gpu::builtin_outputs(*id) && crate::gpu::supports_builtin(*id)
        }
        _ => false,
    }
}

/// What one device operator gives: `None` when it does not take the case (the CPU runs it).
type Outcome = Option<Result<GpuValue, String>>;

/// Runs one operator under the device lock and counts it with its wall time.
pub(super) fn timed<T>(
    gpu: &Cuda,
    f: impl FnOnce() -> Option<Result<T, String>>,
) -> Option<Result<T, String>> {
    let _busy = match gpu.lock() {
        Ok(g) => g,
        Err(e) => return Some(Err(e)),
    };
    let start = Instant::now();
    let r = f();
    if matches!(r, Some(Ok(_))) {
        crate::gpu::count::kernel(start.elapsed().as_nanos() as u64);
    }
    r
}

pub(in crate::gpu) fn execute(
    gpu: &Cuda,
    op: &HopOp,
    args: &[GpuValue],
) -> Option<Result<Vec<GpuValue>, String>> {
    if let HopOp::Builtin { id, .. } = op
        && crate::gpu::builtin_outputs(*id) > 1
    {
        return super::ops_layers::execute(gpu, *id, args);
    }
    let one = timed(gpu, || match op {
        HopOp::MatMul => matmul(gpu, matrix_arg(args.first()?)?, false, matrix_arg(args.get(1)?)?, false),
        // left: t(X) %*% X; otherwise X %*% t(X).
        HopOp::Tsmm { left } => {
            let x = matrix_arg(args.first()?)?;
            matmul(gpu, x, *left, x, !*left)
        }
        HopOp::Binary(op) => binary(gpu, *op, arg(args.first()?)?, arg(args.get(1)?)?),
        HopOp::Unary(op) => unary(gpu, *op, matrix_arg(args.first()?)?),
        HopOp::AggUnary(op, dir) if crate::gpu::supports_aggregate(*op, *dir) => {
            aggregate(gpu, *op, *dir, matrix_arg(args.first()?)?)
        }
        HopOp::Ternary => ifelse(gpu, [arg(args.first()?)?, arg(args.get(1)?)?, arg(args.get(2)?)?]),
        HopOp::Builtin { id, .. } => builtin(gpu, *id, args),
        _ => None,
    });
    one.map(|r| r.map(|v| vec![v]))
}

fn builtin(gpu: &Cuda, id: BuiltinId, args: &[GpuValue]) -> Outcome {
    use crate::builtins::ids;
    let a = BuiltinArgs(args);
    if id == ids::MATMUL_T {
        matmul(gpu, a.matrix(0)?, a.flag(2)?, a.matrix(1)?, a.flag(3)?)
    } else if id == ids::AXPBY {
        fused(gpu, Fused::Axpby, a.matrix(0)?, a.matrix(1)?, a.number(2)?, a.number(3)?)
    } else if id == ids::RELU_BACKWARD {
        fused(gpu, Fused::ReluBackward, a.matrix(0)?, a.matrix(1)?, 0.0, 0.0)
    } else if id == ids::BIAS_ADD {
        fused(gpu, Fused::BiasAdd, a.matrix(0)?, a.matrix(1)?, 0.0, 0.0)
    } else if id == ids::BIAS_MULTIPLY && !a.matrix(0)?.is_sparse() {
        fused(gpu, Fused::BiasMultiply, a.matrix(0)?, a.matrix(1)?, 0.0, 0.0)
    } else {
        None
    }
}

impl Cuda {
    /// The device copy of `m`: the resident one, or a new upload (sparse matrices are uploaded
    /// dense) that stays resident; `None` for an empty matrix or when the device is full.
    pub(super) fn resident(&self, m: MatArg) -> Option<DevBuf> {
        // A device matrix evicted or downloaded meanwhile is read as the host matrix it became.
        let evicted;
        let m = match m {
            MatArg::Device(d) => match d.cell.place() {
                Place::Device(DeviceBuffer::Cuda(buf)) => {
                    if let Ok(mut r) = self.resident.lock() {
                        r.touch(&d.cell);
                    }
                    return Some(buf);
                }
                Place::Host(m) => {
                    evicted = m;
                    &evicted
                }
                #[allow(unreachable_patterns)]
                _ => return None,
            },
            MatArg::Host(m) => m,
        };
        if m.is_empty() {
            return None;
        }
        if let Some(buf) = self.resident.lock().ok()?.get(m) {
            crate::gpu::count::resident_hit();
            return Some(buf);
        }
        let buf = Arc::new(self.upload(&m.dense_data()).ok()?);
        self.resident.lock().ok()?.insert(m, buf.clone());
        Some(buf)
    }

    /// The device copy of an argument and its shape.
    fn operand(&self, a: &Arg) -> Option<(DevBuf, usize, usize)> {
        match a {
            Arg::Matrix(m) => Some((self.resident(*m)?, m.rows(), m.cols())),
            Arg::Number(v) => Some((Arc::new(self.upload(&[*v]).ok()?), 1, 1)),
        }
    }

    /// Wraps a kernel's output as a matrix that stays on the device.
    fn finish(&self, out: CudaSlice<f64>, rows: usize, cols: usize) -> Result<GpuValue, String> {
        Ok(GpuValue::Device(DeviceMatrix::new(rows, cols, DeviceBuffer::Cuda(Arc::new(out)))))
    }
}

/// `?` for the steps after the device has taken the operator: an error is the operator's.
macro_rules! tri {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(e) => return Some(Err(e.to_string())),
        }
    };
}

/// Pushes a kernel's scalar arguments (after its buffers), as `kernels` lists them.
fn push_scalars<'a>(launch: &mut LaunchArgs<'a>, scalars: &'a [Scalar]) {
    for s in scalars {
        match s {
            Scalar::I64(v) => launch.arg(v),
            Scalar::I32(v) => launch.arg(v),
            Scalar::F64(v) => launch.arg(v),
        };
    }
}

fn fits_int(dims: &[usize]) -> bool {
    dims.iter().all(|&d| d > 0 && d <= i32::MAX as usize)
}

/// `op(A) %*% op(B)` by cuBLAS's dgemm. cuBLAS is column-major: a row-major `r x c` buffer is
/// the column-major `c x r` transpose, so the row-major `C = op(A) op(B)` is computed as the
/// column-major `t(C) = t(op(B)) t(op(A))`, each operand's leading dimension its stored columns.
fn matmul(gpu: &Cuda, a: MatArg, ta: bool, b: MatArg, tb: bool) -> Outcome {
    let (m, ka) = if ta { (a.cols(), a.rows()) } else { (a.rows(), a.cols()) };
    let (kb, n) = if tb { (b.cols(), b.rows()) } else { (b.rows(), b.cols()) };
    // A shape mismatch is left to the CPU kernel, which reports it.
    if ka != kb || !fits_int(&[m, n, ka, a.cols(), b.cols()]) {
        return None;
    }
    let (da, db) = (gpu.resident(a)?, gpu.resident(b)?);
    let mut out = tri!(gpu.alloc(m * n));
    let op = |t: bool| if t { cublasOperation_t::CUBLAS_OP_T } else { cublasOperation_t::CUBLAS_OP_N };
    let cfg = GemmConfig {
        transa: op(tb),
        transb: op(ta),
        m: n as i32,
        n: m as i32,
        k: ka as i32,
        alpha: 1.0f64,
        lda: b.cols() as i32,
        ldb: a.cols() as i32,
        beta: 0.0f64,
        ldc: n as i32,
    };
    // SAFETY: the buffers hold `a` and `b` in full and `out` has `m * n` cells; the dimensions
    // and leading dimensions above describe exactly those buffers.
    tri!(unsafe { gpu.blas.gemm(cfg, &*db, &*da, &mut out) });
    Some(gpu.finish(out, m, n))
}

fn binary(gpu: &Cuda, op: BinOp, a: Arg, b: Arg) -> Outcome {
    let expr = kernels::binary_expr(op)?;
    if matches!((&a, &b), (Arg::Number(_), Arg::Number(_))) {
        return None;
    }
    let (rows, cols) = broadcast_shape(a.shape(), b.shape())?;
    if rows * cols == 0 {
        return None;
    }
    let ((da, ar, ac), (db, br, bc)) = (gpu.operand(&a)?, gpu.operand(&b)?);
    let name = format!("binary_{op:?}");
    let f = tri!(gpu.function(&name, || kernels::binary(&name, expr)));
    let mut out = tri!(gpu.alloc(rows * cols));
    let dims = [rows, cols, ar, ac, br, bc].map(|v| v as i64);
    let mut launch = gpu.stream.launch_builder(&f);
    launch.arg(&*da).arg(&*db).arg(&mut out);
    for d in &dims {
        launch.arg(d);
    }
    // SAFETY: the kernel's parameters are three f64 pointers and six i64s, in this order; it
    // reads A and B within their `ar x ac`, `br x bc` cells and writes `rows * cols` cells.
    tri!(unsafe { launch.launch(grid(rows * cols, THREADS)) });
    Some(gpu.finish(out, rows, cols))
}

fn unary(gpu: &Cuda, op: UnOp, m: MatArg) -> Outcome {
    let expr = kernels::unary_expr(op)?;
    let (rows, cols) = (m.rows(), m.cols());
    let dm = gpu.resident(m)?;
    let name = format!("unary_{op:?}");
    let f = tri!(gpu.function(&name, || kernels::unary(&name, expr)));
    let mut out = tri!(gpu.alloc(rows * cols));
    let n = (rows * cols) as i64;
    let mut launch = gpu.stream.launch_builder(&f);
    launch.arg(&*dm).arg(&mut out).arg(&n);
    // SAFETY: parameters (const double*, double*, long long); `n` cells in each buffer.
    tri!(unsafe { launch.launch(grid(rows * cols, THREADS)) });
    Some(gpu.finish(out, rows, cols))
}

/// A fused cellwise builtin; shapes the kernel does not take (a broadcast, a bias that does not
/// divide the columns) are left to the CPU, which computes or reports them.
fn fused(gpu: &Cuda, kind: Fused, x: MatArg, y: MatArg, sa: f64, sb: f64) -> Outcome {
    let (rows, cols) = (x.rows(), x.cols());
    let hw = match kind {
        Fused::BiasAdd | Fused::BiasMultiply => {
            let c = y.rows();
            if y.cols() != 1 || c == 0 || cols == 0 || cols % c != 0 {
                return None;
            }
            cols / c
        }
        _ if (y.rows(), y.cols()) != (rows, cols) => return None,
        _ => 1,
    };
    let (dx, dy) = (gpu.resident(x)?, gpu.resident(y)?);
    let name = format!("fused_{kind:?}");
    let f = tri!(gpu.function(&name, || kernels::fused(&name, kind)));
    let mut out = tri!(gpu.alloc(rows * cols));
    let scalars = kernels::fused_scalars(rows * cols, cols, hw, sa, sb);
    let mut launch = gpu.stream.launch_builder(&f);
    launch.arg(&*dx).arg(&*dy).arg(&mut out);
    push_scalars(&mut launch, &scalars);
    // SAFETY: parameters (X, Y, O, n, cols, hw, sa, sb) as declared; Y has `n` cells (or, for
    // a bias, one per channel, and `(i % cols) / hw` is below the channel count).
    tri!(unsafe { launch.launch(grid(rows * cols, THREADS)) });
    Some(gpu.finish(out, rows, cols))
}

/// Cells one block folds in the first pass of a whole-matrix aggregate.
const ALL_BLOCK: usize = 16384;

fn aggregate(gpu: &Cuda, op: AggOp, dir: AggDir, m: MatArg) -> Outcome {
    let (rows, cols) = (m.rows(), m.cols());
    let total = rows * cols;
    let dm = gpu.resident(m)?;
    // (segments, cells a segment, segment start stride, cell stride)
    let (nseg, len, seg_stride, cell_stride) = match dir {
        AggDir::All => (total.div_ceil(ALL_BLOCK), ALL_BLOCK, ALL_BLOCK, 1),
        AggDir::Row => (rows, cols, cols, 1),
        AggDir::Col => (cols, rows, 1, cols),
    };
    // A whole matrix's mean is a sum of block sums, divided at the end; the second pass folds
    // the blocks' results: sums (of squares too) by a sum, minima by a min, maxima by a max.
    let first_op = if dir == AggDir::All && op == AggOp::Mean { AggOp::Sum } else { op };
    let second_op = if matches!(op, AggOp::Min | AggOp::Max) { op } else { AggOp::Sum };
    let kernel = |o: AggOp| {
        let name = format!("aggregate_{o:?}");
        gpu.function(&name, || kernels::aggregate(&name, o).unwrap_or_default())
    };
    let first = tri!(kernel(first_op));
    let mut out = tri!(gpu.alloc(nseg));
    let cfg = |segments: usize| LaunchConfig {
        grid_dim: (segments.clamp(1, 1 << 20) as u32, 1, 1),
        block_dim: (kernels::AGG_THREADS, 1, 1),
        shared_mem_bytes: 0,
    };
    let dims = [nseg, len, seg_stride, cell_stride, total].map(|v| v as i64);
    let mut launch = gpu.stream.launch_builder(&first);
    launch.arg(&*dm).arg(&mut out);
    for d in &dims {
        launch.arg(d);
    }
    // SAFETY: parameters (A, O, nseg, len, seg_stride, cell_stride, total); every cell read is
    // below `total` and `O` has `nseg` cells.
    tri!(unsafe { launch.launch(cfg(nseg)) });
    drop(launch);
    match dir {
        AggDir::Row => return Some(gpu.finish(out, rows, 1)),
        AggDir::Col => return Some(gpu.finish(out, 1, cols)),
        AggDir::All => {}
    }
    let second = tri!(kernel(second_op));
    let mut result = tri!(gpu.alloc(1));
    let dims2 = [1, nseg, 0, 1, nseg].map(|v| v as i64);
    let mut launch = gpu.stream.launch_builder(&second);
    launch.arg(&out).arg(&mut result);
    for d in &dims2 {
        launch.arg(d);
    }
    // SAFETY: as above, over the `nseg` block results into one cell.
    tri!(unsafe { launch.launch(cfg(1)) });
    let v = tri!(gpu.download(&result, 1))[0];
    Some(Ok(GpuValue::Host(Value::Double(if op == AggOp::Mean { v / total as f64 } else { v }))))
}

/// `conv2d` and `_conv2d_bias_add` forward on the arguments `input, filter[, bias]` with the
/// shape the executor read from the rest. Inputs, filters or biases of another shape are left
/// to the CPU builtin, so its error is the one reported.
pub(in crate::gpu) fn conv2d(gpu: &Cuda, args: &[GpuValue], s: &ConvShape, has_bias: bool) -> Outcome {
    timed(gpu, || {
        let matrix = |i: usize| matrix_arg(args.get(i)?);
        let (x, w) = (matrix(0)?, matrix(1)?);
        let bias = if has_bias { Some(matrix(2)?) } else { None };
        let (oh, ow) = (s.out_h(), s.out_w());
        let (out_rows, out_cols) = (s.n, s.f * oh * ow);
        if (x.rows(), x.cols()) != (s.n, s.c * s.h * s.w)
            || (w.rows(), w.cols()) != (s.f, s.c * s.hf * s.wf)
            || bias.is_some_and(|b| (b.rows(), b.cols()) != (s.f, 1))
            || out_rows * out_cols == 0
        {
            return None;
        }
        let (dx, dw) = (gpu.resident(x)?, gpu.resident(w)?);
        let db = match bias {
            Some(b) => gpu.resident(b)?,
            None => Arc::new(tri!(gpu.upload(&[0.0]))),
        };
        let f = tri!(gpu.function("conv2d", || kernels::conv2d("conv2d")));
        let cells = out_rows * out_cols;
        let mut out = tri!(gpu.alloc(cells));
        let mut scalars = kernels::dnn::conv_scalars(s);
        scalars.push(Scalar::I32(has_bias as i32));
        let mut launch = gpu.stream.launch_builder(&f);
        launch.arg(&*dx).arg(&*dw).arg(&*db).arg(&mut out);
        push_scalars(&mut launch, &scalars);
        // SAFETY: parameters (X, W, Bias, O, 13 long longs, int) as declared; the shapes were
        // checked against the buffers above.
        tri!(unsafe { launch.launch(grid(cells, THREADS)) });
        Some(gpu.finish(out, out_rows, out_cols))
    })
}

/// The DNN builtins the executor reads a shape for, past the forward convolution: the pools
/// and their gradients, the convolution's gradients; `None` for another builtin or a case the
/// kernels do not take.
pub(in crate::gpu) fn dnn(gpu: &Cuda, id: BuiltinId, args: &[GpuValue], shape: DnnShape) -> Outcome {
    use crate::builtins::ids::*;
    match shape {
        DnnShape::Conv(s) if id == CONV2D_BACKWARD_FILTER => conv2d_backward(gpu, args, s, false),
        DnnShape::Conv(s) if id == CONV2D_BACKWARD_DATA => conv2d_backward(gpu, args, s, true),
        DnnShape::Pool(s) => {
            let (kind, backward) = Pool::of(id)?;
            pool(gpu, args, s, kind, backward)
        }
        _ => None,
    }
}

/// A pool builtin on the arguments `input[, dout]` with the shape the executor read; inputs of
/// another shape are left to the CPU builtin, for its message.
fn pool(gpu: &Cuda, args: &[GpuValue], s: &PoolShape, kind: Pool, backward: bool) -> Outcome {
    timed(gpu, || {
        let matrix = |i: usize| matrix_arg(args.get(i)?);
        let (oh, ow) = (s.out_h(), s.out_w());
        let x = matrix(0)?;
        let dout = if backward { Some(matrix(1)?) } else { None };
        let (out_rows, out_cols) = if backward { (s.n, s.c * s.h * s.w) } else { (s.n, s.c * oh * ow) };
        if (x.rows(), x.cols()) != (s.n, s.c * s.h * s.w)
            || dout.is_some_and(|d| (d.rows(), d.cols()) != (s.n, s.c * oh * ow))
            || oh == 0
            || ow == 0
            || out_rows * out_cols == 0
        {
            return None;
        }
        let dx = gpu.resident(x)?;
        let dd = match dout {
            Some(d) => Some(gpu.resident(d)?),
            None => None,
        };
        let name = if backward { "pool_backward" } else { "pool_forward" };
        let f = tri!(gpu.function(name, || {
            if backward { kernels::dnn::pool_backward(name) } else { kernels::dnn::pool_forward(name) }
        }));
        let cells = out_rows * out_cols;
        let mut out = tri!(gpu.alloc(cells));
        let scalars = kernels::dnn::pool_scalars(s, kind);
        let mut launch = gpu.stream.launch_builder(&f);
        launch.arg(&*dx);
        if let Some(d) = &dd {
            launch.arg(&**d);
        }
        launch.arg(&mut out);
        push_scalars(&mut launch, &scalars);
        // SAFETY: parameters (X[, D], O, 12 long longs, int, double) as declared; X and D were
        // checked against the shape above and O has its `cells` cells.
        tri!(unsafe { launch.launch(grid(cells, THREADS)) });
        Some(gpu.finish(out, out_rows, out_cols))
    })
}

/// `conv2d_backward_filter(input, dout)` (`data` false) or `conv2d_backward_data(filter, dout)`
/// with the shape the executor read; other shapes are left to the CPU builtin.
fn conv2d_backward(gpu: &Cuda, args: &[GpuValue], s: &ConvShape, data: bool) -> Outcome {
    timed(gpu, || {
        let matrix = |i: usize| matrix_arg(args.get(i)?);
        let (first, dout) = (matrix(0)?, matrix(1)?);
        let (oh, ow) = (s.out_h(), s.out_w());
        let first_shape = if data { (s.f, s.c * s.hf * s.wf) } else { (s.n, s.c * s.h * s.w) };
        let (out_rows, out_cols) = if data { (s.n, s.c * s.h * s.w) } else { (s.f, s.c * s.hf * s.wf) };
        if (first.rows(), first.cols()) != first_shape
            || (dout.rows(), dout.cols()) != (s.n, s.f * oh * ow)
            || oh == 0
            || ow == 0
            || out_rows * out_cols == 0
        {
            return None;
        }
        let (da, dd) = (gpu.resident(first)?, gpu.resident(dout)?);
        let name = if data { "conv2d_backward_data" } else { "conv2d_backward_filter" };
        let f = tri!(gpu.function(name, || {
            if data {
                kernels::dnn::conv2d_backward_data(name)
            } else {
                kernels::dnn::conv2d_backward_filter(name)
            }
        }));
        let cells = out_rows * out_cols;
        let mut out = tri!(gpu.alloc(cells));
        let scalars = kernels::dnn::conv_scalars(s);
        let mut launch = gpu.stream.launch_builder(&f);
        launch.arg(&*da).arg(&*dd).arg(&mut out);
        push_scalars(&mut launch, &scalars);
        // SAFETY: parameters (X or W, D, O, 13 long longs) as declared; the inputs were checked
        // against the shape above and O has its `cells` cells.
        tri!(unsafe { launch.launch(grid(cells, THREADS)) });
        Some(gpu.finish(out, out_rows, out_cols))
    })
}

/// `ifelse(c, yes, no)` with the CPU kernel's shapes: every matrix operand of one shape, 1x1
/// matrices and numbers acting as scalars (uploaded as one cell). Other shapes, and three
/// numbers, are left to the CPU, which computes or reports them.
fn ifelse(gpu: &Cuda, ops: [Arg; 3]) -> Outcome {
    let (rows, cols) = ifelse_shape(&ops)?;
    let cells = rows * cols;
    if cells == 0 {
        return None;
    }
    let [(dc, ..), (dy, ..), (dn, ..)] =
        [gpu.operand(&ops[0])?, gpu.operand(&ops[1])?, gpu.operand(&ops[2])?];
    let f = tri!(gpu.function("ifelse", || kernels::ifelse("ifelse")));
    let mut out = tri!(gpu.alloc(cells));
    let scalars =
        kernels::ifelse_scalars(cells, [0, 1, 2].map(|k| matches!(&ops[k], Arg::Matrix(m) if m.len() != 1)));
    let mut launch = gpu.stream.launch_builder(&f);
    launch.arg(&*dc).arg(&*dy).arg(&*dn).arg(&mut out);
    push_scalars(&mut launch, &scalars);
    // SAFETY: parameters (C, Y, N, O, long long, 3 ints) as declared; an operand flagged full
    // has the `cells` cells of the shape checked above, any other has one.
    tri!(unsafe { launch.launch(grid(cells, THREADS)) });
    Some(gpu.finish(out, rows, cols))
}
