//! The wgpu device's residency cache: the shared one ([`crate::gpu::residency`]) holding
//! buffers.

use crate::gpu::residency::DeviceCopy;
use std::sync::Arc;

pub(in crate::gpu) type Residency = crate::gpu::residency::Residency<Arc<wgpu::Buffer>>;

impl DeviceCopy for Arc<wgpu::Buffer> {
    fn device_bytes(&self) -> u64 {
        self.size()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::matrix::Matrix;

    /// Needs an adapter (lavapipe will do); without one there is nothing to test. The cache's
    /// own rules are tested device-free in `crate::gpu::residency`.
    #[test]
    fn buffers_are_held_by_their_size() {
        let Ok(gpu) = crate::gpu::wgpu::device() else { return };
        let m = Arc::new(Matrix::from_vec(2, 5, vec![1.0; 10]));
        let mut r = Residency::new(200);
        r.insert(&m, Arc::new(gpu.upload(&m.dense_data())));
        assert_eq!(r.bytes(), 80);
        assert!(r.get(&m).is_some());
    }

    /// Device-only matrices share the budget with resident copies: the least recently used is
    /// moved to the host with its cells intact, a touch makes a matrix recent, and a download
    /// turns a device-only entry into a resident copy of the same size.
    #[test]
    fn device_only_matrices_are_evicted_to_the_host() {
        use crate::gpu::value::{Cell, DeviceBuffer, Place};
        let Ok(gpu) = crate::gpu::wgpu::device() else { return };
        let cell = |v: f64| Cell::on_device(DeviceBuffer::Wgpu(Arc::new(gpu.upload(&[v; 10]))));
        let host = |c: &Arc<Cell>| match c.place() {
            Place::Host(m) => Some(m.dense_data().to_vec()),
            Place::Device(_) => None,
        };
        // Room for two 80-byte matrices.
        let mut r = Residency::new(200);
        let (a, b, c) = (cell(1.0), cell(2.0), cell(3.0));
        r.track(&a, 2, 5, 80);
        r.track(&b, 2, 5, 80);
        r.touch(&a);
        let evicted = crate::gpu::counters().evictions;
        r.track(&c, 2, 5, 80);
        // b was used least recently: its cells are on the host now, the others on the device.
        assert_eq!(host(&b), Some(vec![2.0; 10]));
        assert!(host(&a).is_none() && host(&c).is_none());
        assert!(crate::gpu::counters().evictions > evicted);
        assert_eq!(r.bytes(), 160);
        // A download settles a's buffer as the resident copy of its host matrix.
        let m = Arc::new(Matrix::from_vec(2, 5, vec![1.0; 10]));
        let Place::Device(DeviceBuffer::Wgpu(buf)) = a.place() else { panic!("a is on the device") };
        r.settle(&a, &m, buf);
        assert_eq!(r.bytes(), 160);
        assert!(r.get(&m).is_some());
        // A matrix no one holds any more frees its memory at the next tracking.
        drop(c);
        let d = cell(4.0);
        r.track(&d, 2, 5, 80);
        assert_eq!(r.bytes(), 160);
        assert!(host(&d).is_none());
    }
}
