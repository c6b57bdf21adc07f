//! Hoisting of loop-invariant statements out of `for` loops.
//!
//! A statement `x = e` at the top level of a `for` body moves into the loop's preheader (run once,
//! just before the first iteration, and only when the loop runs at all) when `e` reads only
//! variables the loop never assigns, calls only side-effect-free builtins, and `x` is assigned
//! nowhere else in the loop and not read before this statement in an iteration. Then every
//! iteration would compute the same value, so computing it once gives the same results.

use crate::builtins::{self, Lower};
use crate::compiler::plan_cache::PlanCache;
use crate::compiler::program::{BasicBlock, Block, Program, VarTable, assigned_in};
use crate::hops::VarId;
use crate::syntax::ast::{AssignOp, AssignTarget, Expr, Stmt, StmtKind};
use crate::syntax::visit::{self, ReadRules};

/// Whether a call may be hoisted: a builtin without side effects and with one output, never a
/// user function or a namespaced call.
fn pure_call(program: &Program, module: u32, namespace: Option<&str>, name: &str) -> bool {
    if namespace.is_some() || program.resolve_function(module, None, name).is_some() {
        return false;
    }
    let Some(id) = builtins::lookup(name) else { return false };
    let spec = id.spec();
    if spec.side_effect || spec.nout > 1 || matches!(spec.name, "print" | "stop" | "assert" | "exists") {
        return false;
    }
    spec.lower != Lower::Special || matches!(spec.name, "matrix" | "seq" | "ifelse" | "log" | "list")
}

/// The names `e` reads, when it calls only pure builtins; `None` otherwise.
fn pure_reads(e: &Expr, program: &Program, module: u32) -> Option<Vec<String>> {
    let mut pure = true;
    visit::for_each_call_in(e, &mut |ns, name, _| pure &= pure_call(program, module, ns, name));
    if !pure {
        return None;
    }
    let mut reads = Vec::new();
    visit::for_each_var_read(e, ReadRules::HOIST, &mut |n| reads.push(n.to_string()));
    Some(reads)
}

/// Counts how often each variable is assigned in a list of blocks (any depth).
fn assignment_counts(blocks: &[Block], vars: &VarTable, counts: &mut Vec<u32>) {
    for b in blocks {
        match b {
            Block::Basic(bb) => {
                for a in bb.stmts.iter().flat_map(visit::assigned_vars) {
                    if let Some(v) = vars.get(&a.name.name) {
                        counts[v as usize] += 1;
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
                                let invariant = pure_reads(value, program, module).is_some_and(|reads| {
                                    reads.iter().all(|r| vars.get(r).is_none_or(|v| !assigned.contains(&v)))
                                });
                                let slot = vars.get(&x.name);
                                invariant
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
                            visit::for_each_stmt_read(&s, ReadRules::HOIST, &mut |n| {
                                read_so_far.push(n.to_string())
                            });
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
