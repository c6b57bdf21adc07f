//! Embedding and recurrent layers: Embedding, SimpleRNN, LSTM, GRU, Bidirectional, TimeDistributed.
//!
//! Recurrent layers keep Keras's three variables (kernel, recurrent kernel, bias) as three
//! parameters; only the LSTM's gate columns move, from Keras's `[i, f, c, o]` to nn's
//! `[i, f, o, g]`, in the parameter transforms (never at run time).

use serde_json::Value as Json;

use super::core::parse_activation;
use super::single_input;
use crate::convert::error::ConvertError;
use crate::convert::ir::{Activation, BiMerge, Op, ParamTransform, TensorId, TensorInfo};
use crate::convert::keras::Tensor;
use crate::convert::keras::lower::{LayerCtx, Lowering};

/// `Embedding(input_dim, output_dim)`: 0-based token ids (stored as doubles in `X`) to rows of
/// the table `(input_dim, output_dim)`, kept as Keras stores it.
pub(crate) fn embedding(
    cx: &mut Lowering,
    layer: &LayerCtx,
    inputs: &[TensorId],
) -> Result<Vec<TensorId>, ConvertError> {
    let x = single_input(layer, inputs)?;
    let input_dim = layer.usize("input_dim")?;
    let output_dim = layer.usize("output_dim")?;
    layer.require(
        !layer.bool_or("mask_zero", false)?,
        "mask_zero=True (masking padded steps in the layers after it; only mask_zero=False)",
    )?;
    layer.require(!layer.bool_or("sparse", false)?, "sparse=True (only dense gradients)")?;
    layer.require(layer.get("lora_rank").is_none(), "lora_rank (LoRA embeddings)")?;
    layer.require(layer.get("quantization_config").is_none(), "a quantized embedding")?;
    no_constraints(layer, &["embeddings_constraint", "activity_regularizer"])?;
    let node = cx.add_node(layer, &layer.name, Op::Embedding { input_dim, output_dim }, &[x])?;
    let ws = cx.take_weights(layer, 1)?;
    let e = cx.add_param(
        layer,
        node,
        &ws[0],
        0,
        "embeddings",
        &[input_dim, output_dim],
        ParamTransform::Reshape { rows: input_dim, cols: output_dim },
        true,
    )?;
    cx.set_regularizer(layer, e, "embeddings_regularizer")?;
    Ok(vec![cx.out(node)])
}

/// `SimpleRNN(units, activation)`: activation tanh, sigmoid, relu or linear.
pub(crate) fn simple_rnn(
    cx: &mut Lowering,
    layer: &LayerCtx,
    inputs: &[TensorId],
) -> Result<Vec<TensorId>, ConvertError> {
    recurrent_layer(cx, layer, inputs, Kind::Simple)
}

/// `LSTM(units)`: tanh and sigmoid, gate columns permuted to nn's order.
pub(crate) fn lstm(
    cx: &mut Lowering,
    layer: &LayerCtx,
    inputs: &[TensorId],
) -> Result<Vec<TensorId>, ConvertError> {
    recurrent_layer(cx, layer, inputs, Kind::Lstm)
}

/// `GRU(units, reset_after)`: tanh and sigmoid, gates `[z, r, h]` as Keras orders them.
pub(crate) fn gru(
    cx: &mut Lowering,
    layer: &LayerCtx,
    inputs: &[TensorId],
) -> Result<Vec<TensorId>, ConvertError> {
    recurrent_layer(cx, layer, inputs, Kind::Gru)
}

/// `Bidirectional(layer, merge_mode)` over an LSTM, GRU or SimpleRNN: the forward layer's
/// variables, then the backward layer's.
pub(crate) fn bidirectional(
    cx: &mut Lowering,
    layer: &LayerCtx,
    inputs: &[TensorId],
) -> Result<Vec<TensorId>, ConvertError> {
    let x = single_input(layer, inputs)?;
    let fwd_entry = layer.get("layer").ok_or_else(|| layer.err("the wrapped `layer` is missing"))?;
    let fwd = sub_ctx(layer, fwd_entry);
    let kind = kind_of(&fwd).ok_or_else(|| {
        layer
            .err(format!("not supported: Bidirectional over {} (supported: LSTM, GRU, SimpleRNN)", fwd.class))
    })?;
    let merge = match layer.get("merge_mode").map(|v| v.as_str()) {
        Some(Some("concat")) => BiMerge::Concat,
        Some(Some("sum")) => BiMerge::Sum,
        Some(Some("mul")) => BiMerge::Mul,
        Some(Some("ave")) => BiMerge::Ave,
        None => {
            return Err(
                layer.err("not supported: merge_mode=None (two outputs); supported: concat, sum, mul, ave")
            );
        }
        Some(_) => {
            return Err(layer.err(format!(
                "not supported: merge_mode {} (supported: concat, sum, mul, ave)",
                layer.config["merge_mode"]
            )));
        }
    };
    layer.require(!layer.bool_or("return_state", false)?, "return_state=True (only the merged output)")?;
    let d = seq_features(cx, layer, x)?;
    let op = recurrent_op(&fwd, kind)?;
    // Keras writes the backward layer's config (Keras 2 sometimes leaves it out: then it is the
    // forward layer run backwards). It must be the forward layer with go_backwards flipped.
    let bwd_entry = layer.get("backward_layer");
    let bwd = bwd_entry.map(|e| sub_ctx(layer, e));
    if let Some(b) = &bwd {
        layer.require(
            b.class == fwd.class,
            format!("a backward {} with a forward {} (both must be the same class)", b.class, fwd.class),
        )?;
        let bop = recurrent_op(b, kind)?;
        layer.require(
            bop == flip_direction(&op),
            "a backward_layer that differs from the forward layer in more than go_backwards",
        )?;
    }
    let wrapper = LayerCtx {
        name: layer.name.clone(),
        class: layer.class.clone(),
        config: layer.config,
        weight_key: layer.weight_key.clone(),
        frozen: fwd.frozen,
    };
    let node =
        cx.add_node(&wrapper, &layer.name, Op::Bidirectional { inner: Box::new(op.clone()), merge }, &[x])?;
    let n = var_count(&op);
    let ws = cx.take_weights(layer, 2 * n)?;
    recurrent_params(cx, &fwd, node, &op, d, &ws[..n], 0, "forward_")?;
    recurrent_params(cx, bwd.as_ref().unwrap_or(&fwd), node, &op, d, &ws[n..], n, "backward_")?;
    Ok(vec![cx.out(node)])
}

/// `TimeDistributed(layer)`: the inner layer is lowered on one time step, then each op it gave
/// becomes a `TimeDistributed` op applied to the `N*T` step rows (an activation it gave applies
/// to every cell as is). Its variables are the inner layer's.
pub(crate) fn time_distributed(
    cx: &mut Lowering,
    layer: &LayerCtx,
    inputs: &[TensorId],
) -> Result<Vec<TensorId>, ConvertError> {
    let x = single_input(layer, inputs)?;
    let entry = layer.get("layer").ok_or_else(|| layer.err("the wrapped `layer` is missing"))?;
    let inner = sub_ctx(layer, entry);
    layer.require(
        !matches!(inner.class.as_str(), "Sequential" | "Functional" | "Model" | "InputLayer"),
        format!("TimeDistributed over a {} (only over a single layer)", inner.class),
    )?;
    let shape = cx.shape(x).to_vec();
    let Some((_, step)) = shape.split_first().filter(|(_, s)| !s.is_empty()) else {
        return Err(layer.err(format!("needs an input with a time axis and features, got shape {shape:?}")));
    };
    // A stand-in for one time step, read only by the inner layer's nodes, which are re-pointed
    // at the real input below.
    let step_t = cx.g.tensors.len();
    cx.g.tensors.push(TensorInfo {
        var: format!("{}_step", layer.name),
        shape: step.to_vec(),
        layout: crate::convert::ir::Layout::RowMajor,
        producer: None,
    });
    let first = cx.g.nodes.len();
    let outs = super::lower_layer(cx, &inner, &[step_t])?;
    for id in first..cx.g.nodes.len() {
        let node = &mut cx.g.nodes[id];
        for t in node.inputs.iter_mut() {
            if *t == step_t {
                *t = x;
            }
        }
        if !matches!(node.op, Op::Activation(_)) {
            node.op = Op::TimeDistributed { inner: Box::new(node.op.clone()) };
        }
        node.class = layer.class.clone();
        let in_shapes: Vec<Vec<usize>> = node.inputs.iter().map(|&t| cx.g.tensors[t].shape.clone()).collect();
        let refs: Vec<&[usize]> = in_shapes.iter().map(Vec::as_slice).collect();
        let out_shapes = crate::convert::shapes::infer(&node.op, &refs).map_err(|e| layer.err(e))?;
        let outputs = node.outputs.clone();
        for (o, s) in outputs.into_iter().zip(out_shapes) {
            cx.g.tensors[o].shape = s;
        }
    }
    if outs.contains(&step_t) {
        // An inner layer that adds no node (an identity) passes the input through.
        return Ok(outs.into_iter().map(|t| if t == step_t { x } else { t }).collect());
    }
    Ok(outs)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Simple,
    Lstm,
    Gru,
}

fn kind_of(layer: &LayerCtx) -> Option<Kind> {
    match layer.class.as_str() {
        "SimpleRNN" => Some(Kind::Simple),
        "LSTM" => Some(Kind::Lstm),
        "GRU" => Some(Kind::Gru),
        _ => None,
    }
}

/// A wrapped layer's context: its own class and config, the wrapper's name (the DML names stem
/// from it) and variables (Keras keeps a wrapper's variables under the wrapper).
///
/// Frozen is what the wrapped layer's config says, not the wrapper's: Keras 3 freezes a wrapper's
/// variables only through the `trainable` setter, which also writes `trainable: false` into the
/// wrapped layer's config; `Bidirectional(..., trainable=False)` as a constructor argument (the
/// wrapper's config alone says false) leaves every variable trainable (checked on Keras 3.15.1).
fn sub_ctx<'a>(outer: &LayerCtx, entry: &'a Json) -> LayerCtx<'a> {
    let class = entry.get("class_name").and_then(Json::as_str).unwrap_or("").to_string();
    let config = entry.get("config").unwrap_or(&Json::Null);
    let frozen = config.get("trainable").and_then(Json::as_bool) == Some(false);
    LayerCtx { name: outer.name.clone(), class, config, weight_key: outer.weight_key.clone(), frozen }
}

/// The feature count of a sequence input `[T, D]`.
fn seq_features(cx: &Lowering, layer: &LayerCtx, x: TensorId) -> Result<usize, ConvertError> {
    match cx.shape(x) {
        [_, d] => Ok(*d),
        s => Err(layer.err(format!("needs a sequence input (steps, features), got shape {s:?}"))),
    }
}

fn recurrent_layer(
    cx: &mut Lowering,
    layer: &LayerCtx,
    inputs: &[TensorId],
    kind: Kind,
) -> Result<Vec<TensorId>, ConvertError> {
    let x = single_input(layer, inputs)?;
    let d = seq_features(cx, layer, x)?;
    let op = recurrent_op(layer, kind)?;
    let n = var_count(&op);
    let node = cx.add_node(layer, &layer.name, op.clone(), &[x])?;
    let ws = cx.take_weights(layer, n)?;
    recurrent_params(cx, layer, node, &op, d, &ws, 0, "")?;
    Ok(vec![cx.out(node)])
}

/// Refuses settings that change what the layer computes in ways the converter does not write.
fn no_constraints(layer: &LayerCtx, keys: &[&str]) -> Result<(), ConvertError> {
    for key in keys {
        layer.require(layer.get(key).is_none(), format!("`{key}` (only none)"))?;
    }
    Ok(())
}

/// The op of an RNN layer's config, refusing what the converter does not compute.
fn recurrent_op(layer: &LayerCtx, kind: Kind) -> Result<Op, ConvertError> {
    let units = layer.usize("units")?;
    let return_sequences = layer.bool_or("return_sequences", false)?;
    let go_backwards = layer.bool_or("go_backwards", false)?;
    let use_bias = layer.bool_or("use_bias", true)?;
    layer.require(!layer.bool_or("return_state", false)?, "return_state=True (only the output)")?;
    layer
        .require(!layer.bool_or("stateful", false)?, "stateful=True (states start at zero in every batch)")?;
    layer.require(!layer.bool_or("time_major", false)?, "time_major=True (only batch-major sequences)")?;
    for key in ["dropout", "recurrent_dropout"] {
        let rate = layer.f64_or(key, 0.0)?;
        layer.require(rate == 0.0, format!("{key}={rate} (only 0)"))?;
    }
    no_constraints(
        layer,
        &["kernel_constraint", "recurrent_constraint", "bias_constraint", "activity_regularizer"],
    )?;
    // An absent activation is the layer's default (tanh); `null` is Keras's None (linear).
    let activation = match layer.config.get("activation") {
        None => Activation::Tanh,
        Some(v) => parse_activation(layer, Some(v))?,
    };
    if kind == Kind::Simple {
        let ok = matches!(activation, Activation::Tanh | Activation::Sigmoid | Activation::Linear)
            || activation == Activation::RELU;
        layer.require(
            ok,
            format!("activation {} (supported: tanh, sigmoid, relu, linear)", shown(layer, "activation")),
        )?;
        return Ok(Op::SimpleRnn { units, return_sequences, activation, use_bias, go_backwards });
    }
    layer.require(
        activation == Activation::Tanh,
        format!("activation {} (only tanh)", shown(layer, "activation")),
    )?;
    let recurrent = match layer.config.get("recurrent_activation") {
        None => Activation::Sigmoid,
        Some(v) => parse_activation(layer, Some(v))?,
    };
    layer.require(
        recurrent == Activation::Sigmoid,
        format!("recurrent_activation {} (only sigmoid)", shown(layer, "recurrent_activation")),
    )?;
    Ok(match kind {
        Kind::Lstm => Op::Lstm { units, return_sequences, use_bias, go_backwards },
        _ => {
            let reset_after = layer.bool_or("reset_after", true)?;
            Op::Gru { units, return_sequences, reset_after, use_bias, go_backwards }
        }
    })
}

/// A config value as the message about it shows it (`"relu"`).
fn shown(layer: &LayerCtx, key: &str) -> String {
    layer.config.get(key).map(|v| v.to_string()).unwrap_or_else(|| "(default)".into())
}

/// The same layer run in the other direction (a Bidirectional's backward layer).
fn flip_direction(op: &Op) -> Op {
    let mut op = op.clone();
    match &mut op {
        Op::SimpleRnn { go_backwards, .. } | Op::Lstm { go_backwards, .. } | Op::Gru { go_backwards, .. } => {
            *go_backwards = !*go_backwards
        }
        _ => {}
    }
    op
}

/// Number of Keras variables of an RNN op: kernel, recurrent kernel and (with `use_bias`) bias.
fn var_count(op: &Op) -> usize {
    match op {
        Op::SimpleRnn { use_bias, .. } | Op::Lstm { use_bias, .. } | Op::Gru { use_bias, .. } => {
            2 + usize::from(*use_bias)
        }
        _ => 0,
    }
}

/// Adds an RNN's kernel, recurrent kernel and bias (Keras variables `first..` of the layer's list).
#[allow(clippy::too_many_arguments)]
fn recurrent_params(
    cx: &mut Lowering,
    layer: &LayerCtx,
    node: usize,
    op: &Op,
    d: usize,
    ws: &[Tensor],
    first: usize,
    prefix: &str,
) -> Result<(), ConvertError> {
    let (units, gates, use_bias, bias_rows) = match op {
        Op::SimpleRnn { units, use_bias, .. } => (*units, 1, *use_bias, 0),
        Op::Lstm { units, use_bias, .. } => (*units, 4, *use_bias, 0),
        Op::Gru { units, use_bias, reset_after, .. } => (*units, 3, *use_bias, usize::from(*reset_after) * 2),
        _ => return Err(layer.err("not a recurrent layer")),
    };
    let g = gates * units;
    // Keras's LSTM gate blocks [i, f, c, o]; nn's lstm (and the engine's builtin) computes
    // [i, f, o, g]: nn block b takes Keras block [0, 1, 3, 2][b].
    let cols_from: Option<Vec<usize>> = (gates == 4).then(|| {
        (0..g)
            .map(|c| {
                let block = [0, 1, 3, 2][c / units];
                block * units + c % units
            })
            .collect()
    });
    let transform = |rows: usize| {
        let t = ParamTransform::Reshape { rows, cols: g };
        match &cols_from {
            Some(p) => t.permute_cols(p),
            None => t,
        }
    };
    let kernel_role = if prefix.is_empty() { "kernel".to_string() } else { format!("{prefix}kernel") };
    let k = cx.add_param(layer, node, &ws[0], first, &kernel_role, &[d, g], transform(d), true)?;
    cx.set_regularizer(layer, k, "kernel_regularizer")?;
    let r = cx.add_param(
        layer,
        node,
        &ws[1],
        first + 1,
        &format!("{prefix}recurrent_kernel"),
        &[units, g],
        transform(units),
        true,
    )?;
    cx.set_regularizer(layer, r, "recurrent_regularizer")?;
    if use_bias {
        // GRU with reset_after: (2, 3M), row 0 the input bias, row 1 the recurrent bias.
        let (shape, rows) = if bias_rows == 2 { (vec![2, g], 2) } else { (vec![g], 1) };
        let b = cx.add_param(
            layer,
            node,
            &ws[2],
            first + 2,
            &format!("{prefix}bias"),
            &shape,
            transform(rows),
            true,
        )?;
        cx.set_regularizer(layer, b, "bias_regularizer")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use crate::convert::ir::{Graph, Op};
    use crate::convert::keras::{DType, KerasFile, KerasFormat, Origin, Tensor};

    fn tensor(shape: &[usize]) -> Tensor {
        let n = shape.iter().product::<usize>();
        Tensor {
            name: String::new(),
            shape: shape.to_vec(),
            data: (0..n).map(|v| v as f64).collect(),
            dtype: DType::F64,
        }
    }

    /// A Sequential of one layer on `input` ([T, D] or [T]), with the given variables.
    fn lower_one(input: &[usize], layer: serde_json::Value, vars: Vec<Tensor>) -> Result<Graph, String> {
        let mut batch = vec![json!(null)];
        batch.extend(input.iter().map(|&d| json!(d)));
        let name = layer["config"]["name"].as_str().unwrap_or("l").to_string();
        let config = json!({"class_name": "Sequential", "config": {"name": "m", "layers": [
            {"class_name": "InputLayer", "config": {"name": "in", "batch_shape": batch}},
            layer
        ]}});
        let file = KerasFile {
            format: KerasFormat::Keras3,
            config,
            compile: None,
            keras_version: Some("3.15.1".into()),
            layer_weights: BTreeMap::from([(name, vars)]),
            optimizer: Vec::new(),
            origin: Origin::LegacyH5 { name: "test".into() },
        };
        crate::convert::keras::lower::lower(&file).map_err(|e| e.to_string())
    }

    fn lstm(extra: serde_json::Value) -> serde_json::Value {
        let mut cfg =
            json!({"name": "rnn", "units": 2, "activation": "tanh", "recurrent_activation": "sigmoid"});
        if let (Some(c), Some(e)) = (cfg.as_object_mut(), extra.as_object()) {
            c.extend(e.clone());
        }
        json!({"class_name": "LSTM", "config": cfg})
    }

    #[test]
    fn lstm_gate_columns_move_to_nn_order_in_the_transform() {
        let g = lower_one(&[4, 3], lstm(json!({})), vec![tensor(&[3, 8]), tensor(&[2, 8]), tensor(&[8])])
            .unwrap();
        // Keras blocks [i, f, c, o] of 2 columns; nn's [i, f, o, g] = Keras blocks 0, 1, 3, 2.
        let bias = &g.params[2];
        assert_eq!(bias.value.row(0).to_vec(), vec![0.0, 1.0, 2.0, 3.0, 6.0, 7.0, 4.0, 5.0]);
        assert_eq!(g.params[0].value.row(1).to_vec(), vec![8.0, 9.0, 10.0, 11.0, 14.0, 15.0, 12.0, 13.0]);
        // And back: the framework data is unchanged.
        let back = bias.origin.transform.to_framework(&bias.value);
        assert_eq!(back, (0..8).map(f64::from).collect::<Vec<_>>());
    }

    #[test]
    fn refused_settings_name_the_layer_and_the_setting() {
        let vars = || vec![tensor(&[3, 8]), tensor(&[2, 8]), tensor(&[8])];
        for (extra, what) in [
            (json!({"dropout": 0.2}), "dropout=0.2"),
            (json!({"recurrent_dropout": 0.1}), "recurrent_dropout=0.1"),
            (json!({"stateful": true}), "stateful=True"),
            (json!({"return_state": true}), "return_state=True"),
            (json!({"recurrent_activation": "hard_sigmoid"}), "recurrent_activation \"hard_sigmoid\""),
            (json!({"activation": "relu"}), "only tanh"),
        ] {
            let e = lower_one(&[4, 3], lstm(extra), vars()).unwrap_err();
            assert!(e.contains("`rnn`") && e.contains("LSTM") && e.contains(what), "{e}");
        }
        let emb = json!({"class_name": "Embedding",
                         "config": {"name": "emb", "input_dim": 5, "output_dim": 2, "mask_zero": true}});
        let e = lower_one(&[4], emb, vec![tensor(&[5, 2])]).unwrap_err();
        assert!(e.contains("`emb`") && e.contains("mask_zero=True"), "{e}");
    }

    #[test]
    fn bidirectional_defaults_its_backward_layer_and_refuses_two_outputs() {
        let bi = |merge: serde_json::Value| json!({"class_name": "Bidirectional", "config": {"name": "bi", "merge_mode": merge, "layer": lstm(json!({}))}});
        let vars = || {
            vec![
                tensor(&[3, 8]),
                tensor(&[2, 8]),
                tensor(&[8]),
                tensor(&[3, 8]),
                tensor(&[2, 8]),
                tensor(&[8]),
            ]
        };
        let g = lower_one(&[4, 3], bi(json!("ave")), vars()).unwrap();
        assert!(matches!(&g.nodes[0].op, Op::Bidirectional { inner, .. }
            if matches!(**inner, Op::Lstm { go_backwards: false, .. })));
        assert_eq!(g.params.len(), 6);
        let e = lower_one(&[4, 3], bi(json!(null)), vars()).unwrap_err();
        assert!(e.contains("merge_mode=None"), "{e}");
    }
}
