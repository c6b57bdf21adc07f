//! Device copies of host matrices, kept across instructions so that a matrix a GPU operator
//! produced or read is not uploaded again by the next one; shared by every backend (a wgpu
//! buffer or a CUDA allocation is the `B` of [`Residency`]).
//!
//! An entry is keyed by the address of the value's `Arc<Matrix>` and holds a `Weak` to it. The
//! weak reference is what makes the key safe: while it exists the allocation is never reused
//! for another matrix, `Arc::get_mut` refuses to update the matrix in place (the executor then
//! copies it), and `Arc::make_mut` moves it to a new allocation; so an entry whose `Weak` still
//! upgrades to the same allocation holds exactly the value's cells. Entries whose value is gone
//! are dropped on the next insertion, and the least recently used ones are evicted when the
//! device budget would be exceeded (the host copy always exists, so eviction only frees the
//! device copy; `--stats` counts it).
//!
//! The cache also tracks the device matrices no host copy exists for ([`DeviceMatrix`]: results
//! of device operators held in registers and variables), as their memory counts against the
//! same budget. Evicting one of them downloads its cells into its shared cell first, so every
//! holder finds the value on the host afterwards and a later device reader uploads it again.
//!
//! [`DeviceMatrix`]: crate::gpu::DeviceMatrix

use crate::gpu::value::{Cell, Place};
use crate::types::matrix::Matrix;
use std::collections::HashMap;
use std::sync::{Arc, Weak};

/// A device copy the cache can hold: cheap to clone (a shared handle) and of a known size.
pub(in crate::gpu) trait DeviceCopy: Clone {
    /// Device memory the copy occupies, in bytes.
    fn device_bytes(&self) -> u64;
}

struct Entry<B> {
    value: Weak<Matrix>,
    copy: B,
    bytes: u64,
    last_use: u64,
}

/// A device matrix with no host copy, tracked for its memory.
struct Only {
    cell: Weak<Cell>,
    rows: usize,
    cols: usize,
    bytes: u64,
    last_use: u64,
}

pub(in crate::gpu) struct Residency<B> {
    entries: HashMap<usize, Entry<B>>,
    /// Device-only matrices by the address of their cell.
    only: HashMap<usize, Only>,
    bytes: u64,
    clock: u64,
    budget: u64,
}

fn key(m: &Arc<Matrix>) -> usize {
    Arc::as_ptr(m) as usize
}

impl<B: DeviceCopy> Residency<B> {
    pub fn new(budget: u64) -> Residency<B> {
        Residency { entries: HashMap::new(), only: HashMap::new(), bytes: 0, clock: 0, budget }
    }

    /// The device copy of `m`, if one is held.
    pub fn get(&mut self, m: &Arc<Matrix>) -> Option<B> {
        self.clock += 1;
        let clock = self.clock;
        let e = self.entries.get_mut(&key(m))?;
        if e.value.upgrade().is_some_and(|v| Arc::ptr_eq(&v, m)) {
            e.last_use = clock;
            return Some(e.copy.clone());
        }
        None
    }

    /// Records `copy` as the device copy of `m`, evicting to stay within the budget. A copy
    /// larger than the whole budget is not kept.
    pub fn insert(&mut self, m: &Arc<Matrix>, copy: B) {
        let bytes = copy.device_bytes();
        self.remove_dead();
        if let Some(old) = self.entries.remove(&key(m)) {
            self.bytes -= old.bytes;
        }
        if bytes > self.budget {
            return;
        }
        while self.bytes + bytes > self.budget {
            if !self.evict_one() {
                break;
            }
        }
        self.clock += 1;
        self.bytes += bytes;
        self.entries.insert(key(m), Entry { value: Arc::downgrade(m), copy, bytes, last_use: self.clock });
    }

    /// Frees the least recently used device memory: drops a resident copy, or moves a
    /// device-only matrix to the host; false when nothing is held.
    fn evict_one(&mut self) -> bool {
        let copy = self.entries.iter().map(|(&k, e)| (e.last_use, k)).min();
        let only = self.only.iter().map(|(&k, e)| (e.last_use, k)).min();
        match (copy, only) {
            (None, None) => false,
            (Some((t, k)), o) if o.is_none_or(|(u, _)| t <= u) => {
                if let Some(e) = self.entries.remove(&k) {
                    self.bytes -= e.bytes;
                    crate::gpu::count::eviction();
                }
                true
            }
            (_, Some((_, k))) => {
                if let Some(e) = self.only.remove(&k) {
                    self.bytes -= e.bytes;
                    // A cell another thread is using right now, or whose download failed, is
                    // no longer tracked; its memory is freed when its last holder drops it.
                    if let Some(cell) = e.cell.upgrade()
                        && matches!(cell.place(), Place::Device(_))
                        && cell.evict(e.rows, e.cols)
                    {
                        crate::gpu::count::eviction();
                    }
                }
                true
            }
            _ => unreachable!("a held copy or device matrix is chosen above"),
        }
    }

    /// Tracks a new device-only matrix of `bytes`, evicting the least recently used memory
    /// (never this matrix) to stay within the budget. Its memory is already allocated, so a
    /// matrix larger than the whole budget is tracked too.
    pub fn track(&mut self, cell: &Arc<Cell>, rows: usize, cols: usize, bytes: u64) {
        self.remove_dead();
        while self.bytes + bytes > self.budget {
            if !self.evict_one() {
                break;
            }
        }
        self.clock += 1;
        self.bytes += bytes;
        let entry = Only { cell: Arc::downgrade(cell), rows, cols, bytes, last_use: self.clock };
        self.only.insert(Arc::as_ptr(cell) as usize, entry);
    }

    /// Marks a device-only matrix as just used (an operator reads it).
    pub fn touch(&mut self, cell: &Arc<Cell>) {
        self.clock += 1;
        if let Some(e) = self.only.get_mut(&(Arc::as_ptr(cell) as usize)) {
            e.last_use = self.clock;
        }
    }

    /// A device-only matrix was downloaded into `m`: its buffer becomes `m`'s resident copy.
    pub fn settle(&mut self, cell: &Arc<Cell>, m: &Arc<Matrix>, copy: B) {
        if let Some(e) = self.only.remove(&(Arc::as_ptr(cell) as usize)) {
            self.bytes -= e.bytes;
        }
        self.insert(m, copy);
    }

    /// Drops every copy (a device allocation failed: its memory is needed now). Copies still
    /// used by a running operator stay allocated until it ends, as their handles are shared.
    #[cfg_attr(not(feature = "cuda"), allow(dead_code))]
    pub fn evict_all(&mut self) {
        while self.evict_one() {}
    }

    /// Drops the copies of values that no longer exist (or were moved out of their `Arc`), and
    /// the device-only matrices no one holds or that are on the host now.
    fn remove_dead(&mut self) {
        let mut freed = 0;
        self.entries.retain(|_, e| {
            let alive = e.value.strong_count() > 0;
            if !alive {
                freed += e.bytes;
            }
            alive
        });
        self.only.retain(|_, e| {
            let alive = e.cell.upgrade().is_some_and(|c| matches!(c.place(), Place::Device(_)));
            if !alive {
                freed += e.bytes;
            }
            alive
        });
        self.bytes -= freed;
    }

    /// Bytes of device memory held.
    #[cfg(test)]
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in for a device allocation: only its size matters to the cache.
    #[derive(Clone)]
    struct Fake(u64);
    impl DeviceCopy for Fake {
        fn device_bytes(&self) -> u64 {
            self.0
        }
    }

    fn matrix(v: f64) -> Arc<Matrix> {
        Arc::new(Matrix::from_vec(2, 5, vec![v; 10]))
    }

    #[test]
    fn entries_follow_their_values_and_evict_least_recently_used() {
        // Room for two 80-byte copies.
        let mut r = Residency::new(200);
        let (a, b, mut c) = (matrix(1.0), matrix(2.0), matrix(3.0));
        r.insert(&a, Fake(80));
        r.insert(&b, Fake(80));
        assert!(r.get(&a).is_some());
        let evicted = crate::gpu::counters().evictions;
        r.insert(&c, Fake(80));
        // b was used least recently.
        assert!(r.get(&b).is_none() && r.get(&a).is_some() && r.get(&c).is_some());
        assert!(crate::gpu::counters().evictions > evicted);
        assert_eq!(r.bytes(), 160);
        // A resident value cannot be updated in place behind its device copy's back.
        assert!(Arc::get_mut(&mut c).is_none());
        // A value that is gone leaves with the next insertion.
        drop(a);
        let d = matrix(4.0);
        r.insert(&d, Fake(80));
        assert_eq!(r.bytes(), 160);
        assert!(r.get(&d).is_some() && r.get(&c).is_some());
        // A copy over the whole budget is not kept; evicting everything empties the cache.
        let e = matrix(5.0);
        r.insert(&e, Fake(201));
        assert!(r.get(&e).is_none());
        r.evict_all();
        assert_eq!(r.bytes(), 0);
        assert!(r.get(&c).is_none());
    }
}
