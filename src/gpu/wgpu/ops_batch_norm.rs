//! `batch_norm2d` (5 outputs) and `batch_norm2d_backward` (3 outputs) on the device, each one
//! submission of the passes in `kernels::batch_norm`; every output stays on the device and is
//! the CPU kernel's to the bit. Arguments the CPU builtin would reject (a mode other than
//! "train"/"test", shapes that do not fit `C = nrow(gamma)`) are left to it, for its message.

use super::kernels::batch_norm as kernels;
use super::kernels::sequential_aggregate::MAX_LEN;
use super::ops::split;
use super::{Gpu, Pass};
use crate::builtins::{BuiltinId, ids};
use crate::gpu::value::{BuiltinArgs, GpuValue, MatArg};
use crate::types::value::Value;
use std::sync::Arc;

/// What one multi-output device builtin gives: `None` when it does not take the case.
type Outcome = Option<Result<Vec<GpuValue>, String>>;

/// A kernel's pipeline name and its WGSL source.
type NamedKernel = (&'static str, fn() -> String);

/// Whether [`execute`] runs `id`.
pub(super) fn takes(id: BuiltinId) -> bool {
    id == ids::BATCH_NORM2D || id == ids::BATCH_NORM2D_BACKWARD
}

pub(super) fn execute(gpu: &Gpu, id: BuiltinId, args: &[GpuValue]) -> Outcome {
    let a = BuiltinArgs(args);
    if id == ids::BATCH_NORM2D {
        let train = match args.get(5)? {
            GpuValue::Host(Value::Str(s)) if &**s == "train" => true,
            GpuValue::Host(Value::Str(s)) if &**s == "test" => false,
            _ => return None,
        };
        let stats = [a.matrix(1)?, a.matrix(2)?, a.matrix(3)?, a.matrix(4)?];
        forward(gpu, a.matrix(0)?, stats, train, a.number(6)?, a.number(7)?)
    } else {
        backward(gpu, [a.matrix(0)?, a.matrix(1)?], [a.matrix(2)?, a.matrix(4)?, a.matrix(5)?])
    }
}

/// The geometry `(N, C, H*W)` of an input `N x C*H*W` with `C` from the per-channel vectors,
/// which must all be `C x 1`; `None` for what the CPU must judge, and for rows or planes longer
/// than one invocation folds (see `sequential_aggregate::MAX_LEN`).
fn geometry(gpu: &Gpu, x: MatArg, per_channel: &[MatArg]) -> Option<(usize, usize, usize)> {
    let c = per_channel.first()?.rows();
    let (n, cols) = (x.rows(), x.cols());
    if c == 0 || n == 0 || cols == 0 || !cols.is_multiple_of(c) || !gpu.fits(n * cols) {
        return None;
    }
    if per_channel.iter().any(|m| (m.rows(), m.cols()) != (c, 1)) {
        return None;
    }
    let hw = cols / c;
    if n > MAX_LEN || hw > MAX_LEN || !gpu.fits(n * c) {
        return None;
    }
    Some((n, c, hw))
}

/// Workgroups of 64 invocations, one invocation a channel.
fn channel_groups(c: usize) -> (u32, u32) {
    (c.div_ceil(64) as u32, 1)
}

/// Compiles the kernels the batch-norm passes use.
fn compile(gpu: &Gpu, kernels: &[NamedKernel]) -> Result<(), String> {
    kernels.iter().try_for_each(|(name, source)| gpu.compile(name, source))
}

/// `[out, ema_mean, ema_var, cache_mean, cache_inv_var]` from the input and
/// `[gamma, beta, ema_mean, ema_var]`.
fn forward(gpu: &Gpu, x: MatArg, stats: [MatArg; 4], train: bool, eps: f64, mu: f64) -> Outcome {
    let (n, c, hw) = geometry(gpu, x, &stats)?;
    let dx = gpu.resident(x)?;
    let (g, b) = (gpu.resident(stats[0])?, gpu.resident(stats[1])?);
    let (em, ev) = (gpu.resident(stats[2])?, gpu.resident(stats[3])?);
    if let Err(e) = compile(
        gpu,
        &[
            ("bn_channel_sums", kernels::channel_sums),
            ("bn_stats", kernels::stats),
            ("bn_normalize", kernels::normalize),
        ],
    ) {
        return Some(Err(e));
    }
    let channel = || Arc::new(gpu.output(c));
    let (mean, em_out, ev_out, inv) = (channel(), channel(), channel(), channel());
    let out = Arc::new(gpu.output(n * c * hw));
    // The rows' sums, one a row and channel (test mode reads none: one cell each to bind).
    let sum_cells = if train { n * c } else { 1 };
    let (sums, centered_sums) = (gpu.output(sum_cells), gpu.output(sum_cells));
    let sum_groups = super::grid((n * c).div_ceil(256));
    let sum_params = |centered: u32| [n as u32, c as u32, hw as u32, centered];
    let stats_params = |phase: kernels::StatsPhase| {
        [&[n as u32, c as u32, phase as u32, 0][..], &split((n * hw) as f64), &split(eps), &split(mu)]
            .concat()
    };
    let (p_sums, p_centered) = (sum_params(0), sum_params(1));
    let (p_mean, p_var, p_running) = (
        stats_params(kernels::StatsPhase::Mean),
        stats_params(kernels::StatsPhase::Variance),
        stats_params(kernels::StatsPhase::Running),
    );
    let sums_in = [&*dx.buf, &*mean, &sums];
    let centered_in = [&*dx.buf, &*mean, &centered_sums];
    let mean_bufs = [&sums, &*em.buf, &*ev.buf, &*mean, &*em_out, &*ev_out, &*inv];
    let var_bufs = [&centered_sums, &*em.buf, &*ev.buf, &*mean, &*em_out, &*ev_out, &*inv];
    let groups = channel_groups(c);
    let mut passes = Vec::new();
    if train {
        passes.push(Pass {
            kernel: "bn_channel_sums",
            buffers: &sums_in,
            params: &p_sums,
            groups: sum_groups,
        });
        passes.push(Pass { kernel: "bn_stats", buffers: &mean_bufs, params: &p_mean, groups });
        passes.push(Pass {
            kernel: "bn_channel_sums",
            buffers: &centered_in,
            params: &p_centered,
            groups: sum_groups,
        });
        passes.push(Pass { kernel: "bn_stats", buffers: &var_bufs, params: &p_var, groups });
    } else {
        passes.push(Pass { kernel: "bn_stats", buffers: &mean_bufs, params: &p_running, groups });
    }
    let cells = n * c * hw;
    let p_norm = [cells as u32, (c * hw) as u32, hw as u32, 0];
    let norm_bufs = [&*dx.buf, &*g.buf, &*b.buf, &*mean, &*inv, &*out];
    passes.push(Pass {
        kernel: "bn_normalize",
        buffers: &norm_bufs,
        params: &p_norm,
        groups: super::grid(cells.div_ceil(256)),
    });
    if let Err(e) = gpu.submit(&passes) {
        return Some(Err(e));
    }
    Some(Ok(vec![
        gpu.finish(out, n, c * hw),
        gpu.finish(em_out, c, 1),
        gpu.finish(ev_out, c, 1),
        gpu.finish(mean, c, 1),
        gpu.finish(inv, c, 1),
    ]))
}

/// `[dX, dgamma, dbeta]` from `[input, dout]` and `[gamma, cache_mean, cache_inv_var]`
/// (`epsilon` is not needed: the inverse deviation includes it).
fn backward(gpu: &Gpu, data: [MatArg; 2], per_channel: [MatArg; 3]) -> Outcome {
    let [x, d] = data;
    let (n, c, hw) = geometry(gpu, x, &per_channel)?;
    if (d.rows(), d.cols()) != (x.rows(), x.cols()) {
        return None;
    }
    let (dx, dd) = (gpu.resident(x)?, gpu.resident(d)?);
    let [g, mean, inv] =
        [gpu.resident(per_channel[0])?, gpu.resident(per_channel[1])?, gpu.resident(per_channel[2])?];
    if let Err(e) = compile(
        gpu,
        &[("bn_backward_sums", kernels::backward_sums), ("bn_backward_dx", kernels::backward_dx)],
    ) {
        return Some(Err(e));
    }
    let (dgamma, dbeta) = (Arc::new(gpu.output(c)), Arc::new(gpu.output(c)));
    let cells = n * c * hw;
    let out = Arc::new(gpu.output(cells));
    let p_sums = [n as u32, c as u32, hw as u32, 0];
    let sums_bufs = [&*dx.buf, &*dd.buf, &*mean.buf, &*inv.buf, &*dgamma, &*dbeta];
    let p_dx = [&[cells as u32, (c * hw) as u32, hw as u32, 0][..], &split((n * hw) as f64)].concat();
    let dx_bufs = [&*dx.buf, &*dd.buf, &*g.buf, &*mean.buf, &*inv.buf, &*dgamma, &*dbeta, &*out];
    let passes = [
        Pass { kernel: "bn_backward_sums", buffers: &sums_bufs, params: &p_sums, groups: channel_groups(c) },
        Pass {
            kernel: "bn_backward_dx",
            buffers: &dx_bufs,
            params: &p_dx,
            groups: super::grid(cells.div_ceil(256)),
        },
    ];
    if let Err(e) = gpu.submit(&passes) {
        return Some(Err(e));
    }
    Some(Ok(vec![gpu.finish(out, n, c * hw), gpu.finish(dgamma, c, 1), gpu.finish(dbeta, c, 1)]))
}
