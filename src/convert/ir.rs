//! The graph that every model importer lowers to (Keras today; Caffe and ONNX lower to the same),
//! and that the emitters turn into DML.
//!
//! A [`Graph`] is a list of [`Node`]s in topological order over [`TensorInfo`]s. Tensors have a
//! *logical* shape in the frontend's convention (Keras: channels last, no batch dimension) and a
//! [`Layout`] that says how the DML matrix that holds them (one row per example) orders their
//! cells. The nn library computes in channels-first rows (`N x (C*H*W)`), Keras in channels-last
//! tensors; the layout pass ([`super::layout`]) inserts explicit [`Op::Relayout`] nodes where the
//! two must meet, so an emitter only ever sees the layout it asked for, and folds the
//! permutation a `Flatten` of an image implies into the next `Dense` kernel instead of moving
//! data at run time.
//!
//! Parameters are stored in the DML layout the emitters use (a conv kernel as `F x (C*Hf*Wf)`),
//! each with the [`ParamTransform`] that maps it to and from the framework's own variable, so
//! that trained weights (and optimizer slots, which are elementwise) go back into the model file.

use std::fmt;
use std::sync::Arc;

use ndarray::Array2;

pub type TensorId = usize;
pub type NodeId = usize;
pub type ParamId = usize;

/// A model, lowered.
#[derive(Debug, Clone)]
pub struct Graph {
    /// The model's own name (`"lenet"`).
    pub name: String,
    /// Where it came from, for the header of the generated scripts ("Keras 3.15.1 Sequential").
    pub origin: String,
    pub tensors: Vec<TensorInfo>,
    /// Topologically sorted: a node's inputs are model inputs or outputs of earlier nodes.
    pub nodes: Vec<Node>,
    pub params: Vec<Param>,
    /// The model's inputs, in the order their columns appear in `X`.
    pub inputs: Vec<TensorId>,
    pub outputs: Vec<TensorId>,
    /// Loss, optimizer and metrics, when the model file says how it was compiled.
    pub training: Option<TrainingConfig>,
}

/// One tensor of the graph (without its batch dimension).
#[derive(Debug, Clone)]
pub struct TensorInfo {
    /// The DML variable that holds it (`conv2d_out`), unique in the graph.
    pub var: String,
    /// Logical shape in the frontend's order (Keras: `[H, W, C]` for an image, `[T, D]` for a
    /// sequence, `[D]` for features).
    pub shape: Vec<usize>,
    pub layout: Layout,
    /// The node that computes it; `None` for a model input.
    pub producer: Option<NodeId>,
}

impl TensorInfo {
    /// Number of cells of one example: the columns of the DML matrix.
    pub fn width(&self) -> usize {
        self.shape.iter().product()
    }
}

/// How the columns of a tensor's DML matrix order its logical cells.
#[derive(Clone, PartialEq, Eq)]
pub enum Layout {
    /// Row-major over the logical shape: Keras's own flattening (`(H, W, C)` with C fastest).
    RowMajor,
    /// The logical last axis (channels, in a channels-last frontend) moved to the front: an
    /// `[H, W, C]` image as nn's `C*H*W` rows, a `[T, C]` signal as `C*T` (conv1d as conv2d with
    /// H = 1).
    ChannelsFirst,
    /// A vector flattened from a channels-first tensor with `channels` channels: the logical
    /// vector is Keras's channels-last flattening, the DML columns keep the channels-first order.
    /// What a `Flatten` of an image gives; the next `Dense` absorbs it into its kernel rows.
    FlatChannelsFirst { channels: usize },
}

impl fmt::Debug for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Layout::RowMajor => f.write_str("RowMajor"),
            Layout::ChannelsFirst => f.write_str("ChannelsFirst"),
            Layout::FlatChannelsFirst { channels } => write!(f, "FlatChannelsFirst({channels} channels)"),
        }
    }
}

impl Layout {
    /// For each DML column, the row-major logical cell it holds (`None` for [`Layout::RowMajor`]).
    pub fn column_sources(&self, shape: &[usize]) -> Option<Vec<usize>> {
        match self {
            Layout::RowMajor => None,
            Layout::ChannelsFirst => {
                let (&c, spatial) = shape.split_last()?;
                Some(channels_first_sources(c, spatial.iter().product()))
            }
            Layout::FlatChannelsFirst { channels } => {
                let width: usize = shape.iter().product();
                Some(channels_first_sources(*channels, width / channels.max(&1)))
            }
        }
    }
}

/// DML column `ch*s + i` of a channels-first tensor holds channels-last cell `i*c + ch`.
fn channels_first_sources(c: usize, s: usize) -> Vec<usize> {
    (0..c * s).map(|j| (j % s) * c + j / s).collect()
}

/// One operator of the model.
#[derive(Debug, Clone)]
pub struct Node {
    /// The DML name stem for this node's variables (the layer name, made a valid identifier).
    pub name: String,
    /// The layer's name in the model file, for messages and comments.
    pub layer: String,
    /// The layer's class in the model file (`"Conv2D"`), for messages and the summary.
    pub class: String,
    pub op: Op,
    pub inputs: Vec<TensorId>,
    pub outputs: Vec<TensorId>,
    /// Parameters in the op's own order (see each op's documentation).
    pub params: Vec<ParamId>,
    /// `trainable=False`: the parameters are not updated, and layers with a training mode
    /// (BatchNormalization) run in inference mode during training too, as Keras does.
    pub frozen: bool,
}

/// Activation functions, with Keras's definitions (the emitters say where nn's differ).
#[derive(Debug, Clone, PartialEq)]
pub enum Activation {
    Linear,
    Relu {
        /// Slope below the threshold (Keras `negative_slope`).
        negative_slope: f64,
        max_value: Option<f64>,
        threshold: f64,
    },
    Sigmoid,
    Tanh,
    /// Over the last logical axis.
    Softmax,
    LogSoftmax,
    Elu {
        alpha: f64,
    },
    Selu,
    Gelu {
        approximate: bool,
    },
    Softplus,
    Softsign,
    /// Keras 3: `clip(x/6 + 1/2, 0, 1)` (Keras 2 used `0.2x + 0.5`).
    HardSigmoid,
    /// `x * sigmoid(x)` (Keras `swish` and `silu`).
    Silu,
    HardSilu,
    Exponential,
    Mish,
}

impl Activation {
    pub const RELU: Activation = Activation::Relu { negative_slope: 0.0, max_value: None, threshold: 0.0 };

    pub fn is_linear(&self) -> bool {
        matches!(self, Activation::Linear)
    }
}

/// Padding of a spatial op, resolved to cells: `[top, bottom, left, right]` (1-D ops use left and
/// right). Keras's `'same'` puts the odd cell at the bottom/right.
pub type Pads = [usize; 4];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolKind {
    Max,
    /// Over the real cells of each window (Keras; ONNX `count_include_pad=0`).
    Avg,
    /// Over the whole window, padded cells counted as zeros (ONNX `count_include_pad=1`,
    /// PyTorch's default, and the engine's own `avg_pool`).
    AvgCountPad,
}

/// Elementwise arithmetic of [`Op::Arith`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArithKind {
    Add,
    Sub,
    Mul,
    Div,
}

/// Where an operand of [`Op::Arith`] comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum ArithSource {
    /// The node's input at this position.
    Input(usize),
    /// The node's parameter at this position: a `(1, cells)` row, its cells in the operand's
    /// row-major order.
    Param(usize),
    /// A constant.
    Scalar(f64),
}

/// One operand of [`Op::Arith`] and how it broadcasts onto the output.
#[derive(Debug, Clone, PartialEq)]
pub struct ArithArg {
    pub source: ArithSource,
    /// `None`: the operand has the output's cells (or is a scalar). Otherwise numpy broadcasting,
    /// over row-major cells: output cell `j` reads operand cell
    /// `sum((j / out_stride) % out_dim * operand_stride)` over these `[out_stride, out_dim,
    /// operand_stride]` axes, with `cells` operand cells in all.
    pub broadcast: Option<(Vec<[usize; 3]>, usize)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeKind {
    Add,
    Subtract,
    Multiply,
    Average,
    Maximum,
    Minimum,
    /// Along a logical axis (negative counts from the end, as Keras does).
    Concatenate(i64),
}

/// How a Bidirectional layer combines its two directions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BiMerge {
    Concat,
    Sum,
    Mul,
    Ave,
}

/// The operators. Shapes below are logical (Keras, channels last); parameters are listed in the
/// node's `params` order, in their DML layout.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// `out = X %*% W + b` over the last axis. Params: W `(D, M)`, b `(1, M)` if `use_bias`.
    Dense {
        units: usize,
        use_bias: bool,
    },
    Activation(Activation),
    /// PReLU: `max(x, 0) - alpha * max(-x, 0)`. `alpha_shape` is the logical input shape with
    /// Keras's `shared_axes` set to 1 (alpha broadcasts along them). Params: alpha
    /// `(1, prod(alpha_shape))`, its cells in row-major order.
    PRelu {
        alpha_shape: Vec<usize>,
    },
    /// Any rank to `[width]`.
    Flatten,
    Reshape {
        target: Vec<usize>,
    },
    /// Keras `Permute(dims)` (1-based axes of the logical shape).
    Permute {
        dims: Vec<usize>,
    },
    RepeatVector {
        n: usize,
    },
    /// Identity at inference. `rate` is Keras's drop probability (nn's dropout takes the keep one).
    Dropout {
        rate: f64,
    },
    /// Drops whole channels (1-D: whole feature maps over time).
    SpatialDropout {
        rate: f64,
    },
    GaussianNoise {
        stddev: f64,
    },
    GaussianDropout {
        rate: f64,
    },
    /// 2-D convolution, channels last. Params: W `(F, C*kh*kw)`, b `(F, 1)` if `use_bias`.
    Conv2D {
        filters: usize,
        kernel: [usize; 2],
        strides: [usize; 2],
        pads: Pads,
        use_bias: bool,
    },
    /// 1-D convolution over `[T, C]`. Params as Conv2D with kh = 1.
    Conv1D {
        filters: usize,
        kernel: usize,
        stride: usize,
        pads: Pads,
        use_bias: bool,
    },
    /// A convolution in `groups` groups of channels (each group's filters see only its own
    /// `C/groups` input channels) with a dilated kernel (ONNX's Conv with `group` and
    /// `dilations`). Params: W `(F, C/groups*kh*kw)`, b `(F, 1)` if `use_bias`.
    GroupedConv2D {
        filters: usize,
        groups: usize,
        kernel: [usize; 2],
        strides: [usize; 2],
        dilations: [usize; 2],
        pads: Pads,
        use_bias: bool,
    },
    /// Params: W `(C_in, F/groups*kh*kw)` (nn conv2d_transpose), b `(F, 1)`. With `groups`, each
    /// group's `C_in/groups` input channels make its own `F/groups` output channels (ONNX's
    /// ConvTranspose `group`); `dilations` spread the kernel as a convolution's.
    Conv2DTranspose {
        filters: usize,
        kernel: [usize; 2],
        strides: [usize; 2],
        groups: usize,
        dilations: [usize; 2],
        /// Keras's output padding resolved to the padding nn's transpose removes.
        pads: Pads,
        out_hw: [usize; 2],
        use_bias: bool,
    },
    /// Params: W `(C, dm*kh*kw)` (nn conv2d_depthwise), b `(C*dm, 1)`.
    DepthwiseConv2D {
        depth_multiplier: usize,
        kernel: [usize; 2],
        strides: [usize; 2],
        pads: Pads,
        use_bias: bool,
    },
    /// Depthwise (no bias) then 1x1. Params: depthwise W `(C, dm*kh*kw)`, pointwise W
    /// `(F, C*dm)`, b `(F, 1)`.
    SeparableConv2D {
        filters: usize,
        depth_multiplier: usize,
        kernel: [usize; 2],
        strides: [usize; 2],
        pads: Pads,
        use_bias: bool,
    },
    Pool2D {
        kind: PoolKind,
        pool: [usize; 2],
        strides: [usize; 2],
        pads: Pads,
    },
    Pool1D {
        kind: PoolKind,
        pool: usize,
        stride: usize,
        pads: Pads,
    },
    /// Over every spatial axis (`rank` 1 or 2).
    GlobalPool {
        kind: PoolKind,
        rank: usize,
    },
    ZeroPadding2D {
        pads: Pads,
    },
    Cropping2D {
        crops: Pads,
    },
    UpSampling2D {
        size: [usize; 2],
    },
    /// Over the last axis (statistics over the batch and every other axis). Params: gamma, beta
    /// (if `scale`/`center`), moving mean, moving variance, each a `(C, 1)` column (C: the size of
    /// the last axis), as the engine's `batch_norm2d` takes them.
    BatchNorm {
        momentum: f64,
        epsilon: f64,
        center: bool,
        scale: bool,
    },
    /// Over the last axis. Params: gamma, beta `(1, D)`.
    LayerNorm {
        epsilon: f64,
        center: bool,
        scale: bool,
    },
    /// Token ids (0-based, as Keras) to vectors. Params: embeddings `(V, E)`.
    Embedding {
        input_dim: usize,
        output_dim: usize,
    },
    /// Params: W `(D+M, M)` as rbind(kernel, recurrent kernel) is split in two: kernel `(D, M)`,
    /// recurrent `(M, M)`, bias `(1, M)`.
    SimpleRnn {
        units: usize,
        return_sequences: bool,
        activation: Activation,
        use_bias: bool,
        /// Runs over the reversed sequence; the output sequence stays in processing order (Keras).
        go_backwards: bool,
    },
    /// Params: kernel `(D, 4M)`, recurrent `(M, 4M)`, bias `(1, 4M)`, gate columns in nn's order.
    Lstm {
        units: usize,
        return_sequences: bool,
        use_bias: bool,
        go_backwards: bool,
    },
    /// Params: kernel `(D, 3M)`, recurrent `(M, 3M)`, bias `(1, 3M)` or `(2, 3M)` (reset_after).
    Gru {
        units: usize,
        return_sequences: bool,
        reset_after: bool,
        use_bias: bool,
        go_backwards: bool,
    },
    /// The inner (recurrent) op is the forward layer; the backward layer is the same op with
    /// `go_backwards` flipped, and its output sequence is reversed back to time order before the
    /// merge (Keras). Params: the forward layer's, then the backward layer's.
    Bidirectional {
        inner: Box<Op>,
        merge: BiMerge,
    },
    /// The inner op applied to every time step.
    TimeDistributed {
        inner: Box<Op>,
    },
    Merge(MergeKind),
    /// `a <kind> b` with numpy broadcasting (ONNX's Add, Sub, Mul, Div), to `shape`. Operands that
    /// broadcast, and parameters, are taken in row-major order.
    Arith {
        kind: ArithKind,
        args: Vec<ArithArg>,
        shape: Vec<usize>,
    },
    /// Cells picked from the steps of a sequence `[steps, K]` (row-major, step-major columns),
    /// side by side as a vector: for each block `[step, first, width]` (0-based), cells
    /// `first .. first + width` of step `step`. ONNX's recurrent ops need it: a reverse
    /// direction's output back in time order, and the last state (`Y_h`) read from the sequence.
    StepSlices {
        steps: usize,
        blocks: Vec<[usize; 3]>,
    },
    /// Moves a tensor between layouts (inserted by the layout pass).
    Relayout {
        to: Layout,
    },
    /// Caffe's layers whose semantics no op above has (see [`crate::convert::caffe::ops`]).
    Caffe(crate::convert::caffe::ops::CaffeOp),
}

impl Op {
    /// A short description for the comments of the generated scripts.
    pub fn describe(&self) -> String {
        match self {
            Op::Dense { units, .. } => format!("dense, {units} units"),
            Op::Activation(a) => a.name(),
            Op::Conv2D { filters, kernel, strides, .. } => {
                format!(
                    "{filters} filters of {}x{}, stride {}x{}",
                    kernel[0], kernel[1], strides[0], strides[1]
                )
            }
            Op::Conv1D { filters, kernel, stride, .. } => {
                format!("{filters} filters of {kernel}, stride {stride}")
            }
            Op::Pool2D { kind, pool, strides, .. } => {
                format!("{kind:?} pooling {}x{}, stride {}x{}", pool[0], pool[1], strides[0], strides[1])
                    .to_lowercase()
            }
            Op::Relayout { to } => match to {
                Layout::RowMajor => "to Keras's channels-last order".into(),
                Layout::ChannelsFirst => "to nn's channels-first order".into(),
                Layout::FlatChannelsFirst { .. } => "to the flattened channels-first order".into(),
            },
            Op::Merge(k) => format!("{k:?}").to_lowercase(),
            other => {
                let s = format!("{other:?}");
                let name = s.split([' ', '(', '{']).next().unwrap_or("");
                let mut out = String::new();
                for (i, ch) in name.chars().enumerate() {
                    if ch.is_uppercase() && i > 0 {
                        out.push(' ');
                    }
                    out.extend(ch.to_lowercase());
                }
                out
            }
        }
    }
}

impl Activation {
    /// Keras's name of the activation.
    pub fn name(&self) -> String {
        match self {
            Activation::Linear => "linear".into(),
            Activation::Relu { negative_slope, max_value, threshold } => {
                let mut s = "relu".to_string();
                if *negative_slope != 0.0 {
                    s += &format!(", negative slope {negative_slope}");
                }
                if let Some(m) = max_value {
                    s += &format!(", max {m}");
                }
                if *threshold != 0.0 {
                    s += &format!(", threshold {threshold}");
                }
                s
            }
            Activation::Elu { alpha } => format!("elu, alpha {alpha}"),
            Activation::Gelu { approximate } => {
                if *approximate { "gelu (tanh approximation)" } else { "gelu" }.into()
            }
            other => {
                let s = format!("{other:?}");
                let mut out = String::new();
                for (i, ch) in s.chars().enumerate() {
                    if ch.is_uppercase() && i > 0 {
                        out.push('_');
                    }
                    out.extend(ch.to_lowercase());
                }
                out
            }
        }
    }
}

/// A parameter (weight, bias, statistic) in the DML layout.
#[derive(Debug, Clone)]
pub struct Param {
    /// DML variable and file name: `<layer>_weight`, `<layer>_bias` (as Caffe2DML named them),
    /// `<layer>_<variable>` otherwise (`bn_moving_mean`).
    pub var: String,
    pub node: NodeId,
    pub value: Array2<f64>,
    /// Updated by the optimizer (false for frozen layers and running statistics).
    pub trainable: bool,
    pub regularizer: Option<Regularizer>,
    /// Where it came from and how to put it back.
    pub origin: ParamOrigin,
}

/// The framework variable a parameter came from.
#[derive(Debug, Clone)]
pub struct ParamOrigin {
    /// The layer key in the model file (Keras: the layer's name path).
    pub layer_key: String,
    /// Position in that layer's variable list.
    pub index: usize,
    /// The variable's own name (`kernel`, `moving_mean`).
    pub name: String,
    /// Its shape in the framework.
    pub shape: Vec<usize>,
    /// Stored as 32-bit floats (the DML side computes in doubles either way).
    pub float32: bool,
    pub transform: ParamTransform,
}

/// A weight penalty added to the loss (Keras `kernel_regularizer`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Regularizer {
    /// `l1 * sum(|W|)`.
    pub l1: f64,
    /// `l2 * sum(W^2)` (Keras's L2, not nn's `0.5 * lambda`).
    pub l2: f64,
}

/// How a framework variable (row-major data of `ParamOrigin::shape`) becomes a DML matrix and
/// back. Every transform is a bijection on cells.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamTransform {
    /// Reshaped row-major to `(rows, cols)` (a Dense kernel as is, a bias as a row).
    Reshape { rows: usize, cols: usize },
    /// Cell `(r, c)` of the DML matrix is framework cell `map[r * cols + c]` (row-major index).
    /// Covers conv kernels (`(kh, kw, C, F)` to `(F, C*kh*kw)`), gate reorders and the rows of a
    /// Dense kernel after a permuted Flatten.
    Gather { rows: usize, cols: usize, map: Arc<Vec<usize>> },
}

impl ParamTransform {
    pub fn dims(&self) -> (usize, usize) {
        match self {
            ParamTransform::Reshape { rows, cols } | ParamTransform::Gather { rows, cols, .. } => {
                (*rows, *cols)
            }
        }
    }

    /// The DML matrix of framework data (row-major).
    pub fn to_dml(&self, data: &[f64]) -> Array2<f64> {
        match self {
            ParamTransform::Reshape { rows, cols } => Array2::from_shape_vec((*rows, *cols), data.to_vec())
                .unwrap_or_else(|_| Array2::zeros((*rows, *cols))),
            ParamTransform::Gather { rows, cols, map } => Array2::from_shape_fn((*rows, *cols), |(r, c)| {
                data.get(map[r * cols + c]).copied().unwrap_or(0.0)
            }),
        }
    }

    /// Framework data (row-major) of a DML matrix of this transform's shape.
    pub fn to_framework(&self, m: &Array2<f64>) -> Vec<f64> {
        match self {
            ParamTransform::Reshape { .. } => m.iter().copied().collect(),
            ParamTransform::Gather { cols, map, .. } => {
                let mut out = vec![0.0; map.len()];
                for (k, &src) in map.iter().enumerate() {
                    if let Some(v) = m.get((k / cols, k % cols)) {
                        out[src] = *v;
                    }
                }
                out
            }
        }
    }

    /// Composes a row permutation after this transform: DML row `r` of the result is row
    /// `rows_from[r]` of what this transform gives.
    pub fn permute_rows(&self, rows_from: &[usize]) -> ParamTransform {
        let (rows, cols) = self.dims();
        let base: Vec<usize> = match self {
            ParamTransform::Reshape { .. } => (0..rows * cols).collect(),
            ParamTransform::Gather { map, .. } => map.as_ref().clone(),
        };
        let map = (0..rows * cols).map(|k| base[rows_from[k / cols] * cols + k % cols]).collect();
        ParamTransform::Gather { rows, cols, map: Arc::new(map) }
    }

    /// Composes a column permutation: DML column `c` of the result is column `cols_from[c]`.
    pub fn permute_cols(&self, cols_from: &[usize]) -> ParamTransform {
        let (rows, cols) = self.dims();
        let base: Vec<usize> = match self {
            ParamTransform::Reshape { .. } => (0..rows * cols).collect(),
            ParamTransform::Gather { map, .. } => map.as_ref().clone(),
        };
        let map = (0..rows * cols).map(|k| base[(k / cols) * cols + cols_from[k % cols]]).collect();
        ParamTransform::Gather { rows, cols, map: Arc::new(map) }
    }

    /// A framework tensor of shape `(d0, d1, ..., dk)` moved so that DML cell `(r, c)` comes from
    /// the framework index given by `index(r, c)`.
    pub fn gather_fn(rows: usize, cols: usize, index: impl Fn(usize, usize) -> usize) -> ParamTransform {
        let map = (0..rows * cols).map(|k| index(k / cols, k % cols)).collect();
        ParamTransform::Gather { rows, cols, map: Arc::new(map) }
    }
}

/// How the model was compiled, frontend-neutral.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainingConfig {
    pub loss: Loss,
    pub optimizer: Optimizer,
    pub metrics: Vec<Metric>,
    /// The name of each metric of `metrics` (same positions), which keys the history: the string
    /// the model was compiled with (`'mae'`, `'acc'`) or the metric object's `name` (`'top2'`).
    /// Missing entries fall back to [`Metric::key`].
    pub metric_names: Vec<String>,
}

impl TrainingConfig {
    /// The history key of each metric, in order.
    pub fn metric_keys(&self) -> Vec<String> {
        self.metrics
            .iter()
            .enumerate()
            .map(|(i, m)| {
                self.metric_names.get(i).cloned().filter(|n| !n.is_empty()).unwrap_or_else(|| m.key())
            })
            .collect()
    }
}

/// Losses with Keras's reductions (sum over the batch's per-sample values divided by their count).
#[derive(Debug, Clone, PartialEq)]
pub enum Loss {
    CategoricalCrossentropy { from_logits: bool, label_smoothing: f64 },
    SparseCategoricalCrossentropy { from_logits: bool },
    BinaryCrossentropy { from_logits: bool, label_smoothing: f64 },
    MeanSquaredError,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredLogarithmicError,
    Huber { delta: f64 },
    LogCosh,
    Hinge,
    SquaredHinge,
    CategoricalHinge,
    KlDivergence,
    Poisson,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Metric {
    /// `'accuracy'`, resolved from the loss at compile time as Keras does.
    Accuracy,
    CategoricalAccuracy,
    SparseCategoricalAccuracy,
    BinaryAccuracy {
        threshold: f64,
    },
    TopK {
        k: usize,
        sparse: bool,
    },
    /// A loss function used as a metric (`'mse'`, `'mae'`).
    Loss(Loss),
}

impl Metric {
    /// The name Keras prints and keys the history with.
    pub fn key(&self) -> String {
        match self {
            Metric::Accuracy => "accuracy".into(),
            Metric::CategoricalAccuracy => "categorical_accuracy".into(),
            Metric::SparseCategoricalAccuracy => "sparse_categorical_accuracy".into(),
            Metric::BinaryAccuracy { .. } => "binary_accuracy".into(),
            Metric::TopK { k, sparse: false } if *k == 5 => "top_k_categorical_accuracy".into(),
            Metric::TopK { k, sparse: true } if *k == 5 => "sparse_top_k_categorical_accuracy".into(),
            Metric::TopK { sparse: false, .. } => "top_k_categorical_accuracy".into(),
            Metric::TopK { sparse: true, .. } => "sparse_top_k_categorical_accuracy".into(),
            Metric::Loss(l) => loss_key(l).into(),
        }
    }
}

/// Keras's short name of a loss, as metrics are keyed.
pub fn loss_key(l: &Loss) -> &'static str {
    match l {
        Loss::CategoricalCrossentropy { .. } => "categorical_crossentropy",
        Loss::SparseCategoricalCrossentropy { .. } => "sparse_categorical_crossentropy",
        Loss::BinaryCrossentropy { .. } => "binary_crossentropy",
        Loss::MeanSquaredError => "mean_squared_error",
        Loss::MeanAbsoluteError => "mean_absolute_error",
        Loss::MeanAbsolutePercentageError => "mean_absolute_percentage_error",
        Loss::MeanSquaredLogarithmicError => "mean_squared_logarithmic_error",
        Loss::Huber { .. } => "huber",
        Loss::LogCosh => "log_cosh",
        Loss::Hinge => "hinge",
        Loss::SquaredHinge => "squared_hinge",
        Loss::CategoricalHinge => "categorical_hinge",
        Loss::KlDivergence => "kl_divergence",
        Loss::Poisson => "poisson",
    }
}

/// Optimizers with Keras 3's update formulas.
#[derive(Debug, Clone, PartialEq)]
pub struct Optimizer {
    pub kind: OptimizerKind,
    pub learning_rate: LearningRate,
    /// Decoupled weight decay applied to every trainable variable before its update.
    pub weight_decay: Option<f64>,
    pub clipnorm: Option<f64>,
    pub global_clipnorm: Option<f64>,
    pub clipvalue: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum OptimizerKind {
    Sgd { momentum: f64, nesterov: bool },
    RmsProp { rho: f64, momentum: f64, epsilon: f64, centered: bool },
    Adagrad { initial_accumulator: f64, epsilon: f64 },
    Adadelta { rho: f64, epsilon: f64 },
    Adam { beta_1: f64, beta_2: f64, epsilon: f64, amsgrad: bool },
    AdamW { beta_1: f64, beta_2: f64, epsilon: f64, amsgrad: bool },
    Adamax { beta_1: f64, beta_2: f64, epsilon: f64 },
    Nadam { beta_1: f64, beta_2: f64, epsilon: f64 },
}

/// A learning rate, constant or a schedule of the iteration count (Keras counts optimizer steps).
#[derive(Debug, Clone, PartialEq)]
pub enum LearningRate {
    Constant(f64),
    ExponentialDecay {
        initial: f64,
        decay_steps: f64,
        decay_rate: f64,
        staircase: bool,
    },
    PiecewiseConstant {
        boundaries: Vec<f64>,
        values: Vec<f64>,
    },
    InverseTimeDecay {
        initial: f64,
        decay_steps: f64,
        decay_rate: f64,
        staircase: bool,
    },
    PolynomialDecay {
        initial: f64,
        decay_steps: f64,
        end: f64,
        power: f64,
        cycle: bool,
    },
    CosineDecay {
        initial: f64,
        decay_steps: f64,
        alpha: f64,
        warmup_target: Option<f64>,
        warmup_steps: f64,
    },
    CosineDecayRestarts {
        initial: f64,
        first_decay_steps: f64,
        t_mul: f64,
        m_mul: f64,
        alpha: f64,
    },
    /// Caffe's policies, per iteration: `fixed`, `step`, `exp`, `inv`, `poly`, `sigmoid`.
    Caffe {
        policy: CaffePolicy,
        base_lr: f64,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum CaffePolicy {
    Fixed,
    Step { gamma: f64, stepsize: f64 },
    MultiStep { gamma: f64, steps: Vec<f64> },
    Exp { gamma: f64 },
    Inv { gamma: f64, power: f64 },
    Poly { power: f64, max_iter: f64 },
    Sigmoid { gamma: f64, stepsize: f64 },
}

impl Graph {
    pub fn tensor(&self, t: TensorId) -> &TensorInfo {
        &self.tensors[t]
    }

    /// The nodes that read tensor `t`, with the input position.
    pub fn consumers(&self, t: TensorId) -> Vec<(NodeId, usize)> {
        let mut out = Vec::new();
        for (n, node) in self.nodes.iter().enumerate() {
            for (i, &x) in node.inputs.iter().enumerate() {
                if x == t {
                    out.push((n, i));
                }
            }
        }
        out
    }

    /// Trainable parameters in order (the optimizer's variables follow this order).
    pub fn trainable_params(&self) -> Vec<ParamId> {
        (0..self.params.len()).filter(|&p| self.params[p].trainable).collect()
    }

    /// Total number of parameter cells, and how many of them are trainable.
    pub fn param_counts(&self) -> (usize, usize) {
        let total = self.params.iter().map(|p| p.value.len()).sum();
        let trainable = self.params.iter().filter(|p| p.trainable).map(|p| p.value.len()).sum();
        (total, trainable)
    }

    /// For each tensor, whether the backward pass must compute its gradient: it is computed
    /// from a trainable parameter, directly or through earlier nodes.
    pub fn needs_grad(&self) -> Vec<bool> {
        let mut need = vec![false; self.tensors.len()];
        for node in &self.nodes {
            let from_params = node.params.iter().any(|&p| self.params[p].trainable);
            let from_inputs = node.inputs.iter().any(|&t| need[t]);
            if from_params || from_inputs {
                for &o in &node.outputs {
                    need[o] = true;
                }
            }
        }
        need
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_first_columns_read_the_channels_last_cells() {
        // A 1x2 image with 3 channels: logical cells (w, c) = 0:(0,0) 1:(0,1) 2:(0,2) 3:(1,0) ...
        let src = Layout::ChannelsFirst.column_sources(&[1, 2, 3]).unwrap();
        // DML columns (c, w): (0,0) (0,1) (1,0) (1,1) (2,0) (2,1).
        assert_eq!(src, vec![0, 3, 1, 4, 2, 5]);
    }

    #[test]
    fn gather_transforms_go_back_and_forth() {
        let t = ParamTransform::Reshape { rows: 2, cols: 3 }.permute_rows(&[1, 0]).permute_cols(&[2, 0, 1]);
        let data: Vec<f64> = (0..6).map(f64::from).collect();
        let m = t.to_dml(&data);
        assert_eq!(m.row(0).to_vec(), vec![5.0, 3.0, 4.0]);
        assert_eq!(t.to_framework(&m), data);
    }
}
