//! `nrow(f(X))`, `ncol(f(X))` and `length(f(X))` of a cellwise `f` with one matrix operand (a
//! unary function, or a matrix and a scalar) become the same of `X`: such an `f` keeps the shape.
//! Exact, and it matters because the nn layers ask for `nrow` of their input: in LeNet,
//! `nrow(max(0, X))` was the second use of the ReLU output that kept `max_pool(max(0, X))` from
//! fusing into one pass.

use super::HopRewrite;
use crate::hops::{Dag, HopId, HopOp};
use crate::types::ops::CastOp;

pub struct DimsOfCellwise;

impl HopRewrite for DimsOfCellwise {
    fn name(&self) -> &'static str {
        "dims_of_cellwise"
    }

    fn rewrite(&self, dag: &mut Dag, id: HopId) -> Option<HopId> {
        let hop = dag.get(id);
        if !matches!(hop.op, HopOp::Cast(CastOp::Nrow | CastOp::Ncol | CastOp::Length)) {
            return None;
        }
        let inner = dag.get(hop.inputs[0]);
        let is_matrix = |h: HopId| dag.get(h).ty.is_matrix();
        let x = match inner.op {
            HopOp::Unary(_) if is_matrix(inner.inputs[0]) => inner.inputs[0],
            HopOp::Binary(_) => match (is_matrix(inner.inputs[0]), is_matrix(inner.inputs[1])) {
                (true, false) if dag.get(inner.inputs[1]).ty.is_scalar() => inner.inputs[0],
                (false, true) if dag.get(inner.inputs[0]).ty.is_scalar() => inner.inputs[1],
                _ => return None,
            },
            _ => return None,
        };
        let mut inputs = hop.inputs.clone();
        inputs[0] = x;
        let (op, ty, span) = (hop.op.clone(), hop.ty, hop.span);
        Some(super::add_like(dag, op, inputs, ty, span))
    }
}
