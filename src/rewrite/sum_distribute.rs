//! `sum(X + Y)` becomes `sum(X) + sum(Y)` when `X` and `Y` are matrices of the same known shape:
//! no temporary matrix. The value is the same sum, added in another order (within rounding).

use super::{HopRewrite, add_like};
use crate::hops::{Dag, HopId, HopOp};
use crate::syntax::ast::ValueType;
use crate::types::ops::{AggDir, AggOp, BinOp};
use crate::types::type_info::TypeInfo;

pub struct DistributeSum;

impl HopRewrite for DistributeSum {
    fn name(&self) -> &'static str {
        "distribute_sum"
    }

    fn rewrite(&self, dag: &mut Dag, id: HopId) -> Option<HopId> {
        let hop = dag.get(id);
        if hop.op != HopOp::AggUnary(AggOp::Sum, AggDir::All) {
            return None;
        }
        let add = dag.get(hop.inputs[0]);
        if add.op != HopOp::Binary(BinOp::Add) {
            return None;
        }
        let (x, y, span) = (add.inputs[0], add.inputs[1], hop.span);
        let (tx, ty) = (dag.get(x).ty, dag.get(y).ty);
        if !tx.is_matrix() || !ty.is_matrix() || !tx.dims_known() || tx.rows != ty.rows || tx.cols != ty.cols
        {
            return None;
        }
        let d = TypeInfo::scalar(ValueType::Double);
        let sx = add_like(dag, HopOp::AggUnary(AggOp::Sum, AggDir::All), vec![x], d, span);
        let sy = add_like(dag, HopOp::AggUnary(AggOp::Sum, AggDir::All), vec![y], d, span);
        Some(add_like(dag, HopOp::Binary(BinOp::Add), vec![sx, sy], d, span))
    }
}
