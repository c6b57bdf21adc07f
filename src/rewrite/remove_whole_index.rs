//! Indexing that covers the whole matrix is removed: `X[,]`, `X[1:nrow(X), 1:ncol(X)]` become `X`,
//! and `X[,] = Y` (left indexing of every cell with a matrix `Y` of `X`'s shape) becomes `Y`
//! (SystemDS's `removeUnnecessaryRightIndexing` / `removeUnnecessaryLeftIndexing`). Exact: every
//! cell is copied unchanged.

use super::{HopRewrite, lit_num};
use crate::hops::{Dag, HopId, HopOp, Lit};
use crate::types::type_info::TypeInfo;

pub struct RemoveWholeIndex;

/// Whether the bounds `lo..hi` (1-based, inclusive; absent = open) cover all of `0..full`.
fn covers(dag: &Dag, lo: HopId, hi: HopId, full: i64) -> bool {
    let absent = |h: HopId| matches!(dag.get(h).literal(), Some(Lit::Absent));
    let lo_ok = absent(lo) || lit_num(dag, lo) == Some(1.0);
    let hi_ok = absent(hi) || lit_num(dag, hi) == Some(full as f64);
    full >= 0 && lo_ok && hi_ok
}

fn same_shape(a: &TypeInfo, b: &TypeInfo) -> bool {
    a.is_matrix() && b.is_matrix() && a.dims_known() && a.rows == b.rows && a.cols == b.cols
}

impl HopRewrite for RemoveWholeIndex {
    fn name(&self) -> &'static str {
        "remove_whole_index"
    }

    fn rewrite(&self, dag: &mut Dag, id: HopId) -> Option<HopId> {
        let hop = dag.get(id);
        let (x, bounds) = match hop.op {
            HopOp::Index => (hop.inputs[0], &hop.inputs[1..5]),
            HopOp::LeftIndex => (hop.inputs[0], &hop.inputs[2..6]),
            _ => return None,
        };
        let tx = dag.get(x).ty;
        if !same_shape(&tx, &hop.ty)
            || !covers(dag, bounds[0], bounds[1], tx.rows)
            || !covers(dag, bounds[2], bounds[3], tx.cols)
        {
            return None;
        }
        match hop.op {
            HopOp::Index => Some(x),
            _ => {
                let y = hop.inputs[1];
                same_shape(&dag.get(y).ty, &tx).then_some(y)
            }
        }
    }
}
