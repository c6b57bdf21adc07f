//! Cellwise loops compiled for the widest vector instructions the CPU has, chosen at run time.
//!
//! The crate is built for baseline x86-64 (SSE2: two doubles per instruction, no FMA, no vector
//! 64-bit shifts), so that the binary runs on any x86-64 machine. That leaves branch-free math
//! such as the activations' `exp` (see `dnn/activation.rs`) scalar. The loops here are compiled
//! three times, for AVX-512, for AVX2 with FMA and for the baseline, and the first call picks the
//! best the CPU supports; the function applied to each cell is inlined into each variant.

use std::mem::MaybeUninit;
use std::sync::OnceLock;

/// 2: AVX-512F and DQ; 1: AVX2 and FMA; 0: baseline.
pub(crate) fn level() -> u8 {
    static LEVEL: OnceLock<u8> = OnceLock::new();
    *LEVEL.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            if is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512dq") {
                return 2;
            }
            if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                return 1;
            }
        }
        0
    })
}

/// Whether the AVX-512 variants run on this CPU.
pub(crate) fn has_avx512() -> bool {
    level() == 2
}

/// Defines `$name`, which runs the `#[inline(always)]` loop `$body` in its best compiled variant.
macro_rules! dispatched {
    ($(#[$doc:meta])* fn $name:ident<F: $bound:path>($($arg:ident: $ty:ty),*) => $body:ident) => {
        $(#[$doc])*
        pub(crate) fn $name<F: $bound>($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                /// # Safety
                /// The CPU must support AVX-512F and AVX-512DQ.
                #[target_feature(enable = "avx512f,avx512dq,avx2,fma")]
                unsafe fn wide<F: $bound>($($arg: $ty),*) {
                    $body($($arg),*)
                }
                /// # Safety
                /// The CPU must support AVX2 and FMA.
                #[target_feature(enable = "avx2,fma")]
                unsafe fn medium<F: $bound>($($arg: $ty),*) {
                    $body($($arg),*)
                }
                match level() {
                    // SAFETY: `level` detected the features each variant is compiled for.
                    2 => return unsafe { wide($($arg),*) },
                    // SAFETY: as above.
                    1 => return unsafe { medium($($arg),*) },
                    _ => {}
                }
            }
            $body($($arg),*)
        }
    };
}

#[inline(always)]
fn map_into_loop<F: Fn(f64) -> f64>(a: &[f64], out: &mut [MaybeUninit<f64>], f: &F) {
    for (o, x) in out.iter_mut().zip(a) {
        o.write(f(*x));
    }
}

#[inline(always)]
fn map_in_place_loop<F: Fn(f64) -> f64>(cells: &mut [f64], f: &F) {
    for x in cells.iter_mut() {
        *x = f(*x);
    }
}

#[inline(always)]
fn zip_into_loop<F: Fn(f64, f64) -> f64>(a: &[f64], b: &[f64], out: &mut [MaybeUninit<f64>], f: &F) {
    for ((o, x), y) in out.iter_mut().zip(a).zip(b) {
        o.write(f(*x, *y));
    }
}

#[inline(always)]
fn zip_in_place_loop<F: Fn(f64, f64) -> f64>(cells: &mut [f64], other: &[f64], f: &F) {
    for (x, y) in cells.iter_mut().zip(other) {
        *x = f(*x, *y);
    }
}

/// `Fn(f64) -> f64` under one name, for the macro.
pub(crate) trait Unary: Fn(f64) -> f64 {}
impl<T: Fn(f64) -> f64> Unary for T {}
/// `Fn(f64, f64) -> f64` under one name, for the macro.
pub(crate) trait Binary: Fn(f64, f64) -> f64 {}
impl<T: Fn(f64, f64) -> f64> Binary for T {}

dispatched! {
    /// `out[i] = f(a[i])` over the common length of `a` and `out`.
    fn map_into<F: Unary>(a: &[f64], out: &mut [MaybeUninit<f64>], f: &F) => map_into_loop
}

dispatched! {
    /// `cells[i] = f(cells[i])`.
    fn map_in_place<F: Unary>(cells: &mut [f64], f: &F) => map_in_place_loop
}

dispatched! {
    /// `out[i] = f(a[i], b[i])` over the common length.
    fn zip_into<F: Binary>(a: &[f64], b: &[f64], out: &mut [MaybeUninit<f64>], f: &F) => zip_into_loop
}

dispatched! {
    /// `cells[i] = f(cells[i], other[i])` over the common length.
    fn zip_in_place<F: Binary>(cells: &mut [f64], other: &[f64], f: &F) => zip_in_place_loop
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_the_cpu_has_gives_the_same_cells() {
        let a: Vec<f64> = (0..1001).map(|i| (i as f64 - 500.0) * 0.013).collect();
        let f = |x: f64| crate::kernels::dnn::activation::tanh_accurate(x);
        let want: Vec<f64> = a.iter().map(|x| f(*x)).collect();
        let mut out = vec![MaybeUninit::new(0.0); a.len()];
        map_into(&a, &mut out, &f);
        // SAFETY: map_into wrote every cell (the slices have the same length).
        let got: Vec<f64> = out.iter().map(|c| unsafe { c.assume_init() }).collect();
        assert_eq!(got, want);
        let mut cells = a.clone();
        map_in_place(&mut cells, &f);
        assert_eq!(cells, want);
    }
}

/// Whether every value is finite (no NaN, no infinity).
///
/// The products check their right operand with this before handing it to gemm (SystemDS skips
/// zero cells, so `0 * NaN` must add nothing), and a short-circuiting scalar loop over a
/// LeNet-sized weight matrix cost an eighth of the product. Here `x * 0.0` is `±0` for finite
/// `x` and NaN otherwise, so a block's sum of those is NaN exactly when the block holds a
/// non-finite value; independent sums per block vectorise, and the scan stops at the
/// first bad block.
pub(crate) fn all_finite(v: &[f64]) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        /// # Safety
        /// The CPU must support AVX-512F.
        #[target_feature(enable = "avx512f,avx2,fma")]
        unsafe fn wide(v: &[f64]) -> bool {
            all_finite_loop(v)
        }
        if level() == 2 {
            // SAFETY: `level` detected AVX-512F.
            return unsafe { wide(v) };
        }
    }
    all_finite_loop(v)
}

#[inline(always)]
fn all_finite_loop(v: &[f64]) -> bool {
    // Plain loops, no iterator adaptors: a closure passed to `all` is not inlined into the
    // AVX-512 variant and would run compiled for the baseline.
    for block in v.chunks(2048) {
        // 32 lanes: four AVX-512 accumulators, so the additions do not wait on each other.
        let mut acc = [0.0f64; 32];
        let mut lanes = block.chunks_exact(32);
        for c in &mut lanes {
            for i in 0..32 {
                acc[i] += c[i] * 0.0;
            }
        }
        let mut sum = 0.0;
        for x in lanes.remainder() {
            sum += x * 0.0;
        }
        for a in acc {
            sum += a;
        }
        if sum != 0.0 {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod finite_tests {
    use super::all_finite;

    #[test]
    fn all_finite_finds_any_nan_or_infinity() {
        let mut v: Vec<f64> = (0..5000).map(|i| (i as f64 - 2500.0) * 1e300).collect();
        assert!(all_finite(&v));
        assert!(all_finite(&[]));
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            for at in [0, 7, 8, 2047, 2048, 4999] {
                let keep = v[at];
                v[at] = bad;
                assert!(!all_finite(&v), "{bad} at {at}");
                v[at] = keep;
            }
        }
        assert!(all_finite(&[f64::MAX, -f64::MAX, f64::MIN_POSITIVE, -0.0]));
    }
}
