//! Constant tensors (initializers, `Constant` nodes) decoded to doubles, and typed readers of a
//! node's attributes.

use super::proto::{AttributeProto, NodeProto, TensorProto};

/// A constant tensor in row-major order.
#[derive(Debug, Clone)]
pub struct Const {
    pub shape: Vec<usize>,
    pub data: Vec<f64>,
    /// The initializer it is (a model weight: trainable when it becomes a parameter), if any.
    pub init: Option<String>,
    /// Stored as 32-bit (or narrower) floats.
    pub float32: bool,
}

impl Const {
    pub fn cells(&self) -> usize {
        self.data.len()
    }

    /// The values as integers (shapes, axes, indices).
    pub fn ints(&self) -> Vec<i64> {
        self.data.iter().map(|&v| v as i64).collect()
    }
}

/// Decodes a tensor. Errors say what is wrong, without the tensor's name (the caller adds it).
pub fn decode_tensor(t: &TensorProto) -> Result<Const, String> {
    if t.data_location == 1 || !t.external_data.is_empty() {
        return Err(
            "its data is stored outside the file (external data, models over 2 GB): not supported".into()
        );
    }
    let mut shape = Vec::with_capacity(t.dims.len());
    for &d in &t.dims {
        shape.push(usize::try_from(d).map_err(|_| format!("has a negative dimension {d}"))?);
    }
    let cells: usize = shape.iter().product();
    let raw = &t.raw_data;
    let from_raw = |size: usize, f: &dyn Fn(&[u8]) -> f64| -> Result<Vec<f64>, String> {
        if raw.len() != cells * size {
            return Err(format!(
                "raw_data holds {} bytes; {cells} cells of {size} bytes need {}",
                raw.len(),
                cells * size
            ));
        }
        Ok(raw.chunks_exact(size).map(f).collect())
    };
    let le = |b: &[u8], n: usize| {
        let mut a = [0u8; 8];
        a[..n].copy_from_slice(&b[..n]);
        a
    };
    let use_raw = !raw.is_empty();
    let (data, float32) = match t.data_type {
        1 => (
            if use_raw {
                from_raw(4, &|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64)?
            } else {
                t.float_data.iter().map(|&v| v as f64).collect()
            },
            true,
        ),
        11 => (
            if use_raw { from_raw(8, &|b| f64::from_le_bytes(le(b, 8)))? } else { t.double_data.clone() },
            false,
        ),
        7 => (
            if use_raw {
                from_raw(8, &|b| i64::from_le_bytes(le(b, 8)) as f64)?
            } else {
                t.int64_data.iter().map(|&v| v as f64).collect()
            },
            false,
        ),
        6 => (
            if use_raw {
                from_raw(4, &|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64)?
            } else {
                t.int32_data.iter().map(|&v| v as f64).collect()
            },
            false,
        ),
        // BOOL, INT8, UINT8 (raw: one byte each; else in int32_data).
        9 | 3 | 2 => (
            if use_raw {
                from_raw(1, &|b| if t.data_type == 3 { b[0] as i8 as f64 } else { b[0] as f64 })?
            } else {
                t.int32_data.iter().map(|&v| v as f64).collect()
            },
            false,
        ),
        other => {
            return Err(format!("has element type {other} ({}), which is not supported", type_name(other)));
        }
    };
    if data.len() != cells {
        return Err(format!("holds {} values for its shape {shape:?} ({cells} cells)", data.len()));
    }
    Ok(Const { shape, data, init: None, float32 })
}

fn type_name(t: i32) -> &'static str {
    match t {
        4 => "UINT16",
        5 => "INT16",
        8 => "STRING",
        10 => "FLOAT16",
        12 => "UINT32",
        13 => "UINT64",
        14 => "COMPLEX64",
        15 => "COMPLEX128",
        16 => "BFLOAT16",
        _ => "unknown",
    }
}

/// A node's attributes by name.
pub struct Attrs<'a> {
    node: &'a NodeProto,
}

impl<'a> Attrs<'a> {
    pub fn new(node: &'a NodeProto) -> Self {
        Attrs { node }
    }

    pub fn get(&self, name: &str) -> Option<&'a AttributeProto> {
        self.node.attribute.iter().find(|a| a.name == name)
    }

    pub fn int(&self, name: &str, default: i64) -> i64 {
        self.get(name).map_or(default, |a| a.i)
    }

    pub fn float(&self, name: &str, default: f64) -> f64 {
        self.get(name).map_or(default, |a| a.f as f64)
    }

    pub fn ints(&self, name: &str) -> Option<Vec<i64>> {
        self.get(name).map(|a| a.ints.clone())
    }

    pub fn string(&self, name: &str, default: &str) -> String {
        self.get(name).map_or(default.to_string(), |a| String::from_utf8_lossy(&a.s).into_owned())
    }

    pub fn strings(&self, name: &str) -> Option<Vec<String>> {
        self.get(name).map(|a| a.strings.iter().map(|s| String::from_utf8_lossy(s).into_owned()).collect())
    }
}
