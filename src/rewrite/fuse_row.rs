//! Row template (SystemDS's `TemplateRow`): cellwise operators over one shape that also use row
//! aggregates of each other, such as `X / rowSums(X)` or the softmax
//! `e = exp(X - rowMaxs(X)); e / rowSums(e)`, become one fused operator that computes each band
//! of rows in one pass: the row aggregates of the band first, then the cells that use them, the
//! shared intermediate (`e`) computed once per band (`fused row[cells]{ (e/rowSums(e)) }`).
//!
//! Exact: each row aggregate is the unfused kernel's (a Kahan sum of the row in order, Java's
//! max from -infinity), each cell the same operators in the same order. Regions without a row
//! aggregate inside are left to the Cell template; regions reading a sparse matrix stay unfused.

use super::fusion::{
    BodyBuilder, FusionOptions, FusionRule, commit_region, grow, inputs_readable, is_cellwise, region_root,
    users, worth_it,
};
use crate::hops::{Dag, HopId, HopOp};
use crate::types::fused::{FusedKind, fusable_agg};
use crate::types::ops::AggDir;

pub struct FuseRow;

/// Whether `id` is a row aggregate over a matrix of `shape`.
fn is_row_agg(dag: &Dag, id: HopId, shape: (i64, i64)) -> bool {
    let h = dag.get(id);
    match h.op {
        HopOp::AggUnary(op, AggDir::Row) if fusable_agg(op) => {
            let x = dag.get(h.inputs[0]).ty;
            x.is_matrix() && x.dims_known() && (x.rows, x.cols) == shape
        }
        _ => false,
    }
}

impl FusionRule for FuseRow {
    fn name(&self) -> &'static str {
        "fuse_row"
    }

    fn apply(&self, dag: &mut Dag, opts: &FusionOptions) -> bool {
        let users = users(dag);
        let mut taken = vec![false; dag.hops.len()];
        let mut changed = false;
        for id in dag.topo_order().into_iter().rev() {
            if taken[id.index()] {
                continue;
            }
            let Some((start, extra, out)) = region_root(dag, &users, &taken, id) else { continue };
            let sh = dag.get(start).ty;
            let shape = (sh.rows, sh.cols);
            let eligible =
                |i: HopId| !taken[i.index()] && (is_cellwise(dag.get(i), shape) || is_row_agg(dag, i, shape));
            let region = grow(dag, &users, start, &extra, shape, &eligible);
            let inner_row_aggs =
                region.members.iter().filter(|&&m| !extra.contains(&m) && is_row_agg(dag, m, shape)).count();
            if inner_row_aggs == 0 || !worth_it(&region, opts) {
                continue;
            }
            let mut b = BodyBuilder::new(dag, &region.members);
            let root = b.step(start);
            if !inputs_readable(dag, &b.inputs, shape) {
                continue;
            }
            let inputs = b.inputs.clone();
            let body = b.finish(FusedKind::Row, vec![(root, out)], None);
            changed |= commit_region(dag, self.name(), id, body, inputs, region.members, &mut taken);
        }
        changed
    }
}
