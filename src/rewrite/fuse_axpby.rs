//! `a*X + b*Y`, `a*X - b*Y`, `X + b*Y` and `X - b*Y` (scalars `a`, `b`; matrices `X`, `Y` not
//! known to differ in shape) become one pass `_axpby(X, Y, a, ±b)` instead of two or three: the
//! parameter updates of the optimizers (`v = mu*v - lr*dX`, `X = X - lr*dX`) read and write
//! each weight-sized matrix once instead of up to four times.
//!
//! Exact: the fused kernel computes `a*x + b*y` per cell with the same two roundings of the
//! products and one of the sum; `p - q*s` equals `p + q*(-s)` in IEEE arithmetic (negation is
//! exact, and subtraction is addition of the negation), and a missing factor is 1, which
//! multiplies exactly. Only products whose single user is this sum are fused, so no product is
//! computed twice.

use super::{HopRewrite, add_like};
use crate::builtins;
use crate::hops::{Dag, HopId, HopOp, Lit};
use crate::syntax::ast::ValueType;
use crate::types::ops::{BinOp, UnOp};
use crate::types::type_info::TypeInfo;

pub struct FuseAxpby;

/// `s * M` or `M * s` with a scalar `s` and a matrix `M`: `(M, s)`.
fn scaled(dag: &Dag, id: HopId) -> Option<(HopId, HopId)> {
    let h = dag.get(id);
    if h.op != HopOp::Binary(BinOp::Mul) {
        return None;
    }
    let (l, r) = (h.inputs[0], h.inputs[1]);
    let (tl, tr) = (dag.get(l).ty, dag.get(r).ty);
    if tl.is_scalar() && tr.is_matrix() {
        Some((r, l))
    } else if tl.is_matrix() && tr.is_scalar() {
        Some((l, r))
    } else {
        None
    }
}

impl HopRewrite for FuseAxpby {
    fn name(&self) -> &'static str {
        "fuse_axpby"
    }

    fn rewrite(&self, dag: &mut Dag, id: HopId) -> Option<HopId> {
        let hop = dag.get(id);
        let subtract = match hop.op {
            HopOp::Binary(BinOp::Add) => false,
            HopOp::Binary(BinOp::Sub) => true,
            _ => return None,
        };
        if !hop.ty.is_matrix() {
            return None;
        }
        let (lhs, rhs, ty, span) = (hop.inputs[0], hop.inputs[1], hop.ty, hop.span);
        // The right operand must be a scaled matrix; the left one may be scaled or plain.
        let (y, b) = scaled(dag, rhs)?;
        let left = scaled(dag, lhs);
        let x = left.map_or(lhs, |(m, _)| m);
        // Known different shapes (a broadcast) stay unfused; unknown ones are checked by the
        // fused operator at run time, which then computes the unfused expression.
        let same_shape = |m: HopId| {
            let t = dag.get(m).ty;
            t.is_matrix() && (!t.dims_known() || !ty.dims_known() || (t.rows == ty.rows && t.cols == ty.cols))
        };
        if !same_shape(x) || !same_shape(y) {
            return None;
        }
        let uses = dag.use_counts();
        if uses[rhs.index()] != 1 || (left.is_some() && uses[lhs.index()] != 1) {
            return None;
        }
        let a = match left {
            Some((_, s)) => s,
            None => add_like(
                dag,
                HopOp::Literal(Lit::Double(1.0)),
                vec![],
                TypeInfo::scalar(ValueType::Double),
                span,
            ),
        };
        let b = if subtract {
            let tb = dag.get(b).ty;
            add_like(dag, HopOp::Unary(UnOp::Neg), vec![b], tb, span)
        } else {
            b
        };
        let fused = builtins::ids::AXPBY;
        Some(add_like(dag, HopOp::Builtin { id: fused, nout: 1 }, vec![x, y, a, b], ty, span))
    }
}
