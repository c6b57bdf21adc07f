//! The register file of one plan's execution: each register holds a host value, or a matrix a
//! device operator left on the device ([`DeviceMatrix`]).
//!
//! Indexing (`regs[r]`) reaches the host value, as every CPU instruction wants it. A device
//! matrix is handed as it is to the next device instruction ([`Regs::device`]) and downloaded
//! only when a CPU instruction reads the register ([`Regs::read`]): that is what keeps a chain of
//! device operators from moving data between host and device. A register holds one or the other
//! (or, after a download that kept it, both: the same cells).

use crate::gpu::DeviceMatrix;
use crate::runtime::error::{RtError, RtResult};
use crate::types::value::Value;
use std::ops::{Index, IndexMut};

pub(crate) struct Regs {
    host: Vec<Option<Value>>,
    /// Device matrices by register; empty until a device operator stores one.
    device: Vec<Option<DeviceMatrix>>,
}

impl Regs {
    pub fn new(n: usize) -> Regs {
        Regs { host: vec![None; n], device: Vec::new() }
    }

    /// Registers holding these host values.
    pub fn from_values(host: Vec<Option<Value>>) -> Regs {
        Regs { host, device: Vec::new() }
    }

    /// Grows the file to `n` registers.
    pub fn resize(&mut self, n: usize) {
        self.host.resize(n, None);
    }

    pub fn len(&self) -> usize {
        self.host.len()
    }

    /// The host value of register `r` for a CPU instruction, downloading a device matrix (kept
    /// in the register unless `take`, so a second reader does not download it again).
    pub fn read(&mut self, r: usize, take: bool) -> RtResult<Option<Value>> {
        if self.host[r].is_none()
            && let Some(slot) = self.device.get_mut(r)
            && let Some(d) = if take { slot.take() } else { slot.clone() }
        {
            let v = Value::Matrix(d.download().map_err(RtError::new)?);
            if !take {
                self.host[r] = Some(v.clone());
            }
            return Ok(Some(v));
        }
        Ok(if take { self.host[r].take() } else { self.host[r].clone() })
    }

    /// The device matrix of register `r`, when it holds one and no host value.
    pub fn device(&self, r: usize) -> Option<&DeviceMatrix> {
        match self.host[r] {
            Some(_) => None,
            None => self.device.get(r)?.as_ref(),
        }
    }

    /// Stores a device operator's matrix result in register `r`.
    pub fn put_device(&mut self, r: usize, d: DeviceMatrix) {
        if self.device.len() <= r {
            self.device.resize(self.host.len().max(r + 1), None);
        }
        self.host[r] = None;
        self.device[r] = Some(d);
    }

    /// Empties register `r` (its value moved to its last reader).
    pub fn clear(&mut self, r: usize) {
        self.host[r] = None;
        if let Some(d) = self.device.get_mut(r) {
            *d = None;
        }
    }
}

impl Index<usize> for Regs {
    type Output = Option<Value>;
    fn index(&self, r: usize) -> &Option<Value> {
        &self.host[r]
    }
}

impl IndexMut<usize> for Regs {
    fn index_mut(&mut self, r: usize) -> &mut Option<Value> {
        &mut self.host[r]
    }
}
