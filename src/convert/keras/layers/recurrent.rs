//! Embedding and recurrent layers: Embedding, SimpleRNN, LSTM, GRU, Bidirectional, TimeDistributed.

use crate::convert::error::ConvertError;
use crate::convert::ir::TensorId;
use crate::convert::keras::lower::{LayerCtx, Lowering};

fn not_yet(layer: &LayerCtx) -> Result<Vec<TensorId>, ConvertError> {
    Err(layer.err(format!("layer class {} is not supported yet", layer.class)))
}

pub(crate) fn embedding(
    _cx: &mut Lowering,
    layer: &LayerCtx,
    _inputs: &[TensorId],
) -> Result<Vec<TensorId>, ConvertError> {
    not_yet(layer)
}

pub(crate) fn simple_rnn(
    _cx: &mut Lowering,
    layer: &LayerCtx,
    _inputs: &[TensorId],
) -> Result<Vec<TensorId>, ConvertError> {
    not_yet(layer)
}

pub(crate) fn lstm(
    _cx: &mut Lowering,
    layer: &LayerCtx,
    _inputs: &[TensorId],
) -> Result<Vec<TensorId>, ConvertError> {
    not_yet(layer)
}

pub(crate) fn gru(
    _cx: &mut Lowering,
    layer: &LayerCtx,
    _inputs: &[TensorId],
) -> Result<Vec<TensorId>, ConvertError> {
    not_yet(layer)
}

pub(crate) fn bidirectional(
    _cx: &mut Lowering,
    layer: &LayerCtx,
    _inputs: &[TensorId],
) -> Result<Vec<TensorId>, ConvertError> {
    not_yet(layer)
}

pub(crate) fn time_distributed(
    _cx: &mut Lowering,
    layer: &LayerCtx,
    _inputs: &[TensorId],
) -> Result<Vec<TensorId>, ConvertError> {
    not_yet(layer)
}
