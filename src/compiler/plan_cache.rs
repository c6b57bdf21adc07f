//! Compiled plans of one block, kept by the types and shapes of the variables that flow into it.
//!
//! SystemDS recompiles a block at run time when sizes were unknown at compile time; we compile
//! every block at its first execution with the actual input shapes and keep the plan, so later
//! executions with the same shapes (the usual loop) reuse it at the cost of a few comparisons.

use crate::lower::Plan;
use crate::types::type_info::TypeKey;

use std::sync::{Arc, Mutex};

/// At most this many plans are kept per block; beyond it the oldest is dropped.
const MAX_PLANS: usize = 8;

#[derive(Debug, Default)]
pub struct PlanCache {
    plans: Mutex<Vec<Arc<Plan>>>,
}

impl PlanCache {
    /// A cached plan whose input key matches the current values of its input variables.
    pub fn find(&self, lookup: impl Fn(u32) -> TypeKey) -> Option<Arc<Plan>> {
        let plans = self.plans.lock().ok()?;
        plans.iter().find(|p| p.inputs.iter().zip(&p.key).all(|(&v, k)| lookup(v) == *k)).cloned()
    }

    pub fn insert(&self, plan: Arc<Plan>) {
        if let Ok(mut plans) = self.plans.lock() {
            if plans.len() >= MAX_PLANS {
                plans.remove(0);
            }
            plans.push(plan);
        }
    }

    /// The plans compiled so far (for `--explain runtime`).
    pub fn plans(&self) -> Vec<Arc<Plan>> {
        self.plans.lock().map(|p| p.clone()).unwrap_or_default()
    }

    pub fn len(&self) -> usize {
        self.plans.lock().map(|p| p.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
