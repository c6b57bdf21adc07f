//! The ONNX graph to the converter's graph: values, the model's inputs and outputs, and the
//! helpers the per-op lowerings ([`super::ops`]) share.
//!
//! Every ONNX value is either a constant ([`Const`]: an initializer or a `Constant` node's
//! output, folded where it feeds shape arguments) or a tensor of the graph. A tensor value
//! carries its ONNX shape without the batch axis, where the batch axis is (ONNX's LSTM takes
//! `[T, N, D]`), and whether its graph tensor is the channels-last view of it (`cl`: a 4-D
//! `[N, C, H, W]` value is the logical `[H, W, C]` that convolutions compute in). Ops that need
//! the channels-last view ask [`Lowering::as_cl`], ops that work in ONNX's axis order ask
//! [`Lowering::plain`]; both are permutations that the layout pass makes free (the cells are
//! ONNX's NCHW order either way).

use std::collections::{HashMap, HashSet};

use ndarray::Array2;

use super::proto::{GraphProto, ModelProto, NodeProto};
use super::value::{Const, decode_tensor};
use crate::convert::error::ConvertError;
use crate::convert::ir::{
    Graph, Layout, Node, NodeId, Op, Param, ParamId, ParamOrigin, ParamTransform, TensorId, TensorInfo,
};
use crate::convert::keras::lower::sanitize;

/// The ops the importer takes (the default domain), for error messages.
pub const SUPPORTED: &[&str] = &[
    "Add",
    "AveragePool",
    "Cast",
    "BatchNormalization",
    "Concat",
    "Constant",
    "Conv",
    "ConvTranspose",
    "Div",
    "Dropout",
    "Flatten",
    "GRU",
    "Gather",
    "Gelu",
    "Gemm",
    "GlobalAveragePool",
    "Identity",
    "LSTM",
    "LayerNormalization",
    "LeakyRelu",
    "LogSoftmax",
    "MatMul",
    "MaxPool",
    "Mul",
    "Relu",
    "Reshape",
    "Shape",
    "Sigmoid",
    "Slice",
    "Softmax",
    "Squeeze",
    "Sub",
    "Tanh",
    "Transpose",
    "Unsqueeze",
];

/// A tensor of the graph, as ONNX sees it.
#[derive(Debug, Clone)]
pub struct TensorVal {
    pub t: TensorId,
    /// ONNX's shape without the batch axis.
    pub shape: Vec<usize>,
    /// Position of the batch axis in ONNX's full shape.
    pub batch: usize,
    /// The graph tensor is the channels-last view (`[H, W, C]` of ONNX's `[C, H, W]`).
    pub cl: bool,
}

impl TensorVal {
    /// ONNX's full rank (with the batch axis).
    pub fn rank(&self) -> usize {
        self.shape.len() + 1
    }
}

#[derive(Debug, Clone)]
pub enum Value {
    Tensor(TensorVal),
    Const(Const),
    /// A shape vector that holds the batch size ([`super::shape_fold`]).
    Shape(super::shape_fold::ShapeVal),
}

/// The state of one lowering.
pub struct Lowering<'m> {
    pub g: Graph,
    pub file: String,
    pub opset: i64,
    pub values: HashMap<String, Value>,
    /// How many node inputs and graph outputs read each value (fusions need a single reader).
    pub readers: HashMap<String, usize>,
    used_names: HashSet<String>,
    /// Dense nodes made from a MatMul without bias, by output value: an `Add` of a bias
    /// becomes their bias.
    pub biasless_dense: HashMap<String, NodeId>,
    pub graph: &'m GraphProto,
}

/// Lowers a decoded model.
pub fn lower(model: &ModelProto, file: &str) -> Result<Graph, ConvertError> {
    let malformed = |part: &str, detail: String| ConvertError::Malformed {
        file: file.to_string(),
        part: part.to_string(),
        detail,
    };
    let graph = model.graph.as_ref().ok_or_else(|| malformed("model", "it has no graph".into()))?;
    let mut opset = None;
    for o in &model.opset_import {
        if o.domain.is_empty() || o.domain == "ai.onnx" {
            opset = Some(o.version);
        }
    }
    let opset = opset
        .ok_or_else(|| malformed("model", "it imports no version of the default operator set".into()))?;
    if opset < 7 {
        return Err(ConvertError::Unsupported {
            file: file.to_string(),
            part: "model".into(),
            detail: format!(
                "operator set {opset}; the importer reads opset 7 and later (13 and later tested)"
            ),
        });
    }
    let name = if graph.name.is_empty() { "model".to_string() } else { graph.name.clone() };
    let producer = if model.producer_name.is_empty() {
        String::new()
    } else {
        format!(", from {} {}", model.producer_name, model.producer_version).trim_end().to_string()
    };
    let mut cx = Lowering {
        g: Graph {
            name: name.clone(),
            origin: format!("ONNX model \"{name}\" (opset {opset}{producer})"),
            tensors: Vec::new(),
            nodes: Vec::new(),
            params: Vec::new(),
            inputs: Vec::new(),
            outputs: Vec::new(),
            training: None,
        },
        file: file.to_string(),
        opset,
        values: HashMap::new(),
        readers: HashMap::new(),
        used_names: HashSet::new(),
        biasless_dense: HashMap::new(),
        graph,
    };
    for n in &graph.node {
        for i in n.input.iter().filter(|i| !i.is_empty()) {
            *cx.readers.entry(i.clone()).or_default() += 1;
        }
    }
    for o in &graph.output {
        *cx.readers.entry(o.name.clone()).or_default() += 1;
    }
    for t in &graph.initializer {
        let mut c = decode_tensor(t)
            .map_err(|e| malformed(&format!("initializer `{}`", t.name), format!("it {e}")))?;
        c.init = Some(t.name.clone());
        cx.values.insert(t.name.clone(), Value::Const(c));
    }
    cx.inputs()?;
    for n in &graph.node {
        super::ops::lower_node(&mut cx, n)?;
    }
    for o in &graph.output {
        let v = match cx.values.get(&o.name) {
            Some(Value::Tensor(v)) => v.clone(),
            Some(Value::Shape(_)) => {
                return Err(malformed(
                    &format!("graph output `{}`", o.name),
                    "it is a shape vector (shape arithmetic is folded at import time, not an output)".into(),
                ));
            }
            Some(Value::Const(_)) => {
                return Err(malformed(
                    &format!("graph output `{}`", o.name),
                    "it is a constant (it does not depend on the input)".into(),
                ));
            }
            None => {
                return Err(malformed(&format!("graph output `{}`", o.name), "no node computes it".into()));
            }
        };
        let t = cx.plain_for(&v, &o.name)?;
        cx.g.outputs.push(t);
    }
    if cx.g.outputs.is_empty() {
        return Err(malformed("graph", "it has no outputs".into()));
    }
    Ok(cx.g)
}

impl<'m> Lowering<'m> {
    /// The model's inputs (graph inputs that are not initializers).
    fn inputs(&mut self) -> Result<(), ConvertError> {
        let graph = self.graph;
        for vi in &graph.input {
            if self.values.contains_key(&vi.name) {
                continue;
            }
            let part = format!("graph input `{}`", vi.name);
            let dims = vi
                .r#type
                .as_ref()
                .and_then(|t| t.tensor_type.as_ref())
                .and_then(|t| t.shape.as_ref())
                .map(|s| s.dim.clone())
                .ok_or_else(|| self.unsupported(&part, "it has no tensor shape"))?;
            if dims.len() < 2 {
                return Err(self.unsupported(&part, "a model input needs a batch axis and at least one more"));
            }
            let symbolic = |d: &super::proto::Dimension| d.dim_value.is_none_or(|v| v <= 0);
            let mut batch = dims.iter().position(symbolic).unwrap_or(0);
            if !dims.iter().any(symbolic) && self.feeds_seq_major_rnn(&vi.name) {
                batch = 1;
            }
            let mut shape = Vec::new();
            for (k, d) in dims.iter().enumerate() {
                if k == batch {
                    continue;
                }
                match d.dim_value {
                    Some(v) if v > 0 => shape.push(v as usize),
                    _ => {
                        return Err(self.unsupported(
                            &part,
                            format!("axis {k} has no fixed size (only the batch axis may vary)"),
                        ));
                    }
                }
            }
            let cl = shape.len() == 3;
            let logical = if cl { rotate_to_last(&shape) } else { shape.clone() };
            let var = self.unique_name(&vi.name);
            let t = self.g.tensors.len();
            let layout = if cl { Layout::ChannelsFirst } else { Layout::RowMajor };
            self.g.tensors.push(TensorInfo { var, shape: logical, layout, producer: None });
            self.g.inputs.push(t);
            self.values.insert(vi.name.clone(), Value::Tensor(TensorVal { t, shape, batch, cl }));
        }
        if self.g.inputs.is_empty() {
            return Err(self.unsupported("graph", "it has no input besides its initializers"));
        }
        Ok(())
    }

    /// Whether a fixed-size input is the `X` of a sequence-major (`layout=0`) LSTM or GRU.
    fn feeds_seq_major_rnn(&self, name: &str) -> bool {
        self.graph.node.iter().any(|n| {
            (n.op_type == "LSTM" || n.op_type == "GRU")
                && n.input.first().is_some_and(|i| i == name)
                && super::value::Attrs::new(n).int("layout", 0) == 0
        })
    }

    pub fn unsupported(&self, part: &str, detail: impl std::fmt::Display) -> ConvertError {
        ConvertError::Unsupported {
            file: self.file.clone(),
            part: part.to_string(),
            detail: detail.to_string(),
        }
    }

    /// A fresh DML name stem from `base`.
    pub fn unique_name(&mut self, base: &str) -> String {
        let base = sanitize(base);
        let mut name = base.clone();
        let mut k = 1;
        while !self.used_names.insert(name.clone()) {
            name = format!("{base}_{k}");
            k += 1;
        }
        name
    }

    /// Adds a node computing `op`; its output shapes come from the op's shape rule.
    pub fn add_node(
        &mut self,
        n: &NodeProto,
        stem: &str,
        op: Op,
        inputs: &[TensorId],
    ) -> Result<NodeId, ConvertError> {
        let in_shapes: Vec<&[usize]> = inputs.iter().map(|&t| self.g.tensors[t].shape.as_slice()).collect();
        let out_shapes = crate::convert::shapes::infer(&op, &in_shapes).map_err(|e| node_err(n, e))?;
        let name = self.unique_name(stem);
        let id = self.g.nodes.len();
        let mut outputs = Vec::new();
        for (k, shape) in out_shapes.iter().enumerate() {
            let var =
                if out_shapes.len() == 1 { format!("{name}_out") } else { format!("{name}_out{}", k + 1) };
            let t = self.g.tensors.len();
            self.g.tensors.push(TensorInfo {
                var,
                shape: shape.clone(),
                layout: Layout::RowMajor,
                producer: Some(id),
            });
            outputs.push(t);
        }
        self.g.nodes.push(Node {
            name,
            layer: layer_name(n),
            class: n.op_type.clone(),
            op,
            inputs: inputs.to_vec(),
            outputs,
            params: Vec::new(),
            frozen: false,
        });
        Ok(id)
    }

    pub fn out(&self, node: NodeId) -> TensorId {
        self.g.nodes[node].outputs[0]
    }

    /// Adds a parameter of `node`: `value` in the DML layout, made from the ONNX tensor `c` by
    /// `transform` (row-major data to the DML matrix).
    pub fn add_param(
        &mut self,
        node: NodeId,
        role: &str,
        c: &Const,
        value: Array2<f64>,
        transform: ParamTransform,
        trainable: bool,
    ) -> ParamId {
        let stem = self.g.nodes[node].name.clone();
        let var = self.unique_name(&format!("{stem}_{role}"));
        let id = self.g.params.len();
        let index = self.g.nodes[node].params.len();
        self.g.params.push(Param {
            var,
            node,
            value,
            trainable,
            regularizer: None,
            origin: ParamOrigin {
                layer_key: c.init.clone().unwrap_or_else(|| self.g.nodes[node].layer.clone()),
                index,
                name: role.to_string(),
                shape: c.shape.clone(),
                float32: c.float32,
                transform,
            },
        });
        self.g.nodes[node].params.push(id);
        id
    }

    /// A parameter reshaped row-major to `(rows, cols)`.
    pub fn add_reshaped_param(
        &mut self,
        node: NodeId,
        role: &str,
        c: &Const,
        rows: usize,
        cols: usize,
        trainable: bool,
    ) -> ParamId {
        let t = ParamTransform::Reshape { rows, cols };
        let v = t.to_dml(&c.data);
        self.add_param(node, role, c, v, t, trainable)
    }

    /// The value named `name` (an input of node `n`).
    pub fn value(&self, n: &NodeProto, name: &str) -> Result<Value, ConvertError> {
        self.values
            .get(name)
            .cloned()
            .ok_or_else(|| node_err(n, format!("its input `{name}` is not computed before it (the graph is not in topological order, or the name is wrong)")))
    }

    /// Input `i` of `n` as a tensor of the graph.
    pub fn tensor_input(&self, n: &NodeProto, i: usize) -> Result<TensorVal, ConvertError> {
        let name = n
            .input
            .get(i)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| node_err(n, format!("input {} is missing", i + 1)))?;
        match self.value(n, name)? {
            Value::Tensor(v) => Ok(v),
            Value::Shape(_) => Err(node_err(
                n,
                format!(
                    "input {} (`{name}`) is a shape vector holding the batch size; it can only be a Reshape's target",
                    i + 1
                ),
            )),
            Value::Const(_) => Err(node_err(
                n,
                format!(
                    "input {} (`{name}`) is a constant; the importer needs it computed from the model's input",
                    i + 1
                ),
            )),
        }
    }

    /// Input `i` of `n` as a constant (`None` when the input is absent).
    pub fn const_input(&self, n: &NodeProto, i: usize) -> Result<Option<Const>, ConvertError> {
        let Some(name) = n.input.get(i).filter(|s| !s.is_empty()) else { return Ok(None) };
        match self.value(n, name)? {
            Value::Const(c) => Ok(Some(c)),
            Value::Shape(s) => Err(node_err(
                n,
                format!(
                    "input {} (`{name}`) is the shape {:?} holding the batch size, known only at run time; the importer needs a constant there",
                    i + 1,
                    s.dims
                ),
            )),
            Value::Tensor(_) => Err(node_err(
                n,
                format!(
                    "input {} (`{name}`) is computed from the model's input; the importer needs a constant (an initializer) there",
                    i + 1
                ),
            )),
        }
    }

    /// Input `i` of `n` as a constant that must be there.
    pub fn required_const(&self, n: &NodeProto, i: usize, what: &str) -> Result<Const, ConvertError> {
        self.const_input(n, i)?.ok_or_else(|| node_err(n, format!("input {} ({what}) is missing", i + 1)))
    }

    /// Whether output `k` of `n` is read by anything.
    pub fn output_used(&self, n: &NodeProto, k: usize) -> bool {
        n.output.get(k).is_some_and(|o| !o.is_empty() && self.readers.get(o).copied().unwrap_or(0) > 0)
    }

    /// Binds output `k` of `n` to a tensor value.
    pub fn set_output(&mut self, n: &NodeProto, k: usize, v: TensorVal) {
        if let Some(name) = n.output.get(k).filter(|s| !s.is_empty()) {
            self.values.insert(name.clone(), Value::Tensor(v));
        }
    }

    pub fn set_const(&mut self, n: &NodeProto, k: usize, c: Const) {
        if let Some(name) = n.output.get(k).filter(|s| !s.is_empty()) {
            self.values.insert(name.clone(), Value::Const(c));
        }
    }

    /// A tensor value of the graph tensor `t` (its logical shape is ONNX's, or the channels-last
    /// view when `cl`).
    pub fn val(&self, t: TensorId, batch: usize, cl: bool) -> TensorVal {
        let logical = &self.g.tensors[t].shape;
        let shape = if cl { rotate_to_first(logical) } else { logical.clone() };
        TensorVal { t, shape, batch, cl }
    }

    /// The graph tensor of `v` in ONNX's axis order.
    pub fn plain(&mut self, n: &NodeProto, v: &TensorVal) -> Result<TensorId, ConvertError> {
        if !v.cl {
            return Ok(v.t);
        }
        let k = v.shape.len();
        let mut dims = vec![k];
        dims.extend(1..k);
        let node = self.add_node(n, &format!("{}_nchw", layer_name(n)), Op::Permute { dims }, &[v.t])?;
        Ok(self.out(node))
    }

    fn plain_for(&mut self, v: &TensorVal, output: &str) -> Result<TensorId, ConvertError> {
        let n = NodeProto { name: output.to_string(), op_type: "Output".into(), ..Default::default() };
        self.plain(&n, v)
    }

    /// The graph tensor of a 4-D `v` in the channels-last view that convolutions take.
    pub fn as_cl(&mut self, n: &NodeProto, v: &TensorVal) -> Result<TensorId, ConvertError> {
        if v.shape.len() != 3 || v.batch != 0 {
            return Err(node_err(
                n,
                format!("needs a 4-D input [N, C, H, W] with the batch first, got {}", describe(v)),
            ));
        }
        if v.cl {
            return Ok(v.t);
        }
        let node = self.add_node(
            n,
            &format!("{}_nhwc", layer_name(n)),
            Op::Permute { dims: vec![2, 3, 1] },
            &[v.t],
        )?;
        Ok(self.out(node))
    }
}

/// The node's name for messages and DML names (its op type and first output when unnamed).
pub fn layer_name(n: &NodeProto) -> String {
    if !n.name.is_empty() {
        n.name.clone()
    } else {
        let out = n.output.first().map(String::as_str).unwrap_or("");
        format!("{}_{out}", n.op_type)
    }
}

/// An error about node `n`, naming it and its op type.
pub fn node_err(n: &NodeProto, detail: impl std::fmt::Display) -> ConvertError {
    ConvertError::Layer { layer: layer_name(n), class: n.op_type.clone(), detail: detail.to_string() }
}

/// ONNX's shape of a tensor value, with `N` for the batch axis.
pub fn describe(v: &TensorVal) -> String {
    let mut parts: Vec<String> = v.shape.iter().map(|d| d.to_string()).collect();
    parts.insert(v.batch.min(parts.len()), "N".into());
    format!("[{}]", parts.join(", "))
}

/// `[C, H, W]` to `[H, W, C]`.
pub fn rotate_to_last(s: &[usize]) -> Vec<usize> {
    let mut v = s[1..].to_vec();
    v.push(s[0]);
    v
}

/// `[H, W, C]` to `[C, H, W]`.
pub fn rotate_to_first(s: &[usize]) -> Vec<usize> {
    let mut v = vec![s[s.len() - 1]];
    v.extend_from_slice(&s[..s.len() - 1]);
    v
}
