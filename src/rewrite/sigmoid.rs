//! `1 / (1 + exp(-X))` becomes `sigmoid(X)` for matrices: one pass instead of four temporaries.
//! Exact: the sigmoid kernel evaluates the very same formula per cell.

use super::{HopRewrite, add_like, lit_num};
use crate::hops::{Dag, HopId, HopOp};
use crate::types::ops::{BinOp, UnOp};

pub struct FuseSigmoid;

impl HopRewrite for FuseSigmoid {
    fn name(&self) -> &'static str {
        "fuse_sigmoid"
    }

    fn rewrite(&self, dag: &mut Dag, id: HopId) -> Option<HopId> {
        let hop = dag.get(id);
        if hop.op != HopOp::Binary(BinOp::Div)
            || !hop.ty.is_matrix()
            || lit_num(dag, hop.inputs[0]) != Some(1.0)
        {
            return None;
        }
        let sum = dag.get(hop.inputs[1]);
        if sum.op != HopOp::Binary(BinOp::Add) {
            return None;
        }
        let (one, e) = if lit_num(dag, sum.inputs[0]) == Some(1.0) {
            (sum.inputs[0], sum.inputs[1])
        } else {
            (sum.inputs[1], sum.inputs[0])
        };
        if lit_num(dag, one) != Some(1.0) {
            return None;
        }
        let exp = dag.get(e);
        if exp.op != HopOp::Unary(UnOp::Exp) {
            return None;
        }
        let neg = dag.get(exp.inputs[0]);
        let x = match neg.op {
            HopOp::Unary(UnOp::Neg) => neg.inputs[0],
            HopOp::Binary(BinOp::Mul) if lit_num(dag, neg.inputs[1]) == Some(-1.0) => neg.inputs[0],
            _ => return None,
        };
        if !dag.get(x).ty.is_matrix() {
            return None;
        }
        let (ty, span) = (hop.ty, hop.span);
        Some(add_like(dag, HopOp::Unary(UnOp::Sigmoid), vec![x], ty, span))
    }
}
