//! The variables of one scope (the main program or one function call) while it runs: one slot a
//! variable, numbered when the program was structured (`VarTable`), and beside each the lineage
//! item of its value while lineage is traced.

use crate::runtime::lineage::LinRef;
use crate::types::value::Value;

/// The variables of one scope during execution, by slot.
#[derive(Clone, Debug)]
pub struct Slots {
    pub vals: Vec<Option<Value>>,
    /// The lineage of each variable, while lineage is traced (empty otherwise).
    pub lin: Vec<Option<LinRef>>,
}

impl Slots {
    pub fn new(n: usize) -> Self {
        Slots { vals: vec![None; n], lin: Vec::new() }
    }

    pub(crate) fn set_lin(&mut self, var: usize, item: Option<LinRef>) {
        if self.lin.len() <= var {
            self.lin.resize(self.vals.len().max(var + 1), None);
        }
        self.lin[var] = item;
    }

    pub(crate) fn lin_of(&self, var: usize) -> Option<LinRef> {
        self.lin.get(var).cloned().flatten()
    }
}
