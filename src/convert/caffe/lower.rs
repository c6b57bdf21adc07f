//! A Caffe network (`NetParameter`) lowered to the converter's graph: layers filtered by phase,
//! blobs followed by name (an in-place layer's top is a new tensor that later bottoms of the same
//! name read, so the graph stays in single assignment), parameters created with Caffe's fillers
//! (or read from a `.caffemodel`), the loss and accuracy layers kept aside for the scripts.

use std::collections::{HashMap, HashSet};

use ndarray::Array2;
use prost_reflect::{DynamicMessage, ReflectMessage};

use super::ops::{CaffeOp, logical, pool_out};
use super::proto::Msg;
use crate::convert::error::ConvertError;
use crate::convert::ir::{
    Activation, Graph, Layout, MergeKind, Node, NodeId, Op, Param, ParamId, ParamOrigin, ParamTransform,
    PoolKind, TensorId, TensorInfo,
};

/// Which loss the training script computes, on which tensor.
#[derive(Debug, Clone, PartialEq)]
pub enum LossKind {
    /// Softmax over the scores' channels, then the mean negative log-likelihood of the labels.
    SoftmaxWithLoss { ignore_label: Option<i64> },
    /// `sum((a - b)^2) / (2 N)`.
    Euclidean,
    /// Sigmoid cross-entropy of logits against 0/1 targets.
    SigmoidCrossEntropy,
}

/// Caffe's loss normalization (LossParameter.normalization).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Normalization {
    Full,
    Valid,
    BatchSize,
    None,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LossSpec {
    pub layer: String,
    pub kind: LossKind,
    /// The tensor the loss reads (scores, predictions, logits).
    pub input: TensorId,
    pub weight: f64,
    pub normalization: Normalization,
}

/// What lowering keeps besides the graph.
#[derive(Debug, Clone)]
pub struct Lowered {
    pub graph: Graph,
    pub loss: Option<LossSpec>,
    /// `top_k` of each Accuracy layer (on the loss's scores).
    pub accuracy: Vec<(String, usize)>,
    /// `(lr_mult, decay_mult)` of each parameter.
    pub mults: Vec<(f64, f64)>,
    /// The data layers' batch size (TRAIN and TEST phase).
    pub batch_size: Option<usize>,
    pub test_batch_size: Option<usize>,
    /// The number of label columns the loss reads (1 for class ids).
    pub label_width: usize,
}

/// Options of the lowering that the prototxt may not say.
#[derive(Debug, Clone, Default)]
pub struct NetOptions {
    /// `(C, H, W)` (or any Caffe shape without the batch axis) of a Data layer's data.
    pub input_shape: Option<Vec<usize>>,
    /// Seed of the fillers' random numbers.
    pub seed: u64,
}

/// A layer as read from the file.
#[derive(Debug, Clone)]
struct Layer {
    name: String,
    ty: String,
    bottoms: Vec<String>,
    tops: Vec<String>,
    msg: DynamicMessage,
}

impl Layer {
    fn err(&self, detail: impl std::fmt::Display) -> ConvertError {
        ConvertError::Layer { layer: self.name.clone(), class: self.ty.clone(), detail: detail.to_string() }
    }

    fn m(&self) -> Msg<'_> {
        Msg(&self.msg)
    }

    /// A `*_param` block (the defaults when absent).
    fn param_block(&self, name: &str) -> DynamicMessage {
        let m = self.m();
        let f = m.0.descriptor().get_field_by_name(name);
        match f.map(|f| m.0.get_field(&f).into_owned()) {
            Some(prost_reflect::Value::Message(x)) => x,
            _ => DynamicMessage::new(m.0.descriptor()),
        }
    }

    fn require_bottoms(&self, n: usize) -> Result<(), ConvertError> {
        if self.bottoms.len() != n {
            return Err(self.err(format!("has {} bottoms; this layer type takes {n}", self.bottoms.len())));
        }
        Ok(())
    }
}

/// Whether a NetStateRule matches the state of phase `phase` (level 0, no stages).
fn rule_matches(rule: Msg, phase: &str) -> bool {
    if rule.has("phase") && rule.enum_name("phase") != phase {
        return false;
    }
    if rule.has("min_level") && rule.i64("min_level") > 0 {
        return false;
    }
    if rule.has("max_level") && rule.i64("max_level") < 0 {
        return false;
    }
    rule.strs("stage").is_empty()
}

/// Caffe's filter: a layer with include rules is in when one matches; otherwise it is in unless an
/// exclude rule matches.
fn in_phase(l: &Layer, phase: &str) -> bool {
    let m = l.m();
    let inc = m.msgs("include");
    if !inc.is_empty() {
        return inc.iter().any(|r| rule_matches(*r, phase));
    }
    !m.msgs("exclude").iter().any(|r| rule_matches(*r, phase))
}

/// A small deterministic generator for Caffe's random fillers (splitmix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        ((z >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        let (u, v) = (self.next(), self.next());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

struct Lowering {
    g: Graph,
    blobs: HashMap<String, TensorId>,
    labels: HashSet<String>,
    used: HashSet<String>,
    mults: Vec<(f64, f64)>,
    rng: Rng,
    /// Blobs that recurrent layers read as their sequence (`T x N x D`, time-major).
    seq_inputs: HashSet<String>,
    /// Blobs that recurrent layers read as `cont` (never data: see [`recurrent`]).
    conts: HashSet<String>,
    /// Graph tensors that hold sequences (`[T, D]` per example).
    sequences: HashSet<TensorId>,
}

pub fn sanitize(name: &str) -> String {
    let mut s: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect();
    if s.is_empty() || !s.starts_with(|c: char| c.is_ascii_alphabetic()) {
        s.insert_str(0, "l_");
    }
    s
}

impl Lowering {
    fn unique(&mut self, stem: &str) -> String {
        let base = sanitize(stem);
        let mut name = base.clone();
        let mut k = 1;
        while !self.used.insert(name.clone()) {
            name = format!("{base}_{k}");
            k += 1;
        }
        name
    }

    fn blob(&self, l: &Layer, name: &str) -> Result<TensorId, ConvertError> {
        if self.labels.contains(name) {
            return Err(l.err(format!("reads the label blob `{name}`; only loss and Accuracy layers may")));
        }
        self.blobs.get(name).copied().ok_or_else(|| {
            l.err(format!(
                "bottom `{name}` is no earlier layer's top (layers must come in the order they run)"
            ))
        })
    }

    fn shape(&self, t: TensorId) -> &[usize] {
        &self.g.tensors[t].shape
    }

    /// Adds a node; its output becomes blob `top` (when given).
    fn node(
        &mut self,
        l: &Layer,
        stem: &str,
        op: Op,
        inputs: &[TensorId],
        top: Option<&str>,
    ) -> Result<NodeId, ConvertError> {
        let shapes: Vec<&[usize]> = inputs.iter().map(|&t| self.g.tensors[t].shape.as_slice()).collect();
        let out = crate::convert::shapes::infer(&op, &shapes).map_err(|e| l.err(e))?;
        let name = self.unique(stem);
        let id = self.g.nodes.len();
        let t = self.g.tensors.len();
        self.g.tensors.push(TensorInfo {
            var: format!("{name}_out"),
            shape: out.into_iter().next().unwrap_or_default(),
            layout: Layout::RowMajor,
            producer: Some(id),
        });
        self.g.nodes.push(Node {
            name,
            layer: l.name.clone(),
            class: l.ty.clone(),
            op,
            inputs: inputs.to_vec(),
            outputs: vec![t],
            params: vec![],
            frozen: false,
        });
        if let Some(top) = top {
            self.blobs.insert(top.to_string(), t);
        }
        Ok(id)
    }

    fn out(&self, n: NodeId) -> TensorId {
        self.g.nodes[n].outputs[0]
    }

    /// Adds parameter `index` of layer `l` to node `n`: Caffe blob shape `blob`, its DML matrix
    /// through `transform`, initial values from `filler` (a `FillerParameter`, or a constant).
    #[allow(clippy::too_many_arguments)]
    fn param(
        &mut self,
        l: &Layer,
        n: NodeId,
        index: usize,
        suffix: &str,
        blob: &[usize],
        transform: ParamTransform,
        init: Init,
    ) -> ParamId {
        let count: usize = blob.iter().product();
        let data: Vec<f64> = match init {
            Init::Constant(v) => vec![v; count],
            Init::Filler(f) => self.fill(Msg(&f), blob),
        };
        let value = transform.to_dml(&data);
        let spec = l.m().msgs("param");
        let (lr, decay) = spec.get(index).map_or((1.0, 1.0), |p| (p.f64("lr_mult"), p.f64("decay_mult")));
        // Caffe's BatchNorm masks its statistics from the solver.
        let frozen_stat = matches!(self.g.nodes[n].op, Op::Caffe(CaffeOp::BatchNorm { .. }));
        let (lr, decay) = if frozen_stat { (0.0, 0.0) } else { (lr, decay) };
        let id = self.g.params.len();
        self.g.params.push(Param {
            var: format!("{}_{suffix}", self.g.nodes[n].name),
            node: n,
            value,
            trainable: lr != 0.0,
            regularizer: None,
            origin: ParamOrigin {
                layer_key: l.name.clone(),
                index,
                name: format!("blob{index}"),
                shape: blob.to_vec(),
                float32: true,
                transform,
            },
        });
        self.mults.push((lr, decay));
        self.g.nodes[n].params.push(id);
        id
    }

    /// Caffe's fillers: fan-in is the count over the first axis, fan-out over the second.
    fn fill(&mut self, f: Msg, blob: &[usize]) -> Vec<f64> {
        let count: usize = blob.iter().product();
        let fan_in = count as f64 / blob.first().copied().unwrap_or(1).max(1) as f64;
        let fan_out = count as f64 / blob.get(1).copied().unwrap_or(1).max(1) as f64;
        let n = match f.enum_name("variance_norm").as_str() {
            "FAN_OUT" => fan_out,
            "AVERAGE" => (fan_in + fan_out) / 2.0,
            _ => fan_in,
        };
        let ty = f.str("type");
        let ty = if ty.is_empty() { "constant".to_string() } else { ty };
        (0..count)
            .map(|_| match ty.as_str() {
                "gaussian" => f.f64("mean") + f.f64("std") * self.rng.normal(),
                "uniform" => f.f64("min") + (f.f64("max") - f.f64("min")) * self.rng.next(),
                "xavier" => {
                    let a = (3.0 / n).sqrt();
                    -a + 2.0 * a * self.rng.next()
                }
                "msra" => (2.0 / n).sqrt() * self.rng.normal(),
                _ => f.f64("value"),
            })
            .collect()
    }
}

enum Init {
    Constant(f64),
    Filler(DynamicMessage),
}

fn filler_of(block: &DynamicMessage, field: &str, default: f64) -> Result<Init, String> {
    let m = Msg(block);
    if !m.has(field) {
        return Ok(Init::Constant(default));
    }
    let f = match m.0.get_field_by_name(field).map(|v| v.into_owned()) {
        Some(prost_reflect::Value::Message(f)) => f,
        _ => return Ok(Init::Constant(default)),
    };
    let ty = Msg(&f).str("type");
    match ty.as_str() {
        "" | "constant" | "gaussian" | "uniform" | "xavier" | "msra" => Ok(Init::Filler(f)),
        other => Err(format!(
            "{field} type `{other}` is not supported (constant, gaussian, uniform, xavier, msra)"
        )),
    }
}

/// Kernel, stride and pad of a convolution or pooling block: repeated values or the `_h`/`_w` pair.
fn window(m: Msg, field: &str, default: usize, l: &Layer) -> Result<[usize; 2], ConvertError> {
    let stem = field.strip_suffix("_size").unwrap_or(field);
    let (h, w) = (format!("{stem}_h"), format!("{stem}_w"));
    if m.has(&h) || m.has(&w) {
        let v = [m.usize(&h), m.usize(&w)];
        if stem != "pad" && v.contains(&0) {
            return Err(l.err(format!("{h} and {w} must both be given and positive")));
        }
        return Ok(v);
    }
    let v = m.f64s(field);
    match v.as_slice() {
        [] if m.has(field) => Ok([m.usize(field); 2]),
        [] => Ok([default; 2]),
        [a] => Ok([*a as usize; 2]),
        [a, b] => Ok([*a as usize, *b as usize]),
        _ => Err(l.err(format!("{field} has {} values; 2-D layers take one or two", v.len()))),
    }
}

const SUPPORTED: &str = "Data, Input, Convolution, Deconvolution, Pooling, InnerProduct, ReLU, PReLU, ELU, Sigmoid, \
TanH, Softmax, SoftmaxWithLoss, Dropout, BatchNorm, Scale, LRN, Eltwise, Concat, Split, Flatten, Reshape, Upsample, \
EuclideanLoss, SigmoidCrossEntropyLoss, Accuracy, LSTM, RNN";

/// Lowers a parsed `NetParameter`.
pub fn lower(net: &DynamicMessage, file: &str, opts: &NetOptions) -> Result<Lowered, ConvertError> {
    let n = Msg(net);
    if !n.msgs("layers").is_empty() {
        return Err(ConvertError::Unsupported {
            file: file.into(),
            part: "layers".into(),
            detail: "a V1 network (`layers {}` blocks); upgrade it with Caffe's upgrade_net_proto_text"
                .into(),
        });
    }
    let all: Vec<Layer> = n
        .msgs("layer")
        .iter()
        .map(|m| Layer {
            name: m.str("name"),
            ty: m.str("type"),
            bottoms: m.strs("bottom"),
            tops: m.strs("top"),
            msg: m.0.clone(),
        })
        .collect();
    let name = if n.str("name").is_empty() { "caffe_net".to_string() } else { n.str("name") };
    let mut lw = Lowering {
        g: Graph {
            name: sanitize(&name),
            origin: format!("Caffe network `{name}`"),
            tensors: vec![],
            nodes: vec![],
            params: vec![],
            inputs: vec![],
            outputs: vec![],
            training: None,
        },
        blobs: HashMap::new(),
        labels: HashSet::new(),
        used: HashSet::new(),
        mults: vec![],
        rng: Rng(opts.seed ^ 0x5EED),
        seq_inputs: HashSet::new(),
        conts: HashSet::new(),
        sequences: HashSet::new(),
    };
    for l in all.iter().filter(|l| matches!(l.ty.as_str(), "LSTM" | "RNN")) {
        if let Some(b) = l.bottoms.first() {
            lw.seq_inputs.insert(b.clone());
        }
        if let Some(b) = l.bottoms.get(1) {
            lw.conts.insert(b.clone());
        }
    }
    let mut out = Lowered {
        graph: lw.g.clone(),
        loss: None,
        accuracy: vec![],
        mults: vec![],
        batch_size: None,
        test_batch_size: None,
        label_width: 1,
    };
    // Net-level inputs (deploy files): `input` with `input_shape` or four `input_dim`s.
    let inputs = n.strs("input");
    if let Some(first) = inputs.first() {
        let shapes = n.msgs("input_shape");
        let dims: Vec<usize> = if let Some(s) = shapes.first() {
            s.f64s("dim").iter().map(|&d| d as usize).collect()
        } else {
            n.f64s("input_dim").iter().take(4).map(|&d| d as usize).collect()
        };
        if dims.len() < 2 {
            return Err(ConvertError::Malformed {
                file: file.into(),
                part: format!("input `{first}`"),
                detail: "has no input_shape or input_dim".into(),
            });
        }
        add_input(&mut lw, first, &dims[1..])?;
    }
    let train: Vec<&Layer> = all.iter().filter(|l| in_phase(l, "TRAIN")).collect();
    let mut names = HashSet::new();
    for l in &train {
        if !names.insert(l.name.clone()) {
            return Err(l.err("two layers of the TRAIN network have this name"));
        }
    }
    for l in all.iter().filter(|l| !in_phase(l, "TRAIN") && in_phase(l, "TEST")) {
        match l.ty.as_str() {
            "Data" | "Input" => {
                if l.ty == "Data" {
                    let dp = l.param_block("data_param");
                    if Msg(&dp).has("batch_size") {
                        out.test_batch_size = Some(Msg(&dp).usize("batch_size"));
                    }
                }
            }
            "Accuracy" => {}
            other => {
                return Err(l.err(format!(
                    "a TEST-only {other} layer; the converter builds the TRAIN network and evaluates it in \
                     inference mode, so TEST-only layers other than data and Accuracy are not supported"
                )));
            }
        }
    }
    let loss_types = ["SoftmaxWithLoss", "EuclideanLoss", "SigmoidCrossEntropyLoss"];
    let mut deferred_acc: Vec<&Layer> = Vec::new();
    for l in &train {
        lower_layer(&mut lw, &mut out, l, opts, &loss_types, &mut deferred_acc)?;
    }
    for l in all.iter().filter(|l| l.ty == "Accuracy" && !in_phase(l, "TRAIN")) {
        deferred_acc.push(l);
    }
    if lw.g.inputs.is_empty() {
        return Err(ConvertError::Malformed {
            file: file.into(),
            part: "network".into(),
            detail: "has no Data or Input layer (nor a net-level `input`)".into(),
        });
    }
    // A deploy network ending in Softmax trains as SoftmaxWithLoss on the scores (as Caffe2DML).
    let last_out = lw.g.nodes.last().map(|nd| nd.outputs[0]);
    if out.loss.is_none()
        && let Some(last) = lw.g.nodes.last()
        && last.op == Op::Activation(Activation::Softmax)
        && last.inputs.len() == 1
    {
        out.loss = Some(LossSpec {
            layer: last.layer.clone(),
            kind: LossKind::SoftmaxWithLoss { ignore_label: None },
            input: last.inputs[0],
            weight: 1.0,
            normalization: Normalization::Valid,
        });
    }
    match &out.loss {
        Some(spec) => {
            let output = match spec.kind {
                LossKind::SoftmaxWithLoss { .. } => {
                    // The probabilities: the deploy network's Softmax, or one added for prediction.
                    match last_out {
                        Some(t)
                            if lw.g.nodes.last().is_some_and(|nd| {
                                nd.inputs == [spec.input] && nd.op == Op::Activation(Activation::Softmax)
                            }) =>
                        {
                            t
                        }
                        _ => {
                            let l = Layer {
                                name: spec.layer.clone(),
                                ty: "SoftmaxWithLoss".into(),
                                bottoms: vec![],
                                tops: vec![],
                                msg: net.clone(),
                            };
                            let id = lw.node(
                                &l,
                                &format!("{}_prob", spec.layer),
                                Op::Activation(Activation::Softmax),
                                &[spec.input],
                                None,
                            )?;
                            lw.out(id)
                        }
                    }
                }
                LossKind::SigmoidCrossEntropy => {
                    let l = Layer {
                        name: spec.layer.clone(),
                        ty: "SigmoidCrossEntropyLoss".into(),
                        bottoms: vec![],
                        tops: vec![],
                        msg: net.clone(),
                    };
                    let id = lw.node(
                        &l,
                        &format!("{}_prob", spec.layer),
                        Op::Activation(Activation::Sigmoid),
                        &[spec.input],
                        None,
                    )?;
                    lw.out(id)
                }
                LossKind::Euclidean => spec.input,
            };
            lw.g.outputs = vec![output];
        }
        None => {
            let Some(t) = last_out else {
                return Err(ConvertError::Malformed {
                    file: file.into(),
                    part: "network".into(),
                    detail: "has no layers".into(),
                });
            };
            lw.g.outputs = vec![t];
        }
    }
    for l in deferred_acc {
        let Some(spec) = &out.loss else {
            return Err(l.err("an Accuracy layer needs a loss layer whose scores it reads"));
        };
        let t = lw.blobs.get(l.bottoms.first().map(String::as_str).unwrap_or("")).copied();
        if t != Some(spec.input) {
            return Err(l.err("Accuracy reads a blob other than the loss layer's scores; not supported"));
        }
        let ap = l.param_block("accuracy_param");
        let ap = Msg(&ap);
        if ap.i64("axis") != 1 || ap.has("ignore_label") {
            return Err(l.err("accuracy_param axis other than 1 and ignore_label are not supported"));
        }
        out.accuracy
            .push((l.tops.first().cloned().unwrap_or_else(|| l.name.clone()), ap.usize("top_k").max(1)));
    }
    out.graph = lw.g;
    out.mults = lw.mults;
    Ok(out)
}

fn add_input(lw: &mut Lowering, name: &str, caffe: &[usize]) -> Result<TensorId, ConvertError> {
    if !lw.g.inputs.is_empty() {
        return Err(ConvertError::Layer {
            layer: name.into(),
            class: "Input".into(),
            detail: "a second data input; networks with one data input (and a label) are supported".into(),
        });
    }
    let var = lw.unique(name);
    let t = lw.g.tensors.len();
    let shape = logical(caffe);
    let layout = if shape.len() >= 2 { Layout::ChannelsFirst } else { Layout::RowMajor };
    lw.g.tensors.push(TensorInfo { var, shape, layout, producer: None });
    lw.g.inputs.push(t);
    lw.blobs.insert(name.to_string(), t);
    Ok(t)
}

fn lower_layer<'a>(
    lw: &mut Lowering,
    out: &mut Lowered,
    l: &'a Layer,
    opts: &NetOptions,
    loss_types: &[&str],
    accuracy: &mut Vec<&'a Layer>,
) -> Result<(), ConvertError> {
    let top = l.tops.first().map(String::as_str);
    let simple = |lw: &mut Lowering, op: Op| -> Result<(), ConvertError> {
        l.require_bottoms(1)?;
        if l.tops.len() != 1 {
            return Err(l.err("takes one top"));
        }
        let x = lw.blob(l, &l.bottoms[0])?;
        lw.node(l, &l.name, op, &[x], top)?;
        Ok(())
    };
    match l.ty.as_str() {
        "Input" => {
            let ip = l.param_block("input_param");
            let shapes = Msg(&ip).msgs("shape");
            // The first top that is not a recurrent layer's `cont` is the data.
            let mut data_seen = false;
            for (k, t) in l.tops.iter().enumerate() {
                if lw.conts.contains(t) {
                    // Not read: see `recurrent`.
                    lw.labels.insert(t.clone());
                    continue;
                }
                if !data_seen {
                    data_seen = true;
                    let dims: Vec<usize> = shapes
                        .get(k)
                        .or(shapes.first())
                        .map(|s| s.f64s("dim").iter().map(|&d| d as usize).collect())
                        .unwrap_or_default();
                    if lw.seq_inputs.contains(t) {
                        // Time-major T x N x D...: one row per sequence, its T steps side by side.
                        let [steps, _n, feat @ ..] = dims.as_slice() else {
                            return Err(l.err("a recurrent layer's input needs the shape T x N x D"));
                        };
                        let d: usize = feat.iter().product();
                        if *steps == 0 || feat.is_empty() || d == 0 {
                            return Err(l.err(format!("the sequence shape {dims:?} is not T x N x D")));
                        }
                        let id = add_input(lw, t, &[d])?;
                        lw.g.tensors[id].shape = vec![*steps, d];
                        lw.g.tensors[id].layout = Layout::RowMajor;
                        lw.sequences.insert(id);
                        continue;
                    }
                    if dims.len() < 2 {
                        return Err(l.err("input_param has no shape (N, C, H, W)"));
                    }
                    add_input(lw, t, &dims[1..])?;
                } else {
                    lw.labels.insert(t.clone());
                }
            }
        }
        "Data" => {
            let shape = opts.input_shape.clone().ok_or_else(|| {
                l.err("a Data layer's shape is in its database, not the prototxt: give the data's shape (C,H,W), e.g. --input-shape 1,28,28")
            })?;
            let dp = l.param_block("data_param");
            let dp = Msg(&dp);
            if dp.has("batch_size") {
                out.batch_size = Some(dp.usize("batch_size"));
            }
            let data = l.tops.first().ok_or_else(|| l.err("has no top"))?;
            let t = add_input(lw, data, &shape)?;
            for label in &l.tops[1..] {
                lw.labels.insert(label.clone());
            }
            let tp = l.param_block("transform_param");
            let tp = Msg(&tp);
            // Augmentation and mean subtraction change the data; a disabled setting does not.
            for bad in ["mean_file", "mean_value", "crop_size", "mirror"] {
                let active = match bad {
                    "mirror" => tp.bool("mirror"),
                    "crop_size" => tp.usize("crop_size") > 0,
                    _ => tp.has(bad),
                };
                if active {
                    return Err(l.err(format!("transform_param {bad} is not supported (only scale)")));
                }
            }
            let scale = if tp.has("scale") { tp.f64("scale") } else { 1.0 }
                * if dp.has("scale") { dp.f64("scale") } else { 1.0 };
            if scale != 1.0 {
                // The input scaling is part of the graph, so prediction applies it too.
                let id = lw.node(
                    l,
                    &format!("{}_scaled", l.name),
                    Op::Caffe(CaffeOp::WeightedSum { coeffs: vec![scale] }),
                    &[t],
                    Some(data),
                )?;
                let _ = id;
            }
        }
        "Convolution" | "Deconvolution" => {
            l.require_bottoms(1)?;
            let cp = l.param_block("convolution_param");
            let m = Msg(&cp);
            if m.i64("axis") != 1 || m.bool("force_nd_im2col") {
                return Err(
                    l.err("convolution_param axis other than 1 and force_nd_im2col are not supported")
                );
            }
            let x = lw.blob(l, &l.bottoms[0])?;
            let [h, w, c] = match lw.shape(x) {
                [h, w, c] => [*h, *w, *c],
                s => {
                    return Err(
                        l.err(format!("needs an image input (C, H, W); its input has {} axes", s.len()))
                    );
                }
            };
            let filters = m.usize("num_output");
            if filters == 0 {
                return Err(l.err("convolution_param num_output is missing"));
            }
            let kernel = window(m, "kernel_size", 0, l)?;
            if kernel.contains(&0) {
                return Err(l.err("convolution_param kernel_size is missing"));
            }
            let strides = window(m, "stride", 1, l)?;
            if strides.contains(&0) {
                return Err(l.err("stride must be positive"));
            }
            let pads = window(m, "pad", 0, l)?;
            let dilation = window(m, "dilation", 1, l)?;
            let group = m.usize("group").max(1);
            let bias = m.bool("bias_term");
            let wf = filler_of(&cp, "weight_filler", 0.0).map_err(|e| l.err(e))?;
            let bf = filler_of(&cp, "bias_filler", 0.0).map_err(|e| l.err(e))?;
            if l.ty == "Deconvolution" {
                if !c.is_multiple_of(group) || !filters.is_multiple_of(group) || dilation.contains(&0) {
                    return Err(l.err(format!(
                        "group {group} does not divide {c} input channels and {filters} outputs, or a dilation is 0"
                    )));
                }
                // Each group's C/group channels make its num_output/group outputs; the dilated
                // kernel spans (k-1)*dilation+1 cells.
                let mut out_hw = [0; 2];
                for (a, nn) in [h, w].into_iter().enumerate() {
                    let full = strides[a] * (nn - 1) + (kernel[a] - 1) * dilation[a] + 1;
                    if full < 2 * pads[a] + 1 {
                        return Err(l.err("the padding removes the whole output"));
                    }
                    out_hw[a] = full - 2 * pads[a];
                }
                let op = Op::Conv2DTranspose {
                    filters,
                    kernel,
                    strides,
                    groups: group,
                    dilations: dilation,
                    pads: [pads[0], pads[0], pads[1], pads[1]],
                    out_hw,
                    use_bias: bias,
                };
                let nd = lw.node(l, &l.name, op, &[x], top)?;
                let blob = [c, filters / group, kernel[0], kernel[1]];
                lw.param(
                    l,
                    nd,
                    0,
                    "weight",
                    &blob,
                    ParamTransform::Reshape { rows: c, cols: filters / group * kernel[0] * kernel[1] },
                    wf,
                );
                if bias {
                    lw.param(
                        l,
                        nd,
                        1,
                        "bias",
                        &[filters],
                        ParamTransform::Reshape { rows: filters, cols: 1 },
                        bf,
                    );
                }
                return Ok(());
            }
            let op = if group == 1 && dilation == [1, 1] {
                Op::Conv2D {
                    filters,
                    kernel,
                    strides,
                    pads: [pads[0], pads[0], pads[1], pads[1]],
                    use_bias: bias,
                }
            } else {
                Op::Caffe(CaffeOp::Conv { filters, kernel, strides, pads, dilation, group, bias })
            };
            let nd = lw.node(l, &l.name, op, &[x], top)?;
            let cg = c / group;
            let blob = [filters, cg, kernel[0], kernel[1]];
            lw.param(
                l,
                nd,
                0,
                "weight",
                &blob,
                ParamTransform::Reshape { rows: filters, cols: cg * kernel[0] * kernel[1] },
                wf,
            );
            if bias {
                lw.param(
                    l,
                    nd,
                    1,
                    "bias",
                    &[filters],
                    ParamTransform::Reshape { rows: filters, cols: 1 },
                    bf,
                );
            }
        }
        "Pooling" => {
            l.require_bottoms(1)?;
            let pp = l.param_block("pooling_param");
            let m = Msg(&pp);
            let x = lw.blob(l, &l.bottoms[0])?;
            let [h, w, _c] = match lw.shape(x) {
                [h, w, c] => [*h, *w, *c],
                s => {
                    return Err(
                        l.err(format!("needs an image input (C, H, W); its input has {} axes", s.len()))
                    );
                }
            };
            let kind = match m.enum_name("pool").as_str() {
                "MAX" => PoolKind::Max,
                "AVE" => PoolKind::Avg,
                other => return Err(l.err(format!("pool {other} is not supported (MAX, AVE)"))),
            };
            let global = m.bool("global_pooling");
            let (kernel, strides, pads) = if global {
                ([h, w], [1, 1], [0, 0])
            } else {
                let k = window(m, "kernel_size", 0, l)?;
                if k.contains(&0) {
                    return Err(l.err("pooling_param kernel_size is missing"));
                }
                (k, window(m, "stride", 1, l)?, window(m, "pad", 0, l)?)
            };
            let ceil = m.enum_name("round_mode") != "FLOOR";
            let o = [
                pool_out(h, kernel[0], strides[0], pads[0], ceil).map_err(|e| l.err(e))?,
                pool_out(w, kernel[1], strides[1], pads[1], ceil).map_err(|e| l.err(e))?,
            ];
            let op = match kind {
                PoolKind::Max => {
                    let extra = |a: usize, n: usize| {
                        ((o[a] - 1) * strides[a] + kernel[a]).saturating_sub(n + 2 * pads[a])
                    };
                    Op::Pool2D {
                        kind,
                        pool: kernel,
                        strides,
                        pads: [pads[0], pads[0] + extra(0, h), pads[1], pads[1] + extra(1, w)],
                    }
                }
                PoolKind::Avg | PoolKind::AvgCountPad => {
                    Op::Caffe(CaffeOp::AvePool { kernel, strides, pads, out: o })
                }
            };
            simple(lw, op)?;
        }
        "InnerProduct" => {
            l.require_bottoms(1)?;
            let ip = l.param_block("inner_product_param");
            let m = Msg(&ip);
            let mut x = lw.blob(l, &l.bottoms[0])?;
            // On a T x N x H sequence, axis 2 is the product at every step.
            let per_step = m.i64("axis") == 2 && lw.sequences.contains(&x);
            if m.i64("axis") != 1 && !per_step {
                return Err(l.err(
                    "inner_product_param axis other than 1 is not supported (2 only on a recurrent layer's T x N x H output)",
                ));
            }
            if lw.sequences.contains(&x) && !per_step {
                return Err(l.err(
                    "axis 1 on a T x N x H sequence mixes the examples of a step (Caffe flattens N x H); use axis: 2",
                ));
            }
            let units = m.usize("num_output");
            if units == 0 {
                return Err(l.err("inner_product_param num_output is missing"));
            }
            let d: usize = if per_step { lw.shape(x)[1] } else { lw.shape(x).iter().product() };
            if lw.shape(x).len() > 1 && !per_step {
                // Caffe flattens (C, H, W) in its own order; so does this reshape.
                let f = lw.node(
                    l,
                    &format!("{}_flat", l.name),
                    Op::Caffe(CaffeOp::Reshape { target: vec![d] }),
                    &[x],
                    None,
                )?;
                x = lw.out(f);
            }
            let bias = m.bool("bias_term");
            let wf = filler_of(&ip, "weight_filler", 0.0).map_err(|e| l.err(e))?;
            let bf = filler_of(&ip, "bias_filler", 0.0).map_err(|e| l.err(e))?;
            let nd = lw.node(l, &l.name, Op::Dense { units, use_bias: bias }, &[x], top)?;
            if m.bool("transpose") {
                lw.param(
                    l,
                    nd,
                    0,
                    "weight",
                    &[d, units],
                    ParamTransform::Reshape { rows: d, cols: units },
                    wf,
                );
            } else {
                let t = ParamTransform::gather_fn(d, units, |r, c| c * d + r);
                lw.param(l, nd, 0, "weight", &[units, d], t, wf);
            }
            if bias {
                lw.param(l, nd, 1, "bias", &[units], ParamTransform::Reshape { rows: 1, cols: units }, bf);
            }
            if per_step {
                let t = lw.out(nd);
                lw.sequences.insert(t);
            }
        }
        "ReLU" => {
            let rp = l.param_block("relu_param");
            let slope = Msg(&rp).f64("negative_slope");
            simple(
                lw,
                Op::Activation(Activation::Relu { negative_slope: slope, max_value: None, threshold: 0.0 }),
            )?;
        }
        "ELU" => {
            let ep = l.param_block("elu_param");
            simple(lw, Op::Activation(Activation::Elu { alpha: Msg(&ep).f64("alpha") }))?;
        }
        "Sigmoid" => simple(lw, Op::Activation(Activation::Sigmoid))?,
        "TanH" => simple(lw, Op::Activation(Activation::Tanh))?,
        "Softmax" => {
            let sp = l.param_block("softmax_param");
            if Msg(&sp).i64("axis") != 1 {
                return Err(l.err("softmax_param axis other than 1 (the channels) is not supported"));
            }
            simple(lw, Op::Activation(Activation::Softmax))?;
        }
        "PReLU" => {
            l.require_bottoms(1)?;
            let pp = l.param_block("prelu_param");
            let shared = Msg(&pp).bool("channel_shared");
            let x = lw.blob(l, &l.bottoms[0])?;
            let s = lw.shape(x).to_vec();
            let c = *s.last().unwrap_or(&1);
            let mut alpha_shape = vec![1; s.len()];
            if let Some(last) = alpha_shape.last_mut() {
                *last = if shared { 1 } else { c };
            }
            if shared {
                return Err(l.err("channel_shared PReLU is not supported (one alpha per channel is)"));
            }
            let k = if shared { 1 } else { c };
            let init = filler_of(&pp, "filler", 0.25).map_err(|e| l.err(e))?;
            let nd = lw.node(l, &l.name, Op::PRelu { alpha_shape }, &[x], top)?;
            lw.param(l, nd, 0, "weight", &[k], ParamTransform::Reshape { rows: 1, cols: k }, init);
        }
        "Dropout" => {
            let dp = l.param_block("dropout_param");
            let rate = Msg(&dp).f64("dropout_ratio");
            if !(0.0..1.0).contains(&rate) {
                return Err(l.err(format!("dropout_ratio {rate} must be in [0, 1)")));
            }
            simple(lw, Op::Dropout { rate })?;
        }
        "BatchNorm" => {
            l.require_bottoms(1)?;
            let bp = l.param_block("batch_norm_param");
            let m = Msg(&bp);
            let op = CaffeOp::BatchNorm {
                eps: m.f64("eps"),
                moving_average_fraction: m.f64("moving_average_fraction"),
                use_global_stats: m.has("use_global_stats").then(|| m.bool("use_global_stats")),
            };
            let x = lw.blob(l, &l.bottoms[0])?;
            let c = *lw.shape(x).last().unwrap_or(&1);
            let nd = lw.node(l, &l.name, Op::Caffe(op), &[x], top)?;
            lw.param(
                l,
                nd,
                0,
                "mean",
                &[c],
                ParamTransform::Reshape { rows: c, cols: 1 },
                Init::Constant(0.0),
            );
            lw.param(
                l,
                nd,
                1,
                "variance",
                &[c],
                ParamTransform::Reshape { rows: c, cols: 1 },
                Init::Constant(0.0),
            );
            lw.param(
                l,
                nd,
                2,
                "factor",
                &[1],
                ParamTransform::Reshape { rows: 1, cols: 1 },
                Init::Constant(0.0),
            );
        }
        "Scale" => {
            l.require_bottoms(1)?;
            let sp = l.param_block("scale_param");
            let m = Msg(&sp);
            if m.i64("axis") != 1 || m.i64("num_axes") != 1 {
                return Err(
                    l.err("scale_param axis and num_axes other than 1 (per channel) are not supported")
                );
            }
            let x = lw.blob(l, &l.bottoms[0])?;
            let c = *lw.shape(x).last().unwrap_or(&1);
            let bias = m.bool("bias_term");
            let gf = filler_of(&sp, "filler", 1.0).map_err(|e| l.err(e))?;
            let bf = filler_of(&sp, "bias_filler", 0.0).map_err(|e| l.err(e))?;
            let nd = lw.node(l, &l.name, Op::Caffe(CaffeOp::Scale { bias }), &[x], top)?;
            lw.param(l, nd, 0, "weight", &[c], ParamTransform::Reshape { rows: c, cols: 1 }, gf);
            if bias {
                lw.param(l, nd, 1, "bias", &[c], ParamTransform::Reshape { rows: c, cols: 1 }, bf);
            }
        }
        "LRN" => {
            let lp = l.param_block("lrn_param");
            let m = Msg(&lp);
            if m.enum_name("norm_region") != "ACROSS_CHANNELS" {
                return Err(l.err("LRN norm_region WITHIN_CHANNEL is not supported (ACROSS_CHANNELS)"));
            }
            let size = m.usize("local_size");
            if size % 2 == 0 {
                return Err(l.err(format!("local_size {size} must be odd (as Caffe requires)")));
            }
            simple(
                lw,
                Op::Caffe(CaffeOp::Lrn { size, alpha: m.f64("alpha"), beta: m.f64("beta"), k: m.f64("k") }),
            )?;
        }
        "Eltwise" => {
            if l.bottoms.len() < 2 {
                return Err(l.err("Eltwise takes two or more bottoms"));
            }
            let ep = l.param_block("eltwise_param");
            let m = Msg(&ep);
            let xs: Vec<TensorId> = l.bottoms.iter().map(|b| lw.blob(l, b)).collect::<Result<_, _>>()?;
            let coeffs = m.f64s("coeff");
            let op = match m.enum_name("operation").as_str() {
                "SUM" if coeffs.is_empty() || coeffs.iter().all(|&c| c == 1.0) => Op::Merge(MergeKind::Add),
                "SUM" => {
                    if coeffs.len() != xs.len() {
                        return Err(l.err(format!("{} coeffs for {} bottoms", coeffs.len(), xs.len())));
                    }
                    Op::Caffe(CaffeOp::WeightedSum { coeffs })
                }
                "PROD" if coeffs.is_empty() => Op::Merge(MergeKind::Multiply),
                "MAX" if coeffs.is_empty() => Op::Merge(MergeKind::Maximum),
                other => return Err(l.err(format!("Eltwise {other} takes no coeff (only SUM does)"))),
            };
            lw.node(l, &l.name, op, &xs, top)?;
        }
        "Concat" => {
            let cp = l.param_block("concat_param");
            let m = Msg(&cp);
            let axis = if m.has("axis") {
                m.i64("axis")
            } else if m.has("concat_dim") {
                m.i64("concat_dim")
            } else {
                1
            };
            if axis != 1 {
                return Err(
                    l.err(format!("Concat along axis {axis}; only the channels (axis 1) are supported"))
                );
            }
            let xs: Vec<TensorId> = l.bottoms.iter().map(|b| lw.blob(l, b)).collect::<Result<_, _>>()?;
            lw.node(l, &l.name, Op::Merge(MergeKind::Concatenate(-1)), &xs, top)?;
        }
        "Split" => {
            l.require_bottoms(1)?;
            let x = lw.blob(l, &l.bottoms[0])?;
            for t in &l.tops {
                lw.blobs.insert(t.clone(), x);
            }
        }
        "Flatten" => {
            let fp = l.param_block("flatten_param");
            let m = Msg(&fp);
            if m.i64("axis") != 1 || m.i64("end_axis") != -1 {
                return Err(
                    l.err("Flatten with axis other than 1 or end_axis other than -1 is not supported")
                );
            }
            l.require_bottoms(1)?;
            let x = lw.blob(l, &l.bottoms[0])?;
            let d: usize = lw.shape(x).iter().product();
            simple(lw, Op::Caffe(CaffeOp::Reshape { target: vec![d] }))?;
        }
        "Reshape" => {
            l.require_bottoms(1)?;
            let rp = l.param_block("reshape_param");
            let m = Msg(&rp);
            if m.i64("axis") != 0 || m.i64("num_axes") != -1 {
                return Err(
                    l.err("reshape_param axis and num_axes are not supported (the whole shape is given)")
                );
            }
            let x = lw.blob(l, &l.bottoms[0])?;
            let have = super::ops::caffe_shape(lw.shape(x));
            let total: usize = have.iter().product();
            let dims: Vec<i64> =
                m.msg("shape").map(|s| s.f64s("dim").iter().map(|&d| d as i64).collect()).unwrap_or_default();
            let Some((&first, rest)) = dims.split_first() else {
                return Err(l.err("reshape_param has no shape"));
            };
            if first != 0 && first != -1 {
                return Err(l.err("the first dim (the batch) must be 0 or -1: the batch axis is kept"));
            }
            let mut target: Vec<i64> = Vec::new();
            for (i, &d) in rest.iter().enumerate() {
                target.push(match d {
                    0 => *have
                        .get(i)
                        .ok_or_else(|| l.err(format!("dim {} copies an axis the input lacks", i + 1)))?
                        as i64,
                    d => d,
                });
            }
            if first == -1 && target.contains(&-1) {
                return Err(l.err("two dims are -1"));
            }
            let known: i64 = target.iter().filter(|&&d| d > 0).product();
            if target.iter().filter(|&&d| d == -1).count() > 1 || target.iter().any(|&d| d < -1) {
                return Err(l.err("reshape dims must be positive, 0 or one -1"));
            }
            let target: Vec<usize> = target
                .iter()
                .map(|&d| if d == -1 { (total as i64 / known.max(1)) as usize } else { d as usize })
                .collect();
            simple(lw, Op::Caffe(CaffeOp::Reshape { target: logical(&target) }))?;
        }
        "Upsample" => {
            let up = l.param_block("upsample_param");
            let m = Msg(&up);
            simple(lw, Op::UpSampling2D { size: [m.usize("size_h").max(1), m.usize("size_w").max(1)] })?;
        }
        "Accuracy" => accuracy.push(l),
        t if loss_types.contains(&t) => {
            if out.loss.is_some() {
                return Err(l.err("a second loss layer; networks with one loss are supported"));
            }
            l.require_bottoms(2)?;
            let (a, b) = (&l.bottoms[0], &l.bottoms[1]);
            let (pred, label) = if lw.labels.contains(b) {
                (a, b)
            } else if lw.labels.contains(a) && t == "EuclideanLoss" {
                (b, a)
            } else {
                return Err(l.err(format!(
                    "its second bottom `{b}` is not a label blob (a Data or Input layer's second top)"
                )));
            };
            let _ = label;
            let input = lw.blob(l, pred)?;
            let lp = l.param_block("loss_param");
            let m = Msg(&lp);
            let normalization = if m.has("normalization") {
                match m.enum_name("normalization").as_str() {
                    "FULL" => Normalization::Full,
                    "BATCH_SIZE" => Normalization::BatchSize,
                    "NONE" => Normalization::None,
                    _ => Normalization::Valid,
                }
            } else if m.has("normalize") {
                if m.bool("normalize") { Normalization::Valid } else { Normalization::BatchSize }
            } else if t == "SigmoidCrossEntropyLoss" {
                Normalization::BatchSize
            } else {
                Normalization::Valid
            };
            let weights = l.m().f64s("loss_weight");
            let weight = weights.first().copied().unwrap_or(1.0);
            let kind = match t {
                "SoftmaxWithLoss" => {
                    let sp = l.param_block("softmax_param");
                    if Msg(&sp).i64("axis") != 1 || lw.shape(input).len() != 1 {
                        return Err(l.err("SoftmaxWithLoss over a (C, H, W) blob (per-pixel labels) is not supported; its scores must be a vector"));
                    }
                    LossKind::SoftmaxWithLoss {
                        ignore_label: m.has("ignore_label").then(|| m.i64("ignore_label")),
                    }
                }
                "EuclideanLoss" => LossKind::Euclidean,
                _ => LossKind::SigmoidCrossEntropy,
            };
            out.label_width = match kind {
                LossKind::SoftmaxWithLoss { .. } => 1,
                _ => lw.shape(input).iter().product(),
            };
            out.loss = Some(LossSpec { layer: l.name.clone(), kind, input, weight, normalization });
        }
        "LSTM" | "RNN" => recurrent(lw, l, top)?,
        other => {
            return Err(l.err(format!("layer type {other} is not supported; supported: {SUPPORTED}")));
        }
    }
    Ok(())
}

/// Caffe's LSTM and RNN layers over a time-major `T x N x D` blob, as the graph's recurrent ops
/// over one row per sequence (`[T, D]`, step-major).
///
/// The second bottom, `cont`, is 0 where a sequence starts and 1 where it continues; Caffe
/// multiplies the previous state by it. With one sequence per example the usual `cont` is 0 at
/// step 0 and 1 after, which is the recurrent ops' zero initial state: `cont` is not read from
/// the data, and it must be a data layer's top (a blob a layer computes would be data).
///
/// - LSTM: gates `i, f, o, g` (nn's order), `c_t = f*c_{t-1} + i*g`, `h_t = o*tanh(c_t)`; the
///   output is every `h_t`. Blobs `W_xc (4H x D)`, `b_c (4H)`, `W_hc (4H x H)`.
/// - RNN: `h_t = tanh(W_hh h_{t-1} + W_xh x_t + b_h)`, output `o_t = tanh(W_ho h_t + b_o)`. Blobs
///   `W_xh (H x D)`, `b_h (H)`, `W_hh (H x H)`, `W_ho (H x H)`, `b_o (H)`.
///
/// The graph's parameters keep Caffe's blob index (`origin.index`), which the `.caffemodel`
/// reader orders them by.
fn recurrent(lw: &mut Lowering, l: &Layer, top: Option<&str>) -> Result<(), ConvertError> {
    if l.bottoms.len() == 3 {
        return Err(l.err("a static input (third bottom, x_static) is not supported"));
    }
    l.require_bottoms(2)?;
    if l.tops.len() != 1 {
        return Err(l.err("takes one top (expose_hidden's extra tops are not supported)"));
    }
    let rp = l.param_block("recurrent_param");
    let m = Msg(&rp);
    if m.bool("expose_hidden") {
        return Err(l.err("expose_hidden (initial and final states as blobs) is not supported"));
    }
    let h = m.usize("num_output");
    if h == 0 {
        return Err(l.err("recurrent_param num_output is missing"));
    }
    let cont = &l.bottoms[1];
    if !lw.labels.contains(cont) {
        return Err(l.err(format!(
            "its cont bottom `{cont}` is not a data layer's top; only a data layer's cont is supported \
             (0 at step 0, 1 after: one sequence per example)"
        )));
    }
    let x = lw.blob(l, &l.bottoms[0])?;
    let d = match lw.shape(x) {
        [_, d] if lw.sequences.contains(&x) => *d,
        s => {
            return Err(l.err(format!(
                "its input must be a T x N x D sequence (an Input layer's top or a recurrent layer's), got {s:?}"
            )));
        }
    };
    let wf = filler_of(&rp, "weight_filler", 0.0).map_err(|e| l.err(e))?;
    let bf = filler_of(&rp, "bias_filler", 0.0).map_err(|e| l.err(e))?;
    let filler = |i: &Init| match i {
        Init::Constant(v) => Init::Constant(*v),
        Init::Filler(f) => Init::Filler(f.clone()),
    };
    let gates = if l.ty == "LSTM" { 4 } else { 1 };
    let g = gates * h;
    let op = if l.ty == "LSTM" {
        Op::Lstm { units: h, return_sequences: true, use_bias: true, go_backwards: false }
    } else {
        Op::SimpleRnn {
            units: h,
            return_sequences: true,
            activation: Activation::Tanh,
            use_bias: true,
            go_backwards: false,
        }
    };
    let rnn_top = if l.ty == "LSTM" { top } else { None };
    let nd = lw.node(l, &l.name, op, &[x], rnn_top)?;
    // Node order: kernel, recurrent kernel, bias; blob order W_x, b, W_h.
    let kernel = ParamTransform::gather_fn(d, g, |r, c| c * d + r);
    lw.param(l, nd, 0, "kernel", &[g, d], kernel, filler(&wf));
    let recur = ParamTransform::gather_fn(h, g, |r, c| c * h + r);
    lw.param(l, nd, 2, "recurrent", &[g, h], recur, filler(&wf));
    lw.param(l, nd, 1, "bias", &[g], ParamTransform::Reshape { rows: 1, cols: g }, filler(&bf));
    let mut out = lw.out(nd);
    if l.ty == "RNN" {
        let dense =
            lw.node(l, &format!("{}_output", l.name), Op::Dense { units: h, use_bias: true }, &[out], None)?;
        let w_ho = ParamTransform::gather_fn(h, h, |r, c| c * h + r);
        lw.param(l, dense, 3, "w_ho", &[h, h], w_ho, filler(&wf));
        lw.param(l, dense, 4, "b_o", &[h], ParamTransform::Reshape { rows: 1, cols: h }, filler(&bf));
        let act =
            lw.node(l, &format!("{}_tanh", l.name), Op::Activation(Activation::Tanh), &[lw.out(dense)], top)?;
        out = lw.out(act);
    }
    lw.sequences.insert(out);
    Ok(())
}

/// Rows of the DML layout for parameter values read from Caffe's row-major blob data.
pub fn blob_to_dml(p: &Param, data: &[f64]) -> Array2<f64> {
    p.origin.transform.to_dml(data)
}
