//! Emitters of normalization and noise ops (BatchNorm, LayerNorm, GaussianNoise/Dropout,
//! PReLU).
//!
//! BatchNormalization runs on the engine's `batch_norm2d` builtin (Keras's formula: per channel
//! `inv = gamma / sqrt(var + eps)`, `out = x * inv + (beta - mean * inv)`, biased batch variance,
//! `moving = moving * momentum + batch * (1 - momentum)`), whatever the rank: a channels-first
//! tensor is its `N x (C*S)` input as is, a row-major one its `(N*S) x C` reshape (channels are
//! the fastest axis), a vector is C = D channels of one cell.

use super::shape::dims_literal;
use super::{Cx, num};
use crate::convert::error::ConvertError;
use crate::convert::ir::{Layout, Node, Op};

pub fn forward(cx: &mut Cx, node: &Node) -> Result<(), ConvertError> {
    let (x, out) = (cx.input(node, 0), cx.output(node, 0));
    match &node.op {
        Op::BatchNorm { .. } => batch_norm_forward(cx, node)?,
        Op::LayerNorm { .. } => layer_norm_forward(cx, node),
        Op::GaussianNoise { stddev } => {
            // Keras adds the noise whenever it trains (the layer has no weights to freeze).
            if cx.train() && *stddev > 0.0 {
                cx.line(format!(
                    "{out} = {x} + rand(rows=nrow({x}), cols=ncol({x}), pdf=\"normal\", seed=-1) * {}",
                    num(*stddev)
                ));
            } else {
                cx.line(format!("{out} = {x}"));
            }
        }
        Op::GaussianDropout { rate } => {
            if cx.train() && *rate > 0.0 {
                let noise = cx.cache(node, "noise");
                cx.comment("Multiplicative noise of mean 1 and variance rate / (1 - rate).");
                cx.line(format!(
                    "{noise} = rand(rows=nrow({x}), cols=ncol({x}), pdf=\"normal\", seed=-1) * {} + 1",
                    num((rate / (1.0 - rate)).sqrt())
                ));
                cx.line(format!("{out} = {x} * {noise}"));
            } else {
                cx.line(format!("{out} = {x}"));
            }
        }
        Op::PRelu { alpha_shape } => prelu_forward(cx, node, alpha_shape),
        _ => unreachable!("dispatched by emit::forward"),
    }
    Ok(())
}

pub fn backward(cx: &mut Cx, node: &Node) -> Result<(), ConvertError> {
    let dout = cx.dout(node, 0);
    match &node.op {
        Op::BatchNorm { .. } => batch_norm_backward(cx, node),
        Op::LayerNorm { .. } => layer_norm_backward(cx, node),
        Op::GaussianNoise { .. } => cx.add_input_grad(node, 0, &dout),
        Op::GaussianDropout { rate } => {
            if cx.train() && *rate > 0.0 {
                let noise = cx.cache(node, "noise");
                cx.add_input_grad(node, 0, &format!("{dout} * {noise}"));
            } else {
                cx.add_input_grad(node, 0, &dout);
            }
        }
        Op::PRelu { alpha_shape } => prelu_backward(cx, node, alpha_shape),
        _ => unreachable!("dispatched by emit::backward"),
    }
    Ok(())
}

/// How a per-channel op sees its input: the channel count, the number of cells per channel of one
/// example, and whether the DML matrix is channels first (else row-major, channels fastest).
fn channels(cx: &Cx, node: &Node) -> (usize, usize, bool) {
    let shape = cx.in_shape(node, 0);
    let c = shape.last().copied().unwrap_or(1);
    let s = cx.g.tensors[node.inputs[0]].width() / c.max(1);
    (c, s, cx.g.tensors[node.inputs[0]].layout == Layout::ChannelsFirst)
}

/// The BatchNorm parameter variables (gamma, beta, moving mean, moving variance), constants for a
/// missing gamma (`scale=False`) or beta (`center=False`).
struct BnParams {
    gamma: String,
    beta: String,
    mean: String,
    var: String,
    gamma_k: Option<usize>,
    beta_k: Option<usize>,
}

fn bn_params(cx: &Cx, node: &Node) -> BnParams {
    let Op::BatchNorm { center, scale, .. } = node.op else { unreachable!() };
    let (c, _, _) = channels(cx, node);
    let mut k = 0;
    let mut next = |present: bool| {
        let r = present.then_some(k);
        k += usize::from(present);
        r
    };
    let (gamma_k, beta_k) = (next(scale), next(center));
    let m = k;
    BnParams {
        gamma: gamma_k
            .map_or_else(|| format!("matrix(1, rows={c}, cols=1)"), |k| cx.param(node, k).to_string()),
        beta: beta_k
            .map_or_else(|| format!("matrix(0, rows={c}, cols=1)"), |k| cx.param(node, k).to_string()),
        mean: cx.param(node, m).to_string(),
        var: cx.param(node, m + 1).to_string(),
        gamma_k,
        beta_k,
    }
}

/// The BatchNorm input as the builtin's `N' x (C*S')` matrix: as is when channels first or a
/// vector, else row-major `(N*S) x C`. Returns the variable (or expression) and whether it is a
/// reshape (whose results must be reshaped back).
fn bn_rows(x: &str, s: usize, c: usize, cf: bool) -> (String, bool) {
    if cf || s == 1 {
        (x.to_string(), false)
    } else {
        (format!("matrix({x}, rows=nrow({x})*{s}, cols={c})"), true)
    }
}

fn batch_norm_forward(cx: &mut Cx, node: &Node) -> Result<(), ConvertError> {
    let Op::BatchNorm { momentum, epsilon, .. } = node.op else { unreachable!() };
    let (x, out) = (cx.input(node, 0), cx.output(node, 0));
    let (c, s, cf) = channels(cx, node);
    let p = bn_params(cx, node);
    let (rows, reshaped) = bn_rows(x, s, c, cf);
    let xr = if reshaped {
        let v = cx.cache(node, "x2");
        cx.line(format!("{v} = {rows}"));
        v
    } else {
        rows
    };
    let target = if reshaped { cx.cache(node, "out2") } else { out.to_string() };
    let (cm, civ) = (cx.cache(node, "mean"), cx.cache(node, "inv_std"));
    let train = cx.train_mode_of(node);
    if train {
        cx.comment(
            "Batch statistics (biased variance); the moving averages take them with Keras's momentum.",
        );
        cx.line(format!(
            "[{target}, {mm}, {mv}, {cm}, {civ}] = batch_norm2d(input={xr}, gamma={g}, beta={b}, ema_mean={mm}, \
             ema_var={mv}, mode=\"train\", epsilon={eps}, momentum={mom})",
            mm = p.mean,
            mv = p.var,
            g = p.gamma,
            b = p.beta,
            eps = num(epsilon),
            mom = num(momentum)
        ));
    } else {
        if cx.train() {
            cx.comment("Frozen (trainable=False): inference mode during training too, as Keras.");
        }
        let (um, uv) = (cx.cache(node, "mean_unchanged"), cx.cache(node, "var_unchanged"));
        cx.line(format!(
            "[{target}, {um}, {uv}, {cm}, {civ}] = batch_norm2d(input={xr}, gamma={g}, beta={b}, ema_mean={mm}, \
             ema_var={mv}, mode=\"test\", epsilon={eps}, momentum={mom})",
            mm = p.mean,
            mv = p.var,
            g = p.gamma,
            b = p.beta,
            eps = num(epsilon),
            mom = num(momentum)
        ));
    }
    if reshaped {
        cx.line(format!("{out} = matrix({target}, rows=nrow({x}), cols={})", s * c));
    }
    Ok(())
}

fn batch_norm_backward(cx: &mut Cx, node: &Node) {
    let Op::BatchNorm { epsilon, .. } = node.op else { unreachable!() };
    let x = cx.input(node, 0);
    let dout = cx.dout(node, 0);
    let (c, s, cf) = channels(cx, node);
    let p = bn_params(cx, node);
    let (_, reshaped) = bn_rows(x, s, c, cf);
    let xr = if reshaped { cx.cache(node, "x2") } else { x.to_string() };
    let dr = if reshaped {
        let v = cx.cache(node, "dout2");
        cx.line(format!("{v} = matrix({dout}, rows=nrow({dout})*{s}, cols={c})"));
        v
    } else {
        dout.clone()
    };
    let need_dx = cx.needs_input_grad(node, 0);
    if cx.train_mode_of(node) {
        let (cm, civ) = (cx.cache(node, "mean"), cx.cache(node, "inv_std"));
        let trained = |k: Option<usize>| k.filter(|&k| cx.param_trained(node, k));
        let dgamma =
            trained(p.gamma_k).map_or_else(|| cx.cache(node, "dgamma_unused"), |k| cx.param_grad(node, k));
        let dbeta =
            trained(p.beta_k).map_or_else(|| cx.cache(node, "dbeta_unused"), |k| cx.param_grad(node, k));
        let dx = if reshaped || !need_dx { cx.cache(node, "dx") } else { cx.input_grad_target(node, 0) };
        cx.line(format!(
            "[{dx}, {dgamma}, {dbeta}] = batch_norm2d_backward(input={xr}, dout={dr}, gamma={}, epsilon={}, \
             cache_mean={cm}, cache_inv_var={civ})",
            p.gamma,
            num(epsilon)
        ));
        if need_dx {
            let expr = if reshaped { format!("matrix({dx}, rows=nrow({dout}), cols={})", s * c) } else { dx };
            cx.add_input_grad(node, 0, &expr);
        }
    } else if need_dx {
        // Inference mode: a per-channel affine map, so the gradient is dout scaled per channel.
        let civ = cx.cache(node, "inv_std");
        let scale = format!("{} * {civ}", p.gamma);
        let expr = if cf {
            format!("bias_multiply({dr}, {scale})")
        } else if reshaped {
            format!("matrix({dr} * t({scale}), rows=nrow({dout}), cols={})", s * c)
        } else {
            format!("{dr} * t({scale})")
        };
        cx.add_input_grad(node, 0, &expr);
    }
}

/// The input of a last-axis op as `(rows, D)`: the matrix itself for a vector, its reshape with
/// one row per position otherwise (row-major: the last axis is the fastest).
fn last_axis_rows(cx: &Cx, node: &Node, v: &str) -> (String, usize, usize) {
    let shape = cx.in_shape(node, 0);
    let d = shape.last().copied().unwrap_or(1);
    let lead = cx.g.tensors[node.inputs[0]].width() / d.max(1);
    let e = if lead == 1 { v.to_string() } else { format!("matrix({v}, rows=nrow({v})*{lead}, cols={d})") };
    (e, lead, d)
}

fn layer_norm_forward(cx: &mut Cx, node: &Node) {
    let Op::LayerNorm { epsilon, center, scale } = node.op else { unreachable!() };
    let (x, out) = (cx.input(node, 0), cx.output(node, 0));
    let (rows, lead, d) = last_axis_rows(cx, node, x);
    let alias = cx.src("keras/norm.dml", "keras_norm");
    let gamma = if scale { cx.param(node, 0).to_string() } else { format!("matrix(1, rows=1, cols={d})") };
    let beta = if center {
        cx.param(node, usize::from(scale)).to_string()
    } else {
        format!("matrix(0, rows=1, cols={d})")
    };
    let (norm, inv) = (cx.cache(node, "norm"), cx.cache(node, "inv_std"));
    let target = if lead > 1 { cx.cache(node, "out2") } else { out.to_string() };
    cx.line(format!(
        "[{target}, {norm}, {inv}] = {alias}::layer_norm_forward({rows}, {gamma}, {beta}, {})",
        num(epsilon)
    ));
    if lead > 1 {
        cx.line(format!("{out} = matrix({target}, rows=nrow({x}), cols={})", lead * d));
    }
}

fn layer_norm_backward(cx: &mut Cx, node: &Node) {
    let Op::LayerNorm { center, scale, .. } = node.op else { unreachable!() };
    let dout = cx.dout(node, 0);
    let (rows, lead, d) = last_axis_rows(cx, node, &dout);
    let alias = cx.src("keras/norm.dml", "keras_norm");
    let gamma = if scale { cx.param(node, 0).to_string() } else { format!("matrix(1, rows=1, cols={d})") };
    let dgamma = if scale && cx.param_trained(node, 0) {
        cx.param_grad(node, 0)
    } else {
        cx.cache(node, "dgamma_unused")
    };
    let kb = usize::from(scale);
    let dbeta = if center && cx.param_trained(node, kb) {
        cx.param_grad(node, kb)
    } else {
        cx.cache(node, "dbeta_unused")
    };
    let (norm, inv) = (cx.cache(node, "norm"), cx.cache(node, "inv_std"));
    let need_dx = cx.needs_input_grad(node, 0);
    let dx = if lead > 1 || !need_dx { cx.cache(node, "dx") } else { cx.input_grad_target(node, 0) };
    cx.line(format!(
        "[{dx}, {dgamma}, {dbeta}] = {alias}::layer_norm_backward({rows}, {gamma}, {norm}, {inv})"
    ));
    if need_dx {
        let expr = if lead > 1 { format!("matrix({dx}, rows=nrow({dout}), cols={})", lead * d) } else { dx };
        cx.add_input_grad(node, 0, &expr);
    }
}

/// How alpha reaches the input's cells.
enum AlphaFit {
    /// One alpha per cell (no shared axes): a `1 x width` row.
    Cells,
    /// One per channel of a channels-first input: `t(alpha)` is the `C x 1` column `bias_multiply`
    /// takes.
    ChannelsFirst { c: usize, s: usize },
    /// One per channel of a row-major tensor: a row over its `(N*S) x C` reshape.
    LastAxis { c: usize, s: usize },
    /// Anything else: a 0/1 broadcasting matrix.
    Broadcast,
}

fn alpha_fit(cx: &Cx, node: &Node, alpha_shape: &[usize]) -> AlphaFit {
    let shape = cx.in_shape(node, 0);
    let (c, s, cf) = channels(cx, node);
    let per_channel = alpha_shape.split_last().is_some_and(|(_, lead)| lead.iter().all(|&d| d == 1));
    if cf {
        // The layout pass gives a channels-first input only to a per-channel alpha.
        AlphaFit::ChannelsFirst { c, s }
    } else if alpha_shape == shape || s == 1 {
        AlphaFit::Cells
    } else if per_channel {
        AlphaFit::LastAxis { c, s }
    } else {
        AlphaFit::Broadcast
    }
}

/// `max(x, 0) + min(x, 0) * alpha` (Keras: `relu(x) - alpha * relu(-x)`, the same numbers).
fn prelu_forward(cx: &mut Cx, node: &Node, alpha_shape: &[usize]) {
    let (x, out) = (cx.input(node, 0), cx.output(node, 0));
    let alpha = cx.param(node, 0);
    match alpha_fit(cx, node, alpha_shape) {
        AlphaFit::Cells => cx.line(format!("{out} = max({x}, 0) + min({x}, 0) * {alpha}")),
        AlphaFit::ChannelsFirst { .. } => {
            cx.line(format!("{out} = max({x}, 0) + bias_multiply(min({x}, 0), t({alpha}))"))
        }
        AlphaFit::LastAxis { c, s } => {
            let x2 = cx.cache(node, "x2");
            cx.line(format!("{x2} = matrix({x}, rows=nrow({x})*{s}, cols={c})"));
            cx.line(format!(
                "{out} = matrix(max({x2}, 0) + min({x2}, 0) * {alpha}, rows=nrow({x}), cols={})",
                c * s
            ));
        }
        AlphaFit::Broadcast => {
            let alias = cx.src("keras/shape.dml", "keras_shape");
            let e = cx.cache(node, "spread");
            cx.comment("alpha broadcast along the shared axes.");
            cx.line(format!(
                "{e} = {alias}::broadcasting({}, {})",
                dims_literal(cx.in_shape(node, 0)),
                dims_literal(alpha_shape)
            ));
            cx.line(format!("{out} = max({x}, 0) + min({x}, 0) * ({alpha} %*% {e})"));
        }
    }
}

fn prelu_backward(cx: &mut Cx, node: &Node, alpha_shape: &[usize]) {
    let x = cx.input(node, 0);
    let dout = cx.dout(node, 0);
    let alpha = cx.param(node, 0);
    let fit = alpha_fit(cx, node, alpha_shape);
    // Keras's relu has slope 0 at 0, so a cell at exactly 0 passes no gradient.
    let (dalpha, dx) = match fit {
        AlphaFit::Cells => {
            (format!("colSums({dout} * min({x}, 0))"), format!("{dout} * (({x} > 0) + ({x} < 0) * {alpha})"))
        }
        AlphaFit::ChannelsFirst { c, s } => (
            format!("t(rowSums(matrix(colSums({dout} * min({x}, 0)), rows={c}, cols={s})))"),
            format!("{dout} * (({x} > 0) + bias_multiply({x} < 0, t({alpha})))"),
        ),
        AlphaFit::LastAxis { c, s } => {
            let (x2, d2) = (cx.cache(node, "x2"), cx.cache(node, "dout2"));
            cx.line(format!("{d2} = matrix({dout}, rows=nrow({dout})*{s}, cols={c})"));
            (
                format!("colSums({d2} * min({x2}, 0))"),
                format!(
                    "matrix({d2} * (({x2} > 0) + ({x2} < 0) * {alpha}), rows=nrow({dout}), cols={})",
                    c * s
                ),
            )
        }
        AlphaFit::Broadcast => {
            let e = cx.cache(node, "spread");
            (
                format!("colSums({dout} * min({x}, 0)) %*% t({e})"),
                format!("{dout} * (({x} > 0) + ({x} < 0) * ({alpha} %*% {e}))"),
            )
        }
    };
    if cx.param_trained(node, 0) {
        let da = cx.param_grad(node, 0);
        cx.line(format!("{da} = {dalpha}"));
    }
    if cx.needs_input_grad(node, 0) {
        cx.add_input_grad(node, 0, &dx);
    }
}
