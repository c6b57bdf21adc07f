//! The device's f64 rates, from its compute capability, SM count and clocks: CUDA reports no
//! flop rate, so the FP64 units per SM come from a table of NVIDIA's architecture whitepapers.
//!
//! | compute capability | parts | f64 FMA/clock/SM | tensor-core f64 |
//! |---|---|---|---|
//! | 6.0 | P100 | 32 | - |
//! | 7.0 | V100 | 32 | - |
//! | 8.0 | A100 (9.7 TFLOP/s, 19.5 with DMMA) | 32 | 2x |
//! | 9.0 | H100 SXM (34 TFLOP/s, 67 with DMMA) | 64 | 2x |
//! | 10.x | B100/B200 | 64 | 1x |
//! | others | consumer and embedded parts: f64 at 1/32..1/64 of f32 | 2 | - |
//!
//! cuBLAS's dgemm uses the f64 tensor cores (DMMA) where they exist, so a product's peak is
//! the tensor figure; cellwise kernels are bound by memory bandwidth, which comes from the
//! memory clock and bus width.

use cudarc::driver::CudaContext;
use cudarc::driver::sys::CUdevice_attribute as Attr;
use std::sync::Arc;

#[derive(Clone, Copy, Debug)]
pub(in crate::gpu) struct Rates {
    pub sms: u32,
    /// Peak f64 rate of the FMA units, flop/s.
    pub fma_flops: f64,
    /// Peak f64 rate of a product (the tensor cores where they exist), flop/s.
    pub gemm_flops: f64,
    /// Peak memory bandwidth, bytes/s.
    pub bytes_per_sec: f64,
}

/// f64 FMAs per clock per SM, and the tensor cores' multiple of that, for a compute capability.
fn units(cc: (i32, i32)) -> (f64, f64) {
    match cc {
        (6, 0) | (7, 0) => (32.0, 1.0),
        (8, 0) => (32.0, 2.0),
        (9, 0) => (64.0, 2.0),
        (10, _) => (64.0, 1.0),
        _ => (2.0, 1.0),
    }
}

impl Rates {
    pub fn of(ctx: &Arc<CudaContext>, cc: (i32, i32)) -> Rates {
        let attr = |a: Attr| ctx.attribute(a).ok().filter(|v| *v > 0).map(|v| v as f64);
        let sms = attr(Attr::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT).unwrap_or(1.0);
        // kHz; a data-centre part's boost clock is about 1.7 GHz where the driver does not say.
        let clock_hz = attr(Attr::CU_DEVICE_ATTRIBUTE_CLOCK_RATE).map_or(1.7e9, |k| k * 1e3);
        let mem_hz = attr(Attr::CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE).map(|k| k * 1e3);
        let bus_bits = attr(Attr::CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH);
        Rates::from_parts(cc, sms, clock_hz, mem_hz.zip(bus_bits))
    }

    /// The rates from the device's numbers; `memory`: the memory clock in Hz and bus width in
    /// bits (double data rate), or 1 TB/s when unknown.
    pub fn from_parts(cc: (i32, i32), sms: f64, clock_hz: f64, memory: Option<(f64, f64)>) -> Rates {
        let (fma, tensor) = units(cc);
        let fma_flops = sms * fma * 2.0 * clock_hz;
        Rates {
            sms: sms as u32,
            fma_flops,
            gemm_flops: fma_flops * tensor,
            bytes_per_sec: memory.map_or(1e12, |(hz, bits)| 2.0 * hz * bits / 8.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The published peaks of three parts, from their SM counts and boost clocks.
    #[test]
    fn the_table_gives_the_published_peaks() {
        let close = |a: f64, b: f64| (a / b - 1.0).abs() < 0.03;
        // H100 SXM5: 132 SMs at 1.98 GHz, HBM3 2619 MHz x 5120 bits: 33.5/67 TFLOP/s, 3.35 TB/s.
        let h100 = Rates::from_parts((9, 0), 132.0, 1.98e9, Some((2.619e9, 5120.0)));
        assert!(close(h100.fma_flops, 33.5e12) && close(h100.gemm_flops, 67e12), "{h100:?}");
        assert!(close(h100.bytes_per_sec, 3.35e12), "{h100:?}");
        // A100: 108 SMs at 1.41 GHz: 9.7/19.5 TFLOP/s.
        let a100 = Rates::from_parts((8, 0), 108.0, 1.41e9, None);
        assert!(close(a100.fma_flops, 9.7e12) && close(a100.gemm_flops, 19.5e12), "{a100:?}");
        // RTX 4090 (8.9): 128 SMs at 2.52 GHz: 1.29 TFLOP/s, 1/64 of its 82.6 f32.
        let rtx = Rates::from_parts((8, 9), 128.0, 2.52e9, None);
        assert!(close(rtx.gemm_flops, 82.6e12 / 64.0), "{rtx:?}");
    }
}
