//! `sum(A %*% B)` becomes `sum(t(colSums(A)) * rowSums(B))` (SystemDS's
//! `simplifySumMatrixMult`): the sum of all cells of a product is the inner product of `A`'s column
//! sums and `B`'s row sums, O(mk + kn) instead of O(mkn) and no m x n temporary. The same sum in
//! another association (within rounding), as `distribute_sum`.

use super::{HopRewrite, add_like};
use crate::hops::{Dag, HopId, HopOp};
use crate::types::ops::{AggDir, AggOp, BinOp, ReorgOp};
use crate::types::type_info::TypeInfo;

pub struct SumOfProduct;

impl HopRewrite for SumOfProduct {
    fn name(&self) -> &'static str {
        "sum_of_product"
    }

    fn rewrite(&self, dag: &mut Dag, id: HopId) -> Option<HopId> {
        let hop = dag.get(id);
        if hop.op != HopOp::AggUnary(AggOp::Sum, AggDir::All) {
            return None;
        }
        let mm = dag.get(hop.inputs[0]);
        if mm.op != HopOp::MatMul {
            return None;
        }
        let (a, b) = (mm.inputs[0], mm.inputs[1]);
        let (ta, tb) = (dag.get(a).ty, dag.get(b).ty);
        if !ta.is_matrix() || !tb.is_matrix() {
            return None;
        }
        let (ty, span) = (hop.ty, hop.span);
        let k = if ta.cols >= 0 { ta.cols } else { tb.rows };
        let cs =
            add_like(dag, HopOp::AggUnary(AggOp::Sum, AggDir::Col), vec![a], TypeInfo::matrix(1, k), span);
        let tcs = add_like(dag, HopOp::Reorg(ReorgOp::Transpose), vec![cs], TypeInfo::matrix(k, 1), span);
        let rs =
            add_like(dag, HopOp::AggUnary(AggOp::Sum, AggDir::Row), vec![b], TypeInfo::matrix(k, 1), span);
        let prod = add_like(dag, HopOp::Binary(BinOp::Mul), vec![tcs, rs], TypeInfo::matrix(k, 1), span);
        Some(add_like(dag, HopOp::AggUnary(AggOp::Sum, AggDir::All), vec![prod], ty, span))
    }
}
