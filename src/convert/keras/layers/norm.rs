//! Normalization and noise layers: BatchNormalization, LayerNormalization, GaussianNoise,
//! GaussianDropout, PReLU.

use serde_json::Value as Json;

use super::single_input;
use crate::convert::error::ConvertError;
use crate::convert::ir::{Op, ParamTransform, TensorId};
use crate::convert::keras::lower::{LayerCtx, Lowering, json_usize};

/// Checks that `axis` (an integer or a one-element list, Keras's axis counting the batch) names
/// the last axis of an input of logical rank `rank`.
fn require_last_axis(layer: &LayerCtx, rank: usize) -> Result<(), ConvertError> {
    let v = layer.get("axis").cloned().unwrap_or(Json::from(-1));
    let axis = match &v {
        Json::Array(a) if a.len() == 1 => a[0].as_i64(),
        other => other.as_i64(),
    };
    layer.require(
        axis == Some(-1) || axis == Some(rank as i64),
        format!("axis {v} (only the last axis, -1: the channels of a channels-last tensor)"),
    )
}

/// Refuses a weight constraint (Keras applies it after every update).
fn no_constraints(layer: &LayerCtx, keys: &[&str]) -> Result<(), ConvertError> {
    for k in keys {
        layer.require(layer.get(k).is_none(), format!("`{k}` (weight constraints)"))?;
    }
    Ok(())
}

/// `BatchNormalization(axis=-1, momentum=0.99, epsilon=1e-3, center, scale)`. Its variables
/// (gamma if `scale`, beta if `center`, moving mean, moving variance, each `(C,)`) become `(C, 1)`
/// columns. A frozen layer (`trainable=False`) runs in inference mode during training, as Keras.
pub(crate) fn batch_normalization(
    cx: &mut Lowering,
    layer: &LayerCtx,
    inputs: &[TensorId],
) -> Result<Vec<TensorId>, ConvertError> {
    let x = single_input(layer, inputs)?;
    let shape = cx.shape(x).to_vec();
    let c = *shape.last().ok_or_else(|| layer.err("needs an input with at least one axis"))?;
    require_last_axis(layer, shape.len())?;
    layer.require(!layer.bool_or("renorm", false)?, "renorm=True (batch renormalization)")?;
    no_constraints(layer, &["gamma_constraint", "beta_constraint"])?;
    let momentum = layer.f64_or("momentum", 0.99)?;
    let epsilon = layer.f64_or("epsilon", 1e-3)?;
    let center = layer.bool_or("center", true)?;
    let scale = layer.bool_or("scale", true)?;
    let node = cx.add_node(layer, &layer.name, Op::BatchNorm { momentum, epsilon, center, scale }, &[x])?;
    let mut roles = Vec::new();
    if scale {
        roles.push(("gamma", true, Some("gamma_regularizer")));
    }
    if center {
        roles.push(("beta", true, Some("beta_regularizer")));
    }
    roles.push(("moving_mean", false, None));
    roles.push(("moving_variance", false, None));
    let ws = cx.take_weights(layer, roles.len())?;
    for (i, (role, trainable, reg)) in roles.into_iter().enumerate() {
        let p = cx.add_param(
            layer,
            node,
            &ws[i],
            i,
            role,
            &[c],
            ParamTransform::Reshape { rows: c, cols: 1 },
            trainable,
        )?;
        if let Some(key) = reg {
            cx.set_regularizer(layer, p, key)?;
        }
    }
    Ok(vec![cx.out(node)])
}

/// `LayerNormalization(axis=-1, epsilon=1e-3, center, scale)`: gamma and beta `(D,)` as `1 x D`
/// rows.
pub(crate) fn layer_normalization(
    cx: &mut Lowering,
    layer: &LayerCtx,
    inputs: &[TensorId],
) -> Result<Vec<TensorId>, ConvertError> {
    let x = single_input(layer, inputs)?;
    let shape = cx.shape(x).to_vec();
    let d = *shape.last().ok_or_else(|| layer.err("needs an input with at least one axis"))?;
    require_last_axis(layer, shape.len())?;
    layer.require(!layer.bool_or("rms_scaling", false)?, "rms_scaling=True")?;
    no_constraints(layer, &["gamma_constraint", "beta_constraint"])?;
    let epsilon = layer.f64_or("epsilon", 1e-3)?;
    let center = layer.bool_or("center", true)?;
    let scale = layer.bool_or("scale", true)?;
    let node = cx.add_node(layer, &layer.name, Op::LayerNorm { epsilon, center, scale }, &[x])?;
    let mut roles = Vec::new();
    if scale {
        roles.push(("gamma", "gamma_regularizer"));
    }
    if center {
        roles.push(("beta", "beta_regularizer"));
    }
    let ws = cx.take_weights(layer, roles.len())?;
    for (i, (role, reg)) in roles.into_iter().enumerate() {
        let p = cx.add_param(
            layer,
            node,
            &ws[i],
            i,
            role,
            &[d],
            ParamTransform::Reshape { rows: 1, cols: d },
            true,
        )?;
        cx.set_regularizer(layer, p, reg)?;
    }
    Ok(vec![cx.out(node)])
}

/// `GaussianNoise(stddev)`: adds normal noise in training, the identity at inference.
pub(crate) fn gaussian_noise(
    cx: &mut Lowering,
    layer: &LayerCtx,
    inputs: &[TensorId],
) -> Result<Vec<TensorId>, ConvertError> {
    let x = single_input(layer, inputs)?;
    let stddev = layer.f64_or("stddev", 0.0)?;
    layer.require(stddev >= 0.0, format!("stddev {stddev} (must be 0 or more)"))?;
    let n = cx.add_node(layer, &layer.name, Op::GaussianNoise { stddev }, &[x])?;
    Ok(vec![cx.out(n)])
}

/// `GaussianDropout(rate)`: multiplies by normal noise of mean 1 and variance
/// `rate / (1 - rate)` in training, the identity at inference.
pub(crate) fn gaussian_dropout(
    cx: &mut Lowering,
    layer: &LayerCtx,
    inputs: &[TensorId],
) -> Result<Vec<TensorId>, ConvertError> {
    let x = single_input(layer, inputs)?;
    let rate = layer.f64_or("rate", 0.0)?;
    layer.require((0.0..1.0).contains(&rate), format!("rate {rate} (must be in [0, 1))"))?;
    let n = cx.add_node(layer, &layer.name, Op::GaussianDropout { rate }, &[x])?;
    Ok(vec![cx.out(n)])
}

/// `PReLU(shared_axes)`: alpha has the input's shape with the shared axes (1-based, as Keras
/// counts them after the batch) of size 1; it is kept as a `1 x cells` row.
pub(crate) fn prelu(
    cx: &mut Lowering,
    layer: &LayerCtx,
    inputs: &[TensorId],
) -> Result<Vec<TensorId>, ConvertError> {
    let x = single_input(layer, inputs)?;
    no_constraints(layer, &["alpha_constraint"])?;
    let mut alpha_shape = cx.shape(x).to_vec();
    let shared: Vec<usize> = match layer.get("shared_axes") {
        None => Vec::new(),
        Some(v) => {
            let list = match v {
                Json::Array(a) => a.iter().map(json_usize).collect::<Option<Vec<_>>>(),
                single => json_usize(single).map(|a| vec![a]),
            };
            list.ok_or_else(|| layer.err(format!("`shared_axes` must be a list of axes, got {v}")))?
        }
    };
    for &a in &shared {
        layer.require(
            (1..=alpha_shape.len()).contains(&a),
            format!("shared axis {a} (the input has axes 1 to {})", alpha_shape.len()),
        )?;
        alpha_shape[a - 1] = 1;
    }
    let cells: usize = alpha_shape.iter().product();
    let node = cx.add_node(layer, &layer.name, Op::PRelu { alpha_shape: alpha_shape.clone() }, &[x])?;
    let ws = cx.take_weights(layer, 1)?;
    let a = cx.add_param(
        layer,
        node,
        &ws[0],
        0,
        "alpha",
        &alpha_shape,
        ParamTransform::Reshape { rows: 1, cols: cells },
        true,
    )?;
    cx.set_regularizer(layer, a, "alpha_regularizer")?;
    Ok(vec![cx.out(node)])
}
