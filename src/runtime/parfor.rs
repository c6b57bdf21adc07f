//! Support for `parfor`: the dependency check that decides whether iterations may run in
//! parallel, and the merge of the workers' results.

use crate::compiler::program::{Block, VarTable};
use crate::hops::VarId;
use crate::runtime::error::RtError;
use crate::runtime::exec::Slots;
use crate::syntax::ast::Expr;
use crate::syntax::visit::{self, ReadRules};
use crate::types::matrix::Matrix;
use crate::types::value::Value;
use std::sync::Arc;

/// Walks the body in order: a variable assigned as a whole (not by left indexing) that is read
/// before it is assigned in an iteration carries a value across iterations. Returns its name.
pub fn loop_carried(body: &[Block], vars: &VarTable, loop_var: VarId) -> Option<String> {
    let mut defined: Vec<String> = vec![vars.name(loop_var).to_string()];
    let mut whole: Vec<String> = Vec::new();
    let mut read_before: Vec<String> = Vec::new();
    walk(body, &mut defined, &mut whole, &mut read_before);
    whole.into_iter().find(|w| read_before.contains(w))
}

/// Variables the body assigns as a whole somewhere (`n = X * g`, not `U[g, 1] = ...`). They are
/// the iteration's own temporaries, not results: SystemDS merges cell by cell only the variables
/// the body changes by left indexing, so such a variable ends with the value of the last
/// iteration, whatever its shape (km.dml reuses a name with a new shape inside a parfor).
pub fn assigned_whole(body: &[Block], vars: &VarTable) -> Vec<VarId> {
    let (mut defined, mut whole, mut read_before) = (Vec::new(), Vec::new(), Vec::new());
    walk(body, &mut defined, &mut whole, &mut read_before);
    whole.iter().filter_map(|n| vars.get(n)).collect()
}

/// Notes a name read before the iteration has defined it (once).
fn note_read(name: &str, defined: &[String], read_before: &mut Vec<String>) {
    if !defined.iter().any(|d| d == name) && !read_before.iter().any(|r| r == name) {
        read_before.push(name.to_string());
    }
}

/// Notes the names an expression reads before they are defined ([`ReadRules::PARFOR`]).
fn expr_reads(e: &Expr, defined: &[String], read_before: &mut Vec<String>) {
    visit::for_each_var_read(e, ReadRules::PARFOR, &mut |n| note_read(n, defined, read_before));
}

fn walk(blocks: &[Block], defined: &mut Vec<String>, whole: &mut Vec<String>, read_before: &mut Vec<String>) {
    for b in blocks {
        match b {
            Block::Basic(bb) => {
                for s in &bb.stmts {
                    // `U[g, 1] = x` does not read `U` (ReadRules::PARFOR).
                    visit::for_each_stmt_read(s, ReadRules::PARFOR, &mut |n| {
                        note_read(n, defined, read_before)
                    });
                    for a in visit::assigned_vars(s).into_iter().filter(|a| !a.indexed) {
                        defined.push(a.name.name.clone());
                        whole.push(a.name.name.clone());
                    }
                }
            }
            Block::If { cond, then_body, else_body, .. } => {
                expr_reads(&cond.expr, defined, read_before);
                let mut d1 = defined.clone();
                walk(then_body, &mut d1, whole, read_before);
                let mut d2 = defined.clone();
                walk(else_body, &mut d2, whole, read_before);
                for n in d1 {
                    if d2.contains(&n) && !defined.contains(&n) {
                        defined.push(n);
                    }
                }
            }
            Block::While { cond, body, .. } => {
                expr_reads(&cond.expr, defined, read_before);
                let mut d = defined.clone();
                walk(body, &mut d, whole, read_before);
            }
            Block::For(f) => {
                for e in [Some(&f.from.expr), Some(&f.to.expr), f.incr.as_ref().map(|i| &i.expr)]
                    .into_iter()
                    .flatten()
                {
                    expr_reads(e, defined, read_before);
                }
                let mut d = defined.clone();
                walk(&f.body, &mut d, whole, read_before);
            }
        }
    }
}

/// Merges the workers' slots into `slots`: for every variable the body changes by left indexing
/// only that existed before the loop as a matrix, the cells a worker changed (relative to `base`)
/// are copied into the result. The first worker that changed the matrix gives the result's
/// storage (moved, not copied); the others' changes are merged into it in one pass each, in
/// worker order, so a later worker wins a cell two workers changed. Other variables take the
/// value of the last worker that has one (like the last iteration of a sequential loop).
pub fn merge_results(
    slots: &mut Slots,
    base: &Slots,
    workers: &mut [Slots],
    assigned: &[VarId],
    whole: &[VarId],
    loop_var: VarId,
) -> Result<(), RtError> {
    for &v in assigned {
        if v == loop_var {
            continue;
        }
        let idx = v as usize;
        match base.vals[idx].as_ref() {
            Some(Value::Matrix(orig)) if !whole.contains(&v) => {
                let mut result: Option<Matrix> = None;
                for w in workers.iter_mut() {
                    let m = match w.vals[idx].take() {
                        Some(Value::Matrix(m)) if !Arc::ptr_eq(&m, orig) => m,
                        other => {
                            w.vals[idx] = other;
                            continue;
                        }
                    };
                    if m.rows() != orig.rows() || m.cols() != orig.cols() {
                        return Err(RtError::new(format!(
                            "parfor result variable changed its shape from {}x{} to {}x{}",
                            orig.rows(),
                            orig.cols(),
                            m.rows(),
                            m.cols()
                        )));
                    }
                    match result.as_mut() {
                        None => result = Some(Arc::try_unwrap(m).unwrap_or_else(|shared| (*shared).clone())),
                        Some(r) => crate::kernels::merge::merge_changes(r, orig, &m)?,
                    }
                }
                if let Some(r) = result {
                    slots.vals[idx] = Some(Value::matrix(r));
                }
            }
            _ => {
                if let Some(last) = workers.iter().rev().find_map(|w| w.vals[idx].clone()) {
                    slots.vals[idx] = Some(last);
                }
            }
        }
    }
    Ok(())
}
