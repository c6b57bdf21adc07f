//! `trace(X %*% Y)` becomes `sum(X * t(Y))`: the diagonal of a product needs only the products of
//! matching rows and columns, O(n^2) work instead of O(n^3). The value is the same sum of the
//! same products (summed in another order, within rounding).

use super::{HopRewrite, add_like};
use crate::builtins;
use crate::hops::{Dag, HopId, HopOp};
use crate::syntax::ast::ValueType;
use crate::types::ops::ReorgOp;
use crate::types::ops::{AggDir, AggOp, BinOp};
use crate::types::type_info::TypeInfo;

pub struct TraceOfProduct;

impl HopRewrite for TraceOfProduct {
    fn name(&self) -> &'static str {
        "trace_of_product"
    }

    fn rewrite(&self, dag: &mut Dag, id: HopId) -> Option<HopId> {
        let hop = dag.get(id);
        let HopOp::Builtin { id: b, .. } = hop.op else { return None };
        if b != builtins::ids::TRACE {
            return None;
        }
        let mm = dag.get(hop.inputs[0]);
        if mm.op != HopOp::MatMul {
            return None;
        }
        let (x, y, span) = (mm.inputs[0], mm.inputs[1], hop.span);
        let (tx, ty) = (dag.get(x).ty, dag.get(y).ty);
        if !tx.dims_known() || !ty.dims_known() || tx.rows != ty.cols {
            return None;
        }
        let yt = add_like(
            dag,
            HopOp::Reorg(ReorgOp::Transpose),
            vec![y],
            TypeInfo::matrix(ty.cols, ty.rows),
            span,
        );
        let prod =
            add_like(dag, HopOp::Binary(BinOp::Mul), vec![x, yt], TypeInfo::matrix(tx.rows, tx.cols), span);
        Some(add_like(
            dag,
            HopOp::AggUnary(AggOp::Sum, AggDir::All),
            vec![prod],
            TypeInfo::scalar(ValueType::Double),
            span,
        ))
    }
}
