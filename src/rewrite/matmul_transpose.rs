//! `t(X) %*% Y` and `X %*% t(Y)` become one product that reads the transposed operand through
//! swapped strides instead of copying it first (the backward pass of every affine layer has
//! both). Exact: the same dot products in the same kernel.

use super::{HopRewrite, add_like};
use crate::builtins;
use crate::hops::{Dag, HopId, HopOp, Lit};
use crate::syntax::ast::ValueType;
use crate::types::ops::ReorgOp;
use crate::types::type_info::TypeInfo;

pub struct FuseTransposeIntoMatMul;

impl HopRewrite for FuseTransposeIntoMatMul {
    fn name(&self) -> &'static str {
        "matmul_transpose"
    }

    fn rewrite(&self, dag: &mut Dag, id: HopId) -> Option<HopId> {
        let hop = dag.get(id);
        if hop.op != HopOp::MatMul {
            return None;
        }
        let uses = dag.use_counts();
        let transposed = |h: HopId| {
            let x = dag.get(h);
            (x.op == HopOp::Reorg(ReorgOp::Transpose) && uses[h.index()] == 1).then(|| x.inputs[0])
        };
        let (a, b) = (hop.inputs[0], hop.inputs[1]);
        let (ta, tb) = (transposed(a), transposed(b));
        if ta.is_none() && tb.is_none() {
            return None;
        }
        let (ty, span) = (hop.ty, hop.span);
        let flag = |dag: &mut Dag, v: bool| {
            add_like(dag, HopOp::Literal(Lit::Bool(v)), vec![], TypeInfo::scalar(ValueType::Boolean), span)
        };
        let fa = flag(dag, ta.is_some());
        let fb = flag(dag, tb.is_some());
        let inputs = vec![ta.unwrap_or(a), tb.unwrap_or(b), fa, fb];
        let fused = builtins::ids::MATMUL_T;
        Some(add_like(dag, HopOp::Builtin { id: fused, nout: 1 }, inputs, ty, span))
    }
}
