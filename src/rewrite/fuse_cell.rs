//! Cell template (SystemDS's `TemplateCell`): a DAG of cellwise unary, binary and ternary
//! operators over one shape, with scalars and row/column vectors broadcast, and optionally the
//! full, row or column aggregate (sum, sumSq, mean, min, max) it ends in, becomes one fused
//! operator that makes one pass over its inputs without full-size temporaries
//! (`fused cell[sum]{ (a*b)^2 }`).
//!
//! Exact: the kernel computes every cell with the same operators in the same order (the body is
//! the region's DAG), and aggregates in row-major order with the Kahan sums of the unfused
//! aggregate kernels. Regions reading a matrix planned sparse stay unfused: the dense pass would
//! visit every cell where the unfused sparse kernels visit only non-zeros.

use super::fusion::{
    BodyBuilder, FusionOptions, FusionRule, commit_region, grow, inputs_readable, is_cellwise, region_root,
    users, worth_it,
};
use crate::hops::Dag;
use crate::types::fused::FusedKind;

pub struct FuseCell;

impl FusionRule for FuseCell {
    fn name(&self) -> &'static str {
        "fuse_cell"
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
            let eligible = |i: crate::hops::HopId| !taken[i.index()] && is_cellwise(dag.get(i), shape);
            let region = grow(dag, &users, start, &extra, shape, &eligible);
            if !worth_it(&region, opts) {
                continue;
            }
            let mut b = BodyBuilder::new(dag, &region.members);
            let root = b.step(start);
            if !inputs_readable(dag, &b.inputs, shape) {
                continue;
            }
            let inputs = b.inputs.clone();
            let body = b.finish(FusedKind::Cell, vec![(root, out)], None);
            changed |= commit_region(dag, self.name(), id, body, inputs, region.members, &mut taken);
        }
        changed
    }
}
