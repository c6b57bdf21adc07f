//! `max_pool(max(0, X), ...)` becomes one fused pass: the largest cell of a window after ReLU is
//! `max(0, largest cell)`, so pooling first and clamping the (four times smaller) result gives the
//! same values without materializing the ReLU output.

use super::{HopRewrite, add_like, lit_num};
use crate::builtins;
use crate::hops::{Dag, HopId, HopOp};
use crate::types::ops::BinOp;

pub struct FuseReluMaxPool;

impl HopRewrite for FuseReluMaxPool {
    fn name(&self) -> &'static str {
        "fuse_relu_max_pool"
    }

    fn rewrite(&self, dag: &mut Dag, id: HopId) -> Option<HopId> {
        let hop = dag.get(id);
        let HopOp::Builtin { id: b, .. } = hop.op else { return None };
        if b != builtins::ids::MAX_POOL {
            return None;
        }
        let relu_id = hop.inputs[0];
        let relu = dag.get(relu_id);
        if relu.op != HopOp::Binary(BinOp::Max) || dag.use_counts()[relu_id.index()] != 1 {
            return None;
        }
        let x = if lit_num(dag, relu.inputs[0]) == Some(0.0) && dag.get(relu.inputs[1]).ty.is_matrix() {
            relu.inputs[1]
        } else if lit_num(dag, relu.inputs[1]) == Some(0.0) && dag.get(relu.inputs[0]).ty.is_matrix() {
            relu.inputs[0]
        } else {
            return None;
        };
        let mut inputs = hop.inputs.clone();
        inputs[0] = x;
        let fused = builtins::ids::RELU_MAX_POOL;
        let (ty, span) = (hop.ty, hop.span);
        Some(add_like(dag, HopOp::Builtin { id: fused, nout: 1 }, inputs, ty, span))
    }
}
