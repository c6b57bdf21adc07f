//! Merge layers of Functional models: Add, Subtract, Multiply, Average, Maximum, Minimum,
//! Concatenate.

use crate::convert::error::ConvertError;
use crate::convert::ir::{MergeKind, Op, TensorId};
use crate::convert::keras::lower::{LayerCtx, Lowering};

fn merge(
    cx: &mut Lowering,
    layer: &LayerCtx,
    inputs: &[TensorId],
    kind: MergeKind,
) -> Result<Vec<TensorId>, ConvertError> {
    layer.require(
        inputs.len() >= 2 || matches!(kind, MergeKind::Concatenate(_)),
        "a merge of fewer than two inputs",
    )?;
    if kind == MergeKind::Subtract {
        layer.require(inputs.len() == 2, "Subtract of other than two inputs")?;
    }
    let n = cx.add_node(layer, &layer.name, Op::Merge(kind), inputs)?;
    Ok(vec![cx.out(n)])
}

pub(crate) fn add(
    cx: &mut Lowering,
    layer: &LayerCtx,
    inputs: &[TensorId],
) -> Result<Vec<TensorId>, ConvertError> {
    merge(cx, layer, inputs, MergeKind::Add)
}

pub(crate) fn subtract(
    cx: &mut Lowering,
    layer: &LayerCtx,
    inputs: &[TensorId],
) -> Result<Vec<TensorId>, ConvertError> {
    merge(cx, layer, inputs, MergeKind::Subtract)
}

pub(crate) fn multiply(
    cx: &mut Lowering,
    layer: &LayerCtx,
    inputs: &[TensorId],
) -> Result<Vec<TensorId>, ConvertError> {
    merge(cx, layer, inputs, MergeKind::Multiply)
}

pub(crate) fn average(
    cx: &mut Lowering,
    layer: &LayerCtx,
    inputs: &[TensorId],
) -> Result<Vec<TensorId>, ConvertError> {
    merge(cx, layer, inputs, MergeKind::Average)
}

pub(crate) fn maximum(
    cx: &mut Lowering,
    layer: &LayerCtx,
    inputs: &[TensorId],
) -> Result<Vec<TensorId>, ConvertError> {
    merge(cx, layer, inputs, MergeKind::Maximum)
}

pub(crate) fn minimum(
    cx: &mut Lowering,
    layer: &LayerCtx,
    inputs: &[TensorId],
) -> Result<Vec<TensorId>, ConvertError> {
    merge(cx, layer, inputs, MergeKind::Minimum)
}

pub(crate) fn concatenate(
    cx: &mut Lowering,
    layer: &LayerCtx,
    inputs: &[TensorId],
) -> Result<Vec<TensorId>, ConvertError> {
    let axis = layer.get("axis").and_then(serde_json::Value::as_i64).unwrap_or(-1);
    merge(cx, layer, inputs, MergeKind::Concatenate(axis))
}
