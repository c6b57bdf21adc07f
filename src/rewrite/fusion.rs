//! What the four fusion rules (`fuse_outer`, `fuse_row`, `fuse_cell`, `fuse_multi_agg`, SystemDS's
//! codegen templates) share: regions of cellwise operators and the bodies built from them.
//!
//! Fusion runs once after the rewrite fixpoint and the non-zero estimates, as SystemDS's codegen
//! runs in its planning phase: a rule sees every operator's shape and estimated sparsity. A region
//! is grown from a root towards its inputs; an operator joins when it is cellwise over the
//! template's shape (or, for the Row template, a row aggregate of such an operator) and every one
//! of its users is already in the region, so no intermediate is needed outside and none is
//! computed twice. Everything else the region reads is an input of the fused operator. Regions
//! of fewer than two operators, or over fewer cells than [`FusionOptions::min_cells`], stay
//! unfused: a small matrix gains nothing from one pass and would pay the chunk set-up.

use std::collections::HashMap;
use std::sync::Arc;

use crate::hops::{Dag, Hop, HopId, HopOp};
use crate::types::fused::{FStep, FusedBody, FusedKind, FusedOut, fusable_agg};
use crate::types::matrix::Matrix;
use crate::types::ops::{AggDir, AggOp};

/// Cells below which an operator is not fused by default: at 16K cells (128 KB) a pass over a
/// matrix leaves the first- and second-level caches, which is what fusion saves.
pub const DEFAULT_MIN_CELLS: f64 = 16384.0;

/// Settings of the fusion phase.
#[derive(Clone, Copy, Debug)]
pub struct FusionOptions {
    /// Fuse only templates over at least this many cells.
    pub min_cells: f64,
}

/// A fusion rule: a template family applied to a whole DAG.
pub trait FusionRule: Sync {
    fn name(&self) -> &'static str;
    /// Fuses what the template finds in `dag`; returns whether anything changed.
    fn apply(&self, dag: &mut Dag, opts: &FusionOptions) -> bool;
}

/// Users of every reachable operator (roots count as users of nothing).
pub(crate) fn users(dag: &Dag) -> Vec<Vec<HopId>> {
    let mut users = vec![Vec::new(); dag.hops.len()];
    for id in dag.topo_order() {
        for &i in &dag.get(id).inputs {
            if !users[i.index()].contains(&id) {
                users[i.index()].push(id);
            }
        }
    }
    users
}

/// Whether a matrix operand's estimate says it is stored sparse (the planner's rule, which runs
/// after fusion: SystemDS's turn point on the estimated non-zeros).
pub(crate) fn planned_sparse(hop: &Hop) -> bool {
    let t = &hop.ty;
    t.is_matrix()
        && t.dims_known()
        && t.nnz >= 0
        && Matrix::prefers_sparse(t.rows as usize, t.cols as usize, t.nnz as usize)
}

/// Whether `hop` is a cellwise operator with a matrix output of shape `shape`.
pub(crate) fn is_cellwise(hop: &Hop, shape: (i64, i64)) -> bool {
    matches!(hop.op, HopOp::Unary(_) | HopOp::Binary(_) | HopOp::Ternary)
        && hop.ty.is_matrix()
        && hop.ty.dims_known()
        && (hop.ty.rows, hop.ty.cols) == shape
}

/// Whether `hop` may be an input of a fused operator over `shape`: a number, or a matrix of a
/// shape the cellwise operators broadcast (the shape itself, a row or column vector, 1x1).
pub(crate) fn is_leaf_ok(hop: &Hop, shape: (i64, i64)) -> bool {
    if hop.ty.is_scalar() {
        return true;
    }
    if !hop.ty.is_matrix() || !hop.ty.dims_known() {
        return false;
    }
    let (r, c) = (hop.ty.rows, hop.ty.cols);
    (r, c) == shape || (r == 1 && c == shape.1) || (c == 1 && r == shape.0) || (r == 1 && c == 1)
}

/// A region: its operators in the order they were added (root first) and its shape.
pub(crate) struct Region {
    pub members: Vec<HopId>,
    pub shape: (i64, i64),
}

/// Grows a region from `start` (a cellwise operator of shape `shape`): adds every input that
/// `eligible` accepts and whose users are all in the region, until nothing more joins. `extra`
/// are operators already in the region beside `start` (a final aggregate).
pub(crate) fn grow(
    dag: &Dag,
    users: &[Vec<HopId>],
    start: HopId,
    extra: &[HopId],
    shape: (i64, i64),
    eligible: &dyn Fn(HopId) -> bool,
) -> Region {
    let mut members: Vec<HopId> = extra.to_vec();
    members.push(start);
    loop {
        let mut added = false;
        let mut i = 0;
        while i < members.len() {
            let inputs = dag.get(members[i]).inputs.clone();
            for input in inputs {
                if members.contains(&input) || !eligible(input) {
                    continue;
                }
                if users[input.index()].iter().all(|u| members.contains(u)) && !dag.roots.contains(&input) {
                    members.push(input);
                    added = true;
                }
            }
            i += 1;
        }
        if !added {
            break;
        }
    }
    Region { members, shape }
}

/// Builds a body from a region: inputs are the operators the region reads that are not in it
/// (numeric literals become constants). `outputs` are the region's outputs with their kind.
pub(crate) struct BodyBuilder<'a> {
    dag: &'a Dag,
    members: &'a [HopId],
    pub steps: Vec<FStep>,
    step_of: HashMap<HopId, u16>,
    pub inputs: Vec<HopId>,
    /// Operators computed as `U[i,] . V[j,]` (Outer template): their `(U, V)`.
    pub dots: HashMap<HopId, (HopId, HopId)>,
}

impl<'a> BodyBuilder<'a> {
    pub fn new(dag: &'a Dag, members: &'a [HopId]) -> BodyBuilder<'a> {
        BodyBuilder {
            dag,
            members,
            steps: Vec::new(),
            step_of: HashMap::new(),
            inputs: Vec::new(),
            dots: HashMap::new(),
        }
    }

    fn push(&mut self, id: HopId, step: FStep) -> u16 {
        let s = self.steps.len() as u16;
        self.steps.push(step);
        self.step_of.insert(id, s);
        s
    }

    fn input(&mut self, id: HopId) -> u16 {
        if let Some(&s) = self.step_of.get(&id) {
            return s;
        }
        if let Some(v) = self.dag.get(id).literal().and_then(|l| l.as_f64()) {
            return self.push(id, FStep::Const(v));
        }
        let k = self.inputs.len() as u16;
        self.inputs.push(id);
        self.push(id, FStep::Input(k))
    }

    /// The step computing `id`, adding it (after its operands) when new.
    pub fn step(&mut self, id: HopId) -> u16 {
        if let Some(&s) = self.step_of.get(&id) {
            return s;
        }
        if let Some(&(u, v)) = self.dots.get(&id) {
            let (su, sv) = (self.input(u), self.input(v));
            return self.push(id, FStep::Dot(su, sv));
        }
        if !self.members.contains(&id) {
            return self.input(id);
        }
        let hop = self.dag.get(id);
        let ins = hop.inputs.clone();
        let step = match hop.op {
            HopOp::Unary(op) => FStep::Unary(op, self.step(ins[0])),
            HopOp::Binary(op) => {
                let a = self.step(ins[0]);
                FStep::Binary(op, a, self.step(ins[1]))
            }
            HopOp::Ternary => {
                let c = self.step(ins[0]);
                let a = self.step(ins[1]);
                FStep::Ternary(c, a, self.step(ins[2]))
            }
            HopOp::AggUnary(op, AggDir::Row) => FStep::RowAgg(op, self.step(ins[0])),
            _ => return self.input(id),
        };
        self.push(id, step)
    }

    pub fn finish(self, kind: FusedKind, outputs: Vec<(u16, FusedOut)>, driver: Option<u16>) -> FusedBody {
        FusedBody { kind, steps: self.steps, outputs, ninputs: self.inputs.len() as u16, driver }
    }
}

/// The aggregate a root applies to a cellwise operator, when the fused kernel computes it.
pub(crate) fn final_agg(hop: &Hop) -> Option<(AggOp, AggDir)> {
    match hop.op {
        HopOp::AggUnary(op, dir) if fusable_agg(op) => Some((op, dir)),
        _ => None,
    }
}

/// Where a Cell or Row region starts from operator `id`, when it can: an aggregate whose only
/// input is a cellwise operator used by it alone (the region's root, the aggregate its output),
/// or a cellwise operator itself (its cells the output). `None` when neither applies or the
/// input is already in another region.
pub(crate) fn region_root(
    dag: &Dag,
    users: &[Vec<HopId>],
    taken: &[bool],
    id: HopId,
) -> Option<(HopId, Vec<HopId>, FusedOut)> {
    let hop = dag.get(id);
    match final_agg(hop) {
        Some((op, dir)) => {
            let x = hop.inputs[0];
            let xh = dag.get(x);
            let alone = !taken[x.index()] && users[x.index()] == [id] && xh.ty.dims_known();
            (alone && is_cellwise(xh, (xh.ty.rows, xh.ty.cols)))
                .then(|| (x, vec![id], FusedOut::Agg(op, dir)))
        }
        None if hop.ty.dims_known() && is_cellwise(hop, (hop.ty.rows, hop.ty.cols)) => {
            Some((id, vec![], FusedOut::Cells))
        }
        None => None,
    }
}

/// Adds the fused operator for `body` over `inputs`, typed as `like`; returns its id.
pub(crate) fn add_fused(dag: &mut Dag, body: FusedBody, inputs: Vec<HopId>, like: HopId) -> HopId {
    let (ty, span) = (dag.get(like).ty, dag.get(like).span);
    super::add_like(dag, HopOp::Fused(Arc::new(body)), inputs, ty, span)
}

/// Whether the kernel's dense pass can read each of a body's inputs: of the region's shape or
/// broadcast over it, and not planned sparse (the unfused sparse kernels would visit only its
/// non-zeros where the dense pass visits every cell).
pub(crate) fn inputs_readable(dag: &Dag, inputs: &[HopId], shape: (i64, i64)) -> bool {
    inputs.iter().all(|&i| is_leaf_ok(dag.get(i), shape) && !planned_sparse(dag.get(i)))
}

/// Replaces `id` by the fused operator of `body` over `inputs` and marks the region's `members`
/// taken, so no later region claims them; `false` when the replacement is refused.
pub(crate) fn commit_region(
    dag: &mut Dag,
    rule: &'static str,
    id: HopId,
    body: FusedBody,
    inputs: Vec<HopId>,
    members: Vec<HopId>,
    taken: &mut Vec<bool>,
) -> bool {
    let fused = add_fused(dag, body, inputs, id);
    if !super::replace_checked(dag, rule, id, fused) {
        return false;
    }
    taken.resize(dag.hops.len(), false);
    for m in members {
        taken[m.index()] = true;
    }
    true
}

/// Number of operators (not inputs) in a region, counting a final aggregate.
pub(crate) fn ops_in(region: &Region) -> usize {
    region.members.len()
}

/// Whether the region is large enough to pay for fusing it.
pub(crate) fn worth_it(region: &Region, opts: &FusionOptions) -> bool {
    ops_in(region) >= 2 && (region.shape.0 as f64) * (region.shape.1 as f64) >= opts.min_cells
}
