//! ONNX's LSTM and GRU (zero initial state, every sequence at full length) as the graph's
//! recurrent ops, in each `direction`, with any of their outputs read.
//!
//! ONNX's LSTM gate blocks are `[i, o, f, c]`; nn's `lstm` computes `[i, f, o, g]`, so nn block
//! `b` takes ONNX block `[0, 2, 1, 3][b]`. ONNX's GRU blocks `[z, r, h]` are Keras's order, and
//! `linear_before_reset=1` is Keras's `reset_after=True` (the recurrent bias inside the reset
//! gate's product). Weights are `[directions, gates*H, in]` (each direction transposed here to
//! `in x gates*H`); biases `[directions, 2*gates*H]`, the input half then the recurrent half.
//!
//! Directions: `forward` is the op itself, `reverse` the op with `go_backwards` (its output
//! sequence, in processing order, is put back in time order as ONNX's `Y` has it), and
//! `bidirectional` a [`Op::Bidirectional`] with `concat`, whose `[T, 2H]` steps are ONNX's
//! `[T, 2, H]` (the backward direction's outputs in time order). When `Y_h` is read with `Y`, it
//! is taken from `Y` (the forward direction's last step, the backward one's first); `Y_c` (LSTM)
//! is a second output of the node, the last cell states.

use ndarray::Array2;

use super::lower::{Lowering, TensorVal, describe, layer_name, node_err};
use super::proto::NodeProto;
use super::value::{Attrs, Const};
use crate::convert::error::ConvertError;
use crate::convert::ir::{BiMerge, Layout, Op, ParamTransform, TensorInfo};

type R<T> = Result<T, ConvertError>;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Forward,
    Reverse,
    Both,
}

/// What both recurrent ops check and share.
struct Rnn {
    x: TensorVal,
    t: usize,
    d: usize,
    h: usize,
    /// ONNX's `num_directions` (2 for `bidirectional`).
    dirs: usize,
    direction: Direction,
    /// Sequence-major (`layout=0`: `[T, N, D]`).
    seq_major: bool,
    /// Which outputs are read: `Y`, `Y_h`, `Y_c`.
    read: [bool; 3],
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
    let direction = match a.string("direction", "forward").as_str() {
        "forward" => Direction::Forward,
        "reverse" => Direction::Reverse,
        "bidirectional" => Direction::Both,
        other => {
            return Err(node_err(
                n,
                format!("direction={other} is not one of forward, reverse, bidirectional"),
            ));
        }
    };
    let dirs = if direction == Direction::Both { 2 } else { 1 };
    let h = a.int("hidden_size", 0);
    let w = cx.required_const(n, 1, "W")?;
    let r = cx.required_const(n, 2, "R")?;
    let b = cx.const_input(n, 3)?;
    let h = if h > 0 { h as usize } else { r.shape.last().copied().unwrap_or(0) };
    if h == 0 || w.shape != [dirs, gates * h, d] || r.shape != [dirs, gates * h, h] {
        return Err(node_err(
            n,
            format!(
                "W {:?} and R {:?} do not fit {dirs} direction(s) of {gates} gates of {h} units over {d} features",
                w.shape, r.shape
            ),
        ));
    }
    if let Some(b) = &b
        && b.shape != [dirs, 2 * gates * h]
    {
        return Err(node_err(n, format!("B {:?} is not [{dirs}, {}]", b.shape, 2 * gates * h)));
    }
    if n.input.get(4).is_some_and(|s| !s.is_empty()) {
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
    if let Some(given) = a.strings("activations") {
        let want: Vec<&str> = (0..dirs).flat_map(|_| acts.iter().copied()).collect();
        if given != want {
            return Err(node_err(
                n,
                format!("activations {given:?}: only the defaults {want:?} are supported"),
            ));
        }
    }
    if a.get("clip").is_some() {
        return Err(node_err(n, "clip is not supported"));
    }
    let outputs = if gates == 4 { 3 } else { 2 };
    for k in outputs..n.output.len() {
        if cx.output_used(n, k) {
            return Err(node_err(n, format!("output {} (`{}`) is not supported", k + 1, n.output[k])));
        }
    }
    let read = [cx.output_used(n, 0), cx.output_used(n, 1), cx.output_used(n, 2)];
    Ok(Rnn { x, t, d, h, dirs, direction, seq_major, read, w, r, b })
}

/// Direction `k`'s bias in the DML layout, with its transform from ONNX's `B`.
type BiasOf<'a> = dyn Fn(&Const, usize) -> (Array2<f64>, ParamTransform) + 'a;

/// Adds the op's node with its parameters (each direction's, forward first: kernel `(D, G)` and
/// recurrent kernel `(H, G)`, column `c` of nn's from ONNX's row `onnx_row(c)`, then the bias),
/// then binds the outputs that are read.
fn finish(
    cx: &mut Lowering,
    n: &NodeProto,
    rnn: &Rnn,
    inner: Op,
    gates: usize,
    onnx_row: impl Fn(usize) -> usize,
    bias: &BiasOf,
) -> R<()> {
    let (t, d, h, dirs) = (rnn.t, rnn.d, rnn.h, rnn.dirs);
    let xt = cx.plain(n, &rnn.x)?;
    let op = match rnn.direction {
        Direction::Both => Op::Bidirectional { inner: Box::new(inner), merge: BiMerge::Concat },
        _ => inner,
    };
    let node = cx.add_node(n, &layer_name(n), op, &[xt])?;
    let g = gates * h;
    for k in 0..dirs {
        let role = |what: &str| if k == 0 { what.to_string() } else { format!("backward_{what}") };
        let kt = ParamTransform::gather_fn(d, g, |r, c| k * g * d + onnx_row(c) * d + r);
        let kv = kt.to_dml(&rnn.w.data);
        cx.add_param(node, &role("kernel"), &rnn.w, kv, kt, true);
        let rt = ParamTransform::gather_fn(h, g, |r, c| k * g * h + onnx_row(c) * h + r);
        let rv = rt.to_dml(&rnn.r.data);
        cx.add_param(node, &role("recurrent_kernel"), &rnn.r, rv, rt, true);
        if let Some(b) = &rnn.b {
            let (v, bt) = bias(b, k);
            cx.add_param(node, &role("bias"), b, v, bt, true);
        }
    }
    if rnn.read[2] {
        // The last cell states (of both directions side by side): the node's second output.
        let var = format!("{}_cell", cx.g.nodes[node].name);
        let id = cx.g.tensors.len();
        cx.g.tensors.push(TensorInfo {
            var,
            shape: vec![dirs * h],
            layout: Layout::RowMajor,
            producer: Some(node),
        });
        cx.g.nodes[node].outputs.push(id);
    }
    let out = cx.out(node);
    // ONNX keeps a directions axis: Y [T, dirs, N, H] (layout=1: [N, T, dirs, H]), Y_h and Y_c
    // [dirs, N, H] (layout=1: [N, dirs, H]).
    let (y_batch, state_batch) = if rnn.seq_major { (2, 1) } else { (0, 0) };
    let name = layer_name(n);
    let mut last = out;
    if rnn.read[0] {
        let mut seq = out;
        if rnn.direction == Direction::Reverse {
            let blocks = (0..t).map(|s| [t - 1 - s, 0, h]).collect();
            let r =
                cx.add_node(n, &format!("{name}_time_order"), Op::StepSlices { steps: t, blocks }, &[seq])?;
            seq = cx.out(r);
        }
        let r = cx.add_node(n, &format!("{name}_dirs"), Op::Reshape { target: vec![t, dirs, h] }, &[seq])?;
        let y = cx.out(r);
        let val = cx.val(y, y_batch, false);
        cx.set_output(n, 0, val);
        if rnn.read[1] {
            // Each direction's last state is its last step in processing order.
            let blocks = match rnn.direction {
                Direction::Forward => vec![[t - 1, 0, h]],
                Direction::Reverse => vec![[0, 0, h]],
                Direction::Both => vec![[t - 1, 0, h], [0, h, h]],
            };
            let s = cx.add_node(n, &format!("{name}_last"), Op::StepSlices { steps: t, blocks }, &[seq])?;
            last = cx.out(s);
        }
    }
    if rnn.read[1] {
        let r = cx.add_node(n, &format!("{name}_h_dirs"), Op::Reshape { target: vec![dirs, h] }, &[last])?;
        let val = cx.val(cx.out(r), state_batch, false);
        cx.set_output(n, 1, val);
    }
    if rnn.read[2] {
        let cell = cx.g.nodes[node].outputs[1];
        let r = cx.add_node(n, &format!("{name}_c_dirs"), Op::Reshape { target: vec![dirs, h] }, &[cell])?;
        let val = cx.val(cx.out(r), state_batch, false);
        cx.set_output(n, 2, val);
    }
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
    let bias = move |b: &Const, k: usize| {
        let at = k * 8 * h;
        let v = Array2::from_shape_fn((1, 4 * h), |(_, c)| {
            b.data[at + onnx_row(c)] + b.data[at + 4 * h + onnx_row(c)]
        });
        (v, ParamTransform::gather_fn(1, 4 * h, |_, c| at + onnx_row(c)))
    };
    let inner = Op::Lstm {
        units: h,
        return_sequences: rnn.read[0],
        use_bias: rnn.b.is_some(),
        go_backwards: rnn.direction == Direction::Reverse,
    };
    finish(cx, n, &rnn, inner, 4, onnx_row, &bias)
}

pub fn gru(cx: &mut Lowering, n: &NodeProto, a: &Attrs) -> R<()> {
    let rnn = common(cx, n, a, 3, &["Sigmoid", "Tanh"])?;
    let h = rnn.h;
    let reset_after = a.int("linear_before_reset", 0) != 0;
    let bias = move |b: &Const, k: usize| {
        let at = k * 6 * h;
        if reset_after {
            // Row 0 the input bias, row 1 the recurrent bias, as Keras's reset_after GRU.
            let t = ParamTransform::gather_fn(2, 3 * h, |r, c| at + r * 3 * h + c);
            (t.to_dml(&b.data), t)
        } else {
            // The recurrent bias of the candidate sits outside the reset product: it adds.
            let v = Array2::from_shape_fn((1, 3 * h), |(_, c)| b.data[at + c] + b.data[at + 3 * h + c]);
            (v, ParamTransform::gather_fn(1, 3 * h, |_, c| at + c))
        }
    };
    let inner = Op::Gru {
        units: h,
        return_sequences: rnn.read[0],
        reset_after,
        use_bias: rnn.b.is_some(),
        go_backwards: rnn.direction == Direction::Reverse,
    };
    finish(cx, n, &rnn, inner, 3, |c| c, &bias)
}
