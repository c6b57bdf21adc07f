//! Emitters of convolution, pooling, padding, cropping and upsampling ops (nn's channels-first layout).

use super::Cx;
use crate::convert::error::ConvertError;
use crate::convert::ir::Node;

pub fn forward(_cx: &mut Cx, node: &Node) -> Result<(), ConvertError> {
    Err(super::unsupported(node))
}

pub fn backward(_cx: &mut Cx, node: &Node) -> Result<(), ConvertError> {
    Err(super::unsupported(node))
}
