//! Emitters of normalization and noise ops (BatchNorm, LayerNorm, GaussianNoise/Dropout, SpatialDropout, PReLU).

use super::Cx;
use crate::convert::error::ConvertError;
use crate::convert::ir::Node;

pub fn forward(_cx: &mut Cx, node: &Node) -> Result<(), ConvertError> {
    Err(super::unsupported(node))
}

pub fn backward(_cx: &mut Cx, node: &Node) -> Result<(), ConvertError> {
    Err(super::unsupported(node))
}
