//! DML of Caffe's own layers ([`CaffeOp`]), forward and backward, on nn's channels-first rows
//! (Caffe's NCHW order). The engine's DNN builtins are called directly; per-channel statistics are
//! sums over each channel's block of columns.

use super::ops::CaffeOp;
use crate::convert::emit::{Cx, num};
use crate::convert::error::ConvertError;
use crate::convert::ir::Node;

/// Channels and positions per channel of a logical shape (a vector: every cell a channel).
fn chw(shape: &[usize]) -> (usize, usize, usize) {
    match shape {
        [h, w, c] => (*c, *h, *w),
        [t, c] => (*c, 1, *t),
        _ => (shape.iter().product(), 1, 1),
    }
}

/// Per-channel sums `(C, 1)` of an `N x (C*P)` matrix.
fn channel_sums(m: &str, c: usize, p: usize) -> String {
    if p == 1 {
        format!("t(colSums({m}))")
    } else {
        format!("rowSums(matrix(colSums({m}), rows={c}, cols={p}))")
    }
}

/// A `(C, 1)` column spread over its channel's positions: a `1 x (C*P)` row that broadcasts.
fn spread(v: &str, p: usize) -> String {
    if p == 1 {
        format!("t({v})")
    } else {
        format!("matrix({v} %*% matrix(1, rows=1, cols={p}), rows=1, cols=nrow({v})*{p})")
    }
}

pub fn forward(cx: &mut Cx, node: &Node, op: &CaffeOp) -> Result<(), ConvertError> {
    let x = cx.input(node, 0);
    let out = cx.output(node, 0);
    let (c, h, w) = chw(cx.in_shape(node, 0));
    let p = h * w;
    match op {
        CaffeOp::Conv { filters, kernel, strides, pads, dilation, group, bias } => {
            let (oc, oh, ow) = chw(cx.out_shape(node, 0));
            let _ = oc;
            let wd = dilated_kernel(cx, node, op, c / group);
            let (cg, fg) = (c / group, filters / group);
            let ke = [dilation[0] * (kernel[0] - 1) + 1, dilation[1] * (kernel[1] - 1) + 1];
            let geo = format!(
                "input_shape=[nrow({x}), {cg}, {h}, {w}], filter_shape=[{fg}, {cg}, {}, {}], stride=[{}, {}], padding=[{}, {}]",
                ke[0], ke[1], strides[0], strides[1], pads[0], pads[1]
            );
            let raw = if *bias { cx.cache(node, "raw") } else { out.to_string() };
            if *group == 1 {
                cx.line(format!("{raw} = conv2d({x}, {wd}, {geo})"));
            } else {
                cx.comment(format!(
                    "{group} groups: group g convolves input channels g*{cg}.. with filters g*{fg}.."
                ));
                cx.line(format!("{raw} = matrix(0, rows=nrow({x}), cols={})", filters * oh * ow));
                cx.code.open(format!("for (gi in 1:{group})"));
                cx.line(format!(
                    "{raw}[, ((gi - 1) * {fo} + 1):(gi * {fo})] = conv2d({x}[, ((gi - 1) * {ci} + 1):(gi * {ci})], {wd}[((gi - 1) * {fg} + 1):(gi * {fg}), ], {geo})",
                    fo = fg * oh * ow,
                    ci = cg * p
                ));
                cx.code.close();
            }
            if *bias {
                cx.line(format!("{out} = bias_add({raw}, {})", cx.param(node, 1)));
            }
        }
        CaffeOp::AvePool { kernel, strides, pads, out: o } => {
            let (xe, he, we) = extend_bottom_right(cx, node, x, c, h, w, op);
            let div = ave_divisor(cx, node, op, c, h, w);
            let _ = o;
            cx.line(format!(
                "{out} = avg_pool({xe}, input_shape=[nrow({x}), {c}, {he}, {we}], pool_size=[{}, {}], stride=[{}, {}], padding=[{}, {}]) * {} / {div}",
                kernel[0], kernel[1], strides[0], strides[1], pads[0], pads[1], kernel[0] * kernel[1]
            ));
        }
        CaffeOp::BatchNorm { eps, moving_average_fraction, use_global_stats } => {
            let (mean_sum, var_sum, factor) = (cx.param(node, 0), cx.param(node, 1), cx.param(node, 2));
            let batch_stats = use_global_stats.map_or(cx.train_mode_of(node), |g| !g);
            let (xc, inv) = (cx.cache(node, "centered"), cx.cache(node, "inv_std"));
            if batch_stats {
                let (mean, var) = (cx.cache(node, "mean"), cx.cache(node, "var"));
                cx.comment("Caffe's BatchNorm: the batch's statistics over examples and positions (biased variance).");
                cx.line(format!("{}_m = nrow({x}) * {p}", node.name));
                cx.line(format!("{mean} = {} / {}_m", channel_sums(x, c, p), node.name));
                cx.line(format!("{xc} = {x} - {}", spread(&mean, p)));
                cx.line(format!("{var} = {} / {}_m", channel_sums(&format!("{xc}^2"), c, p), node.name));
                cx.line(format!("{inv} = 1 / sqrt({var} + {})", num(*eps)));
                if cx.train_mode_of(node) {
                    let maf = num(*moving_average_fraction);
                    cx.comment("Running sums (Caffe's three blobs): the statistics are the sums over the factor; the");
                    cx.comment("variance is kept unbiased (m / (m - 1)).");
                    cx.line(format!("{factor} = {factor} * {maf} + 1"));
                    cx.line(format!("{mean_sum} = {mean_sum} * {maf} + {mean}"));
                    cx.line(format!(
                        "{var_sum} = {var_sum} * {maf} + {var} * ifelse({n}_m > 1, {n}_m / ({n}_m - 1), 1)",
                        n = node.name
                    ));
                }
            } else {
                cx.comment("Caffe's BatchNorm with the stored statistics (running sums over their factor).");
                let s = cx.cache(node, "scale");
                cx.line(format!("{s} = ifelse(as.scalar({factor}) == 0, 0, 1 / as.scalar({factor}))"));
                cx.line(format!("{xc} = {x} - {}", spread(&format!("({mean_sum} * {s})"), p)));
                cx.line(format!("{inv} = 1 / sqrt({var_sum} * {s} + {})", num(*eps)));
            }
            cx.line(format!("{out} = {xc} * {}", spread(&inv, p)));
        }
        CaffeOp::Scale { bias } => {
            let g = cx.param(node, 0);
            if *bias {
                cx.line(format!("{out} = {x} * {} + {}", spread(g, p), spread(cx.param(node, 1), p)));
            } else {
                cx.line(format!("{out} = {x} * {}", spread(g, p)));
            }
        }
        CaffeOp::Lrn { size, alpha, beta, k } => {
            let scale = cx.cache(node, "scale");
            let sum = window_sum(cx, node, &format!("{x}^2"), c, p, *size, false);
            cx.line(format!("{scale} = {} + {} * {sum}", num(*k), num(alpha / *size as f64)));
            cx.line(format!("{out} = {x} * {scale}^(-{})", num(*beta)));
        }
        CaffeOp::WeightedSum { coeffs } => {
            let terms: Vec<String> = coeffs
                .iter()
                .enumerate()
                .map(|(i, k)| format!("{} * {}", num(*k), cx.input(node, i)))
                .collect();
            cx.line(format!("{out} = {}", terms.join(" + ")));
        }
        CaffeOp::Reshape { .. } => {
            cx.comment("Caffe's reshape keeps the NCHW order of the cells: the same DML matrix.");
            cx.line(format!("{out} = {x}"));
        }
    }
    Ok(())
}

pub fn backward(cx: &mut Cx, node: &Node, op: &CaffeOp) -> Result<(), ConvertError> {
    let x = cx.input(node, 0);
    let out = cx.output(node, 0);
    let dout = cx.dout(node, 0);
    let (c, h, w) = chw(cx.in_shape(node, 0));
    let p = h * w;
    match op {
        CaffeOp::Conv { filters, kernel, strides, pads, dilation, group, bias } => {
            let (_, oh, ow) = chw(cx.out_shape(node, 0));
            let (cg, fg) = (c / group, filters / group);
            let ke = [dilation[0] * (kernel[0] - 1) + 1, dilation[1] * (kernel[1] - 1) + 1];
            let wd = cx.cache(node, "wd");
            let geo = format!(
                "stride=[{}, {}], padding=[{}, {}], input_shape=[nrow({x}), {cg}, {h}, {w}], filter_shape=[{fg}, {cg}, {}, {}]",
                strides[0], strides[1], pads[0], pads[1], ke[0], ke[1]
            );
            let dilated = dilation != &[1, 1];
            if *bias && cx.param_trained(node, 1) {
                let db = cx.param_grad(node, 1);
                cx.line(format!("{db} = {}", channel_sums(&dout, *filters, oh * ow)));
            }
            let want_w = cx.param_trained(node, 0);
            let want_x = cx.needs_input_grad(node, 0);
            let dwd = if dilated { cx.cache(node, "dwd") } else { cx.param_grad(node, 0) };
            let dx = cx.cache(node, "dx");
            if *group == 1 {
                if want_w {
                    cx.line(format!("{dwd} = conv2d_backward_filter({x}, {dout}, {geo})"));
                }
                if want_x {
                    cx.line(format!("{dx} = conv2d_backward_data({wd}, {dout}, {geo})"));
                }
            } else {
                if want_w {
                    cx.line(format!("{dwd} = matrix(0, rows={filters}, cols={})", cg * ke[0] * ke[1]));
                }
                if want_x {
                    cx.line(format!("{dx} = matrix(0, rows=nrow({x}), cols={})", c * p));
                }
                cx.code.open(format!("for (gi in 1:{group})"));
                let dg = format!("{dout}[, ((gi - 1) * {fo} + 1):(gi * {fo})]", fo = fg * oh * ow);
                let xg = format!("{x}[, ((gi - 1) * {ci} + 1):(gi * {ci})]", ci = cg * p);
                if want_w {
                    cx.line(format!("{dwd}[((gi - 1) * {fg} + 1):(gi * {fg}), ] = conv2d_backward_filter({xg}, {dg}, {geo})"));
                }
                if want_x {
                    cx.line(format!(
                        "{dx}[, ((gi - 1) * {ci} + 1):(gi * {ci})] = conv2d_backward_data({wd}[((gi - 1) * {fg} + 1):(gi * {fg}), ], {dg}, {geo})",
                        ci = cg * p
                    ));
                }
                cx.code.close();
            }
            if want_w && dilated {
                let dw = cx.param_grad(node, 0);
                cx.line(format!("{dw} = {dwd} %*% t({})", cx.cache(node, "dilation")));
            }
            if want_x {
                cx.add_input_grad(node, 0, &dx);
            }
        }
        CaffeOp::AvePool { kernel, strides, pads, .. } => {
            let (he, we) = extended_hw(op, h, w);
            let xe = if (he, we) == (h, w) { x.to_string() } else { cx.cache(node, "xe") };
            let div = cx.cache(node, "div");
            let dxe = cx.cache(node, "dxe");
            cx.line(format!(
                "{dxe} = avg_pool_backward({xe}, {dout} * {} / {div}, input_shape=[nrow({x}), {c}, {he}, {we}], pool_size=[{}, {}], stride=[{}, {}], padding=[{}, {}])",
                kernel[0] * kernel[1], kernel[0], kernel[1], strides[0], strides[1], pads[0], pads[1]
            ));
            if (he, we) == (h, w) {
                cx.add_input_grad(node, 0, &dxe);
            } else {
                let dx = cx.cache(node, "dx");
                cx.comment("The gradient of the zero cells ceil mode added is dropped.");
                cx.line(format!("{dx} = matrix({dxe}, rows=nrow({x}) * {c}, cols={})", he * we));
                cx.line(format!(
                    "{dx} = matrix({dx}[, 1:{}], rows=nrow({x}) * {c} * {h}, cols={we})",
                    h * we
                ));
                cx.line(format!("{dx} = matrix({dx}[, 1:{w}], rows=nrow({x}), cols={})", c * p));
                cx.add_input_grad(node, 0, &dx);
            }
        }
        CaffeOp::BatchNorm { use_global_stats, .. } => {
            let batch_stats = use_global_stats.map_or(cx.train_mode_of(node), |g| !g);
            let inv = cx.cache(node, "inv_std");
            if !batch_stats {
                cx.add_input_grad(node, 0, &format!("{dout} * {}", spread(&inv, p)));
            } else {
                let m = format!("{}_m", node.name);
                let (dm, dxm) = (cx.cache(node, "dmean"), cx.cache(node, "dxhat_mean"));
                cx.comment(
                    "BatchNorm's gradient with batch statistics: (dy - mean(dy) - y * mean(dy * y)) / std.",
                );
                cx.line(format!("{dm} = {} / {m}", channel_sums(&dout, c, p)));
                cx.line(format!("{dxm} = {} / {m}", channel_sums(&format!("({dout} * {out})"), c, p)));
                let g = format!(
                    "({dout} - {} - {out} * {}) * {}",
                    spread(&dm, p),
                    spread(&dxm, p),
                    spread(&inv, p)
                );
                cx.add_input_grad(node, 0, &g);
            }
        }
        CaffeOp::Scale { bias } => {
            if cx.param_trained(node, 0) {
                let dg = cx.param_grad(node, 0);
                cx.line(format!("{dg} = {}", channel_sums(&format!("({dout} * {x})"), c, p)));
            }
            if *bias && cx.param_trained(node, 1) {
                let db = cx.param_grad(node, 1);
                cx.line(format!("{db} = {}", channel_sums(&dout, c, p)));
            }
            if cx.needs_input_grad(node, 0) {
                cx.add_input_grad(node, 0, &format!("{dout} * {}", spread(cx.param(node, 0), p)));
            }
        }
        CaffeOp::Lrn { size, alpha, beta, .. } => {
            let scale = cx.cache(node, "scale");
            let sum = window_sum(cx, node, &format!("({dout} * {out} / {scale})"), c, p, *size, true);
            let g = format!(
                "{dout} * {scale}^(-{}) - {} * {x} * {sum}",
                num(*beta),
                num(2.0 * alpha * beta / *size as f64)
            );
            cx.add_input_grad(node, 0, &g);
        }
        CaffeOp::WeightedSum { coeffs } => {
            for (i, k) in coeffs.iter().enumerate() {
                cx.add_input_grad(node, i, &format!("{} * {dout}", num(*k)));
            }
        }
        CaffeOp::Reshape { .. } => cx.add_input_grad(node, 0, &dout),
    }
    Ok(())
}

/// The kernel with `dilation - 1` zeros between its taps: `W %*% <node>_dilation`, a 0/1 matrix
/// from the `(C/group)*kh*kw` taps to the `(C/group)*keh*kew` cells of the dilated kernel.
fn dilated_kernel(cx: &mut Cx, node: &Node, op: &CaffeOp, cg: usize) -> String {
    let CaffeOp::Conv { kernel, dilation, .. } = op else { return cx.param(node, 0).to_string() };
    let w = cx.param(node, 0);
    let wd = cx.cache(node, "wd");
    if dilation == &[1, 1] {
        cx.line(format!("{wd} = {w}"));
        return wd;
    }
    let (kh, kw) = (kernel[0], kernel[1]);
    let (keh, kew) = (dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1);
    let d = cx.cache(node, "dilation");
    let n = cg * kh * kw;
    cx.comment(format!(
        "Dilation {}x{}: the {kh}x{kw} kernel spread over {keh}x{kew} cells.",
        dilation[0], dilation[1]
    ));
    cx.line(format!("{d}_tap = seq(0, {})", n - 1));
    cx.line(format!("{d}_c = floor({d}_tap / {})", kh * kw));
    cx.line(format!("{d}_i = floor(({d}_tap - {d}_c * {}) / {kw})", kh * kw));
    cx.line(format!("{d}_j = {d}_tap - {d}_c * {} - {d}_i * {kw}", kh * kw));
    cx.line(format!(
        "{d} = table(seq(1, {n}), {d}_c * {} + {d}_i * {} + {d}_j * {} + 1, {n}, {})",
        keh * kew,
        dilation[0] * kew,
        dilation[1],
        cg * keh * kew
    ));
    cx.line(format!("{wd} = {w} %*% {d}"));
    wd
}

/// Frame size of an average pooling's input after the zero cells ceil mode needs at the bottom
/// and right.
fn extended_hw(op: &CaffeOp, h: usize, w: usize) -> (usize, usize) {
    let CaffeOp::AvePool { kernel, strides, pads, out } = op else { return (h, w) };
    let ext = |a: usize, n: usize| ((out[a] - 1) * strides[a] + kernel[a]).saturating_sub(n + 2 * pads[a]);
    (h + ext(0, h), w + ext(1, w))
}

fn extend_bottom_right(
    cx: &mut Cx,
    node: &Node,
    x: &str,
    c: usize,
    h: usize,
    w: usize,
    op: &CaffeOp,
) -> (String, usize, usize) {
    let (he, we) = extended_hw(op, h, w);
    if (he, we) == (h, w) {
        return (x.to_string(), h, w);
    }
    let xe = cx.cache(node, "xe");
    cx.comment(format!("Ceil mode: zero cells below and right of the {h}x{w} input ({he}x{we})."));
    cx.line(format!("{xe} = matrix({x}, rows=nrow({x}) * {c} * {h}, cols={w})"));
    if we > w {
        cx.line(format!("{xe} = cbind({xe}, matrix(0, rows=nrow({xe}), cols={}))", we - w));
    }
    cx.line(format!("{xe} = matrix({xe}, rows=nrow({x}) * {c}, cols={})", h * we));
    if he > h {
        cx.line(format!("{xe} = cbind({xe}, matrix(0, rows=nrow({xe}), cols={}))", (he - h) * we));
    }
    cx.line(format!("{xe} = matrix({xe}, rows=nrow({x}), cols={})", c * he * we));
    (xe, he, we)
}

/// Caffe's divisor per output position: the window's cells inside the padded frame.
fn ave_divisor(cx: &mut Cx, node: &Node, op: &CaffeOp, c: usize, h: usize, w: usize) -> String {
    let CaffeOp::AvePool { kernel, strides, pads, out } = op else { return "1".into() };
    let counts = |a: usize, n: usize| -> Vec<String> {
        (0..out[a])
            .map(|o| {
                let start = (o * strides[a]) as i64 - pads[a] as i64;
                let end = (start + kernel[a] as i64).min((n + pads[a]) as i64);
                (end - start).to_string()
            })
            .collect()
    };
    let (ch, cw) = (counts(0, h), counts(1, w));
    let div = cx.cache(node, "div");
    cx.line(format!(
        "{div} = matrix(\"{}\", rows={}, cols=1) %*% matrix(\"{}\", rows=1, cols={})",
        ch.join(" "),
        out[0],
        cw.join(" "),
        out[1]
    ));
    cx.line(format!(
        "{div} = matrix(matrix(1, rows={c}, cols=1) %*% matrix({div}, rows=1, cols={}), rows=1, cols={})",
        out[0] * out[1],
        c * out[0] * out[1]
    ));
    div
}

/// Sum over a window of `size` channels around each channel (`adjoint`: the transposed window,
/// for the backward pass) of an `N x (C*P)` expression.
fn window_sum(
    cx: &mut Cx,
    node: &Node,
    expr: &str,
    c: usize,
    p: usize,
    size: usize,
    adjoint: bool,
) -> String {
    let pre = (size - 1) / 2;
    let post = size - 1 - pre;
    let (before, after) = if adjoint { (post, pre) } else { (pre, post) };
    let v = cx.cache(node, if adjoint { "dwin" } else { "win" });
    cx.line(format!("{v}_src = {expr}"));
    let mut parts = Vec::new();
    if before > 0 {
        parts.push(format!("matrix(0, rows=nrow({v}_src), cols={})", before * p));
    }
    parts.push(format!("{v}_src"));
    if after > 0 {
        parts.push(format!("matrix(0, rows=nrow({v}_src), cols={})", after * p));
    }
    let padded = if parts.len() == 1 {
        parts.remove(0)
    } else {
        parts.into_iter().reduce(|a, b| format!("cbind({a}, {b})")).unwrap_or_default()
    };
    cx.line(format!("{v}_pad = {padded}"));
    let terms: Vec<String> =
        (0..size).map(|j| format!("{v}_pad[, {}:{}]", j * p + 1, j * p + c * p)).collect();
    cx.line(format!("{v} = {}", terms.join(" + ")));
    v
}
