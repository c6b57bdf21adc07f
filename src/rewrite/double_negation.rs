//! `-(-X)` becomes `X` (SystemDS's `removeUnnecessaryMinus`). Exact: negation only flips the
//! sign bit, so flipping it twice restores every double, NaN and signed zeros included.

use super::HopRewrite;
use crate::hops::{Dag, HopId, HopOp};
use crate::types::ops::UnOp;

pub struct DoubleNegation;

impl HopRewrite for DoubleNegation {
    fn name(&self) -> &'static str {
        "double_negation"
    }

    fn rewrite(&self, dag: &mut Dag, id: HopId) -> Option<HopId> {
        let hop = dag.get(id);
        if hop.op != HopOp::Unary(UnOp::Neg) {
            return None;
        }
        let inner = dag.get(hop.inputs[0]);
        if inner.op != HopOp::Unary(UnOp::Neg) {
            return None;
        }
        let x = inner.inputs[0];
        // Scalars too would be exact, but `-(-b)` of a boolean is numeric: keep the type.
        (dag.get(x).ty.is_matrix() && hop.ty.is_matrix()).then_some(x)
    }
}
