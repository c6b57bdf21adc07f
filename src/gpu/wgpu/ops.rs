//! The operators the device runs: arguments checked and uploaded (or found resident, or already
//! device matrices), the kernel submitted, the result left on the device as a [`DeviceMatrix`]
//! (scalars come back to the host).
//! Any case a kernel does not take returns `None` and the executor runs the CPU kernel.

use super::kernels;
use super::{DevMatrix, Gpu, Pass, device, grid};
use crate::gpu::value::{
    Arg, BuiltinArgs, DeviceBuffer, DeviceMatrix, GpuValue, MatArg, Place, arg, broadcast_shape,
    ifelse_shape, matrix_arg,
};
use crate::hops::HopOp;
use crate::kernels::dnn::{ConvShape, PoolShape};
use crate::types::ops::{AggDir, AggOp, BinOp, UnOp};
use crate::types::value::Value;
use std::sync::Arc;

/// What one device operator gives: `None` when it does not take the case (the CPU runs it).
type Outcome = Option<Result<GpuValue, String>>;

pub(in crate::gpu) fn execute(op: &HopOp, args: &[GpuValue]) -> Option<Result<Vec<GpuValue>, String>> {
    let gpu = device().ok()?;
    let one = match op {
        HopOp::MatMul => matmul(gpu, matrix_arg(args.first()?)?, false, matrix_arg(args.get(1)?)?, false),
        // left: t(X) %*% X; otherwise X %*% t(X).
        HopOp::Tsmm { left } => {
            let x = matrix_arg(args.first()?)?;
            matmul(gpu, x, *left, x, !*left)
        }
        HopOp::Binary(op) if crate::gpu::supports_binary(*op) => {
            binary(gpu, *op, arg(args.first()?)?, arg(args.get(1)?)?)
        }
        HopOp::Unary(op) if crate::gpu::supports_unary(*op) => unary(gpu, *op, matrix_arg(args.first()?)?),
        HopOp::AggUnary(op, dir) if crate::gpu::supports_aggregate(*op, *dir) => {
            aggregate(gpu, *op, *dir, matrix_arg(args.first()?)?)
        }
        HopOp::Ternary => ifelse(gpu, [arg(args.first()?)?, arg(args.get(1)?)?, arg(args.get(2)?)?]),
        HopOp::Builtin { id, .. } if super::ops_batch_norm::takes(*id) => {
            return super::ops_batch_norm::execute(gpu, *id, args);
        }
        HopOp::Builtin { id, .. } if super::ops_lstm::takes(*id) => {
            return super::ops_lstm::execute(gpu, *id, args);
        }
        HopOp::Builtin { id, .. } => builtin(gpu, *id, args),
        _ => None,
    };
    one.map(|r| r.map(|v| vec![v]))
}

fn builtin(gpu: &Gpu, id: crate::builtins::BuiltinId, args: &[GpuValue]) -> Outcome {
    use crate::builtins::ids;
    let a = BuiltinArgs(args);
    if id == ids::MATMUL_T {
        matmul(gpu, a.matrix(0)?, a.flag(2)?, a.matrix(1)?, a.flag(3)?)
    } else if id == ids::AXPBY {
        fused(gpu, kernels::Fused::Axpby, a.matrix(0)?, a.matrix(1)?, a.number(2)?, a.number(3)?)
    } else if id == ids::RELU_BACKWARD {
        fused(gpu, kernels::Fused::ReluBackward, a.matrix(0)?, a.matrix(1)?, 0.0, 0.0)
    } else if id == ids::BIAS_ADD {
        fused(gpu, kernels::Fused::BiasAdd, a.matrix(0)?, a.matrix(1)?, 0.0, 0.0)
    } else if id == ids::BIAS_MULTIPLY && !a.matrix(0)?.is_sparse() {
        fused(gpu, kernels::Fused::BiasMultiply, a.matrix(0)?, a.matrix(1)?, 0.0, 0.0)
    } else {
        None
    }
}

/// A fused cellwise builtin; shapes the kernel does not take (a broadcast, a bias that does not
/// divide the columns) are left to the CPU, which computes or reports them.
fn fused(gpu: &Gpu, kind: kernels::Fused, x: MatArg, y: MatArg, sa: f64, sb: f64) -> Outcome {
    let (rows, cols) = (x.rows(), x.cols());
    let hw = match kind {
        kernels::Fused::BiasAdd | kernels::Fused::BiasMultiply => {
            let c = y.rows();
            if y.cols() != 1 || c == 0 || cols % c != 0 || cols == 0 {
                return None;
            }
            cols / c
        }
        _ if (y.rows(), y.cols()) != (rows, cols) => return None,
        _ => 1,
    };
    if !gpu.fits(rows * cols) {
        return None;
    }
    let (dx, dy) = (gpu.resident(x)?, gpu.resident(y)?);
    let name = format!("fused_{kind:?}");
    if let Err(e) = gpu.compile(&name, || kernels::fused(kind)) {
        return Some(Err(e));
    }
    let out = Arc::new(gpu.output(rows * cols));
    let ([alo, ahi], [blo, bhi]) = (split(sa), split(sb));
    let params = [(rows * cols) as u32, cols as u32, hw as u32, 0, alo, ahi, blo, bhi];
    let buffers = [&*dx.buf, &*dy.buf, &*out];
    let pass =
        Pass { kernel: &name, buffers: &buffers, params: &params, groups: grid((rows * cols).div_ceil(256)) };
    Some(gpu.submit(&[pass]).map(|()| gpu.finish(out, rows, cols)))
}

impl Gpu {
    /// Whether a matrix of `cells` cells fits one device buffer (and is not empty: a binding
    /// needs at least one cell).
    pub(super) fn fits(&self, cells: usize) -> bool {
        cells > 0 && (cells as u64) * 8 <= self.info.max_buffer_bytes && cells <= u32::MAX as usize
    }

    /// The device copy of `m`: the resident one, or a new upload (sparse matrices are uploaded
    /// dense) that stays resident.
    pub(super) fn resident(&self, m: MatArg) -> Option<DevMatrix> {
        if !self.fits(m.len()) {
            return None;
        }
        let (rows, cols) = (m.rows(), m.cols());
        // A device matrix evicted or downloaded meanwhile is read as the host matrix it became.
        let evicted;
        let m = match m {
            MatArg::Device(d) => match d.cell.place() {
                Place::Device(DeviceBuffer::Wgpu(buf)) => {
                    if let Ok(mut r) = self.resident.lock() {
                        r.touch(&d.cell);
                    }
                    return Some(DevMatrix { buf, rows, cols });
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
        if let Some(buf) = self.resident.lock().ok()?.get(m) {
            crate::gpu::count::resident_hit();
            return Some(DevMatrix { buf, rows, cols });
        }
        let buf = Arc::new(self.upload(&m.dense_data()));
        self.resident.lock().ok()?.insert(m, buf.clone());
        Some(DevMatrix { buf, rows, cols })
    }

    fn operand(&self, a: &Arg) -> Option<DevMatrix> {
        match a {
            Arg::Matrix(m) => self.resident(*m),
            Arg::Number(v) => Some(DevMatrix { buf: Arc::new(self.upload(&[*v])), rows: 1, cols: 1 }),
        }
    }

    /// Wraps a kernel's output buffer as a matrix that stays on the device.
    pub(super) fn finish(&self, out: Arc<wgpu::Buffer>, rows: usize, cols: usize) -> GpuValue {
        GpuValue::Device(DeviceMatrix::new(rows, cols, DeviceBuffer::Wgpu(out)))
    }
}

/// NaN, infinity and 1.0 as the cellwise kernels' uniforms end (`nan`, `inf`, `one`).
pub(super) fn special_constants() -> [u32; 6] {
    let ([nl, nh], [il, ih], [ol, oh]) = (split(f64::NAN), split(f64::INFINITY), split(1.0));
    [nl, nh, il, ih, ol, oh]
}

/// The two 32-bit words of an f64 (low first), as a uniform holds it.
pub(super) fn split(v: f64) -> [u32; 2] {
    let b = v.to_bits();
    [b as u32, (b >> 32) as u32]
}

fn matmul(gpu: &Gpu, a: MatArg, ta: bool, b: MatArg, tb: bool) -> Outcome {
    let (m, ka) = if ta { (a.cols(), a.rows()) } else { (a.rows(), a.cols()) };
    let (kb, n) = if tb { (b.cols(), b.rows()) } else { (b.rows(), b.cols()) };
    // A shape mismatch is left to the CPU kernel, which reports it.
    if ka != kb
        || ka == 0
        || !gpu.fits(m * n)
        || m.div_ceil(kernels::TILE) > 65535
        || n.div_ceil(kernels::TILE) > 65535
    {
        return None;
    }
    let (da, db) = (gpu.resident(a)?, gpu.resident(b)?);
    let out = Arc::new(gpu.output(m * n));
    if let Err(e) = gpu.compile("matmul", kernels::matmul) {
        return Some(Err(e));
    }
    let params = [m as u32, n as u32, ka as u32, ta as u32, tb as u32];
    let groups = (n.div_ceil(kernels::TILE) as u32, m.div_ceil(kernels::TILE) as u32);
    let pass = Pass { kernel: "matmul", buffers: &[&da.buf, &db.buf, &out], params: &params, groups };
    Some(gpu.submit(&[pass]).map(|()| gpu.finish(out, m, n)))
}

fn binary(gpu: &Gpu, op: BinOp, a: Arg, b: Arg) -> Outcome {
    if matches!((&a, &b), (Arg::Number(_), Arg::Number(_))) {
        return None;
    }
    let (rows, cols) = broadcast_shape(a.shape(), b.shape())?;
    if !gpu.fits(rows * cols) {
        return None;
    }
    let (da, db) = (gpu.operand(&a)?, gpu.operand(&b)?);
    let name = format!("binary_{op:?}");
    if let Err(e) = gpu.compile(&name, || kernels::binary(op)) {
        return Some(Err(e));
    }
    let out = Arc::new(gpu.output(rows * cols));
    let params = [
        &[rows as u32, cols as u32, da.rows as u32, da.cols as u32, db.rows as u32, db.cols as u32][..],
        &special_constants(),
    ]
    .concat();
    // Each input is bound twice: as f64 cells and as their bits (see `kernels`).
    let buffers = [&*da.buf, &*db.buf, &*out, &*da.buf, &*db.buf];
    let pass =
        Pass { kernel: &name, buffers: &buffers, params: &params, groups: grid((rows * cols).div_ceil(256)) };
    Some(gpu.submit(&[pass]).map(|()| gpu.finish(out, rows, cols)))
}

fn unary(gpu: &Gpu, op: UnOp, m: MatArg) -> Outcome {
    let (rows, cols) = (m.rows(), m.cols());
    let dm = gpu.resident(m)?;
    let name = format!("unary_{op:?}");
    if let Err(e) = gpu.compile(&name, || kernels::unary(op)) {
        return Some(Err(e));
    }
    let out = Arc::new(gpu.output(rows * cols));
    let params = [&[(rows * cols) as u32, 0][..], &special_constants()].concat();
    let buffers = [&*dm.buf, &*out, &*dm.buf];
    let pass =
        Pass { kernel: &name, buffers: &buffers, params: &params, groups: grid((rows * cols).div_ceil(256)) };
    Some(gpu.submit(&[pass]).map(|()| gpu.finish(out, rows, cols)))
}

/// An aggregate by all, rows or columns: one invocation a segment (the whole matrix, a row, a
/// column) folds its cells in the CPU kernel's order (see `kernels::sequential_aggregate`), in
/// chunks of `MAX_LEN` cells, one dispatch each, where the segment is longer: the CPU's values
/// to the last bit.
fn aggregate(gpu: &Gpu, op: AggOp, dir: AggDir, m: MatArg) -> Outcome {
    let dm = gpu.resident(m)?;
    Some(sequential_aggregate(gpu, op, dir, m, dm))
}

fn sequential_aggregate(
    gpu: &Gpu,
    op: AggOp,
    dir: AggDir,
    m: MatArg,
    dm: DevMatrix,
) -> Result<GpuValue, String> {
    use kernels::sequential_aggregate::{GROUP, MAX_LEN, source};
    let (rows, cols) = (m.rows(), m.cols());
    let (nseg, len, seg_stride, cell_stride) = match dir {
        AggDir::All => (1, rows * cols, 0, 1),
        AggDir::Row => (rows, cols, cols, 1),
        AggDir::Col => (cols, rows, 1, cols),
    };
    let chunked = len > MAX_LEN;
    let name = format!("sequential_aggregate_{op:?}{}", if chunked { "_chunked" } else { "" });
    gpu.compile(&name, || source(op, chunked))?;
    let out = Arc::new(gpu.output(nseg));
    let ([ilo, ihi], [nlo, nhi], [olo, ohi]) = (split(f64::INFINITY), split(f64::NAN), split(1.0));
    let chunk_params: Vec<Vec<u32>> = (0..len.div_ceil(MAX_LEN).max(1))
        .map(|i| {
            let (start, end) = (i * MAX_LEN, ((i + 1) * MAX_LEN).min(len));
            let fixed = [nseg, len, seg_stride, cell_stride, m.is_sparse() as usize, start, end, 0];
            [&fixed.map(|v| v as u32)[..], &[ilo, ihi, nlo, nhi, olo, ohi]].concat()
        })
        .collect();
    // The running state between chunks: (sum, correction) and the flags of each segment.
    let state = chunked.then(|| (gpu.output(2 * nseg), gpu.output(nseg.div_ceil(2))));
    let buffers: Vec<&wgpu::Buffer> = match &state {
        Some((s, f)) => vec![&dm.buf, &out, &dm.buf, s, f],
        None => vec![&dm.buf, &out, &dm.buf],
    };
    let groups = grid(nseg.div_ceil(GROUP));
    let passes: Vec<Pass> =
        chunk_params.iter().map(|params| Pass { kernel: &name, buffers: &buffers, params, groups }).collect();
    if dir == AggDir::All {
        return Ok(GpuValue::Host(Value::Double(gpu.run(&passes, &out, 1)?[0])));
    }
    gpu.submit(&passes)?;
    Ok(match dir {
        AggDir::Row => gpu.finish(out, rows, 1),
        _ => gpu.finish(out, 1, cols),
    })
}

/// `conv2d` and `_conv2d_bias_add` forward on the arguments `input, filter[, bias]` with the
/// shape the executor read from the rest. Inputs or a filter or bias of another shape are left
/// to the CPU builtin, so its error is the one reported.
pub(in crate::gpu) fn conv2d(args: &[GpuValue], s: &ConvShape, has_bias: bool) -> Outcome {
    let gpu = device().ok()?;
    let matrix = |i: usize| matrix_arg(args.get(i)?);
    let (x, w) = (matrix(0)?, matrix(1)?);
    let bias = if has_bias { Some(matrix(2)?) } else { None };
    let (oh, ow) = (s.out_h(), s.out_w());
    let (out_rows, out_cols) = (s.n, s.f * oh * ow);
    if (x.rows(), x.cols()) != (s.n, s.c * s.h * s.w)
        || (w.rows(), w.cols()) != (s.f, s.c * s.hf * s.wf)
        || bias.is_some_and(|b| (b.rows(), b.cols()) != (s.f, 1))
        || !gpu.fits(out_rows * out_cols)
    {
        return None;
    }
    let (dx, dw) = (gpu.resident(x)?, gpu.resident(w)?);
    let db = match bias {
        Some(b) => gpu.resident(b)?.buf,
        None => Arc::new(gpu.upload(&[0.0])),
    };
    if let Err(e) = gpu.compile("conv2d", kernels::conv2d) {
        return Some(Err(e));
    }
    let out = Arc::new(gpu.output(out_rows * out_cols));
    let params = [
        s.n,
        s.c,
        s.h,
        s.w,
        s.f,
        s.hf,
        s.wf,
        s.stride_h,
        s.stride_w,
        s.pad_h,
        s.pad_w,
        oh,
        ow,
        has_bias as usize,
    ]
    .map(|v| v as u32);
    let buffers = [&*dx.buf, &*dw.buf, &*db, &*out];
    let cells = out_rows * out_cols;
    let pass =
        Pass { kernel: "conv2d", buffers: &buffers, params: &params, groups: grid(cells.div_ceil(256)) };
    Some(gpu.submit(&[pass]).map(|()| gpu.finish(out, out_rows, out_cols)))
}

/// The pool builtins (`max_pool`, `_relu_max_pool`, `avg_pool` and their `_backward`s) on the
/// arguments `input[, dout]` with the shape the executor read; inputs of another shape are
/// left to the CPU builtin, for its message.
pub(in crate::gpu) fn pool(
    args: &[GpuValue],
    s: &PoolShape,
    kind: kernels::dnn::Pool,
    backward: bool,
) -> Outcome {
    let gpu = device().ok()?;
    let matrix = |i: usize| matrix_arg(args.get(i)?);
    let (oh, ow) = (s.out_h(), s.out_w());
    let x = matrix(0)?;
    let dout = if backward { Some(matrix(1)?) } else { None };
    let (out_rows, out_cols) = if backward { (s.n, s.c * s.h * s.w) } else { (s.n, s.c * oh * ow) };
    if (x.rows(), x.cols()) != (s.n, s.c * s.h * s.w)
        || dout.is_some_and(|d| (d.rows(), d.cols()) != (s.n, s.c * oh * ow))
        || oh == 0
        || ow == 0
        || !gpu.fits(out_rows * out_cols)
    {
        return None;
    }
    let dx = gpu.resident(x)?;
    let dd = match dout {
        Some(d) => Some(gpu.resident(d)?),
        None => None,
    };
    let name = if backward { "pool_backward" } else { "pool_forward" };
    let compiled = if backward {
        gpu.compile(name, kernels::dnn::pool_backward)
    } else {
        gpu.compile(name, kernels::dnn::pool_forward)
    };
    if let Err(e) = compiled {
        return Some(Err(e));
    }
    let out = Arc::new(gpu.output(out_rows * out_cols));
    let geometry =
        [s.n, s.c, s.h, s.w, s.ph, s.pw, s.stride_h, s.stride_w, s.pad_h, s.pad_w, oh, ow, kind as usize, 0]
            .map(|v| v as u32);
    let (scale, lowest) = (split(1.0 / (s.ph * s.pw) as f64), split(f64::MIN));
    let params = [&geometry[..], &scale, &lowest].concat();
    let cells = out_rows * out_cols;
    let buffers: Vec<&wgpu::Buffer> = match &dd {
        Some(d) => vec![&dx.buf, &d.buf, &out],
        None => vec![&dx.buf, &out],
    };
    let pass = Pass { kernel: name, buffers: &buffers, params: &params, groups: grid(cells.div_ceil(256)) };
    Some(gpu.submit(&[pass]).map(|()| gpu.finish(out, out_rows, out_cols)))
}

/// `conv2d_backward_filter(input, dout)` (`data` false) or `conv2d_backward_data(filter, dout)`
/// with the shape the executor read; other shapes are left to the CPU builtin.
pub(in crate::gpu) fn conv2d_backward(args: &[GpuValue], s: &ConvShape, data: bool) -> Outcome {
    let gpu = device().ok()?;
    let matrix = |i: usize| matrix_arg(args.get(i)?);
    let (first, dout) = (matrix(0)?, matrix(1)?);
    let (oh, ow) = (s.out_h(), s.out_w());
    let first_shape = if data { (s.f, s.c * s.hf * s.wf) } else { (s.n, s.c * s.h * s.w) };
    let (out_rows, out_cols) = if data { (s.n, s.c * s.h * s.w) } else { (s.f, s.c * s.hf * s.wf) };
    if (first.rows(), first.cols()) != first_shape
        || (dout.rows(), dout.cols()) != (s.n, s.f * oh * ow)
        || oh == 0
        || ow == 0
        || !gpu.fits(out_rows * out_cols)
    {
        return None;
    }
    let (da, dd) = (gpu.resident(first)?, gpu.resident(dout)?);
    let name = if data { "conv2d_backward_data" } else { "conv2d_backward_filter" };
    let compiled = if data {
        gpu.compile(name, kernels::dnn::conv2d_backward_data)
    } else {
        gpu.compile(name, kernels::dnn::conv2d_backward_filter)
    };
    if let Err(e) = compiled {
        return Some(Err(e));
    }
    let out = Arc::new(gpu.output(out_rows * out_cols));
    let params = [s.n, s.c, s.h, s.w, s.f, s.hf, s.wf, s.stride_h, s.stride_w, s.pad_h, s.pad_w, oh, ow]
        .map(|v| v as u32);
    let cells = out_rows * out_cols;
    let buffers = [&*da.buf, &*dd.buf, &*out];
    let pass = Pass { kernel: name, buffers: &buffers, params: &params, groups: grid(cells.div_ceil(256)) };
    Some(gpu.submit(&[pass]).map(|()| gpu.finish(out, out_rows, out_cols)))
}

/// `ifelse(c, yes, no)` with the CPU kernel's shapes: every matrix operand of one shape, 1x1
/// matrices and numbers acting as scalars. Other shapes are left to the CPU, which reports them.
fn ifelse(gpu: &Gpu, ops: [Arg; 3]) -> Outcome {
    let (rows, cols) = ifelse_shape(&ops)?;
    if !gpu.fits(rows * cols) {
        return None;
    }
    let [c, y, n] = [gpu.operand(&ops[0])?, gpu.operand(&ops[1])?, gpu.operand(&ops[2])?];
    if let Err(e) = gpu.compile("ifelse", kernels::ifelse) {
        return Some(Err(e));
    }
    let cells = rows * cols;
    let out = Arc::new(gpu.output(cells));
    let is_full = |d: &DevMatrix| (d.rows * d.cols != 1) as u32;
    let [nan_lo, nan_hi] = split(f64::NAN);
    let params = [cells as u32, is_full(&c), is_full(&y), is_full(&n), nan_lo, nan_hi];
    let buffers = [&*c.buf, &*y.buf, &*n.buf, &*out, &*c.buf];
    let pass =
        Pass { kernel: "ifelse", buffers: &buffers, params: &params, groups: grid(cells.div_ceil(256)) };
    Some(gpu.submit(&[pass]).map(|()| gpu.finish(out, rows, cols)))
}
