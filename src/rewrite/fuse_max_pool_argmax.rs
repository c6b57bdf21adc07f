//! `_relu_max_pool(X, shape)` and `_relu_max_pool_backward(X, dout, shape)` of the same `X` and
//! the same window shape (a layer's forward and backward pass in one training step) become
//! `[P, codes] = _relu_max_pool_argmax(X, shape)` and `_max_pool_backward_at(codes, dout, shape)`:
//! the forward pass writes down each window's gradient cell, so the backward pass reads those
//! codes (a quarter of `X` for 2x2 windows) instead of `X` itself, which by then has left the
//! caches (LeNet's first layer: 12 MB a step). `X` may then also die right after the forward pass.
//!
//! Exact: the codes name the cell the unfused gradient picks (the first maximum, by the same
//! comparisons), or none where the unfused gradient is zero; see `kernels::dnn::pool_argmax`.

use super::{HopRewrite, add_like, replace_checked};
use crate::builtins;
use crate::hops::{Dag, HopId, HopOp, Lit};
use crate::types::type_info::TypeInfo;

pub struct FuseMaxPoolArgmax;

/// Whether two operators certainly give the same shape argument: the same node, equal literals,
/// or lists of such.
fn same_argument(dag: &Dag, a: HopId, b: HopId) -> bool {
    if a == b {
        return true;
    }
    let (x, y) = (dag.get(a), dag.get(b));
    match (&x.op, &y.op) {
        (HopOp::Literal(Lit::Double(p)), HopOp::Literal(Lit::Double(q))) => p.to_bits() == q.to_bits(),
        (HopOp::Literal(p), HopOp::Literal(q)) => p == q,
        (HopOp::MakeList(p), HopOp::MakeList(q)) => {
            p == q
                && x.inputs.len() == y.inputs.len()
                && x.inputs.iter().zip(&y.inputs).all(|(&i, &j)| same_argument(dag, i, j))
        }
        _ => false,
    }
}

fn is_builtin(dag: &Dag, id: HopId, which: builtins::BuiltinId) -> bool {
    matches!(dag.get(id).op, HopOp::Builtin { id: b, nout: 1 } if b == which)
}

impl HopRewrite for FuseMaxPoolArgmax {
    fn name(&self) -> &'static str {
        "fuse_max_pool_argmax"
    }

    fn rewrite(&self, _dag: &mut Dag, _id: HopId) -> Option<HopId> {
        None
    }

    /// Pairs every `_relu_max_pool_backward` with a `_relu_max_pool` of its input, replacing both.
    fn run_pass(&self, dag: &mut Dag) -> bool {
        let order = dag.topo_order();
        let pools: Vec<HopId> =
            order.iter().copied().filter(|&id| is_builtin(dag, id, builtins::ids::RELU_MAX_POOL)).collect();
        let mut changed = false;
        let mut paired: Vec<HopId> = Vec::new();
        for &back in &order {
            if !is_builtin(dag, back, builtins::ids::RELU_MAX_POOL_BACKWARD) {
                continue;
            }
            let b = dag.get(back);
            // Backward inputs: X, dout, input_shape, pool_size, stride, padding; forward: X and
            // the same four.
            let (x, dout, shape) = (b.inputs[0], b.inputs[1], b.inputs[2..].to_vec());
            let forward = pools.iter().copied().find(|&p| {
                let f = &dag.get(p).inputs;
                !paired.contains(&p)
                    && f[0] == x
                    && f.len() == shape.len() + 1
                    && f[1..].iter().zip(&shape).all(|(&i, &j)| same_argument(dag, i, j))
            });
            let Some(forward) = forward else { continue };
            let (fwd_ty, fwd_span) = (dag.get(forward).ty, dag.get(forward).span);
            let (back_ty, back_span) = (b.ty, b.span);
            let fwd_inputs = dag.get(forward).inputs.clone();
            let both = HopOp::Builtin { id: builtins::ids::RELU_MAX_POOL_ARGMAX, nout: 2 };
            let both = add_like(dag, both, fwd_inputs, TypeInfo::UNKNOWN, fwd_span);
            let pooled = add_like(dag, HopOp::Extract(0), vec![both], fwd_ty, fwd_span);
            // One code per window: the pooled output's shape.
            let codes = add_like(dag, HopOp::Extract(1), vec![both], fwd_ty, fwd_span);
            let mut inputs = vec![codes, dout];
            inputs.extend(shape);
            let at = HopOp::Builtin { id: builtins::ids::MAX_POOL_BACKWARD_AT, nout: 1 };
            let new_back = add_like(dag, at, inputs, back_ty, back_span);
            // The new operators have the replaced ones' types, so both checks pass; were only the
            // first to, the old backward pass would still give the right values.
            if replace_checked(dag, self.name(), forward, pooled)
                && replace_checked(dag, self.name(), back, new_back)
            {
                changed = true;
                paired.push(forward);
            }
        }
        changed
    }
}
