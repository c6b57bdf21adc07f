//! HOP rewrites: one rule per file behind [`HopRewrite`], applied to a fixpoint.
//!
//! A rule looks at one operator and either leaves it alone or returns the operator that replaces
//! it (often a new node it added to the arena); the driver then redirects every user of the old
//! node. Rules must never change a value: each one's doc comment says why it is exact. Every rule
//! can be switched off by name (`--no-rewrite NAME`), or all at once (`--no-rewrites`).

mod agg_vector;
mod constant_folding;
mod cse;
mod dims_of_cellwise;
mod fuse_axpby;
mod fuse_conv2d_bias_add;
mod fuse_relu_backward;
mod fuse_relu_max_pool;
mod fuse_relu_max_pool_backward;
mod matmul_chain;
mod matmul_transpose;
mod remove_noop;
mod self_mult_to_pow;
mod sigmoid;
mod sum_distribute;
mod trace_matmul;
mod tsmm;

use crate::hops::{Dag, Hop, HopId, HopOp};
use crate::syntax::ast::Span;
use crate::types::Backend;
use crate::types::type_info::TypeInfo;
use std::collections::HashSet;

/// One rewrite rule.
pub trait HopRewrite: Sync {
    /// The rule's name, used by `--no-rewrite` and in explain output.
    fn name(&self) -> &'static str;

    /// Rewrites the operator `id`; returns its replacement when the rule applies.
    fn rewrite(&self, dag: &mut Dag, id: HopId) -> Option<HopId>;

    /// Rules that look at the whole DAG at once (common subexpressions) override this.
    fn run_pass(&self, dag: &mut Dag) -> bool {
        let mut changed = false;
        for id in dag.topo_order() {
            if let Some(new) = self.rewrite(dag, id)
                && new != id
            {
                dag.replace_uses(id, new);
                changed = true;
            }
        }
        changed
    }
}

/// Which rules run.
#[derive(Clone, Debug, Default)]
pub struct RewriteConfig {
    /// Turn every rule off (`--no-rewrites`).
    pub disable_all: bool,
    /// Rules turned off by name.
    pub disabled: HashSet<String>,
}

impl RewriteConfig {
    pub fn enabled(&self, name: &str) -> bool {
        !self.disable_all && !self.disabled.contains(name)
    }
}

/// All rules in the order they are tried within a pass.
pub fn all_rules() -> Vec<&'static dyn HopRewrite> {
    vec![
        &constant_folding::ConstantFolding,
        &cse::CommonSubexpressions,
        &remove_noop::RemoveNoOps,
        &self_mult_to_pow::SelfMultToPow,
        &sigmoid::FuseSigmoid,
        &trace_matmul::TraceOfProduct,
        &sum_distribute::DistributeSum,
        &agg_vector::AggregateOfVector,
        &tsmm::TransposeSelfMatMul,
        &matmul_chain::MatMulChain,
        &fuse_conv2d_bias_add::FuseConv2dBiasAdd,
        &dims_of_cellwise::DimsOfCellwise,
        &fuse_relu_max_pool::FuseReluMaxPool,
        &fuse_relu_max_pool_backward::FuseReluMaxPoolBackward,
        &fuse_relu_backward::FuseReluBackward,
        &matmul_transpose::FuseTransposeIntoMatMul,
        &fuse_axpby::FuseAxpby,
    ]
}

/// Names of all rules, for `--help` and error messages.
pub fn rule_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = all_rules().iter().map(|r| r.name()).collect();
    // Applied while DAGs are built rather than as a DAG rule, but switchable in the same way.
    names.push("inline_functions");
    names.push("remove_constant_branches");
    names.push("hoist_loop_invariants");
    names
}

/// The most passes over a DAG before the driver stops even without a fixpoint.
const MAX_PASSES: usize = 20;

/// Applies the enabled rules until none changes anything. Returns the names of the rules that
/// fired, in order (for explain).
pub fn optimize(dag: &mut Dag, config: &RewriteConfig) -> Vec<&'static str> {
    let mut fired = Vec::new();
    if config.disable_all {
        return fired;
    }
    let rules: Vec<_> = all_rules().into_iter().filter(|r| config.enabled(r.name())).collect();
    for _ in 0..MAX_PASSES {
        let mut changed = false;
        for rule in &rules {
            if rule.run_pass(dag) {
                changed = true;
                fired.push(rule.name());
            }
        }
        if !changed {
            break;
        }
    }
    fired
}

/// Adds a new operator with the given op and inputs, typed like `like`.
pub(crate) fn add_like(dag: &mut Dag, op: HopOp, inputs: Vec<HopId>, ty: TypeInfo, span: Span) -> HopId {
    dag.add(Hop { op, inputs, ty, mem: 0.0, backend: Backend::CpuDense, span })
}

/// The literal number of an operator, if it is one.
pub(crate) fn lit_num(dag: &Dag, id: HopId) -> Option<f64> {
    dag.get(id).literal().and_then(|l| l.as_f64())
}
