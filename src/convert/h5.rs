//! The few HDF5 operations the model readers and writers need, over the `hdf5-pure` crate.
//!
//! Keeping the crate behind this module means one place decides how untrusted bytes are
//! bounded (a dataset may not claim more bytes than the file holds) and how each HDF5 failure is
//! named ("HDF5 group /layers/dense/vars: ..."), and a change of HDF5 crate touches one file.
use std::collections::HashMap;

use hdf5_pure::{AttrValue, Datatype, DatatypeByteOrder, File, Layout};

use super::error::{ConvertError, FileCtx};
use super::keras::{DType, Tensor};

/// An HDF5 file image opened for reading.
pub(crate) struct H5<'a> {
    file: File,
    len: u64,
    ctx: FileCtx<'a>,
    /// Where the image sits inside the named file ("zip member model.weights.h5: "), or empty.
    prefix: String,
}

/// Where one contiguous little-endian dataset's values sit in the file image, for patching them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Extent {
    pub(crate) offset: usize,
    pub(crate) len: usize,
    pub(crate) dtype: DType,
}

/// Deepest group nesting walked. Keras nests a few levels per nested model
/// (`layers/sequential/layers/bidirectional/forward_layer/cell/vars`).
const MAX_DEPTH: usize = 64;

/// HDF5's signature, at offset 0 or after a user block of 512, 1024, 2048, ... bytes.
const SIGNATURE: &[u8; 8] = b"\x89HDF\r\n\x1a\n";

/// Whether `bytes` is an HDF5 file image (signature at 0 or at a power-of-two user block size).
pub(crate) fn is_hdf5(bytes: &[u8]) -> bool {
    let mut at = 0usize;
    loop {
        match bytes.get(at..at + SIGNATURE.len()) {
            Some(s) if s == SIGNATURE => return true,
            Some(_) => {}
            None => return false,
        }
        at = if at == 0 { 512 } else { at * 2 };
    }
}

impl<'a> H5<'a> {
    /// Opens an image; `within` names where it lies in the file ("zip member model.weights.h5").
    pub(crate) fn open(bytes: Vec<u8>, ctx: FileCtx<'a>, within: &str) -> Result<Self, ConvertError> {
        let prefix = if within.is_empty() { String::new() } else { format!("{within}: ") };
        let len = bytes.len() as u64;
        if !is_hdf5(&bytes) {
            return Err(ctx.malformed(format!("{prefix}HDF5 file"), "no HDF5 signature: not an HDF5 file"));
        }
        let file = File::from_bytes(bytes)
            .map_err(|e| ctx.malformed(format!("{prefix}HDF5 file"), format!("cannot open: {e}")))?;
        Ok(Self { file, len, ctx, prefix })
    }

    /// The part of the file a group or dataset path is: "zip member ...: HDF5 group /a/b".
    pub(crate) fn part(&self, kind: &str, path: &str) -> String {
        format!("{}HDF5 {kind} /{}", self.prefix, path.trim_start_matches('/'))
    }

    pub(crate) fn ctx(&self) -> FileCtx<'a> {
        self.ctx
    }

    fn group(&self, path: &str) -> Result<hdf5_pure::Group, ConvertError> {
        if path.is_empty() {
            return Ok(self.file.root());
        }
        self.file.group(path).map_err(|e| self.ctx.malformed(self.part("group", path), e))
    }

    /// The child groups and datasets of a group, each list in the file's (name) order.
    ///
    /// Refuses groups nested deeper than [`MAX_DEPTH`]: a damaged file can link a group to its
    /// own ancestor, and every walk over a file's groups goes through here.
    pub(crate) fn children(&self, path: &str) -> Result<(Vec<String>, Vec<String>), ConvertError> {
        if path.split('/').filter(|p| !p.is_empty()).count() > MAX_DEPTH {
            return Err(self.ctx.malformed(
                self.part("group", path),
                format!("groups nested more than {MAX_DEPTH} deep: a group linked to its own ancestor?"),
            ));
        }
        let g = self.group(path)?;
        let part = || self.part("group", path);
        let groups =
            g.groups().map_err(|e| self.ctx.malformed(part(), format!("cannot list groups: {e}")))?;
        let datasets =
            g.datasets().map_err(|e| self.ctx.malformed(part(), format!("cannot list datasets: {e}")))?;
        // A damaged name ("", ".", "a/b") would make a path that resolves back to this group or
        // elsewhere, and a walk over the children would never end.
        if let Some(bad) =
            groups.iter().chain(&datasets).find(|n| n.is_empty() || *n == "." || n.contains('/'))
        {
            return Err(self.ctx.malformed(part(), format!("a member has the invalid name {bad:?}")));
        }
        Ok((groups, datasets))
    }

    /// Whether `path` names a group. Looks the last component up in its parent's listing, so
    /// that "absent" and "damaged" stay apart: only a damaged parent is an error.
    pub(crate) fn has_group(&self, path: &str) -> Result<bool, ConvertError> {
        let (parent, name) = match path.rsplit_once('/') {
            Some((p, n)) => (p, n),
            None => ("", path),
        };
        if !parent.is_empty() && !self.has_group(parent)? {
            return Ok(false);
        }
        Ok(self.children(parent)?.0.iter().any(|g| g == name))
    }

    /// All attributes of a group.
    pub(crate) fn group_attrs(&self, path: &str) -> Result<HashMap<String, AttrValue>, ConvertError> {
        self.group(path)?
            .attrs()
            .map_err(|e| self.ctx.malformed(self.part("group", path), format!("cannot read attributes: {e}")))
    }

    /// A string attribute of a group (scalar, or a one-element array), fixed or variable length.
    pub(crate) fn group_attr_string(&self, path: &str, name: &str) -> Result<Option<String>, ConvertError> {
        let attrs = self.group_attrs(path)?;
        let Some(v) = attrs.get(name) else { return Ok(None) };
        match attr_strings(v) {
            Some(mut s) if s.len() == 1 => Ok(s.pop()),
            _ => Err(self.ctx.malformed(
                format!("{}, attribute {name}", self.part("group", path)),
                format!("expected a string, found {}", v.type_name()),
            )),
        }
    }

    /// A string-array attribute that Keras may have split into `name0, name1, ...` because HDF5
    /// object headers hold at most 64 KB (legacy_h5_format.py `save_attributes_to_hdf5_group`).
    /// An empty float64 array (what Keras writes for a layer without weights) is an empty list.
    pub(crate) fn split_string_attr(
        &self,
        path: &str,
        name: &str,
    ) -> Result<Option<Vec<String>>, ConvertError> {
        let attrs = self.group_attrs(path)?;
        let strings = |key: &str, v: &AttrValue| {
            attr_strings(v).ok_or_else(|| {
                self.ctx.malformed(
                    format!("{}, attribute {key}", self.part("group", path)),
                    format!("expected an array of strings, found {}", v.type_name()),
                )
            })
        };
        if let Some(v) = attrs.get(name) {
            return strings(name, v).map(Some);
        }
        let mut out = Vec::new();
        let mut found = false;
        for i in 0.. {
            let key = format!("{name}{i}");
            let Some(v) = attrs.get(&key) else { break };
            out.extend(strings(&key, v)?);
            found = true;
        }
        Ok(found.then_some(out))
    }

    /// Reads a dataset as f64 values in row-major order, keeping the stored type.
    pub(crate) fn read_tensor(&self, path: &str) -> Result<Tensor, ConvertError> {
        let part = || self.part("dataset", path);
        let bad = |e: &dyn std::fmt::Display| self.ctx.malformed(part(), e.to_string());
        let ds = self.file.dataset(path).map_err(|e| bad(&e))?;
        let shape = self.shape(&ds, path)?;
        let count = checked_count(&shape).ok_or_else(|| bad(&"the shape overflows"))?;
        let dtype = self.dtype(&ds, path)?;
        let declared = count.checked_mul(dtype.dtype.size()).ok_or_else(|| bad(&"the shape overflows"))?;
        // A declared size far beyond the file is a damaged (or hostile) header, not data: refuse
        // it before asking for the memory (Keras guards its loads the same way).
        match ds.layout().map_err(|e| bad(&e))? {
            Layout::Contiguous { address: Some(addr), size } => {
                if size != declared as u64 || addr.checked_add(size).is_none_or(|end| end > self.len) {
                    return Err(bad(&format!(
                        "declares {declared} bytes of data, but stores {size} bytes at offset {addr} \
                         in a file of {} bytes",
                        self.len
                    )));
                }
            }
            // Compact data lives in the header; unwritten data is a fill value; chunks may be
            // compressed. Allow what compression could plausibly explain, as Keras does.
            Layout::Compact { .. } | Layout::Contiguous { address: None, .. } | Layout::Chunked { .. } => {
                if declared as u64 > self.len.saturating_mul(1000) {
                    return Err(bad(&format!("declares {declared} bytes in a file of {} bytes", self.len)));
                }
            }
            other => return Err(self.ctx.unsupported(part(), format!("dataset layout {other:?}"))),
        }
        let raw = ds.read_raw().map_err(|e| bad(&format!("cannot read data: {e}")))?;
        if raw.len() != declared {
            return Err(bad(&format!("holds {} bytes of data, {declared} expected", raw.len())));
        }
        let data = decode(&raw, dtype);
        Ok(Tensor { name: path.trim_start_matches('/').to_string(), shape, data, dtype: dtype.dtype })
    }

    /// Where a dataset's values lie in the image, for overwriting them in place. Only contiguous
    /// little-endian storage of a known type qualifies, which is what h5py writes for Keras.
    pub(crate) fn extent(&self, path: &str) -> Result<Extent, ConvertError> {
        let part = || self.part("dataset", path);
        let bad = |e: &dyn std::fmt::Display| self.ctx.malformed(part(), e.to_string());
        let ds = self.file.dataset(path).map_err(|e| bad(&e))?;
        let shape = self.shape(&ds, path)?;
        let dtype = self.dtype(&ds, path)?;
        if dtype.big_endian {
            return Err(self.ctx.unsupported(part(), "rewriting a big-endian dataset"));
        }
        let count = checked_count(&shape).ok_or_else(|| bad(&"the shape overflows"))?;
        let declared = count.checked_mul(dtype.dtype.size()).ok_or_else(|| bad(&"the shape overflows"))?;
        match ds.layout().map_err(|e| bad(&e))? {
            Layout::Contiguous { address: Some(addr), size }
                if size == declared as u64 && addr.checked_add(size).is_some_and(|end| end <= self.len) =>
            {
                let offset = usize::try_from(addr).map_err(|e| bad(&e))?;
                Ok(Extent { offset, len: declared, dtype: dtype.dtype })
            }
            other => Err(self.ctx.unsupported(
                part(),
                format!("rewriting a dataset stored as {other:?}: only contiguous storage is rewritten"),
            )),
        }
    }

    fn shape(&self, ds: &hdf5_pure::Dataset, path: &str) -> Result<Vec<usize>, ConvertError> {
        let shape = ds.shape().map_err(|e| self.ctx.malformed(self.part("dataset", path), e))?;
        shape
            .into_iter()
            .map(|d| usize::try_from(d).map_err(|e| self.ctx.malformed(self.part("dataset", path), e)))
            .collect()
    }

    fn dtype(&self, ds: &hdf5_pure::Dataset, path: &str) -> Result<StoredType, ConvertError> {
        let part = || self.part("dataset", path);
        let dt = ds.datatype().map_err(|e| self.ctx.malformed(part(), e))?;
        let little = |o: &DatatypeByteOrder| match o {
            DatatypeByteOrder::LittleEndian => Some(false),
            DatatypeByteOrder::BigEndian => Some(true),
            DatatypeByteOrder::Vax => None,
        };
        let found = match &dt {
            Datatype::FloatingPoint { size, byte_order, .. } => {
                let t = match size {
                    2 => Some(DType::F16),
                    4 => Some(DType::F32),
                    8 => Some(DType::F64),
                    _ => None,
                };
                t.zip(little(byte_order))
            }
            Datatype::FixedPoint { size, byte_order, layout } => {
                let t = match (size, layout.signed) {
                    (1, true) => Some(DType::I8),
                    (2, true) => Some(DType::I16),
                    (4, true) => Some(DType::I32),
                    (8, true) => Some(DType::I64),
                    (1, false) => Some(DType::U8),
                    (2, false) => Some(DType::U16),
                    (4, false) => Some(DType::U32),
                    (8, false) => Some(DType::U64),
                    _ => None,
                };
                t.zip(little(byte_order))
            }
            // Keras stores bfloat16 through h5py as a 2-byte opaque type plus the dataset
            // attribute dtype="bfloat16" (saving_lib.py H5IOStore.__setitem__).
            Datatype::Opaque { size: 2, .. } => {
                let attrs = ds.attrs().map_err(|e| self.ctx.malformed(part(), e))?;
                match attrs.get("dtype").and_then(AttrValue::as_str) {
                    Some("bfloat16") => Some((DType::BF16, false)),
                    _ => None,
                }
            }
            _ => None,
        };
        match found {
            Some((dtype, big_endian)) => Ok(StoredType { dtype, big_endian }),
            None => Err(self.ctx.unsupported(part(), format!("element type {dt:?}"))),
        }
    }
}

/// A dataset's element type as stored.
#[derive(Debug, Clone, Copy)]
struct StoredType {
    dtype: DType,
    big_endian: bool,
}

fn checked_count(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d))
}

/// The strings of a string attribute, whichever of HDF5's string encodings the writer chose
/// (h5py 3 writes variable-length ones; Keras 2 with h5py 2, and Keras's split chunks, fixed-length
/// ones). An empty float64 array is Keras's `weight_names` of a layer without weights.
pub(crate) fn attr_strings(v: &AttrValue) -> Option<Vec<String>> {
    if let Some(s) = v.as_strings() {
        return Some(s.to_vec());
    }
    match v {
        AttrValue::F64Array(a) if a.is_empty() => Some(Vec::new()),
        AttrValue::F32Array(a) if a.is_empty() => Some(Vec::new()),
        _ => None,
    }
}

/// Decodes stored values (either byte order) to f64.
fn decode(raw: &[u8], t: StoredType) -> Vec<f64> {
    macro_rules! conv {
        ($ty:ty, $n:expr) => {
            raw.chunks_exact($n)
                .map(|c| {
                    let mut b = [0u8; $n];
                    b.copy_from_slice(c);
                    (if t.big_endian { <$ty>::from_be_bytes(b) } else { <$ty>::from_le_bytes(b) }) as f64
                })
                .collect()
        };
    }
    let half = |f: fn(u16) -> f64| -> Vec<f64> {
        raw.chunks_exact(2)
            .map(|c| {
                let b = [c[0], c[1]];
                f(if t.big_endian { u16::from_be_bytes(b) } else { u16::from_le_bytes(b) })
            })
            .collect()
    };
    match t.dtype {
        DType::F16 => half(f16_to_f64),
        DType::BF16 => half(|h| f64::from(f32::from_bits(u32::from(h) << 16))),
        DType::F32 => conv!(f32, 4),
        DType::F64 => conv!(f64, 8),
        DType::I8 => conv!(i8, 1),
        DType::I16 => conv!(i16, 2),
        DType::I32 => conv!(i32, 4),
        DType::I64 => conv!(i64, 8),
        DType::U8 => conv!(u8, 1),
        DType::U16 => conv!(u16, 2),
        DType::U32 => conv!(u32, 4),
        DType::U64 => conv!(u64, 8),
    }
}

/// IEEE half precision to f64 (no half-float crate for one function).
fn f16_to_f64(h: u16) -> f64 {
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

/// Encodes f64 values into a little-endian image of `dtype`, rounding to the nearest value of a
/// float type and to the nearest integer (saturating) of an integer type.
pub(crate) fn encode_le(values: &[f64], dtype: DType) -> Vec<u8> {
    let mut out = Vec::with_capacity(values.len() * dtype.size());
    for &v in values {
        match dtype {
            DType::F16 => out.extend_from_slice(&f64_to_f16(v).to_le_bytes()),
            DType::BF16 => out.extend_from_slice(&f32_to_bf16(v as f32).to_le_bytes()),
            DType::F32 => out.extend_from_slice(&(v as f32).to_le_bytes()),
            DType::F64 => out.extend_from_slice(&v.to_le_bytes()),
            DType::I8 => out.extend_from_slice(&(v.round() as i8).to_le_bytes()),
            DType::I16 => out.extend_from_slice(&(v.round() as i16).to_le_bytes()),
            DType::I32 => out.extend_from_slice(&(v.round() as i32).to_le_bytes()),
            DType::I64 => out.extend_from_slice(&(v.round() as i64).to_le_bytes()),
            DType::U8 => out.extend_from_slice(&(v.round() as u8).to_le_bytes()),
            DType::U16 => out.extend_from_slice(&(v.round() as u16).to_le_bytes()),
            DType::U32 => out.extend_from_slice(&(v.round() as u32).to_le_bytes()),
            DType::U64 => out.extend_from_slice(&(v.round() as u64).to_le_bytes()),
        }
    }
    out
}

/// Round-to-nearest-even f32 → bfloat16 bits.
fn f32_to_bf16(v: f32) -> u16 {
    let bits = v.to_bits();
    if v.is_nan() {
        return ((bits >> 16) as u16) | 0x40;
    }
    let round = 0x7fff + ((bits >> 16) & 1);
    (bits.wrapping_add(round) >> 16) as u16
}

/// f64 → IEEE half bits, rounding to nearest even through f32.
fn f64_to_f16(v: f64) -> u16 {
    let x = (v as f32).to_bits();
    let sign = ((x >> 16) & 0x8000) as u16;
    let exp = ((x >> 23) & 0xff) as i32;
    let man = x & 0x7f_ffff;
    if exp == 0xff {
        return sign | 0x7c00 | if man != 0 { 0x200 } else { 0 };
    }
    let e = exp - 127 + 15;
    if e >= 0x1f {
        return sign | 0x7c00;
    }
    if e <= 0 {
        if e < -10 {
            return sign;
        }
        let m = man | 0x80_0000;
        let shift = (14 - e) as u32;
        let half = 1u32 << (shift - 1);
        let rest = m & ((1u32 << shift) - 1);
        let mut r = m >> shift;
        if rest > half || (rest == half && r & 1 == 1) {
            r += 1;
        }
        return sign | r as u16;
    }
    let mut r = ((e as u32) << 10) | (man >> 13);
    let rest = man & 0x1fff;
    if rest > 0x1000 || (rest == 0x1000 && r & 1 == 1) {
        r += 1;
    }
    sign | r as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_floats_round_trip() {
        for v in [0.0, 1.0, -2.5, 65504.0, 6.103515625e-5, 5.960464477539063e-8, 0.333251953125] {
            assert_eq!(f16_to_f64(f64_to_f16(v)), v, "{v}");
        }
        assert_eq!(f64::from(f32::from_bits(u32::from(f32_to_bf16(1.5)) << 16)), 1.5);
    }

    #[test]
    fn signature_after_a_user_block() {
        let mut b = vec![0u8; 512];
        b.extend_from_slice(SIGNATURE);
        assert!(is_hdf5(&b));
        assert!(!is_hdf5(&b[..100]));
    }
}
