//! Shape arithmetic folded at import time: `Shape`, and `Gather`, `Unsqueeze`, `Squeeze`,
//! `Concat`, `Slice` and `Cast` over shape vectors.
//!
//! PyTorch exports `x.view(x.size(0), -1)` as `Shape -> Gather(0) -> Unsqueeze -> Concat(with
//! -1) -> Reshape`: a shape computed from the input at run time. Every axis but the batch axis
//! has a fixed size here, so such a vector is known at import time up to its batch entries
//! ([`ShapeVal`], `None` where the batch size goes). A vector with every entry known becomes an
//! ordinary constant; one that still holds the batch may only end as a `Reshape`'s target, where
//! the first axis stays the batch axis (the `Reshape` lowering ignores its first entry).

use super::lower::{Lowering, Value, node_err};
use super::ops::{input_name, resolve_axis};
use super::proto::NodeProto;
use super::value::{Attrs, Const};
use crate::convert::error::ConvertError;

type R<T> = Result<T, ConvertError>;

/// An integer vector (or scalar) whose batch entries are known only at run time.
#[derive(Debug, Clone, PartialEq)]
pub struct ShapeVal {
    pub dims: Vec<Option<i64>>,
    /// A 0-D value (one entry), as `Gather` with a scalar index gives.
    pub scalar: bool,
}

/// Whether input `i` of `n` is a shape value or a small integer constant (what the ops of this
/// module take), rather than a tensor of the graph.
pub fn is_shape_input(cx: &Lowering, n: &NodeProto, i: usize) -> bool {
    let Some(name) = n.input.get(i).filter(|s| !s.is_empty()) else { return false };
    match cx.values.get(name) {
        Some(Value::Shape(_)) => true,
        Some(Value::Const(c)) => c.shape.len() <= 1,
        _ => false,
    }
}

/// Input `i` as a shape value.
fn shape_input(cx: &Lowering, n: &NodeProto, i: usize) -> R<ShapeVal> {
    match cx.value(n, input_name(n, i)?)? {
        Value::Shape(s) => Ok(s),
        Value::Const(c) if c.shape.len() <= 1 => {
            Ok(ShapeVal { dims: c.ints().into_iter().map(Some).collect(), scalar: c.shape.is_empty() })
        }
        Value::Const(c) => Err(node_err(
            n,
            format!("input {} is a constant of shape {:?}; shape arithmetic takes vectors", i + 1, c.shape),
        )),
        Value::Tensor(_) => Err(node_err(
            n,
            format!("input {} is a tensor of the graph; this op is supported on shape vectors only", i + 1),
        )),
    }
}

/// Binds output 0: a constant when every entry is known.
fn bind(cx: &mut Lowering, n: &NodeProto, s: ShapeVal) {
    let Some(name) = n.output.first().filter(|o| !o.is_empty()) else { return };
    let v = if s.dims.iter().all(Option::is_some) {
        let data: Vec<f64> = s.dims.iter().map(|d| d.unwrap_or(0) as f64).collect();
        let shape = if s.scalar { vec![] } else { vec![data.len()] };
        Value::Const(Const { shape, data, init: None, float32: false })
    } else {
        Value::Shape(s)
    };
    cx.values.insert(name.clone(), v);
}

/// `Shape` (with opset 15's `start` and `end`).
pub fn shape(cx: &mut Lowering, n: &NodeProto, a: &Attrs) -> R<()> {
    let dims: Vec<Option<i64>> = match cx.value(n, input_name(n, 0)?)? {
        Value::Tensor(t) => {
            let mut d: Vec<Option<i64>> = t.shape.iter().map(|&v| Some(v as i64)).collect();
            d.insert(t.batch, None);
            d
        }
        Value::Const(c) => c.shape.iter().map(|&v| Some(v as i64)).collect(),
        Value::Shape(s) if s.scalar => Vec::new(),
        Value::Shape(s) => vec![Some(s.dims.len() as i64)],
    };
    let r = dims.len() as i64;
    let clamp = |v: i64| (if v < 0 { v + r } else { v }).clamp(0, r) as usize;
    let (start, end) = (clamp(a.int("start", 0)), clamp(a.int("end", r)));
    let dims = if start < end { dims[start..end].to_vec() } else { Vec::new() };
    bind(cx, n, ShapeVal { dims, scalar: false });
    Ok(())
}

/// `Gather` along axis 0 of a shape vector, with constant indices.
pub fn gather(cx: &mut Lowering, n: &NodeProto, a: &Attrs) -> R<()> {
    let data = shape_input(cx, n, 0)?;
    if data.scalar || a.int("axis", 0) != 0 {
        return Err(node_err(n, "gathering from a shape takes axis 0 of a vector"));
    }
    let idx = cx.required_const(n, 1, "indices")?;
    if idx.shape.len() > 1 {
        return Err(node_err(
            n,
            format!("indices of shape {:?} into a shape vector: a scalar or a vector expected", idx.shape),
        ));
    }
    let len = data.dims.len() as i64;
    let mut dims = Vec::new();
    for i in idx.ints() {
        let k = if i < 0 { i + len } else { i };
        if !(0..len).contains(&k) {
            return Err(node_err(n, format!("index {i} is outside the {len} entries of the shape")));
        }
        dims.push(data.dims[k as usize]);
    }
    bind(cx, n, ShapeVal { dims, scalar: idx.shape.is_empty() });
    Ok(())
}

/// The axes of `Unsqueeze`/`Squeeze`: input 2 from opset 13, the attribute before.
fn axes(cx: &Lowering, n: &NodeProto, a: &Attrs) -> R<Option<Vec<i64>>> {
    Ok(match cx.const_input(n, 1)? {
        Some(c) => Some(c.ints()),
        None => a.ints("axes"),
    })
}

/// `Unsqueeze` of a scalar to a vector, `Squeeze` of a one-entry vector to a scalar.
pub fn squeeze(cx: &mut Lowering, n: &NodeProto, a: &Attrs, squeeze: bool) -> R<()> {
    let mut s = shape_input(cx, n, 0)?;
    let rank = usize::from(!s.scalar);
    let ax = axes(cx, n, a)?;
    if squeeze {
        let ok = match &ax {
            Some(v) => v.len() == 1 && resolve_axis(n, v[0], rank.max(1))? == 0,
            None => true,
        };
        if s.scalar || s.dims.len() != 1 || !ok {
            return Err(node_err(
                n,
                "squeezing a shape value: only a one-entry vector to a scalar is supported",
            ));
        }
        s.scalar = true;
    } else {
        let ok = ax
            .as_ref()
            .is_some_and(|v| v.len() == 1 && resolve_axis(n, v[0], rank + 1).is_ok_and(|k| k == 0));
        if !s.scalar || !ok {
            return Err(node_err(
                n,
                "unsqueezing a shape value: only a scalar to a vector (axes [0]) is supported",
            ));
        }
        s.scalar = false;
    }
    bind(cx, n, s);
    Ok(())
}

/// `Concat` of shape vectors and integer constants (axis 0).
pub fn concat(cx: &mut Lowering, n: &NodeProto, a: &Attrs) -> R<()> {
    let axis = a.int("axis", 0);
    if axis != 0 && axis != -1 {
        return Err(node_err(n, format!("concatenating shape vectors along axis {axis}: only axis 0")));
    }
    let mut dims = Vec::new();
    for i in 0..n.input.len() {
        let s = shape_input(cx, n, i)?;
        if s.scalar {
            return Err(node_err(n, format!("input {} is a scalar; Concat takes vectors", i + 1)));
        }
        dims.extend(s.dims);
    }
    bind(cx, n, ShapeVal { dims, scalar: false });
    Ok(())
}

/// `Slice` of a shape vector (constant starts, ends, axes, steps; attributes before opset 10).
pub fn slice(cx: &mut Lowering, n: &NodeProto, a: &Attrs) -> R<()> {
    let s = shape_input(cx, n, 0)?;
    if s.scalar {
        return Err(node_err(n, "slicing a scalar"));
    }
    let arg = |i: usize, attr: &str| -> R<Option<Vec<i64>>> {
        if cx.opset < 10 {
            return Ok(a.ints(attr));
        }
        Ok(cx.const_input(n, i)?.map(|c| c.ints()))
    };
    let starts = arg(1, "starts")?.ok_or_else(|| node_err(n, "starts are missing"))?;
    let ends = arg(2, "ends")?.ok_or_else(|| node_err(n, "ends are missing"))?;
    let axes = arg(3, "axes")?.unwrap_or_else(|| vec![0]);
    let steps =
        if cx.opset < 10 { None } else { cx.const_input(n, 4)?.map(|c| c.ints()) }.unwrap_or_else(|| vec![1]);
    if starts.len() != 1
        || ends.len() != 1
        || axes.len() != 1
        || steps.len() != 1
        || resolve_axis(n, axes[0], 1)? != 0
    {
        return Err(node_err(n, "slicing a shape vector: one start, end and step along axis 0 expected"));
    }
    let (len, step) = (s.dims.len() as i64, steps[0]);
    if step == 0 {
        return Err(node_err(n, "a step of 0"));
    }
    // numpy's slice semantics (ONNX's): negative bounds count from the end, then clamp.
    let norm = |v: i64| if v < 0 { v + len } else { v };
    let (lo, hi) = if step > 0 { (0, len) } else { (-1, len - 1) };
    let (mut k, end) = (norm(starts[0]).clamp(lo, hi), norm(ends[0]).clamp(lo, hi));
    let mut dims = Vec::new();
    while (step > 0 && k < end) || (step < 0 && k > end) {
        dims.push(s.dims[k as usize]);
        k += step;
    }
    bind(cx, n, ShapeVal { dims, scalar: false });
    Ok(())
}

/// `Cast` of a shape value keeps it (integers in any numeric type).
pub fn cast(cx: &mut Lowering, n: &NodeProto) -> R<()> {
    let s = shape_input(cx, n, 0)?;
    bind(cx, n, s);
    Ok(())
}

/// A `Reshape` target that may hold the batch size: its first entry is the batch axis, which
/// the lowering keeps whatever the entry says; the batch may appear nowhere else.
pub fn reshape_target(cx: &Lowering, n: &NodeProto) -> R<Vec<i64>> {
    let s = shape_input(cx, n, 1)?;
    if s.dims.iter().skip(1).any(Option::is_none) {
        return Err(node_err(
            n,
            format!("the target shape {:?} puts the batch size on an axis other than the first", s.dims),
        ));
    }
    Ok(s.dims.iter().map(|d| d.unwrap_or(0)).collect())
}
