//! `dml convert keras MODEL --emit-caffe DIR`: the network prototxt and solver that SystemML's
//! Keras2DML (`keras2caffe.py`) would have written for the model, so users of SystemML's flow keep
//! their files. The mapping is Keras2DML's, its refusals included (layers and activations it did
//! not map, losses other than softmax cross-entropy and mean squared error, optimizers other than
//! SGD, Adagrad and Adam); it is not the mapping `dml convert keras` itself uses.

use std::fmt::Write as _;
use std::path::Path;

use crate::convert::error::ConvertError;
use crate::convert::ir::{
    Activation, Graph, LearningRate, Loss, MergeKind, Node, Op, OptimizerKind, PoolKind,
};
use crate::convert::model::Model;

fn err(g: &Graph, node: Option<&Node>, detail: String) -> ConvertError {
    match node {
        Some(n) => ConvertError::Layer { layer: n.layer.clone(), class: n.class.clone(), detail },
        None => ConvertError::Layer { layer: g.name.clone(), class: "model".into(), detail },
    }
}

/// One `layer { ... }` block.
struct Block {
    name: String,
    ty: &'static str,
    bottoms: Vec<String>,
    tops: Vec<String>,
    body: String,
}

impl Block {
    fn new(name: &str, ty: &'static str, bottoms: Vec<String>, top: &str) -> Block {
        Block { name: name.into(), ty, bottoms, tops: vec![top.into()], body: String::new() }
    }

    fn text(&self) -> String {
        let mut s = format!("layer {{\n  name: \"{}\"\n  type: \"{}\"\n", self.name, self.ty);
        for b in &self.bottoms {
            let _ = writeln!(s, "  bottom: \"{b}\"");
        }
        for t in &self.tops {
            let _ = writeln!(s, "  top: \"{t}\"");
        }
        s.push_str(&self.body);
        s.push_str("}\n");
        s
    }
}

fn caffe_activation(a: &Activation) -> Option<&'static str> {
    match a {
        Activation::Relu { negative_slope, max_value: None, threshold }
            if *negative_slope == 0.0 && *threshold == 0.0 =>
        {
            Some("ReLU")
        }
        Activation::Sigmoid => Some("Sigmoid"),
        Activation::Softmax => Some("Softmax"),
        _ => None,
    }
}

/// The prototxt and solver texts: `(network, solver)`.
pub fn texts(model: &Model) -> Result<(String, String), ConvertError> {
    let g = &model.graph;
    let t = g.training.as_ref().ok_or_else(|| {
        err(g, None, "Keras2DML needs a compiled model (loss and optimizer); this one has none".into())
    })?;
    if g.inputs.len() != 1 || g.outputs.len() != 1 {
        return Err(err(g, None, "Keras2DML takes models with one input and one output".into()));
    }
    let nodes: Vec<&Node> = g.nodes.iter().filter(|n| !matches!(n.op, Op::Relayout { .. })).collect();
    // The tensor -> the Caffe top that holds it (Relayout nodes are transparent).
    let mut top_of: std::collections::HashMap<usize, String> = Default::default();
    let input_name = g.tensors[g.inputs[0]].var.clone();
    top_of.insert(g.inputs[0], input_name.clone());
    for n in &g.nodes {
        if let Op::Relayout { .. } = n.op {
            let src = top_of.get(&n.inputs[0]).cloned().unwrap_or_default();
            top_of.insert(n.outputs[0], src);
        }
    }
    let mut blocks: Vec<Block> = Vec::new();
    let mut d = Block::new(&input_name, "Data", vec![], &input_name);
    d.tops.push("label".into());
    d.body = "  data_param {\n    batch_size: 32\n  }\n".into();
    blocks.push(d);
    let last_index = nodes.len().saturating_sub(1);
    let mut loss_bottom: Option<String> = None;
    for (i, n) in nodes.iter().enumerate() {
        let bottoms: Vec<String> =
            n.inputs.iter().map(|x| top_of.get(x).cloned().unwrap_or_default()).collect();
        let name = n.layer.clone();
        let is_last = i == last_index;
        let fused = i > 0 && nodes[i - 1].layer == n.layer && matches!(n.op, Op::Activation(_));
        let out_t = n.outputs[0];
        let mut b = match &n.op {
            Op::Activation(a) => {
                let ty = caffe_activation(a).ok_or_else(|| {
                    err(
                        g,
                        Some(n),
                        format!(
                            "Keras2DML supports the activations relu, sigmoid and softmax, not {}",
                            a.name()
                        ),
                    )
                })?;
                if is_last
                    && *a == Activation::Softmax
                    && matches!(t.loss, Loss::CategoricalCrossentropy { .. })
                {
                    // The loss layer takes the scores: the softmax is dropped (Keras2DML's rule).
                    loss_bottom = Some(bottoms[0].clone());
                    top_of.insert(out_t, bottoms[0].clone());
                    continue;
                }
                if fused {
                    // A separate in-place layer named `<layer>_activation`.
                    let mut b = Block::new(&format!("{name}_activation"), ty, bottoms.clone(), &bottoms[0]);
                    b.tops = vec![bottoms[0].clone()];
                    top_of.insert(out_t, bottoms[0].clone());
                    blocks.push(b);
                    continue;
                }
                Block::new(&name, ty, bottoms, &name)
            }
            Op::Dense { units, use_bias } => {
                if !use_bias {
                    return Err(err(g, Some(n), "Keras2DML requires use_bias=True".into()));
                }
                if g.tensors[n.inputs[0]].shape.len() != 1 {
                    return Err(err(
                        g,
                        Some(n),
                        "Keras2DML needs a 2-D input to Dense (add a Flatten)".into(),
                    ));
                }
                let mut b = Block::new(&name, "InnerProduct", bottoms, &name);
                b.body = format!("  inner_product_param {{\n    num_output: {units}\n  }}\n");
                b
            }
            Op::Conv2D { filters, kernel, strides, pads, use_bias }
            | Op::Conv2DTranspose { filters, kernel, strides, pads, use_bias, .. } => {
                if !use_bias {
                    return Err(err(g, Some(n), "Keras2DML requires use_bias=True".into()));
                }
                let ty = if matches!(n.op, Op::Conv2D { .. }) { "Convolution" } else { "Deconvolution" };
                // Keras2DML wrote k // 2 for 'same' padding (and 0 for 'valid').
                let same = pads.iter().any(|&p| p > 0);
                let (ph, pw) = if same { (kernel[0] / 2, kernel[1] / 2) } else { (0, 0) };
                let mut b = Block::new(&name, ty, bottoms, &name);
                b.body = format!(
                    "  convolution_param {{\n    num_output: {filters}\n    bias_term: true\n    kernel_h: {}\n    kernel_w: {}\n    stride_h: {}\n    stride_w: {}\n    pad_h: {ph}\n    pad_w: {pw}\n  }}\n",
                    kernel[0], kernel[1], strides[0], strides[1]
                );
                b
            }
            Op::Pool2D { kind, pool, strides, pads } => {
                let same = pads.iter().any(|&p| p > 0);
                let (ph, pw) = if same { (pool[0] / 2, pool[1] / 2) } else { (0, 0) };
                let mut b = Block::new(&name, "Pooling", bottoms, &name);
                b.body = format!(
                    "  pooling_param {{\n    pool: {}\n    kernel_h: {}\n    kernel_w: {}\n    stride_h: {}\n    stride_w: {}\n    pad_h: {ph}\n    pad_w: {pw}\n  }}\n",
                    if *kind == PoolKind::Max { "MAX" } else { "AVE" },
                    pool[0],
                    pool[1],
                    strides[0],
                    strides[1]
                );
                b
            }
            Op::UpSampling2D { size } => {
                let mut b = Block::new(&name, "Upsample", bottoms, &name);
                b.body =
                    format!("  upsample_param {{\n    size_h: {}\n    size_w: {}\n  }}\n", size[0], size[1]);
                b
            }
            Op::ZeroPadding2D { pads } => {
                let mut b = Block::new(&name, "Padding", bottoms, &name);
                b.body = format!(
                    "  padding_param {{\n    top_pad: {}\n    bottom_pad: {}\n    left_pad: {}\n    right_pad: {}\n    pad_value: 0\n  }}\n",
                    pads[0], pads[1], pads[2], pads[3]
                );
                b
            }
            Op::Dropout { rate } => {
                let mut b = Block::new(&name, "Dropout", bottoms, &name);
                b.body = format!("  dropout_param {{\n    dropout_ratio: {rate}\n  }}\n");
                b
            }
            Op::Flatten => Block::new(&name, "Flatten", bottoms, &name),
            Op::Merge(MergeKind::Add) => {
                let mut b = Block::new(&name, "Eltwise", bottoms, &name);
                b.body = "  eltwise_param {\n    operation: SUM\n  }\n".into();
                b
            }
            Op::Merge(MergeKind::Concatenate(_)) => {
                let mut b = Block::new(&name, "Concat", bottoms, &name);
                b.body = "  concat_param {\n    axis: 1\n  }\n".into();
                b
            }
            Op::BatchNorm { momentum, epsilon, center, scale } => {
                if !scale {
                    return Err(err(g, Some(n), "Keras2DML's BatchNormalization needs scale=True".into()));
                }
                let bn = format!("{name}_1");
                let mut b1 = Block::new(&bn, "BatchNorm", bottoms, &bn);
                b1.body = format!(
                    "  batch_norm_param {{\n    moving_average_fraction: {momentum}\n    eps: {epsilon}\n  }}\n"
                );
                blocks.push(b1);
                let mut b = Block::new(&name, "Scale", vec![bn], &name);
                b.body = format!("  scale_param {{\n    bias_term: {center}\n  }}\n");
                b
            }
            Op::SimpleRnn { units, return_sequences, .. } | Op::Lstm { units, return_sequences, .. } => {
                let ty = if matches!(n.op, Op::Lstm { .. }) { "LSTM" } else { "RNN" };
                let mut b = Block::new(&name, ty, bottoms, &name);
                b.body = format!(
                    "  recurrent_param {{\n    num_output: {units}\n    return_sequences: {return_sequences}\n  }}\n"
                );
                b
            }
            other => {
                return Err(err(
                    g,
                    Some(n),
                    format!("Unsupported Layers: Keras2DML had no mapping for {}", other.describe()),
                ));
            }
        };
        top_of.insert(out_t, name.clone());
        b.tops = vec![name.clone()];
        blocks.push(b);
    }
    let last = top_of.get(&g.outputs[0]).cloned().unwrap_or_default();
    match &t.loss {
        Loss::CategoricalCrossentropy { .. } => {
            let bottom = loss_bottom.ok_or_else(|| {
                err(g, None, "Unsupported loss layer: categorical_crossentropy needs a softmax last activation in Keras2DML".into())
            })?;
            blocks.push(Block {
                name: "loss".into(),
                ty: "SoftmaxWithLoss",
                bottoms: vec![bottom, "label".into()],
                tops: vec!["loss".into()],
                body: String::new(),
            });
        }
        Loss::MeanSquaredError => {
            blocks.push(Block {
                name: "loss".into(),
                ty: "EuclideanLoss",
                bottoms: vec![last, "label".into()],
                tops: vec!["loss".into()],
                body: String::new(),
            });
        }
        other => {
            return Err(err(
                g,
                None,
                format!(
                    "Unsupported loss layer {}: Keras2DML took categorical_crossentropy and mean_squared_error",
                    crate::convert::ir::loss_key(other)
                ),
            ));
        }
    }
    let mut net = format!("name: \"{}\"\n", g.name);
    for b in &blocks {
        net.push_str(&b.text());
    }
    let o = &t.optimizer;
    let base_lr = match &o.learning_rate {
        LearningRate::Constant(v) => *v,
        _ => {
            return Err(err(
                g,
                None,
                "Keras2DML read optimizer.lr; a learning-rate schedule has none".into(),
            ));
        }
    };
    let (ty, extra) = match &o.kind {
        OptimizerKind::Sgd { momentum, nesterov } => {
            (if *nesterov { "Nesterov" } else { "SGD" }, format!("momentum: {momentum}\n"))
        }
        OptimizerKind::Adagrad { epsilon, .. } => ("Adagrad", format!("delta: {epsilon}\n")),
        OptimizerKind::Adam { beta_1, beta_2, epsilon, .. } => {
            ("Adam", format!("momentum: {beta_1}\nmomentum2: {beta_2}\ndelta: {epsilon}\n"))
        }
        _ => {
            return Err(err(
                g,
                None,
                "Only sgd (with/without momentum/nesterov), Adam and Adagrad supported (Keras2DML)".into(),
            ));
        }
    };
    let solver = format!(
        "net: \"{}.proto\"\nsolver_mode: CPU\ntype: \"{ty}\"\nlr_policy: \"step\"\nregularization_type: \"L2\"\nweight_decay: 0\nmax_iter: 2000\ntest_iter: 0\ntest_interval: 500\ndisplay: 100\nbase_lr: {base_lr}\ngamma: 0\n{extra}",
        g.name
    );
    Ok((net, solver))
}

/// Writes `<name>.proto` and `<name>_solver.proto` into `dir` (each through a temporary file, so
/// no half-written file is left); returns their paths.
pub fn write(model: &Model, dir: &Path) -> Result<Vec<String>, ConvertError> {
    let (net, solver) = texts(model)?;
    std::fs::create_dir_all(dir).map_err(|source| ConvertError::Io {
        path: dir.into(),
        action: "create the folder",
        source,
    })?;
    let name = &model.graph.name;
    let mut written = Vec::new();
    for (file, text) in [(format!("{name}.proto"), net), (format!("{name}_solver.proto"), solver)] {
        let path = dir.join(&file);
        let tmp = dir.join(format!(".{file}.tmp-{}", std::process::id()));
        std::fs::write(&tmp, text).map_err(|source| ConvertError::Io {
            path: tmp.clone(),
            action: "write",
            source,
        })?;
        std::fs::rename(&tmp, &path).map_err(|source| {
            let _ = std::fs::remove_file(&tmp);
            ConvertError::Io { path: path.clone(), action: "write", source }
        })?;
        written.push(path.display().to_string());
    }
    Ok(written)
}
