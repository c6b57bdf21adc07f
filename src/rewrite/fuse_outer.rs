//! OuterProduct template (SystemDS's `TemplateOuterProduct`): `sum(W * f(X, U %*% t(V)))` and
//! `W * f(U %*% t(V), ...)` with `W` planned sparse become one fused operator driven by `W`'s
//! non-zeros, computing `U[i,] . V[j,]` only where `W[i, j]` is non-zero instead of the whole
//! `rows x cols` product (`fused outer[sum]{ (a*((b-(c%*%t(d)))^2)) }`).
//!
//! Exact where the unfused plan is sparse-driven too: the unfused `W * M` visits only `W`'s
//! non-zeros when `M` is finite, so the region holds only operators that keep finite values
//! finite (no division, logarithm, root or general power), and the kernel takes its sparse path
//! only when every input is finite (otherwise, and for a dense `W`, it evaluates the unfused
//! operators). An overflow to infinity in a cell where `W` is zero is the one case left where
//! the unfused plan would give NaN. The dot products
//! are summed in index order, which may differ from the blocked product kernel in the last bits
//! (the bar is 1e-12 relative).

use super::fusion::{
    BodyBuilder, FusionOptions, FusionRule, commit_region, grow, is_cellwise, planned_sparse, users,
};
use crate::builtins;
use crate::hops::{Dag, HopId, HopOp, Lit};
use crate::types::fused::{FusedKind, FusedOut};
use crate::types::ops::{AggDir, AggOp, BinOp, ReorgOp, UnOp};

pub struct FuseOuter;

/// Cellwise operators that keep finite operands finite (up to overflow), so that the unfused
/// `W * M` is sparse-driven whenever the inputs are finite: no division, logarithm, root, or
/// power other than the square.
fn keeps_finite(dag: &Dag, id: HopId) -> bool {
    let h = dag.get(id);
    match h.op {
        HopOp::Binary(BinOp::Pow) => super::lit_num(dag, h.inputs[1]) == Some(2.0),
        HopOp::Binary(op) => matches!(
            op,
            BinOp::Add
                | BinOp::Sub
                | BinOp::Mul
                | BinOp::Min
                | BinOp::Max
                | BinOp::Lt
                | BinOp::Le
                | BinOp::Gt
                | BinOp::Ge
                | BinOp::Eq
                | BinOp::Ne
        ),
        HopOp::Unary(op) => matches!(op, UnOp::Neg | UnOp::Abs | UnOp::Sign | UnOp::Sigmoid | UnOp::Tanh),
        _ => false,
    }
}

/// `U %*% t(V)` as the product with a transposed right operand: `(U, V)`.
fn outer_product(dag: &Dag, id: HopId) -> Option<(HopId, HopId)> {
    let h = dag.get(id);
    match h.op {
        HopOp::Builtin { id: b, .. } if b == builtins::ids::MATMUL_T => {
            let flag = |i: usize| dag.get(h.inputs[i]).literal().cloned();
            (flag(2) == Some(Lit::Bool(false)) && flag(3) == Some(Lit::Bool(true)))
                .then(|| (h.inputs[0], h.inputs[1]))
        }
        HopOp::MatMul => {
            let t = dag.get(h.inputs[1]);
            (t.op == HopOp::Reorg(ReorgOp::Transpose)).then(|| (h.inputs[0], t.inputs[0]))
        }
        _ => None,
    }
}

impl FusionRule for FuseOuter {
    fn name(&self) -> &'static str {
        "fuse_outer"
    }

    fn apply(&self, dag: &mut Dag, opts: &FusionOptions) -> bool {
        let users = users(dag);
        let mut changed = false;
        let mut taken = vec![false; dag.hops.len()];
        for id in dag.topo_order().into_iter().rev() {
            if taken[id.index()] {
                continue;
            }
            let hop = dag.get(id);
            let (mul, extra, out) = match hop.op {
                HopOp::AggUnary(AggOp::Sum, AggDir::All) if users[hop.inputs[0].index()] == [id] => {
                    (hop.inputs[0], vec![id], FusedOut::Agg(AggOp::Sum, AggDir::All))
                }
                HopOp::Binary(BinOp::Mul) => (id, vec![], FusedOut::Cells),
                _ => continue,
            };
            let m = dag.get(mul);
            if m.op != HopOp::Binary(BinOp::Mul) || !m.ty.dims_known() || !m.ty.is_matrix() {
                continue;
            }
            let shape = (m.ty.rows, m.ty.cols);
            if (shape.0 as f64) * (shape.1 as f64) < opts.min_cells {
                continue;
            }
            let (a, b) = (m.inputs[0], m.inputs[1]);
            let is_w = |x: HopId| {
                let h = dag.get(x);
                h.ty.is_matrix() && h.ty.dims_known() && (h.ty.rows, h.ty.cols) == shape && planned_sparse(h)
            };
            let w = if is_w(a) {
                a
            } else if is_w(b) {
                b
            } else {
                continue;
            };
            let dot_ok = |i: HopId| {
                let h = dag.get(i);
                h.ty.dims_known() && (h.ty.rows, h.ty.cols) == shape && outer_product(dag, i).is_some()
            };
            let eligible = |i: HopId| {
                i != w
                    && !taken[i.index()]
                    && ((is_cellwise(dag.get(i), shape) && keeps_finite(dag, i)) || dot_ok(i))
            };
            let region = grow(dag, &users, mul, &extra, shape, &eligible);
            let dots: Vec<HopId> = region.members.iter().copied().filter(|&i| dot_ok(i)).collect();
            if dots.is_empty() {
                continue;
            }
            let mut b = BodyBuilder::new(dag, &region.members);
            for &d in &dots {
                let uv = outer_product(dag, d).expect("checked");
                b.dots.insert(d, uv);
            }
            let root = b.step(mul);
            let driver = b.inputs.iter().position(|&i| i == w).map(|k| k as u16);
            let inputs = b.inputs.clone();
            let body = b.finish(FusedKind::Outer, vec![(root, out)], driver);
            changed |= commit_region(dag, self.name(), id, body, inputs, region.members, &mut taken);
        }
        changed
    }
}
