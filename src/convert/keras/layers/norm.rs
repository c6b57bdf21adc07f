//! Normalization and noise layers: BatchNormalization, LayerNormalization, GaussianNoise, GaussianDropout, PReLU.

use crate::convert::error::ConvertError;
use crate::convert::ir::TensorId;
use crate::convert::keras::lower::{LayerCtx, Lowering};

fn not_yet(layer: &LayerCtx) -> Result<Vec<TensorId>, ConvertError> {
    Err(layer.err(format!("layer class {} is not supported yet", layer.class)))
}

pub(crate) fn batch_normalization(
    _cx: &mut Lowering,
    layer: &LayerCtx,
    _inputs: &[TensorId],
) -> Result<Vec<TensorId>, ConvertError> {
    not_yet(layer)
}

pub(crate) fn layer_normalization(
    _cx: &mut Lowering,
    layer: &LayerCtx,
    _inputs: &[TensorId],
) -> Result<Vec<TensorId>, ConvertError> {
    not_yet(layer)
}

pub(crate) fn gaussian_noise(
    _cx: &mut Lowering,
    layer: &LayerCtx,
    _inputs: &[TensorId],
) -> Result<Vec<TensorId>, ConvertError> {
    not_yet(layer)
}

pub(crate) fn gaussian_dropout(
    _cx: &mut Lowering,
    layer: &LayerCtx,
    _inputs: &[TensorId],
) -> Result<Vec<TensorId>, ConvertError> {
    not_yet(layer)
}

pub(crate) fn prelu(
    _cx: &mut Lowering,
    layer: &LayerCtx,
    _inputs: &[TensorId],
) -> Result<Vec<TensorId>, ConvertError> {
    not_yet(layer)
}
