//! One lowering per ONNX op (the default domain), in the semantics of ONNX's Operators.md.

use ndarray::Array2;

use super::lower::{Lowering, SUPPORTED, TensorVal, Value, describe, layer_name, node_err};
use super::proto::NodeProto;
use super::value::{Attrs, Const, decode_tensor};
use crate::convert::error::ConvertError;
use crate::convert::ir::{
    Activation, ArithArg, ArithKind, ArithSource, MergeKind, Op, Pads, ParamTransform, PoolKind,
};
use crate::convert::shapes::same_pads;

type R<T> = Result<T, ConvertError>;

pub fn lower_node(cx: &mut Lowering, n: &NodeProto) -> R<()> {
    if !(n.domain.is_empty() || n.domain == "ai.onnx") {
        return Err(node_err(
            n,
            format!("ops of the domain `{}` are not supported (only ONNX's default domain)", n.domain),
        ));
    }
    let a = Attrs::new(n);
    use super::shape_fold as sf;
    // Shape arithmetic (PyTorch's dynamic-batch flatten) folds at import time.
    let on_shapes = |cx: &Lowering| sf::is_shape_input(cx, n, 0);
    match n.op_type.as_str() {
        "Shape" => return sf::shape(cx, n, &a),
        "Slice" => return sf::slice(cx, n, &a),
        "Cast" if on_shapes(cx) => return sf::cast(cx, n),
        "Cast" => return cast(cx, n, &a),
        "Gather" if on_shapes(cx) => return sf::gather(cx, n, &a),
        "Unsqueeze" if on_shapes(cx) => return sf::squeeze(cx, n, &a, false),
        "Squeeze" if on_shapes(cx) => return sf::squeeze(cx, n, &a, true),
        "Concat" if (0..n.input.len()).all(|i| sf::is_shape_input(cx, n, i)) => return sf::concat(cx, n, &a),
        _ => {}
    }
    match n.op_type.as_str() {
        "Identity" => {
            let v = cx.value(n, input_name(n, 0)?)?;
            bind(cx, n, v);
            Ok(())
        }
        "Constant" => constant(cx, n, &a),
        "Relu" => activation(cx, n, Activation::RELU),
        "LeakyRelu" => activation(
            cx,
            n,
            Activation::Relu { negative_slope: a.float("alpha", 0.01), max_value: None, threshold: 0.0 },
        ),
        "Sigmoid" => activation(cx, n, Activation::Sigmoid),
        "Tanh" => activation(cx, n, Activation::Tanh),
        "Gelu" => match a.string("approximate", "none").as_str() {
            "none" => activation(cx, n, Activation::Gelu { approximate: false }),
            "tanh" => activation(cx, n, Activation::Gelu { approximate: true }),
            other => Err(node_err(n, format!("approximate=\"{other}\" is not one of \"none\", \"tanh\""))),
        },
        "Softmax" => softmax(cx, n, &a, Activation::Softmax),
        "LogSoftmax" => softmax(cx, n, &a, Activation::LogSoftmax),
        "Dropout" => dropout(cx, n, &a),
        "Add" => arith(cx, n, ArithKind::Add),
        "Sub" => arith(cx, n, ArithKind::Sub),
        "Mul" => arith(cx, n, ArithKind::Mul),
        "Div" => arith(cx, n, ArithKind::Div),
        "Gemm" => gemm(cx, n, &a),
        "MatMul" => matmul(cx, n),
        "Conv" => conv(cx, n, &a),
        "ConvTranspose" => conv_transpose(cx, n, &a),
        "MaxPool" => pool(cx, n, &a, true),
        "AveragePool" => pool(cx, n, &a, false),
        "GlobalAveragePool" => global_average_pool(cx, n),
        "BatchNormalization" => batch_norm(cx, n, &a),
        "LayerNormalization" => layer_norm(cx, n, &a),
        "Flatten" => flatten(cx, n, &a),
        "Reshape" => reshape(cx, n, &a),
        "Transpose" => transpose(cx, n, &a),
        "Concat" => concat(cx, n, &a),
        "Squeeze" => squeeze(cx, n, &a, true),
        "Unsqueeze" => squeeze(cx, n, &a, false),
        "LSTM" => super::rnn::lstm(cx, n, &a),
        "GRU" => super::rnn::gru(cx, n, &a),
        "Gather" => gather(cx, n, &a),
        other => Err(node_err(
            n,
            format!("the op type {other} is not supported; supported: {}", SUPPORTED.join(", ")),
        )),
    }
}

pub(super) fn input_name(n: &NodeProto, i: usize) -> R<&str> {
    n.input
        .get(i)
        .map(String::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| node_err(n, format!("input {} is missing", i + 1)))
}

fn bind(cx: &mut Lowering, n: &NodeProto, v: Value) {
    if let Some(o) = n.output.first().filter(|s| !s.is_empty()) {
        cx.values.insert(o.clone(), v);
    }
}

/// Errors when an extra output (a mask, indices, running statistics) is read.
pub(super) fn only_first_output(cx: &Lowering, n: &NodeProto) -> R<()> {
    for k in 1..n.output.len() {
        if cx.output_used(n, k) {
            return Err(node_err(n, format!("its output {} (`{}`) is not supported", k + 1, n.output[k])));
        }
    }
    Ok(())
}

/// `Cast` of a tensor: the engine computes in doubles, so a cast to a floating type is the
/// identity; casts to integers or booleans would change values and are refused.
fn cast(cx: &mut Lowering, n: &NodeProto, a: &Attrs) -> R<()> {
    // FLOAT, FLOAT16, DOUBLE, BFLOAT16.
    let to = a.int("to", 0);
    if ![1, 10, 11, 16].contains(&to) {
        return Err(node_err(
            n,
            format!("a cast of a tensor to the type {to} (not a floating type) is not supported"),
        ));
    }
    let v = cx.tensor_input(n, 0)?;
    cx.set_output(n, 0, v);
    Ok(())
}

fn constant(cx: &mut Lowering, n: &NodeProto, a: &Attrs) -> R<()> {
    let c = if let Some(t) = a.get("value").and_then(|v| v.t.as_ref()) {
        decode_tensor(t).map_err(|e| node_err(n, format!("its value {e}")))?
    } else if let Some(v) = a.get("value_float") {
        Const { shape: vec![], data: vec![v.f as f64], init: None, float32: true }
    } else if let Some(v) = a.get("value_floats") {
        Const {
            shape: vec![v.floats.len()],
            data: v.floats.iter().map(|&f| f as f64).collect(),
            init: None,
            float32: true,
        }
    } else if let Some(v) = a.get("value_int") {
        Const { shape: vec![], data: vec![v.i as f64], init: None, float32: false }
    } else if let Some(v) = a.get("value_ints") {
        Const {
            shape: vec![v.ints.len()],
            data: v.ints.iter().map(|&i| i as f64).collect(),
            init: None,
            float32: false,
        }
    } else {
        return Err(node_err(n, "only value, value_float(s) and value_int(s) constants are supported"));
    };
    cx.set_const(n, 0, c);
    Ok(())
}

fn activation(cx: &mut Lowering, n: &NodeProto, act: Activation) -> R<()> {
    let v = cx.tensor_input(n, 0)?;
    let node = cx.add_node(n, &layer_name(n), Op::Activation(act), &[v.t])?;
    let out = cx.out(node);
    let val = cx.val(out, v.batch, v.cl);
    cx.set_output(n, 0, val);
    Ok(())
}

/// The axis `axis` (negative counts from the end) of a rank-`rank` tensor.
pub(super) fn resolve_axis(n: &NodeProto, axis: i64, rank: usize) -> R<usize> {
    let a = if axis < 0 { axis + rank as i64 } else { axis };
    if a < 0 || a >= rank as i64 {
        return Err(node_err(n, format!("axis {axis} is out of range for a rank-{rank} tensor")));
    }
    Ok(a as usize)
}

fn softmax(cx: &mut Lowering, n: &NodeProto, a: &Attrs, act: Activation) -> R<()> {
    let v = cx.tensor_input(n, 0)?;
    let default = if cx.opset >= 13 { -1 } else { 1 };
    let axis = resolve_axis(n, a.int("axis", default), v.rank())?;
    if cx.opset < 13 && axis != v.rank() - 1 {
        return Err(node_err(
            n,
            "before opset 13 Softmax flattens the axes from `axis` on; only axis = the last axis is supported",
        ));
    }
    // Channels-last views compute over their last axis, ONNX's channel axis.
    let channel = v.cl && axis == 1 && v.batch == 0;
    let t = if channel {
        v.t
    } else if axis == v.rank() - 1 && v.batch != axis {
        cx.plain(n, &v)?
    } else {
        return Err(node_err(
            n,
            format!(
                "over axis {axis} of {}: only the last axis (or the channels of an image) is supported",
                describe(&v)
            ),
        ));
    };
    let node = cx.add_node(n, &layer_name(n), Op::Activation(act), &[t])?;
    let out = cx.out(node);
    let val = cx.val(out, v.batch, channel);
    cx.set_output(n, 0, val);
    Ok(())
}

fn dropout(cx: &mut Lowering, n: &NodeProto, a: &Attrs) -> R<()> {
    let v = cx.tensor_input(n, 0)?;
    only_first_output(cx, n)?;
    let rate = match cx.const_input(n, 1)? {
        Some(c) => c.data.first().copied().unwrap_or(0.5),
        None => a.float("ratio", 0.5),
    };
    if !(0.0..1.0).contains(&rate) {
        return Err(node_err(n, format!("ratio {rate} is not in [0, 1)")));
    }
    let node = cx.add_node(n, &layer_name(n), Op::Dropout { rate }, &[v.t])?;
    let out = cx.out(node);
    let val = cx.val(out, v.batch, v.cl);
    cx.set_output(n, 0, val);
    Ok(())
}

/// numpy's broadcast of two shapes (right-aligned).
fn broadcast_shape(n: &NodeProto, a: &[usize], b: &[usize]) -> R<Vec<usize>> {
    let r = a.len().max(b.len());
    let pad = |s: &[usize]| -> Vec<usize> {
        let mut v = vec![1; r - s.len()];
        v.extend_from_slice(s);
        v
    };
    let (a, b) = (pad(a), pad(b));
    a.iter()
        .zip(&b)
        .map(|(&x, &y)| match (x, y) {
            _ if x == y => Ok(x),
            (1, _) => Ok(y),
            (_, 1) => Ok(x),
            _ => Err(node_err(n, format!("shapes {a:?} and {b:?} do not broadcast"))),
        })
        .collect()
}

/// Folds `a <kind> b` of two constants.
fn fold(n: &NodeProto, kind: ArithKind, a: &Const, b: &Const) -> R<Const> {
    let shape = broadcast_shape(n, &a.shape, &b.shape)?;
    let cells: usize = shape.iter().product();
    let pick = |c: &Const, j: usize| -> f64 {
        let r = shape.len();
        let cs: Vec<usize> = {
            let mut v = vec![1; r - c.shape.len()];
            v.extend_from_slice(&c.shape);
            v
        };
        let (mut idx, mut rem, mut stride) = (0, j, 1);
        let mut strides = vec![0; r];
        for k in (0..r).rev() {
            strides[k] = stride;
            stride *= cs[k];
        }
        for k in (0..r).rev() {
            let coord = rem % shape[k];
            rem /= shape[k];
            if cs[k] != 1 {
                idx += coord * strides[k];
            }
        }
        c.data[idx]
    };
    let data = (0..cells)
        .map(|j| {
            let (x, y) = (pick(a, j), pick(b, j));
            match kind {
                ArithKind::Add => x + y,
                ArithKind::Sub => x - y,
                ArithKind::Mul => x * y,
                ArithKind::Div => x / y,
            }
        })
        .collect();
    Ok(Const { shape, data, init: None, float32: a.float32 && b.float32 })
}

/// The full ONNX shape of a tensor value with the batch axis as 1 (it broadcasts with itself).
fn full_shape(v: &TensorVal) -> Vec<usize> {
    let mut s = v.shape.clone();
    s.insert(v.batch, 1);
    s
}

/// The broadcast of an operand of (non-batch, right-aligned) shape `p` onto `out`: `None` when
/// it has the output's cells.
fn broadcast_of(p: &[usize], out: &[usize]) -> Option<(Vec<[usize; 3]>, usize)> {
    let r = out.len();
    let mut ps = vec![1; r.saturating_sub(p.len())];
    ps.extend_from_slice(&p[p.len().saturating_sub(r)..]);
    if ps == out {
        return None;
    }
    let cells: usize = ps.iter().product();
    let mut axes = Vec::new();
    let (mut os, mut pstride) = (1, 1);
    for k in (0..r).rev() {
        if ps[k] == out[k] && out[k] > 1 {
            axes.push([os, out[k], pstride]);
        }
        os *= out[k];
        pstride *= ps[k];
    }
    axes.reverse();
    Some((axes, cells))
}

fn arith(cx: &mut Lowering, n: &NodeProto, kind: ArithKind) -> R<()> {
    let (va, vb) = (cx.value(n, input_name(n, 0)?)?, cx.value(n, input_name(n, 1)?)?);
    if let Some(Value::Shape(s)) = [&va, &vb].into_iter().find(|v| matches!(v, Value::Shape(_))) {
        return Err(node_err(
            n,
            format!("arithmetic on the shape {:?}, which holds the batch size, is not supported", s.dims),
        ));
    }
    if let (Value::Const(x), Value::Const(y)) = (&va, &vb) {
        let c = fold(n, kind, x, y)?;
        cx.set_const(n, 0, c);
        return Ok(());
    }
    if kind == ArithKind::Add && dense_bias(cx, n, &va, &vb)? {
        return Ok(());
    }
    // The output's ONNX shape and batch axis.
    let full: Vec<Vec<usize>> = [&va, &vb]
        .iter()
        .map(|v| match v {
            Value::Tensor(t) => full_shape(t),
            Value::Const(c) => c.shape.clone(),
            Value::Shape(_) => Vec::new(),
        })
        .collect();
    let out_full = broadcast_shape(n, &full[0], &full[1])?;
    let r = out_full.len();
    let mut batch = None;
    for v in [&va, &vb] {
        if let Value::Tensor(t) = v {
            let b = t.batch + (r - t.rank());
            if batch.is_some_and(|x| x != b) {
                return Err(node_err(n, "its operands have their batch axes at different positions"));
            }
            batch = Some(b);
        }
    }
    let batch = batch.unwrap_or(0);
    for v in [&va, &vb] {
        if let Value::Const(c) = v {
            let k = batch as i64 - (r - c.shape.len()) as i64;
            if k >= 0 && c.shape[k as usize] != 1 {
                return Err(node_err(
                    n,
                    format!("the constant of shape {:?} varies along the batch axis", c.shape),
                ));
            }
        }
    }
    let mut out_shape = out_full.clone();
    out_shape.remove(batch);
    // Channels-last views stay when nothing broadcasts but scalars.
    let same = |v: &Value| match v {
        Value::Tensor(t) => t.cl && t.shape == out_shape && t.batch == batch,
        Value::Const(c) => c.cells() == 1,
        Value::Shape(_) => false,
    };
    let keep_cl = same(&va) && same(&vb) && [&va, &vb].iter().any(|v| matches!(v, Value::Tensor(_)));
    let mut inputs = Vec::new();
    let mut args = Vec::new();
    let mut consts = Vec::new();
    for v in [&va, &vb] {
        match v {
            Value::Tensor(t) => {
                let id = if keep_cl { t.t } else { cx.plain(n, t)? };
                let nb: Vec<usize> = t.shape.clone();
                let mut aligned = nb.clone();
                // Right-align the operand's non-batch axes with the output's.
                let lead = out_shape.len() - aligned.len();
                aligned.splice(0..0, std::iter::repeat_n(1, lead));
                inputs.push(id);
                let broadcast = if keep_cl { None } else { broadcast_of(&aligned, &out_shape) };
                args.push(ArithArg { source: ArithSource::Input(inputs.len() - 1), broadcast });
            }
            Value::Const(c) if c.cells() == 1 => {
                args.push(ArithArg { source: ArithSource::Scalar(c.data[0]), broadcast: None });
            }
            Value::Const(c) => {
                // Without the batch axis (size 1 there, or absent).
                let mut s = c.shape.clone();
                let k = batch as i64 - (r - s.len()) as i64;
                if k >= 0 {
                    s.remove(k as usize);
                }
                let broadcast = broadcast_of(&s, &out_shape);
                consts.push(c.clone());
                args.push(ArithArg { source: ArithSource::Param(consts.len() - 1), broadcast });
            }
            Value::Shape(_) => {}
        }
    }
    let logical = if keep_cl { super::lower::rotate_to_last(&out_shape) } else { out_shape.clone() };
    let node = cx.add_node(n, &layer_name(n), Op::Arith { kind, args, shape: logical }, &inputs)?;
    for c in consts {
        // A weight of the model (an initializer) is trained; a Constant node's value is not.
        let trainable = c.init.is_some();
        let role = if matches!(kind, ArithKind::Add | ArithKind::Sub) { "bias" } else { "scale" };
        cx.add_reshaped_param(node, role, &c, 1, c.cells(), trainable);
    }
    let out = cx.out(node);
    let val = cx.val(out, batch, keep_cl);
    cx.set_output(n, 0, val);
    Ok(())
}

/// `Add(MatMul(X, W), b)` with a bias row becomes the Dense's bias (PyTorch's `Linear` as newer
/// exporters write it). Returns whether it did.
fn dense_bias(cx: &mut Lowering, n: &NodeProto, va: &Value, vb: &Value) -> R<bool> {
    let (x_name, c) = match (va, vb) {
        (Value::Tensor(_), Value::Const(c)) => (&n.input[0], c),
        (Value::Const(c), Value::Tensor(_)) => (&n.input[1], c),
        _ => return Ok(false),
    };
    let Some(&node) = cx.biasless_dense.get(x_name) else { return Ok(false) };
    if cx.readers.get(x_name).copied().unwrap_or(0) != 1 || c.init.is_none() {
        return Ok(false);
    }
    let Op::Dense { units, .. } = cx.g.nodes[node].op else { return Ok(false) };
    if c.cells() != units || c.shape.last() != Some(&units) {
        return Ok(false);
    }
    cx.g.nodes[node].op = Op::Dense { units, use_bias: true };
    cx.add_reshaped_param(node, "bias", c, 1, units, true);
    cx.biasless_dense.remove(x_name);
    let Value::Tensor(v) = cx.values[x_name.as_str()].clone() else { return Ok(false) };
    cx.set_output(n, 0, v);
    Ok(true)
}

fn gemm(cx: &mut Lowering, n: &NodeProto, a: &Attrs) -> R<()> {
    let x = cx.tensor_input(n, 0)?;
    if a.int("transA", 0) != 0 {
        return Err(node_err(n, "transA=1 (a transposed batch) is not supported"));
    }
    if x.shape.len() != 1 || x.batch != 0 {
        return Err(node_err(n, format!("A must be [N, K], got {}", describe(&x))));
    }
    let b = cx.required_const(n, 1, "B")?;
    let c = cx.const_input(n, 2)?;
    let (alpha, beta) = (a.float("alpha", 1.0), a.float("beta", 1.0));
    let trans_b = a.int("transB", 0) != 0;
    let [r0, r1] = b.shape[..] else { return Err(node_err(n, format!("B must be 2-D, got {:?}", b.shape))) };
    let (k, m) = if trans_b { (r1, r0) } else { (r0, r1) };
    if k != x.shape[0] {
        return Err(node_err(n, format!("A has {} columns, B {k} rows", x.shape[0])));
    }
    let node = cx.add_node(n, &layer_name(n), Op::Dense { units: m, use_bias: c.is_some() }, &[x.t])?;
    // W = alpha * op(B), (K, M).
    let transform = if trans_b {
        ParamTransform::gather_fn(k, m, |r, col| col * k + r)
    } else {
        ParamTransform::Reshape { rows: k, cols: m }
    };
    let w = transform.to_dml(&b.data).mapv(|v| alpha * v);
    cx.add_param(node, "weight", &b, w, transform, true);
    if let Some(c) = c {
        let bias = match c.cells() {
            1 => Array2::from_elem((1, m), beta * c.data[0]),
            cells if cells == m && c.shape.last() == Some(&m) => {
                Array2::from_shape_fn((1, m), |(_, j)| beta * c.data[j])
            }
            _ => {
                return Err(node_err(
                    n,
                    format!("C of shape {:?} is not a bias of the {m} outputs", c.shape),
                ));
            }
        };
        let t = ParamTransform::gather_fn(1, m, |_, j| if c.cells() == 1 { 0 } else { j });
        cx.add_param(node, "bias", &c, bias, t, true);
    }
    let out = cx.out(node);
    let val = cx.val(out, 0, false);
    cx.set_output(n, 0, val);
    Ok(())
}

fn matmul(cx: &mut Lowering, n: &NodeProto) -> R<()> {
    let x = cx.tensor_input(n, 0)?;
    let Some(b) = cx.const_input(n, 1).map_err(|_| {
        node_err(n, "a product of two computed tensors is not supported; B must be a constant (a weight)")
    })?
    else {
        return Err(node_err(n, "input 2 is missing"));
    };
    let [k, m] = b.shape[..] else {
        return Err(node_err(n, format!("B must be 2-D (a weight matrix), got {:?}", b.shape)));
    };
    if x.shape.last() != Some(&k) || x.batch == x.rank() - 1 {
        return Err(node_err(n, format!("A {} does not end in B's {k} rows", describe(&x))));
    }
    let t = cx.plain(n, &x)?;
    let node = cx.add_node(n, &layer_name(n), Op::Dense { units: m, use_bias: false }, &[t])?;
    cx.add_reshaped_param(node, "weight", &b, k, m, true);
    let out = cx.out(node);
    let val = cx.val(out, x.batch, false);
    cx.set_output(n, 0, val);
    if let Some(o) = n.output.first() {
        cx.biasless_dense.insert(o.clone(), node);
    }
    Ok(())
}

/// The padding of a window op `[top, bottom, left, right]` from ONNX's `pads`/`auto_pad`.
fn window_pads(n: &NodeProto, a: &Attrs, hw: [usize; 2], k_eff: [usize; 2], s: [usize; 2]) -> R<Pads> {
    match a.string("auto_pad", "NOTSET").as_str() {
        "NOTSET" => {
            let p = a.ints("pads").unwrap_or_else(|| vec![0; 4]);
            if p.len() != 4 || p.iter().any(|&v| v < 0) {
                return Err(node_err(n, format!("pads {p:?}: four non-negative values expected (2-D)")));
            }
            Ok([p[0] as usize, p[2] as usize, p[1] as usize, p[3] as usize])
        }
        "VALID" => Ok([0; 4]),
        mode @ ("SAME_UPPER" | "SAME_LOWER") => {
            let (t, b) = same_pads(hw[0], k_eff[0], s[0]);
            let (l, r) = same_pads(hw[1], k_eff[1], s[1]);
            Ok(if mode == "SAME_UPPER" { [t, b, l, r] } else { [b, t, r, l] })
        }
        other => Err(node_err(
            n,
            format!("auto_pad \"{other}\" is not one of NOTSET, VALID, SAME_UPPER, SAME_LOWER"),
        )),
    }
}

fn pair(n: &NodeProto, a: &Attrs, name: &str, default: [usize; 2]) -> R<[usize; 2]> {
    match a.ints(name) {
        None => Ok(default),
        Some(v) if v.len() == 2 && v.iter().all(|&x| x > 0) => Ok([v[0] as usize, v[1] as usize]),
        Some(v) => {
            Err(node_err(n, format!("{name} {v:?}: two positive values expected (only 2-D is supported)")))
        }
    }
}

fn conv(cx: &mut Lowering, n: &NodeProto, a: &Attrs) -> R<()> {
    let x = cx.tensor_input(n, 0)?;
    let xt = cx.as_cl(n, &x)?;
    let [c, h, w] = x.shape[..] else { unreachable!("as_cl checked the rank") };
    let wt = cx.required_const(n, 1, "W")?;
    let bias = cx.const_input(n, 2)?;
    let [m, cg, kh, kw] = wt.shape[..] else {
        return Err(node_err(n, format!("W must be 4-D [M, C/group, kH, kW], got {:?}", wt.shape)));
    };
    if wt.shape.contains(&0) {
        return Err(node_err(n, format!("W {:?} is empty", wt.shape)));
    }
    let group = a.int("group", 1).max(1) as usize;
    let strides = pair(n, a, "strides", [1, 1])?;
    let dil = pair(n, a, "dilations", [1, 1])?;
    if let Some(ks) = a.ints("kernel_shape")
        && ks != [kh as i64, kw as i64]
    {
        return Err(node_err(n, format!("kernel_shape {ks:?} does not match W {:?}", wt.shape)));
    }
    if cg * group != c || m % group != 0 {
        return Err(node_err(
            n,
            format!("W {:?} with group={group} does not fit {c} input channels", wt.shape),
        ));
    }
    let k_eff = [(kh - 1) * dil[0] + 1, (kw - 1) * dil[1] + 1];
    let pads = window_pads(n, a, [h, w], k_eff, strides)?;
    let use_bias = bias.is_some();
    let node = if dil != [1, 1] || (group > 1 && cg != 1) {
        let op = Op::GroupedConv2D {
            filters: m,
            groups: group,
            kernel: [kh, kw],
            strides,
            dilations: dil,
            pads,
            use_bias,
        };
        let node = cx.add_node(n, &layer_name(n), op, &[xt])?;
        cx.add_reshaped_param(node, "weight", &wt, m, cg * kh * kw, true);
        node
    } else if group > 1 {
        // One input channel per group: depthwise, `m / c` filters per channel (output channel
        // `ch * dm + k`, as ONNX orders them).
        let dm = m / c;
        let op = Op::DepthwiseConv2D { depth_multiplier: dm, kernel: [kh, kw], strides, pads, use_bias };
        let node = cx.add_node(n, &layer_name(n), op, &[xt])?;
        cx.add_reshaped_param(node, "weight", &wt, c, dm * kh * kw, true);
        node
    } else {
        let op = Op::Conv2D { filters: m, kernel: [kh, kw], strides, pads, use_bias };
        let node = cx.add_node(n, &layer_name(n), op, &[xt])?;
        cx.add_reshaped_param(node, "weight", &wt, m, c * kh * kw, true);
        node
    };
    if let Some(b) = bias {
        if b.cells() != m {
            return Err(node_err(n, format!("B has {} values for {m} filters", b.cells())));
        }
        cx.add_reshaped_param(node, "bias", &b, m, 1, true);
    }
    let out = cx.out(node);
    let val = cx.val(out, 0, true);
    cx.set_output(n, 0, val);
    Ok(())
}

/// ONNX's ConvTranspose: the output size is `stride*(in-1) + output_padding + k_eff - pads`
/// (`k_eff` the dilated kernel's window); with `output_shape` or `auto_pad=SAME_*` the pads come
/// from the total padding that size asks for (`SAME_UPPER` puts the odd cell at the end, every
/// other mode at the start), as the operator's specification says.
fn conv_transpose(cx: &mut Lowering, n: &NodeProto, a: &Attrs) -> R<()> {
    let x = cx.tensor_input(n, 0)?;
    let xt = cx.as_cl(n, &x)?;
    let [c, h, w] = x.shape[..] else { unreachable!("as_cl checked the rank") };
    let wt = cx.required_const(n, 1, "W")?;
    let bias = cx.const_input(n, 2)?;
    let [wc, mg, kh, kw] = wt.shape[..] else {
        return Err(node_err(n, format!("W must be 4-D [C, M/group, kH, kW], got {:?}", wt.shape)));
    };
    if wt.shape.contains(&0) {
        return Err(node_err(n, format!("W {:?} is empty", wt.shape)));
    }
    let group = a.int("group", 1);
    if group < 1 || c % group as usize != 0 {
        return Err(node_err(n, format!("group={group} does not divide the {c} input channels")));
    }
    let group = group as usize;
    if wc != c {
        return Err(node_err(n, format!("W {:?} does not fit {c} input channels", wt.shape)));
    }
    if let Some(ks) = a.ints("kernel_shape")
        && ks != [kh as i64, kw as i64]
    {
        return Err(node_err(n, format!("kernel_shape {ks:?} does not match W {:?}", wt.shape)));
    }
    let m = mg * group;
    let s = pair(n, a, "strides", [1, 1])?;
    let dil = pair(n, a, "dilations", [1, 1])?;
    let op_pad = match a.ints("output_padding") {
        None => [0, 0],
        Some(v) if v.len() == 2 && v.iter().all(|&x| x >= 0) => [v[0] as usize, v[1] as usize],
        Some(v) => {
            return Err(node_err(n, format!("output_padding {v:?}: two non-negative values expected")));
        }
    };
    let k_eff = [(kh - 1) * dil[0] + 1, (kw - 1) * dil[1] + 1];
    let full = [(h - 1) * s[0] + k_eff[0] + op_pad[0], (w - 1) * s[1] + k_eff[1] + op_pad[1]];
    let mode = a.string("auto_pad", "NOTSET");
    if !["NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER"].contains(&mode.as_str()) {
        return Err(node_err(
            n,
            format!("auto_pad \"{mode}\" is not one of NOTSET, VALID, SAME_UPPER, SAME_LOWER"),
        ));
    }
    let target = match a.ints("output_shape") {
        Some(v) if v.len() == 2 || v.len() == 4 => {
            let v = &v[v.len() - 2..];
            if v.iter().any(|&d| d <= 0) {
                return Err(node_err(n, format!("output_shape {v:?} has a size that is not positive")));
            }
            if a.ints("pads").is_some() {
                return Err(node_err(
                    n,
                    "give pads or output_shape, not both (output_shape decides the pads)",
                ));
            }
            Some([v[0] as usize, v[1] as usize])
        }
        Some(v) => {
            return Err(node_err(n, format!("output_shape {v:?}: the output's height and width expected")));
        }
        None if mode.starts_with("SAME") => Some([h * s[0], w * s[1]]),
        None => None,
    };
    let pads: Pads = match target {
        Some(out) => {
            let mut p = [0; 4];
            for axis in 0..2 {
                let Some(total) = full[axis].checked_sub(out[axis]) else {
                    return Err(node_err(
                        n,
                        format!(
                            "an output of {out:?} is larger than the transposed convolution's {:?} (no negative padding)",
                            full
                        ),
                    ));
                };
                let (lo, hi) = if mode == "SAME_UPPER" {
                    (total / 2, total - total / 2)
                } else {
                    (total - total / 2, total / 2)
                };
                p[2 * axis] = lo;
                p[2 * axis + 1] = hi;
            }
            p
        }
        None if mode == "VALID" => [0; 4],
        None => {
            let p = a.ints("pads").unwrap_or_else(|| vec![0; 4]);
            if p.len() != 4 || p.iter().any(|&v| v < 0) {
                return Err(node_err(n, format!("pads {p:?}: four non-negative values expected")));
            }
            [p[0] as usize, p[2] as usize, p[1] as usize, p[3] as usize]
        }
    };
    let out_hw = [full[0].checked_sub(pads[0] + pads[1]), full[1].checked_sub(pads[2] + pads[3])];
    let [Some(oh), Some(ow)] = out_hw else {
        return Err(node_err(n, "the padding removes the whole output"));
    };
    if oh == 0 || ow == 0 {
        return Err(node_err(n, "the padding removes the whole output"));
    }
    let op = Op::Conv2DTranspose {
        filters: m,
        kernel: [kh, kw],
        strides: s,
        groups: group,
        dilations: dil,
        pads,
        out_hw: [oh, ow],
        use_bias: bias.is_some(),
    };
    let node = cx.add_node(n, &layer_name(n), op, &[xt])?;
    cx.add_reshaped_param(node, "weight", &wt, c, mg * kh * kw, true);
    if let Some(b) = bias {
        if b.cells() != m {
            return Err(node_err(n, format!("B has {} values for {m} filters", b.cells())));
        }
        cx.add_reshaped_param(node, "bias", &b, m, 1, true);
    }
    let out = cx.out(node);
    let val = cx.val(out, 0, true);
    cx.set_output(n, 0, val);
    Ok(())
}

fn pool(cx: &mut Lowering, n: &NodeProto, a: &Attrs, max: bool) -> R<()> {
    let x = cx.tensor_input(n, 0)?;
    only_first_output(cx, n)?;
    let xt = cx.as_cl(n, &x)?;
    let [_, h, w] = x.shape[..] else { unreachable!("as_cl checked the rank") };
    let k = pair(n, a, "kernel_shape", [0, 0])?;
    if k == [0, 0] {
        return Err(node_err(n, "kernel_shape is missing"));
    }
    let s = pair(n, a, "strides", [1, 1])?;
    if pair(n, a, "dilations", [1, 1])? != [1, 1] {
        return Err(node_err(n, "dilations other than 1 are not supported"));
    }
    if a.int("storage_order", 0) != 0 {
        return Err(node_err(n, "storage_order=1 is not supported"));
    }
    let mut pads = window_pads(n, a, [h, w], k, s)?;
    if a.int("ceil_mode", 0) != 0 {
        // Ceil mode: windows that start inside the (begin-padded) input count, padded at the end.
        for (axis, n_in) in [h, w].into_iter().enumerate() {
            let (lo, hi) = (pads[2 * axis], pads[2 * axis + 1]);
            let span = n_in + lo + hi;
            if span < k[axis] {
                continue;
            }
            let mut out = (span - k[axis]).div_ceil(s[axis]) + 1;
            if (out - 1) * s[axis] >= n_in + lo {
                out -= 1;
            }
            let need = (out - 1) * s[axis] + k[axis];
            if need > span {
                if !max {
                    return Err(node_err(n, "ceil_mode=1 with average pooling is not supported"));
                }
                pads[2 * axis + 1] += need - span;
            }
        }
    }
    let kind = if max {
        PoolKind::Max
    } else if a.int("count_include_pad", 0) != 0 {
        PoolKind::AvgCountPad
    } else {
        PoolKind::Avg
    };
    let node = cx.add_node(n, &layer_name(n), Op::Pool2D { kind, pool: k, strides: s, pads }, &[xt])?;
    let out = cx.out(node);
    let val = cx.val(out, 0, true);
    cx.set_output(n, 0, val);
    Ok(())
}

fn global_average_pool(cx: &mut Lowering, n: &NodeProto) -> R<()> {
    let x = cx.tensor_input(n, 0)?;
    let xt = cx.as_cl(n, &x)?;
    let c = x.shape[0];
    let node = cx.add_node(n, &layer_name(n), Op::GlobalPool { kind: PoolKind::Avg, rank: 2 }, &[xt])?;
    let pooled = cx.out(node);
    // ONNX keeps the spatial axes (size 1): [N, C, 1, 1].
    let r = cx.add_node(
        n,
        &format!("{}_keepdims", layer_name(n)),
        Op::Reshape { target: vec![1, 1, c] },
        &[pooled],
    )?;
    let out = cx.out(r);
    let val = cx.val(out, 0, true);
    cx.set_output(n, 0, val);
    Ok(())
}

fn batch_norm(cx: &mut Lowering, n: &NodeProto, a: &Attrs) -> R<()> {
    let x = cx.tensor_input(n, 0)?;
    only_first_output(cx, n)?;
    if a.int("training_mode", 0) != 0 {
        return Err(node_err(
            n,
            "training_mode=1 (a training graph) is not supported; export in inference mode",
        ));
    }
    let (t, cl, c) = match x.shape.len() {
        3 => (cx.as_cl(n, &x)?, true, x.shape[0]),
        1 if x.batch == 0 => (x.t, false, x.shape[0]),
        _ => {
            return Err(node_err(
                n,
                format!("input {}: only [N, C] and [N, C, H, W] are supported", describe(&x)),
            ));
        }
    };
    let consts: Vec<Const> =
        (1..5).map(|i| cx.required_const(n, i, ["scale", "B", "mean", "var"][i - 1])).collect::<R<_>>()?;
    if let Some(bad) = consts.iter().find(|k| k.cells() != c) {
        return Err(node_err(n, format!("a statistic of shape {:?} does not fit {c} channels", bad.shape)));
    }
    let op = Op::BatchNorm {
        momentum: a.float("momentum", 0.9),
        epsilon: a.float("epsilon", 1e-5),
        center: true,
        scale: true,
    };
    let node = cx.add_node(n, &layer_name(n), op, &[t])?;
    for (k, role) in ["gamma", "beta", "moving_mean", "moving_variance"].into_iter().enumerate() {
        cx.add_reshaped_param(node, role, &consts[k], c, 1, k < 2);
    }
    let out = cx.out(node);
    let val = cx.val(out, 0, cl);
    cx.set_output(n, 0, val);
    Ok(())
}

fn layer_norm(cx: &mut Lowering, n: &NodeProto, a: &Attrs) -> R<()> {
    let x = cx.tensor_input(n, 0)?;
    only_first_output(cx, n)?;
    let axis = resolve_axis(n, a.int("axis", -1), x.rank())?;
    if axis != x.rank() - 1 || x.batch == axis {
        return Err(node_err(n, format!("axis {axis} of {}: only the last axis is supported", describe(&x))));
    }
    let d = *x.shape.last().unwrap_or(&1);
    let scale = cx.required_const(n, 1, "Scale")?;
    let bias = cx.const_input(n, 2)?;
    for k in std::iter::once(&scale).chain(bias.iter()) {
        if k.cells() != d {
            return Err(node_err(
                n,
                format!("a parameter of shape {:?} does not fit the last axis ({d})", k.shape),
            ));
        }
    }
    let t = cx.plain(n, &x)?;
    let op = Op::LayerNorm { epsilon: a.float("epsilon", 1e-5), center: bias.is_some(), scale: true };
    let node = cx.add_node(n, &layer_name(n), op, &[t])?;
    cx.add_reshaped_param(node, "gamma", &scale, 1, d, true);
    if let Some(b) = bias {
        cx.add_reshaped_param(node, "beta", &b, 1, d, true);
    }
    let out = cx.out(node);
    let val = cx.val(out, x.batch, false);
    cx.set_output(n, 0, val);
    Ok(())
}

fn flatten(cx: &mut Lowering, n: &NodeProto, a: &Attrs) -> R<()> {
    let x = cx.tensor_input(n, 0)?;
    let axis = resolve_axis(n, a.int("axis", 1), x.rank() + 1).unwrap_or(usize::MAX);
    if x.batch != 0 || axis != 1 {
        return Err(node_err(
            n,
            format!(
                "only axis=1 on a batch-first tensor is supported (got axis {} of {})",
                a.int("axis", 1),
                describe(&x)
            ),
        ));
    }
    let t = cx.plain(n, &x)?;
    let node = cx.add_node(n, &layer_name(n), Op::Flatten, &[t])?;
    let out = cx.out(node);
    let val = cx.val(out, 0, false);
    cx.set_output(n, 0, val);
    Ok(())
}

/// Reshapes `x` (ONNX order) to the non-batch shape `target` with the batch at `batch`.
fn reshape_to(cx: &mut Lowering, n: &NodeProto, x: &TensorVal, target: Vec<usize>, batch: usize) -> R<()> {
    let t = cx.plain(n, x)?;
    let t = if target == x.shape {
        t
    } else {
        let node = cx.add_node(n, &layer_name(n), Op::Reshape { target }, &[t])?;
        cx.out(node)
    };
    let val = cx.val(t, batch, false);
    cx.set_output(n, 0, val);
    Ok(())
}

fn reshape(cx: &mut Lowering, n: &NodeProto, a: &Attrs) -> R<()> {
    let x = cx.tensor_input(n, 0)?;
    let shape = super::shape_fold::reshape_target(cx, n)?;
    if x.batch != 0 {
        return Err(node_err(n, "only a batch-first input is supported"));
    }
    let allow_zero = a.int("allowzero", 0) != 0;
    if shape.is_empty() {
        return Err(node_err(n, "an empty target shape drops the batch axis"));
    }
    // The first axis stays the batch axis (whatever the exporter wrote for it).
    let cells: usize = x.shape.iter().product();
    let mut target = Vec::new();
    let mut infer = None;
    for (k, &d) in shape.iter().enumerate().skip(1) {
        match d {
            -1 if infer.is_none() => {
                infer = Some(target.len());
                target.push(1);
            }
            0 if !allow_zero => {
                let src = full_shape(&x);
                target.push(*src.get(k).ok_or_else(|| {
                    node_err(n, format!("shape {shape:?}: 0 copies axis {k}, which the input lacks"))
                })?);
            }
            d if d > 0 => target.push(d as usize),
            _ => return Err(node_err(n, format!("shape {shape:?} is not supported"))),
        }
    }
    if let Some(i) = infer {
        let rest: usize = target.iter().product();
        if rest == 0 || !cells.is_multiple_of(rest) {
            return Err(node_err(n, format!("cannot reshape {} to {shape:?}", describe(&x))));
        }
        target[i] = cells / rest;
    }
    if target.iter().product::<usize>() != cells {
        return Err(node_err(
            n,
            format!("cannot reshape {} ({cells} cells per example) to {shape:?}", describe(&x)),
        ));
    }
    reshape_to(cx, n, &x, target, 0)
}

fn transpose(cx: &mut Lowering, n: &NodeProto, a: &Attrs) -> R<()> {
    let x = cx.tensor_input(n, 0)?;
    let r = x.rank();
    let perm: Vec<usize> = match a.ints("perm") {
        Some(p) => p.iter().map(|&v| resolve_axis(n, v, r)).collect::<R<_>>()?,
        None => (0..r).rev().collect(),
    };
    let mut sorted = perm.clone();
    sorted.sort_unstable();
    if sorted != (0..r).collect::<Vec<_>>() {
        return Err(node_err(n, format!("perm {perm:?} is not a permutation of the {r} axes")));
    }
    let batch = perm.iter().position(|&p| p == x.batch).unwrap_or(0);
    // The permutation of the non-batch axes, 1-based.
    let dims: Vec<usize> =
        perm.iter().filter(|&&p| p != x.batch).map(|&p| if p > x.batch { p } else { p + 1 }).collect();
    let identity = dims.iter().enumerate().all(|(i, &d)| d == i + 1);
    if identity {
        let val = TensorVal { batch, ..x };
        cx.set_output(n, 0, val);
        return Ok(());
    }
    // NCHW to NHWC of a channels-last view is the view itself.
    if x.cl && dims == [2, 3, 1] {
        let val = cx.val(x.t, batch, false);
        cx.set_output(n, 0, val);
        return Ok(());
    }
    let t = cx.plain(n, &x)?;
    let node = cx.add_node(n, &layer_name(n), Op::Permute { dims }, &[t])?;
    let out = cx.out(node);
    let val = cx.val(out, batch, false);
    cx.set_output(n, 0, val);
    Ok(())
}

fn concat(cx: &mut Lowering, n: &NodeProto, a: &Attrs) -> R<()> {
    let vals: Vec<TensorVal> = (0..n.input.len()).map(|i| cx.tensor_input(n, i)).collect::<R<_>>()?;
    let first = vals.first().ok_or_else(|| node_err(n, "it has no inputs"))?.clone();
    let axis = resolve_axis(n, a.int("axis", 1), first.rank())?;
    if vals.iter().any(|v| v.batch != 0 || v.rank() != first.rank()) {
        return Err(node_err(n, "only batch-first inputs of one rank are supported"));
    }
    if axis == 0 {
        return Err(node_err(n, "concatenating along the batch axis is not supported"));
    }
    if vals.len() == 1 {
        cx.set_output(n, 0, first);
        return Ok(());
    }
    let channels = first.rank() == 4 && axis == 1;
    let (ts, kind, cl) = if channels {
        let ts = vals.iter().map(|v| cx.as_cl(n, v)).collect::<R<Vec<_>>>()?;
        (ts, MergeKind::Concatenate(-1), true)
    } else {
        let ts = vals.iter().map(|v| cx.plain(n, v)).collect::<R<Vec<_>>>()?;
        (ts, MergeKind::Concatenate(axis as i64), false)
    };
    let node = cx.add_node(n, &layer_name(n), Op::Merge(kind), &ts)?;
    let out = cx.out(node);
    let val = cx.val(out, 0, cl);
    cx.set_output(n, 0, val);
    Ok(())
}

fn squeeze(cx: &mut Lowering, n: &NodeProto, a: &Attrs, squeeze: bool) -> R<()> {
    let x = cx.tensor_input(n, 0)?;
    let axes: Option<Vec<i64>> = match cx.const_input(n, 1)? {
        Some(c) => Some(c.ints()),
        None => a.ints("axes"),
    };
    let full = full_shape(&x);
    if squeeze {
        let r = full.len();
        let axes: Vec<usize> = match axes {
            Some(ax) => ax.iter().map(|&v| resolve_axis(n, v, r)).collect::<R<_>>()?,
            None => (0..r).filter(|&k| k != x.batch && full[k] == 1).collect(),
        };
        if axes.contains(&x.batch) {
            return Err(node_err(n, "squeezing the batch axis is not supported"));
        }
        if let Some(&k) = axes.iter().find(|&&k| full[k] != 1) {
            return Err(node_err(n, format!("axis {k} of {} is not of size 1", describe(&x))));
        }
        let batch = x.batch - axes.iter().filter(|&&k| k < x.batch).count();
        let target: Vec<usize> =
            (0..r).filter(|k| *k != x.batch && !axes.contains(k)).map(|k| full[k]).collect();
        reshape_to(cx, n, &x, target, batch)
    } else {
        let axes = axes.ok_or_else(|| node_err(n, "axes are missing"))?;
        let r = full.len() + axes.len();
        let axes: Vec<usize> = axes.iter().map(|&v| resolve_axis(n, v, r)).collect::<R<_>>()?;
        let mut out = Vec::with_capacity(r);
        let mut src = full.iter();
        let mut batch = 0;
        for k in 0..r {
            if axes.contains(&k) {
                out.push(1);
            } else {
                if out.len() - axes.iter().filter(|&&a| a < k).count() == x.batch {
                    batch = k;
                }
                out.push(*src.next().unwrap_or(&1));
            }
        }
        let target: Vec<usize> =
            out.iter().enumerate().filter(|(k, _)| *k != batch).map(|(_, &d)| d).collect();
        reshape_to(cx, n, &x, target, batch)
    }
}

fn gather(cx: &mut Lowering, n: &NodeProto, a: &Attrs) -> R<()> {
    let data = cx
        .const_input(n, 0)
        .map_err(|_| node_err(n, "only Gather from a constant table (an embedding) is supported"))?;
    let data = data.ok_or_else(|| node_err(n, "input 1 is missing"))?;
    let idx = cx.tensor_input(n, 1)?;
    if a.int("axis", 0) != 0 {
        return Err(node_err(n, "only axis=0 (rows of an embedding table) is supported"));
    }
    let [v, e] = data.shape[..] else {
        return Err(node_err(n, format!("the table must be 2-D, got {:?}", data.shape)));
    };
    if idx.batch != 0 {
        return Err(node_err(n, "the indices must have the batch first"));
    }
    let t = cx.plain(n, &idx)?;
    let node = cx.add_node(n, &layer_name(n), Op::Embedding { input_dim: v, output_dim: e }, &[t])?;
    cx.add_reshaped_param(node, "weight", &data, v, e, data.init.is_some());
    let out = cx.out(node);
    let val = cx.val(out, 0, false);
    cx.set_output(n, 0, val);
    Ok(())
}
