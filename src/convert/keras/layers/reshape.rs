//! Shape layers: Reshape, Permute, RepeatVector.

use crate::convert::error::ConvertError;
use crate::convert::ir::TensorId;
use crate::convert::keras::lower::{LayerCtx, Lowering};

fn not_yet(layer: &LayerCtx) -> Result<Vec<TensorId>, ConvertError> {
    Err(layer.err(format!("layer class {} is not supported yet", layer.class)))
}

pub(crate) fn reshape(
    _cx: &mut Lowering,
    layer: &LayerCtx,
    _inputs: &[TensorId],
) -> Result<Vec<TensorId>, ConvertError> {
    not_yet(layer)
}

pub(crate) fn permute(
    _cx: &mut Lowering,
    layer: &LayerCtx,
    _inputs: &[TensorId],
) -> Result<Vec<TensorId>, ConvertError> {
    not_yet(layer)
}

pub(crate) fn repeat_vector(
    _cx: &mut Lowering,
    layer: &LayerCtx,
    _inputs: &[TensorId],
) -> Result<Vec<TensorId>, ConvertError> {
    not_yet(layer)
}
