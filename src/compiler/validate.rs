//! The static validation pass over the whole program (the blocks are compiled by
//! [`block`](crate::compiler::block), as at run time).
//!
//! The static pass walks the program's blocks in order with an environment of variable types
//! (and constants, which it propagates into later blocks as SystemDS does outside of conditional
//! branches). Loops are walked twice so that types changed by an iteration flow back into the
//! loop's start. Each function body is checked once with the types its parameters declare.

use crate::compiler::Options;
use crate::compiler::block::{Scope, compile_basic, compile_predicate};
use crate::compiler::program::assigned_in;
use crate::compiler::program::{Block, Program, VarTable};
use crate::compiler::to_hops::{Env, VarInfo};
use crate::diagnostics::Diagnostic;
use crate::hops::VarId;
use crate::syntax::ast::{Expr, ValueType};
use crate::syntax::visit;
use crate::types::type_info::TypeKey;
use crate::types::type_info::{DType, TypeInfo};

/// The result of the static pass: every problem found, and the explain text of every block.
#[derive(Default)]
pub struct Validation {
    pub errors: Vec<Diagnostic>,
    pub explain: String,
    /// For each `if` (keyed by its span), the value of its predicate on every walk: constant
    /// (`Some`) or not (`None`).
    pub if_outcomes: std::collections::HashMap<(u32, u32), Vec<Option<bool>>>,
    /// For each basic block (keyed by its span), the variables that hold the same constant on
    /// every walk that reached it: the run-time compiler treats them as literals.
    pub block_consts: BlockConsts,
}

/// Constants proven per basic block, keyed by the block's span (file, start, end).
pub type BlockConsts = std::collections::HashMap<(u32, u32, u32), Vec<(VarId, crate::hops::Lit)>>;

struct Validator<'a> {
    program: &'a Program,
    opts: &'a Options,
    out: Validation,
    explain: bool,
}

fn no_key(_: VarId) -> TypeKey {
    TypeKey::of(None)
}

impl Validator<'_> {
    fn blocks(&mut self, scope: Scope, blocks: &[Block], env: &mut Env, depth: usize) {
        for b in blocks {
            self.block(scope, b, env, depth);
        }
    }

    fn predicate(&mut self, scope: Scope, expr: &Expr, env: &Env, what: &str) {
        match compile_predicate(self.program, self.opts, scope, env, expr, true, &no_key) {
            Ok((plan, ty)) => {
                if what == "if predicate" {
                    let outcome = match &plan.result {
                        Some(crate::lower::Operand::Const(v)) if plan.instrs.is_empty() => v.as_bool(),
                        _ => None,
                    };
                    self.out
                        .if_outcomes
                        .entry((expr.span.file.0, expr.span.start))
                        .or_default()
                        .push(outcome);
                }
                if self.explain {
                    let at = self.program.describe_span(expr.span);
                    self.out.explain.push_str(&format!("--- {what} ({at})\n{}", plan.explain));
                }
                // A 1x1 matrix is accepted as a predicate, as SystemDS does.
                let one_by_one =
                    ty.dt == DType::Matrix && (ty.rows == 1 || ty.rows < 0) && (ty.cols == 1 || ty.cols < 0);
                if matches!(ty.dt, DType::Matrix | DType::Frame | DType::List)
                    && what != "default"
                    && !one_by_one
                {
                    self.out.errors.push(
                        Diagnostic::error(format!("the {what} must be a scalar, but it is a {ty}"))
                            .with_primary(expr.span, "not a scalar"),
                    );
                }
            }
            Err(e) => self.out.errors.extend(e),
        }
    }

    fn block(&mut self, scope: Scope, block: &Block, env: &mut Env, depth: usize) {
        match block {
            Block::Basic(bb) => {
                let consts: Vec<(VarId, crate::hops::Lit)> = env
                    .iter()
                    .enumerate()
                    .filter_map(|(v, i)| i.as_ref().and_then(|i| i.konst.clone().map(|k| (v as VarId, k))))
                    .collect();
                let key = (bb.span.file.0, bb.span.start, bb.span.end);
                match self.out.block_consts.get_mut(&key) {
                    Some(seen) => seen.retain(|c| consts.contains(c)),
                    None => {
                        self.out.block_consts.insert(key, consts);
                    }
                }
                match compile_basic(
                    self.program,
                    self.opts,
                    scope,
                    env,
                    &bb.stmts,
                    bb.live_out.as_deref(),
                    true,
                    &no_key,
                ) {
                    Ok((plan, writes)) => {
                        if self.explain {
                            self.out.explain.push_str(&format!(
                                "--- block ({})\n{}",
                                self.program.describe_span(bb.span),
                                plan.explain
                            ));
                        }
                        for (v, ty, konst) in writes {
                            // Constants are propagated only outside conditional and loop bodies.
                            let konst = if depth == 0 { konst } else { None };
                            set(env, v, VarInfo { ty, konst });
                        }
                    }
                    Err(e) => {
                        self.out.errors.extend(e);
                        // Keep going with what the block assigns, so later blocks do not report
                        // every use of those variables as undefined.
                        for a in bb.stmts.iter().flat_map(visit::assigned_vars) {
                            if let Some(v) = scope.vars.get(&a.name.name)
                                && env[v as usize].is_none()
                            {
                                set(env, v, VarInfo { ty: TypeInfo::UNKNOWN, konst: None });
                            }
                        }
                    }
                }
            }
            Block::If { cond, then_body, else_body, .. } => {
                self.predicate(scope, &cond.expr, env, "if predicate");
                let mut a = env.clone();
                let mut b = env.clone();
                self.blocks(scope, then_body, &mut a, depth + 1);
                self.blocks(scope, else_body, &mut b, depth + 1);
                merge(env, &a, &b);
            }
            Block::While { cond, body, .. } => {
                self.loop_body(scope, body, env, depth, |v, env| {
                    v.predicate(scope, &cond.expr, env, "while predicate")
                });
            }
            Block::For(f) => {
                self.predicate(scope, &f.from.expr, env, "loop bound");
                self.predicate(scope, &f.to.expr, env, "loop bound");
                if let Some(i) = &f.incr {
                    self.predicate(scope, &i.expr, env, "loop increment");
                }
                set(env, f.var, VarInfo { ty: TypeInfo::scalar(ValueType::Int), konst: None });
                self.blocks(scope, &f.preheader, env, depth + 1);
                self.loop_body(scope, &f.body, env, depth, |_, _| {});
            }
        }
    }

    fn loop_body(
        &mut self,
        scope: Scope,
        body: &[Block],
        env: &mut Env,
        depth: usize,
        pred: impl Fn(&mut Self, &Env),
    ) {
        // Variables assigned in the body are not constants inside the loop.
        let mut first = env.clone();
        forget_constants_assigned(body, scope.vars, &mut first);
        let explain = self.explain;
        let errors_before = self.out.errors.len();
        self.explain = false;
        pred(self, &first);
        let mut after = first.clone();
        self.blocks(scope, body, &mut after, depth + 1);
        // Second walk with the types that flow around the loop; report only its findings.
        self.out.errors.truncate(errors_before);
        self.explain = explain;
        let mut joined = first.clone();
        merge(&mut joined, &first, &after);
        pred(self, &joined);
        let mut second = joined.clone();
        self.blocks(scope, body, &mut second, depth + 1);
        merge(env, &joined, &second);
    }
}

fn set(env: &mut Env, v: VarId, info: VarInfo) {
    if env.len() <= v as usize {
        env.resize(v as usize + 1, None);
    }
    env[v as usize] = Some(info);
}

/// Joins the environments after two paths: a variable defined on both keeps the common type.
fn merge(env: &mut Env, a: &Env, b: &Env) {
    let n = a.len().max(b.len()).max(env.len());
    env.resize(n, None);
    for (i, slot) in env.iter_mut().enumerate() {
        let x = a.get(i).cloned().flatten();
        let y = b.get(i).cloned().flatten();
        *slot = match (x, y) {
            (Some(x), Some(y)) => {
                Some(VarInfo { ty: x.ty.join(&y.ty), konst: if x.konst == y.konst { x.konst } else { None } })
            }
            (Some(x), None) | (None, Some(x)) => Some(VarInfo { ty: x.ty, konst: None }),
            (None, None) => None,
        };
    }
}

fn forget_constants_assigned(body: &[Block], vars: &VarTable, env: &mut Env) {
    let mut assigned = Vec::new();
    assigned_in(body, vars, &mut assigned);
    for v in assigned {
        if let Some(Some(info)) = env.get_mut(v as usize) {
            info.konst = None;
        }
    }
}

/// Checks the whole program statically. With `explain`, also renders every block's DAG.
pub fn validate(program: &Program, opts: &Options, explain: bool) -> Validation {
    validate_with(program, opts, explain, &[])
}

/// Like [`validate`], with the types of variables that exist before the main program starts
/// (by slot of the main program).
pub fn validate_with(
    program: &Program,
    opts: &Options,
    explain: bool,
    initial: &[(VarId, TypeInfo)],
) -> Validation {
    let mut v = Validator { program, opts, out: Validation::default(), explain };
    let main_scope = Scope { module: 0, vars: &program.main_vars };
    let mut env: Env = vec![None; program.main_vars.len()];
    for &(slot, ty) in initial {
        set(&mut env, slot, VarInfo { ty, konst: None });
    }
    v.blocks(main_scope, &program.main, &mut env, 0);
    for (i, f) in program.functions.iter().enumerate() {
        if f.external {
            continue;
        }
        if explain {
            v.out.explain.push_str(&format!("=== function {}\n", f.name));
        }
        let scope = Scope { module: f.module, vars: &f.vars };
        let mut fenv: Env = vec![None; f.vars.len()];
        for (p, &slot) in f.params.iter().zip(&f.param_slots) {
            set(&mut fenv, slot, VarInfo { ty: TypeInfo::of_spec(&p.ty), konst: None });
        }
        for (p, d) in f.params.iter().zip(&f.defaults) {
            if let Some(d) = d {
                let _ = p;
                v.predicate(scope, &d.expr, &fenv, "default");
            }
        }
        v.blocks(scope, &f.body, &mut fenv, 0);
        let _ = i;
    }
    v.out
}
