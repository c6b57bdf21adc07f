//! `lstm` (5 outputs) and `lstm_backward` (5 outputs) on the device: the whole time loop is one
//! submission, a pass a step (see `kernels::lstm`), with the products over all steps on the
//! shared tiled product kernel; every output stays on the device. Shapes the CPU builtin would
//! reject are left to it, for its message.

use super::kernels;
use super::kernels::lstm as lstm_kernels;
use super::ops::special_constants;
use super::{DevMatrix, Gpu, Pass, grid};
use crate::builtins::{BuiltinId, ids};
use crate::gpu::value::{BuiltinArgs, GpuValue, MatArg};
use std::sync::Arc;

/// What one multi-output device builtin gives: `None` when it does not take the case.
type Outcome = Option<Result<Vec<GpuValue>, String>>;

/// A kernel's pipeline name and its WGSL source.
type NamedKernel = (&'static str, fn() -> String);

/// Whether [`execute`] runs `id`.
pub(super) fn takes(id: BuiltinId) -> bool {
    id == ids::LSTM || id == ids::LSTM_BACKWARD
}

pub(super) fn execute(gpu: &Gpu, id: BuiltinId, args: &[GpuValue]) -> Outcome {
    let a = BuiltinArgs(args);
    let layer = Layer {
        x: a.matrix(0)?,
        w: a.matrix(1)?,
        bias: a.matrix(2)?,
        out0: a.matrix(3)?,
        c0: a.matrix(4)?,
        seq: a.flag(5)?,
    };
    let dims = layer.dims(gpu)?;
    if id == ids::LSTM {
        return forward(gpu, &layer, dims);
    }
    let given = Given {
        dout: a.matrix(6)?,
        dc: a.matrix(7)?,
        cache_out: a.matrix(8)?,
        cache_c: a.matrix(9)?,
        cache_ifog: a.matrix(10)?,
    };
    backward(gpu, &layer, dims, &given)
}

/// The arguments both builtins share.
struct Layer<'a> {
    x: MatArg<'a>,
    w: MatArg<'a>,
    bias: MatArg<'a>,
    out0: MatArg<'a>,
    c0: MatArg<'a>,
    /// `return_sequences` (forward) or `given_sequences` (backward).
    seq: bool,
}

/// The backward's gradients and forward caches.
struct Given<'a> {
    dout: MatArg<'a>,
    dc: MatArg<'a>,
    cache_out: MatArg<'a>,
    cache_c: MatArg<'a>,
    cache_ifog: MatArg<'a>,
}

/// Batch `n`, steps `t`, features `d`, units `m`.
#[derive(Clone, Copy)]
struct Dims {
    n: usize,
    t: usize,
    d: usize,
    m: usize,
}

impl Layer<'_> {
    /// The sizes, when the shapes are the ones the CPU kernel takes (`W` of `(D+M) x 4M`, `X` of
    /// `N x T*D`, `bias` of `1 x 4M`, initial states of at least `N` rows of `M`) and every
    /// buffer and product grid fits the device; otherwise `None`.
    fn dims(&self, gpu: &Gpu) -> Option<Dims> {
        let (w, x) = (self.w, self.x);
        let m = w.cols() / 4;
        if m == 0 || !w.cols().is_multiple_of(4) || w.rows() <= m {
            return None;
        }
        let d = w.rows() - m;
        let n = x.rows();
        if n == 0 || x.cols() == 0 || !x.cols().is_multiple_of(d) {
            return None;
        }
        let t = x.cols() / d;
        if (self.bias.rows(), self.bias.cols()) != (1, 4 * m)
            || [self.out0, self.c0].iter().any(|s| s.rows() < n || s.cols() != m)
        {
            return None;
        }
        let rows = n * t;
        let products_fit = [rows, d, 4 * m].iter().all(|v| v.div_ceil(kernels::TILE) <= 65535);
        let buffers_fit = [rows * 4 * m, rows * d, (d + m) * 4 * m].iter().all(|&c| gpu.fits(c));
        (products_fit && buffers_fit).then_some(Dims { n, t, d, m })
    }
}

/// The product pass `C = op(A) %*% op(B)` (`m x n`, inner dimension `k`, from `params`) on the
/// shared kernel, `bufs` being `[A, B, C]`; `B` may hold more rows than it reads (then its first
/// ones are read).
fn product<'a>(bufs: &'a [&'a wgpu::Buffer; 3], params: &'a [u32; 5]) -> Pass<'a> {
    let [m, n, ..] = *params;
    let groups = (n.div_ceil(kernels::TILE as u32), m.div_ceil(kernels::TILE as u32));
    Pass { kernel: "matmul", buffers: bufs, params, groups }
}

/// The parameters of [`product`]: sizes and transposes.
fn product_params(m: usize, n: usize, k: usize, ta: bool, tb: bool) -> [u32; 5] {
    [m as u32, n as u32, k as u32, ta as u32, tb as u32]
}

/// Compiles the product kernel and the LSTM kernels named.
fn compile(gpu: &Gpu, names: &[NamedKernel]) -> Result<(), String> {
    gpu.compile("matmul", kernels::matmul)?;
    names.iter().try_for_each(|(name, source)| gpu.compile(name, source))
}

/// The step kernels' parameters at step `s`.
fn step_params(dims: Dims, s: usize, seq: bool) -> Vec<u32> {
    let Dims { n, t, d, m } = dims;
    [&[n, t, d, m, s, seq as usize].map(|v| v as u32)[..], &special_constants()].concat()
}

/// `[out, c, cache_out, cache_c, cache_ifog]`.
fn forward(gpu: &Gpu, layer: &Layer, dims: Dims) -> Outcome {
    let Dims { n, t, d, m } = dims;
    let g4 = 4 * m;
    let up = |a: MatArg| gpu.resident(a);
    let (x, w, bias, out0, c0): (DevMatrix, DevMatrix, DevMatrix, DevMatrix, DevMatrix) =
        (up(layer.x)?, up(layer.w)?, up(layer.bias)?, up(layer.out0)?, up(layer.c0)?);
    if let Err(e) = compile(
        gpu,
        &[
            ("lstm_gates_in", lstm_kernels::gates_in),
            ("lstm_step", lstm_kernels::step),
            ("lstm_copy", lstm_kernels::copy),
        ],
    ) {
        return Some(Err(e));
    }
    let xw = gpu.output(t * n * g4);
    let ifog = Arc::new(gpu.output(t * n * g4));
    let (cache_out, cache_c) = (Arc::new(gpu.output(t * n * m)), Arc::new(gpu.output(t * n * m)));
    let out = Arc::new(gpu.output(if layer.seq { n * t * m } else { n * m }));
    let c_last = Arc::new(gpu.output(n * m));

    // The input side of every step: X (read as N*T x D) %*% W_x (W's first D rows).
    let p_input = product_params(n * t, g4, d, false, false);
    let input_bufs = [&*x.buf, &*w.buf, &xw];
    let mut passes = vec![product(&input_bufs, &p_input)];
    let p_gates = [n as u32, t as u32, g4 as u32, 0];
    let gates_bufs = [&xw, &*bias.buf, &*ifog];
    passes.push(Pass {
        kernel: "lstm_gates_in",
        buffers: &gates_bufs,
        params: &p_gates,
        groups: grid((t * n * g4).div_ceil(256)),
    });
    // Without sequences, the steps write no output sequence: `out` is bound but not written.
    let step_bufs = [&*w.buf, &*out0.buf, &*c0.buf, &*ifog, &*cache_out, &*cache_c, &*out];
    let p_steps: Vec<Vec<u32>> = (0..t).map(|s| step_params(dims, s, layer.seq)).collect();
    for p in &p_steps {
        passes.push(Pass {
            kernel: "lstm_step",
            buffers: &step_bufs,
            params: p,
            groups: grid((n * m).div_ceil(256)),
        });
    }
    let last = [(n * m) as u32, ((t - 1) * n * m) as u32];
    let copy_out = [&*cache_out, &*out];
    if !layer.seq {
        passes.push(Pass {
            kernel: "lstm_copy",
            buffers: &copy_out,
            params: &last,
            groups: grid((n * m).div_ceil(256)),
        });
    }
    let copy_c = [&*cache_c, &*c_last];
    passes.push(Pass {
        kernel: "lstm_copy",
        buffers: &copy_c,
        params: &last,
        groups: grid((n * m).div_ceil(256)),
    });
    if let Err(e) = gpu.submit(&passes) {
        return Some(Err(e));
    }
    Some(Ok(vec![
        gpu.finish(out, n, if layer.seq { t * m } else { m }),
        gpu.finish(c_last, n, m),
        gpu.finish(cache_out, t, n * m),
        gpu.finish(cache_c, t, n * m),
        gpu.finish(ifog, t, n * g4),
    ]))
}

/// `[dX, dW, db, dout0, dc0]`.
fn backward(gpu: &Gpu, layer: &Layer, dims: Dims, given: &Given) -> Outcome {
    let Dims { n, t, d, m } = dims;
    let g4 = 4 * m;
    let shape = |a: MatArg| (a.rows(), a.cols());
    if shape(given.dout) != (n, if layer.seq { t * m } else { m })
        || shape(given.dc) != (n, m)
        || shape(given.cache_out) != (t, n * m)
        || shape(given.cache_c) != (t, n * m)
        || shape(given.cache_ifog) != (t, n * g4)
    {
        return None;
    }
    let up = |a: MatArg| gpu.resident(a);
    let (x, w, out0, c0) = (up(layer.x)?, up(layer.w)?, up(layer.out0)?, up(layer.c0)?);
    let (dout, dc) = (up(given.dout)?, up(given.dc)?);
    let (cache_out, cache_c, cache_ifog) = (up(given.cache_out)?, up(given.cache_c)?, up(given.cache_ifog)?);
    if let Err(e) = compile(
        gpu,
        &[
            ("lstm_copy", lstm_kernels::copy),
            ("lstm_backward_step", lstm_kernels::backward_step),
            ("lstm_backward_dout0", lstm_kernels::backward_dout0),
            ("lstm_backward_dwh_db", lstm_kernels::backward_dwh_db),
        ],
    ) {
        return Some(Err(e));
    }
    // The gate gradients of every step, rows batch-major (`r*T + s`) like `X`'s.
    let dgates = gpu.output(n * t * g4);
    let dc0 = Arc::new(gpu.output(n * m));
    let dout0 = Arc::new(gpu.output(n * m));
    let dw = Arc::new(gpu.output((d + m) * g4));
    let db = Arc::new(gpu.output(g4));
    let dx = Arc::new(gpu.output(n * t * d));
    let cells = grid((n * m).div_ceil(256));

    let p_copy = [(n * m) as u32, 0];
    let copy_dc = [&*dc.buf, &*dc0];
    let mut passes = vec![Pass { kernel: "lstm_copy", buffers: &copy_dc, params: &p_copy, groups: cells }];
    let step_bufs = [&*w.buf, &*dout.buf, &*cache_ifog.buf, &*cache_c.buf, &*c0.buf, &dgates, &*dc0];
    let p_steps: Vec<Vec<u32>> = (0..t).rev().map(|s| step_params(dims, s, layer.seq)).collect();
    for p in &p_steps {
        passes.push(Pass { kernel: "lstm_backward_step", buffers: &step_bufs, params: p, groups: cells });
    }
    let p_sizes = [n, t, d, m].map(|v| v as u32);
    let dout0_bufs = [&*w.buf, &dgates, &*dout0];
    passes.push(Pass {
        kernel: "lstm_backward_dout0",
        buffers: &dout0_bufs,
        params: &p_sizes,
        groups: cells,
    });
    // dW_x = t(X) %*% dgates over all N*T rows (X read as N*T x D), into dW's first D rows.
    let p_dwx = product_params(d, g4, n * t, true, false);
    let p_dx = product_params(n * t, d, g4, false, true);
    let dwh_bufs = [&*out0.buf, &*cache_out.buf, &dgates, &*dw, &*db];
    let dwx_bufs = [&*x.buf, &dgates, &*dw];
    passes.push(product(&dwx_bufs, &p_dwx));
    passes.push(Pass {
        kernel: "lstm_backward_dwh_db",
        buffers: &dwh_bufs,
        params: &p_sizes,
        groups: grid(((m + 1) * g4).div_ceil(256)),
    });
    // dX = dgates %*% t(W_x): N*T x D, which is dX's N x T*D layout.
    let dx_bufs = [&dgates, &*w.buf, &*dx];
    passes.push(product(&dx_bufs, &p_dx));
    if let Err(e) = gpu.submit(&passes) {
        return Some(Err(e));
    }
    Some(Ok(vec![
        gpu.finish(dx, n, t * d),
        gpu.finish(dw, d + m, g4),
        gpu.finish(db, 1, g4),
        gpu.finish(dout0, n, m),
        gpu.finish(dc0, n, m),
    ]))
}
