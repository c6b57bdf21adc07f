//! `X + X` becomes `X * 2` (SystemDS's `simplifyBinaryToUnaryOperation`): one read of `X`
//! instead of two. Exact: `x + x` and `2 * x` are the same double for every `x` (doubling is
//! exact in binary floating point; infinities and NaN behave alike).

use super::{HopRewrite, add_like};
use crate::hops::{Dag, HopId, HopOp, Lit};
use crate::syntax::ast::ValueType;
use crate::types::ops::BinOp;
use crate::types::type_info::TypeInfo;

pub struct SelfAddToMult;

impl HopRewrite for SelfAddToMult {
    fn name(&self) -> &'static str {
        "self_add_to_mult"
    }

    fn rewrite(&self, dag: &mut Dag, id: HopId) -> Option<HopId> {
        let hop = dag.get(id);
        if hop.op != HopOp::Binary(BinOp::Add) || hop.inputs[0] != hop.inputs[1] {
            return None;
        }
        let x = hop.inputs[0];
        if !dag.get(x).ty.is_matrix() {
            return None;
        }
        let (ty, span) = (hop.ty, hop.span);
        let two = add_like(
            dag,
            HopOp::Literal(Lit::Double(2.0)),
            vec![],
            TypeInfo::scalar(ValueType::Double),
            span,
        );
        Some(add_like(dag, HopOp::Binary(BinOp::Mul), vec![x, two], ty, span))
    }
}
