//! Live-variable analysis over statement blocks.
//!
//! For every basic block it computes the variables that are read after the block (its live-out
//! set). The DAG builder writes back only those of the block's assignments; temporaries that no
//! later block reads stay in registers and are freed as soon as their last use has run.

use crate::compiler::program::{Block, Program, VarTable};
use crate::hops::VarId;
use crate::syntax::ast::{Expr, Stmt};
use crate::syntax::visit::{self, ReadRules};
use std::collections::BTreeSet;

type Set = BTreeSet<VarId>;

/// Adds the variables `e` reads (`exists("x")` reads `x`, see [`ReadRules::LIVENESS`]).
fn expr_reads(e: &Expr, vars: &VarTable, out: &mut Set) {
    visit::for_each_var_read(e, ReadRules::LIVENESS, &mut |n| {
        if let Some(v) = vars.get(n) {
            out.insert(v);
        }
    });
}

/// Variables a statement reads and the ones it (re)defines. Left indexing reads the old value
/// and writes the new one.
fn stmt_uses_defs(s: &Stmt, vars: &VarTable, uses: &mut Set, defs: &mut Set) {
    visit::for_each_stmt_read(s, ReadRules::LIVENESS, &mut |n| {
        if let Some(v) = vars.get(n) {
            uses.insert(v);
        }
    });
    for a in visit::assigned_vars(s) {
        if let Some(v) = vars.get(&a.name.name) {
            defs.insert(v);
        }
    }
}

/// Computes live-in of `blocks` given the live-out after them, and records each basic block's
/// live-out set.
fn analyze(blocks: &mut [Block], vars: &VarTable, live_after: &Set) -> Set {
    let mut live = live_after.clone();
    for b in blocks.iter_mut().rev() {
        live = match b {
            Block::Basic(bb) => {
                bb.live_out = Some(live.iter().copied().collect());
                // Walk statements backwards: live = (live - defs) + uses.
                for s in bb.stmts.iter().rev() {
                    let (mut uses, mut defs) = (Set::new(), Set::new());
                    stmt_uses_defs(s, vars, &mut uses, &mut defs);
                    for d in defs {
                        live.remove(&d);
                    }
                    live.extend(uses);
                }
                live
            }
            Block::If { cond, then_body, else_body, .. } => {
                let a = analyze(then_body, vars, &live);
                let c = analyze(else_body, vars, &live);
                let mut l: Set = a.union(&c).copied().collect();
                expr_reads(&cond.expr, vars, &mut l);
                l
            }
            Block::While { cond, body, .. } => {
                // The body's end flows back to the predicate; iterate to a fixpoint.
                let mut entry = live.clone();
                expr_reads(&cond.expr, vars, &mut entry);
                loop {
                    let body_in = analyze(body, vars, &entry);
                    let mut next = live.clone();
                    next.extend(body_in);
                    expr_reads(&cond.expr, vars, &mut next);
                    if next == entry {
                        break;
                    }
                    entry = next;
                }
                entry
            }
            Block::For(f) => {
                let mut entry = live.clone();
                loop {
                    let mut body_in = analyze(&mut f.body, vars, &entry);
                    body_in.remove(&f.var);
                    let mut next = live.clone();
                    next.extend(body_in);
                    if next == entry {
                        break;
                    }
                    entry = next;
                }
                // The loop variable keeps its last value after the loop.
                let mut l = entry;
                l.remove(&f.var);
                let mut pre = analyze(&mut f.preheader, vars, &l);
                for e in [Some(&f.from.expr), Some(&f.to.expr), f.incr.as_ref().map(|i| &i.expr)]
                    .into_iter()
                    .flatten()
                {
                    expr_reads(e, vars, &mut pre);
                }
                pre
            }
        };
    }
    live
}

/// Annotates every basic block of the program. With `keep_vars` the main program keeps every
/// variable alive at its end (a REPL or an embedder reads them afterwards), without it nothing;
/// a function keeps its outputs.
pub fn annotate(program: &mut Program, keep_vars: bool) {
    let all: Set = if keep_vars { (0..program.main_vars.len() as VarId).collect() } else { Set::new() };
    let vars = program.main_vars.clone();
    analyze(&mut program.main, &vars, &all);
    for f in &mut program.functions {
        let outs: Set = f.return_slots.iter().copied().collect();
        let vars = f.vars.clone();
        analyze(&mut f.body, &vars, &outs);
    }
}

/// Hands every basic block the constants the validator proved for it (`Validation::block_consts`).
pub fn attach_constants(program: &mut Program, consts: &crate::compiler::validate::BlockConsts) {
    fn walk(blocks: &mut [Block], consts: &crate::compiler::validate::BlockConsts) {
        for b in blocks {
            match b {
                Block::Basic(bb) => {
                    if let Some(c) = consts.get(&(bb.span.file.0, bb.span.start, bb.span.end)) {
                        bb.consts = c.clone();
                    }
                }
                Block::If { then_body, else_body, .. } => {
                    walk(then_body, consts);
                    walk(else_body, consts);
                }
                Block::While { body, .. } => walk(body, consts),
                Block::For(f) => {
                    walk(&mut f.preheader, consts);
                    walk(&mut f.body, consts);
                }
            }
        }
    }
    walk(&mut program.main, consts);
    for f in &mut program.functions {
        walk(&mut f.body, consts);
    }
}
