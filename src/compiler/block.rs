//! Compiling one basic block, or one predicate, to an instruction plan: AST to HOPs, rewrites,
//! memory estimates and backends, lowering. The static validator calls it once per block with
//! the types known statically; the executor calls it again whenever a block runs with input
//! types it has no cached plan for (dynamic recompilation).

use crate::compiler::program::{ModuleId, Program, VarTable};
use crate::compiler::to_hops::{BuildCtx, Builder, Env};
use crate::compiler::{ExplainFormat, Options};
use crate::diagnostics::Diagnostic;
use crate::hops::explain::explain_dag;
use crate::hops::{Dag, HopId, VarId};
use crate::lower::{Plan, lower};
use crate::syntax::ast::{Expr, Stmt};
use crate::types::type_info::{TypeInfo, TypeKey};

/// The scope blocks are compiled in: the main program or one function.
#[derive(Clone, Copy)]
pub struct Scope<'a> {
    pub module: ModuleId,
    pub vars: &'a VarTable,
}

fn explain_text(program: &Program, opts: &Options, vars: &VarTable, dag: &Dag) -> String {
    let var_name = |v: u32| vars.name(v).to_string();
    let func_name = |f: u32| program.functions[f as usize].name.clone();
    match opts.explain_format {
        ExplainFormat::Text => explain_dag(dag, &var_name, &func_name),
        ExplainFormat::Dot => crate::hops::explain::dot::dag_fragment(dag, &var_name, &func_name),
    }
}

/// `keys`: the run-time keys of the variables read (which of them are on the device).
fn optimize_and_plan(
    opts: &Options,
    program: &Program,
    dag: &mut Dag,
    keys: &dyn Fn(VarId) -> TypeKey,
) -> Result<(), Vec<Diagnostic>> {
    if opts.gpu == crate::gpu::GpuMode::Force {
        // The device has kernels for the ReLU + max pooling pair, not for the CPU's argmax form
        // of it (which would bring each layer's activations back to the host).
        let mut rewrites = opts.rewrites.clone();
        rewrites.disabled.insert("fuse_max_pool_argmax".to_string());
        crate::rewrite::optimize(dag, &rewrites);
    } else {
        crate::rewrite::optimize(dag, &opts.rewrites);
    }
    crate::plan::nnz::estimate(dag);
    // Fused operators leave no lineage items of their own, so traced programs keep every operator;
    // they have no device kernels either, so `--gpu force` keeps the operators it puts on the device.
    if !program.traces_lineage && opts.gpu != crate::gpu::GpuMode::Force {
        crate::rewrite::fuse(dag, &opts.rewrites);
    }
    crate::plan::assign_estimated(dag, opts.budget).map_err(|e| vec![e])?;
    crate::plan::gpu::choose(dag, opts.gpu, &|v| keys(v).device);
    Ok(())
}

/// What the HOP builder knows of a block's surroundings.
fn build_ctx<'a>(
    program: &'a Program,
    opts: &'a Options,
    scope: Scope<'a>,
    env: &'a Env,
    static_mode: bool,
    live_out: Option<&'a [VarId]>,
) -> BuildCtx<'a> {
    BuildCtx {
        program,
        module: scope.module,
        vars: scope.vars,
        env,
        args: &opts.args,
        propagate_constants: static_mode,
        inline_functions: opts.rewrites.enabled("inline_functions"),
        live_out,
    }
}

/// A variable a block writes, with its type and its value when that is a constant.
pub type Written = (VarId, TypeInfo, Option<crate::hops::Lit>);

/// Compiles a basic block for the given input environment.
#[allow(clippy::too_many_arguments)]
pub fn compile_basic(
    program: &Program,
    opts: &Options,
    scope: Scope,
    env: &Env,
    stmts: &[Stmt],
    live_out: Option<&[VarId]>,
    static_mode: bool,
    keys: &dyn Fn(VarId) -> TypeKey,
) -> Result<(Plan, Vec<Written>), Vec<Diagnostic>> {
    let ctx = build_ctx(program, opts, scope, env, static_mode, live_out);
    let built = Builder::new(&ctx).build_block(stmts)?;
    let mut dag = built.dag;
    optimize_and_plan(opts, program, &mut dag, keys)?;
    let explain = explain_text(program, opts, scope.vars, &dag);
    let key = built.reads.iter().map(|&v| keys(v)).collect();
    let mut writes = built.writes;
    carry_nnz_estimates(&dag, &mut writes);
    Ok((lower(&dag, built.reads, key, None, explain), writes))
}

/// Copies the planner's non-zero estimates of the written values into the types the later
/// blocks start from, so the estimates flow across blocks (and into functions) statically too.
fn carry_nnz_estimates(dag: &Dag, writes: &mut [Written]) {
    for &root in &dag.roots {
        let hop = dag.get(root);
        if let crate::hops::HopOp::Write(v) = hop.op
            && let Some(w) = writes.iter_mut().find(|w| w.0 == v)
            && w.1.dt == hop.ty.dt
            && w.1.rows == hop.ty.rows
            && w.1.cols == hop.ty.cols
        {
            w.1.nnz = hop.ty.nnz;
        }
    }
}

/// Compiles a predicate (or a loop bound, or a default value) to a plan with a result.
pub fn compile_predicate(
    program: &Program,
    opts: &Options,
    scope: Scope,
    env: &Env,
    expr: &Expr,
    static_mode: bool,
    keys: &dyn Fn(VarId) -> TypeKey,
) -> Result<(Plan, TypeInfo), Vec<Diagnostic>> {
    let ctx = build_ctx(program, opts, scope, env, static_mode, None);
    let (mut dag, reads, root): (Dag, Vec<VarId>, HopId) = Builder::new(&ctx).build_predicate(expr)?;
    optimize_and_plan(opts, program, &mut dag, keys)?;
    // Rewrites may have replaced the root; the root list holds the current one.
    let root = *dag.roots.last().unwrap_or(&root);
    let ty = dag.get(root).ty;
    let explain = explain_text(program, opts, scope.vars, &dag);
    let key = reads.iter().map(|&v| keys(v)).collect();
    Ok((lower(&dag, reads, key, Some(root), explain), ty))
}
