//! `sin` and `cos` of doubles whose argument is far from zero, without the C library's slow path.
//!
//! glibc reduces an argument above about 1e8 by Payne–Hanek with multi-precision arithmetic,
//! some 70 ns a call; SystemDS's generated data (`sin(K * K * 1e-5)` over a 500,000 x 100 index
//! matrix, arguments up to 2.5e10) spends most of a scale benchmark there, on both engines.
//! Below [`REDUCE_LIMIT`] an exact reduction needs only three pieces of pi/2 and fused
//! multiply-adds, and the reduced argument (|r| <= pi/4, kept as a double-double) goes through
//! Taylor polynomials, about 10 ns in all. Results are within one ulp of the correctly rounded
//! value (98.7% of them equal glibc's bits on the benchmark's arguments; the tests bound the rest),
//! which is the accuracy Java promises for `Math.sin` that SystemDS calls.
//!
//! Arguments within pi/4 of zero, above the limit, and non-finite ones go to the C library, so
//! small arguments keep exactly the bits they always had.

/// Above this magnitude the three-piece reduction loses bits: libm handles it.
const REDUCE_LIMIT: f64 = 1.0e12;
/// Below this magnitude no reduction is needed: libm's fast path is as quick and exact.
const NO_REDUCTION: f64 = 0.785;

/// pi/2 as the sum of three doubles, each the rounding of what the earlier ones leave.
const PIO2_1: f64 = std::f64::consts::FRAC_PI_2;
const PIO2_2: f64 = 6.123_233_995_736_766e-17;
const PIO2_3: f64 = -1.497_384_904_859_169_8e-33;
const TWO_OVER_PI: f64 = std::f64::consts::FRAC_2_PI;

/// Taylor coefficients of sin(r)/r - 1 over r^2 (terms r^3 .. r^17): (-1)^k / (2k+1)!. On
/// |r| <= pi/4 the first omitted term, r^19/19!, is below 1e-19 of the result.
const SIN_TERMS: [f64; 8] = [
    -1.0 / 6.0,
    1.0 / 120.0,
    -1.0 / 5040.0,
    1.0 / 362_880.0,
    -1.0 / 39_916_800.0,
    1.0 / 6_227_020_800.0,
    -1.0 / 1_307_674_368_000.0,
    1.0 / 355_687_428_096_000.0,
];
/// Taylor coefficients of cos(r) from r^4 on (terms r^4 .. r^18), over r^4: (-1)^k / (2k)!.
const COS_TERMS: [f64; 8] = [
    1.0 / 24.0,
    -1.0 / 720.0,
    1.0 / 40_320.0,
    -1.0 / 3_628_800.0,
    1.0 / 479_001_600.0,
    -1.0 / 87_178_291_200.0,
    1.0 / 20_922_789_888_000.0,
    -1.0 / 6_402_373_705_728_000.0,
];

/// sin(x), within one ulp. The reduced path needs fused multiply-add and SSE4.1 rounding in
/// hardware (the crate is built for baseline x86-64, where `mul_add` is a slow software call):
/// without them this is libm's `sin`.
pub fn sin(x: f64) -> f64 {
    if fast_path_available() {
        // SAFETY: the CPU has AVX2 and FMA (checked once by `simd::level`).
        unsafe { sin_fma(x) }
    } else {
        x.sin()
    }
}

/// cos(x), within one ulp; libm's `cos` on CPUs without FMA, as [`sin`].
pub fn cos(x: f64) -> f64 {
    if fast_path_available() {
        // SAFETY: as in `sin`.
        unsafe { cos_fma(x) }
    } else {
        x.cos()
    }
}

/// Whether the reduced path runs on hardware FMA here.
#[inline]
fn fast_path_available() -> bool {
    super::simd::level() >= 1
}

/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg_attr(target_arch = "x86_64", target_feature(enable = "avx2,fma"))]
unsafe fn sin_fma(x: f64) -> f64 {
    sin_inline(x)
}

/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg_attr(target_arch = "x86_64", target_feature(enable = "avx2,fma"))]
unsafe fn cos_fma(x: f64) -> f64 {
    cos_inline(x)
}

/// sin(x), inlined into [`sin_fma`] so that it is compiled with FMA.
#[inline(always)]
fn sin_inline(x: f64) -> f64 {
    let ax = x.abs();
    if !(ax > NO_REDUCTION && ax < REDUCE_LIMIT) {
        return libm_sin(x);
    }
    let (r, r_lo, quadrant) = reduce(x);
    quadrant_value(r, r_lo, quadrant)
}

/// cos(x), inlined into [`cos_fma`].
#[inline(always)]
fn cos_inline(x: f64) -> f64 {
    let ax = x.abs();
    if !(ax > NO_REDUCTION && ax < REDUCE_LIMIT) {
        return libm_cos(x);
    }
    let (r, r_lo, quadrant) = reduce(x);
    // cos(x) = sin(x + pi/2): one quadrant on.
    quadrant_value(r, r_lo, quadrant.wrapping_add(1))
}

/// sin of `k*pi/2 + r` for the quadrant k mod 4.
#[inline(always)]
fn quadrant_value(r: f64, r_lo: f64, quadrant: i64) -> f64 {
    let v = if quadrant & 1 == 0 { sin_kernel(r, r_lo) } else { cos_kernel(r, r_lo) };
    if quadrant & 2 == 0 { v } else { -v }
}

/// Out of line, so that the vectorizer does not call it for every lane.
#[cold]
#[inline(never)]
fn libm_sin(x: f64) -> f64 {
    x.sin()
}

#[cold]
#[inline(never)]
fn libm_cos(x: f64) -> f64 {
    x.cos()
}

/// `x = k*pi/2 + (r + r_lo)` with |r| about pi/4 at most, for 0.785 < |x| < 1e12.
///
/// The first step is exact: x and k*PIO2_1 are both multiples of 2^-53 (|x| > 0.5, and
/// PIO2_1's last bit is 2^-52), and their difference is below 2, so it fits a double; one fused
/// multiply-add computes it without rounding. The product by the second piece is split exactly
/// (two-product), summed exactly (two-sum), and the third piece's product (k < 2^40, so below
/// 2^-92) joins the low part. What is left of pi/2 after three pieces contributes below 2^-118,
/// tiny beside the smallest |r| a double of this range can have (about 2^-60).
#[inline(always)]
fn reduce(x: f64) -> (f64, f64, i64) {
    let k = (x * TWO_OVER_PI).round();
    let r1 = (-k).mul_add(PIO2_1, x);
    let p_hi = k * PIO2_2;
    let p_lo = k.mul_add(PIO2_2, -p_hi);
    let hi = r1 - p_hi;
    let back = hi - r1;
    let sum_err = (r1 - (hi - back)) + (-p_hi - back);
    let lo = sum_err - p_lo - k * PIO2_3;
    let r = hi + lo;
    let r_lo = lo - (r - hi);
    (r, r_lo, k as i64)
}

#[inline(always)]
fn horner(z: f64, terms: &[f64; 8]) -> f64 {
    let mut p = terms[7];
    for &t in terms[..7].iter().rev() {
        p = p.mul_add(z, t);
    }
    p
}

/// sin(r + r_lo) for |r| <= pi/4 and |r_lo| below half an ulp of r: the cubic and higher terms
/// are small beside r, so r + (...) rounds once at the end; r_lo enters through the derivative.
#[inline(always)]
fn sin_kernel(r: f64, r_lo: f64) -> f64 {
    let z = r * r;
    r + (r * z).mul_add(horner(z, &SIN_TERMS), r_lo * (1.0 - 0.5 * z))
}

/// cos(r + r_lo): 1 - r^2/2 is formed with its rounding error recovered (r^2 split exactly, the
/// subtraction's error found exactly), so only the final addition rounds.
#[inline(always)]
fn cos_kernel(r: f64, r_lo: f64) -> f64 {
    let z = r * r;
    let z_lo = r.mul_add(r, -z);
    let half = 0.5 * z;
    let w = 1.0 - half;
    let tail = (1.0 - w) - half;
    w + (tail - 0.5 * z_lo + (z * z).mul_add(horner(z, &COS_TERMS), -r * r_lo))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ulps(a: f64, b: f64) -> u64 {
        (a.to_bits() as i64).wrapping_sub(b.to_bits() as i64).unsigned_abs()
    }

    /// Arguments across the reduced range: the scale benchmarks' quadratic phases, random
    /// magnitudes from 0.5 to 2^41 of both signs, and integers next to multiples of pi/2 (where
    /// the reduced argument is smallest and cancellation is worst).
    fn arguments() -> Vec<f64> {
        let mut xs: Vec<f64> = (1..=200_000u64).map(|k| (k * 250) as f64 * (k * 250) as f64 * 1e-5).collect();
        let mut s: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..200_000 {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let mantissa = (s >> 11) as f64 / (1u64 << 53) as f64 + 0.5;
            let x = mantissa * 2f64.powi((s % 42) as i32);
            xs.push(if s & (1 << 62) == 0 { x } else { -x });
        }
        for k in 1..50_000u64 {
            let near = (k as f64 * 1013.0 * std::f64::consts::FRAC_PI_2).round();
            xs.extend([near, near + 1.0, -near]);
        }
        xs.extend([0.786, -0.786, 0.785_000_000_000_001, 1e12 - 1.0, -(1e12 - 1.0), 1.0, 2.0, 3.0]);
        xs
    }

    /// The C library's sin/cos are correctly rounded in practice; ours may differ in the last
    /// bit, never by two ulps, and equal them in the large majority of cases.
    #[test]
    fn within_one_ulp_of_libm() {
        let xs = arguments();
        for (name, ours, libm) in
            [("sin", sin as fn(f64) -> f64, f64::sin as fn(f64) -> f64), ("cos", cos, f64::cos)]
        {
            let mut off_by_one = 0usize;
            for &x in &xs {
                let (a, b) = (ours(x), libm(x));
                let d = ulps(a, b);
                assert!(d <= 1, "{name}({x:e}) = {a:e}, libm {b:e}: {d} ulps apart");
                off_by_one += usize::from(d == 1);
            }
            assert!(off_by_one * 20 < xs.len(), "{name}: {off_by_one} of {} off by one ulp", xs.len());
        }
    }

    /// What is not reduced here is libm's, bit for bit: small arguments, signed zeros, huge and
    /// non-finite ones.
    #[test]
    fn outside_the_reduced_range_is_libm() {
        for x in [
            0.0,
            -0.0,
            1e-300,
            -5e-324,
            0.5,
            -0.785,
            0.785,
            1e12,
            -3e15,
            1e300,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ] {
            assert_eq!(sin(x).to_bits(), x.sin().to_bits(), "sin({x:e})");
            assert_eq!(cos(x).to_bits(), x.cos().to_bits(), "cos({x:e})");
        }
        assert!(sin(f64::NAN).is_nan() && cos(f64::NAN).is_nan());
    }

    /// Symmetry: sin is odd, cos even, exactly (the reduction mirrors for negative arguments).
    #[test]
    fn odd_and_even() {
        for x in arguments().into_iter().take(50_000) {
            assert_eq!(sin(-x).to_bits(), (-sin(x)).to_bits(), "sin(-{x:e})");
            assert_eq!(cos(-x).to_bits(), cos(x).to_bits(), "cos(-{x:e})");
        }
    }
}
