//! `t(X) %*% X` (and `X %*% t(X)`) becomes one dedicated operator that reads `X` once, never
//! materializes the transpose, and computes only half of the symmetric result. Exact: the same
//! dot products.

use super::{HopRewrite, add_like};
use crate::hops::{Dag, HopId, HopOp};
use crate::types::ops::ReorgOp;

pub struct TransposeSelfMatMul;

impl HopRewrite for TransposeSelfMatMul {
    fn name(&self) -> &'static str {
        "tsmm"
    }

    fn rewrite(&self, dag: &mut Dag, id: HopId) -> Option<HopId> {
        let hop = dag.get(id);
        if hop.op != HopOp::MatMul {
            return None;
        }
        let (a, b) = (hop.inputs[0], hop.inputs[1]);
        let is_t_of = |t: HopId, x: HopId| {
            let h = dag.get(t);
            h.op == HopOp::Reorg(ReorgOp::Transpose) && h.inputs[0] == x
        };
        let (left, x) = if is_t_of(a, b) {
            (true, b)
        } else if is_t_of(b, a) {
            (false, a)
        } else {
            return None;
        };
        let (ty, span) = (hop.ty, hop.span);
        Some(add_like(dag, HopOp::Tsmm { left }, vec![x], ty, span))
    }
}
