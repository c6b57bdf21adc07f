// f64 sin, cos and tan (Vulkan has no f64 forms of them), within one ulp of the CPU's
// `crate::kernels::trig` (libm's values where the CPU calls libm). Needs `HELPERS` (`D`) and
// `p.nan`, `p.inf` and `p.one` in the uniform.
//
// The exact steps (the rounding errors of products and sums) are written without `fma`, which a
// driver may lower to a multiply and an add (lavapipe does), and every intermediate of them
// passes through `keep`: Mesa's compiler reassociates chains of additions it is not told are
// exact (naga marks none), and evaluated in another order Dekker's and Knuth's error terms come
// out 0 (measured on lavapipe: without `keep`, sin(1) was 8e-9 off). The CPU's own fused
// multiply-adds are `fma_cpu`: the device's `fma` where it rounds once, else emulated.

// x itself (x is never NaN here), behind an operation the compiler cannot see through: the end
// of a chain of additions, so that it is evaluated in the order written. Not `x * p.one`, the
// idiom of `transcendental.wgsl`: Mesa factors `a * one - b * one` into `(a - b) * one` and
// then reassociates the additions inside (measured: the reduction's two-sum error came out 0).
// `p.inf` must stay out of branch conditions: Mesa compiles variants with such uniforms inlined
// as constants, which would fold `keep` away.
fn keep(x: f64) -> f64 { return max(x, -p.inf); }

// Veltkamp's split: the high 26 bits of a (a - hi is exact and fits 26 bits).
fn split_high(a: f64) -> f64 {
    let c = keep(f64(134217729.0) * a);
    return keep(c - keep(c - a));
}

// a * b - ab exactly, for ab = fl(a * b) (Dekker's product).
fn mul_error(a: f64, b: f64, ab: f64) -> f64 {
    let ah = split_high(a);
    let al = keep(a - ah);
    let bh = split_high(b);
    let bl = keep(b - bh);
    let e1 = keep(keep(ah * bh) - ab);
    let e2 = keep(e1 + keep(ah * bl));
    let e3 = keep(e2 + keep(al * bh));
    return keep(e3 + keep(al * bl));
}

// Whether the device's f64 `fma` rounds once: (1 + 2^-30)^2 - 1 keeps its 2^-60 term only
// then. A uniform value (from `p.one`), so every invocation takes the same branch.
fn fma_is_fused() -> bool {
    let a = p.one + f64(9.313225746154785e-10);
    return fma(a, a, -p.one) != f64(1.862645149230957e-09);
}

// a * b + c rounded once, as the CPU's `mul_add`: emulated from the exact product and Knuth's
// two-sum where the device's `fma` is not fused (then rounded twice in rare ties only).
fn fma_cpu(a: f64, b: f64, c: f64) -> f64 {
    if (fma_is_fused()) { return fma(a, b, c); }
    let ab = keep(a * b);
    let ab_err = mul_error(a, b, ab);
    let s = keep(ab + c);
    let bb = keep(s - ab);
    let s_err = keep(keep(ab - keep(s - bb)) + keep(c - bb));
    return keep(s + keep(ab_err + s_err));
}

// 2/pi as 32-bit words of its binary fraction, after one zero word (so that bits "before the
// point" read as 0): enough bits for the largest finite f64.
var<private> TWO_OVER_PI_BITS: array<u32, 40> = array<u32, 40>(
    0u,
    0xa2f9836eu, 0x4e441529u, 0xfc2757d1u, 0xf534ddc0u, 0xdb629599u, 0x3c439041u,
    0xfe5163abu, 0xdebbc561u, 0xb7246e3au, 0x424dd2e0u, 0x06492eeau, 0x09d1921cu,
    0xfe1deb1cu, 0xb129a73eu, 0xe88235f5u, 0x2ebb4484u, 0xe99c7026u, 0xb45f7e41u,
    0x3991d639u, 0x835339f4u, 0x9c845f8bu, 0xbdf9283bu, 0x1ff897ffu, 0xde05980fu,
    0xef2f118bu, 0x5a0a6d1fu, 0x6d367ecfu, 0x27cb09b7u, 0x4f463f66u, 0x9e5fea2du,
    0x7527bac7u, 0xebe5f17bu, 0x3d0739f7u, 0x8a5292eau, 0x6bfb5fb1u, 0x1f8d5d08u,
    0x56033046u, 0xfc7b6babu, 0xf0cfbc20u,
);

// A reduced argument: x = q*pi/2 + (r + r_lo) mod 2pi, |r| <= about pi/4, q in 0..3.
struct Reduced { r: f64, r_lo: f64, q: u32 }

// Rust's `f64::round` (half away from zero); WGSL's `round` rounds half to even.
fn round_half_away(t: f64) -> f64 {
    let a = abs(t);
    let f = floor(a);
    let k = select(f, f + f64(1.0), a - f >= f64(0.5));
    return select(k, -k, t < f64(0.0));
}

// The CPU's three-piece reduction (`trig::reduce`) for |x| < 1e12, step for step: its
// `mul_add`s that are exact (x - k*PIO2_1 and k*PIO2_2's rounding error) are Dekker's
// products here. x - fl(k*PIO2_1) is exact (Sterbenz: both within a factor of 2 for k != 0),
// and the true x - k*PIO2_1 is a double, so subtracting the product's error rounds to it.
fn reduce_small(x: f64) -> Reduced {
    let k = round_half_away(x * f64(0.6366197723675814));
    let ph = keep(k * f64(1.5707963267948966));
    let r1 = keep(keep(x - ph) - mul_error(k, f64(1.5707963267948966), ph));
    let p_hi = keep(k * f64(6.123233995736766e-17));
    let p_lo = mul_error(k, f64(6.123233995736766e-17), p_hi);
    let hi = keep(r1 - p_hi);
    let back = keep(hi - r1);
    let sum_err = keep(keep(r1 - keep(hi - back)) + keep(-p_hi - back));
    let lo = keep(keep(sum_err - p_lo) - keep(k * f64(-1.4973849048591698e-33)));
    let r = keep(hi + lo);
    let r_lo = keep(lo - keep(r - hi));
    // k mod 4, exact in f64 (|k| < 2^40).
    let q = k - f64(4.0) * floor(k * f64(0.25));
    return Reduced(r, r_lo, u32(q));
}

// 16 bits of 2/pi from bit n on (n = 1 is the first bit after the point; n >= -30).
fn two_over_pi_16(n: i32) -> u32 {
    let i = u32(n + 31);
    let w = i >> 5u;
    let sh = i & 31u;
    let a = TWO_OVER_PI_BITS[w];
    let b = TWO_OVER_PI_BITS[w + 1u];
    let top = select((a << sh) | (b >> (32u - sh)), a, sh == 0u);
    return top >> 16u;
}

// Payne and Hanek's reduction of a finite |x| >= 1e12 (the sign is the caller's), in integer
// arithmetic on 16-bit limbs. |x| = M 2^e with M an integer of 53 bits; the bits b_n of 2/pi
// with n <= e - 2 only add multiples of 4 to |x| 2/pi, so the window G of the 192 bits from
// n = e - 1 on gives |x| 2/pi = M G 2^-190 (mod 4) up to M 2^-190 < 2^-137. The low 192 bits
// of M G are the quadrant (top two) and the fraction (190 bits), rounded to the nearest
// quadrant; the fraction becomes a double-double and is multiplied by pi/2.
fn reduce_huge(x: D) -> Reduced {
    let e = i32((x.hi >> 20u) & 0x7ffu) - 1075;
    let mh = (x.hi & 0xfffffu) | 0x100000u;
    var m = array<u32, 4>(mh >> 16u, mh & 0xffffu, x.lo >> 16u, x.lo & 0xffffu);
    var g: array<u32, 12>;
    for (var t = 0; t < 12; t++) {
        g[t] = two_over_pi_16(e - 1 + 16 * t);
    }
    // Limb c (weight 2^16c) of M G gets m[u] g[t] for u + t = 14 - c; limbs above 11 are
    // multiples of 4 and dropped. Halves of each product go to two columns, so no column
    // overflows before the carries.
    var col: array<u32, 13>;
    for (var u = 0; u < 4; u++) {
        for (var t = 0; t < 12; t++) {
            let c = 14 - u - t;
            if (c >= 0 && c <= 11) {
                let pr = m[u] * g[t];
                col[c] += pr & 0xffffu;
                col[c + 1] += pr >> 16u;
            }
        }
    }
    var limb: array<u32, 12>;
    var carry = 0u;
    for (var c = 0; c < 12; c++) {
        let v = col[c] + carry;
        limb[c] = v & 0xffffu;
        carry = v >> 16u;
    }
    var q = limb[11] >> 14u;
    limb[11] = limb[11] & 0x3fffu;
    // A fraction of one half or more rounds up to the next quadrant: 1 - fraction, negated.
    let up = (limb[11] & 0x2000u) != 0u;
    if (up) {
        q = q + 1u;
        var borrow = 1u;
        for (var c = 0; c < 12; c++) {
            let v = ((~limb[c]) & 0xffffu) + borrow;
            limb[c] = v & 0xffffu;
            borrow = v >> 16u;
        }
        limb[11] = limb[11] & 0x3fffu;
    }
    // The fraction's magnitude as three 48-bit pieces from its top non-zero limb down.
    var top = 11;
    while (top > 0 && limb[top] == 0u) { top = top - 1; }
    var piece: array<f64, 3>;
    for (var s = 0; s < 3; s++) {
        var v = f64(0.0);
        for (var j = 0; j < 3; j++) {
            let c = top - 3 * s - j;
            let l = select(0u, limb[max(c, 0)], c >= 0);
            v = v * f64(65536.0) + f64(l);
        }
        piece[s] = ldexp(v, 16 * (top - 3 * s - 2) - 190);
    }
    // piece[1] lies below piece[0]'s last bit: the sum's rounding error is exact (Fast2Sum).
    let f = keep(piece[0] + piece[1]);
    let f_lo = keep(keep(keep(piece[0] - f) + piece[1]) + piece[2]);
    // (f + f_lo) pi/2 with pi/2 = PIO2_1 + PIO2_2.
    let r0 = keep(f * f64(1.5707963267948966));
    let err = keep(mul_error(f, f64(1.5707963267948966), r0)
        + keep(keep(f * f64(6.123233995736766e-17)) + keep(f_lo * f64(1.5707963267948966))));
    let r = keep(r0 + err);
    let r_lo = keep(err - keep(r - r0));
    return Reduced(select(r, -r, up), select(r_lo, -r_lo, up), q & 3u);
}

// Any finite x: the CPU's reduction below 1e12, Payne-Hanek's above (mirrored for x < 0).
fn trig_reduce(x: D) -> Reduced {
    if (abs(x.v) < f64(1.0e12)) { return reduce_small(x.v); }
    let red = reduce_huge(x);
    if (!x.neg) { return red; }
    return Reduced(-red.r, -red.r_lo, (4u - red.q) & 3u);
}

// sin(r + r_lo) for |r| <= pi/4 (`trig::sin_kernel`): r + t, the sum unrounded.
fn sin_poly(r: f64, r_lo: f64) -> vec2<f64> {
    let z = r * r;
    var h = f64(2.8114572543455206e-15);
    h = fma_cpu(h, z, f64(-7.647163731819816e-13));
    h = fma_cpu(h, z, f64(1.6059043836821613e-10));
    h = fma_cpu(h, z, f64(-2.505210838544172e-08));
    h = fma_cpu(h, z, f64(2.7557319223985893e-06));
    h = fma_cpu(h, z, f64(-0.0001984126984126984));
    h = fma_cpu(h, z, f64(0.008333333333333333));
    h = fma_cpu(h, z, f64(-0.16666666666666666));
    let t = keep(fma_cpu(r * z, h, r_lo * (f64(1.0) - f64(0.5) * z)));
    return vec2<f64>(r, t);
}

// cos(r + r_lo) (`trig::cos_kernel`): w + t, the sum unrounded; 1 - r^2/2 with its rounding
// errors recovered.
fn cos_poly(r: f64, r_lo: f64) -> vec2<f64> {
    let z = r * r;
    let z_lo = mul_error(r, r, z);
    let half = f64(0.5) * z;
    let w = keep(f64(1.0) - half);
    let tail = keep(keep(f64(1.0) - w) - half);
    var h = f64(-1.5619206968586225e-16);
    h = fma_cpu(h, z, f64(4.779477332387385e-14));
    h = fma_cpu(h, z, f64(-1.1470745597729725e-11));
    h = fma_cpu(h, z, f64(2.08767569878681e-09));
    h = fma_cpu(h, z, f64(-2.755731922398589e-07));
    h = fma_cpu(h, z, f64(2.48015873015873e-05));
    h = fma_cpu(h, z, f64(-0.001388888888888889));
    h = fma_cpu(h, z, f64(0.041666666666666664));
    let t = keep(keep(tail - f64(0.5) * z_lo) + fma_cpu(z * z, h, -r * r_lo));
    return vec2<f64>(w, t);
}

// sin of q*pi/2 + r (`trig::quadrant_value`).
fn quadrant_sin(red: Reduced) -> f64 {
    var v: vec2<f64>;
    if ((red.q & 1u) == 0u) { v = sin_poly(red.r, red.r_lo); } else { v = cos_poly(red.r, red.r_lo); }
    let s = v.x + v.y;
    return select(s, -s, (red.q & 2u) != 0u);
}

// sin(x): NaN for NaN and +-inf, x itself for +-0 (the sign kept).
fn sin_acc(x: D) -> f64 {
    if (x.nan || x.inf) { return p.nan; }
    if (x.v == f64(0.0)) { return x.v; }
    return quadrant_sin(trig_reduce(x));
}

// cos(x) = sin(x + pi/2): one quadrant on.
fn cos_acc(x: D) -> f64 {
    if (x.nan || x.inf) { return p.nan; }
    if (x.v == f64(0.0)) { return f64(1.0); }
    let red = trig_reduce(x);
    return quadrant_sin(Reduced(red.r, red.r_lo, (red.q + 1u) & 3u));
}

// A double-double's hi and lo from an unrounded sum a.x + a.y (Fast2Sum: |a.y| < |a.x|).
fn dd(a: vec2<f64>) -> vec2<f64> {
    let s = keep(a.x + a.y);
    return vec2<f64>(s, keep(a.y - keep(s - a.x)));
}

// tan(x) = sin/cos (even quadrants) or -cos/sin (odd ones) of the same reduction, both as
// double-doubles; the quotient is corrected once by its exact remainder, so it rounds about
// as libm's does.
fn tan_acc(x: D) -> f64 {
    if (x.nan || x.inf) { return p.nan; }
    if (x.v == f64(0.0)) { return x.v; }
    let red = trig_reduce(x);
    let s = dd(sin_poly(red.r, red.r_lo));
    let c = dd(cos_poly(red.r, red.r_lo));
    let odd = (red.q & 1u) != 0u;
    let num = select(s, c, odd);
    let den = select(c, s, odd);
    let q0 = num.x / den.x;
    let pq = keep(q0 * den.x);
    // num.x - pq is exact (Sterbenz); the remainder of num / den after q0.
    let rem = keep(keep(keep(num.x - pq) - mul_error(q0, den.x, pq)) + keep(num.y - keep(q0 * den.y)));
    let t = q0 + rem / den.x;
    return select(t, -t, odd);
}
