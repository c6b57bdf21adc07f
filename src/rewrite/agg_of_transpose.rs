//! Aggregates of a transpose aggregate the matrix itself (SystemDS's pushdown of `sum`,
//! `colSums`, `rowSums` over transposes): `sum(t(X))` is `sum(X)` (also `sumSq`, `min`, `max`,
//! `mean`), `colSums(t(X))` is `t(rowSums(X))` and `rowSums(t(X))` is `t(colSums(X))` (also the
//! means, mins and maxs): no transposed copy. Min and max are exact; sums add the same numbers
//! per output cell, possibly in another order (within rounding).

use super::{HopRewrite, add_like};
use crate::hops::{Dag, HopId, HopOp};
use crate::types::ops::{AggDir, AggOp, ReorgOp};
use crate::types::type_info::TypeInfo;

pub struct AggregateOfTranspose;

impl HopRewrite for AggregateOfTranspose {
    fn name(&self) -> &'static str {
        "agg_of_transpose"
    }

    fn rewrite(&self, dag: &mut Dag, id: HopId) -> Option<HopId> {
        let hop = dag.get(id);
        let HopOp::AggUnary(op, dir) = hop.op else { return None };
        let t = dag.get(hop.inputs[0]);
        if t.op != HopOp::Reorg(ReorgOp::Transpose) {
            return None;
        }
        let x = t.inputs[0];
        let (ty, span) = (hop.ty, hop.span);
        match (op, dir) {
            (AggOp::Sum | AggOp::SumSq | AggOp::Min | AggOp::Max | AggOp::Mean, AggDir::All) => {
                Some(add_like(dag, HopOp::AggUnary(op, dir), vec![x], ty, span))
            }
            (AggOp::Sum | AggOp::Mean | AggOp::Min | AggOp::Max, AggDir::Row | AggDir::Col) => {
                let flipped = if dir == AggDir::Row { AggDir::Col } else { AggDir::Row };
                let inner_ty = TypeInfo::matrix(ty.cols, ty.rows);
                let agg = add_like(dag, HopOp::AggUnary(op, flipped), vec![x], inner_ty, span);
                Some(add_like(dag, HopOp::Reorg(ReorgOp::Transpose), vec![agg], ty, span))
            }
            _ => None,
        }
    }
}
