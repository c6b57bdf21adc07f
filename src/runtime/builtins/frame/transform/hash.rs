//! Feature hashing (`"hash": [cols], "K": k` in a transform spec). SystemDS buckets a cell by
//! the Java `hashCode()` of the object the frame holds (a `String`, `Double`, `Float`, `Long`,
//! `Integer`; booleans hash as 1 and 0): the code is `|hash| mod K + 1`, taken in 64 bits so
//! that `Integer.MIN_VALUE` stays positive; a null cell has no code (NaN).

use crate::types::frame::{Frame, FrameColumn};

/// Java's `String.hashCode` (over UTF-16 code units).
pub fn java_string_hash(s: &str) -> i32 {
    let mut h: i32 = 0;
    for u in s.encode_utf16() {
        h = h.wrapping_mul(31).wrapping_add(u as i32);
    }
    h
}

/// Java's `Long.hashCode`.
fn long_hash(v: i64) -> i32 {
    let u = v as u64;
    (u ^ (u >> 32)) as u32 as i32
}

/// Java's `Double.hashCode` (NaNs canonical, as `doubleToLongBits`).
fn double_hash(v: f64) -> i32 {
    let bits = if v.is_nan() { 0x7ff8_0000_0000_0000u64 } else { v.to_bits() };
    long_hash(bits as i64)
}

/// Java's `Float.hashCode` (NaNs canonical, as `floatToIntBits`).
fn float_hash(v: f64) -> i32 {
    let f = v as f32;
    if f.is_nan() { 0x7fc0_0000 } else { f.to_bits() as i32 }
}

/// The Java hash of cell (r, c), `None` for a null cell.
pub fn cell_hash(f: &Frame, r: usize, c: usize) -> Option<i32> {
    let narrow = f.is_narrow(c);
    match &f.columns[c] {
        FrameColumn::Str(v) => v[r].as_deref().map(java_string_hash),
        FrameColumn::Double(v) => Some(if narrow { float_hash(v[r]) } else { double_hash(v[r]) }),
        FrameColumn::Int(v) => Some(if narrow { v[r] as i32 } else { long_hash(v[r]) }),
        FrameColumn::Bool(v) => Some(v[r] as i32),
    }
}

/// The bucket (1..=k) of a hash.
pub fn bucket(h: i32, k: u64) -> f64 {
    ((h as i64).unsigned_abs() % k.max(1) + 1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Buckets observed from SystemDS 3.4.0.
    #[test]
    fn buckets_match_systemds() {
        assert_eq!(java_string_hash("apple"), 93029210);
        assert_eq!(bucket(java_string_hash("banana"), 7), 2.0);
        assert_eq!(bucket(java_string_hash("polygenelubricants"), 11), 3.0);
        assert_eq!(bucket(double_hash(1.5), 1000), 537.0);
        assert_eq!(bucket(double_hash(2.0), 1000), 825.0);
        assert_eq!(bucket(float_hash(2.5), 100000), 38977.0);
        assert_eq!(bucket(long_hash(-7), 1000), 7.0);
        assert_eq!(bucket(long_hash(-5), 100000), 5.0);
        assert_eq!(bucket(long_hash(123456789012), 100000), 62585.0);
    }
}
