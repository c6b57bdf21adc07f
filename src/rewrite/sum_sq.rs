//! `sum(X^2)` becomes `sumSq(X)` (SystemDS's `fuseSumSquared`): one pass over `X` without the
//! squared temporary. The same squares (`x^2` is computed as `x*x`) summed by the same
//! compensated sum.

use super::{HopRewrite, add_like, lit_num};
use crate::hops::{Dag, HopId, HopOp};
use crate::types::ops::{AggDir, AggOp, BinOp};

pub struct SumOfSquares;

impl HopRewrite for SumOfSquares {
    fn name(&self) -> &'static str {
        "sum_sq"
    }

    fn rewrite(&self, dag: &mut Dag, id: HopId) -> Option<HopId> {
        let hop = dag.get(id);
        if hop.op != HopOp::AggUnary(AggOp::Sum, AggDir::All) {
            return None;
        }
        let pow = dag.get(hop.inputs[0]);
        if pow.op != HopOp::Binary(BinOp::Pow) || lit_num(dag, pow.inputs[1]) != Some(2.0) {
            return None;
        }
        let x = pow.inputs[0];
        if !dag.get(x).ty.is_matrix() {
            return None;
        }
        let (ty, span) = (hop.ty, hop.span);
        Some(add_like(dag, HopOp::AggUnary(AggOp::SumSq, AggDir::All), vec![x], ty, span))
    }
}
