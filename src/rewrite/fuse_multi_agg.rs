//! MultiAgg template (SystemDS's `TemplateMultiAgg`): several full aggregates over matrices of
//! one shape that share an input, in the same block and independent of each other, such as
//! `sum(X)`, `sum(X^2)` and `sum(X*Y)`, become one fused operator that reads the shared inputs once
//! and returns every aggregate (`fused magg[sum,sumSq,sum]{ a; a; (a*b) }`, read by `out[i]`).
//!
//! Runs after the Cell template, so it merges fused cell aggregates and plain aggregates of one
//! matrix. Exact: each aggregate is computed by itself, in row-major order with the same Kahan
//! sums as the unfused kernels; only the pass over the inputs is shared.

use std::collections::HashMap;
use std::sync::Arc;

use super::add_like;
use super::fusion::{FusionOptions, FusionRule, planned_sparse};
use crate::hops::{Dag, HopId, HopOp};
use crate::syntax::ast::ValueType;
use crate::types::fused::{FStep, FusedBody, FusedKind, FusedOut, fusable_agg};
use crate::types::ops::AggDir;
use crate::types::type_info::TypeInfo;

pub struct FuseMultiAgg;

/// A full aggregate this rule can merge: its body, its inputs and its shape.
struct Candidate {
    id: HopId,
    body: FusedBody,
    inputs: Vec<HopId>,
    shape: (i64, i64),
}

fn candidate(dag: &Dag, id: HopId) -> Option<Candidate> {
    let h = dag.get(id);
    match &h.op {
        HopOp::Fused(b)
            if b.kind == FusedKind::Cell && matches!(b.outputs[..], [(_, FusedOut::Agg(_, AggDir::All))]) =>
        {
            let shape = h
                .inputs
                .iter()
                .map(|&i| dag.get(i).ty)
                .filter(|t| t.is_matrix())
                .fold((0, 0), |s, t| (s.0.max(t.rows), s.1.max(t.cols)));
            Some(Candidate { id, body: (**b).clone(), inputs: h.inputs.clone(), shape })
        }
        HopOp::AggUnary(op, AggDir::All) if fusable_agg(*op) => {
            let x = dag.get(h.inputs[0]);
            if !x.ty.is_matrix() || !x.ty.dims_known() || planned_sparse(x) {
                return None;
            }
            let body = FusedBody {
                kind: FusedKind::Cell,
                steps: vec![FStep::Input(0)],
                outputs: vec![(0, FusedOut::Agg(*op, AggDir::All))],
                ninputs: 1,
                driver: None,
            };
            Some(Candidate { id, body, inputs: vec![h.inputs[0]], shape: (x.ty.rows, x.ty.cols) })
        }
        _ => None,
    }
}

/// Whether `target` is reachable from `from` through inputs.
fn reaches(dag: &Dag, from: HopId, target: HopId) -> bool {
    let mut stack = vec![from];
    let mut seen = std::collections::HashSet::new();
    while let Some(h) = stack.pop() {
        if h == target {
            return true;
        }
        if seen.insert(h) {
            stack.extend(dag.get(h).inputs.iter().copied());
        }
    }
    false
}

impl FusionRule for FuseMultiAgg {
    fn name(&self) -> &'static str {
        "fuse_multi_agg"
    }

    fn apply(&self, dag: &mut Dag, opts: &FusionOptions) -> bool {
        let cands: Vec<Candidate> =
            dag.topo_order().into_iter().filter_map(|id| candidate(dag, id)).collect();
        let mut used = vec![false; cands.len()];
        let mut changed = false;
        for i in 0..cands.len() {
            if used[i] || (cands[i].shape.0 as f64) * (cands[i].shape.1 as f64) < opts.min_cells {
                continue;
            }
            // Greedily add candidates of the same shape that share a matrix input with the group
            // and neither depend on nor feed a member.
            let mut group = vec![i];
            for j in i + 1..cands.len() {
                if used[j] || cands[j].shape != cands[i].shape {
                    continue;
                }
                let shares = group.iter().any(|&g| {
                    cands[g].inputs.iter().any(|x| dag.get(*x).ty.is_matrix() && cands[j].inputs.contains(x))
                });
                let independent = group.iter().all(|&g| {
                    !reaches(dag, cands[g].id, cands[j].id) && !reaches(dag, cands[j].id, cands[g].id)
                });
                if shares && independent {
                    group.push(j);
                }
            }
            if group.len() < 2 {
                continue;
            }
            // Concatenate the bodies, sharing inputs.
            let mut steps = Vec::new();
            let mut outputs = Vec::new();
            let mut inputs: Vec<HopId> = Vec::new();
            let mut input_step: HashMap<HopId, u16> = HashMap::new();
            for &g in &group {
                let c = &cands[g];
                let mut map: Vec<u16> = Vec::with_capacity(c.body.steps.len());
                for step in &c.body.steps {
                    let s = match *step {
                        FStep::Input(k) => {
                            let hop = c.inputs[k as usize];
                            if let Some(&s) = input_step.get(&hop) {
                                map.push(s);
                                continue;
                            }
                            let k = inputs.len() as u16;
                            inputs.push(hop);
                            let s = steps.len() as u16;
                            input_step.insert(hop, s);
                            FStep::Input(k)
                        }
                        FStep::Const(v) => FStep::Const(v),
                        FStep::Unary(op, a) => FStep::Unary(op, map[a as usize]),
                        FStep::Binary(op, a, b) => FStep::Binary(op, map[a as usize], map[b as usize]),
                        FStep::Ternary(a, b, x) => {
                            FStep::Ternary(map[a as usize], map[b as usize], map[x as usize])
                        }
                        FStep::RowAgg(op, a) => FStep::RowAgg(op, map[a as usize]),
                        FStep::Dot(a, b) => FStep::Dot(map[a as usize], map[b as usize]),
                    };
                    map.push(steps.len() as u16);
                    steps.push(s);
                }
                let (s, o) = c.body.outputs[0];
                outputs.push((map[s as usize], o));
            }
            let body = FusedBody {
                kind: FusedKind::MultiAgg,
                steps,
                outputs,
                ninputs: inputs.len() as u16,
                driver: None,
            };
            let first = cands[group[0]].id;
            let span = dag.get(first).span;
            let fused = add_like(
                dag,
                HopOp::Fused(Arc::new(body)),
                inputs,
                TypeInfo::scalar(ValueType::Double),
                span,
            );
            for (n, &g) in group.iter().enumerate() {
                let ty = dag.get(cands[g].id).ty;
                let out = add_like(dag, HopOp::Extract(n as u8), vec![fused], ty, span);
                if super::replace_checked(dag, self.name(), cands[g].id, out) {
                    changed = true;
                }
                used[g] = true;
            }
        }
        changed
    }
}
