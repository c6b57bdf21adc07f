//! Java `Double.toString` formatting, which SystemDS uses for every number it writes to a file.
//!
//! Files must not change when `print`'s formatter (`kernels::format`) changes, so the I/O module
//! keeps its own; frames' FP32 cells use its float form. Digits are the shortest round-trip
//! digits (Rust's `{:e}`), which is what Java 19+ prints and what Java 17 prints for all but rare
//! edge cases.

/// Formats `v` as Java's `Double.toString` does: `1.0`, `0.001`, `1.0E7`, `1.0E-20`, `NaN`.
pub(crate) fn java_double(v: f64) -> String {
    special(v).unwrap_or_else(|| java_style(&format!("{:e}", v.abs()), v < 0.0, v.abs()))
}

/// Formats `v`, rounded to f32, as Java's `Float.toString` does: `1.5`, `3.0`, `1.0E10`.
pub(crate) fn java_float(v: f64) -> String {
    let f = v as f32;
    special(f as f64).unwrap_or_else(|| java_style(&format!("{:e}", f.abs()), f < 0.0, f.abs() as f64))
}

/// The strings of NaN, the infinities and the zeros; `None` for other values.
fn special(v: f64) -> Option<String> {
    Some(match v {
        _ if v.is_nan() => "NaN".into(),
        f64::INFINITY => "Infinity".into(),
        f64::NEG_INFINITY => "-Infinity".into(),
        0.0 if v.is_sign_negative() => "-0.0".into(),
        0.0 => "0.0".into(),
        _ => return None,
    })
}

/// Java's layout of the shortest digits `sci` (Rust's `{:e}` of the magnitude, `d.ddde<exp>`):
/// plain decimal notation with at least one digit after the point for 1e-3 <= |v| < 1e7, else
/// `d.dddE<exp>`.
fn java_style(sci: &str, negative: bool, abs: f64) -> String {
    let (mant, exp) = sci.split_once('e').unwrap_or((sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mant.chars().filter(|c| *c != '.').collect();
    let sign = if negative { "-" } else { "" };
    if (1e-3..1e7).contains(&abs) {
        let point = exp + 1; // digits before the decimal point
        let body = if point <= 0 {
            format!("0.{}{}", "0".repeat((-point) as usize), digits)
        } else if (point as usize) >= digits.len() {
            format!("{}{}.0", digits, "0".repeat(point as usize - digits.len()))
        } else {
            let (a, b) = digits.split_at(point as usize);
            format!("{a}.{b}")
        };
        format!("{sign}{body}")
    } else {
        let (first, rest) = digits.split_at(1);
        let rest = if rest.is_empty() { "0" } else { rest };
        format!("{sign}{first}.{rest}E{exp}")
    }
}

#[cfg(test)]
mod tests {
    use super::java_double;

    /// Expected strings are what SystemDS wrote into files (tests/data/io/sysds_written) or what
    /// Java's `Double.toString` is documented to print.
    #[test]
    fn matches_java() {
        assert_eq!(java_double(1.0), "1.0");
        assert_eq!(java_double(-2.5), "-2.5");
        assert_eq!(java_double(1e-20), "1.0E-20");
        assert_eq!(java_double(1e7), "1.0E7");
        assert_eq!(java_double(1234567.0), "1234567.0");
        assert_eq!(java_double(0.001), "0.001");
        assert_eq!(java_double(0.0001), "1.0E-4");
        assert_eq!(java_double(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(java_double(123.456e10), "1.23456E12");
        assert_eq!(java_double(f64::NAN), "NaN");
        assert_eq!(java_double(f64::NEG_INFINITY), "-Infinity");
        assert_eq!(java_double(100.0), "100.0");
    }
}
