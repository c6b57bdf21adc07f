//! Aggregates that do nothing on vectors: `rowSums(X)` of a column vector and `colSums(X)` of a
//! row vector are `X` itself (likewise row/col means, mins and maxs). Exact: each output cell is
//! the single input cell.

use super::HopRewrite;
use crate::hops::{Dag, HopId, HopOp};
use crate::types::ops::{AggDir, AggOp};

pub struct AggregateOfVector;

impl HopRewrite for AggregateOfVector {
    fn name(&self) -> &'static str {
        "aggregate_of_vector"
    }

    fn rewrite(&self, dag: &mut Dag, id: HopId) -> Option<HopId> {
        let hop = dag.get(id);
        let HopOp::AggUnary(op, dir) = hop.op else { return None };
        if !matches!(op, AggOp::Sum | AggOp::Mean | AggOp::Min | AggOp::Max | AggOp::Prod) {
            return None;
        }
        let x = hop.inputs[0];
        let t = dag.get(x).ty;
        if !t.is_matrix() || !t.dims_known() {
            return None;
        }
        match dir {
            AggDir::Row if t.cols == 1 => Some(x),
            AggDir::Col if t.rows == 1 => Some(x),
            _ => None,
        }
    }
}
