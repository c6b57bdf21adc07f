//! Matrix-multiplication chain ordering: `A %*% B %*% C ...` with known dimensions is
//! re-parenthesized by the classic dynamic program to minimize the number of multiply-adds
//! (e.g. `X %*% Y %*% v` with a vector `v` becomes `X %*% (Y %*% v)`). Exact in real arithmetic;
//! only rounding can differ. Only products used once inside the chain are regrouped, so no
//! shared intermediate is lost.

use super::{HopRewrite, add_like};
use crate::hops::{Dag, HopId, HopOp};
use crate::types::type_info::TypeInfo;

pub struct MatMulChain;

fn collect(dag: &Dag, id: HopId, uses: &[u32], top: bool, leaves: &mut Vec<HopId>) {
    let hop = dag.get(id);
    if hop.op == HopOp::MatMul && (top || uses[id.index()] == 1) {
        collect(dag, hop.inputs[0], uses, false, leaves);
        collect(dag, hop.inputs[1], uses, false, leaves);
    } else {
        leaves.push(id);
    }
}

/// Cost (multiply-adds) of the product tree as it stands.
fn current_cost(dag: &Dag, id: HopId, uses: &[u32], top: bool) -> Option<f64> {
    let hop = dag.get(id);
    if hop.op == HopOp::MatMul && (top || uses[id.index()] == 1) {
        let (a, b) = (dag.get(hop.inputs[0]).ty, dag.get(hop.inputs[1]).ty);
        if !a.dims_known() || !b.dims_known() {
            return None;
        }
        let own = a.rows as f64 * a.cols as f64 * b.cols as f64;
        Some(
            own + current_cost(dag, hop.inputs[0], uses, false)?
                + current_cost(dag, hop.inputs[1], uses, false)?,
        )
    } else {
        Some(0.0)
    }
}

impl MatMulChain {
    fn build(
        dag: &mut Dag,
        leaves: &[HopId],
        split: &[Vec<usize>],
        i: usize,
        j: usize,
        span: crate::syntax::ast::Span,
    ) -> HopId {
        if i == j {
            return leaves[i];
        }
        let k = split[i][j];
        let l = Self::build(dag, leaves, split, i, k, span);
        let r = Self::build(dag, leaves, split, k + 1, j, span);
        let ty = TypeInfo::matrix(dag.get(l).ty.rows, dag.get(r).ty.cols);
        add_like(dag, HopOp::MatMul, vec![l, r], ty, span)
    }
}

impl HopRewrite for MatMulChain {
    fn name(&self) -> &'static str {
        "matmul_chain"
    }

    fn rewrite(&self, _dag: &mut Dag, _id: HopId) -> Option<HopId> {
        None
    }

    fn run_pass(&self, dag: &mut Dag) -> bool {
        let uses = dag.use_counts();
        for id in dag.topo_order().into_iter().rev() {
            if dag.get(id).op != HopOp::MatMul {
                continue;
            }
            let mut leaves = Vec::new();
            collect(dag, id, &uses, true, &mut leaves);
            if leaves.len() < 3 {
                continue;
            }
            let dims: Vec<(f64, f64)> = leaves
                .iter()
                .map(|&l| {
                    let t = dag.get(l).ty;
                    (t.rows as f64, t.cols as f64)
                })
                .collect();
            if leaves.iter().any(|&l| !dag.get(l).ty.dims_known()) {
                continue;
            }
            let Some(cur) = current_cost(dag, id, &uses, true) else { continue };
            let n = leaves.len();
            let mut cost = vec![vec![0.0f64; n]; n];
            let mut split = vec![vec![0usize; n]; n];
            for len in 1..n {
                for i in 0..n - len {
                    let j = i + len;
                    cost[i][j] = f64::INFINITY;
                    for k in i..j {
                        let c = cost[i][k] + cost[k + 1][j] + dims[i].0 * dims[k].1 * dims[j].1;
                        if c < cost[i][j] {
                            cost[i][j] = c;
                            split[i][j] = k;
                        }
                    }
                }
            }
            if cost[0][n - 1] < cur * 0.999 {
                let span = dag.get(id).span;
                let new = Self::build(dag, &leaves, &split, 0, n - 1, span);
                if super::replace_checked(dag, self.name(), id, new) {
                    return true;
                }
            }
        }
        false
    }
}
