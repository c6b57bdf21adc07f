//! Removal of operators that return their input unchanged: `X*1`, `1*X`, `X+0`, `0+X`, `X-0`,
//! `X/1`, `X^1` for matrices, and `t(t(X))`, `rev(rev(X))`. Exact: multiplying by one or adding
//! zero leaves every double as it is (`-0.0 + 0` aside, where the result `0.0` equals `-0.0`), and
//! transposing twice restores every cell. Scalars are left alone, because `x*1` with an integer
//! `x` and a double `1` changes the value type.

use super::{HopRewrite, lit_num};
use crate::hops::{Dag, HopId, HopOp};
use crate::types::ops::BinOp;
use crate::types::ops::ReorgOp;

pub struct RemoveNoOps;

impl HopRewrite for RemoveNoOps {
    fn name(&self) -> &'static str {
        "remove_noop"
    }

    fn rewrite(&self, dag: &mut Dag, id: HopId) -> Option<HopId> {
        let hop = dag.get(id);
        match &hop.op {
            HopOp::Binary(op) => {
                let (a, b) = (hop.inputs[0], hop.inputs[1]);
                let (ta, tb) = (dag.get(a).ty, dag.get(b).ty);
                let (la, lb) = (lit_num(dag, a), lit_num(dag, b));
                // The surviving input must be a matrix of the result's shape (no broadcast).
                let same = |t: crate::types::type_info::TypeInfo| {
                    t.is_matrix() && t.dims_known() && t.rows == hop.ty.rows && t.cols == hop.ty.cols
                };
                let (keep_a, keep_b) = (same(ta), same(tb));
                match op {
                    BinOp::Mul if keep_a && lb == Some(1.0) => Some(a),
                    BinOp::Mul if keep_b && la == Some(1.0) => Some(b),
                    BinOp::Add if keep_a && lb == Some(0.0) => Some(a),
                    BinOp::Add if keep_b && la == Some(0.0) => Some(b),
                    BinOp::Sub | BinOp::Div | BinOp::Pow if keep_a => {
                        let neutral = if *op == BinOp::Sub { 0.0 } else { 1.0 };
                        (lb == Some(neutral)).then_some(a)
                    }
                    _ => None,
                }
            }
            HopOp::Reorg(op @ (ReorgOp::Transpose | ReorgOp::Rev)) => {
                let inner = dag.get(hop.inputs[0]);
                match &inner.op {
                    HopOp::Reorg(o) if o == op => Some(inner.inputs[0]),
                    _ => None,
                }
            }
            _ => None,
        }
    }
}
