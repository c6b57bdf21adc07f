//! ONNX's LSTM and GRU (one direction, zero initial state) as the graph's recurrent ops.
//!
//! ONNX's LSTM gate blocks are `[i, o, f, c]`; nn's `lstm` computes `[i, f, o, g]`, so nn block
//! `b` takes ONNX block `[0, 2, 1, 3][b]`. ONNX's GRU blocks `[z, r, h]` are Keras's order, and
//! `linear_before_reset=1` is Keras's `reset_after=True` (the recurrent bias inside the reset
//! gate's product). Weights are `[directions, gates*H, in]` (transposed here to `in x gates*H`);
//! biases `[directions, 2*gates*H]`, the input half then the recurrent half.

use ndarray::Array2;

use super::lower::{Lowering, TensorVal, describe, layer_name, node_err};
use super::proto::NodeProto;
use super::value::{Attrs, Const};
use crate::convert::error::ConvertError;
use crate::convert::ir::{Op, ParamTransform};

type R<T> = Result<T, ConvertError>;

/// What both recurrent ops check and share.
struct Rnn {
    x: TensorVal,
    t: usize,
    d: usize,
    h: usize,
    /// Sequence-major (`layout=0`: `[T, N, D]`).
    seq_major: bool,
    /// Which output is read: the sequence `Y` (else the last state `Y_h`).
    sequences: bool,
    backwards: bool,
    w: Const,
    r: Const,
    b: Option<Const>,
}

fn common(cx: &Lowering, n: &NodeProto, a: &Attrs, gates: usize, acts: &[&str]) -> R<Rnn> {
    let x = cx.tensor_input(n, 0)?;
    let seq_major = a.int("layout", 0) == 0;
    let want_batch = if seq_major { 1 } else { 0 };
    let [t, d] = x.shape[..] else {
        return Err(node_err(n, format!("X must be 3-D, got {}", describe(&x))));
    };
    if x.batch != want_batch {
        return Err(node_err(
            n,
            format!(
                "X {} has its batch axis at {}; layout={} needs it at {want_batch}",
                describe(&x),
                x.batch,
                a.int("layout", 0)
            ),
        ));
    }
    let h = a.int("hidden_size", 0);
    let w = cx.required_const(n, 1, "W")?;
    let r = cx.required_const(n, 2, "R")?;
    let b = cx.const_input(n, 3)?;
    let h = if h > 0 { h as usize } else { r.shape.last().copied().unwrap_or(0) };
    if w.shape != [1, gates * h, d] || r.shape != [1, gates * h, h] {
        return Err(node_err(
            n,
            format!(
                "W {:?} and R {:?} do not fit one direction of {gates} gates of {h} units over {d} features",
                w.shape, r.shape
            ),
        ));
    }
    if let Some(b) = &b
        && b.shape != [1, 2 * gates * h]
    {
        return Err(node_err(n, format!("B {:?} is not [1, {}]", b.shape, 2 * gates * h)));
    }
    if cx.const_input(n, 4).ok().flatten().is_some() || n.input.get(4).is_some_and(|s| !s.is_empty()) {
        return Err(node_err(n, "sequence_lens is not supported (every sequence has all steps)"));
    }
    for (i, what) in [(5, "initial_h"), (6, "initial_c")] {
        if n.input.get(i).is_some_and(|s| !s.is_empty()) {
            let c = cx.const_input(n, i)?;
            if c.is_some_and(|c| c.data.iter().any(|&v| v != 0.0)) {
                return Err(node_err(
                    n,
                    format!("a nonzero {what} is not supported (the state starts at zero)"),
                ));
            }
        }
    }
    if n.input.get(7).is_some_and(|s| !s.is_empty()) {
        return Err(node_err(n, "peephole weights (P) are not supported"));
    }
    if let Some(given) = a.strings("activations")
        && given != acts
    {
        return Err(node_err(n, format!("activations {given:?}: only the defaults {acts:?} are supported")));
    }
    if a.get("clip").is_some() {
        return Err(node_err(n, "clip is not supported"));
    }
    let (y, y_h) = (cx.output_used(n, 0), cx.output_used(n, 1));
    if y && y_h {
        return Err(node_err(n, "reading both Y and Y_h is not supported; read one of them"));
    }
    for k in 2..n.output.len() {
        if cx.output_used(n, k) {
            return Err(node_err(n, format!("output {} (`{}`) is not supported", k + 1, n.output[k])));
        }
    }
    let backwards = match a.string("direction", "forward").as_str() {
        "forward" => false,
        "reverse" if !y => true,
        "reverse" => return Err(node_err(n, "direction=reverse is supported for Y_h only")),
        other => return Err(node_err(n, format!("direction={other} is not supported (forward, reverse)"))),
    };
    Ok(Rnn { x, t, d, h, seq_major, sequences: y, backwards, w, r, b })
}

/// Adds the op's node with its kernels (columns in nn's gate order: column `c` of nn's kernel is
/// ONNX's row `onnx_row(c)`), then binds the read output.
fn finish(
    cx: &mut Lowering,
    n: &NodeProto,
    rnn: &Rnn,
    op: Op,
    gates: usize,
    onnx_row: impl Fn(usize) -> usize,
    bias: Option<(Array2<f64>, ParamTransform)>,
) -> R<()> {
    let (d, h) = (rnn.d, rnn.h);
    let xt = cx.plain(n, &rnn.x)?;
    let node = cx.add_node(n, &layer_name(n), op, &[xt])?;
    let g = gates * h;
    let kt = ParamTransform::gather_fn(d, g, |r, c| onnx_row(c) * d + r);
    let kv = kt.to_dml(&rnn.w.data);
    cx.add_param(node, "kernel", &rnn.w, kv, kt, true);
    let rt = ParamTransform::gather_fn(h, g, |r, c| onnx_row(c) * h + r);
    let rv = rt.to_dml(&rnn.r.data);
    cx.add_param(node, "recurrent_kernel", &rnn.r, rv, rt, true);
    if let (Some((v, t)), Some(b)) = (bias, &rnn.b) {
        cx.add_param(node, "bias", b, v, t, true);
    }
    let out = cx.out(node);
    // ONNX keeps a directions axis: Y [T, 1, N, H] (or [N, T, 1, H]), Y_h [1, N, H] (or [N, 1, H]).
    let (target, batch, k) = if rnn.sequences {
        (vec![rnn.t, 1, h], if rnn.seq_major { 2 } else { 0 }, 0)
    } else {
        (vec![1, h], if rnn.seq_major { 1 } else { 0 }, 1)
    };
    let r = cx.add_node(n, &format!("{}_dirs", layer_name(n)), Op::Reshape { target }, &[out])?;
    let out = cx.out(r);
    let val = cx.val(out, batch, false);
    cx.set_output(n, k, val);
    Ok(())
}

pub fn lstm(cx: &mut Lowering, n: &NodeProto, a: &Attrs) -> R<()> {
    let rnn = common(cx, n, a, 4, &["Sigmoid", "Tanh", "Tanh"])?;
    if a.int("input_forget", 0) != 0 {
        return Err(node_err(n, "input_forget=1 (coupled input and forget gates) is not supported"));
    }
    let h = rnn.h;
    let onnx_row = move |c: usize| [0, 2, 1, 3][c / h] * h + c % h;
    // nn's single bias: ONNX's input and recurrent biases added.
    let bias = rnn.b.as_ref().map(|b| {
        let v = Array2::from_shape_fn((1, 4 * h), |(_, c)| b.data[onnx_row(c)] + b.data[4 * h + onnx_row(c)]);
        (v, ParamTransform::gather_fn(1, 4 * h, |_, c| onnx_row(c)))
    });
    let op = Op::Lstm {
        units: h,
        return_sequences: rnn.sequences,
        use_bias: rnn.b.is_some(),
        go_backwards: rnn.backwards,
    };
    finish(cx, n, &rnn, op, 4, onnx_row, bias)
}

pub fn gru(cx: &mut Lowering, n: &NodeProto, a: &Attrs) -> R<()> {
    let rnn = common(cx, n, a, 3, &["Sigmoid", "Tanh"])?;
    let h = rnn.h;
    let reset_after = a.int("linear_before_reset", 0) != 0;
    let bias = rnn.b.as_ref().map(|b| {
        if reset_after {
            // Row 0 the input bias, row 1 the recurrent bias, as Keras's reset_after GRU.
            let t = ParamTransform::Reshape { rows: 2, cols: 3 * h };
            (t.to_dml(&b.data), t)
        } else {
            // The recurrent bias of the candidate sits outside the reset product: it adds.
            let v = Array2::from_shape_fn((1, 3 * h), |(_, c)| b.data[c] + b.data[3 * h + c]);
            (v, ParamTransform::gather_fn(1, 3 * h, |_, c| c))
        }
    });
    let op = Op::Gru {
        units: h,
        return_sequences: rnn.sequences,
        reset_after,
        use_bias: rnn.b.is_some(),
        go_backwards: rnn.backwards,
    };
    finish(cx, n, &rnn, op, 3, |c| c, bias)
}
