//! The DNN layers' builtins with several outputs on the CUDA device: `batch_norm2d` (5
//! outputs), `batch_norm2d_backward` (3), `lstm` (5) and `lstm_backward` (5). Each one checks
//! its arguments, builds its [`Program`] (`kernels::batch_norm`, `kernels::lstm`) and runs it
//! here: every launch on the one stream with no wait in between, and every output left on the
//! device. Arguments the CPU builtin would reject (a mode other than "train"/"test", shapes that
//! do not fit) are left to it, for its message.

use super::kernels::lstm::Dims;
use super::kernels::program::{Buf, Program, Step};
use super::kernels::{Scalar, batch_norm, lstm};
use super::ops::timed;
use super::{Cuda, DevBuf, grid};
use crate::builtins::{BuiltinId, ids};
use crate::gpu::value::{BuiltinArgs, DeviceBuffer, DeviceMatrix, GpuValue, MatArg};
use crate::types::value::Value;
use cudarc::cublas::sys::cublasOperation_t;
use cudarc::driver::{DevicePtr, PushKernelArg};
use std::sync::Arc;

/// Threads of a block.
const THREADS: u32 = 256;

/// What one multi-output device builtin gives: `None` when it does not take the case.
type Outcome = Option<Result<Vec<GpuValue>, String>>;

pub(super) fn execute(gpu: &Cuda, id: BuiltinId, args: &[GpuValue]) -> Outcome {
    let a = BuiltinArgs(args);
    let (program, inputs) = if id == ids::BATCH_NORM2D {
        let train = match args.get(5)? {
            GpuValue::Host(Value::Str(s)) if &**s == "train" => true,
            GpuValue::Host(Value::Str(s)) if &**s == "test" => false,
            _ => return None,
        };
        let inputs = [a.matrix(0)?, a.matrix(1)?, a.matrix(2)?, a.matrix(3)?, a.matrix(4)?];
        let (n, c, hw) = batch_norm_geometry(inputs[0], &inputs[1..])?;
        (batch_norm::forward(n, c, hw, train, a.number(6)?, a.number(7)?), inputs.to_vec())
    } else if id == ids::BATCH_NORM2D_BACKWARD {
        // (input, dout, gamma, epsilon, cache_mean, cache_inv_var): epsilon is in the cache.
        let inputs = [a.matrix(0)?, a.matrix(1)?, a.matrix(2)?, a.matrix(4)?, a.matrix(5)?];
        let (n, c, hw) = batch_norm_geometry(inputs[0], &inputs[2..])?;
        if shape(inputs[1]) != shape(inputs[0]) {
            return None;
        }
        (batch_norm::backward(n, c, hw), inputs.to_vec())
    } else if id == ids::LSTM || id == ids::LSTM_BACKWARD {
        let (x, w, bias, out0, c0) = (a.matrix(0)?, a.matrix(1)?, a.matrix(2)?, a.matrix(3)?, a.matrix(4)?);
        let seq = a.flag(5)?;
        let dims = lstm_dims(x, w, bias, out0, c0)?;
        if id == ids::LSTM {
            (lstm::forward(dims, seq), vec![x, w, bias, out0, c0])
        } else {
            let given = [a.matrix(6)?, a.matrix(7)?, a.matrix(8)?, a.matrix(9)?, a.matrix(10)?];
            let Dims { n, t, m, .. } = dims;
            let want = [(n, if seq { t * m } else { m }), (n, m), (t, n * m), (t, n * m), (t, n * 4 * m)];
            if given.iter().zip(want).any(|(g, w)| shape(*g) != w) {
                return None;
            }
            let mut inputs = vec![x, w, out0, c0];
            inputs.extend(given);
            (lstm::backward(dims, seq), inputs)
        }
    } else {
        return None;
    };
    if !products_fit_int(&program) {
        return None;
    }
    timed(gpu, || {
        let bufs: Vec<DevBuf> = inputs.into_iter().map(|m| gpu.resident(m)).collect::<Option<_>>()?;
        Some(run(gpu, &program, &bufs))
    })
}

fn shape(m: MatArg) -> (usize, usize) {
    (m.rows(), m.cols())
}

/// The geometry `(N, C, H*W)` of an input `N x C*H*W` with `C` from the per-channel vectors,
/// which must all be `C x 1`; `None` for what the CPU must judge.
fn batch_norm_geometry(x: MatArg, per_channel: &[MatArg]) -> Option<(usize, usize, usize)> {
    let c = per_channel.first()?.rows();
    let (n, cols) = shape(x);
    if c == 0 || n == 0 || cols == 0 || !cols.is_multiple_of(c) {
        return None;
    }
    if per_channel.iter().any(|m| shape(*m) != (c, 1)) {
        return None;
    }
    Some((n, c, cols / c))
}

/// The sizes, when the shapes are the ones the CPU kernel takes (`W` of `(D+M) x 4M`, `X` of
/// `N x T*D`, `bias` of `1 x 4M`, initial states of at least `N` rows of `M`); otherwise `None`.
fn lstm_dims(x: MatArg, w: MatArg, bias: MatArg, out0: MatArg, c0: MatArg) -> Option<Dims> {
    let m = w.cols() / 4;
    if m == 0 || !w.cols().is_multiple_of(4) || w.rows() <= m {
        return None;
    }
    let d = w.rows() - m;
    let n = x.rows();
    if n == 0 || x.cols() == 0 || !x.cols().is_multiple_of(d) {
        return None;
    }
    if shape(bias) != (1, 4 * m) || [out0, c0].iter().any(|s| s.rows() < n || s.cols() != m) {
        return None;
    }
    Some(Dims { n, t: x.cols() / d, d, m })
}

/// Whether every product's sizes fit cuBLAS's 32-bit integers.
fn products_fit_int(p: &Program) -> bool {
    p.steps.iter().all(|s| match s {
        Step::Product(q) => {
            let g = q.gemm();
            [g.m, g.n, g.k, g.lda, g.ldb, g.ldc].iter().all(|&v| v > 0 && v <= i32::MAX as usize)
        }
        Step::Kernel(_) => true,
    })
}

/// Runs `program` on `inputs` (the device copies of its inputs, in order): allocates its
/// buffers, launches its steps in order on the stream and wraps its outputs as device matrices.
/// The buffers no output keeps are freed in stream order when they drop.
fn run(gpu: &Cuda, program: &Program, inputs: &[DevBuf]) -> Result<Vec<GpuValue>, String> {
    let temps: Vec<DevBuf> =
        program.temps.iter().map(|&cells| gpu.alloc(cells).map(Arc::new)).collect::<Result<_, _>>()?;
    let buf = |b: Buf| -> &DevBuf {
        match b {
            Buf::Input(i) => &inputs[i],
            Buf::Temp(i) => &temps[i],
        }
    };
    for step in &program.steps {
        match step {
            Step::Kernel(k) => {
                let f = gpu.function(k.name, || (k.source)(k.name))?;
                let mut launch = gpu.stream.launch_builder(&f);
                // Written buffers are pushed as shared references too: with one stream and
                // event tracking off, a pointer is all a launch takes.
                for &b in &k.bufs {
                    launch.arg(&**buf(b));
                }
                for s in &k.scalars {
                    match s {
                        Scalar::I64(v) => launch.arg(v),
                        Scalar::I32(v) => launch.arg(v),
                        Scalar::F64(v) => launch.arg(v),
                    };
                }
                // SAFETY: each kernel declares its buffers then its scalars in the order the
                // program lists them (the host check runs the same lists against the CPU); the
                // program sizes every buffer for the cells its kernels touch.
                unsafe { launch.launch(grid(k.cells, THREADS)) }
                    .map_err(|e| format!("CUDA {}: {e}", k.name))?;
            }
            Step::Product(p) => {
                let g = p.gemm();
                let op =
                    |t: bool| if t { cublasOperation_t::CUBLAS_OP_T } else { cublasOperation_t::CUBLAS_OP_N };
                let (a, _ra) = buf(g.a).device_ptr(&gpu.stream);
                let (b, _rb) = buf(g.b).device_ptr(&gpu.stream);
                let (c, _rc) = buf(g.c).device_ptr(&gpu.stream);
                let (alpha, beta) = (1.0f64, 0.0f64);
                // SAFETY: the handle is bound to the stream; the pointers are live device
                // buffers holding the cells the column-major sizes and leading dimensions
                // describe (checked against the host product in the host check), all within
                // `i32` (`products_fit_int`); alpha and beta are host values (the default
                // pointer mode).
                unsafe {
                    cudarc::cublas::result::dgemm(
                        *gpu.blas.handle(),
                        op(g.transa),
                        op(g.transb),
                        g.m as i32,
                        g.n as i32,
                        g.k as i32,
                        &alpha,
                        a as *const f64,
                        g.lda as i32,
                        b as *const f64,
                        g.ldb as i32,
                        &beta,
                        c as *mut f64,
                        g.ldc as i32,
                    )
                }
                .map_err(|e| format!("cuBLAS dgemm: {e}"))?;
            }
        }
    }
    Ok(program
        .outputs
        .iter()
        .map(|&(b, rows, cols)| {
            GpuValue::Device(DeviceMatrix::new(rows, cols, DeviceBuffer::Cuda(buf(b).clone())))
        })
        .collect())
}
