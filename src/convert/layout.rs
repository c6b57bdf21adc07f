//! The layout pass: gives every tensor the DML layout its producer computes in, inserts a
//! [`Op::Relayout`] node wherever a consumer needs another layout (the model's inputs arrive in
//! Keras's row-major order; convolutions want nn's channels-first rows; the model's outputs go
//! back row-major), and folds the permutation of a `Flatten` of an image into the rows of the
//! next `Dense` kernel, so the common `Conv -> Flatten -> Dense` moves no data at run time.

use std::collections::{HashMap, HashSet};

use crate::convert::error::ConvertError;
use crate::convert::ir::{
    ArithArg, ArithSource, Graph, Layout, MergeKind, Node, NodeId, Op, ParamId, TensorId, TensorInfo,
};

/// What layout an op needs for input `i` (`None`: any, the output follows the input).
fn required(op: &Op, i: usize, shape: &[usize], given: &Layout) -> Option<Layout> {
    match op {
        Op::Activation(a) => match a {
            crate::convert::ir::Activation::Softmax | crate::convert::ir::Activation::LogSoftmax => {
                Some(Layout::RowMajor)
            }
            _ => None,
        },
        Op::Dropout { .. }
        | Op::SpatialDropout { .. }
        | Op::GaussianNoise { .. }
        | Op::GaussianDropout { .. }
        | Op::Flatten => None,
        // A vector Dense takes the flattened channels-first order by permuting its kernel rows.
        Op::Dense { .. } if shape.len() == 1 => match given {
            Layout::FlatChannelsFirst { .. } => None,
            _ => Some(Layout::RowMajor),
        },
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
        | Op::UpSampling2D { .. } => Some(Layout::ChannelsFirst),
        // Per channel (statistics, dropped channels): channels-first rows and row-major tensors
        // (channels fastest) both keep each channel findable; a flattened image's features are
        // no channels.
        Op::BatchNorm { .. } => match given {
            Layout::FlatChannelsFirst { .. } => Some(Layout::RowMajor),
            _ => None,
        },
        // A per-channel alpha broadcasts over channels-first rows as well.
        Op::PRelu { alpha_shape } if *given == Layout::ChannelsFirst && per_channel(alpha_shape) => None,
        // Keeping the channels as the last axis keeps the channels-first order of the cells; a
        // reshape to a vector flattens (as Flatten does).
        Op::Reshape { target } => match given {
            Layout::ChannelsFirst
                if target.len() == 1 || (target.last() == shape.last() && target.len() > 1) =>
            {
                None
            }
            Layout::FlatChannelsFirst { .. } if target.len() == 1 => None,
            _ => Some(Layout::RowMajor),
        },
        // The permutation is composed with the channels-first order.
        Op::Permute { .. } if *given == Layout::ChannelsFirst => None,
        Op::Merge(kind) => {
            let _ = (kind, i);
            // Decided for all inputs together in `merge_layout`.
            None
        }
        Op::Relayout { to } => Some(to.clone()),
        Op::Caffe(op) => Some(op.required(shape)),
        _ => Some(Layout::RowMajor),
    }
}

/// Whether a PReLU alpha of this logical shape has one value per channel (every axis but the
/// last shared).
fn per_channel(alpha_shape: &[usize]) -> bool {
    alpha_shape.split_last().is_some_and(|(_, lead)| lead.iter().all(|&d| d == 1))
}

/// The layout of a node's output given its (converted) input layouts.
fn produced(op: &Op, inputs: &[&Layout], in_shape: &[usize]) -> Layout {
    let first = inputs.first().copied().cloned().unwrap_or(Layout::RowMajor);
    match op {
        Op::Activation(_)
        | Op::Dropout { .. }
        | Op::GaussianNoise { .. }
        | Op::GaussianDropout { .. }
        | Op::PRelu { .. } => first,
        Op::Reshape { target } => match first {
            Layout::ChannelsFirst if target.len() == 1 => {
                Layout::FlatChannelsFirst { channels: in_shape.last().copied().unwrap_or(1) }
            }
            other => other,
        },
        Op::Flatten => match first {
            Layout::ChannelsFirst => {
                Layout::FlatChannelsFirst { channels: in_shape.last().copied().unwrap_or(1) }
            }
            other => other,
        },
        Op::Conv2D { .. }
        | Op::GroupedConv2D { .. }
        | Op::Conv1D { .. }
        | Op::Conv2DTranspose { .. }
        | Op::DepthwiseConv2D { .. }
        | Op::SeparableConv2D { .. }
        | Op::Pool2D { .. }
        | Op::Pool1D { .. }
        | Op::ZeroPadding2D { .. }
        | Op::Cropping2D { .. }
        | Op::UpSampling2D { .. } => Layout::ChannelsFirst,
        Op::BatchNorm { .. } | Op::SpatialDropout { .. } | Op::Merge(_) | Op::Arith { .. } => first,
        // Moving the first logical axis last (ONNX's `[C, H, W]` to `[H, W, C]`) of a row-major
        // tensor is a channels-first tensor with the cells where they are.
        Op::Permute { dims } if first == Layout::RowMajor && moves_first_last(dims) => Layout::ChannelsFirst,
        Op::Relayout { to } => to.clone(),
        Op::Caffe(op) => op.produced(&first),
        _ => Layout::RowMajor,
    }
}

/// Whether `dims` (1-based) moves the first axis last and keeps the others in order.
pub fn moves_first_last(dims: &[usize]) -> bool {
    dims.len() >= 2
        && dims[dims.len() - 1] == 1
        && dims[..dims.len() - 1].iter().enumerate().all(|(i, &d)| d == i + 2)
}

/// The layout an elementwise [`Op::Arith`] computes in: the inputs' common one when every operand
/// has the output's cells or is a scalar; row-major (where broadcasting is defined) otherwise.
fn arith_layout(args: &[ArithArg], layouts: &[&Layout]) -> Layout {
    let cellwise = args.iter().all(|a| match a.source {
        ArithSource::Input(_) => a.broadcast.is_none(),
        ArithSource::Param(_) => false,
        ArithSource::Scalar(_) => true,
    });
    match layouts.first() {
        Some(first) if cellwise && layouts.iter().all(|l| l == first) => (*first).clone(),
        _ => Layout::RowMajor,
    }
}

/// The common layout a merge computes in: the inputs' own when they agree (and, for a
/// concatenation of images, when it is along the channels), row-major otherwise.
fn merge_layout(kind: MergeKind, layouts: &[&Layout], rank: usize) -> Layout {
    let first = layouts[0];
    let agree = layouts.iter().all(|l| *l == first);
    match kind {
        MergeKind::Concatenate(axis) => {
            let last = axis == -1 || axis == rank as i64;
            if agree && *first == Layout::ChannelsFirst && last {
                Layout::ChannelsFirst
            } else {
                Layout::RowMajor
            }
        }
        _ if agree && !matches!(first, Layout::FlatChannelsFirst { .. }) => first.clone(),
        _ => Layout::RowMajor,
    }
}

/// Runs the pass on a lowered graph.
pub fn assign_layouts(g: &mut Graph) -> Result<(), ConvertError> {
    let old_nodes = std::mem::take(&mut g.nodes);
    let mut uses = vec![0usize; g.params.len()];
    old_nodes.iter().flat_map(|n| &n.params).for_each(|&p| uses[p] += 1);
    let shared: HashSet<ParamId> = (0..uses.len()).filter(|&p| uses[p] > 1).collect();
    // (tensor, layout) -> the tensor holding it in that layout.
    let mut converted: HashMap<(TensorId, String), TensorId> = HashMap::new();
    let mut remap: Vec<NodeId> = Vec::with_capacity(old_nodes.len());
    for node in old_nodes {
        let mut node = node;
        let in_shapes: Vec<Vec<usize>> = node.inputs.iter().map(|&t| g.tensors[t].shape.clone()).collect();
        let wants: Vec<Option<Layout>> = match &node.op {
            Op::Merge(kind) => {
                let ls: Vec<&Layout> = node.inputs.iter().map(|&t| &g.tensors[t].layout).collect();
                let l = merge_layout(*kind, &ls, in_shapes[0].len());
                vec![Some(l); node.inputs.len()]
            }
            Op::Arith { args, .. } => {
                let ls: Vec<&Layout> = node.inputs.iter().map(|&t| &g.tensors[t].layout).collect();
                vec![Some(arith_layout(args, &ls)); node.inputs.len()]
            }
            // A Dense whose kernel another node shares (a shared layer) cannot permute its rows
            // for one caller: it takes row-major input.
            Op::Dense { .. } if node.params.first().is_some_and(|p| shared.contains(p)) => {
                vec![Some(Layout::RowMajor)]
            }
            op => node
                .inputs
                .iter()
                .enumerate()
                .map(|(i, &t)| required(op, i, &in_shapes[i], &g.tensors[t].layout))
                .collect(),
        };
        for (i, want) in wants.into_iter().enumerate() {
            if let Some(want) = want
                && g.tensors[node.inputs[i]].layout != want
            {
                node.inputs[i] = relayout(g, &mut converted, node.inputs[i], want, &node);
            }
        }
        let layouts: Vec<&Layout> = node.inputs.iter().map(|&t| &g.tensors[t].layout).collect();
        let out_layout = produced(&node.op, &layouts, in_shapes.first().map(Vec::as_slice).unwrap_or(&[]));
        // A Dense reading a flattened image absorbs the permutation into its kernel rows.
        if let (Op::Dense { .. }, Some(Layout::FlatChannelsFirst { .. })) =
            (&node.op, layouts.first().copied())
        {
            let t = node.inputs[0];
            let sources = g.tensors[t].layout.column_sources(&g.tensors[t].shape).unwrap_or_default();
            if let Some(&w) = node.params.first() {
                let p = &mut g.params[w];
                let permuted =
                    ndarray::Array2::from_shape_fn(p.value.dim(), |(r, c)| p.value[[sources[r], c]]);
                p.value = permuted;
                p.origin.transform = p.origin.transform.permute_rows(&sources);
            }
        }
        let id = g.nodes.len();
        for &o in &node.outputs {
            g.tensors[o].layout = out_layout.clone();
            g.tensors[o].producer = Some(id);
        }
        for &p in &node.params {
            g.params[p].node = id;
        }
        remap.push(id);
        g.nodes.push(node);
    }
    // Model outputs are handed back in Keras's row-major order.
    let outputs = g.outputs.clone();
    for (k, t) in outputs.into_iter().enumerate() {
        if g.tensors[t].layout != Layout::RowMajor {
            let producer = g.tensors[t].producer.map(|p| g.nodes[p].clone());
            let anchor = producer.unwrap_or_else(placeholder_node);
            g.outputs[k] = relayout(g, &mut converted, t, Layout::RowMajor, &anchor);
        }
    }
    let _ = remap;
    Ok(())
}

fn placeholder_node() -> Node {
    Node {
        name: "input".into(),
        layer: "input".into(),
        class: "InputLayer".into(),
        op: Op::Flatten,
        inputs: vec![],
        outputs: vec![],
        params: vec![],
        frozen: false,
    }
}

/// The tensor holding `t` in layout `to`, adding a Relayout node the first time.
fn relayout(
    g: &mut Graph,
    converted: &mut HashMap<(TensorId, String), TensorId>,
    t: TensorId,
    to: Layout,
    for_node: &Node,
) -> TensorId {
    let key = (t, format!("{to:?}"));
    if let Some(&done) = converted.get(&key) {
        return done;
    }
    let suffix = match to {
        Layout::RowMajor => "rm",
        Layout::ChannelsFirst => "cf",
        Layout::FlatChannelsFirst { .. } => "fcf",
    };
    let src = g.tensors[t].clone();
    let var = format!("{}_{suffix}", src.var);
    let id = g.nodes.len();
    let out = g.tensors.len();
    g.tensors.push(TensorInfo {
        var: var.clone(),
        shape: src.shape.clone(),
        layout: to.clone(),
        producer: Some(id),
    });
    g.nodes.push(Node {
        name: var,
        layer: for_node.layer.clone(),
        class: "Relayout".into(),
        op: Op::Relayout { to },
        inputs: vec![t],
        outputs: vec![out],
        params: vec![],
        frozen: for_node.frozen,
    });
    converted.insert(key, out);
    out
}
