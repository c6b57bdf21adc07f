//! Keras layer classes to graph ops, one family per file. Each lowering reads its layer's
//! config (refusing settings it does not implement, by name), adds the node(s) with
//! [`Lowering::add_node`], takes the layer's variables with [`Lowering::take_weights`] and adds
//! them as parameters in the op's DML layout with their transforms (see `ir::Op`).

mod conv;
mod core;
mod merge;
mod norm;
mod recurrent;
mod reshape;

use super::lower::{LayerCtx, Lowering};
use crate::convert::error::ConvertError;
use crate::convert::ir::{PoolKind, TensorId};

/// A lowering of one layer class: the layer, its input tensors; returns its output tensors.
type LowerFn = fn(&mut Lowering, &LayerCtx, &[TensorId]) -> Result<Vec<TensorId>, ConvertError>;

/// Every supported layer class and its lowering.
const LAYERS: &[(&str, LowerFn)] = &[
    // core.rs
    ("Dense", core::dense),
    ("Activation", core::activation_layer),
    ("ReLU", core::relu_layer),
    ("LeakyReLU", core::leaky_relu_layer),
    ("ELU", core::elu_layer),
    ("Softmax", core::softmax_layer),
    ("Flatten", core::flatten),
    ("Dropout", core::dropout),
    // conv.rs
    ("Conv1D", conv::conv1d),
    ("Conv2D", conv::conv2d),
    ("Conv2DTranspose", conv::conv2d_transpose),
    ("DepthwiseConv2D", conv::depthwise_conv2d),
    ("SeparableConv2D", conv::separable_conv2d),
    ("MaxPooling1D", |cx, l, i| conv::pool1d(cx, l, i, PoolKind::Max)),
    ("MaxPooling2D", |cx, l, i| conv::pool2d(cx, l, i, PoolKind::Max)),
    ("AveragePooling1D", |cx, l, i| conv::pool1d(cx, l, i, PoolKind::Avg)),
    ("AveragePooling2D", |cx, l, i| conv::pool2d(cx, l, i, PoolKind::Avg)),
    ("GlobalAveragePooling1D", |cx, l, i| conv::global_pool(cx, l, i, PoolKind::Avg, 1)),
    ("GlobalAveragePooling2D", |cx, l, i| conv::global_pool(cx, l, i, PoolKind::Avg, 2)),
    ("GlobalMaxPooling1D", |cx, l, i| conv::global_pool(cx, l, i, PoolKind::Max, 1)),
    ("GlobalMaxPooling2D", |cx, l, i| conv::global_pool(cx, l, i, PoolKind::Max, 2)),
    ("ZeroPadding2D", conv::zero_padding2d),
    ("Cropping2D", conv::cropping2d),
    ("UpSampling2D", conv::up_sampling2d),
    ("SpatialDropout1D", conv::spatial_dropout1d),
    ("SpatialDropout2D", conv::spatial_dropout2d),
    // recurrent.rs
    ("Embedding", recurrent::embedding),
    ("SimpleRNN", recurrent::simple_rnn),
    ("LSTM", recurrent::lstm),
    ("GRU", recurrent::gru),
    ("Bidirectional", recurrent::bidirectional),
    ("TimeDistributed", recurrent::time_distributed),
    // norm.rs
    ("BatchNormalization", norm::batch_normalization),
    ("LayerNormalization", norm::layer_normalization),
    ("GaussianNoise", norm::gaussian_noise),
    ("GaussianDropout", norm::gaussian_dropout),
    ("PReLU", norm::prelu),
    // reshape.rs
    ("Reshape", reshape::reshape),
    ("Permute", reshape::permute),
    ("RepeatVector", reshape::repeat_vector),
    // merge.rs
    ("Add", merge::add),
    ("Subtract", merge::subtract),
    ("Multiply", merge::multiply),
    ("Average", merge::average),
    ("Maximum", merge::maximum),
    ("Minimum", merge::minimum),
    ("Concatenate", merge::concatenate),
];

/// The supported layer class names, for error messages and documentation.
pub fn supported() -> Vec<&'static str> {
    let mut v: Vec<&str> = LAYERS.iter().map(|(n, _)| *n).collect();
    v.push("InputLayer");
    v.push("Sequential");
    v.push("Functional");
    v.sort_unstable();
    v
}

/// Lowers one layer applied to `inputs`.
pub fn lower_layer(
    cx: &mut Lowering,
    layer: &LayerCtx,
    inputs: &[TensorId],
) -> Result<Vec<TensorId>, ConvertError> {
    match LAYERS.iter().find(|(n, _)| *n == layer.class) {
        Some((_, f)) => f(cx, layer, inputs),
        None => Err(layer.err(format!(
            "layer class {} is not supported; supported classes: {}",
            layer.class,
            supported().join(", ")
        ))),
    }
}

/// The single input of a one-input layer.
pub(crate) fn single_input(layer: &LayerCtx, inputs: &[TensorId]) -> Result<TensorId, ConvertError> {
    match inputs {
        [x] => Ok(*x),
        _ => Err(layer.err(format!("expects one input, got {}", inputs.len()))),
    }
}
