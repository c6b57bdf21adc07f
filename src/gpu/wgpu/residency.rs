//! Device copies of host matrices, kept across instructions so that a matrix a GPU operator
//! produced or read is not uploaded again by the next one.
//!
//! An entry is keyed by the address of the value's `Arc<Matrix>` and holds a `Weak` to it. The
//! weak reference is what makes the key safe: while it exists the allocation is never reused
//! for another matrix, `Arc::get_mut` refuses to update the matrix in place (the executor then
//! copies it), and `Arc::make_mut` moves it to a new allocation; so an entry whose `Weak` still
//! upgrades to the same allocation holds exactly the value's cells. Entries whose value is gone
//! are dropped on the next insertion, and the least recently used ones are evicted when the
//! device budget would be exceeded (the host copy always exists, so eviction only frees the
//! device copy; `--stats` counts it).

use crate::types::matrix::Matrix;
use std::collections::HashMap;
use std::sync::{Arc, Weak};

struct Entry {
    value: Weak<Matrix>,
    buf: Arc<wgpu::Buffer>,
    bytes: u64,
    last_use: u64,
}

pub(in crate::gpu) struct Residency {
    entries: HashMap<usize, Entry>,
    bytes: u64,
    clock: u64,
    budget: u64,
}

fn key(m: &Arc<Matrix>) -> usize {
    Arc::as_ptr(m) as usize
}

impl Residency {
    pub fn new(budget: u64) -> Residency {
        Residency { entries: HashMap::new(), bytes: 0, clock: 0, budget }
    }

    /// The device copy of `m`, if one is held.
    pub fn get(&mut self, m: &Arc<Matrix>) -> Option<Arc<wgpu::Buffer>> {
        self.clock += 1;
        let clock = self.clock;
        let e = self.entries.get_mut(&key(m))?;
        if e.value.upgrade().is_some_and(|v| Arc::ptr_eq(&v, m)) {
            e.last_use = clock;
            return Some(e.buf.clone());
        }
        None
    }

    /// Records `buf` as the device copy of `m`, evicting to stay within the budget. A buffer
    /// larger than the whole budget is not kept.
    pub fn insert(&mut self, m: &Arc<Matrix>, buf: Arc<wgpu::Buffer>) {
        let bytes = buf.size();
        self.remove_dead();
        if let Some(old) = self.entries.remove(&key(m)) {
            self.bytes -= old.bytes;
        }
        if bytes > self.budget {
            return;
        }
        while self.bytes + bytes > self.budget {
            let Some((&k, _)) = self.entries.iter().min_by_key(|(_, e)| e.last_use) else { break };
            if let Some(e) = self.entries.remove(&k) {
                self.bytes -= e.bytes;
                crate::gpu::count::eviction();
            }
        }
        self.clock += 1;
        self.bytes += bytes;
        self.entries.insert(key(m), Entry { value: Arc::downgrade(m), buf, bytes, last_use: self.clock });
    }

    /// Drops the copies of values that no longer exist (or were moved out of their `Arc`).
    fn remove_dead(&mut self) {
        let mut freed = 0;
        self.entries.retain(|_, e| {
            let alive = e.value.strong_count() > 0;
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

    fn matrix(v: f64) -> Arc<Matrix> {
        Arc::new(Matrix::from_vec(2, 5, vec![v; 10]))
    }

    /// Needs an adapter (lavapipe will do); without one there is nothing to test.
    #[test]
    fn entries_follow_their_values_and_evict_least_recently_used() {
        let Ok(gpu) = crate::gpu::wgpu::device() else { return };
        let buf = |m: &Arc<Matrix>| Arc::new(gpu.upload(&m.dense_data()));
        // Room for two 80-byte copies.
        let mut r = Residency::new(200);
        let (a, b, mut c) = (matrix(1.0), matrix(2.0), matrix(3.0));
        r.insert(&a, buf(&a));
        r.insert(&b, buf(&b));
        assert!(r.get(&a).is_some());
        let evicted = crate::gpu::counters().evictions;
        r.insert(&c, buf(&c));
        // b was used least recently.
        assert!(r.get(&b).is_none() && r.get(&a).is_some() && r.get(&c).is_some());
        assert!(crate::gpu::counters().evictions > evicted);
        assert_eq!(r.bytes(), 160);
        // A resident value cannot be updated in place behind its device copy's back.
        assert!(Arc::get_mut(&mut c).is_none());
        // A value that is gone leaves with the next insertion.
        drop(a);
        let d = matrix(4.0);
        r.insert(&d, buf(&d));
        assert_eq!(r.bytes(), 160);
        assert!(r.get(&d).is_some() && r.get(&c).is_some());
    }
}
