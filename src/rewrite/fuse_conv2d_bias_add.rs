//! `bias_add(conv2d(X, W, ...), b)` becomes one fused operator that adds the bias while the
//! convolution's output is still in cache, instead of a second pass over a large matrix. Exact:
//! every output cell is the same dot product plus the same bias.

use super::{HopRewrite, add_like};
use crate::builtins;
use crate::hops::{Dag, HopId, HopOp};

pub struct FuseConv2dBiasAdd;

impl HopRewrite for FuseConv2dBiasAdd {
    fn name(&self) -> &'static str {
        "fuse_conv2d_bias_add"
    }

    fn rewrite(&self, dag: &mut Dag, id: HopId) -> Option<HopId> {
        let hop = dag.get(id);
        let HopOp::Builtin { id: b, .. } = hop.op else { return None };
        if b != builtins::ids::BIAS_ADD {
            return None;
        }
        let conv_id = hop.inputs[0];
        let conv = dag.get(conv_id);
        let HopOp::Builtin { id: c, .. } = conv.op else { return None };
        if c != builtins::ids::CONV2D || dag.use_counts()[conv_id.index()] != 1 {
            return None;
        }
        // conv2d(input, filter, input_shape, filter_shape, stride, padding)
        let ci = conv.inputs.clone();
        let inputs = vec![ci[0], ci[1], hop.inputs[1], ci[2], ci[3], ci[4], ci[5]];
        let fused = builtins::ids::CONV2D_BIAS_ADD;
        let (ty, span) = (hop.ty, hop.span);
        Some(add_like(dag, HopOp::Builtin { id: fused, nout: 1 }, inputs, ty, span))
    }
}
