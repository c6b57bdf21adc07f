//! Emitters of the embedding and recurrent ops (SimpleRNN, LSTM, GRU, Bidirectional, TimeDistributed).
//!
//! Sequences are `(N, T*D)` rows, step `t` in columns `(t-1)*D+1 .. t*D` (Keras's row-major
//! order, which is nn's). Initial states are zeros of the batch's own row count.
//! - LSTM: the engine's `lstm`/`lstm_backward` builtins (nn's gate order, which the parameter
//!   transforms give), on `W = rbind(kernel, recurrent kernel)`.
//! - GRU and SimpleRNN: the converter's `keras/gru.dml` and `keras/simple_rnn.dml`.
//! - `go_backwards` (a Bidirectional's backward layer): the input steps reversed
//!   (`keras/sequence.dml`), the output left in processing order as Keras leaves it.
//! - TimeDistributed: the inner op emitted by its own family's emitter on the `N*T` step rows,
//!   through a one-node graph (with the layout moves it needs).

use super::{Cx, int};
use crate::convert::error::ConvertError;
use crate::convert::ir::{Activation, BiMerge, Graph, Layout, Node, Op, TensorInfo};

pub fn forward(cx: &mut Cx, node: &Node) -> Result<(), ConvertError> {
    match &node.op {
        Op::Embedding { input_dim, output_dim } => {
            embedding_forward(cx, node, *input_dim, *output_dim);
            Ok(())
        }
        Op::SimpleRnn { .. } | Op::Lstm { .. } | Op::Gru { .. } => {
            let dir = Direction::new(cx, node, &node.op, 0, "", cx.output(node, 0).to_string());
            dir.forward(cx);
            if node.outputs.len() > 1 {
                cx.comment("The last cell state (a second output, ONNX's Y_c).");
                cx.line(format!("{} = {}", cx.output(node, 1), dir.v("c")));
            }
            Ok(())
        }
        Op::Bidirectional { inner, merge } => bidirectional_forward(cx, node, inner, *merge),
        Op::TimeDistributed { inner } => time_distributed(cx, node, inner, false),
        _ => Err(super::unsupported(node)),
    }
}

pub fn backward(cx: &mut Cx, node: &Node) -> Result<(), ConvertError> {
    match &node.op {
        Op::Embedding { output_dim, .. } => {
            embedding_backward(cx, node, *output_dim);
            Ok(())
        }
        Op::SimpleRnn { .. } | Op::Lstm { .. } | Op::Gru { .. } => {
            let dir = Direction::new(cx, node, &node.op, 0, "", cx.output(node, 0).to_string());
            let dout = dout_or_zeros(cx, node, 0);
            let dcell = (node.outputs.len() > 1 && cx.has_dout(node, 1)).then(|| cx.dout(node, 1));
            dir.backward(cx, node, &dout, dcell.as_deref());
            Ok(())
        }
        Op::Bidirectional { inner, merge } => bidirectional_backward(cx, node, inner, *merge),
        Op::TimeDistributed { inner } => time_distributed(cx, node, inner, true),
        _ => Err(super::unsupported(node)),
    }
}

/// The gradient of output `i`, or zeros of its shape when nothing downstream reads it (another
/// output is read: ONNX's Y_c alone).
fn dout_or_zeros(cx: &mut Cx, node: &Node, i: usize) -> String {
    if cx.has_dout(node, i) {
        return cx.dout(node, i);
    }
    let (x, zeros) = (cx.input(node, 0), cx.cache(node, "dout_zero"));
    let width = cx.g.tensors[node.outputs[i]].width();
    cx.line(format!("{zeros} = matrix(0, rows=nrow({x}), cols={})", int(width)));
    zeros
}

/// Token ids (Keras's 0-based ids, as doubles, the input's width per example) to rows of the
/// embedding table, as a product with their one-hot rows (kept for the backward pass).
fn embedding_forward(cx: &mut Cx, node: &Node, vocab: usize, dim: usize) {
    let (x, out) = (cx.input(node, 0), cx.output(node, 0));
    let table = cx.param(node, 0);
    let t = cx.g.tensors[node.inputs[0]].width();
    let onehot = cx.cache(node, "onehot");
    cx.comment(format!(
        "One-hot rows of the {t} ids per example (0-based, as Keras takes them; table() counts from 1), times the table."
    ));
    cx.line(format!(
        "{onehot} = table(seq(1, nrow({x})*{t}), matrix({x}, rows=nrow({x})*{t}, cols=1) + 1, nrow({x})*{t}, {})",
        int(vocab)
    ));
    cx.line(format!("{out} = matrix({onehot} %*% {table}, rows=nrow({x}), cols={})", int(t * dim)));
}

fn embedding_backward(cx: &mut Cx, node: &Node, dim: usize) {
    // Ids have no gradient; the table's is the scatter-add of the rows' gradients.
    if !cx.param_trained(node, 0) {
        return;
    }
    let dout = cx.dout(node, 0);
    let t = cx.g.tensors[node.inputs[0]].width();
    let onehot = cx.cache(node, "onehot");
    let d = cx.param_grad(node, 0);
    cx.line(format!("{d} = t({onehot}) %*% matrix({dout}, rows=nrow({dout})*{t}, cols={})", int(dim)));
}

/// One direction of a recurrent layer: the op (its `go_backwards` says whether the steps are
/// reversed), its input, its output in processing order, and its parameters.
struct Direction {
    op: Op,
    x: String,
    out: String,
    /// Stem of its own variables (`lstm`, `bidirectional_backward`).
    stem: String,
    kernel: String,
    recurrent: String,
    bias: Option<String>,
    /// Gradient variables of kernel, recurrent kernel and bias when trained.
    grads: [Option<String>; 3],
    steps: usize,
    features: usize,
}

impl Direction {
    /// The direction of `node` whose parameters start at `first`; `suffix` names its variables.
    fn new(cx: &Cx, node: &Node, op: &Op, first: usize, suffix: &str, out: String) -> Self {
        let shape = cx.in_shape(node, 0);
        let (steps, features) = (shape[0], shape.get(1).copied().unwrap_or(1));
        let use_bias = matches!(
            op,
            Op::SimpleRnn { use_bias: true, .. }
                | Op::Lstm { use_bias: true, .. }
                | Op::Gru { use_bias: true, .. }
        );
        let grad = |k: usize| cx.param_trained(node, first + k).then(|| cx.param_grad(node, first + k));
        Direction {
            op: op.clone(),
            x: cx.input(node, 0).to_string(),
            out,
            stem: if suffix.is_empty() { node.name.clone() } else { format!("{}_{suffix}", node.name) },
            kernel: cx.param(node, first).to_string(),
            recurrent: cx.param(node, first + 1).to_string(),
            bias: use_bias.then(|| cx.param(node, first + 2).to_string()),
            grads: [grad(0), grad(1), if use_bias { grad(2) } else { None }],
            steps,
            features,
        }
    }

    fn v(&self, what: &str) -> String {
        format!("{}_{what}", self.stem)
    }

    fn units(&self) -> usize {
        match &self.op {
            Op::SimpleRnn { units, .. } | Op::Lstm { units, .. } | Op::Gru { units, .. } => *units,
            _ => 0,
        }
    }

    fn reversed(&self) -> bool {
        matches!(
            &self.op,
            Op::SimpleRnn { go_backwards: true, .. }
                | Op::Lstm { go_backwards: true, .. }
                | Op::Gru { go_backwards: true, .. }
        )
    }

    fn return_sequences(&self) -> bool {
        matches!(
            &self.op,
            Op::SimpleRnn { return_sequences: true, .. }
                | Op::Lstm { return_sequences: true, .. }
                | Op::Gru { return_sequences: true, .. }
        )
    }

    /// The input as the recurrence reads it: the steps reversed for `go_backwards`.
    fn input(&self, cx: &mut Cx, write: bool) -> String {
        if !self.reversed() {
            return self.x.clone();
        }
        let xr = self.v("x_reversed");
        if write {
            let seq = cx.src("keras/sequence.dml", "keras_seq");
            cx.comment("go_backwards: the recurrence reads the steps last to first.");
            cx.line(format!("{xr} = {seq}::reverse_steps({}, {})", self.x, int(self.steps)));
        }
        xr
    }

    /// The LSTM's bias row, or a zero row written by `forward` when the layer has none.
    fn lstm_bias(&self) -> String {
        self.bias.clone().unwrap_or_else(|| self.v("b"))
    }

    fn bias_or_zero(&self, width: usize) -> String {
        match &self.bias {
            Some(b) => b.clone(),
            None => format!("matrix(0, rows=1, cols={})", int(width)),
        }
    }

    fn forward(&self, cx: &mut Cx) {
        let xin = self.input(cx, true);
        let m = self.units();
        let (t, rs) = (int(self.steps), if self.return_sequences() { "TRUE" } else { "FALSE" });
        let (k, u, out) = (&self.kernel, &self.recurrent, &self.out);
        match &self.op {
            Op::Lstm { .. } => {
                let (w, b, h0) = (self.v("W"), self.lstm_bias(), self.v("zeros"));
                cx.comment(format!(
                    "LSTM over {t} steps: the engine's lstm builtin on W = [kernel; recurrent kernel] (gate columns \
                     in nn's order i, f, o, g), zero initial output and cell states for the batch's rows."
                ));
                cx.line(format!("{w} = rbind({k}, {u})"));
                if self.bias.is_none() {
                    cx.line(format!("{b} = matrix(0, rows=1, cols={})", int(4 * m)));
                }
                cx.line(format!("{h0} = matrix(0, rows=nrow({xin}), cols={})", int(m)));
                cx.line(format!(
                    "[{out}, {}, {}, {}, {}] = lstm({xin}, {w}, {b}, {h0}, {h0}, {rs})",
                    self.v("c"),
                    self.v("cache_out"),
                    self.v("cache_c"),
                    self.v("cache_ifog")
                ));
            }
            Op::Gru { reset_after, .. } => {
                let gru = cx.src("keras/gru.dml", "keras_gru");
                cx.comment(format!(
                    "GRU over {t} steps (reset_after={}), zero initial state for the batch's rows.",
                    if *reset_after { "True" } else { "False" }
                ));
                let zero = format!("matrix(0, rows=1, cols={})", int(3 * m));
                let (bx, bh) = match (&self.bias, reset_after) {
                    (Some(b), true) => (format!("{b}[1, ]"), format!("{b}[2, ]")),
                    (Some(b), false) => (b.clone(), zero),
                    (None, _) => (zero.clone(), zero),
                };
                cx.line(format!(
                    "[{out}, {}, {}] = {gru}::forward({xin}, {k}, {u}, {bx}, {bh}, {t}, {}, {rs})",
                    self.v("H"),
                    self.v("G"),
                    if *reset_after { "TRUE" } else { "FALSE" }
                ));
            }
            Op::SimpleRnn { activation, .. } => {
                let rnn = cx.src("keras/simple_rnn.dml", "keras_rnn");
                cx.comment(format!("SimpleRNN over {t} steps, zero initial state for the batch's rows."));
                cx.line(format!(
                    "[{out}, {}] = {rnn}::forward({xin}, {k}, {u}, {}, {t}, \"{}\", {rs})",
                    self.v("H"),
                    self.bias_or_zero(m),
                    activation_name(activation)
                ));
            }
            _ => {}
        }
    }

    /// Backward from `dout` (the gradient of the output in processing order) and, for an LSTM,
    /// `dcell` (the gradient of the last cell state, zero when `None`); adds the input's
    /// gradient to the node's input 0 when needed.
    fn backward(&self, cx: &mut Cx, node: &Node, dout: &str, dcell: Option<&str>) {
        let need_dx = cx.needs_input_grad(node, 0);
        if !need_dx && self.grads.iter().all(Option::is_none) {
            return;
        }
        let xin = self.input(cx, false);
        let m = self.units();
        let (t, rs) = (int(self.steps), if self.return_sequences() { "TRUE" } else { "FALSE" });
        let (k, u) = (&self.kernel, &self.recurrent);
        let dx = self.v("dx");
        let target = |i: usize, what: &str| self.grads[i].clone().unwrap_or_else(|| self.v(what));
        match &self.op {
            Op::Lstm { .. } => {
                let (w, b, zeros, dw) = (self.v("W"), self.lstm_bias(), self.v("zeros"), self.v("dW"));
                let dc = match dcell {
                    Some(dc) => {
                        cx.comment("LSTM backward (the builtin), from the outputs' and the last cell state's gradients.");
                        dc.to_string()
                    }
                    None => {
                        cx.comment(
                            "LSTM backward (the builtin); the gradient at the last cell state is zero.",
                        );
                        zeros.clone()
                    }
                };
                cx.line(format!(
                    "[{dx}, {dw}, {}, {}, {}] = lstm_backward({xin}, {w}, {b}, {zeros}, {zeros}, {rs}, {dout}, {dc}, {}, {}, {})",
                    target(2, "db"),
                    self.v("dh0"),
                    self.v("dc0"),
                    self.v("cache_out"),
                    self.v("cache_c"),
                    self.v("cache_ifog")
                ));
                let d = self.features;
                if let Some(g) = &self.grads[0] {
                    cx.line(format!("{g} = {dw}[1:{}, ]", int(d)));
                }
                if let Some(g) = &self.grads[1] {
                    cx.line(format!("{g} = {dw}[{}:{}, ]", int(d + 1), int(d + m)));
                }
            }
            Op::Gru { reset_after, .. } => {
                let gru = cx.src("keras/gru.dml", "keras_gru");
                let (dbx, dbh) = (self.v("dbx"), self.v("dbh"));
                cx.line(format!(
                    "[{dx}, {}, {}, {dbx}, {dbh}] = {gru}::backward({dout}, {xin}, {k}, {u}, {t}, {}, {rs}, {}, {}, {})",
                    target(0, "dkernel"),
                    target(1, "drecurrent"),
                    if *reset_after { "TRUE" } else { "FALSE" },
                    self.v("H"),
                    self.v("G"),
                    if need_dx { "TRUE" } else { "FALSE" }
                ));
                if let Some(g) = &self.grads[2] {
                    if *reset_after {
                        cx.line(format!("{g} = rbind({dbx}, {dbh})"));
                    } else {
                        cx.line(format!("{g} = {dbx}"));
                    }
                }
            }
            Op::SimpleRnn { activation, .. } => {
                let rnn = cx.src("keras/simple_rnn.dml", "keras_rnn");
                cx.line(format!(
                    "[{dx}, {}, {}, {}] = {rnn}::backward({dout}, {xin}, {k}, {u}, {t}, \"{}\", {rs}, {}, {})",
                    target(0, "dkernel"),
                    target(1, "drecurrent"),
                    target(2, "dbias"),
                    activation_name(activation),
                    self.v("H"),
                    if need_dx { "TRUE" } else { "FALSE" }
                ));
            }
            _ => {}
        }
        if need_dx {
            let expr = if self.reversed() {
                let seq = cx.src("keras/sequence.dml", "keras_seq");
                format!("{seq}::reverse_steps({dx}, {t})")
            } else {
                dx
            };
            cx.add_input_grad(node, 0, &expr);
        }
    }
}

fn activation_name(a: &Activation) -> &'static str {
    match a {
        Activation::Tanh => "tanh",
        Activation::Sigmoid => "sigmoid",
        Activation::Relu { .. } => "relu",
        _ => "linear",
    }
}

fn param_count(op: &Op) -> usize {
    match op {
        Op::SimpleRnn { use_bias, .. } | Op::Lstm { use_bias, .. } | Op::Gru { use_bias, .. } => {
            2 + usize::from(*use_bias)
        }
        _ => 0,
    }
}

/// The backward layer of a Bidirectional: the forward one run the other way.
fn backward_op(op: &Op) -> Op {
    let mut op = op.clone();
    if let Op::SimpleRnn { go_backwards, .. } | Op::Lstm { go_backwards, .. } | Op::Gru { go_backwards, .. } =
        &mut op
    {
        *go_backwards = !*go_backwards;
    }
    op
}

fn directions(cx: &Cx, node: &Node, inner: &Op) -> (Direction, Direction) {
    let n = param_count(inner);
    let fwd = Direction::new(cx, node, inner, 0, "forward", format!("{}_forward_out", node.name));
    let bwd =
        Direction::new(cx, node, &backward_op(inner), n, "backward", format!("{}_backward_out", node.name));
    (fwd, bwd)
}

fn bidirectional_forward(cx: &mut Cx, node: &Node, inner: &Op, merge: BiMerge) -> Result<(), ConvertError> {
    let (fwd, bwd) = directions(cx, node, inner);
    let out = cx.output(node, 0);
    cx.comment("Forward layer.");
    fwd.forward(cx);
    cx.comment("Backward layer (on the reversed steps).");
    bwd.forward(cx);
    let y_bwd = if bwd.return_sequences() {
        // Keras reverses the backward layer's output sequence back into time order.
        let seq = cx.src("keras/sequence.dml", "keras_seq");
        let v = cx.cache(node, "backward_seq");
        cx.line(format!("{v} = {seq}::reverse_steps({}, {})", bwd.out, int(bwd.steps)));
        v
    } else {
        bwd.out.clone()
    };
    let y_fwd = &fwd.out;
    let m = fwd.units();
    let expr = match merge {
        BiMerge::Concat if fwd.return_sequences() => {
            let t = fwd.steps;
            format!(
                "matrix(cbind(matrix({y_fwd}, rows=nrow({y_fwd})*{t}, cols={m}), matrix({y_bwd}, rows=nrow({y_bwd})*{t}, cols={m})), rows=nrow({y_fwd}), cols={})",
                int(t * 2 * m)
            )
        }
        BiMerge::Concat => format!("cbind({y_fwd}, {y_bwd})"),
        BiMerge::Sum => format!("{y_fwd} + {y_bwd}"),
        BiMerge::Mul => format!("{y_fwd} * {y_bwd}"),
        BiMerge::Ave => format!("({y_fwd} + {y_bwd}) / 2"),
    };
    cx.comment(format!("merge_mode {}.", merge_name(merge)));
    cx.line(format!("{out} = {expr}"));
    if node.outputs.len() > 1 {
        cx.comment("The last cell states of both directions (a second output, ONNX's Y_c).");
        cx.line(format!("{} = cbind({}, {})", cx.output(node, 1), fwd.v("c"), bwd.v("c")));
    }
    Ok(())
}

fn merge_name(m: BiMerge) -> &'static str {
    match m {
        BiMerge::Concat => "concat",
        BiMerge::Sum => "sum",
        BiMerge::Mul => "mul",
        BiMerge::Ave => "ave",
    }
}

fn bidirectional_backward(cx: &mut Cx, node: &Node, inner: &Op, merge: BiMerge) -> Result<(), ConvertError> {
    let (fwd, bwd) = directions(cx, node, inner);
    let dout = dout_or_zeros(cx, node, 0);
    let m = fwd.units();
    let t = fwd.steps;
    let (d_fwd, d_bwd) = (cx.cache(node, "d_forward"), cx.cache(node, "d_backward"));
    let y_bwd_aligned = if bwd.return_sequences() { cx.cache(node, "backward_seq") } else { bwd.out.clone() };
    match merge {
        BiMerge::Concat if fwd.return_sequences() => {
            let rows = cx.cache(node, "dout_steps");
            cx.line(format!("{rows} = matrix({dout}, rows=nrow({dout})*{t}, cols={})", int(2 * m)));
            cx.line(format!("{d_fwd} = matrix({rows}[, 1:{m}], rows=nrow({dout}), cols={})", int(t * m)));
            cx.line(format!(
                "{d_bwd} = matrix({rows}[, {}:{}], rows=nrow({dout}), cols={})",
                int(m + 1),
                int(2 * m),
                int(t * m)
            ));
        }
        BiMerge::Concat => {
            cx.line(format!("{d_fwd} = {dout}[, 1:{m}]"));
            cx.line(format!("{d_bwd} = {dout}[, {}:{}]", int(m + 1), int(2 * m)));
        }
        BiMerge::Sum => {
            cx.line(format!("{d_fwd} = {dout}"));
            cx.line(format!("{d_bwd} = {dout}"));
        }
        BiMerge::Ave => {
            cx.line(format!("{d_fwd} = {dout} / 2"));
            cx.line(format!("{d_bwd} = {dout} / 2"));
        }
        BiMerge::Mul => {
            cx.line(format!("{d_fwd} = {dout} * {y_bwd_aligned}"));
            cx.line(format!("{d_bwd} = {dout} * {}", fwd.out));
        }
    }
    let d_bwd_raw = if bwd.return_sequences() {
        let seq = cx.src("keras/sequence.dml", "keras_seq");
        let v = cx.cache(node, "d_backward_out");
        cx.line(format!("{v} = {seq}::reverse_steps({d_bwd}, {})", int(t)));
        v
    } else {
        d_bwd
    };
    let (dc_fwd, dc_bwd) = if node.outputs.len() > 1 && cx.has_dout(node, 1) {
        let dc = cx.dout(node, 1);
        (Some(format!("{dc}[, 1:{m}]")), Some(format!("{dc}[, {}:{}]", int(m + 1), int(2 * m))))
    } else {
        (None, None)
    };
    fwd.backward(cx, node, &d_fwd, dc_fwd.as_deref());
    bwd.backward(cx, node, &d_bwd_raw, dc_bwd.as_deref());
    Ok(())
}

/// TimeDistributed: the inner op on the `N*T` rows of single steps, written by the inner op's
/// own emitter over a one-node graph (input `<node>_steps`, output `<node>_steps_out`); the
/// layout pass adds the moves the inner op needs (a Conv2D's channels-first rows).
fn time_distributed(cx: &mut Cx, node: &Node, inner: &Op, backward: bool) -> Result<(), ConvertError> {
    let in_shape = cx.in_shape(node, 0);
    let out_shape = cx.out_shape(node, 0);
    let t = in_shape[0];
    let step_in: usize = in_shape[1..].iter().product();
    let step_out: usize = out_shape[1..].iter().product();
    let mut g = Graph {
        name: cx.g.name.clone(),
        origin: cx.g.origin.clone(),
        tensors: vec![
            TensorInfo {
                var: format!("{}_steps", node.name),
                shape: in_shape[1..].to_vec(),
                layout: Layout::RowMajor,
                producer: None,
            },
            TensorInfo {
                var: format!("{}_steps_out", node.name),
                shape: out_shape[1..].to_vec(),
                layout: Layout::RowMajor,
                producer: Some(0),
            },
        ],
        nodes: vec![Node {
            name: node.name.clone(),
            layer: node.layer.clone(),
            class: node.class.clone(),
            op: inner.clone(),
            inputs: vec![0],
            outputs: vec![1],
            params: node.params.clone(),
            frozen: node.frozen,
        }],
        params: cx.g.params.clone(),
        inputs: vec![0],
        outputs: vec![1],
        training: None,
    };
    crate::convert::layout::assign_layouts(&mut g)?;
    let (x, out) = (cx.input(node, 0), cx.output(node, 0));
    let steps_in = g.tensors[0].var.clone();
    let steps_out = g.tensors[g.outputs[0]].var.clone();
    let seeds = if backward && cx.needs_input_grad(node, 0) { vec![0] } else { vec![] };
    let mut sub = Cx::with_grad_inputs(&g, cx.mode, &seeds);
    sub.code.indent = cx.code.indent;
    if !backward {
        cx.comment(format!("Every step of every example as one row (N*{t} rows), the inner layer on them."));
        cx.line(format!("{steps_in} = matrix({x}, rows=nrow({x})*{t}, cols={})", int(step_in)));
        for id in 0..g.nodes.len() {
            super::forward(&mut sub, id)?;
        }
        cx.code.lines.append(&mut sub.code.lines);
        cx.line(format!("{out} = matrix({steps_out}, rows=nrow({x}), cols={})", int(t * step_out)));
    } else {
        let dout = cx.dout(node, 0);
        cx.line(format!("d_{steps_out} = matrix({dout}, rows=nrow({dout})*{t}, cols={})", int(step_out)));
        sub.start_grad(g.outputs[0]);
        for id in (0..g.nodes.len()).rev() {
            super::backward(&mut sub, id)?;
        }
        cx.code.lines.append(&mut sub.code.lines);
        if cx.needs_input_grad(node, 0) {
            let expr = format!("matrix(d_{steps_in}, rows=nrow({x}), cols={})", int(t * step_in));
            cx.add_input_grad(node, 0, &expr);
        }
    }
    cx.sources.extend(sub.sources);
    Ok(())
}
