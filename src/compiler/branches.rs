//! Removal of branches whose predicate is a constant after constant propagation (`debug = FALSE;
//! if (debug) {...}`), then merging of the basic blocks that become adjacent, so that the
//! remaining statements share one DAG. Exact: the branch that would run is the one kept.

use crate::compiler::plan_cache::PlanCache;
use crate::compiler::program::{Block, Program};
use std::collections::HashMap;

type Outcomes = HashMap<(u32, u32), Vec<Option<bool>>>;

fn decided(outcomes: &Outcomes, key: (u32, u32)) -> Option<bool> {
    let seen = outcomes.get(&key)?;
    let first = (*seen.first()?)?;
    seen.iter().all(|o| *o == Some(first)).then_some(first)
}

fn fold(blocks: Vec<Block>, outcomes: &Outcomes) -> Vec<Block> {
    let mut out: Vec<Block> = Vec::with_capacity(blocks.len());
    for b in blocks {
        let replaced = match b {
            Block::If { cond, then_body, else_body, span } => {
                match decided(outcomes, (cond.expr.span.file.0, cond.expr.span.start)) {
                    Some(true) => fold(then_body, outcomes),
                    Some(false) => fold(else_body, outcomes),
                    None => vec![Block::If {
                        cond,
                        then_body: fold(then_body, outcomes),
                        else_body: fold(else_body, outcomes),
                        span,
                    }],
                }
            }
            Block::While { cond, body, span } => {
                vec![Block::While { cond, body: fold(body, outcomes), span }]
            }
            Block::For(mut f) => {
                f.body = fold(std::mem::take(&mut f.body), outcomes);
                f.preheader = fold(std::mem::take(&mut f.preheader), outcomes);
                vec![Block::For(f)]
            }
            basic => vec![basic],
        };
        for b in replaced {
            match (out.last_mut(), b) {
                (Some(Block::Basic(prev)), Block::Basic(next)) => {
                    prev.span = prev.span.to(next.span);
                    prev.stmts.extend(next.stmts);
                    prev.cache = PlanCache::default();
                    prev.live_out = None;
                    prev.consts.clear();
                }
                (_, b) => out.push(b),
            }
        }
    }
    out
}

/// Applies the decisions the validator recorded.
pub fn remove_constant_branches(program: &mut Program, outcomes: &Outcomes) {
    program.main = fold(std::mem::take(&mut program.main), outcomes);
    for f in &mut program.functions {
        f.body = fold(std::mem::take(&mut f.body), outcomes);
    }
}
