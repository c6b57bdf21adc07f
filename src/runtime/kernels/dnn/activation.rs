//! Branch-free exp, sigmoid and tanh over slices, for the LSTM gates.
//!
//! The gates need about 5 transcendental calls per multiply-add row of the recurrent product, and
//! libm's scalar calls cost more than the product itself. These versions reduce `x = n*ln2 + r`
//! with a two-part `ln2`, evaluate a degree-13 Taylor polynomial of `e^r` on `|r| <= ln2/2`
//! (truncation below 1e-17) and scale by `2^n` through the exponent bits; the loops have no
//! branches, so the compiler vectorizes them. Accuracy: relative error of `exp` within a few ulp;
//! `sigmoid` and `tanh` within a few 1e-16 absolute (they are bounded by 1, and the tanh form
//! `1 - 2/(e^{2x}+1)` trades relative accuracy near 0 for speed, which is well below the 1e-12
//! agreement we keep with SystemDS).

const LOG2E: f64 = std::f64::consts::LOG2_E;
/// `ln 2` split so that `n * LN2_HI` is exact for the `n` that occur.
const LN2_HI: f64 = 0.693_147_180_369_123_8;
const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
/// Adding and subtracting this rounds a double below 2^51 in magnitude to the nearest integer.
const ROUND: f64 = 6_755_399_441_055_744.0; // 1.5 * 2^52

/// `e^x` for `x` clamped to `[-708, 709]` (so the result stays a normal double or saturates).
#[inline(always)]
pub(crate) fn exp(x: f64) -> f64 {
    let x = x.clamp(-708.0, 709.0);
    let t = x * LOG2E + ROUND;
    let n = t - ROUND;
    let r = (x - n * LN2_HI) - n * LN2_LO;
    // Taylor series of e^r to degree 13, Horner form.
    let mut p = 1.0 / 6_227_020_800.0;
    p = p * r + 1.0 / 479_001_600.0;
    p = p * r + 1.0 / 39_916_800.0;
    p = p * r + 1.0 / 3_628_800.0;
    p = p * r + 1.0 / 362_880.0;
    p = p * r + 1.0 / 40_320.0;
    p = p * r + 1.0 / 5_040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    // The low bits of t hold n (biased by ROUND's mantissa); n is in [-1022, 1023].
    let bits = (t.to_bits() as i64).wrapping_sub(ROUND.to_bits() as i64);
    let scale = f64::from_bits(((bits + 1023) << 52) as u64);
    p * scale
}

/// `1 / (1 + e^{-x})` in place.
pub(crate) fn sigmoid_in_place(v: &mut [f64]) {
    for x in v.iter_mut() {
        *x = 1.0 / (1.0 + exp(-*x));
    }
}

/// `tanh(x) = sign(x) * (1 - 2/(e^{2|x|} + 1))` in place.
pub(crate) fn tanh_in_place(v: &mut [f64]) {
    for x in v.iter_mut() {
        *x = tanh(*x);
    }
}

#[inline(always)]
pub(crate) fn tanh(x: f64) -> f64 {
    let a = 1.0 - 2.0 / (exp(2.0 * x.abs()) + 1.0);
    a.copysign(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_libm() {
        let mut worst = (0.0f64, 0.0f64, 0.0f64);
        for i in -200_000..=200_000 {
            let x = i as f64 * 3.7e-4 + 1e-9;
            let e = exp(x);
            worst.0 = worst.0.max(((e - x.exp()) / x.exp()).abs());
            worst.1 = worst.1.max((tanh(x) - x.tanh()).abs());
            let s = 1.0 / (1.0 + (-x).exp());
            let mut v = [x];
            sigmoid_in_place(&mut v);
            worst.2 = worst.2.max((v[0] - s).abs());
        }
        assert!(worst.0 < 1e-15, "exp relative error {}", worst.0);
        assert!(worst.1 < 5e-16, "tanh absolute error {}", worst.1);
        assert!(worst.2 < 5e-16, "sigmoid absolute error {}", worst.2);
        assert_eq!(exp(1000.0), 709f64.exp());
        assert!(exp(-1000.0) > 0.0 && exp(-1000.0) < 1e-300);
        assert_eq!(tanh(50.0), 1.0);
        assert_eq!(tanh(-50.0), -1.0);
        assert!(tanh(f64::NAN).is_nan());
    }
}
