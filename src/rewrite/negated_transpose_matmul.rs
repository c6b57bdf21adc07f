//! `(-t(X)) %*% Y` becomes `0 - (t(X) %*% Y)`: DML's unary minus binds tighter than `%*%`, so
//! `- t(X) %*% y` (lmCG's first residual) negates a materialized transpose and keeps
//! `matmul_transpose` from reading `X` through swapped strides. With the minus moved after the
//! product that rule fuses the transpose, and the negation touches the (small) result instead.
//!
//! Exact: every term of the product changes sign, the products and sums are the same in the same
//! order, and round-to-nearest is symmetric, so each result cell is exactly the negated one. The
//! minus is `0 - v`, not `-v`: a product's zero cell is `+0.0` (its sum starts at `+0.0`), and
//! `0 - 0.0` keeps it `+0.0` as the original product gives, where `-v` would give `-0.0`.

use super::{HopRewrite, add_like};
use crate::hops::{Dag, HopId, HopOp, Lit};
use crate::syntax::ast::ValueType;
use crate::types::ops::{BinOp, ReorgOp, UnOp};
use crate::types::type_info::TypeInfo;

pub struct NegatedTransposeMatMul;

impl HopRewrite for NegatedTransposeMatMul {
    fn name(&self) -> &'static str {
        "negated_transpose_matmul"
    }

    fn rewrite(&self, dag: &mut Dag, id: HopId) -> Option<HopId> {
        let hop = dag.get(id);
        if hop.op != HopOp::MatMul {
            return None;
        }
        let (a, b) = (hop.inputs[0], hop.inputs[1]);
        let neg = dag.get(a);
        if neg.op != HopOp::Unary(UnOp::Neg) || dag.use_counts()[a.index()] != 1 {
            return None;
        }
        let inner = neg.inputs[0];
        if dag.get(inner).op != HopOp::Reorg(ReorgOp::Transpose) || !dag.get(inner).ty.is_matrix() {
            return None;
        }
        let (ty, span) = (hop.ty, hop.span);
        let product = add_like(dag, HopOp::MatMul, vec![inner, b], ty, span);
        let zero = add_like(
            dag,
            HopOp::Literal(Lit::Double(0.0)),
            vec![],
            TypeInfo::scalar(ValueType::Double),
            span,
        );
        Some(add_like(dag, HopOp::Binary(BinOp::Sub), vec![zero, product], ty, span))
    }
}
