// f64 exp, log, pow, sigmoid and tanh: Vulkan's extended instructions have no f64 forms of
// them. Every literal is the shortest decimal of its f64 (those of `exp_cpu` and `expm1_unit` are
// the CPU's constants in `crate::kernels::dnn::activation`).
// Inputs come as `D` (value, flags and raw bits, see HELPERS); NaN and infinity results use the
// uniform's `p.nan` and `p.inf`.

// x, through an operation the compiler cannot see through: Mesa reassociates f64 additions and
// folds multiplications by a uniform 1.0 into them (measured: Dekker's product error came out
// 1.4e-8 instead of 0), which would drop the low-order terms the steps below compute exactly.
// `p.inf` must stay out of branch conditions (Mesa would compile it in as a constant).
fn keep_t(x: f64) -> f64 { return max(x, -p.inf); }

fn pow2(e: i32) -> f64 { return ldexp(f64(1.0), e); }

// e^x in the steps of the CPU's `dnn::activation::exp` (its reduction, its degree-13 Taylor
// polynomial, its two-step scaling), so sigmoid and tanh are the CPU's to the bit. x is not NaN.
fn exp_cpu(x: f64) -> f64 {
    let xc = clamp(x, f64(-746.0), f64(710.0));
    let n = round(xc * f64(1.4426950408889634));
    let r = (xc - n * f64(0.6931471803691238)) - n * f64(1.9082149292705877e-10);
    var q = f64(1.6059043836821613e-10);
    q = q * r + f64(2.08767569878681e-09);
    q = q * r + f64(2.505210838544172e-08);
    q = q * r + f64(2.755731922398589e-07);
    q = q * r + f64(2.7557319223985893e-06);
    q = q * r + f64(2.48015873015873e-05);
    q = q * r + f64(0.0001984126984126984);
    q = q * r + f64(0.001388888888888889);
    q = q * r + f64(0.008333333333333333);
    q = q * r + f64(0.041666666666666664);
    q = q * r + f64(0.16666666666666666);
    q = q * r + f64(0.5);
    q = q * r + f64(1.0);
    q = q * r + f64(1.0);
    let ni = i32(n);
    let n1 = ni >> 1u;
    return q * pow2(n1) * pow2(ni - n1);
}

// e^y - 1 for 0 <= y <= 1 as the CPU's `expm1_unit` (Taylor to degree 19).
fn expm1_unit(y: f64) -> f64 {
    var q = f64(8.22063524662433e-18);
    q = q * y + f64(1.5619206968586225e-16);
    q = q * y + f64(2.8114572543455206e-15);
    q = q * y + f64(4.779477332387385e-14);
    q = q * y + f64(7.647163731819816e-13);
    q = q * y + f64(1.1470745597729725e-11);
    q = q * y + f64(1.6059043836821613e-10);
    q = q * y + f64(2.08767569878681e-09);
    q = q * y + f64(2.505210838544172e-08);
    q = q * y + f64(2.755731922398589e-07);
    q = q * y + f64(2.7557319223985893e-06);
    q = q * y + f64(2.48015873015873e-05);
    q = q * y + f64(0.0001984126984126984);
    q = q * y + f64(0.001388888888888889);
    q = q * y + f64(0.008333333333333333);
    q = q * y + f64(0.041666666666666664);
    q = q * y + f64(0.16666666666666666);
    q = q * y + f64(0.5);
    q = q * y + f64(1.0);
    return q * y;
}

// The CPU's `tanh_accurate`: e/(e+2) with e = e^{2|x|} - 1 while 2|x| <= 1, 1 - 2/(e^{2|x|}+1) above.
fn tanh_cpu(x: D) -> f64 {
    if (x.nan) { return p.nan; }
    let y = f64(2.0) * abs(x.v);
    let e = expm1_unit(min(y, f64(1.0)));
    let small = e / (e + f64(2.0));
    let large = f64(1.0) - f64(2.0) / (exp_cpu(y) + f64(1.0));
    let t = select(large, small, y <= f64(1.0));
    return select(t, -t, x.neg);
}

// The CPU's `sigmoid_accurate`: 1 / (1 + e^-x).
fn sigmoid_cpu(x: D) -> f64 {
    if (x.nan) { return p.nan; }
    return f64(1.0) / (f64(1.0) + exp_cpu(-x.v));
}

// e^(x + xlo) within about one ulp of libm's e^x: x = n ln2 + r with ln2 in two parts (n*LN2_HI
// is exact), e^r - 1 = r + r^2 P(r) with P the Taylor series to r^11/13! (|r| <= ln2/2: the
// first dropped term is below 1e-17), the low part of r (and xlo) added before the final 1 +.
fn exp_parts(x: f64, xlo: f64) -> f64 {
    let xc = clamp(x, f64(-746.0), f64(710.0));
    let n = round(xc * f64(1.4426950408889634));
    let hi = xc - n * f64(0.6931471803691238);
    let lo = n * f64(1.9082149292705877e-10);
    let r = hi - lo;
    let rlo = keep_t(keep_t(hi - r) - lo) + xlo;
    var q = f64(1.6059043836821613e-10);
    q = q * r + f64(2.08767569878681e-09);
    q = q * r + f64(2.505210838544172e-08);
    q = q * r + f64(2.755731922398589e-07);
    q = q * r + f64(2.7557319223985893e-06);
    q = q * r + f64(2.48015873015873e-05);
    q = q * r + f64(0.0001984126984126984);
    q = q * r + f64(0.001388888888888889);
    q = q * r + f64(0.008333333333333333);
    q = q * r + f64(0.041666666666666664);
    q = q * r + f64(0.16666666666666666);
    q = q * r + f64(0.5);
    let em1 = r * r * q;
    // e^(r + rlo) = e^r + rlo e^r.
    let e = f64(1.0) + (r + (em1 + rlo * (f64(1.0) + (r + em1))));
    let ni = i32(n);
    let n1 = ni >> 1u;
    return e * pow2(n1) * pow2(ni - n1);
}

fn exp_acc(x: D) -> f64 {
    if (x.nan) { return p.nan; }
    return exp_parts(x.v, f64(0.0));
}

// ln x for a finite x > 0 (from its bits), as a sum of two f64 (the second the first's rounding
// error): x = 2^k m with m in (sqrt(1/2), sqrt(2)], f = m - 1
// (exact), s = f/(2+f) and ln(1+f) = f - (f^2/2 - s (f^2/2 + R)) with R = sum 2 s^2j/(2j+1)
// for j = 1..12 (the first dropped term is below 1e-19 of the result); k ln2 in two parts.
fn log_parts(x: D) -> vec2<f64> {
    let field = (x.hi >> 20u) & 0x7ffu;
    var k: i32;
    if (field == 0u) {
        let mh = x.hi & 0xfffffu;
        let top = select(firstLeadingBit(x.lo), 32u + firstLeadingBit(mh), mh != 0u);
        k = i32(top) - 1074;
    } else {
        k = i32(field) - 1023;
    }
    let k1 = k / 2;
    var m = (abs(x.v) * pow2(-k1)) * pow2(k1 - k);
    if (m > f64(1.4142135623730951)) { m = m * f64(0.5); k = k + 1; }
    let f = m - f64(1.0);
    let hfsq = f64(0.5) * f * f;
    let s = f / (f64(2.0) + f);
    let z = s * s;
    var rr = f64(0.08);
    rr = rr * z + f64(0.08695652173913043);
    rr = rr * z + f64(0.09523809523809523);
    rr = rr * z + f64(0.10526315789473684);
    rr = rr * z + f64(0.11764705882352941);
    rr = rr * z + f64(0.13333333333333333);
    rr = rr * z + f64(0.15384615384615385);
    rr = rr * z + f64(0.18181818181818182);
    rr = rr * z + f64(0.2222222222222222);
    rr = rr * z + f64(0.2857142857142857);
    rr = rr * z + f64(0.4);
    rr = rr * z + f64(0.6666666666666666);
    rr = rr * z;
    let dk = f64(k);
    let big = dk * f64(0.6931471803691238);
    let small = f - (hfsq - (s * (hfsq + rr) + dk * f64(1.9082149292705877e-10)));
    // |big| >= |small| unless big is 0: the sum's rounding error is exact (Fast2Sum).
    let sum = big + small;
    let lost = keep_t(big - sum);
    return vec2<f64>(sum, lost + small);
}

fn log_pos(x: D) -> f64 { return log_parts(x).x; }

// ln x with libm's special cases: NaN below 0 and for NaN, -inf at +-0, inf at inf.
fn log_acc(x: D) -> f64 {
    if (x.nan || (x.neg && x.v != f64(0.0))) { return p.nan; }
    if (x.v == f64(0.0)) { return -p.inf; }
    if (x.inf) { return p.inf; }
    return log_pos(x);
}

// The rounding error of a * b (Dekker's product with Veltkamp's split; `fma` cannot do it, as
// drivers may lower it to a multiply and an add). Every step goes through `keep_t`.
fn split_hi(a: f64) -> f64 {
    let c = keep_t(f64(134217729.0) * a);
    return keep_t(c - keep_t(c - a));
}
fn product_error(a: f64, b: f64, ab: f64) -> f64 {
    let ah = split_hi(a);
    let al = keep_t(a - ah);
    let bh = split_hi(b);
    let bl = keep_t(b - bh);
    let e1 = keep_t(keep_t(ah * bh) - ab);
    let e2 = keep_t(e1 + keep_t(ah * bl));
    let e3 = keep_t(e2 + keep_t(al * bh));
    return keep_t(e3 + keep_t(al * bl));
}

fn is_int(v: f64) -> bool { return floor(v) == v; }
// An odd integer (|v| >= 2^53 are all even).
fn is_odd(v: f64) -> bool { return is_int(v) && abs(v) < f64(9007199254740992.0) && !is_int(v * f64(0.5)); }

// a^b as the CPU computes it: a*a for b = 2, otherwise C's pow (its special cases: a^0 = 1 and
// 1^b = 1 even for NaN, (-1)^inf = 1, signed zeros and infinities by the parity of b). The
// magnitude is e^(b ln|a|) with ln|a| in two parts and the product's rounding error carried into
// the exponential.
fn pow_c(a: D, b: D) -> f64 {
    if (a.nan && !(b.v == f64(0.0) && !b.nan)) { return p.nan; }
    if (!b.nan && b.v == f64(2.0)) { return a.v * a.v; }
    if (!b.nan && b.v == f64(0.0)) { return f64(1.0); }
    if (!a.nan && a.v == f64(1.0)) { return f64(1.0); }
    if (b.nan) { return p.nan; }
    let aa = abs(a.v);
    if (b.inf) {
        if (aa == f64(1.0)) { return f64(1.0); }
        return select(f64(0.0), p.inf, (aa > f64(1.0)) != b.neg);
    }
    let odd = is_odd(b.v);
    let negative = a.neg && odd;
    if (a.v == f64(0.0) || a.inf) {
        // |a|^b is 0 or inf; the sign is a's for odd b.
        let big = (a.v == f64(0.0)) == b.neg;
        let mag = select(f64(0.0), p.inf, big);
        return select(mag, -mag, negative);
    }
    if (a.neg && !is_int(b.v)) { return p.nan; }
    let l = log_parts(D(aa, false, false, false, a.lo, a.hi & 0x7fffffffu));
    let y = b.v * l.x;
    // The product's rounding error and the low part of ln|a| (0 where the product overflowed:
    // the exponential saturates anyway).
    let ylo = select(product_error(b.v, l.x, y) + b.v * l.y, f64(0.0), abs(y) > f64(1000.0));
    let mag = exp_parts(y, ylo);
    return select(mag, -mag, negative);
}
