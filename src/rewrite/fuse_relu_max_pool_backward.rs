//! `_relu_backward(X, max_pool_backward(max(0, X), dout, ...))` (the backward pass of ReLU
//! followed by max pooling) becomes one pass over `X`, as SystemDS's `relu_maxpooling_backward`.
//! LeNet's first layer then reads and writes one 12 MB tensor fewer per step.
//!
//! Exact: within a window, the first maximum of `max(0, x)` is the first maximum of `x` when
//! some cell is positive, and the gradient lands there; when no cell is positive the unfused
//! form routes the gradient to a cell with `x <= 0`, which the ReLU mask then zeroes, and the
//! fused kernel gives no gradient at all. Both give the same cells.

use super::{HopRewrite, add_like, lit_num};
use crate::builtins;
use crate::hops::{Dag, HopId, HopOp};
use crate::types::ops::BinOp;

pub struct FuseReluMaxPoolBackward;

impl HopRewrite for FuseReluMaxPoolBackward {
    fn name(&self) -> &'static str {
        "fuse_relu_max_pool_backward"
    }

    fn rewrite(&self, dag: &mut Dag, id: HopId) -> Option<HopId> {
        let hop = dag.get(id);
        let HopOp::Builtin { id: b, .. } = hop.op else { return None };
        if b != builtins::ids::RELU_BACKWARD {
            return None;
        }
        let (x, grad) = (hop.inputs[0], hop.inputs[1]);
        let pool = dag.get(grad);
        match pool.op {
            HopOp::Builtin { id: p, nout: 1 } if p == builtins::ids::MAX_POOL_BACKWARD => {}
            _ => return None,
        }
        if dag.use_counts()[grad.index()] != 1 {
            return None;
        }
        let relu = dag.get(pool.inputs[0]);
        let is_relu_of_x = relu.op == HopOp::Binary(BinOp::Max)
            && ((lit_num(dag, relu.inputs[0]) == Some(0.0) && relu.inputs[1] == x)
                || (lit_num(dag, relu.inputs[1]) == Some(0.0) && relu.inputs[0] == x));
        if !is_relu_of_x {
            return None;
        }
        let mut inputs = pool.inputs.clone();
        inputs[0] = x;
        let fused = builtins::ids::RELU_MAX_POOL_BACKWARD;
        let (ty, span) = (hop.ty, hop.span);
        Some(add_like(dag, HopOp::Builtin { id: fused, nout: 1 }, inputs, ty, span))
    }
}
