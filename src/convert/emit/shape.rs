//! Emitters of the shape ops (Reshape, Permute, RepeatVector).

use super::Cx;
use crate::convert::error::ConvertError;
use crate::convert::ir::Node;

pub fn forward(_cx: &mut Cx, node: &Node) -> Result<(), ConvertError> {
    Err(super::unsupported(node))
}

pub fn backward(_cx: &mut Cx, node: &Node) -> Result<(), ConvertError> {
    Err(super::unsupported(node))
}
