//! DML emitters: for each op its forward pass (training and inference mode) and its backward
//! pass, for each loss its value and gradient, for each optimizer its state and update. They
//! write readable DML over the nn library (`source("nn/layers/...")`) and, where Keras's
//! semantics differ from nn's, over the converter's own DML library (`stdlib-nn/keras/`).
//!
//! Variables follow one naming scheme so that the pieces fit together: a tensor is held in its
//! [`TensorInfo::var`] (`conv2d_out`), its gradient in `d_` + that name, a parameter in its
//! [`Param::var`] (`conv2d_weight`) and its gradient in `d_` + that name, values a backward pass
//! needs from the forward pass in `<node>_<what>` ([`Cx::cache`]).

pub mod arith;
pub mod conv;
pub mod core;
pub mod loss;
pub mod metric;
pub mod norm;
pub mod optim;
pub mod recurrent;
pub mod shape;

use std::collections::{BTreeSet, HashSet};

use crate::convert::error::ConvertError;
use crate::convert::ir::{Graph, Node, NodeId, Op, ParamId, TensorId};

/// Which forward pass is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Training: dropout and noise active, batch statistics used and moving averages updated,
    /// values kept for the backward pass.
    Train,
    /// Inference (prediction, validation): the identity for dropout and noise, moving statistics.
    Infer,
}

/// Lines of DML being written, with indentation.
#[derive(Debug, Default, Clone)]
pub struct Code {
    pub lines: Vec<String>,
    pub indent: usize,
}

impl Code {
    pub fn line(&mut self, s: impl AsRef<str>) {
        let s = s.as_ref();
        if s.is_empty() {
            self.lines.push(String::new());
        } else {
            self.lines.push(format!("{}{}", "  ".repeat(self.indent), s));
        }
    }

    pub fn comment(&mut self, s: impl AsRef<str>) {
        self.line(format!("# {}", s.as_ref()));
    }

    pub fn open(&mut self, s: impl AsRef<str>) {
        self.line(format!("{} {{", s.as_ref()));
        self.indent += 1;
    }

    pub fn close(&mut self) {
        self.indent = self.indent.saturating_sub(1);
        self.line("}");
    }

    pub fn blank(&mut self) {
        if self.lines.last().is_some_and(|l| !l.is_empty()) {
            self.lines.push(String::new());
        }
    }

    pub fn text(&self) -> String {
        let mut s = self.lines.join("\n");
        s.push('\n');
        s
    }
}

/// The emission context: the graph, the code being written, the library files used.
pub struct Cx<'g> {
    pub g: &'g Graph,
    pub mode: Mode,
    pub code: Code,
    /// `(path, alias)` of every library file the emitted code calls.
    pub sources: BTreeSet<(String, String)>,
    need_grad: Vec<bool>,
    /// Tensors whose gradient variable has been assigned (later contributions add to it).
    grads_started: HashSet<TensorId>,
    /// For each parameter, how many nodes use it (more than one: a shared layer).
    param_uses: Vec<usize>,
    /// Shared parameters whose gradient `d_<param>` has been assigned.
    param_grads_started: HashSet<ParamId>,
}

impl<'g> Cx<'g> {
    pub fn new(g: &'g Graph, mode: Mode) -> Self {
        Cx {
            g,
            mode,
            code: Code::default(),
            sources: BTreeSet::new(),
            need_grad: g.needs_grad(),
            grads_started: HashSet::new(),
            param_uses: param_uses(g),
            param_grads_started: HashSet::new(),
        }
    }

    /// A context for a sub-graph that an emitter builds around an inner op (TimeDistributed
    /// applies one to every time step): `seeds` are the sub-graph's inputs whose gradient the
    /// enclosing node needs.
    pub fn with_grad_inputs(g: &'g Graph, mode: Mode, seeds: &[TensorId]) -> Self {
        let mut cx = Cx::new(g, mode);
        for &t in seeds {
            cx.need_grad[t] = true;
        }
        for node in &g.nodes {
            if node.inputs.iter().any(|&t| cx.need_grad[t]) {
                for &o in &node.outputs {
                    cx.need_grad[o] = true;
                }
            }
        }
        cx
    }

    /// Records a library file and returns its namespace alias.
    pub fn src(&mut self, path: &str, alias: &str) -> String {
        self.sources.insert((path.to_string(), alias.to_string()));
        alias.to_string()
    }

    pub fn line(&mut self, s: impl AsRef<str>) {
        self.code.line(s);
    }

    pub fn comment(&mut self, s: impl AsRef<str>) {
        self.code.comment(s);
    }

    pub fn train(&self) -> bool {
        self.mode == Mode::Train
    }

    /// Whether a layer with a training mode runs it: training, and the layer is not frozen
    /// (Keras runs a frozen BatchNormalization in inference mode during `fit`).
    pub fn train_mode_of(&self, node: &Node) -> bool {
        self.mode == Mode::Train && !node.frozen
    }

    pub fn input(&self, node: &Node, i: usize) -> &'g str {
        &self.g.tensors[node.inputs[i]].var
    }

    pub fn output(&self, node: &Node, i: usize) -> &'g str {
        &self.g.tensors[node.outputs[i]].var
    }

    pub fn in_shape(&self, node: &Node, i: usize) -> &'g [usize] {
        &self.g.tensors[node.inputs[i]].shape
    }

    pub fn out_shape(&self, node: &Node, i: usize) -> &'g [usize] {
        &self.g.tensors[node.outputs[i]].shape
    }

    /// The variable of the node's `k`-th parameter.
    pub fn param(&self, node: &Node, k: usize) -> &'g str {
        &self.g.params[node.params[k]].var
    }

    /// Whether the node's `k`-th parameter gets a gradient (it is trainable).
    pub fn param_trained(&self, node: &Node, k: usize) -> bool {
        node.params.get(k).is_some_and(|&p| self.g.params[p].trainable)
    }

    /// The gradient variable of the node's `k`-th parameter: `d_<param>`, or, when several nodes
    /// use the parameter (a shared layer), this node's own contribution `d_<param>_<node>`, which
    /// [`backward`] then adds into `d_<param>` (so an emitter assigns its parameter gradients
    /// plainly and never needs to know about sharing).
    pub fn param_grad(&self, node: &Node, k: usize) -> String {
        let p = node.params[k];
        if self.param_uses[p] > 1 {
            format!("d_{}_{}", self.g.params[p].var, node.name)
        } else {
            format!("d_{}", self.g.params[p].var)
        }
    }

    /// After a node's backward pass: sums its contributions to shared parameters' gradients
    /// (the first contribution in backward order assigns `d_<param>`, later ones add to it).
    fn collect_shared_param_grads(&mut self, node: &Node) {
        let mut commented = false;
        for k in 0..node.params.len() {
            let p = node.params[k];
            if self.param_uses[p] <= 1 || !self.param_trained(node, k) {
                continue;
            }
            if !commented {
                self.comment(format!(
                    "{} is shared: its parameter gradients add up over its calls.",
                    node.layer
                ));
                commented = true;
            }
            let (total, part) = (format!("d_{}", self.g.params[p].var), self.param_grad(node, k));
            if self.param_grads_started.insert(p) {
                self.line(format!("{total} = {part}"));
            } else {
                self.line(format!("{total} = {total} + {part}"));
            }
        }
    }

    /// The upstream gradient of output `i` (what the backward pass starts from).
    pub fn dout(&self, node: &Node, i: usize) -> String {
        format!("d_{}", self.output(node, i))
    }

    /// Whether the backward pass must produce the gradient of input `i`.
    pub fn needs_input_grad(&self, node: &Node, i: usize) -> bool {
        self.need_grad[node.inputs[i]]
    }

    /// Whether the node's backward pass has anything to compute.
    pub fn has_backward(&self, node: &Node) -> bool {
        (0..node.inputs.len()).any(|i| self.needs_input_grad(node, i))
            || (0..node.params.len()).any(|k| self.param_trained(node, k))
    }

    /// Whether output `i`'s gradient exists (some consumer of it needed one).
    pub fn has_dout(&self, node: &Node, i: usize) -> bool {
        self.grads_started.contains(&node.outputs[i])
    }

    /// Adds `expr` to the gradient of input `i`: the first contribution assigns it, later ones
    /// (the tensor feeds several nodes) add to it.
    pub fn add_input_grad(&mut self, node: &Node, i: usize, expr: &str) {
        let t = node.inputs[i];
        if !self.need_grad[t] {
            return;
        }
        let d = format!("d_{}", self.g.tensors[t].var);
        if self.grads_started.insert(t) {
            if expr != d {
                self.line(format!("{d} = {expr}"));
            }
        } else {
            self.line(format!("{d} = {d} + {expr}"));
        }
    }

    /// Marks the gradient of a model output as assigned (by the loss).
    pub fn start_grad(&mut self, t: TensorId) {
        self.grads_started.insert(t);
    }

    /// A fresh variable for input `i`'s gradient contribution, to be passed to
    /// [`Self::add_input_grad`] (`d_<input>` itself when this is the first contribution).
    pub fn input_grad_target(&self, node: &Node, i: usize) -> String {
        let t = node.inputs[i];
        let d = format!("d_{}", self.g.tensors[t].var);
        if self.grads_started.contains(&t) { format!("{d}_from_{}", node.name) } else { d }
    }

    /// A variable for something the backward pass needs from the forward pass.
    pub fn cache(&self, node: &Node, what: &str) -> String {
        format!("{}_{what}", node.name)
    }
}

/// The emitter file that writes an op's passes.
#[derive(Clone, Copy)]
enum Family {
    Core,
    Conv,
    Recurrent,
    Norm,
    Shape,
    Arith,
    Caffe,
}

fn family(op: &Op) -> Family {
    match op {
        Op::Dense { .. }
        | Op::Activation(_)
        | Op::Flatten
        | Op::Dropout { .. }
        | Op::Relayout { .. }
        | Op::Merge(_) => Family::Core,
        Op::Conv2D { .. }
        | Op::GroupedConv2D { .. }
        | Op::Conv1D { .. }
        | Op::Conv2DTranspose { .. }
        | Op::DepthwiseConv2D { .. }
        | Op::SeparableConv2D { .. }
        | Op::Pool2D { .. }
        | Op::Pool1D { .. }
        | Op::GlobalPool { .. }
        | Op::ZeroPadding2D { .. }
        | Op::Cropping2D { .. }
        | Op::UpSampling2D { .. }
        | Op::SpatialDropout { .. } => Family::Conv,
        Op::Embedding { .. }
        | Op::SimpleRnn { .. }
        | Op::Lstm { .. }
        | Op::Gru { .. }
        | Op::Bidirectional { .. }
        | Op::TimeDistributed { .. } => Family::Recurrent,
        Op::BatchNorm { .. }
        | Op::LayerNorm { .. }
        | Op::GaussianNoise { .. }
        | Op::GaussianDropout { .. }
        | Op::PRelu { .. } => Family::Norm,
        Op::Reshape { .. } | Op::Permute { .. } | Op::RepeatVector { .. } | Op::StepSlices { .. } => {
            Family::Shape
        }
        Op::Arith { .. } => Family::Arith,
        Op::Caffe(_) => Family::Caffe,
    }
}

/// Writes the forward pass of one node.
pub fn forward(cx: &mut Cx, id: NodeId) -> Result<(), ConvertError> {
    let node = &cx.g.nodes[id];
    match (family(&node.op), &node.op) {
        (Family::Core, _) => core::forward(cx, node),
        (Family::Conv, _) => conv::forward(cx, node),
        (Family::Recurrent, _) => recurrent::forward(cx, node),
        (Family::Norm, _) => norm::forward(cx, node),
        (Family::Shape, _) => shape::forward(cx, node),
        (Family::Arith, _) => arith::forward(cx, node),
        (Family::Caffe, Op::Caffe(op)) => crate::convert::caffe::emit::forward(cx, node, op),
        (Family::Caffe, _) => Err(unsupported(node)),
    }
}

/// Writes the backward pass of one node: the gradients of its trainable parameters and of the
/// inputs that need one, from the gradients of its outputs.
pub fn backward(cx: &mut Cx, id: NodeId) -> Result<(), ConvertError> {
    let node = &cx.g.nodes[id];
    if !cx.has_backward(node) || !(0..node.outputs.len()).any(|i| cx.has_dout(node, i)) {
        return Ok(());
    }
    match (family(&node.op), &node.op) {
        (Family::Core, _) => core::backward(cx, node),
        (Family::Conv, _) => conv::backward(cx, node),
        (Family::Recurrent, _) => recurrent::backward(cx, node),
        (Family::Norm, _) => norm::backward(cx, node),
        (Family::Shape, _) => shape::backward(cx, node),
        (Family::Arith, _) => arith::backward(cx, node),
        (Family::Caffe, Op::Caffe(op)) => crate::convert::caffe::emit::backward(cx, node, op),
        (Family::Caffe, _) => Err(unsupported(node)),
    }?;
    cx.collect_shared_param_grads(node);
    Ok(())
}

/// For each parameter, the number of nodes that use it.
fn param_uses(g: &Graph) -> Vec<usize> {
    let mut uses = vec![0; g.params.len()];
    for node in &g.nodes {
        for &p in &node.params {
            uses[p] += 1;
        }
    }
    uses
}

pub(crate) fn unsupported(node: &Node) -> ConvertError {
    ConvertError::Layer {
        layer: node.layer.clone(),
        class: node.class.clone(),
        detail: format!("the converter cannot write DML for {} yet", node.op.describe()),
    }
}

/// A number as DML source text that reads back as the same double.
/// Negative numbers come in parentheses, so the text can stand after any operator.
pub fn num(v: f64) -> String {
    let t = crate::syntax::pretty::double_text(v);
    if v < 0.0 || t.starts_with('-') { format!("({t})") } else { t }
}

/// An integer as DML source text.
pub fn int(v: usize) -> String {
    v.to_string()
}
