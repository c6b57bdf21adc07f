//! Scalar operator semantics shared by every cellwise kernel.
//!
//! Each operator follows SystemDS 3.4.0's double arithmetic (Java semantics), which differs from
//! R and from Rust's `f64` helpers in a few places; the differences are noted next to the code
//! with what `sysds` printed. The enums themselves are named in `crate::types::ops`.

use crate::types::ops::{BinOp, UnOp};

#[inline]
fn b2f(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

/// Java `Math.min`: NaN wins, and -0.0 is smaller than 0.0.
#[inline]
pub fn java_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == b {
        if a.is_sign_negative() { a } else { b }
    } else if a < b {
        a
    } else {
        b
    }
}

/// Java `Math.max`: NaN wins, and 0.0 is larger than -0.0.
#[inline]
pub fn java_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == b {
        if a.is_sign_positive() { a } else { b }
    } else if a > b {
        a
    } else {
        b
    }
}

/// Java's `(long) x` cast: NaN gives 0, out-of-range values saturate (Rust's `as` does the same).
#[inline]
fn to_long(x: f64) -> i64 {
    x as i64
}

impl BinOp {
    /// Applies the operator to two doubles.
    #[inline]
    pub fn apply(self, a: f64, b: f64) -> f64 {
        match self {
            BinOp::Add => a + b,
            BinOp::Sub => a - b,
            BinOp::Mul => a * b,
            BinOp::Div => a / b,
            // x^2 is computed as x*x: the same correctly rounded square, much faster than powf.
            BinOp::Pow if b == 2.0 => a * a,
            BinOp::Pow => a.powf(b),
            // SystemDS 3.4.0 gives -7 %/% 2 = -3, -5.5 %/% 2 = -2.0, 0.3 %/% 0.1 = 2.0,
            // 7.0 %/% 0.0 = Infinity, 0.0 %/% 0.0 = NaN: the quotient truncated toward zero.
            BinOp::IntDiv => (a / b).trunc(),
            // SystemDS 3.4.0 gives -7 %% 2 = -1, 7 %% -2 = 1, 5.5 %% 2 = 1.5, 7.0 %% 0.0 = NaN,
            // 0.3 %% 0.1 = 0.09999999999999998: x - trunc(x/y)*y, NaN for y == 0.
            BinOp::Mod => {
                if b == 0.0 {
                    f64::NAN
                } else {
                    a - (a / b).trunc() * b
                }
            }
            // SystemDS 3.4.0 gives min(NaN, 1) = NaN and max(1, NaN) = NaN (Java Math.min/max).
            BinOp::Min => java_min(a, b),
            BinOp::Max => java_max(a, b),
            // Comparisons with NaN are false except `!=` (SystemDS 3.4.0: NaN < 1 is FALSE,
            // NaN == NaN is FALSE, NaN != NaN is TRUE).
            BinOp::Lt => b2f(a < b),
            BinOp::Le => b2f(a <= b),
            BinOp::Gt => b2f(a > b),
            BinOp::Ge => b2f(a >= b),
            BinOp::Eq => b2f(a == b),
            BinOp::Ne => b2f(a != b),
            // NaN counts as TRUE (it is non-zero): SystemDS 3.4.0 gives xor(NaN, 0) = 1.
            BinOp::And => b2f(a != 0.0 && b != 0.0),
            BinOp::Or => b2f(a != 0.0 || b != 0.0),
            BinOp::Xor => b2f((a != 0.0) != (b != 0.0)),
            // Bitwise ops work on the truncated longs: bitwAnd(12.7, 10) = 8.
            BinOp::BitwAnd => (to_long(a) & to_long(b)) as f64,
            BinOp::BitwOr => (to_long(a) | to_long(b)) as f64,
            BinOp::BitwXor => (to_long(a) ^ to_long(b)) as f64,
            // Java masks the shift distance to 6 bits: bitwShiftL(1, 65) = 2.
            BinOp::BitwShiftL => to_long(a).wrapping_shl(to_long(b) as u32) as f64,
            // Arithmetic shift: bitwShiftR(-8, 1) = -4.
            BinOp::BitwShiftR => to_long(a).wrapping_shr(to_long(b) as u32) as f64,
            BinOp::Log => a.ln() / b.ln(),
        }
    }

    /// The DML spelling, for error messages.
    pub fn name(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Pow => "^",
            BinOp::IntDiv => "%/%",
            BinOp::Mod => "%%",
            BinOp::Min => "min",
            BinOp::Max => "max",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::And => "&",
            BinOp::Or => "|",
            BinOp::Xor => "xor",
            BinOp::BitwAnd => "bitwAnd",
            BinOp::BitwOr => "bitwOr",
            BinOp::BitwXor => "bitwXor",
            BinOp::BitwShiftL => "bitwShiftL",
            BinOp::BitwShiftR => "bitwShiftR",
            BinOp::Log => "log",
        }
    }

    /// Whether `0 op 0 == 0`, so that the op over two sparse inputs only touches stored cells.
    pub fn zero_zero_is_zero(self) -> bool {
        self.apply(0.0, 0.0) == 0.0 && !self.apply(0.0, 0.0).is_nan()
    }

    /// Whether `0 op x == 0` and `x op 0 == 0` for every finite x, so a product-like op over a
    /// sparse and any other input only needs the sparse input's stored cells.
    pub fn is_sparse_safe_mul_like(self) -> bool {
        matches!(self, BinOp::Mul | BinOp::And | BinOp::BitwAnd)
    }

    /// Whether the op is commutative (lets kernels swap operands).
    pub fn is_commutative(self) -> bool {
        matches!(
            self,
            BinOp::Add
                | BinOp::Mul
                | BinOp::Min
                | BinOp::Max
                | BinOp::Eq
                | BinOp::Ne
                | BinOp::And
                | BinOp::Or
                | BinOp::Xor
                | BinOp::BitwAnd
                | BinOp::BitwOr
                | BinOp::BitwXor
        )
    }
}

impl UnOp {
    #[inline]
    pub fn apply(self, x: f64) -> f64 {
        match self {
            UnOp::Neg => -x,
            // `!X` is `X == 0`; NaN is non-zero so !NaN = 0 (SystemDS 3.4.0).
            UnOp::Not => b2f(x == 0.0),
            UnOp::Abs => x.abs(),
            // Java Math.signum: sign(NaN) = NaN, sign(0) = 0 (SystemDS 3.4.0 prints NaN).
            UnOp::Sign => {
                if x > 0.0 {
                    1.0
                } else if x < 0.0 {
                    -1.0
                } else {
                    x
                }
            }
            UnOp::Sqrt => x.sqrt(),
            UnOp::Exp => x.exp(),
            // log(0) = -Infinity.
            UnOp::Log => x.ln(),
            UnOp::Floor => x.floor(),
            UnOp::Ceil => x.ceil(),
            UnOp::Round => java_round(x),
            UnOp::Sin => super::trig::sin(x),
            UnOp::Cos => super::trig::cos(x),
            UnOp::Tan => x.tan(),
            UnOp::Asin => x.asin(),
            UnOp::Acos => x.acos(),
            UnOp::Atan => x.atan(),
            UnOp::Sinh => x.sinh(),
            UnOp::Cosh => x.cosh(),
            UnOp::Tanh => crate::kernels::dnn::activation::tanh_accurate(x),
            UnOp::Sigmoid => crate::kernels::dnn::activation::sigmoid_accurate(x),
            UnOp::IsNa | UnOp::IsNaN => b2f(x.is_nan()),
            UnOp::IsInf => b2f(x.is_infinite()),
            // max(0, NaN) is NaN in SystemDS (Java Math.max).
            UnOp::Relu => java_max(0.0, x),
        }
    }

    /// The DML builtin name, for error messages.
    pub fn name(self) -> &'static str {
        match self {
            UnOp::Neg => "-",
            UnOp::Not => "!",
            UnOp::Abs => "abs",
            UnOp::Sign => "sign",
            UnOp::Sqrt => "sqrt",
            UnOp::Exp => "exp",
            UnOp::Log => "log",
            UnOp::Floor => "floor",
            UnOp::Ceil => "ceil",
            UnOp::Round => "round",
            UnOp::Sin => "sin",
            UnOp::Cos => "cos",
            UnOp::Tan => "tan",
            UnOp::Asin => "asin",
            UnOp::Acos => "acos",
            UnOp::Atan => "atan",
            UnOp::Sinh => "sinh",
            UnOp::Cosh => "cosh",
            UnOp::Tanh => "tanh",
            UnOp::Sigmoid => "sigmoid",
            UnOp::IsNa => "is.na",
            UnOp::IsNaN => "is.nan",
            UnOp::IsInf => "is.infinite",
            UnOp::Relu => "relu",
        }
    }

    /// Whether f(0) == 0, so sparse inputs stay sparse and only stored cells are visited.
    pub fn zero_preserving(self) -> bool {
        matches!(
            self,
            UnOp::Neg
                | UnOp::Abs
                | UnOp::Sign
                | UnOp::Sqrt
                | UnOp::Floor
                | UnOp::Ceil
                | UnOp::Round
                | UnOp::Sin
                | UnOp::Tan
                | UnOp::Asin
                | UnOp::Atan
                | UnOp::Sinh
                | UnOp::Tanh
                | UnOp::IsNa
                | UnOp::IsNaN
                | UnOp::IsInf
                | UnOp::Relu
        )
    }
}

/// Java `Math.round` as a double: floor(x + 0.5) with Java's corner cases. SystemDS 3.4.0 gives
/// round(2.5) = 3, round(-2.5) = -2 and round(NaN) = 0 (the long cast of NaN).
#[inline]
pub fn java_round(x: f64) -> f64 {
    if x.is_nan() {
        return 0.0;
    }
    if x.is_infinite() || x.abs() >= 4503599627370496.0 {
        // Already integral (or saturates as a long).
        return (x as i64) as f64;
    }
    let r = x.floor();
    let frac = x - r;
    let v = if frac >= 0.5 { r + 1.0 } else { r };
    // Java returns a long; -0.4 rounds to 0 (not -0.0).
    (v as i64) as f64
}
