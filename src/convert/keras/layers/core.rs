//! Core layers: Dense, the activation layers and fused activations, Flatten, Dropout.

use serde_json::Value as Json;

use super::single_input;
use crate::convert::error::ConvertError;
use crate::convert::ir::{Activation, Op, ParamTransform, TensorId};
use crate::convert::keras::lower::{LayerCtx, Lowering};

/// Keras's activation by name (`"relu"`) or serialized function (`{"class_name": ..., "config":
/// {...}}`, as Keras writes a function with arguments).
pub(crate) fn parse_activation(layer: &LayerCtx, v: Option<&Json>) -> Result<Activation, ConvertError> {
    let (name, cfg) = match v {
        None | Some(Json::Null) => return Ok(Activation::Linear),
        Some(Json::String(s)) => (s.as_str(), None),
        // A serialized function: Keras's own by name, or a user's registered function, whose
        // code the file does not hold (`{"module": "builtins", "class_name": "function",
        // "config": "package>name"}`).
        Some(Json::Object(o)) if o.get("config").is_some_and(Json::is_string) => {
            let name = o.get("config").and_then(Json::as_str).unwrap_or("");
            let module = o.get("module").and_then(Json::as_str).unwrap_or("");
            if !module.starts_with("keras") {
                return Err(layer.err(format!(
                    "activation is the custom function `{name}` (module `{module}`): the model file holds only \
                     the name the user's Python code registered it under, not what it computes; only Keras's \
                     built-in activations can be converted"
                )));
            }
            (name, None)
        }
        Some(Json::Object(o)) => {
            let name = o
                .get("config")
                .and_then(|c| c.get("name").or_else(|| c.get("fn_name")))
                .and_then(Json::as_str)
                .or_else(|| o.get("class_name").and_then(Json::as_str))
                .unwrap_or("");
            (name, o.get("config"))
        }
        Some(other) => return Err(layer.err(format!("unreadable activation {other}"))),
    };
    let num = |k: &str, d: f64| cfg.and_then(|c| c.get(k)).and_then(Json::as_f64).unwrap_or(d);
    Ok(match name {
        "linear" | "identity" => Activation::Linear,
        "relu" => Activation::RELU,
        "relu6" => Activation::Relu { negative_slope: 0.0, max_value: Some(6.0), threshold: 0.0 },
        "leaky_relu" => {
            Activation::Relu { negative_slope: num("negative_slope", 0.2), max_value: None, threshold: 0.0 }
        }
        "sigmoid" => Activation::Sigmoid,
        "tanh" => Activation::Tanh,
        "softmax" => Activation::Softmax,
        "log_softmax" => Activation::LogSoftmax,
        "elu" => Activation::Elu { alpha: num("alpha", 1.0) },
        "selu" => Activation::Selu,
        "gelu" => Activation::Gelu {
            approximate: cfg.and_then(|c| c.get("approximate")).and_then(Json::as_bool).unwrap_or(false),
        },
        "softplus" => Activation::Softplus,
        "softsign" => Activation::Softsign,
        "hard_sigmoid" => Activation::HardSigmoid,
        "swish" | "silu" => Activation::Silu,
        "hard_silu" | "hard_swish" => Activation::HardSilu,
        "exponential" => Activation::Exponential,
        "mish" => Activation::Mish,
        other => {
            return Err(layer.err(format!(
                "activation `{other}` is not supported (supported: linear, relu, relu6, leaky_relu, sigmoid, tanh, \
                 softmax, log_softmax, elu, selu, gelu, softplus, softsign, hard_sigmoid, swish/silu, hard_silu, \
                 exponential, mish)"
            )));
        }
    })
}

/// Adds an Activation node after `x` unless the activation is linear; returns the output.
pub(crate) fn with_activation(
    cx: &mut Lowering,
    layer: &LayerCtx,
    x: TensorId,
    act: Activation,
) -> Result<TensorId, ConvertError> {
    if act.is_linear() {
        return Ok(x);
    }
    let stem = format!("{}_act", layer.name);
    let n = cx.add_node(layer, &stem, Op::Activation(act), &[x])?;
    Ok(cx.out(n))
}

/// `Dense(units, activation, use_bias)`: kernel `(D, M)` as is, bias `(M,)` as a `1 x M` row.
pub(crate) fn dense(
    cx: &mut Lowering,
    layer: &LayerCtx,
    inputs: &[TensorId],
) -> Result<Vec<TensorId>, ConvertError> {
    let x = single_input(layer, inputs)?;
    let units = layer.usize("units")?;
    let use_bias = layer.bool_or("use_bias", true)?;
    let act = parse_activation(layer, layer.get("activation"))?;
    let d = *cx.shape(x).last().ok_or_else(|| layer.err("needs an input with at least one axis"))?;
    let node = cx.add_node(layer, &layer.name, Op::Dense { units, use_bias }, &[x])?;
    let ws = cx.take_weights(layer, if use_bias { 2 } else { 1 })?;
    let w = cx.add_param(
        layer,
        node,
        &ws[0],
        0,
        "kernel",
        &[d, units],
        ParamTransform::Reshape { rows: d, cols: units },
        true,
    )?;
    cx.set_regularizer(layer, w, "kernel_regularizer")?;
    if use_bias {
        let b = cx.add_param(
            layer,
            node,
            &ws[1],
            1,
            "bias",
            &[units],
            ParamTransform::Reshape { rows: 1, cols: units },
            true,
        )?;
        cx.set_regularizer(layer, b, "bias_regularizer")?;
    }
    Ok(vec![with_activation(cx, layer, cx.out(node), act)?])
}

/// `Activation(name)`.
pub(crate) fn activation_layer(
    cx: &mut Lowering,
    layer: &LayerCtx,
    inputs: &[TensorId],
) -> Result<Vec<TensorId>, ConvertError> {
    let x = single_input(layer, inputs)?;
    let act = parse_activation(layer, layer.get("activation"))?;
    let n = cx.add_node(layer, &layer.name, Op::Activation(act), &[x])?;
    Ok(vec![cx.out(n)])
}

/// `ReLU(max_value, negative_slope, threshold)`.
pub(crate) fn relu_layer(
    cx: &mut Lowering,
    layer: &LayerCtx,
    inputs: &[TensorId],
) -> Result<Vec<TensorId>, ConvertError> {
    let x = single_input(layer, inputs)?;
    let act = Activation::Relu {
        negative_slope: layer.f64_or("negative_slope", 0.0)?,
        max_value: layer.get("max_value").and_then(Json::as_f64),
        threshold: layer.f64_or("threshold", 0.0)?,
    };
    let n = cx.add_node(layer, &layer.name, Op::Activation(act), &[x])?;
    Ok(vec![cx.out(n)])
}

/// `LeakyReLU(negative_slope)`: Keras 3 defaults to 0.3 (Keras 2 called it `alpha`).
pub(crate) fn leaky_relu_layer(
    cx: &mut Lowering,
    layer: &LayerCtx,
    inputs: &[TensorId],
) -> Result<Vec<TensorId>, ConvertError> {
    let x = single_input(layer, inputs)?;
    let slope = match layer.get("negative_slope") {
        Some(_) => layer.f64_or("negative_slope", 0.3)?,
        None => layer.f64_or("alpha", 0.3)?,
    };
    let act = Activation::Relu { negative_slope: slope, max_value: None, threshold: 0.0 };
    let n = cx.add_node(layer, &layer.name, Op::Activation(act), &[x])?;
    Ok(vec![cx.out(n)])
}

/// `ELU(alpha)`.
pub(crate) fn elu_layer(
    cx: &mut Lowering,
    layer: &LayerCtx,
    inputs: &[TensorId],
) -> Result<Vec<TensorId>, ConvertError> {
    let x = single_input(layer, inputs)?;
    let n = cx.add_node(
        layer,
        &layer.name,
        Op::Activation(Activation::Elu { alpha: layer.f64_or("alpha", 1.0)? }),
        &[x],
    )?;
    Ok(vec![cx.out(n)])
}

/// `Softmax(axis=-1)`.
pub(crate) fn softmax_layer(
    cx: &mut Lowering,
    layer: &LayerCtx,
    inputs: &[TensorId],
) -> Result<Vec<TensorId>, ConvertError> {
    let x = single_input(layer, inputs)?;
    let axis = layer.get("axis").and_then(Json::as_i64).unwrap_or(-1);
    let rank = cx.shape(x).len() as i64;
    layer.require(axis == -1 || axis == rank, format!("softmax over axis {axis} (only the last axis)"))?;
    let n = cx.add_node(layer, &layer.name, Op::Activation(Activation::Softmax), &[x])?;
    Ok(vec![cx.out(n)])
}

/// `Flatten()`: Keras flattens channels last; the layout pass turns that into a permutation
/// folded into the next Dense.
pub(crate) fn flatten(
    cx: &mut Lowering,
    layer: &LayerCtx,
    inputs: &[TensorId],
) -> Result<Vec<TensorId>, ConvertError> {
    let x = single_input(layer, inputs)?;
    layer.require(
        layer.str_or("data_format", "channels_last")? == "channels_last",
        "data_format='channels_first' (only channels_last)",
    )?;
    let n = cx.add_node(layer, &layer.name, Op::Flatten, &[x])?;
    Ok(vec![cx.out(n)])
}

/// `Dropout(rate)`: identity at inference; `noise_shape` and a fixed `seed` are refused.
pub(crate) fn dropout(
    cx: &mut Lowering,
    layer: &LayerCtx,
    inputs: &[TensorId],
) -> Result<Vec<TensorId>, ConvertError> {
    let x = single_input(layer, inputs)?;
    let rate = layer.f64_or("rate", 0.0)?;
    layer.require((0.0..1.0).contains(&rate), format!("dropout rate {rate} (must be in [0, 1))"))?;
    layer.require(layer.get("noise_shape").is_none(), "noise_shape")?;
    let n = cx.add_node(layer, &layer.name, Op::Dropout { rate }, &[x])?;
    Ok(vec![cx.out(n)])
}
