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
}
