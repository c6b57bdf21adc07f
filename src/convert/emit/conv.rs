//! Emitters of convolution, pooling, padding, cropping, upsampling and spatial dropout ops, in
//! nn's channels-first layout (an image `[H, W, C]` is a row of `C*H*W` cells; a sequence `[T, C]`
//! a row of `C*T` cells, i.e. an image of height 1).
//!
//! The engine's DNN builtins are called directly (`conv2d`, `bias_add`, `max_pool`, ... and their
//! backward builtins), each in one expression, so the engine's fusions see their patterns:
//! `bias_add(conv2d(..), b)`, and `max(X, 0)` (the fused activation) read by `max_pool`.
//!
//! The builtins pad symmetrically. Keras's `'same'` may pad one cell more at the bottom/right;
//! that extra cell is padded explicitly (zeros for convolutions and average pooling, `-Inf` for
//! max pooling, which the builtin's own padding also ignores), and the gradient is cropped back.
//! Keras's average pooling divides by the number of real cells under `'same'`, the builtin by the
//! window size: the output is divided by the fraction of each window that is real cells.

use super::{Cx, num};
use crate::convert::error::ConvertError;
use crate::convert::ir::{Layout, Node, Op, Pads, PoolKind};

/// The channels-first geometry of a tensor: `C` channels of `H x W` (a sequence has `H = 1`).
#[derive(Clone, Copy, Debug)]
struct Geom {
    c: usize,
    h: usize,
    w: usize,
}

impl Geom {
    fn of(shape: &[usize]) -> Geom {
        match shape {
            [h, w, c] => Geom { c: *c, h: *h, w: *w },
            [t, c] => Geom { c: *c, h: 1, w: *t },
            _ => Geom { c: shape.iter().product(), h: 1, w: 1 },
        }
    }

    fn cells(&self) -> usize {
        self.c * self.h * self.w
    }

    fn shape_arg(&self, rows: &str) -> String {
        format!("input_shape=[{rows}, {}, {}, {}]", self.c, self.h, self.w)
    }
}

/// A sliding-window op in 2-D terms (1-D ops have a window height of 1).
#[derive(Clone, Copy, Debug)]
struct Window {
    k: [usize; 2],
    s: [usize; 2],
    pads: Pads,
}

/// The input of a window op after the explicit part of its padding.
struct Prepared {
    /// The variable the builtin reads (the input itself, or its padded copy).
    var: String,
    geom: Geom,
    /// The symmetric padding the builtin adds itself.
    pad: [usize; 2],
    /// The cells padded explicitly `[top, bottom, left, right]` (cropped from the gradient).
    extra: Pads,
}

impl Prepared {
    fn args(&self, win: &Window) -> String {
        format!("stride=[{}, {}], padding=[{}, {}]", win.s[0], win.s[1], self.pad[0], self.pad[1])
    }

    fn padded(&self) -> bool {
        self.extra.iter().any(|&e| e > 0)
    }
}

fn window_of(op: &Op) -> Window {
    match op {
        Op::Conv2D { kernel, strides, pads, .. }
        | Op::DepthwiseConv2D { kernel, strides, pads, .. }
        | Op::SeparableConv2D { kernel, strides, pads, .. } => {
            Window { k: *kernel, s: *strides, pads: *pads }
        }
        Op::Conv1D { kernel, stride, pads, .. } => Window { k: [1, *kernel], s: [1, *stride], pads: *pads },
        Op::GroupedConv2D { kernel, strides, dilations, pads, .. } => Window {
            k: [(kernel[0] - 1) * dilations[0] + 1, (kernel[1] - 1) * dilations[1] + 1],
            s: *strides,
            pads: *pads,
        },
        Op::Pool2D { pool, strides, pads, .. } => Window { k: *pool, s: *strides, pads: *pads },
        Op::Pool1D { pool, stride, pads, .. } => Window { k: [1, *pool], s: [1, *stride], pads: *pads },
        _ => Window { k: [1, 1], s: [1, 1], pads: [0; 4] },
    }
}

/// Splits the padding into the symmetric part the builtin adds and the extra cells padded
/// explicitly (with `value`) into `<node>_xpad`.
fn prepare(cx: &mut Cx, node: &Node, win: &Window, value: &str) -> Prepared {
    let x = cx.input(node, 0);
    let geom = Geom::of(cx.in_shape(node, 0));
    let [t, b, l, r] = win.pads;
    let pad = [t.min(b), l.min(r)];
    let extra = [t - pad[0], b - pad[0], l - pad[1], r - pad[1]];
    if extra.iter().all(|&e| e == 0) {
        return Prepared { var: x.to_string(), geom, pad, extra };
    }
    let var = cx.cache(node, "xpad");
    cx.comment(format!(
        "Keras pads unevenly here: {} (padded explicitly); the builtin pads [{}, {}] on both sides",
        describe_sides(&extra, "more"),
        pad[0],
        pad[1]
    ));
    let sides = extra.map(|e| -(e as i64));
    let geom2 = reframe(cx, x, &var, geom, sides, value);
    Prepared { var, geom: geom2, pad, extra }
}

fn describe_sides(s: &Pads, what: &str) -> String {
    let names = ["top", "bottom", "left", "right"];
    let parts: Vec<String> =
        s.iter().zip(names).filter(|(v, _)| **v > 0).map(|(v, n)| format!("{v} {what} at the {n}")).collect();
    parts.join(", ")
}

/// Writes `dst` = `src` (channels-first, `g`) with `sides[i]` cells removed from each side
/// `[top, bottom, left, right]` (a negative count adds that many cells of `value`). Returns the
/// new geometry. Reshapes make each step a column slice or a `cbind`: rows of width `W` for the
/// left and right sides, rows of `H*W` cells (one channel) for the top and bottom.
fn reframe(cx: &mut Cx, src: &str, dst: &str, g: Geom, sides: [i64; 4], value: &str) -> Geom {
    let [t, b, l, r] = sides;
    let w2 = (g.w as i64 - l - r) as usize;
    let h2 = (g.h as i64 - t - b) as usize;
    let n = format!("nrow({src})");
    let mut cur = src.to_string();
    let fill = |rows: &str, cols: i64| format!("matrix({value}, rows={rows}, cols={cols})");
    if l != 0 || r != 0 {
        let rows = format!("{n}*{}", g.c * g.h);
        cx.line(format!("{dst} = matrix({cur}, rows={rows}, cols={})", g.w));
        cur = dst.to_string();
        let (cl, cr) = (l.max(0), r.max(0));
        if cl > 0 || cr > 0 {
            cx.line(format!("{dst} = {dst}[, {}:{}]", cl + 1, g.w as i64 - cr));
        }
        let (pl, pr) = ((-l).max(0), (-r).max(0));
        if pl > 0 || pr > 0 {
            let mut parts = Vec::new();
            if pl > 0 {
                parts.push(fill(&rows, pl));
            }
            parts.push(dst.to_string());
            if pr > 0 {
                parts.push(fill(&rows, pr));
            }
            cx.line(format!("{dst} = cbind({})", parts.join(", ")));
        }
    }
    if t != 0 || b != 0 {
        let rows = format!("{n}*{}", g.c);
        cx.line(format!("{dst} = matrix({cur}, rows={rows}, cols={})", g.h * w2));
        cur = dst.to_string();
        let (ct, cb) = (t.max(0), b.max(0));
        if ct > 0 || cb > 0 {
            cx.line(format!("{dst} = {dst}[, {}:{}]", ct * w2 as i64 + 1, (g.h as i64 - cb) * w2 as i64));
        }
        let (pt, pb) = ((-t).max(0), (-b).max(0));
        if pt > 0 || pb > 0 {
            let mut parts = Vec::new();
            if pt > 0 {
                parts.push(fill(&rows, pt * w2 as i64));
            }
            parts.push(dst.to_string());
            if pb > 0 {
                parts.push(fill(&rows, pb * w2 as i64));
            }
            cx.line(format!("{dst} = cbind({})", parts.join(", ")));
        }
    }
    let g2 = Geom { c: g.c, h: h2, w: w2 };
    if cur == src {
        cx.line(format!("{dst} = {src}"));
    } else {
        cx.line(format!("{dst} = matrix({dst}, rows={n}, cols={})", g2.cells()));
    }
    g2
}

/// Adds the gradient `grad` (with respect to the prepared input) to the input's gradient,
/// cropping the explicitly padded cells.
fn input_grad_from_prepared(cx: &mut Cx, node: &Node, prep: &Prepared, grad: &str) {
    if !prep.padded() {
        cx.add_input_grad(node, 0, grad);
        return;
    }
    let d = cx.cache(node, "dxpad");
    cx.line(format!("{d} = {grad}"));
    let target = cx.cache(node, "dx");
    let sides = prep.extra.map(|e| e as i64);
    reframe(cx, &d, &target, prep.geom, sides, "0");
    cx.add_input_grad(node, 0, &target);
}

/// The prepared input of a node as the forward pass wrote it (for the backward pass).
fn prepared_again(cx: &Cx, node: &Node, win: &Window) -> Prepared {
    let geom = Geom::of(cx.in_shape(node, 0));
    let [t, b, l, r] = win.pads;
    let pad = [t.min(b), l.min(r)];
    let extra = [t - pad[0], b - pad[0], l - pad[1], r - pad[1]];
    if extra.iter().all(|&e| e == 0) {
        return Prepared { var: cx.input(node, 0).to_string(), geom, pad, extra };
    }
    let g2 = Geom { c: geom.c, h: geom.h + extra[0] + extra[1], w: geom.w + extra[2] + extra[3] };
    Prepared { var: cx.cache(node, "xpad"), geom: g2, pad, extra }
}

/// Sum of each channel's gradient over examples and positions: `(C, 1)`, as nn's `channel_sums`.
fn channel_sums(d: &str, c: usize, positions: usize) -> String {
    format!("rowSums(matrix(colSums({d}), rows={c}, cols={positions}))")
}

/// A comment line saying what a node computes, in nn's channels-first terms.
fn describe(cx: &Cx, node: &Node) -> Option<String> {
    let ig = Geom::of(cx.in_shape(node, 0));
    let og = Geom::of(cx.out_shape(node, 0));
    let dims = |g: Geom| format!("{}x{}x{}", g.c, g.h, g.w);
    let (i, o) = (dims(ig), dims(og));
    let win = window_of(&node.op);
    let geometry = || {
        let pads = if win.pads == [0; 4] {
            "no padding".to_string()
        } else {
            format!("padding [top, bottom, left, right] = {:?}", win.pads)
        };
        format!("{}x{}, stride {}x{}, {pads}", win.k[0], win.k[1], win.s[0], win.s[1])
    };
    Some(match &node.op {
        Op::Conv2D { filters, .. } | Op::Conv1D { filters, .. } => {
            format!("{filters} filters {} over {i} (channels x height x width) -> {o}", geometry())
        }
        Op::Conv2DTranspose { filters, kernel, strides, .. } => format!(
            "transposed convolution, {filters} filters {}x{}, stride {}x{}: {i} -> {o}",
            kernel[0], kernel[1], strides[0], strides[1]
        ),
        Op::DepthwiseConv2D { depth_multiplier, .. } => {
            format!("{depth_multiplier} filter(s) per channel {} over {i} -> {o}", geometry())
        }
        Op::SeparableConv2D { depth_multiplier, filters, .. } => format!(
            "{depth_multiplier} filter(s) per channel {} over {i}, then {filters} 1x1 filters -> {o}",
            geometry()
        ),
        Op::Pool2D { kind, .. } | Op::Pool1D { kind, .. } => {
            format!("{kind:?} pooling {} over {i} -> {o}", geometry())
        }
        Op::GlobalPool { kind, .. } => {
            format!("{kind:?} over the positions of each channel: {i} -> {}", og.c)
        }
        Op::ZeroPadding2D { .. } | Op::Cropping2D { .. } | Op::UpSampling2D { .. } => format!("{i} -> {o}"),
        _ => return None,
    })
}

pub fn forward(cx: &mut Cx, node: &Node) -> Result<(), ConvertError> {
    let (x, out) = (cx.input(node, 0), cx.output(node, 0));
    let og = Geom::of(cx.out_shape(node, 0));
    if let Some(text) = describe(cx, node) {
        cx.comment(text);
    }
    match &node.op {
        Op::Conv2D { filters, use_bias, .. } | Op::Conv1D { filters, use_bias, .. } => {
            let win = window_of(&node.op);
            let p = prepare(cx, node, &win, "0");
            let wv = cx.param(node, 0);
            let call = format!(
                "conv2d({}, {wv}, {}, filter_shape=[{filters}, {}, {}, {}], {})",
                p.var,
                p.geom.shape_arg(&format!("nrow({x})")),
                p.geom.c,
                win.k[0],
                win.k[1],
                p.args(&win)
            );
            if *use_bias {
                cx.line(format!("{out} = bias_add({call}, {})", cx.param(node, 1)));
            } else {
                cx.line(format!("{out} = {call}"));
            }
        }
        Op::GroupedConv2D { filters, groups, kernel, dilations, use_bias, .. } => {
            let win = window_of(&node.op);
            let p = prepare(cx, node, &win, "0");
            let wd = dilated_kernel(cx, node, p.geom.c / groups, *kernel, *dilations, true);
            let call = |xv: &str, wv: &str, c: usize, f: usize| {
                format!(
                    "conv2d({xv}, {wv}, input_shape=[nrow({x}), {c}, {}, {}], filter_shape=[{f}, {c}, {}, {}], {})",
                    p.geom.h,
                    p.geom.w,
                    win.k[0],
                    win.k[1],
                    p.args(&win)
                )
            };
            let conv = if *use_bias { cx.cache(node, "conv") } else { out.to_string() };
            if *groups == 1 {
                cx.line(format!("{conv} = {}", call(&p.var, &wd, p.geom.c, *filters)));
            } else {
                let (cg, fg) = (p.geom.c / groups, filters / groups);
                let (xs, os) = (cg * p.geom.h * p.geom.w, fg * og.h * og.w);
                cx.comment(format!("{groups} groups: each group's {fg} filters see its own {cg} channels"));
                cx.line(format!("{conv} = matrix(0, rows=nrow({x}), cols={})", og.cells()));
                cx.code.open(format!("for (g in 1:{groups})"));
                let xg = format!("{}[, ((g - 1) * {xs} + 1):(g * {xs})]", p.var);
                let wg = format!("{wd}[((g - 1) * {fg} + 1):(g * {fg}), ]");
                cx.line(format!("{conv}[, ((g - 1) * {os} + 1):(g * {os})] = {}", call(&xg, &wg, cg, fg)));
                cx.code.close();
            }
            if *use_bias {
                cx.line(format!("{out} = bias_add({conv}, {})", cx.param(node, 1)));
            }
        }
        Op::Conv2DTranspose { filters, kernel, groups, dilations, use_bias, .. } => {
            let t = transpose_geometry(cx, node);
            let ig = Geom::of(cx.in_shape(node, 0));
            let (cg, fg) = (ig.c / groups, filters / groups);
            let wd = dilated_kernel(cx, node, fg, *kernel, *dilations, true);
            let call = if *groups == 1 {
                format!("conv2d_backward_data({wd}, {x}, {})", t.args(cg, fg, x))
            } else {
                let (xs, os) = (cg * ig.h * ig.w, fg * t.big.h * t.big.w);
                let conv = cx.cache(node, "groups");
                cx.comment(format!("{groups} groups: each group's {cg} channels make its own {fg} outputs"));
                cx.line(format!("{conv} = matrix(0, rows=nrow({x}), cols={})", filters * t.big.h * t.big.w));
                cx.code.open(format!("for (g in 1:{groups})"));
                cx.line(format!(
                    "{conv}[, ((g - 1) * {os} + 1):(g * {os})] = conv2d_backward_data({wd}[((g - 1) * {cg} + 1):(g * {cg}), ], {x}[, ((g - 1) * {xs} + 1):(g * {xs})], {})",
                    t.args(cg, fg, x)
                ));
                cx.code.close();
                conv
            };
            let bias = use_bias.then(|| cx.param(node, 1));
            if t.sides == [0; 4] {
                match bias {
                    Some(b) => cx.line(format!("{out} = bias_add({call}, {b})")),
                    None => cx.line(format!("{out} = {call}")),
                }
            } else {
                let full = cx.cache(node, "full");
                cx.comment(format!(
                    "The transposed convolution over a {}x{} frame, then Keras's output window of it",
                    t.big.h, t.big.w
                ));
                cx.line(format!("{full} = {call}"));
                let framed = if bias.is_some() { cx.cache(node, "framed") } else { out.to_string() };
                reframe(cx, &full, &framed, t.big, t.sides, "0");
                if let Some(b) = bias {
                    cx.line(format!("{out} = bias_add({framed}, {b})"));
                }
            }
        }
        Op::DepthwiseConv2D { depth_multiplier, use_bias, .. } => {
            let win = window_of(&node.op);
            let p = prepare(cx, node, &win, "0");
            let alias = cx.src("keras/conv.dml", "keras_conv");
            let call = depthwise_args(&p, &win, *depth_multiplier, cx.param(node, 0));
            if *use_bias {
                cx.line(format!("{out} = bias_add({alias}::forward({call}), {})", cx.param(node, 1)));
            } else {
                cx.line(format!("{out} = {alias}::forward({call})"));
            }
        }
        Op::SeparableConv2D { filters, depth_multiplier, use_bias, .. } => {
            let win = window_of(&node.op);
            let p = prepare(cx, node, &win, "0");
            let alias = cx.src("keras/conv.dml", "keras_conv");
            let dw = cx.cache(node, "depthwise");
            let call = depthwise_args(&p, &win, *depth_multiplier, cx.param(node, 0));
            cx.line(format!("{dw} = {alias}::forward({call})"));
            let cm = p.geom.c * depth_multiplier;
            let pw = format!(
                "conv2d({dw}, {}, input_shape=[nrow({x}), {cm}, {}, {}], filter_shape=[{filters}, {cm}, 1, 1], stride=[1, 1], padding=[0, 0])",
                cx.param(node, 1),
                og.h,
                og.w
            );
            if *use_bias {
                cx.line(format!("{out} = bias_add({pw}, {})", cx.param(node, 2)));
            } else {
                cx.line(format!("{out} = {pw}"));
            }
        }
        Op::Pool2D { kind, .. } | Op::Pool1D { kind, .. } => {
            let win = window_of(&node.op);
            let value = if *kind == PoolKind::Max { "-Inf" } else { "0" };
            let p = prepare(cx, node, &win, value);
            let f = if *kind == PoolKind::Max { "max_pool" } else { "avg_pool" };
            let call = format!(
                "{f}({}, {}, pool_size=[{}, {}], {})",
                p.var,
                p.geom.shape_arg(&format!("nrow({x})")),
                win.k[0],
                win.k[1],
                p.args(&win)
            );
            if *kind == PoolKind::Avg && win.pads.iter().any(|&v| v > 0) {
                let frac = avg_fraction(cx, node, &win, &p);
                cx.line(format!("{out} = {call} / {frac}"));
            } else {
                cx.line(format!("{out} = {call}"));
            }
        }
        Op::GlobalPool { kind, .. } => {
            let g = Geom::of(cx.in_shape(node, 0));
            let s = g.h * g.w;
            let rows = cx.cache(node, "rows");
            cx.line(format!("{rows} = matrix({x}, rows=nrow({x})*{}, cols={s})", g.c));
            let agg = if *kind == PoolKind::Max { "rowMaxs" } else { "rowSums" };
            let div = if *kind == PoolKind::Max { String::new() } else { format!(" / {s}") };
            cx.line(format!("{out} = matrix({agg}({rows}){div}, rows=nrow({x}), cols={})", g.c));
        }
        Op::ZeroPadding2D { pads } => {
            let g = Geom::of(cx.in_shape(node, 0));
            reframe(cx, x, out, g, pads.map(|p| -(p as i64)), "0");
        }
        Op::Cropping2D { crops } => {
            let g = Geom::of(cx.in_shape(node, 0));
            reframe(cx, x, out, g, crops.map(|p| p as i64), "0");
        }
        Op::UpSampling2D { size } => {
            let g = Geom::of(cx.in_shape(node, 0));
            let [sh, sw] = *size;
            let wide = cx.cache(node, "wide");
            let ws = g.w * sw;
            if sw > 1 {
                cx.comment(format!("every pixel {sw} times along the width, then every row {sh} times"));
                cx.line(format!(
                    "{wide} = matrix(matrix({x}, rows=nrow({x})*{}, cols=1) %*% matrix(1, rows=1, cols={sw}), rows=nrow({x})*{}, cols={ws})",
                    g.cells(),
                    g.c * g.h
                ));
            } else {
                cx.line(format!("{wide} = matrix({x}, rows=nrow({x})*{}, cols={ws})", g.c * g.h));
            }
            let copies = vec![wide.as_str(); sh].join(", ");
            let rows = if sh > 1 { format!("cbind({copies})") } else { wide.clone() };
            cx.line(format!("{out} = matrix({rows}, rows=nrow({x}), cols={})", og.cells()));
        }
        Op::SpatialDropout { rate } => {
            if cx.train_mode_of(node) && *rate > 0.0 {
                let keep = num(1.0 - rate);
                let mask = spatial_mask(cx, node, &keep);
                cx.line(format!("{out} = {x} * {mask} / {keep}"));
            } else {
                cx.line(format!("{out} = {x}"));
            }
        }
        _ => return Err(super::unsupported(node)),
    }
    Ok(())
}

/// The kernel of a [`Op::GroupedConv2D`] or [`Op::Conv2DTranspose`] (`cg` blocks of `kh*kw`
/// columns per row) spread onto its dilated window (`<node>_wd`, through the 0/1 matrix
/// `<node>_dilate`, whose transpose brings the gradient back), or the kernel itself. Writes the
/// two in the forward pass (`write`); returns the variable.
fn dilated_kernel(cx: &mut Cx, node: &Node, cg: usize, k: [usize; 2], d: [usize; 2], write: bool) -> String {
    let w = cx.param(node, 0).to_string();
    if d == [1, 1] {
        return w;
    }
    let (wd, dil, j) = (cx.cache(node, "wd"), cx.cache(node, "dilate"), cx.cache(node, "cell"));
    if write {
        let (kh2, kw2) = ((k[0] - 1) * d[0] + 1, (k[1] - 1) * d[1] + 1);
        let n = cg * k[0] * k[1];
        cx.comment(format!(
            "the {}x{} kernel dilated by {}x{}: a {kh2}x{kw2} window with zeros between",
            k[0], k[1], d[0], d[1]
        ));
        cx.line(format!("{j} = seq(0, {})", n - 1));
        cx.line(format!(
            "{dil} = table({j} + 1, ({j} %/% {}) * {} + (({j} %/% {}) %% {}) * {} + ({j} %% {}) * {} + 1, {n}, {})",
            k[0] * k[1],
            kh2 * kw2,
            k[1],
            k[0],
            d[0] * kw2,
            k[1],
            d[1],
            cg * kh2 * kw2
        ));
        cx.line(format!("{wd} = {w} %*% {dil}"));
    }
    wd
}

/// The arguments of `keras_conv::forward` and its backward functions after the tensor argument.
fn depthwise_args(p: &Prepared, win: &Window, dm: usize, w: &str) -> String {
    format!(
        "{}, {w}, {}, {}, {}, {dm}, {}, {}, {}, {}, {}, {}",
        p.var, p.geom.c, p.geom.h, p.geom.w, win.k[0], win.k[1], win.s[0], win.s[1], p.pad[0], p.pad[1]
    )
}

/// The geometry arguments of the depthwise functions (after their two matrix arguments).
fn depthwise_dims(p: &Prepared, win: &Window, dm: usize) -> String {
    format!(
        "{}, {}, {}, {dm}, {}, {}, {}, {}, {}, {}",
        p.geom.c, p.geom.h, p.geom.w, win.k[0], win.k[1], win.s[0], win.s[1], p.pad[0], p.pad[1]
    )
}

/// Writes `<node>_real`: for each output cell, the fraction of its window that covers real
/// cells (the builtin's average over the window, of ones padded like the input), so that the
/// builtin's average divided by it is Keras's average over the real cells.
fn avg_fraction(cx: &mut Cx, node: &Node, win: &Window, p: &Prepared) -> String {
    let frac = cx.cache(node, "real");
    let g = Geom::of(cx.in_shape(node, 0));
    let ones = if p.padded() {
        let (v0, v) = (cx.cache(node, "ones0"), cx.cache(node, "ones"));
        cx.line(format!("{v0} = matrix(1, rows=1, cols={})", g.cells()));
        let sides = p.extra.map(|e| -(e as i64));
        reframe(cx, &v0, &v, g, sides, "0");
        v
    } else {
        format!("matrix(1, rows=1, cols={})", g.cells())
    };
    cx.comment("Keras averages over the real cells of each window (padding excluded)");
    cx.line(format!(
        "{frac} = avg_pool({ones}, {}, pool_size=[{}, {}], {})",
        p.geom.shape_arg("1"),
        win.k[0],
        win.k[1],
        p.args(win)
    ));
    frac
}

/// The 0/1 channel mask of SpatialDropout (one draw per example and channel), spread over the
/// tensor's columns in its layout; written to `<node>_mask`.
fn spatial_mask(cx: &mut Cx, node: &Node, keep: &str) -> String {
    let x = cx.input(node, 0);
    let g = Geom::of(cx.in_shape(node, 0));
    let s = g.h * g.w;
    let keep_c = cx.cache(node, "keep");
    let mask = cx.cache(node, "mask");
    cx.comment("whole channels are dropped: one draw per example and channel");
    cx.line(format!("{keep_c} = rand(rows=nrow({x}), cols={}, min=0, max=1, seed=-1) < {keep}", g.c));
    match cx.g.tensors[node.inputs[0]].layout {
        Layout::RowMajor => {
            // Channels last: the channel of column j is (j-1) %% C + 1.
            cx.line(format!(
                "{mask} = {keep_c} %*% table((seq(1, {n}) - 1) %% {c} + 1, seq(1, {n}), {c}, {n})",
                n = g.cells(),
                c = g.c
            ));
        }
        _ => {
            cx.line(format!(
                "{mask} = matrix(matrix({keep_c}, rows=nrow({x})*{}, cols=1) %*% matrix(1, rows=1, cols={s}), rows=nrow({x}), cols={})",
                g.c,
                g.cells()
            ));
        }
    }
    mask
}

/// Geometry of a transposed convolution: the builtin computes the adjoint of a convolution over
/// a `big` frame with symmetric padding `pad`; `sides` then crops (positive) or extends with
/// zeros (negative) that frame to Keras's output.
struct TransposeGeom {
    big: Geom,
    pad: [usize; 2],
    sides: [i64; 4],
    /// The (dilated) kernel's window.
    k: [usize; 2],
    s: [usize; 2],
}

impl TransposeGeom {
    /// The builtins' arguments for one group of `cg` input and `fg` output channels (the
    /// transposed convolution is the data gradient of a convolution from the big frame).
    fn args(&self, cg: usize, fg: usize, x: &str) -> String {
        format!(
            "stride=[{}, {}], padding=[{}, {}], input_shape=[nrow({x}), {fg}, {}, {}], filter_shape=[{cg}, {fg}, {}, {}]",
            self.s[0], self.s[1], self.pad[0], self.pad[1], self.big.h, self.big.w, self.k[0], self.k[1]
        )
    }
}

fn transpose_geometry(cx: &Cx, node: &Node) -> TransposeGeom {
    let ig = Geom::of(cx.in_shape(node, 0));
    let Op::Conv2DTranspose { filters, kernel, strides, dilations, pads, out_hw, .. } = &node.op else {
        let one = Geom { c: 1, h: 1, w: 1 };
        return TransposeGeom { big: one, pad: [0, 0], sides: [0; 4], k: [1, 1], s: [1, 1] };
    };
    let k = [(kernel[0] - 1) * dilations[0] + 1, (kernel[1] - 1) * dilations[1] + 1];
    let mut big = [0usize; 2];
    let mut pad = [0usize; 2];
    let mut sides = [0i64; 4];
    for (axis, n) in [ig.h, ig.w].into_iter().enumerate() {
        let full = ((n - 1) * strides[axis] + k[axis]) as i64;
        let before = pads[2 * axis] as i64;
        let after = full - before - out_hw[axis] as i64;
        let p = before.min(after).max(0);
        pad[axis] = p as usize;
        big[axis] = (full - 2 * p) as usize;
        sides[2 * axis] = before - p;
        sides[2 * axis + 1] = after - p;
    }
    TransposeGeom { big: Geom { c: *filters, h: big[0], w: big[1] }, pad, sides, k, s: *strides }
}

pub fn backward(cx: &mut Cx, node: &Node) -> Result<(), ConvertError> {
    let x = cx.input(node, 0);
    let dout = cx.dout(node, 0);
    let og = Geom::of(cx.out_shape(node, 0));
    match &node.op {
        Op::Conv2D { filters, use_bias, .. } | Op::Conv1D { filters, use_bias, .. } => {
            let win = window_of(&node.op);
            let p = prepared_again(cx, node, &win);
            let shapes = format!(
                "{}, filter_shape=[{filters}, {}, {}, {}]",
                p.geom.shape_arg(&format!("nrow({x})")),
                p.geom.c,
                win.k[0],
                win.k[1]
            );
            if cx.param_trained(node, 0) {
                let dw = cx.param_grad(node, 0);
                cx.line(format!(
                    "{dw} = conv2d_backward_filter({}, {dout}, {}, {shapes})",
                    p.var,
                    p.args(&win)
                ));
            }
            if *use_bias && cx.param_trained(node, 1) {
                let db = cx.param_grad(node, 1);
                cx.line(format!("{db} = {}", channel_sums(&dout, *filters, og.h * og.w)));
            }
            if cx.needs_input_grad(node, 0) {
                let w = cx.param(node, 0);
                let g = format!("conv2d_backward_data({w}, {dout}, {}, {shapes})", p.args(&win));
                input_grad_from_prepared(cx, node, &p, &g);
            }
        }
        Op::GroupedConv2D { filters, groups, kernel, dilations, use_bias, .. } => {
            let win = window_of(&node.op);
            let p = prepared_again(cx, node, &win);
            let (cg, fg) = (p.geom.c / groups, filters / groups);
            let wd = dilated_kernel(cx, node, cg, *kernel, *dilations, false);
            let dilated = *dilations != [1, 1];
            let (xs, os) = (cg * p.geom.h * p.geom.w, fg * og.h * og.w);
            let shapes = format!(
                "input_shape=[nrow({x}), {cg}, {}, {}], filter_shape=[{fg}, {cg}, {}, {}], {}",
                p.geom.h,
                p.geom.w,
                win.k[0],
                win.k[1],
                p.args(&win)
            );
            let (xg, dg, wg) = if *groups == 1 {
                (p.var.clone(), dout.clone(), wd.clone())
            } else {
                (
                    format!("{}[, ((g - 1) * {xs} + 1):(g * {xs})]", p.var),
                    format!("{dout}[, ((g - 1) * {os} + 1):(g * {os})]"),
                    format!("{wd}[((g - 1) * {fg} + 1):(g * {fg}), ]"),
                )
            };
            let need_w = cx.param_trained(node, 0);
            let need_x = cx.needs_input_grad(node, 0);
            let dwd = cx.cache(node, "d_wd");
            let dxp = cx.cache(node, "d_xpad");
            if *groups > 1 {
                if need_w {
                    cx.line(format!("{dwd} = matrix(0, rows={filters}, cols={})", cg * win.k[0] * win.k[1]));
                }
                if need_x {
                    cx.line(format!("{dxp} = matrix(0, rows=nrow({x}), cols={})", p.geom.cells()));
                }
                cx.code.open(format!("for (g in 1:{groups})"));
            }
            let (wrow, xcol) = if *groups > 1 {
                (
                    format!("[((g - 1) * {fg} + 1):(g * {fg}), ]"),
                    format!("[, ((g - 1) * {xs} + 1):(g * {xs})]"),
                )
            } else {
                (String::new(), String::new())
            };
            if need_w {
                cx.line(format!("{dwd}{wrow} = conv2d_backward_filter({xg}, {dg}, {shapes})"));
            }
            if need_x {
                cx.line(format!("{dxp}{xcol} = conv2d_backward_data({wg}, {dg}, {shapes})"));
            }
            if *groups > 1 {
                cx.code.close();
            }
            if need_w {
                let dw = cx.param_grad(node, 0);
                if dilated {
                    cx.line(format!("{dw} = {dwd} %*% t({})", cx.cache(node, "dilate")));
                } else {
                    cx.line(format!("{dw} = {dwd}"));
                }
            }
            if *use_bias && cx.param_trained(node, 1) {
                let db = cx.param_grad(node, 1);
                cx.line(format!("{db} = {}", channel_sums(&dout, *filters, og.h * og.w)));
            }
            if need_x {
                input_grad_from_prepared(cx, node, &p, &dxp);
            }
        }
        Op::Conv2DTranspose { filters, kernel, groups, dilations, use_bias, .. } => {
            let t = transpose_geometry(cx, node);
            let ig = Geom::of(cx.in_shape(node, 0));
            // The gradient over the big frame: Keras's output window of it, extended back.
            let dbig = if t.sides == [0; 4] {
                dout.clone()
            } else {
                let v = cx.cache(node, "dfull");
                reframe(cx, &dout, &v, og, t.sides.map(|s| -s), "0");
                v
            };
            let (cg, fg) = (ig.c / groups, filters / groups);
            let geo = t.args(cg, fg, x);
            let wd = dilated_kernel(cx, node, fg, *kernel, *dilations, false);
            let dilated = *dilations != [1, 1];
            let need_w = cx.param_trained(node, 0);
            let need_x = cx.needs_input_grad(node, 0);
            // The kernel's gradient over the dilated window (brought back through the 0/1
            // matrix), and the input's: a convolution of the frame's gradient.
            let dwd = if dilated || *groups > 1 { cx.cache(node, "d_wd") } else { cx.param_grad(node, 0) };
            let dx = cx.cache(node, "dx");
            if *groups == 1 {
                if need_w {
                    cx.line(format!("{dwd} = conv2d_backward_filter({dbig}, {x}, {geo})"));
                }
                if need_x {
                    cx.line(format!("{dx} = conv2d({dbig}, {wd}, {geo})"));
                }
            } else {
                let (xs, os) = (cg * ig.h * ig.w, fg * t.big.h * t.big.w);
                if need_w {
                    cx.line(format!("{dwd} = matrix(0, rows={}, cols={})", ig.c, fg * t.k[0] * t.k[1]));
                }
                if need_x {
                    cx.line(format!("{dx} = matrix(0, rows=nrow({x}), cols={})", ig.cells()));
                }
                cx.code.open(format!("for (g in 1:{groups})"));
                let (dg, xg) = (
                    format!("{dbig}[, ((g - 1) * {os} + 1):(g * {os})]"),
                    format!("{x}[, ((g - 1) * {xs} + 1):(g * {xs})]"),
                );
                let rows = format!("((g - 1) * {cg} + 1):(g * {cg})");
                if need_w {
                    cx.line(format!("{dwd}[{rows}, ] = conv2d_backward_filter({dg}, {xg}, {geo})"));
                }
                if need_x {
                    cx.line(format!(
                        "{dx}[, ((g - 1) * {xs} + 1):(g * {xs})] = conv2d({dg}, {wd}[{rows}, ], {geo})"
                    ));
                }
                cx.code.close();
            }
            if need_w && (dilated || *groups > 1) {
                let dw = cx.param_grad(node, 0);
                if dilated {
                    cx.line(format!("{dw} = {dwd} %*% t({})", cx.cache(node, "dilate")));
                } else {
                    cx.line(format!("{dw} = {dwd}"));
                }
            }
            if *use_bias && cx.param_trained(node, 1) {
                let db = cx.param_grad(node, 1);
                cx.line(format!("{db} = {}", channel_sums(&dout, *filters, og.h * og.w)));
            }
            if need_x {
                cx.add_input_grad(node, 0, &dx);
            }
        }
        Op::DepthwiseConv2D { depth_multiplier: dm, use_bias, .. } => {
            let win = window_of(&node.op);
            let p = prepared_again(cx, node, &win);
            let alias = cx.src("keras/conv.dml", "keras_conv");
            let dims = depthwise_dims(&p, &win, *dm);
            if cx.param_trained(node, 0) {
                let dw = cx.param_grad(node, 0);
                cx.line(format!("{dw} = {alias}::backward_filter({dout}, {}, {dims})", p.var));
            }
            if *use_bias && cx.param_trained(node, 1) {
                let db = cx.param_grad(node, 1);
                cx.line(format!("{db} = {}", channel_sums(&dout, p.geom.c * dm, og.h * og.w)));
            }
            if cx.needs_input_grad(node, 0) {
                let g = format!("{alias}::backward_data({dout}, {}, {dims})", cx.param(node, 0));
                input_grad_from_prepared(cx, node, &p, &g);
            }
        }
        Op::SeparableConv2D { filters, depth_multiplier: dm, use_bias, .. } => {
            let win = window_of(&node.op);
            let p = prepared_again(cx, node, &win);
            let alias = cx.src("keras/conv.dml", "keras_conv");
            let dw_out = cx.cache(node, "depthwise");
            let cm = p.geom.c * dm;
            let geo = format!(
                "stride=[1, 1], padding=[0, 0], input_shape=[nrow({x}), {cm}, {}, {}], filter_shape=[{filters}, {cm}, 1, 1]",
                og.h, og.w
            );
            if cx.param_trained(node, 1) {
                let dpw = cx.param_grad(node, 1);
                cx.line(format!("{dpw} = conv2d_backward_filter({dw_out}, {dout}, {geo})"));
            }
            if *use_bias && cx.param_trained(node, 2) {
                let db = cx.param_grad(node, 2);
                cx.line(format!("{db} = {}", channel_sums(&dout, *filters, og.h * og.w)));
            }
            let need_x = cx.needs_input_grad(node, 0);
            if cx.param_trained(node, 0) || need_x {
                let ddw = cx.cache(node, "d_depthwise");
                cx.line(format!("{ddw} = conv2d_backward_data({}, {dout}, {geo})", cx.param(node, 1)));
                let dims = depthwise_dims(&p, &win, *dm);
                if cx.param_trained(node, 0) {
                    let dw = cx.param_grad(node, 0);
                    cx.line(format!("{dw} = {alias}::backward_filter({ddw}, {}, {dims})", p.var));
                }
                if need_x {
                    let g = format!("{alias}::backward_data({ddw}, {}, {dims})", cx.param(node, 0));
                    input_grad_from_prepared(cx, node, &p, &g);
                }
            }
        }
        Op::Pool2D { kind, .. } | Op::Pool1D { kind, .. } => {
            let win = window_of(&node.op);
            let p = prepared_again(cx, node, &win);
            let (f, d) = if *kind == PoolKind::Max {
                ("max_pool_backward", dout.clone())
            } else if *kind == PoolKind::Avg && win.pads.iter().any(|&v| v > 0) {
                ("avg_pool_backward", format!("{dout} / {}", cx.cache(node, "real")))
            } else {
                ("avg_pool_backward", dout.clone())
            };
            let g = format!(
                "{f}({}, {d}, {}, pool_size=[{}, {}], {})",
                p.var,
                p.geom.shape_arg(&format!("nrow({x})")),
                win.k[0],
                win.k[1],
                p.args(&win)
            );
            input_grad_from_prepared(cx, node, &p, &g);
        }
        Op::GlobalPool { kind, .. } => {
            let g = Geom::of(cx.in_shape(node, 0));
            let s = g.h * g.w;
            let per_channel = format!("matrix({dout}, rows=nrow({dout})*{}, cols=1)", g.c);
            let expr = if *kind == PoolKind::Max {
                // JAX splits the gradient evenly among tied maxima.
                let rows = cx.cache(node, "rows");
                let at = cx.cache(node, "argmax");
                cx.line(format!("{at} = {rows} == rowMaxs({rows})"));
                format!(
                    "matrix({at} * ({per_channel} / rowSums({at})), rows=nrow({dout}), cols={})",
                    g.cells()
                )
            } else {
                format!(
                    "matrix(matrix({dout} / {s}, rows=nrow({dout})*{}, cols=1) %*% matrix(1, rows=1, cols={s}), rows=nrow({dout}), cols={})",
                    g.c,
                    g.cells()
                )
            };
            cx.add_input_grad(node, 0, &expr);
        }
        Op::ZeroPadding2D { pads } => {
            let d = cx.cache(node, "dx");
            reframe(cx, &dout, &d, og, pads.map(|p| p as i64), "0");
            cx.add_input_grad(node, 0, &d);
        }
        Op::Cropping2D { crops } => {
            let d = cx.cache(node, "dx");
            reframe(cx, &dout, &d, og, crops.map(|p| -(p as i64)), "0");
            cx.add_input_grad(node, 0, &d);
        }
        Op::UpSampling2D { size } => {
            let g = Geom::of(cx.in_shape(node, 0));
            let [sh, sw] = *size;
            let ws = g.w * sw;
            let rows = cx.cache(node, "drows");
            cx.comment("the copies' gradients summed: the repeated rows, then the repeated columns");
            cx.line(format!("{rows} = matrix({dout}, rows=nrow({dout})*{}, cols={})", g.c * g.h, sh * ws));
            if sh > 1 {
                let parts: Vec<String> =
                    (0..sh).map(|k| format!("{rows}[, {}:{}]", k * ws + 1, (k + 1) * ws)).collect();
                cx.line(format!("{rows} = {}", parts.join(" + ")));
            }
            let expr = if sw > 1 {
                format!(
                    "matrix(rowSums(matrix({rows}, rows=nrow({dout})*{}, cols={sw})), rows=nrow({dout}), cols={})",
                    g.cells(),
                    g.cells()
                )
            } else {
                format!("matrix({rows}, rows=nrow({dout}), cols={})", g.cells())
            };
            cx.add_input_grad(node, 0, &expr);
        }
        Op::SpatialDropout { rate } => {
            if cx.train_mode_of(node) && *rate > 0.0 {
                let keep = num(1.0 - rate);
                let mask = cx.cache(node, "mask");
                cx.add_input_grad(node, 0, &format!("{dout} * {mask} / {keep}"));
            } else {
                cx.add_input_grad(node, 0, &dout);
            }
        }
        _ => return Err(super::unsupported(node)),
    }
    Ok(())
}
