//! Convolution and pooling layers: Conv1D/2D, Conv2DTranspose, DepthwiseConv2D, SeparableConv2D,
//! pooling, global pooling, ZeroPadding2D, Cropping2D, UpSampling2D, SpatialDropout.
//!
//! Keras kernels are cross-correlations stored channels last; each becomes the matrix nn's
//! builtins take (see `ir::Op`), with no kernel flip. `'same'` padding is resolved here to the
//! cells Keras pads on each side (the odd cell after: bottom/right), so the emitters never guess.

use serde_json::Value as Json;

use super::core::{parse_activation, with_activation};
use super::single_input;
use crate::convert::error::ConvertError;
use crate::convert::ir::{Activation, NodeId, Op, Pads, ParamTransform, PoolKind, TensorId};
use crate::convert::keras::Tensor;
use crate::convert::keras::lower::{LayerCtx, Lowering, json_usize};
use crate::convert::shapes::same_pads;

/// The checks every convolution shares: channels-last data, no dilation, no grouping, no
/// constraints or activity regularizer (they change training, and are not implemented).
fn common_conv_checks(layer: &LayerCtx, constraints: &[&str]) -> Result<(), ConvertError> {
    data_format(layer)?;
    let dilation = match layer.get("dilation_rate") {
        None => vec![1],
        Some(v) => match json_usize(v) {
            Some(n) => vec![n],
            None => v.as_array().map(|a| a.iter().filter_map(json_usize).collect()).unwrap_or_default(),
        },
    };
    layer.require(
        !dilation.is_empty() && dilation.iter().all(|&d| d == 1),
        format!("dilation_rate {} (only 1)", layer.get("dilation_rate").unwrap_or(&Json::Null)),
    )?;
    let groups = layer.usize_or("groups", 1)?;
    layer.require(groups == 1, format!("groups={groups} (only 1)"))?;
    for key in constraints.iter().copied().chain(["activity_regularizer"]) {
        layer.require(layer.get(key).is_none(), format!("`{key}` (only none)"))?;
    }
    Ok(())
}

/// Refuses a zero kernel size, pool size or stride.
fn positive(layer: &LayerCtx, key: &str, v: &[usize]) -> Result<(), ConvertError> {
    if v.contains(&0) {
        return Err(layer.err(format!("`{key}` must be positive, got {v:?}")));
    }
    Ok(())
}

fn data_format(layer: &LayerCtx) -> Result<(), ConvertError> {
    let f = layer.str_or("data_format", "channels_last")?;
    layer.require(f == "channels_last", format!("data_format='{f}' (only 'channels_last')"))
}

/// The `[H, W, C]` shape of an image input.
fn image(cx: &Lowering, layer: &LayerCtx, x: TensorId) -> Result<[usize; 3], ConvertError> {
    match cx.shape(x) {
        [h, w, c] => Ok([*h, *w, *c]),
        s => Err(layer.err(format!("needs an image input (height, width, channels), got shape {s:?}"))),
    }
}

/// The `[T, C]` shape of a sequence input.
fn sequence(cx: &Lowering, layer: &LayerCtx, x: TensorId) -> Result<[usize; 2], ConvertError> {
    match cx.shape(x) {
        [t, c] => Ok([*t, *c]),
        s => Err(layer.err(format!("needs a sequence input (steps, channels), got shape {s:?}"))),
    }
}

/// Keras's padding of a 2-D window op on an `hw` input, in cells `[top, bottom, left, right]`.
fn pads2d(layer: &LayerCtx, hw: [usize; 2], k: [usize; 2], s: [usize; 2]) -> Result<Pads, ConvertError> {
    match layer.str_or("padding", "valid")?.to_ascii_lowercase().as_str() {
        "valid" => Ok([0; 4]),
        "same" => {
            let (t, b) = same_pads(hw[0], k[0], s[0]);
            let (l, r) = same_pads(hw[1], k[1], s[1]);
            Ok([t, b, l, r])
        }
        other => Err(layer.err(format!("not supported: padding='{other}' (supported: 'valid', 'same')"))),
    }
}

/// Keras's padding of a 1-D window op on `t` steps (left and right; `'causal'` pads only left).
fn pads1d(layer: &LayerCtx, t: usize, k: usize, s: usize, causal_ok: bool) -> Result<Pads, ConvertError> {
    match layer.str_or("padding", "valid")?.to_ascii_lowercase().as_str() {
        "valid" => Ok([0; 4]),
        "same" => {
            let (l, r) = same_pads(t, k, s);
            Ok([0, 0, l, r])
        }
        "causal" if causal_ok => Ok([0, 0, k - 1, 0]),
        other => Err(layer.err(format!(
            "not supported: padding='{other}' (supported: 'valid', 'same'{})",
            if causal_ok { ", 'causal'" } else { "" }
        ))),
    }
}

/// Adds the layer's bias `(n,)` as an `n x 1` column (nn's `bias_add` layout).
fn bias_param(
    cx: &mut Lowering,
    layer: &LayerCtx,
    node: NodeId,
    t: &Tensor,
    index: usize,
    n: usize,
) -> Result<(), ConvertError> {
    let b = cx.add_param(
        layer,
        node,
        t,
        index,
        "bias",
        &[n],
        ParamTransform::Reshape { rows: n, cols: 1 },
        true,
    )?;
    cx.set_regularizer(layer, b, "bias_regularizer")
}

/// The kernel (Keras variable 0, `shape` in Keras's order, `transform` to nn's layout, its
/// regularizer read from `regularizer`), the bias of `bias_len` values when the layer has one,
/// and the layer's activation after `node`: the tail every convolution shares.
#[allow(clippy::too_many_arguments)]
fn kernel_bias_activation(
    cx: &mut Lowering,
    layer: &LayerCtx,
    node: NodeId,
    use_bias: bool,
    shape: &[usize],
    transform: ParamTransform,
    regularizer: &str,
    bias_len: usize,
    act: Activation,
) -> Result<Vec<TensorId>, ConvertError> {
    let ws = cx.take_weights(layer, if use_bias { 2 } else { 1 })?;
    let k = cx.add_param(layer, node, &ws[0], 0, "kernel", shape, transform, true)?;
    cx.set_regularizer(layer, k, regularizer)?;
    if use_bias {
        bias_param(cx, layer, node, &ws[1], 1, bias_len)?;
    }
    Ok(vec![with_activation(cx, layer, cx.out(node), act)?])
}

/// A depthwise kernel `(kh, kw, C, dm)` as nn's `(C, dm*kh*kw)`: row `c`, column `m*kh*kw +
/// i*kw + j` holds `K[i, j, c, m]`.
fn depthwise_transform(kh: usize, kw: usize, c: usize, dm: usize) -> ParamTransform {
    ParamTransform::gather_fn(c, dm * kh * kw, move |ch, col| {
        let (m, tap) = (col / (kh * kw), col % (kh * kw));
        (tap * c + ch) * dm + m
    })
}

/// `Conv2D(filters, kernel_size, strides, padding, activation, use_bias)`: kernel `(kh, kw, C,
/// F)` as nn's `(F, C*kh*kw)` (row `f`, column `c*kh*kw + i*kw + j` holds `K[i, j, c, f]`), bias
/// `(F, 1)`.
pub(crate) fn conv2d(
    cx: &mut Lowering,
    layer: &LayerCtx,
    inputs: &[TensorId],
) -> Result<Vec<TensorId>, ConvertError> {
    let x = single_input(layer, inputs)?;
    common_conv_checks(layer, &["kernel_constraint", "bias_constraint"])?;
    let [h, w, c] = image(cx, layer, x)?;
    let filters = layer.usize("filters")?;
    let kernel = layer.pair("kernel_size")?;
    let strides = if layer.get("strides").is_some() { layer.pair("strides")? } else { [1, 1] };
    positive(layer, "kernel_size", &kernel)?;
    positive(layer, "strides", &strides)?;
    let pads = pads2d(layer, [h, w], kernel, strides)?;
    let use_bias = layer.bool_or("use_bias", true)?;
    let act = parse_activation(layer, layer.get("activation"))?;
    let node =
        cx.add_node(layer, &layer.name, Op::Conv2D { filters, kernel, strides, pads, use_bias }, &[x])?;
    let [kh, kw] = kernel;
    let f = filters;
    let t = ParamTransform::gather_fn(f, c * kh * kw, move |row, col| {
        let (ch, tap) = (col / (kh * kw), col % (kh * kw));
        (tap * c + ch) * f + row
    });
    kernel_bias_activation(cx, layer, node, use_bias, &[kh, kw, c, f], t, "kernel_regularizer", f, act)
}

/// `Conv1D` over `[T, C]`: conv2d with a height of 1. Kernel `(k, C, F)` as `(F, C*k)`; `'causal'`
/// padding pads `k - 1` steps on the left.
pub(crate) fn conv1d(
    cx: &mut Lowering,
    layer: &LayerCtx,
    inputs: &[TensorId],
) -> Result<Vec<TensorId>, ConvertError> {
    let x = single_input(layer, inputs)?;
    common_conv_checks(layer, &["kernel_constraint", "bias_constraint"])?;
    let [t, c] = sequence(cx, layer, x)?;
    let filters = layer.usize("filters")?;
    let kernel = layer.single("kernel_size")?;
    let stride = if layer.get("strides").is_some() { layer.single("strides")? } else { 1 };
    positive(layer, "kernel_size", &[kernel])?;
    positive(layer, "strides", &[stride])?;
    let pads = pads1d(layer, t, kernel, stride, true)?;
    let use_bias = layer.bool_or("use_bias", true)?;
    let act = parse_activation(layer, layer.get("activation"))?;
    let node =
        cx.add_node(layer, &layer.name, Op::Conv1D { filters, kernel, stride, pads, use_bias }, &[x])?;
    let (k, f) = (kernel, filters);
    let tr = ParamTransform::gather_fn(f, c * k, move |row, col| ((col % k) * c + col / k) * f + row);
    kernel_bias_activation(cx, layer, node, use_bias, &[k, c, f], tr, "kernel_regularizer", f, act)
}

/// `Conv2DTranspose`: the adjoint of a cross-correlation, as Keras (JAX `conv_transpose` with a
/// transposed kernel) computes it. Kernel `(kh, kw, F, C)` (F outputs, C inputs) as nn's
/// `conv2d_transpose` `(C, F*kh*kw)`.
///
/// Keras pads the stride-dilated input by `(lo, hi)` per axis; seen as the gradient of a forward
/// convolution from the output to the input, that forward convolution pads `k - 1 - lo` before
/// and `k - 1 - hi` after (negative after: trailing output cells that no input reaches, as
/// `output_padding` or a stride larger than the kernel give). `pads[0]`/`pads[2]` hold the
/// before side; the after side follows from `out_hw`.
pub(crate) fn conv2d_transpose(
    cx: &mut Lowering,
    layer: &LayerCtx,
    inputs: &[TensorId],
) -> Result<Vec<TensorId>, ConvertError> {
    let x = single_input(layer, inputs)?;
    common_conv_checks(layer, &["kernel_constraint", "bias_constraint"])?;
    let [h, w, c] = image(cx, layer, x)?;
    let filters = layer.usize("filters")?;
    let kernel = layer.pair("kernel_size")?;
    let strides = if layer.get("strides").is_some() { layer.pair("strides")? } else { [1, 1] };
    positive(layer, "kernel_size", &kernel)?;
    positive(layer, "strides", &strides)?;
    let padding = layer.str_or("padding", "valid")?.to_ascii_lowercase();
    layer.require(
        padding == "valid" || padding == "same",
        format!("padding='{padding}' (supported: 'valid', 'same')"),
    )?;
    let output_padding: Option<[usize; 2]> =
        if layer.get("output_padding").is_some() { Some(layer.pair("output_padding")?) } else { None };
    let mut pads = [0usize; 4];
    let mut out_hw = [0usize; 2];
    for (axis, n) in [h, w].into_iter().enumerate() {
        let (k, s) = (kernel[axis], strides[axis]);
        if let Some(op) = output_padding {
            layer.require(
                op[axis] < s.max(1),
                format!("output_padding {} not smaller than the stride {s}", op[axis]),
            )?;
        }
        // JAX's padding of the dilated input (Keras `_convert_conv_transpose_padding_args_from_keras_to_jax`).
        let (lo, hi) = if padding == "valid" {
            let op = output_padding.map(|p| p[axis]).unwrap_or(k.max(s) - k);
            (k - 1, k - 1 + op)
        } else {
            let pad_len = match output_padding {
                None => s + k - 2,
                Some(p) => k + k % 2 - 2 + p[axis],
            };
            let lo = (pad_len / 2 + pad_len % 2).min(k - 1);
            (lo, pad_len - lo)
        };
        let full = (n - 1) * s + k; // the transposed output without any cropping
        let before = k - 1 - lo;
        let out = (full + lo + hi + 2).checked_sub(2 * k).filter(|&o| o > 0).ok_or_else(|| {
            layer.err(format!("the output of a {n}-cell axis with kernel {k}, stride {s} would be empty"))
        })?;
        pads[2 * axis] = before;
        pads[2 * axis + 1] = (k - 1).saturating_sub(hi);
        out_hw[axis] = out;
    }
    let use_bias = layer.bool_or("use_bias", true)?;
    let act = parse_activation(layer, layer.get("activation"))?;
    let op = Op::Conv2DTranspose {
        filters,
        kernel,
        strides,
        groups: 1,
        dilations: [1, 1],
        pads,
        out_hw,
        use_bias,
    };
    let node = cx.add_node(layer, &layer.name, op, &[x])?;
    let [kh, kw] = kernel;
    let f = filters;
    let tr = ParamTransform::gather_fn(c, f * kh * kw, move |row, col| {
        let (fo, tap) = (col / (kh * kw), col % (kh * kw));
        (tap * f + fo) * c + row
    });
    kernel_bias_activation(cx, layer, node, use_bias, &[kh, kw, f, c], tr, "kernel_regularizer", f, act)
}

/// `DepthwiseConv2D(kernel_size, depth_multiplier)`: output channel `c*dm + m` is input channel
/// `c` correlated with `K[:, :, c, m]`, as nn's `conv2d_depthwise` orders them.
pub(crate) fn depthwise_conv2d(
    cx: &mut Lowering,
    layer: &LayerCtx,
    inputs: &[TensorId],
) -> Result<Vec<TensorId>, ConvertError> {
    let x = single_input(layer, inputs)?;
    common_conv_checks(layer, &["depthwise_constraint", "bias_constraint"])?;
    let [h, w, c] = image(cx, layer, x)?;
    let dm = layer.usize_or("depth_multiplier", 1)?;
    layer.require(dm >= 1, "depth_multiplier=0")?;
    let kernel = layer.pair("kernel_size")?;
    let strides = if layer.get("strides").is_some() { layer.pair("strides")? } else { [1, 1] };
    positive(layer, "kernel_size", &kernel)?;
    positive(layer, "strides", &strides)?;
    let pads = pads2d(layer, [h, w], kernel, strides)?;
    let use_bias = layer.bool_or("use_bias", true)?;
    let act = parse_activation(layer, layer.get("activation"))?;
    let op = Op::DepthwiseConv2D { depth_multiplier: dm, kernel, strides, pads, use_bias };
    let node = cx.add_node(layer, &layer.name, op, &[x])?;
    let [kh, kw] = kernel;
    let tr = depthwise_transform(kh, kw, c, dm);
    let shape = [kh, kw, c, dm];
    kernel_bias_activation(cx, layer, node, use_bias, &shape, tr, "depthwise_regularizer", c * dm, act)
}

/// `SeparableConv2D`: a depthwise convolution (no bias) then a 1x1 convolution. Pointwise kernel
/// `(1, 1, C*dm, F)` as `(F, C*dm)`.
pub(crate) fn separable_conv2d(
    cx: &mut Lowering,
    layer: &LayerCtx,
    inputs: &[TensorId],
) -> Result<Vec<TensorId>, ConvertError> {
    let x = single_input(layer, inputs)?;
    common_conv_checks(layer, &["depthwise_constraint", "pointwise_constraint", "bias_constraint"])?;
    let [h, w, c] = image(cx, layer, x)?;
    let filters = layer.usize("filters")?;
    let dm = layer.usize_or("depth_multiplier", 1)?;
    layer.require(dm >= 1, "depth_multiplier=0")?;
    let kernel = layer.pair("kernel_size")?;
    let strides = if layer.get("strides").is_some() { layer.pair("strides")? } else { [1, 1] };
    positive(layer, "kernel_size", &kernel)?;
    positive(layer, "strides", &strides)?;
    let pads = pads2d(layer, [h, w], kernel, strides)?;
    let use_bias = layer.bool_or("use_bias", true)?;
    let act = parse_activation(layer, layer.get("activation"))?;
    let op = Op::SeparableConv2D { filters, depth_multiplier: dm, kernel, strides, pads, use_bias };
    let node = cx.add_node(layer, &layer.name, op, &[x])?;
    let ws = cx.take_weights(layer, if use_bias { 3 } else { 2 })?;
    let [kh, kw] = kernel;
    let dw = cx.add_param(
        layer,
        node,
        &ws[0],
        0,
        "depthwise_kernel",
        &[kh, kw, c, dm],
        depthwise_transform(kh, kw, c, dm),
        true,
    )?;
    cx.set_regularizer(layer, dw, "depthwise_regularizer")?;
    let (cm, f) = (c * dm, filters);
    let tr = ParamTransform::gather_fn(f, cm, move |row, col| col * f + row);
    let pw = cx.add_param(layer, node, &ws[1], 1, "pointwise_kernel", &[1, 1, cm, f], tr, true)?;
    cx.set_regularizer(layer, pw, "pointwise_regularizer")?;
    if use_bias {
        bias_param(cx, layer, node, &ws[2], 2, f)?;
    }
    Ok(vec![with_activation(cx, layer, cx.out(node), act)?])
}

/// `MaxPooling2D`/`AveragePooling2D(pool_size, strides=pool_size, padding)`; under `'same'`
/// Keras's average divides by the number of real cells in the window.
pub(crate) fn pool2d(
    cx: &mut Lowering,
    layer: &LayerCtx,
    inputs: &[TensorId],
    kind: PoolKind,
) -> Result<Vec<TensorId>, ConvertError> {
    let x = single_input(layer, inputs)?;
    data_format(layer)?;
    let [h, w, _] = image(cx, layer, x)?;
    let pool = layer.pair("pool_size")?;
    let strides = if layer.get("strides").is_some() { layer.pair("strides")? } else { pool };
    positive(layer, "pool_size", &pool)?;
    positive(layer, "strides", &strides)?;
    let pads = pads2d(layer, [h, w], pool, strides)?;
    let n = cx.add_node(layer, &layer.name, Op::Pool2D { kind, pool, strides, pads }, &[x])?;
    Ok(vec![cx.out(n)])
}

/// `MaxPooling1D`/`AveragePooling1D`, as [`pool2d`] over steps.
pub(crate) fn pool1d(
    cx: &mut Lowering,
    layer: &LayerCtx,
    inputs: &[TensorId],
    kind: PoolKind,
) -> Result<Vec<TensorId>, ConvertError> {
    let x = single_input(layer, inputs)?;
    data_format(layer)?;
    let [t, _] = sequence(cx, layer, x)?;
    let pool = layer.single("pool_size")?;
    let stride = if layer.get("strides").is_some() { layer.single("strides")? } else { pool };
    positive(layer, "pool_size", &[pool])?;
    positive(layer, "strides", &[stride])?;
    let pads = pads1d(layer, t, pool, stride, false)?;
    let n = cx.add_node(layer, &layer.name, Op::Pool1D { kind, pool, stride, pads }, &[x])?;
    Ok(vec![cx.out(n)])
}

/// `Global{Average,Max}Pooling{1,2}D()`: the mean or maximum over the steps (`rank` 1) or the
/// pixels (`rank` 2).
pub(crate) fn global_pool(
    cx: &mut Lowering,
    layer: &LayerCtx,
    inputs: &[TensorId],
    kind: PoolKind,
    rank: usize,
) -> Result<Vec<TensorId>, ConvertError> {
    let x = single_input(layer, inputs)?;
    data_format(layer)?;
    layer.require(!layer.bool_or("keepdims", false)?, "keepdims=True (only False)")?;
    let n = cx.add_node(layer, &layer.name, Op::GlobalPool { kind, rank }, &[x])?;
    Ok(vec![cx.out(n)])
}

/// `padding`/`cropping` of ZeroPadding2D and Cropping2D: `n`, `(h, w)` (both sides) or `((top,
/// bottom), (left, right))`.
fn four_sides(layer: &LayerCtx, key: &str) -> Result<Pads, ConvertError> {
    let v = layer.get(key).ok_or_else(|| layer.err(format!("`{key}` is missing")))?;
    let bad = || layer.err(format!("`{key}` must be an integer, a pair, or a pair of pairs; got {v}"));
    if let Some(n) = json_usize(v) {
        return Ok([n; 4]);
    }
    let a = v.as_array().filter(|a| a.len() == 2).ok_or_else(bad)?;
    let side = |e: &Json| -> Option<[usize; 2]> {
        if let Some(n) = json_usize(e) {
            return Some([n, n]);
        }
        match e.as_array()?.as_slice() {
            [a, b] => Some([json_usize(a)?, json_usize(b)?]),
            _ => None,
        }
    };
    let (hh, ww) = (side(&a[0]).ok_or_else(bad)?, side(&a[1]).ok_or_else(bad)?);
    Ok([hh[0], hh[1], ww[0], ww[1]])
}

/// `ZeroPadding2D(padding)`.
pub(crate) fn zero_padding2d(
    cx: &mut Lowering,
    layer: &LayerCtx,
    inputs: &[TensorId],
) -> Result<Vec<TensorId>, ConvertError> {
    let x = single_input(layer, inputs)?;
    data_format(layer)?;
    let pads = four_sides(layer, "padding")?;
    let n = cx.add_node(layer, &layer.name, Op::ZeroPadding2D { pads }, &[x])?;
    Ok(vec![cx.out(n)])
}

/// `Cropping2D(cropping)`.
pub(crate) fn cropping2d(
    cx: &mut Lowering,
    layer: &LayerCtx,
    inputs: &[TensorId],
) -> Result<Vec<TensorId>, ConvertError> {
    let x = single_input(layer, inputs)?;
    data_format(layer)?;
    let crops = four_sides(layer, "cropping")?;
    let n = cx.add_node(layer, &layer.name, Op::Cropping2D { crops }, &[x])?;
    Ok(vec![cx.out(n)])
}

/// `UpSampling2D(size, interpolation='nearest')`: every pixel repeated `size` times per axis.
pub(crate) fn up_sampling2d(
    cx: &mut Lowering,
    layer: &LayerCtx,
    inputs: &[TensorId],
) -> Result<Vec<TensorId>, ConvertError> {
    let x = single_input(layer, inputs)?;
    data_format(layer)?;
    let interp = layer.str_or("interpolation", "nearest")?;
    layer.require(interp == "nearest", format!("interpolation='{interp}' (only 'nearest')"))?;
    let size = layer.pair("size")?;
    layer.require(size[0] >= 1 && size[1] >= 1, format!("size {size:?} (must be positive)"))?;
    let n = cx.add_node(layer, &layer.name, Op::UpSampling2D { size }, &[x])?;
    Ok(vec![cx.out(n)])
}

fn spatial_dropout(
    cx: &mut Lowering,
    layer: &LayerCtx,
    inputs: &[TensorId],
    rank: usize,
) -> Result<Vec<TensorId>, ConvertError> {
    let x = single_input(layer, inputs)?;
    let r = cx.shape(x).len();
    layer.require(r == rank + 1, format!("an input of rank {} (expects {})", r + 1, rank + 2))?;
    if rank == 2 {
        data_format(layer)?;
    }
    let rate = layer.f64_or("rate", 0.0)?;
    layer.require((0.0..1.0).contains(&rate), format!("rate {rate} (must be in [0, 1))"))?;
    let n = cx.add_node(layer, &layer.name, Op::SpatialDropout { rate }, &[x])?;
    Ok(vec![cx.out(n)])
}

/// `SpatialDropout1D(rate)`: drops whole channels of a `[T, C]` sequence in training.
pub(crate) fn spatial_dropout1d(
    cx: &mut Lowering,
    layer: &LayerCtx,
    inputs: &[TensorId],
) -> Result<Vec<TensorId>, ConvertError> {
    spatial_dropout(cx, layer, inputs, 1)
}

/// `SpatialDropout2D(rate)`: drops whole feature maps in training.
pub(crate) fn spatial_dropout2d(
    cx: &mut Lowering,
    layer: &LayerCtx,
    inputs: &[TensorId],
) -> Result<Vec<TensorId>, ConvertError> {
    spatial_dropout(cx, layer, inputs, 2)
}
