//! Convolution and pooling layers: Conv1D/2D, Conv2DTranspose, DepthwiseConv2D, SeparableConv2D, pooling, global pooling, ZeroPadding2D, Cropping2D, UpSampling2D, SpatialDropout.

use crate::convert::error::ConvertError;
use crate::convert::ir::TensorId;
use crate::convert::keras::lower::{LayerCtx, Lowering};

fn not_yet(layer: &LayerCtx) -> Result<Vec<TensorId>, ConvertError> {
    Err(layer.err(format!("layer class {} is not supported yet", layer.class)))
}

pub(crate) fn conv1d(
    _cx: &mut Lowering,
    layer: &LayerCtx,
    _inputs: &[TensorId],
) -> Result<Vec<TensorId>, ConvertError> {
    not_yet(layer)
}

pub(crate) fn conv2d(
    _cx: &mut Lowering,
    layer: &LayerCtx,
    _inputs: &[TensorId],
) -> Result<Vec<TensorId>, ConvertError> {
    not_yet(layer)
}

pub(crate) fn conv2d_transpose(
    _cx: &mut Lowering,
    layer: &LayerCtx,
    _inputs: &[TensorId],
) -> Result<Vec<TensorId>, ConvertError> {
    not_yet(layer)
}

pub(crate) fn depthwise_conv2d(
    _cx: &mut Lowering,
    layer: &LayerCtx,
    _inputs: &[TensorId],
) -> Result<Vec<TensorId>, ConvertError> {
    not_yet(layer)
}

pub(crate) fn separable_conv2d(
    _cx: &mut Lowering,
    layer: &LayerCtx,
    _inputs: &[TensorId],
) -> Result<Vec<TensorId>, ConvertError> {
    not_yet(layer)
}

pub(crate) fn max_pooling1d(
    _cx: &mut Lowering,
    layer: &LayerCtx,
    _inputs: &[TensorId],
) -> Result<Vec<TensorId>, ConvertError> {
    not_yet(layer)
}

pub(crate) fn max_pooling2d(
    _cx: &mut Lowering,
    layer: &LayerCtx,
    _inputs: &[TensorId],
) -> Result<Vec<TensorId>, ConvertError> {
    not_yet(layer)
}

pub(crate) fn average_pooling1d(
    _cx: &mut Lowering,
    layer: &LayerCtx,
    _inputs: &[TensorId],
) -> Result<Vec<TensorId>, ConvertError> {
    not_yet(layer)
}

pub(crate) fn average_pooling2d(
    _cx: &mut Lowering,
    layer: &LayerCtx,
    _inputs: &[TensorId],
) -> Result<Vec<TensorId>, ConvertError> {
    not_yet(layer)
}

pub(crate) fn global_average_pooling1d(
    _cx: &mut Lowering,
    layer: &LayerCtx,
    _inputs: &[TensorId],
) -> Result<Vec<TensorId>, ConvertError> {
    not_yet(layer)
}

pub(crate) fn global_average_pooling2d(
    _cx: &mut Lowering,
    layer: &LayerCtx,
    _inputs: &[TensorId],
) -> Result<Vec<TensorId>, ConvertError> {
    not_yet(layer)
}

pub(crate) fn global_max_pooling1d(
    _cx: &mut Lowering,
    layer: &LayerCtx,
    _inputs: &[TensorId],
) -> Result<Vec<TensorId>, ConvertError> {
    not_yet(layer)
}

pub(crate) fn global_max_pooling2d(
    _cx: &mut Lowering,
    layer: &LayerCtx,
    _inputs: &[TensorId],
) -> Result<Vec<TensorId>, ConvertError> {
    not_yet(layer)
}

pub(crate) fn zero_padding2d(
    _cx: &mut Lowering,
    layer: &LayerCtx,
    _inputs: &[TensorId],
) -> Result<Vec<TensorId>, ConvertError> {
    not_yet(layer)
}

pub(crate) fn cropping2d(
    _cx: &mut Lowering,
    layer: &LayerCtx,
    _inputs: &[TensorId],
) -> Result<Vec<TensorId>, ConvertError> {
    not_yet(layer)
}

pub(crate) fn up_sampling2d(
    _cx: &mut Lowering,
    layer: &LayerCtx,
    _inputs: &[TensorId],
) -> Result<Vec<TensorId>, ConvertError> {
    not_yet(layer)
}

pub(crate) fn spatial_dropout1d(
    _cx: &mut Lowering,
    layer: &LayerCtx,
    _inputs: &[TensorId],
) -> Result<Vec<TensorId>, ConvertError> {
    not_yet(layer)
}

pub(crate) fn spatial_dropout2d(
    _cx: &mut Lowering,
    layer: &LayerCtx,
    _inputs: &[TensorId],
) -> Result<Vec<TensorId>, ConvertError> {
    not_yet(layer)
}
