//! Keras model config to the converter's graph: the model's structure (Sequential, Functional,
//! nested models), each layer through [`super::layers`], and the compile settings through
//! [`super::compile`].
//!
//! Keras 3 configs (`config.json`, or the `model_config` of a legacy `.h5`) and Keras 2 configs
//! (`batch_input_shape`, list-style `inbound_nodes`, `class_name: "Model"`) are both read; unknown
//! keys are ignored, as Keras itself ignores them.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use serde_json::Value as Json;

use super::{KerasFile, KerasFormat, Tensor};
use crate::convert::error::ConvertError;
use crate::convert::ir::{
    Graph, Layout, Node, NodeId, Op, Param, ParamId, ParamOrigin, ParamTransform, Regularizer, TensorId,
    TensorInfo,
};

/// Lowers a Keras model file to a graph (parameters in the layouts the ops document; the layout
/// pass has not run yet).
pub fn lower(file: &KerasFile) -> Result<Graph, ConvertError> {
    let model = &file.config;
    let class = model.get("class_name").and_then(Json::as_str).unwrap_or("");
    let config = model.get("config").unwrap_or(&Json::Null);
    let name = config.get("name").and_then(Json::as_str).unwrap_or("model").to_string();
    let version = file.keras_version.as_deref().unwrap_or("?");
    let mut cx = Lowering::new(file, &name, format!("Keras {version} {class} model \"{name}\""));
    let outputs = cx.model(class, config, &[], "")?;
    cx.g.outputs = outputs;
    cx.g.training = match &file.compile {
        Some(c) if !c.is_null() && c.as_object().is_some_and(|o| !o.is_empty()) => {
            Some(super::compile::training_config(c, file.format, &name)?)
        }
        _ => None,
    };
    Ok(cx.g)
}

/// The state of one lowering: the graph so far and the weights not yet taken.
pub struct Lowering<'f> {
    pub g: Graph,
    file: &'f KerasFile,
    /// DML names in use (node stems and variables).
    used_names: HashSet<String>,
    /// Legacy `.h5` files keep a nested model's variables in one list under its name; layers
    /// inside take them in order.
    nested_queues: HashMap<String, VecDeque<Tensor>>,
    /// The variables each layer (by weight key) took, so that a later call of the same layer
    /// (a shared layer) gets them again without reading them twice.
    taken: HashMap<String, Vec<Tensor>>,
    /// The parameter made of each `(weight key, variable index)`: a shared layer's later calls
    /// reuse it, so every call's node reads (and trains) the same DML variable.
    param_of: HashMap<(String, usize), ParamId>,
}

/// What a layer lowering sees of its layer.
pub struct LayerCtx<'a> {
    /// The user's layer name.
    pub name: String,
    pub class: String,
    pub config: &'a Json,
    /// Key of the layer's variables in [`KerasFile::layer_weights`] (`"dense"`, `"block/dense"`).
    pub weight_key: String,
    /// `trainable=False`.
    pub frozen: bool,
}

impl LayerCtx<'_> {
    /// An error about this layer, naming it and its class.
    pub fn err(&self, detail: impl std::fmt::Display) -> ConvertError {
        ConvertError::Layer {
            layer: self.name.clone(),
            class: self.class.clone(),
            detail: detail.to_string(),
        }
    }

    pub fn get(&self, key: &str) -> Option<&Json> {
        self.config.get(key).filter(|v| !v.is_null())
    }

    pub fn usize(&self, key: &str) -> Result<usize, ConvertError> {
        self.get(key).and_then(json_usize).ok_or_else(|| {
            self.err(format!("`{key}` must be a non-negative integer, got {}", show(self.get(key))))
        })
    }

    pub fn usize_or(&self, key: &str, default: usize) -> Result<usize, ConvertError> {
        if self.get(key).is_none() { Ok(default) } else { self.usize(key) }
    }

    pub fn f64_or(&self, key: &str, default: f64) -> Result<f64, ConvertError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v.as_f64().ok_or_else(|| self.err(format!("`{key}` must be a number, got {v}"))),
        }
    }

    pub fn bool_or(&self, key: &str, default: bool) -> Result<bool, ConvertError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v.as_bool().ok_or_else(|| self.err(format!("`{key}` must be true or false, got {v}"))),
        }
    }

    pub fn str_or<'b>(&'b self, key: &str, default: &'b str) -> Result<&'b str, ConvertError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v.as_str().ok_or_else(|| self.err(format!("`{key}` must be a string, got {v}"))),
        }
    }

    /// A pair such as `kernel_size` (a single integer means both).
    pub fn pair(&self, key: &str) -> Result<[usize; 2], ConvertError> {
        let v = self.get(key).ok_or_else(|| self.err(format!("`{key}` is missing")))?;
        if let Some(n) = json_usize(v) {
            return Ok([n, n]);
        }
        match v.as_array().map(|a| a.iter().map(json_usize).collect::<Option<Vec<_>>>()) {
            Some(Some(a)) if a.len() == 2 => Ok([a[0], a[1]]),
            _ => Err(self.err(format!("`{key}` must be an integer or a pair of integers, got {v}"))),
        }
    }

    /// A single integer that Keras may store as a one-element list (`kernel_size: [3]` of Conv1D).
    pub fn single(&self, key: &str) -> Result<usize, ConvertError> {
        let v = self.get(key).ok_or_else(|| self.err(format!("`{key}` is missing")))?;
        if let Some(n) = json_usize(v) {
            return Ok(n);
        }
        match v.as_array().map(|a| a.iter().map(json_usize).collect::<Option<Vec<_>>>()) {
            Some(Some(a)) if a.len() == 1 => Ok(a[0]),
            _ => Err(self.err(format!("`{key}` must be an integer, got {v}"))),
        }
    }

    /// Refuses a setting the converter does not implement, naming it and the supported values.
    pub fn require(&self, ok: bool, what: impl std::fmt::Display) -> Result<(), ConvertError> {
        if ok { Ok(()) } else { Err(self.err(format!("not supported: {what}"))) }
    }
}

/// Shows a config value in a message.
fn show(v: Option<&Json>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "nothing".into())
}

pub fn json_usize(v: &Json) -> Option<usize> {
    v.as_u64()
        .map(|n| n as usize)
        .or_else(|| v.as_f64().filter(|f| *f >= 0.0 && f.fract() == 0.0).map(|f| f as usize))
}

/// A shape without its batch dimension: `[null, 28, 28, 1]` to `[28, 28, 1]`.
fn batch_shape(v: &Json) -> Option<Vec<usize>> {
    let a = v.as_array()?;
    a.iter().skip(1).map(json_usize).collect()
}

/// Keeps `[A-Za-z0-9_]` and makes the result a valid DML identifier.
pub fn sanitize(name: &str) -> String {
    let mut s: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect();
    if s.is_empty() || !s.starts_with(|c: char| c.is_ascii_alphabetic()) {
        s.insert_str(0, "l_");
    }
    s
}

impl<'f> Lowering<'f> {
    fn new(file: &'f KerasFile, name: &str, origin: String) -> Self {
        Lowering {
            g: Graph {
                name: name.to_string(),
                origin,
                tensors: Vec::new(),
                nodes: Vec::new(),
                params: Vec::new(),
                inputs: Vec::new(),
                outputs: Vec::new(),
                training: None,
            },
            file,
            used_names: HashSet::new(),
            nested_queues: HashMap::new(),
            taken: HashMap::new(),
            param_of: HashMap::new(),
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

    /// Adds a model input of the given logical shape.
    fn add_input(&mut self, layer: &str, shape: Vec<usize>) -> TensorId {
        let stem = self.unique_name(layer);
        let t = self.g.tensors.len();
        self.g.tensors.push(TensorInfo { var: stem, shape, layout: Layout::RowMajor, producer: None });
        self.g.inputs.push(t);
        t
    }

    /// Adds a node computing `op` from `inputs`; its output shapes come from the op's shape rule.
    /// The outputs are named `<stem>_out` (or `<stem>_out<k>` when there are several).
    pub fn add_node(
        &mut self,
        layer: &LayerCtx,
        stem: &str,
        op: Op,
        inputs: &[TensorId],
    ) -> Result<NodeId, ConvertError> {
        let in_shapes: Vec<&[usize]> = inputs.iter().map(|&t| self.g.tensors[t].shape.as_slice()).collect();
        let out_shapes = crate::convert::shapes::infer(&op, &in_shapes).map_err(|e| layer.err(e))?;
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
            layer: layer.name.clone(),
            class: layer.class.clone(),
            op,
            inputs: inputs.to_vec(),
            outputs,
            params: Vec::new(),
            frozen: layer.frozen,
        });
        Ok(id)
    }

    /// The output tensor of a single-output node.
    pub fn out(&self, node: NodeId) -> TensorId {
        self.g.nodes[node].outputs[0]
    }

    pub fn shape(&self, t: TensorId) -> &[usize] {
        &self.g.tensors[t].shape
    }

    /// The `n` variables of a layer, in Keras's saved order (Dense: kernel, bias; BatchNormalization:
    /// gamma, beta, moving mean, moving variance; an RNN's cell: kernel, recurrent kernel, bias).
    /// Legacy `.h5` files keep a nested model's variables in one list under the nested model's
    /// name; its layers take them in layer order.
    ///
    /// A layer called again (a shared layer) gets the same variables again.
    pub fn take_weights(&mut self, layer: &LayerCtx, n: usize) -> Result<Vec<Tensor>, ConvertError> {
        if let Some(ws) = self.taken.get(&layer.weight_key)
            && ws.len() == n
        {
            return Ok(ws.clone());
        }
        let ws = self.read_weights(layer, n)?;
        self.taken.insert(layer.weight_key.clone(), ws.clone());
        Ok(ws)
    }

    fn read_weights(&mut self, layer: &LayerCtx, n: usize) -> Result<Vec<Tensor>, ConvertError> {
        if let Some(ws) = self.file.layer_weights.get(&layer.weight_key) {
            if ws.len() != n {
                return Err(layer.err(format!(
                    "the file holds {} variables for it ({}); its config implies {n}",
                    ws.len(),
                    ws.iter().map(|t| format!("{:?}", t.shape)).collect::<Vec<_>>().join(", ")
                )));
            }
            return Ok(ws.clone());
        }
        if n == 0 {
            return Ok(Vec::new());
        }
        if let Some((outer, _)) = layer.weight_key.split_once('/')
            && self.file.format == KerasFormat::LegacyH5
        {
            if !self.nested_queues.contains_key(outer)
                && let Some(list) = self.file.layer_weights.get(outer)
            {
                self.nested_queues.insert(outer.to_string(), list.clone().into());
            }
            if let Some(q) = self.nested_queues.get_mut(outer) {
                if q.len() < n {
                    return Err(layer.err(format!("the file holds {} of its {n} variables", q.len())));
                }
                return Ok(q.drain(..n).collect());
            }
        }
        Err(layer
            .err(format!("the file holds none of its {n} variables (looked for `{}`)", layer.weight_key)))
    }

    /// Adds a parameter of `node` from framework variable `t` (`index` in its layer's list),
    /// shape-checked against `expect` (the framework shape the op needs).
    ///
    /// A layer called again (a shared layer) makes no new parameter: the node of the later call
    /// gets the parameter the first call made of the same variable, so both calls compute with
    /// one DML variable and the backward pass sums their gradients into it.
    #[allow(clippy::too_many_arguments)]
    pub fn add_param(
        &mut self,
        layer: &LayerCtx,
        node: NodeId,
        t: &Tensor,
        index: usize,
        role: &str,
        expect: &[usize],
        transform: ParamTransform,
        trainable: bool,
    ) -> Result<ParamId, ConvertError> {
        if t.shape != expect {
            return Err(layer.err(format!(
                "variable {index} ({role}) has shape {:?} in the file; the layer's config implies {:?}",
                t.shape, expect
            )));
        }
        if let Some(&id) = self.param_of.get(&(layer.weight_key.clone(), index)) {
            self.g.nodes[node].params.push(id);
            return Ok(id);
        }
        let suffix = match role {
            "kernel" => "weight",
            other => other,
        };
        let stem = self.g.nodes[node].name.clone();
        let var = self.unique_name(&format!("{stem}_{suffix}"));
        let value = transform.to_dml(&t.data);
        let id = self.g.params.len();
        let float32 = matches!(t.dtype, super::DType::F32 | super::DType::F16 | super::DType::BF16);
        self.g.params.push(Param {
            var,
            node,
            value,
            trainable: trainable && !layer.frozen,
            regularizer: None,
            origin: ParamOrigin {
                layer_key: layer.weight_key.clone(),
                index,
                name: role.to_string(),
                shape: t.shape.clone(),
                float32,
                transform,
            },
        });
        self.g.nodes[node].params.push(id);
        self.param_of.insert((layer.weight_key.clone(), index), id);
        Ok(id)
    }

    /// Sets a parameter's weight penalty from a Keras regularizer config (`kernel_regularizer`).
    pub fn set_regularizer(
        &mut self,
        layer: &LayerCtx,
        param: ParamId,
        key: &str,
    ) -> Result<(), ConvertError> {
        let Some(r) = layer.get(key) else { return Ok(()) };
        let class = r.get("class_name").and_then(Json::as_str).unwrap_or("");
        let cfg = r.get("config").unwrap_or(&Json::Null);
        let num = |k: &str| cfg.get(k).and_then(Json::as_f64).unwrap_or(0.0);
        let reg = match class {
            "L1" | "l1" => Regularizer { l1: num("l1"), l2: 0.0 },
            "L2" | "l2" => Regularizer { l1: 0.0, l2: num("l2") },
            "L1L2" | "l1_l2" => Regularizer { l1: num("l1"), l2: num("l2") },
            other => {
                return Err(layer.err(format!("`{key}` {other} is not supported (supported: L1, L2, L1L2)")));
            }
        };
        self.g.params[param].regularizer = Some(reg);
        Ok(())
    }

    /// Lowers a model (the top-level one or a nested one) whose inputs are `bound` (empty for the
    /// top level, whose InputLayers become graph inputs); returns its output tensors.
    fn model(
        &mut self,
        class: &str,
        config: &Json,
        bound: &[TensorId],
        prefix: &str,
    ) -> Result<Vec<TensorId>, ConvertError> {
        let model_name = config.get("name").and_then(Json::as_str).unwrap_or("model");
        match class {
            "Sequential" => self.sequential(config, bound, prefix),
            "Functional" | "Model" => self.functional(config, bound, prefix),
            other => Err(ConvertError::Layer {
                layer: model_name.to_string(),
                class: other.to_string(),
                detail: "only Sequential and Functional models can be converted (a subclassed model has no config \
                         that describes its computation)"
                    .into(),
            }),
        }
    }

    fn layer_ctx<'a>(&self, entry: &'a Json, prefix: &str) -> LayerCtx<'a> {
        let class = entry.get("class_name").and_then(Json::as_str).unwrap_or("").to_string();
        let config = entry.get("config").unwrap_or(&Json::Null);
        let name = config
            .get("name")
            .and_then(Json::as_str)
            .or_else(|| entry.get("name").and_then(Json::as_str))
            .unwrap_or(&class)
            .to_string();
        let frozen = config.get("trainable").and_then(Json::as_bool) == Some(false);
        let weight_key = if prefix.is_empty() { name.clone() } else { format!("{prefix}/{name}") };
        LayerCtx { name, class, config, weight_key, frozen }
    }

    fn sequential(
        &mut self,
        config: &Json,
        bound: &[TensorId],
        prefix: &str,
    ) -> Result<Vec<TensorId>, ConvertError> {
        let empty = Vec::new();
        let layers = config.get("layers").and_then(Json::as_array).unwrap_or(&empty);
        let model_name = config.get("name").and_then(Json::as_str).unwrap_or("sequential");
        let mut current: Option<TensorId> = bound.first().copied();
        for (i, entry) in layers.iter().enumerate() {
            let layer = self.layer_ctx(entry, prefix);
            if layer.class == "InputLayer" {
                if current.is_none() {
                    let shape = input_shape(&layer).ok_or_else(|| layer.err("the input shape is missing"))?;
                    current = Some(self.add_input(&layer.name, shape));
                }
                continue;
            }
            let input = match current {
                Some(t) => t,
                None => {
                    // No InputLayer: the first layer's (Keras 2) input shape, or the model's build shape.
                    let shape = input_shape(&layer)
                        .or_else(|| config.get("build_input_shape").and_then(batch_shape))
                        .ok_or_else(|| ConvertError::Layer {
                            layer: model_name.to_string(),
                            class: "Sequential".into(),
                            detail:
                                "the model has no input shape (it was never built); build it or add an Input"
                                    .into(),
                        })?;
                    let name = format!("{model_name}_input");
                    self.add_input(&name, shape)
                }
            };
            let _ = i;
            let outs = self.layer(entry, &layer, &[input], prefix)?;
            current = Some(*outs.first().ok_or_else(|| layer.err("the layer has no output"))?);
        }
        Ok(current.into_iter().collect())
    }

    fn functional(
        &mut self,
        config: &Json,
        bound: &[TensorId],
        prefix: &str,
    ) -> Result<Vec<TensorId>, ConvertError> {
        let empty = Vec::new();
        let layers = config.get("layers").and_then(Json::as_array).unwrap_or(&empty);
        let model_name = config.get("name").and_then(Json::as_str).unwrap_or("functional").to_string();
        let model_err = |detail: String| ConvertError::Layer {
            layer: model_name.clone(),
            class: "Functional".into(),
            detail,
        };
        // Layer name -> its output tensors per call (node index).
        let mut produced: BTreeMap<String, Vec<Vec<TensorId>>> = BTreeMap::new();
        let input_refs = tensor_refs_list(config.get("input_layers"));
        for (k, (name, _, _)) in input_refs.iter().enumerate() {
            let entry = layers
                .iter()
                .find(|e| entry_name(e) == Some(name.as_str()))
                .ok_or_else(|| model_err(format!("input layer `{name}` is not among its layers")))?;
            let layer = self.layer_ctx(entry, prefix);
            let t = match bound.get(k) {
                Some(&t) => t,
                None => {
                    let shape = input_shape(&layer).ok_or_else(|| layer.err("the input shape is missing"))?;
                    self.add_input(&layer.name, shape)
                }
            };
            produced.insert(name.clone(), vec![vec![t]]);
        }
        // Layers in config order are topologically sorted (Keras writes them so).
        for entry in layers {
            let layer = self.layer_ctx(entry, prefix);
            let Some(name) = entry_name(entry).map(str::to_string) else { continue };
            if layer.class == "InputLayer" {
                continue;
            }
            // A layer called more than once (a shared layer) gets a node per call, all on the
            // same parameters (see `add_param`).
            let calls = inbound_calls(entry.get("inbound_nodes")).map_err(|e| layer.err(e))?;
            let mut outs_per_call = Vec::new();
            for refs in calls {
                let mut inputs = Vec::new();
                for (src, node_idx, tensor_idx) in refs {
                    let t = produced
                        .get(&src)
                        .and_then(|calls| calls.get(node_idx))
                        .and_then(|outs| outs.get(tensor_idx))
                        .copied()
                        .ok_or_else(|| layer.err(format!("its input `{src}` is not computed before it")))?;
                    inputs.push(t);
                }
                let outs = self.layer(entry, &layer, &inputs, prefix)?;
                outs_per_call.push(outs);
            }
            produced.insert(name, outs_per_call);
        }
        let mut outputs = Vec::new();
        for (name, node_idx, tensor_idx) in tensor_refs_list(config.get("output_layers")) {
            let t = produced
                .get(&name)
                .and_then(|c| c.get(node_idx))
                .and_then(|o| o.get(tensor_idx))
                .copied()
                .ok_or_else(|| model_err(format!("output layer `{name}` is not computed")))?;
            outputs.push(t);
        }
        Ok(outputs)
    }

    /// Lowers one layer entry (a nested model included) applied to `inputs`.
    fn layer(
        &mut self,
        entry: &Json,
        layer: &LayerCtx,
        inputs: &[TensorId],
        prefix: &str,
    ) -> Result<Vec<TensorId>, ConvertError> {
        match layer.class.as_str() {
            "Sequential" | "Functional" | "Model" => {
                let inner_prefix =
                    if prefix.is_empty() { layer.name.clone() } else { format!("{prefix}/{}", layer.name) };
                let config = entry.get("config").unwrap_or(&Json::Null);
                if layer.frozen {
                    return Err(
                        layer.err("a frozen nested model is not supported yet; freeze its layers instead")
                    );
                }
                self.model(&layer.class, config, inputs, &inner_prefix)
            }
            _ => super::layers::lower_layer(self, layer, inputs),
        }
    }
}

fn entry_name(e: &Json) -> Option<&str> {
    e.get("name")
        .and_then(Json::as_str)
        .or_else(|| e.get("config").and_then(|c| c.get("name")).and_then(Json::as_str))
}

/// The logical input shape an InputLayer (or a Keras 2 first layer) declares.
fn input_shape(layer: &LayerCtx) -> Option<Vec<usize>> {
    for key in ["batch_shape", "batch_input_shape"] {
        if let Some(s) = layer.get(key).and_then(batch_shape) {
            return Some(s);
        }
    }
    layer.get("input_shape").and_then(|v| v.as_array()?.iter().map(json_usize).collect())
}

/// A reference to a layer's output: `(layer name, call index, output index)`.
type TensorRef = (String, usize, usize);

/// `input_layers`/`output_layers`: `[name, node, tensor]` or a list of those.
fn tensor_refs_list(v: Option<&Json>) -> Vec<(String, usize, usize)> {
    let Some(a) = v.and_then(Json::as_array) else { return Vec::new() };
    if let Some(r) = tensor_ref(a) {
        return vec![r];
    }
    a.iter().filter_map(|x| x.as_array().and_then(|x| tensor_ref(x))).collect()
}

fn tensor_ref(a: &[Json]) -> Option<(String, usize, usize)> {
    match a {
        [Json::String(n), i, j, ..] => Some((n.clone(), json_usize(i)?, json_usize(j)?)),
        _ => None,
    }
}

/// Each call of a layer, as the `(layer, node, tensor)` references of its inputs in order.
/// Keras 3 writes `{"args": [...], "kwargs": {...}}` per call with `__keras_tensor__` objects
/// (merge layers get one list argument); Keras 2 writes a list of `[name, node, tensor, kwargs]`.
fn inbound_calls(v: Option<&Json>) -> Result<Vec<Vec<TensorRef>>, String> {
    let Some(calls) = v.and_then(Json::as_array) else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    for call in calls {
        let mut refs = Vec::new();
        if let Some(args) = call.get("args") {
            collect_keras_tensors(args, &mut refs);
        } else if let Some(list) = call.as_array() {
            for r in list {
                let a = r.as_array().ok_or_else(|| format!("unreadable inbound node {r}"))?;
                refs.push(tensor_ref(a).ok_or_else(|| format!("unreadable inbound node {r}"))?);
            }
        } else {
            return Err(format!("unreadable inbound node {call}"));
        }
        out.push(refs);
    }
    Ok(out)
}

fn collect_keras_tensors(v: &Json, out: &mut Vec<(String, usize, usize)>) {
    match v {
        Json::Array(a) => a.iter().for_each(|x| collect_keras_tensors(x, out)),
        Json::Object(o) if o.get("class_name").and_then(Json::as_str) == Some("__keras_tensor__") => {
            if let Some(h) = o.get("config").and_then(|c| c.get("keras_history")).and_then(Json::as_array)
                && let Some(r) = tensor_ref(h)
            {
                out.push(r);
            }
        }
        _ => {}
    }
}
