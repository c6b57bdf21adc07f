//! numpy `.npz` archives (a zip of `.npy` files), read as f64 arrays.
//!
//! The converter tests compare DML against outputs Keras computed, saved with `np.savez`; this
//! reads them without Python. Supported: `.npy` format versions 1, 2 and 3; element types
//! float16/32/64, signed and unsigned integers of 1 to 8 bytes and bool, either byte order; C or
//! Fortran order. Object arrays (pickles) are refused.
use std::collections::BTreeMap;
use std::path::Path;

use super::error::{ConvertError, FileCtx};

/// One array of an `.npz` file.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyArray {
    /// Dimensions; empty for a 0-d array.
    pub shape: Vec<usize>,
    /// The values in row-major (C) order, whatever order the file stored them in.
    pub data: Vec<f64>,
}

/// Reads an `.npz` file: array name (the member name without `.npy`) → array.
pub fn read_npz(path: &Path) -> Result<BTreeMap<String, NpyArray>, ConvertError> {
    let bytes = std::fs::read(path).map_err(|source| ConvertError::Io {
        path: path.to_path_buf(),
        action: "read",
        source,
    })?;
    npz_from_bytes(&bytes, &path.display().to_string())
}

/// Reads an `.npz` archive from memory; `name` is used in error messages.
pub fn npz_from_bytes(bytes: &[u8], name: &str) -> Result<BTreeMap<String, NpyArray>, ConvertError> {
    let ctx = FileCtx { file: name };
    let members = super::keras::unzip_members(bytes, ctx)?;
    let mut out = BTreeMap::new();
    for (member, data) in members {
        let array = parse_npy(&data, ctx, &format!("zip member {member}"))?;
        let key = member.strip_suffix(".npy").unwrap_or(&member).to_string();
        out.insert(key, array);
    }
    Ok(out)
}

/// Reads one `.npy` file from memory; `name` is used in error messages.
pub fn npy_from_bytes(bytes: &[u8], name: &str) -> Result<NpyArray, ConvertError> {
    parse_npy(bytes, FileCtx { file: name }, "npy data")
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Float,
    Int,
    UInt,
    Bool,
}

fn parse_npy(bytes: &[u8], ctx: FileCtx<'_>, part: &str) -> Result<NpyArray, ConvertError> {
    let bad = |d: String| ctx.malformed(part, d);
    if !bytes.starts_with(b"\x93NUMPY") {
        return Err(bad("not a .npy file (no \\x93NUMPY magic)".to_string()));
    }
    let major = *bytes.get(6).ok_or_else(|| bad("truncated header".into()))?;
    let (header_len, start): (Option<usize>, usize) = match major {
        1 => (bytes.get(8..10).map(|b| u16::from_le_bytes([b[0], b[1]]) as usize), 10),
        2 | 3 => (bytes.get(8..12).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize), 12),
        v => return Err(bad(format!(".npy format version {v} (1, 2 and 3 are known)"))),
    };
    let header_len = header_len.ok_or_else(|| bad("truncated header".into()))?;
    let header = start
        .checked_add(header_len)
        .and_then(|end| bytes.get(start..end))
        .ok_or_else(|| bad("truncated header".into()))?;
    let header = std::str::from_utf8(header).map_err(|e| bad(format!("header is not text: {e}")))?;
    let descr = dict_value(header, "descr").ok_or_else(|| bad(format!("no 'descr' in header {header:?}")))?;
    let descr = descr.trim().trim_matches(|c| c == '\'' || c == '"');
    let fortran = match dict_value(header, "fortran_order").map(str::trim) {
        Some("True") => true,
        Some("False") => false,
        _ => return Err(bad(format!("no fortran_order in header {header:?}"))),
    };
    let shape_text =
        dict_value(header, "shape").ok_or_else(|| bad(format!("no 'shape' in header {header:?}")))?.trim();
    let shape: Vec<usize> = shape_text
        .trim_start_matches('(')
        .trim_end_matches(')')
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.trim_end_matches('L').parse::<usize>().map_err(|e| bad(format!("shape {shape_text}: {e}")))
        })
        .collect::<Result<_, _>>()?;

    let mut chars = descr.chars();
    let order = chars.next().ok_or_else(|| bad("empty descr".into()))?;
    let big = match order {
        '<' | '|' | '=' => false,
        '>' => true,
        _ => return Err(bad(format!("dtype {descr:?}"))),
    };
    let kind = match chars.next() {
        Some('f') => Kind::Float,
        Some('i') => Kind::Int,
        Some('u') => Kind::UInt,
        Some('b') => Kind::Bool,
        _ => {
            return Err(ctx.unsupported(part, format!("dtype {descr:?} (numbers and bool only)")));
        }
    };
    let size: usize = chars.as_str().parse().map_err(|_| bad(format!("dtype {descr:?}")))?;
    let valid = matches!(
        (kind, size),
        (Kind::Float, 2 | 4 | 8) | (Kind::Int | Kind::UInt, 1 | 2 | 4 | 8) | (Kind::Bool, 1)
    );
    if !valid {
        return Err(ctx.unsupported(part, format!("dtype {descr:?}")));
    }
    let count = shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .ok_or_else(|| bad("shape overflows".into()))?;
    let body = &bytes[start + header_len..];
    let need = count.checked_mul(size).ok_or_else(|| bad("shape overflows".into()))?;
    if body.len() < need {
        return Err(bad(format!("data truncated: {} bytes for {count} values of {size} bytes", body.len())));
    }
    let values: Vec<f64> = body[..need].chunks_exact(size).map(|c| decode(c, kind, big)).collect();
    let data = if fortran && shape.len() > 1 { fortran_to_c(&values, &shape) } else { values };
    Ok(NpyArray { shape, data })
}

/// One element; `c` has the element's size (1, 2, 4 or 8 bytes).
fn decode(c: &[u8], kind: Kind, big: bool) -> f64 {
    let mut b = [0u8; 8];
    if big {
        // Right-align so that from_be_bytes of the 8-byte buffer reads the value.
        b[8 - c.len()..].copy_from_slice(c);
    } else {
        b[..c.len()].copy_from_slice(c);
    }
    let raw = if big { u64::from_be_bytes(b) } else { u64::from_le_bytes(b) };
    let bits = c.len() as u32 * 8;
    match kind {
        Kind::Bool => f64::from(u8::from(raw != 0)),
        Kind::UInt => raw as f64,
        Kind::Int => {
            let shift = 64 - bits;
            (((raw << shift) as i64) >> shift) as f64
        }
        Kind::Float => match bits {
            16 => half_to_f64(raw as u16),
            32 => f64::from(f32::from_bits(raw as u32)),
            _ => f64::from_bits(raw),
        },
    }
}

fn half_to_f64(h: u16) -> f64 {
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = i32::from((h >> 10) & 0x1f);
    let frac = f64::from(h & 0x3ff);
    sign * match exp {
        0 => frac * 2f64.powi(-24),
        31 if frac == 0.0 => f64::INFINITY,
        31 => f64::NAN,
        e => (1.0 + frac / 1024.0) * 2f64.powi(e - 15),
    }
}

/// Column-major values to row-major.
fn fortran_to_c(values: &[f64], shape: &[usize]) -> Vec<f64> {
    let n = values.len();
    let mut out = vec![0.0; n];
    // Fortran strides: the first index varies fastest.
    let mut fstride = vec![1usize; shape.len()];
    for i in 1..shape.len() {
        fstride[i] = fstride[i - 1] * shape[i - 1];
    }
    let mut idx = vec![0usize; shape.len()];
    for slot in out.iter_mut() {
        let f: usize = idx.iter().zip(&fstride).map(|(i, s)| i * s).sum();
        *slot = values.get(f).copied().unwrap_or(f64::NAN);
        // Advance the C-order index: the last index varies fastest.
        for d in (0..shape.len()).rev() {
            idx[d] += 1;
            if idx[d] < shape[d] {
                break;
            }
            idx[d] = 0;
        }
    }
    out
}

/// The text after `'key':` in a numpy header dict, up to the next top-level comma.
fn dict_value<'h>(header: &'h str, key: &str) -> Option<&'h str> {
    let at = header.find(&format!("'{key}'")).or_else(|| header.find(&format!("\"{key}\"")))?;
    let rest = &header[at + key.len() + 2..];
    let rest = rest.trim_start().strip_prefix(':')?;
    let mut depth = 0i32;
    for (i, ch) in rest.char_indices() {
        match ch {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            ',' | '}' if depth == 0 => return Some(&rest[..i]),
            _ => {}
        }
    }
    Some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy(descr: &str, fortran: bool, shape: &str, data: &[u8], version: u8) -> Vec<u8> {
        let header = format!(
            "{{'descr': '{descr}', 'fortran_order': {}, 'shape': {shape}, }}\n",
            if fortran { "True" } else { "False" }
        );
        let mut out = b"\x93NUMPY".to_vec();
        out.push(version);
        out.push(0);
        if version == 1 {
            out.extend_from_slice(&(header.len() as u16).to_le_bytes());
        } else {
            out.extend_from_slice(&(header.len() as u32).to_le_bytes());
        }
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(data);
        out
    }

    fn parse(b: &[u8]) -> NpyArray {
        npy_from_bytes(b, "t.npy").unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn types_and_orders() {
        let f8: Vec<u8> = [1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0].iter().flat_map(|v| v.to_le_bytes()).collect();
        let a = parse(&npy("<f8", false, "(2, 3)", &f8, 1));
        assert_eq!(a.shape, [2, 3]);
        assert_eq!(a.data, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        // Fortran order: columns first.
        let a = parse(&npy("<f8", true, "(2, 3)", &f8, 2));
        assert_eq!(a.data, [1.0, 3.0, 5.0, 2.0, 4.0, 6.0]);
        let i4: Vec<u8> = [-1i32, 7].iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(parse(&npy("<i4", false, "(2,)", &i4, 3)).data, [-1.0, 7.0]);
        let i8b: Vec<u8> = [-3i64].iter().flat_map(|v| v.to_be_bytes()).collect();
        assert_eq!(parse(&npy(">i8", false, "()", &i8b, 1)).data, [-3.0]);
        assert_eq!(parse(&npy("|b1", false, "(3,)", &[1, 0, 1], 1)).data, [1.0, 0.0, 1.0]);
        let f4: Vec<u8> = 0.5f32.to_le_bytes().to_vec();
        let a = parse(&npy("<f4", false, "()", &f4, 1));
        assert!(a.shape.is_empty());
        assert_eq!(a.data, [0.5]);
    }

    #[test]
    fn bad_inputs_are_errors() {
        assert!(npy_from_bytes(b"junk", "x").is_err());
        assert!(npy_from_bytes(&npy("<f8", false, "(4,)", &[0; 8], 1), "x").is_err());
        assert!(npy_from_bytes(&npy("|O", false, "(1,)", &[0; 8], 1), "x").is_err());
        assert!(npy_from_bytes(&npy("<f8", false, "(1,)", &[0; 8], 1)[..12], "x").is_err());
    }
}
