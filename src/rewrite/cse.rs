//! Common subexpression elimination: operators with the same kind, parameters and inputs compute
//! the same value, so all users can share one. Operators with side effects (prints, writes,
//! random generation, function calls) are never merged.

use super::HopRewrite;
use crate::hops::{Dag, HopId, HopOp, Lit};
use std::collections::HashMap;

pub struct CommonSubexpressions;

/// A hashable description of an operator: its op (debug text, with literal bits made exact) and
/// its inputs.
fn key(dag: &Dag, id: HopId) -> Option<(String, Vec<HopId>)> {
    let hop = dag.get(id);
    if hop.has_side_effect() {
        return None;
    }
    let op = match &hop.op {
        // Literals compare by exact bits (so 0.0 and -0.0, NaNs stay apart where they differ).
        HopOp::Literal(Lit::Double(d)) => format!("lit-double-{:x}", d.to_bits()),
        HopOp::Literal(Lit::Absent) => return None,
        op => format!("{op:?}"),
    };
    Some((op, hop.inputs.clone()))
}

impl HopRewrite for CommonSubexpressions {
    fn name(&self) -> &'static str {
        "cse"
    }

    fn rewrite(&self, _dag: &mut Dag, _id: HopId) -> Option<HopId> {
        None
    }

    fn run_pass(&self, dag: &mut Dag) -> bool {
        let mut seen: HashMap<(String, Vec<HopId>), HopId> = HashMap::new();
        let mut changed = false;
        // Inputs come before users, so after replacing an input its users hash to the same key.
        for id in dag.topo_order() {
            let Some(k) = key(dag, id) else { continue };
            match seen.get(&k) {
                Some(&first) if first != id => {
                    changed |= super::replace_checked(dag, self.name(), id, first);
                }
                Some(_) => {}
                None => {
                    seen.insert(k, id);
                }
            }
        }
        changed
    }
}
