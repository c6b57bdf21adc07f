//! Shape layers: Reshape, Permute, RepeatVector.

use serde_json::Value as Json;

use super::single_input;
use crate::convert::error::ConvertError;
use crate::convert::ir::{Op, TensorId};
use crate::convert::keras::lower::{LayerCtx, Lowering, json_usize};

/// A list of integers from the config (`target_shape`, `dims`); `-1` entries come back as `None`.
fn int_list(layer: &LayerCtx, key: &str) -> Result<Vec<Option<usize>>, ConvertError> {
    let v = layer.get(key).ok_or_else(|| layer.err(format!("`{key}` is missing")))?;
    let a = v.as_array().ok_or_else(|| layer.err(format!("`{key}` must be a list of integers, got {v}")))?;
    a.iter()
        .map(|d| match d {
            d if d.as_i64() == Some(-1) => Ok(None),
            d => json_usize(d)
                .map(Some)
                .ok_or_else(|| layer.err(format!("`{key}` must be a list of integers, got {v}"))),
        })
        .collect()
}

/// `Reshape(target_shape)`: Keras reshapes row-major, so the cells keep their order; one `-1`
/// entry is inferred from the input's size.
pub(crate) fn reshape(
    cx: &mut Lowering,
    layer: &LayerCtx,
    inputs: &[TensorId],
) -> Result<Vec<TensorId>, ConvertError> {
    let x = single_input(layer, inputs)?;
    let width: usize = cx.shape(x).iter().product();
    let dims = int_list(layer, "target_shape")?;
    let unknown = dims.iter().filter(|d| d.is_none()).count();
    layer.require(unknown <= 1, "more than one -1 in target_shape")?;
    let known: usize = dims.iter().flatten().product();
    let target: Vec<usize> = dims
        .iter()
        .map(|d| match d {
            Some(n) => Ok(*n),
            None if known > 0 && width.is_multiple_of(known) => Ok(width / known),
            None => Err(layer.err(format!("cannot infer the -1 of target_shape from {width} cells"))),
        })
        .collect::<Result<_, _>>()?;
    let n = cx.add_node(layer, &layer.name, Op::Reshape { target }, &[x])?;
    Ok(vec![cx.out(n)])
}

/// `Permute(dims)`: output axis `i` is input axis `dims[i]` (1-based, the batch axis excluded).
pub(crate) fn permute(
    cx: &mut Lowering,
    layer: &LayerCtx,
    inputs: &[TensorId],
) -> Result<Vec<TensorId>, ConvertError> {
    let x = single_input(layer, inputs)?;
    let dims = int_list(layer, "dims")?
        .into_iter()
        .collect::<Option<Vec<usize>>>()
        .ok_or_else(|| layer.err("`dims` must be positive axes"))?;
    let n = cx.add_node(layer, &layer.name, Op::Permute { dims }, &[x])?;
    Ok(vec![cx.out(n)])
}

/// `RepeatVector(n)`: `(D,)` to `(n, D)`.
pub(crate) fn repeat_vector(
    cx: &mut Lowering,
    layer: &LayerCtx,
    inputs: &[TensorId],
) -> Result<Vec<TensorId>, ConvertError> {
    let x = single_input(layer, inputs)?;
    let n = layer.get("n").and_then(Json::as_u64).map(|n| n as usize);
    let n = n.filter(|&n| n > 0).ok_or_else(|| layer.err("`n` must be a positive integer"))?;
    let node = cx.add_node(layer, &layer.name, Op::RepeatVector { n }, &[x])?;
    Ok(vec![cx.out(node)])
}
