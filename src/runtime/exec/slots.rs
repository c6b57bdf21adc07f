//! The variables of one scope (the main program or one function call) while it runs: one slot a
//! variable, numbered when the program was structured (`VarTable`), and beside each the lineage
//! item of its value while lineage is traced.
//!
//! A slot holds a host value, or a matrix a device operator left on the device
//! ([`DeviceMatrix`]): a variable written from a device result keeps it there, so the next
//! block's device operators (or a called function's) read it without a transfer. Whoever needs
//! host values reads through [`Slots::host`] or calls [`Slots::to_host`], which download.

use crate::gpu::DeviceMatrix;
use crate::runtime::error::{RtError, RtResult};
use crate::runtime::lineage::LinRef;
use crate::types::type_info::{TypeInfo, TypeKey};
use crate::types::value::Value;

/// The variables of one scope during execution, by slot.
#[derive(Clone, Debug)]
pub struct Slots {
    /// Host values. A slot whose value is on the device is `None` here.
    pub vals: Vec<Option<Value>>,
    /// The lineage of each variable, while lineage is traced (empty otherwise).
    pub lin: Vec<Option<LinRef>>,
    /// Device matrices by slot; empty until a device result is written to a variable.
    device: Vec<Option<DeviceMatrix>>,
}

impl Slots {
    pub fn new(n: usize) -> Self {
        Slots { vals: vec![None; n], lin: Vec::new(), device: Vec::new() }
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

    /// Sets a variable to a host value.
    pub(crate) fn set(&mut self, var: usize, v: Value) {
        self.vals[var] = Some(v);
        if let Some(d) = self.device.get_mut(var) {
            *d = None;
        }
    }

    /// Sets a variable to a matrix on the device.
    pub(crate) fn set_device(&mut self, var: usize, d: DeviceMatrix) {
        if self.device.len() <= var {
            self.device.resize(self.vals.len().max(var + 1), None);
        }
        self.vals[var] = None;
        self.device[var] = Some(d);
    }

    /// The device matrix a variable holds, if its value is on the device.
    pub(crate) fn device(&self, var: usize) -> Option<&DeviceMatrix> {
        self.device.get(var)?.as_ref()
    }

    /// Empties a variable, returning its device matrix if it held one.
    pub(crate) fn take_device(&mut self, var: usize) -> Option<DeviceMatrix> {
        self.device.get_mut(var)?.take()
    }

    /// A variable's value on the host (downloading a device matrix, which the slot then keeps
    /// as a host value); `take` empties the slot.
    pub fn host(&mut self, var: usize, take: bool) -> RtResult<Option<Value>> {
        if let Some(d) = self.device.get_mut(var).and_then(Option::take) {
            self.vals[var] = Some(Value::Matrix(d.download().map_err(RtError::new)?));
        }
        Ok(if take { self.vals[var].take() } else { self.vals[var].clone() })
    }

    /// Brings every variable to the host (before a `parfor` copies the slots to its workers;
    /// after a REPL input, whose variables the session keeps).
    pub fn to_host(&mut self) -> RtResult<()> {
        for var in 0..self.device.len() {
            self.host(var, false)?;
        }
        self.device.clear();
        Ok(())
    }

    /// The plan-cache key of a variable's value (a device matrix is dense, and keyed apart).
    pub(crate) fn type_key(&self, var: usize) -> TypeKey {
        match self.device(var) {
            Some(d) => TypeKey::of_device_matrix(d.rows(), d.cols()),
            None => TypeKey::of(self.vals.get(var).and_then(Option::as_ref)),
        }
    }

    /// The compile-time type of each variable's value (a device matrix's non-zeros are not
    /// counted: that would need its cells).
    pub(crate) fn types(&self) -> Vec<Option<TypeInfo>> {
        (0..self.vals.len())
            .map(|var| match self.device(var) {
                Some(d) => Some(TypeInfo::matrix(d.rows() as i64, d.cols() as i64)),
                None => self.vals[var].as_ref().map(TypeInfo::of_value),
            })
            .collect()
    }
}
