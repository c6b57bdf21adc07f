//! `(X > 0) * dout` (the backward pass of ReLU) becomes one pass that never builds the 0/1 mask.
//! Exact: the fused kernel multiplies `dout` by the same 0/1 indicator cell by cell.

use super::{HopRewrite, add_like, lit_num};
use crate::builtins;
use crate::hops::{Dag, HopId, HopOp};
use crate::types::ops::BinOp;

pub struct FuseReluBackward;

impl HopRewrite for FuseReluBackward {
    fn name(&self) -> &'static str {
        "fuse_relu_backward"
    }

    fn rewrite(&self, dag: &mut Dag, id: HopId) -> Option<HopId> {
        let hop = dag.get(id);
        if hop.op != HopOp::Binary(BinOp::Mul) || !hop.ty.is_matrix() {
            return None;
        }
        let is_mask = |m: HopId| {
            let h = dag.get(m);
            h.op == HopOp::Binary(BinOp::Gt)
                && lit_num(dag, h.inputs[1]) == Some(0.0)
                && dag.get(h.inputs[0]).ty.is_matrix()
        };
        let (mask, dout) = if is_mask(hop.inputs[0]) {
            (hop.inputs[0], hop.inputs[1])
        } else if is_mask(hop.inputs[1]) {
            (hop.inputs[1], hop.inputs[0])
        } else {
            return None;
        };
        let x = dag.get(mask).inputs[0];
        let (tx, td) = (dag.get(x).ty, dag.get(dout).ty);
        // Known different shapes (a broadcast) stay unfused; unknown shapes are checked by the
        // fused operator at run time, which then computes the unfused expression.
        let known_mismatch = tx.dims_known() && td.dims_known() && (tx.rows != td.rows || tx.cols != td.cols);
        if !td.is_matrix() || known_mismatch {
            return None;
        }
        let fused = builtins::ids::RELU_BACKWARD;
        let (ty, span) = (hop.ty, hop.span);
        Some(add_like(dag, HopOp::Builtin { id: fused, nout: 1 }, vec![x, dout], ty, span))
    }
}
