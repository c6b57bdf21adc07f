//! Caffe models in: a network prototxt, optionally a solver prototxt and a `.caffemodel`, become
//! the same [`Model`] as a Keras file, with Caffe's semantics in the scripts: the solver loop of
//! [`script`], the layers of [`lower`] (Caffe's own ones in [`ops`] and [`emit`]), the update
//! rules and learning-rate policies of [`solver`]. Files are read through a message schema
//! compiled at run time ([`proto`]); no Caffe or `protoc` is needed.
//!
//! SystemML's Caffe2DML did the same job; the problems its users met are absent here (each has a
//! test in `tests/convert_caffe.rs`): dropout takes Caffe's drop ratio, the TEST phase runs in
//! inference mode over `test_iter` batches and averages, every layer's weights (biases and Adam's
//! state included) get their own solver state, every lr policy is evaluated per iteration,
//! the solver's omitted fields keep Caffe's defaults, BatchNorm keeps Caffe's three blobs, the
//! input scaling is part of the network (prediction applies it too), a standalone Scale layer
//! scales, and the generated text is deterministic.
//!
//! LSTM and RNN layers read Caffe's time-major `T x N x D` blobs as one row per sequence, its T
//! steps of D features side by side (step-major), the layout of the converter's recurrent ops;
//! Caffe's `cont` blob is not data: each row is one whole sequence, `cont` 0 at step 0 and 1
//! after ([`sequence_input_note`] writes this into the scripts' headers).

pub mod emit;
pub mod emit_keras;
pub mod lower;
pub mod ops;
pub mod proto;
pub mod script;
pub mod solver;

use std::path::Path;

use crate::convert::error::ConvertError;
use crate::convert::ir::{
    Graph, Layout, LearningRate, Loss, Metric, Op, Optimizer, OptimizerKind, TrainingConfig,
};
use crate::convert::model::Model;
pub use lower::{LossKind, LossSpec, NetOptions};
pub use solver::{Solver, SolverType};

/// What a Caffe model keeps besides its graph: the solver, the loss layer, the Accuracy layers,
/// the parameters' multipliers and the data layers' batch sizes.
#[derive(Debug, Clone)]
pub struct CaffeInfo {
    pub solver: Solver,
    pub loss: Option<LossSpec>,
    pub accuracy: Vec<(String, usize)>,
    /// `(lr_mult, decay_mult)` by parameter id.
    pub mults: Vec<(f64, f64)>,
    pub batch_size: Option<usize>,
    pub test_batch_size: Option<usize>,
    pub label_width: usize,
    /// Io::Bound training scripts read validation rows from bound `X_val`, `y_val`.
    pub bound_validation: bool,
}

/// A Caffe model's graph with its Caffe settings, as the script writers take it.
#[derive(Clone, Copy)]
pub struct Caffe<'a> {
    pub graph: &'a Graph,
    pub info: &'a CaffeInfo,
}

impl std::ops::Deref for Caffe<'_> {
    type Target = CaffeInfo;
    fn deref(&self) -> &CaffeInfo {
        self.info
    }
}

fn read_text(path: &Path) -> Result<String, ConvertError> {
    std::fs::read_to_string(path).map_err(|source| ConvertError::Io {
        path: path.to_path_buf(),
        action: "read",
        source,
    })
}

/// Loads a Caffe network (`NET.prototxt`), with its solver and trained weights when given.
pub fn load_caffe(net: &Path, solver: Option<&Path>, weights: Option<&Path>) -> Result<Model, ConvertError> {
    load_caffe_with(net, solver, weights, &NetOptions::default())
}

/// [`load_caffe`] with the options a prototxt may not say (a Data layer's shape).
pub fn load_caffe_with(
    net: &Path,
    solver: Option<&Path>,
    weights: Option<&Path>,
    opts: &NetOptions,
) -> Result<Model, ConvertError> {
    let net_text = read_text(net)?;
    let solver_text = match solver {
        Some(p) => Some((p.display().to_string(), read_text(p)?)),
        None => None,
    };
    let weights_bytes = match weights {
        Some(p) => Some((
            p.display().to_string(),
            std::fs::read(p).map_err(|source| ConvertError::Io {
                path: p.to_path_buf(),
                action: "read",
                source,
            })?,
        )),
        None => None,
    };
    caffe_from_text(
        (&net.display().to_string(), &net_text),
        solver_text.as_ref().map(|(n, t)| (n.as_str(), t.as_str())),
        weights_bytes.as_ref().map(|(n, b)| (n.as_str(), b.as_slice())),
        opts,
    )
}

/// Converts a Caffe model from its files' contents: `(name, text)` of the network and solver,
/// `(name, bytes)` of the `.caffemodel`.
pub fn caffe_from_text(
    net: (&str, &str),
    solver: Option<(&str, &str)>,
    weights: Option<(&str, &[u8])>,
    opts: &NetOptions,
) -> Result<Model, ConvertError> {
    let net_msg = proto::parse_text(net.0, net.1, "NetParameter")?;
    let solver = match solver {
        Some((name, text)) => solver::read(&proto::parse_text(name, text, "SolverParameter")?, name)?,
        None => Solver::default(),
    };
    let mut opts = opts.clone();
    if opts.seed == 0 && solver.seed >= 0 {
        opts.seed = solver.seed as u64;
    }
    let low = lower::lower(&net_msg, net.0, &opts)?;
    let mut graph = low.graph;
    if let Some((name, bytes)) = weights {
        read_caffemodel(&mut graph, name, bytes)?;
    }
    crate::convert::layout::assign_layouts(&mut graph)?;
    keep_caffe_output_order(&mut graph);
    graph.training = low.loss.as_ref().map(|l| training_config(l, &solver, !low.accuracy.is_empty()));
    let info = CaffeInfo {
        solver,
        loss: low.loss,
        accuracy: low.accuracy,
        mults: low.mults,
        batch_size: low.batch_size,
        test_batch_size: low.test_batch_size,
        label_width: low.label_width,
        bound_validation: false,
    };
    Ok(Model::from_caffe(graph, info))
}

/// The layout pass hands model outputs back in Keras's channels-last order; a Caffe user expects
/// Caffe's own (NCHW), which is what the channels-first rows already hold: the final moves go.
fn keep_caffe_output_order(g: &mut Graph) {
    for k in 0..g.outputs.len() {
        let t = g.outputs[k];
        let Some(p) = g.tensors[t].producer else { continue };
        if let Op::Relayout { to: Layout::RowMajor } = g.nodes[p].op {
            let src = g.nodes[p].inputs[0];
            if g.tensors[src].layout == Layout::ChannelsFirst && g.consumers(t).is_empty() {
                g.outputs[k] = src;
            }
        }
    }
    // Drop trailing moves nobody reads any more.
    while let Some(last) = g.nodes.last() {
        let o = last.outputs[0];
        if matches!(last.op, Op::Relayout { .. }) && !g.outputs.contains(&o) && g.consumers(o).is_empty() {
            g.nodes.pop();
            if o + 1 == g.tensors.len() {
                g.tensors.pop();
            }
        } else {
            break;
        }
    }
}

/// A Keras-terms summary of the training settings (what the shared tools show); the scripts use
/// [`CaffeInfo`].
fn training_config(loss: &LossSpec, s: &Solver, accuracy: bool) -> TrainingConfig {
    let loss = match loss.kind {
        LossKind::SoftmaxWithLoss { .. } => Loss::SparseCategoricalCrossentropy { from_logits: true },
        LossKind::Euclidean => Loss::MeanSquaredError,
        LossKind::SigmoidCrossEntropy => Loss::BinaryCrossentropy { from_logits: true, label_smoothing: 0.0 },
    };
    let kind = match s.kind {
        SolverType::Sgd => OptimizerKind::Sgd { momentum: s.momentum, nesterov: false },
        SolverType::Nesterov => OptimizerKind::Sgd { momentum: s.momentum, nesterov: true },
        SolverType::AdaGrad => OptimizerKind::Adagrad { initial_accumulator: 0.0, epsilon: s.delta },
        SolverType::RmsProp => {
            OptimizerKind::RmsProp { rho: s.rms_decay, momentum: 0.0, epsilon: s.delta, centered: false }
        }
        SolverType::AdaDelta => OptimizerKind::Adadelta { rho: s.momentum, epsilon: s.delta },
        SolverType::Adam => {
            OptimizerKind::Adam { beta_1: s.momentum, beta_2: s.momentum2, epsilon: s.delta, amsgrad: false }
        }
    };
    TrainingConfig {
        loss,
        optimizer: Optimizer {
            kind,
            learning_rate: LearningRate::Caffe { policy: s.policy.clone(), base_lr: s.base_lr },
            weight_decay: None,
            clipnorm: None,
            global_clipnorm: None,
            clipvalue: None,
        },
        metrics: if accuracy { vec![Metric::SparseCategoricalAccuracy] } else { vec![] },
        metric_names: vec![],
    }
}

/// Reads a `.caffemodel` (a binary `NetParameter`) into the parameters: each layer's blobs by the
/// layer's name, in order, checked against the shapes the network implies. Layers the network
/// lacks are skipped (as Caffe's `CopyTrainedLayersFrom` does).
pub fn read_caffemodel(g: &mut Graph, file: &str, bytes: &[u8]) -> Result<(), ConvertError> {
    let msg = proto::decode_binary(file, bytes, "NetParameter")?;
    let m = proto::Msg(&msg);
    let mut layers = m.msgs("layer");
    if layers.is_empty() {
        layers = m.msgs("layers");
    }
    for l in layers {
        let name = l.str("name");
        let blobs = l.msgs("blobs");
        let mut ids: Vec<usize> =
            (0..g.params.len()).filter(|&p| g.params[p].origin.layer_key == name).collect();
        // Blob order (a recurrent layer's parameters are made in the op's order).
        ids.sort_by_key(|&p| g.params[p].origin.index);
        if ids.is_empty() {
            continue;
        }
        if blobs.len() != ids.len() {
            return Err(ConvertError::WeightsMismatch {
                file: file.into(),
                layer: name,
                detail: format!("{} blobs; the network's layer has {}", blobs.len(), ids.len()),
            });
        }
        for (k, &p) in ids.iter().enumerate() {
            let b = blobs[k];
            let data = if b.has("double_data") { b.f64s("double_data") } else { b.f64s("data") };
            let param = &g.params[p];
            let want: usize = param.origin.shape.iter().product();
            let shape: Vec<usize> = match b.msg("shape") {
                Some(s) if b.has("shape") => s.f64s("dim").iter().map(|&d| d as usize).collect(),
                _ => ["num", "channels", "height", "width"]
                    .iter()
                    .map(|f| b.usize(f))
                    .filter(|_| b.has("num") || b.has("channels") || b.has("height") || b.has("width"))
                    .collect(),
            };
            let have: usize = shape.iter().product();
            if data.len() != want || (!shape.is_empty() && have != want) {
                return Err(ConvertError::WeightsMismatch {
                    file: file.into(),
                    layer: name,
                    detail: format!(
                        "blob {k} has {} values (shape {shape:?}); the network's layer expects {want} (shape {:?})",
                        data.len(),
                        param.origin.shape
                    ),
                });
            }
            let value = param.origin.transform.to_dml(&data);
            g.params[p].value = value;
        }
    }
    Ok(())
}

/// How `X` carries the sequences of a network whose data blob feeds an LSTM or RNN layer (Caffe's
/// time-major `T x N x D` blob), for the scripts' headers; `None` for other networks.
pub fn sequence_input_note(g: &Graph) -> Option<String> {
    let &input = g.inputs.first()?;
    let recurrent = g.nodes.iter().any(|n| {
        n.inputs.first() == Some(&input)
            && matches!(n.op, crate::convert::ir::Op::Lstm { .. } | crate::convert::ir::Op::SimpleRnn { .. })
    });
    let [t, d] = g.tensors[input].shape[..] else { return None };
    (g.origin.starts_with("Caffe") && recurrent).then(|| {
        format!(
            "X: one row per sequence: the T x N x D data blob's {t} steps of {d} features side by side, \
             step-major (step t in columns (t-1)*{d}+1 .. t*{d}; {} columns). Caffe's `cont` blob is not read: \
             every row is one whole sequence (cont 0 at step 0, 1 after), and outputs of T x N x K blobs \
             are rows of T*K, step-major, too.",
            t * d
        )
    })
}
