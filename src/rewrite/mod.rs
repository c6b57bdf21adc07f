//! HOP rewrites: one rule per file behind [`HopRewrite`], applied to a fixpoint.
//!
//! A rule looks at one operator and either leaves it alone or returns the operator that replaces
//! it (often a new node it added to the arena); the driver then redirects every user of the old
//! node. Rules must never change a value: each one's doc comment says why it is exact. Every rule
//! can be switched off by name (`--no-rewrite NAME`), or all at once (`--no-rewrites`).

mod agg_of_transpose;
mod agg_vector;
mod constant_folding;
mod cse;
mod dims_of_cellwise;
mod double_negation;
mod empty_matrix;
mod fuse_axpby;
mod fuse_cell;
mod fuse_conv2d_bias_add;
mod fuse_max_pool_argmax;
mod fuse_multi_agg;
mod fuse_outer;
mod fuse_relu_backward;
mod fuse_relu_max_pool;
mod fuse_relu_max_pool_backward;
mod fuse_row;
pub mod fusion;
mod matmul_chain;
mod matmul_transpose;
mod negated_transpose_matmul;
mod remove_noop;
mod remove_whole_index;
mod self_add_to_mult;
mod self_mult_to_pow;
mod sigmoid;
mod sum_distribute;
mod sum_of_product;
mod sum_sq;
mod trace_matmul;
mod tsmm;

use crate::hops::{Dag, Hop, HopId, HopOp};
use crate::syntax::ast::Span;
use crate::syntax::ast::ValueType;
use crate::types::Backend;
use crate::types::type_info::{DType, TypeInfo};
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
                && replace_checked(dag, self.name(), id, new)
            {
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
    /// The fusion rules fuse templates over at least this many cells (default
    /// [`fusion::DEFAULT_MIN_CELLS`], or `DML_FUSE_MIN_CELLS`); tests set 0 to fuse 4x4 matrices.
    pub fuse_min_cells: Option<f64>,
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
        &remove_whole_index::RemoveWholeIndex,
        &empty_matrix::EmptyMatrix,
        &double_negation::DoubleNegation,
        &self_add_to_mult::SelfAddToMult,
        &self_mult_to_pow::SelfMultToPow,
        &sigmoid::FuseSigmoid,
        &trace_matmul::TraceOfProduct,
        &sum_distribute::DistributeSum,
        &sum_of_product::SumOfProduct,
        &sum_sq::SumOfSquares,
        &agg_of_transpose::AggregateOfTranspose,
        &agg_vector::AggregateOfVector,
        &tsmm::TransposeSelfMatMul,
        &matmul_chain::MatMulChain,
        &fuse_conv2d_bias_add::FuseConv2dBiasAdd,
        &dims_of_cellwise::DimsOfCellwise,
        &fuse_relu_max_pool::FuseReluMaxPool,
        &fuse_relu_max_pool_backward::FuseReluMaxPoolBackward,
        &fuse_relu_backward::FuseReluBackward,
        &fuse_max_pool_argmax::FuseMaxPoolArgmax,
        &negated_transpose_matmul::NegatedTransposeMatMul,
        &matmul_transpose::FuseTransposeIntoMatMul,
        &fuse_axpby::FuseAxpby,
    ]
}

/// Names of all rules, for `--help` and error messages.
pub fn rule_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = all_rules().iter().map(|r| r.name()).collect();
    // Applied while DAGs are built rather than as a DAG rule, but switchable in the same way.
    names.extend(fusion_rules().iter().map(|r| r.name()));
    names.push("inline_functions");
    names.push("remove_constant_branches");
    names.push("hoist_loop_invariants");
    names
}

/// The fusion rules (SystemDS's codegen templates), in the order they run: the outer product
/// first (its region would otherwise be taken by the Cell template), then rows, cells, and the
/// multi-aggregates that merge cell aggregates.
pub fn fusion_rules() -> Vec<&'static dyn fusion::FusionRule> {
    vec![&fuse_outer::FuseOuter, &fuse_row::FuseRow, &fuse_cell::FuseCell, &fuse_multi_agg::FuseMultiAgg]
}

/// Runs the enabled fusion rules once over a rewritten DAG whose non-zeros are estimated (the
/// rules pick templates from the estimates). Returns the names of the rules that fired.
pub fn fuse(dag: &mut Dag, config: &RewriteConfig) -> Vec<&'static str> {
    let mut fired = Vec::new();
    if config.disable_all {
        return fired;
    }
    static FROM_ENV: std::sync::OnceLock<Option<f64>> = std::sync::OnceLock::new();
    let env = *FROM_ENV.get_or_init(|| std::env::var("DML_FUSE_MIN_CELLS").ok().and_then(|v| v.parse().ok()));
    let opts = fusion::FusionOptions {
        min_cells: config.fuse_min_cells.or(env).unwrap_or(fusion::DEFAULT_MIN_CELLS),
    };
    for rule in fusion_rules() {
        if config.enabled(rule.name()) && rule.apply(dag, &opts) {
            fired.push(rule.name());
        }
    }
    fired
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

/// Redirects every user of `old` to `new`, after checking that the rule kept what the users rely
/// on: the data type, the value type and every dimension known on both sides (a replacement may
/// know more than the node it replaces, never something else; non-zero counts are estimates and
/// may differ). As DataFusion checks that an optimizer rule kept the schema: a rule that breaks
/// this is a bug, so debug builds and the test suites (`DML_CHECK_REWRITES=1`) stop with the
/// rule's name; a release build keeps the original operator, which is always correct.
pub(crate) fn replace_checked(dag: &mut Dag, rule: &'static str, old: HopId, new: HopId) -> bool {
    let (before, after) = (dag.get(old).ty, dag.get(new).ty);
    if let Some(why) = type_change(&before, &after) {
        if strict_checks() {
            panic!("rewrite rule {rule} changed {why}: {before} became {after}");
        }
        return false;
    }
    dag.replace_uses(old, new);
    true
}

/// What differs between a node's type and its replacement's, if anything the users rely on.
fn type_change(before: &TypeInfo, after: &TypeInfo) -> Option<&'static str> {
    let known = |x: i64| x >= 0;
    if before.dt != after.dt && before.dt != DType::Unknown {
        Some("the data type")
    } else if before.vt != after.vt && before.vt != ValueType::Unknown {
        Some("the value type")
    } else if before.dt != DType::Scalar
        && ((known(before.rows) && known(after.rows) && before.rows != after.rows)
            || (known(before.cols) && known(after.cols) && before.cols != after.cols))
    {
        Some("the shape")
    } else {
        None
    }
}

static STRICT_FOR_TESTS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Makes a rule that changes a node's type stop the process, as in debug builds; for test suites
/// that compile in process (those that run the binary set `DML_CHECK_REWRITES=1`).
pub fn check_rewrites_strictly() {
    STRICT_FOR_TESTS.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// Whether a broken rule stops the program (debug builds, `DML_CHECK_REWRITES`, or tests).
fn strict_checks() -> bool {
    static FROM_ENV: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    cfg!(debug_assertions)
        || STRICT_FOR_TESTS.load(std::sync::atomic::Ordering::Relaxed)
        || *FROM_ENV.get_or_init(|| std::env::var_os("DML_CHECK_REWRITES").is_some())
}

/// Adds a new operator with the given op and inputs, typed like `like`.
pub(crate) fn add_like(dag: &mut Dag, op: HopOp, inputs: Vec<HopId>, ty: TypeInfo, span: Span) -> HopId {
    dag.add(Hop { op, inputs, ty, mem: 0.0, backend: Backend::CpuDense, span })
}

/// The literal number of an operator, if it is one.
pub(crate) fn lit_num(dag: &Dag, id: HopId) -> Option<f64> {
    dag.get(id).literal().and_then(|l| l.as_f64())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hops::Lit;

    fn dag_with(a: TypeInfo, b: TypeInfo) -> (Dag, HopId, HopId) {
        let mut dag = Dag::default();
        let span = Span::default();
        let x = add_like(&mut dag, HopOp::Literal(Lit::Double(1.0)), vec![], a, span);
        let y = add_like(&mut dag, HopOp::Literal(Lit::Double(2.0)), vec![], b, span);
        (dag, x, y)
    }

    #[test]
    fn a_replacement_may_know_more_but_not_differ() {
        assert_eq!(type_change(&TypeInfo::matrix(-1, 3), &TypeInfo::matrix(4, 3)), None);
        assert_eq!(type_change(&TypeInfo::matrix(4, 3), &TypeInfo::matrix(3, 4)), Some("the shape"));
        assert_eq!(
            type_change(&TypeInfo::scalar(ValueType::Int), &TypeInfo::scalar(ValueType::Double)),
            Some("the value type")
        );
        assert_eq!(
            type_change(&TypeInfo::matrix(1, 1), &TypeInfo::scalar(ValueType::Double)),
            Some("the data type")
        );
    }

    #[test]
    #[should_panic(expected = "rewrite rule broken_rule changed the shape")]
    fn the_driver_stops_a_rule_that_changes_the_shape_in_tests() {
        check_rewrites_strictly();
        let (mut dag, x, y) = dag_with(TypeInfo::matrix(4, 3), TypeInfo::matrix(3, 4));
        replace_checked(&mut dag, "broken_rule", x, y);
    }
}
