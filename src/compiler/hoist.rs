//! Hoisting of loop-invariant statements out of `for` loops.
//!
//! A statement `x = e` at the top level of a `for` body moves into the loop's preheader (run once,
//! just before the first iteration, and only when the loop runs at all) when `e` reads only
//! variables the loop never assigns, calls only side-effect-free builtins, and `x` is assigned
//! nowhere else in the loop and not read before this statement in an iteration. Then every
//! iteration would compute the same value, so computing it once gives the same results.

use crate::builtins::{self, Lower};
use crate::compiler::plan_cache::PlanCache;
use crate::compiler::program::assigned_in;
use crate::compiler::program::{BasicBlock, Block, Program, VarTable};
use crate::hops::VarId;
use crate::syntax::ast::{AssignOp, AssignTarget, Expr, ExprKind, IndexSpec, Stmt, StmtKind};

fn pure_reads(e: &Expr, program: &Program, module: u32, out: &mut Vec<String>) -> bool {
    match &e.kind {
        ExprKind::Int(_)
        | ExprKind::Double(_)
        | ExprKind::Bool(_)
        | ExprKind::Str(_)
        | ExprKind::CmdArg(_) => true,
        ExprKind::Ident(n) => {
            out.push(n.clone());
            true
        }
        ExprKind::IfDef { default, .. } => pure_reads(default, program, module, out),
        ExprKind::Unary { expr, .. } => pure_reads(expr, program, module, out),
        ExprKind::Binary { lhs, rhs, .. } => {
            pure_reads(lhs, program, module, out) && pure_reads(rhs, program, module, out)
        }
        ExprKind::Index { name, rows, cols } => {
            out.push(name.name.clone());
            [Some(rows.as_ref()), cols.as_deref()].into_iter().flatten().all(|s| match s {
                IndexSpec::All => true,
                IndexSpec::Single(x) => pure_reads(x, program, module, out),
                IndexSpec::Range(a, b) => {
                    pure_reads(a, program, module, out) && pure_reads(b, program, module, out)
                }
            })
        }
        ExprKind::List(items) => items.iter().all(|i| pure_reads(i, program, module, out)),
        ExprKind::Call { namespace, name, args } => {
            if namespace.is_some() || program.resolve_function(module, None, &name.name).is_some() {
                return false;
            }
            let Some(id) = builtins::lookup(&name.name) else { return false };
            let spec = id.spec();
            if spec.side_effect
                || spec.nout > 1
                || matches!(spec.name, "print" | "stop" | "assert" | "exists")
            {
                return false;
            }
            if spec.lower == Lower::Special
                && !matches!(spec.name, "matrix" | "seq" | "ifelse" | "log" | "list")
            {
                return false;
            }
            args.iter().all(|a| pure_reads(&a.value, program, module, out))
        }
    }
}

fn stmt_reads(s: &Stmt, out: &mut Vec<String>) {
    fn expr(e: &Expr, out: &mut Vec<String>) {
        match &e.kind {
            ExprKind::Ident(n) => out.push(n.clone()),
            ExprKind::IfDef { default, .. } => expr(default, out),
            ExprKind::Unary { expr: x, .. } => expr(x, out),
            ExprKind::Binary { lhs, rhs, .. } => {
                expr(lhs, out);
                expr(rhs, out);
            }
            ExprKind::Index { name, rows, cols } => {
                out.push(name.name.clone());
                for s in [Some(rows.as_ref()), cols.as_deref()].into_iter().flatten() {
                    spec(s, out);
                }
            }
            ExprKind::List(items) => items.iter().for_each(|i| expr(i, out)),
            ExprKind::Call { args, .. } => args.iter().for_each(|a| expr(&a.value, out)),
            _ => {}
        }
    }
    fn spec(s: &IndexSpec, out: &mut Vec<String>) {
        match s {
            IndexSpec::All => {}
            IndexSpec::Single(x) => expr(x, out),
            IndexSpec::Range(a, b) => {
                expr(a, out);
                expr(b, out);
            }
        }
    }
    match &s.kind {
        StmtKind::Assign { target, value, op } => {
            expr(value, out);
            match target {
                AssignTarget::Var(v) if *op == AssignOp::PlusEq => out.push(v.name.clone()),
                AssignTarget::Var(_) => {}
                AssignTarget::Indexed { name, rows, cols } => {
                    out.push(name.name.clone());
                    for s in [Some(rows), cols.as_ref()].into_iter().flatten() {
                        spec(s, out);
                    }
                }
            }
        }
        StmtKind::MultiAssign { value, .. } | StmtKind::Expr(value) => expr(value, out),
        _ => {}
    }
}

/// Counts how often each variable is assigned in a list of blocks (any depth).
fn assignment_counts(blocks: &[Block], vars: &VarTable, counts: &mut Vec<u32>) {
    for b in blocks {
        match b {
            Block::Basic(bb) => {
                for s in &bb.stmts {
                    let names: Vec<&str> = match &s.kind {
                        StmtKind::Assign { target: AssignTarget::Var(v), .. } => vec![v.name.as_str()],
                        StmtKind::Assign { target: AssignTarget::Indexed { name, .. }, .. } => {
                            vec![name.name.as_str()]
                        }
                        StmtKind::MultiAssign { targets, .. } => {
                            targets.iter().map(|t| t.name.as_str()).collect()
                        }
                        _ => vec![],
                    };
                    for n in names {
                        if let Some(v) = vars.get(n) {
                            counts[v as usize] += 1;
                        }
                    }
                }
            }
            Block::If { then_body, else_body, .. } => {
                assignment_counts(then_body, vars, counts);
                assignment_counts(else_body, vars, counts);
            }
            Block::While { body, .. } => assignment_counts(body, vars, counts),
            Block::For(f) => {
                counts[f.var as usize] += 1;
                assignment_counts(&f.body, vars, counts);
            }
        }
    }
}

fn hoist_in(blocks: &mut [Block], program: &Program, module: u32, vars: &VarTable) {
    for b in blocks.iter_mut() {
        match b {
            Block::If { then_body, else_body, .. } => {
                hoist_in(then_body, program, module, vars);
                hoist_in(else_body, program, module, vars);
            }
            Block::While { body, .. } => hoist_in(body, program, module, vars),
            Block::For(f) => {
                hoist_in(&mut f.body, program, module, vars);
                if f.parfor.is_some() {
                    continue;
                }
                let mut assigned: Vec<VarId> = vec![f.var];
                assigned_in(&f.body, vars, &mut assigned);
                let mut counts = vec![0u32; vars.len()];
                assignment_counts(&f.body, vars, &mut counts);
                let mut hoisted: Vec<Stmt> = Vec::new();
                // Only the top-level basic blocks before any control flow are considered, so that
                // "read before this statement in an iteration" is a plain statement-order question.
                let mut read_so_far: Vec<String> = Vec::new();
                'blocks: for blk in f.body.iter_mut() {
                    let Block::Basic(bb) = blk else { break 'blocks };
                    let mut keep = Vec::with_capacity(bb.stmts.len());
                    for s in std::mem::take(&mut bb.stmts) {
                        let candidate = match &s.kind {
                            StmtKind::Assign {
                                target: AssignTarget::Var(x),
                                op: AssignOp::Eq | AssignOp::Arrow,
                                value,
                            } => {
                                let mut reads = Vec::new();
                                let pure = pure_reads(value, program, module, &mut reads);
                                let slot = vars.get(&x.name);
                                let invariant =
                                    reads.iter().all(|r| vars.get(r).is_none_or(|v| !assigned.contains(&v)));
                                pure && invariant
                                    && slot.is_some_and(|v| counts[v as usize] == 1)
                                    && !read_so_far.contains(&x.name)
                            }
                            _ => false,
                        };
                        if candidate {
                            if let StmtKind::Assign { target: AssignTarget::Var(x), .. } = &s.kind
                                && let Some(v) = vars.get(&x.name)
                            {
                                // The variable is now defined before the loop and invariant.
                                assigned.retain(|a| *a != v);
                            }
                            hoisted.push(s);
                        } else {
                            stmt_reads(&s, &mut read_so_far);
                            keep.push(s);
                        }
                    }
                    if let (Some(first), Some(last)) = (keep.first(), keep.last()) {
                        bb.span = first.span.to(last.span);
                    }
                    bb.stmts = keep;
                    bb.cache = PlanCache::default();
                }
                f.body.retain(|b| !matches!(b, Block::Basic(bb) if bb.stmts.is_empty()));
                if !hoisted.is_empty() {
                    let span = hoisted[0].span.to(hoisted[hoisted.len() - 1].span);
                    f.preheader.push(Block::Basic(BasicBlock {
                        stmts: hoisted,
                        span,
                        cache: PlanCache::default(),
                        live_out: None,
                        consts: Vec::new(),
                    }));
                }
            }
            Block::Basic(_) => {}
        }
    }
}

/// Hoists loop-invariant statements in the main program and every function.
pub fn hoist_loop_invariants(program: &mut Program) {
    let mut main = std::mem::take(&mut program.main);
    hoist_in(&mut main, program, 0, &program.main_vars);
    program.main = main;
    for i in 0..program.functions.len() {
        let mut body = std::mem::take(&mut program.functions[i].body);
        let module = program.functions[i].module;
        let vars = program.functions[i].vars.clone();
        hoist_in(&mut body, program, module, &vars);
        program.functions[i].body = body;
    }
}
