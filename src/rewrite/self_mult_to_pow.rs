//! `X * X` becomes `X ^ 2` for matrices: one read of `X` instead of two, and the same value,
//! because the power kernel computes `x^2` as `x*x`.

use super::{HopRewrite, add_like};
use crate::hops::{Dag, HopId, HopOp, Lit};
use crate::syntax::ast::ValueType;
use crate::types::ops::BinOp;
use crate::types::type_info::TypeInfo;

pub struct SelfMultToPow;

impl HopRewrite for SelfMultToPow {
    fn name(&self) -> &'static str {
        "self_mult_to_pow"
    }

    fn rewrite(&self, dag: &mut Dag, id: HopId) -> Option<HopId> {
        let hop = dag.get(id);
        if hop.op != HopOp::Binary(BinOp::Mul) || hop.inputs[0] != hop.inputs[1] || !hop.ty.is_matrix() {
            return None;
        }
        let (x, ty, span) = (hop.inputs[0], hop.ty, hop.span);
        let two = add_like(
            dag,
            HopOp::Literal(Lit::Double(2.0)),
            vec![],
            TypeInfo::scalar(ValueType::Double),
            span,
        );
        Some(add_like(dag, HopOp::Binary(BinOp::Pow), vec![x, two], ty, span))
    }
}
