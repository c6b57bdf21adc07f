//! Assembles the generated scripts from the emitters: the training script (Keras's `fit`), the
//! prediction script (`predict`) and the gradient script (one forward and backward pass, which
//! the tests compare with Keras's gradients).
//!
//! A script either reads its data and weights from files and writes its results (what
//! `dml convert` writes to disk: [`Io::Files`]) or takes them as variables bound by the caller
//! and leaves its results in variables ([`Io::Bound`], what the Rust API runs through a prepared
//! script without touching the file system). The computation in between is the same text: only
//! the settings (`-nvargs` with defaults, or fixed values) and the reading and writing differ.
//!
//! The training script is Keras's `fit`: epochs of shuffled mini-batches (SystemML's `train_algo`
//! menu: [`TrainAlgo`]), validation in inference mode, the callbacks EarlyStopping and
//! ReduceLROnPlateau as Keras 3 implements them, a CSV log as Keras's CSVLogger writes it, and
//! checkpoints after every epoch (weights, optimizer state and callback state) from which a run
//! resumes exactly where it stopped.

use crate::convert::emit::{self, Code, Cx, Mode, loss, metric, num, optim};
use crate::convert::error::ConvertError;
use crate::convert::ir::{Graph, LearningRate, Loss, Metric, NodeId, ParamId, TrainingConfig, loss_key};

/// Where a script's inputs come from and its results go.
#[derive(Debug, Clone, PartialEq)]
pub enum Io {
    /// `X`, `y`, the weights and the optimizer state are read from files named by `-nvargs`
    /// (weights default to `weights_dir`); results are written.
    Files { weights_dir: String },
    /// `X`, `y`, every parameter and the optimizer state ([`optim::keras_order`]'s variables) are
    /// variables bound before the run; the settings are fixed in the text; results stay in
    /// variables ([`OUTPUT_LOSS`], the parameters and the optimizer state, [`OUTPUT_HISTORY`],
    /// [`OUTPUT_EPOCHS_RUN`], `pred`). Log and checkpoint files are still written when asked for.
    Bound,
}

/// How `fit` turns mini-batches into updates (SystemML's `train_algo`, with its bugs fixed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TrainAlgo {
    /// One update per mini-batch of `batch_size` rows, the last one partial (Keras's `fit`).
    #[default]
    Minibatch,
    /// One update per epoch from the gradient over all training rows (minibatch with
    /// `batch_size` >= N).
    Batch,
    /// Gradient accumulation: the gradients of `parallel_batches` consecutive mini-batches,
    /// computed one after the other from the same weights, averaged (weighted by their rows) into
    /// one update; the last group of an epoch may be smaller.
    LoopedMinibatch,
    /// The same computation as [`TrainAlgo::LoopedMinibatch`] with the mini-batches of a group
    /// computed in parallel (`parfor`).
    AllreduceParallelBatches,
}

impl TrainAlgo {
    pub fn name(self) -> &'static str {
        match self {
            TrainAlgo::Minibatch => "minibatch",
            TrainAlgo::Batch => "batch",
            TrainAlgo::LoopedMinibatch => "looped_minibatch",
            TrainAlgo::AllreduceParallelBatches => "allreduce_parallel_batches",
        }
    }

    /// The algorithm of a `train_algo` name (SystemML's spellings).
    pub fn from_name(name: &str) -> Option<TrainAlgo> {
        [
            TrainAlgo::Minibatch,
            TrainAlgo::Batch,
            TrainAlgo::LoopedMinibatch,
            TrainAlgo::AllreduceParallelBatches,
        ]
        .into_iter()
        .find(|a| a.name() == name)
    }

    fn grouped(self) -> bool {
        matches!(self, TrainAlgo::LoopedMinibatch | TrainAlgo::AllreduceParallelBatches)
    }
}

/// How prediction and validation batch the rows (SystemML's `test_algo`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TestAlgo {
    /// Batches of `batch_size` rows.
    #[default]
    Minibatch,
    /// All rows at once.
    Batch,
}

impl TestAlgo {
    pub fn name(self) -> &'static str {
        match self {
            TestAlgo::Minibatch => "minibatch",
            TestAlgo::Batch => "batch",
        }
    }

    /// The algorithm of a `test_algo` name.
    pub fn from_name(name: &str) -> Option<TestAlgo> {
        [TestAlgo::Minibatch, TestAlgo::Batch].into_iter().find(|a| a.name() == name)
    }
}

/// Which way a monitored quantity improves (Keras's callback `mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MonitorMode {
    /// From the name: losses decrease, accuracies increase (Keras's metric `_direction`).
    #[default]
    Auto,
    Min,
    Max,
}

impl MonitorMode {
    pub fn name(self) -> &'static str {
        match self {
            MonitorMode::Auto => "auto",
            MonitorMode::Min => "min",
            MonitorMode::Max => "max",
        }
    }
}

/// Keras 3's `EarlyStopping` callback (the defaults are Keras's).
#[derive(Debug, Clone, PartialEq)]
pub struct EarlyStopping {
    /// A history key (`val_loss`, `accuracy`, ...).
    pub monitor: String,
    /// Changes smaller than this (in absolute value) are no improvement.
    pub min_delta: f64,
    /// Epochs without improvement after which training stops.
    pub patience: usize,
    pub mode: MonitorMode,
    /// An improvement resets the patience only when it also beats this value.
    pub baseline: Option<f64>,
    /// At the end of training (stopped or not), the weights of the best epoch come back.
    pub restore_best_weights: bool,
    /// Epochs (counted from 0) that are not monitored.
    pub start_from_epoch: usize,
}

impl Default for EarlyStopping {
    fn default() -> Self {
        EarlyStopping {
            monitor: "val_loss".into(),
            min_delta: 0.0,
            patience: 0,
            mode: MonitorMode::Auto,
            baseline: None,
            restore_best_weights: false,
            start_from_epoch: 0,
        }
    }
}

/// Keras 3's `ReduceLROnPlateau` callback (the defaults are Keras's). Only for an optimizer with a
/// constant learning rate, as in Keras.
#[derive(Debug, Clone, PartialEq)]
pub struct ReduceLrOnPlateau {
    pub monitor: String,
    /// The learning rate is multiplied by this (< 1).
    pub factor: f64,
    /// Epochs without improvement after which the rate is reduced.
    pub patience: usize,
    pub mode: MonitorMode,
    pub min_delta: f64,
    /// Epochs after a reduction during which the patience does not count.
    pub cooldown: usize,
    /// The rate never goes below this.
    pub min_lr: f64,
}

impl Default for ReduceLrOnPlateau {
    fn default() -> Self {
        ReduceLrOnPlateau {
            monitor: "val_loss".into(),
            factor: 0.1,
            patience: 10,
            mode: MonitorMode::Auto,
            min_delta: 1e-4,
            cooldown: 0,
            min_lr: 0.0,
        }
    }
}

/// Settings of a training run (Keras's `fit` arguments); the defaults are Keras's. In a Files
/// script they are the defaults of the `-nvargs`.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainOptions {
    pub epochs: usize,
    pub batch_size: usize,
    pub validation_split: f64,
    /// Validation rows given separately (`X_val`, `y_val`); overrides `validation_split`.
    pub validation_data: bool,
    pub shuffle: bool,
    /// Seed of the shuffling and dropout (-1: a fresh one each run).
    pub seed: i64,
    pub algo: TrainAlgo,
    /// Mini-batches per update of the grouped algorithms.
    pub parallel_batches: usize,
    /// How validation (and prediction) batch the rows.
    pub test_algo: TestAlgo,
    pub early_stopping: Option<EarlyStopping>,
    pub reduce_lr: Option<ReduceLrOnPlateau>,
    /// A CSV file rewritten after every epoch: `epoch` (from 0) and the history columns, as
    /// Keras's CSVLogger writes them.
    pub log: Option<String>,
    /// A folder that receives a checkpoint after every epoch (see [`training_script`]).
    pub checkpoint: Option<String>,
    /// A checkpoint folder to continue from.
    pub resume: Option<String>,
    /// Print a line per epoch.
    pub verbose: bool,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            epochs: 1,
            batch_size: 32,
            validation_split: 0.0,
            validation_data: false,
            shuffle: true,
            seed: -1,
            algo: TrainAlgo::Minibatch,
            parallel_batches: 4,
            test_algo: TestAlgo::Minibatch,
            early_stopping: None,
            reduce_lr: None,
            log: None,
            checkpoint: None,
            resume: None,
            verbose: true,
        }
    }
}

/// The scalar holding the loss of a gradient script.
pub const OUTPUT_LOSS: &str = "loss_value";
/// The matrix of per-epoch values of a training run (columns: [`history_columns`]), one row per
/// epoch run (also those of the run a training resumed).
pub const OUTPUT_HISTORY: &str = "history";
/// The number of epochs a training run has completed (the rows of [`OUTPUT_HISTORY`]).
pub const OUTPUT_EPOCHS_RUN: &str = "epochs_run";
/// The predictions of a prediction script.
pub const OUTPUT_PRED: &str = "pred";

/// The columns of the history matrix: `loss`, the metrics, then `val_` of each when validating,
/// then `learning_rate` (the optimizer's rate at the end of the epoch, before ReduceLROnPlateau
/// changes it, as Keras logs it; with a schedule, the rate of the epoch's last step).
pub fn history_columns(g: &Graph, validation: bool) -> Vec<String> {
    let Some(t) = &g.training else { return Vec::new() };
    let mut cols = vec!["loss".to_string()];
    cols.extend(t.metric_keys());
    if validation {
        let train = cols.clone();
        cols.extend(train.iter().map(|c| format!("val_{c}")));
    }
    cols.push("learning_rate".into());
    cols
}

/// Whether a history key improves downwards (losses) or upwards (accuracies), as Keras's
/// callbacks decide in mode "auto"; `None` for an unknown key.
pub fn lower_is_better(g: &Graph, key: &str) -> Option<bool> {
    let t = g.training.as_ref()?;
    let name = key.strip_prefix("val_").unwrap_or(key);
    if name == "loss" {
        return Some(true);
    }
    let keys = t.metric_keys();
    let k = keys.iter().position(|k| k == name)?;
    Some(matches!(t.metrics[k], Metric::Loss(_)))
}

/// Output shape facts the loss and metrics need: positions per example and the last axis.
fn output_dims(g: &Graph) -> Result<(usize, usize, String), ConvertError> {
    let [out] = g.outputs[..] else {
        return Err(ConvertError::Layer {
            layer: g.name.clone(),
            class: "model".into(),
            detail: format!(
                "the model has {} outputs; only models with one output can be converted yet",
                g.outputs.len()
            ),
        });
    };
    let t = g.tensor(out);
    let last = t.shape.last().copied().unwrap_or(1);
    Ok((t.width() / last.max(1), last, t.var.clone()))
}

fn training(g: &Graph) -> Result<&TrainingConfig, ConvertError> {
    g.training.as_ref().ok_or_else(|| ConvertError::Layer {
        layer: g.name.clone(),
        class: "model".into(),
        detail: "the model was saved without compile settings (loss and optimizer); compile it before saving"
            .into(),
    })
}

/// Header comment shared by the scripts.
fn header(g: &Graph, what: &str, usage: &str) -> Code {
    let mut c = Code::default();
    c.comment(format!("{what} for the {}, generated by `dml convert`.", g.origin));
    c.comment(usage);
    for (k, &t) in g.inputs.iter().enumerate() {
        let ti = g.tensor(t);
        let which =
            if g.inputs.len() == 1 { "X".to_string() } else { format!("X columns for input {}", k + 1) };
        if let Some(note) = crate::convert::caffe::sequence_input_note(g) {
            c.comment(note);
            continue;
        }
        if g.origin.starts_with("Caffe") {
            // Caffe models read and write Caffe's own blob order.
            c.comment(format!(
                "{which}: one row per example, its (C, H, W) blob flattened in Caffe's NCHW order ({} columns).",
                ti.width()
            ));
            continue;
        }
        c.comment(format!(
            "{which}: one row per example, its {:?} tensor flattened in {} ({} columns).",
            ti.shape,
            if ti.layout == crate::convert::ir::Layout::ChannelsFirst {
                "channels-first order (NCHW)"
            } else if g.origin.starts_with("ONNX") {
                "row-major order"
            } else {
                "Keras's row-major order"
            },
            ti.width()
        ));
    }
    c
}

/// The nvargs lines of a Files script, or nothing for Bound.
pub(crate) fn setting(code: &mut Code, io: &Io, name: &str, default: &str) {
    match io {
        Io::Files { .. } => code.line(format!("{name} = ifdef(${name}, {default})")),
        Io::Bound => code.line(format!("{name} = {default}")),
    }
}

/// Writes the model's forward pass for a batch `Xb` (the model inputs are sliced from its columns).
pub(crate) fn forward_pass(cx: &mut Cx, batch: &str) -> Result<(), ConvertError> {
    let g = cx.g;
    let mut col = 1;
    for &t in &g.inputs {
        let ti = g.tensor(t);
        if g.inputs.len() == 1 {
            cx.line(format!("{} = {batch}", ti.var));
        } else {
            cx.line(format!("{} = {batch}[, {col}:{}]", ti.var, col + ti.width() - 1));
        }
        col += ti.width();
    }
    for id in 0..g.nodes.len() {
        let node = &g.nodes[id];
        cx.comment(format!("{} ({}): {}", node.layer, node.class, node.op.describe()));
        emit::forward(cx, id)?;
    }
    Ok(())
}

/// Writes the backward pass, from `d_<output>` down to the parameters' gradients.
pub(crate) fn backward_pass(cx: &mut Cx) -> Result<(), ConvertError> {
    for id in (0..cx.g.nodes.len()).rev() {
        emit::backward(cx, id)?;
    }
    Ok(())
}

/// Regularization: the penalty added to `loss_var` and the gradients added to the parameters'.
fn regularization(code: &mut Code, g: &Graph, loss_var: &str, grads: bool) {
    for p in &g.params {
        let (Some(r), true) = (p.regularizer, p.trainable) else { continue };
        let v = &p.var;
        if r.l1 != 0.0 {
            code.line(format!("{loss_var} = {loss_var} + {} * sum(abs({v}))", num(r.l1)));
            if grads {
                code.line(format!("d_{v} = d_{v} + {} * sign({v})", num(r.l1)));
            }
        }
        if r.l2 != 0.0 {
            code.line(format!("{loss_var} = {loss_var} + {} * sum({v}^2)", num(r.l2)));
            if grads {
                code.line(format!("d_{v} = d_{v} + {} * {v}", num(2.0 * r.l2)));
            }
        }
    }
}

/// Writes the loss of the batch prediction `pred` against `yb` into `value` and, with `grad`, its
/// gradient into `d_<pred>`.
fn loss_code(
    code: &mut Code,
    g: &Graph,
    t: &TrainingConfig,
    yb: &str,
    value: &str,
    grad: bool,
) -> Result<(), ConvertError> {
    let (lead, last, pred) = output_dims(g)?;
    let d = format!("d_{pred}");
    let vars = loss::LossVars { pred: &pred, y: yb, value, grad: grad.then_some(d.as_str()), lead, last };
    loss::emit(code, &t.loss, &vars);
    Ok(())
}

fn sanitize_key(k: &str) -> String {
    k.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect()
}

/// Parameters in graph order, for function signatures and I/O.
fn params(g: &Graph) -> Vec<ParamId> {
    (0..g.params.len()).collect()
}

/// The inference function `predict_batch(X, params...)`, shared by validation and prediction.
pub(crate) fn predict_function(
    g: &Graph,
    sources: &mut std::collections::BTreeSet<(String, String)>,
) -> Result<Code, ConvertError> {
    let mut cx = Cx::new(g, Mode::Infer);
    cx.code.indent = 1;
    forward_pass(&mut cx, "X")?;
    // Several outputs (an ONNX graph's): side by side, in the graph's order.
    let vars: Vec<String> = g.outputs.iter().map(|&t| g.tensor(t).var.clone()).collect();
    match &vars[..] {
        [one] => cx.line(format!("out = {one}")),
        _ => cx.line(format!("out = cbind({})", vars.join(", "))),
    }
    sources.extend(cx.sources.iter().cloned());
    let mut code = Code::default();
    code.comment("The model in inference mode (dropout off, moving statistics), on one batch of rows.");
    let sig: Vec<String> = params(g).iter().map(|&p| format!("matrix[double] {}", g.params[p].var)).collect();
    code.line(format!(
        "predict_batch = function(matrix[double] X{}{}) return (matrix[double] out) {{",
        if sig.is_empty() { "" } else { ", " },
        sig.join(", ")
    ));
    code.lines.extend(cx.code.lines);
    code.line("}");
    Ok(code)
}

pub(crate) fn predict_call(g: &Graph, x: &str) -> String {
    let mut args = vec![x.to_string()];
    args.extend(params(g).iter().map(|&p| g.params[p].var.clone()));
    format!("predict_batch({})", args.join(", "))
}

pub(crate) fn source_lines(sources: &std::collections::BTreeSet<(String, String)>) -> Code {
    let mut c = Code::default();
    for (path, alias) in sources {
        c.line(format!("source(\"{path}\") as {alias}"));
    }
    c
}

/// Reads (Files) every parameter from the weights directory.
fn read_params(code: &mut Code, g: &Graph, io: &Io) {
    if let Io::Files { weights_dir } = io {
        code.line(format!("weights = ifdef($weights, \"{}\")", escape(weights_dir)));
        for p in &g.params {
            code.line(format!("{} = read(weights + \"/{}\")", p.var, p.var));
        }
    }
}

pub(crate) fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// The prediction script: `out` holds the model's output for every row of `X`, batch by batch.
pub fn prediction_script(g: &Graph, io: &Io, batch_size: usize) -> Result<String, ConvertError> {
    prediction_script_with(g, io, batch_size, TestAlgo::Minibatch)
}

/// [`prediction_script`] with the `test_algo` setting's default: batches of `batch_size` rows, or
/// all rows at once.
pub fn prediction_script_with(
    g: &Graph,
    io: &Io,
    batch_size: usize,
    test_algo: TestAlgo,
) -> Result<String, ConvertError> {
    let mut sources = Default::default();
    let func = predict_function(g, &mut sources)?;
    let widths: Vec<usize> = g.outputs.iter().map(|&t| g.tensor(t).width()).collect();
    let total: usize = widths.iter().sum();
    let mut body = Code::default();
    match io {
        Io::Files { .. } => body.line("X = read($X, format=ifdef($format, \"csv\"))"),
        Io::Bound => {}
    }
    read_params(&mut body, g, io);
    setting(&mut body, io, "batch_size", &batch_size.to_string());
    setting(&mut body, io, "test_algo", &quote(test_algo.name()));
    body.blank();
    body.line("N = nrow(X)");
    body.comment("test_algo=batch: all rows in one batch.");
    body.open("if (test_algo == \"batch\")");
    body.line("batch_size = max(N, 1)");
    body.close();
    body.line(format!("{OUTPUT_PRED} = matrix(0, rows=N, cols={total})"));
    body.open("for (i in 1:ceil(N / batch_size))");
    body.line("beg = (i - 1) * batch_size + 1");
    body.line("end = min(i * batch_size, N)");
    body.line(format!("{OUTPUT_PRED}[beg:end, ] = {}", predict_call(g, "X[beg:end, ]")));
    body.close();
    if let Io::Files { .. } = io {
        if widths.len() == 1 {
            body.line(format!("write({OUTPUT_PRED}, $out, format=ifdef($fmt, \"csv\"))"));
        } else {
            // Output k (from 2) goes to `outK`, by default `out` with `.K` appended.
            let mut at = 0;
            for (k, w) in widths.iter().enumerate() {
                let cols = format!("{OUTPUT_PRED}[, {}:{}]", at + 1, at + w);
                let file = if k == 0 {
                    "$out".to_string()
                } else {
                    format!("ifdef($out{}, $out + \".{}\")", k + 1, k + 1)
                };
                body.line(format!("write({cols}, {file}, format=ifdef($fmt, \"csv\"))"));
                at += w;
            }
        }
    }
    let usage = if widths.len() == 1 {
        "Usage: dml run predict.dml -nvargs X=FILE out=FILE [format=csv] [weights=DIR] [fmt=csv] [batch_size=32] \
         [test_algo=minibatch|batch]"
            .to_string()
    } else {
        let extra: Vec<String> = (2..=widths.len()).map(|k| format!("[out{k}=FILE]")).collect();
        format!(
            "Usage: dml run predict.dml -nvargs X=FILE out=FILE {} [format=csv] [weights=DIR] [fmt=csv] [batch_size=32] \
             [test_algo=minibatch|batch]; the model has {} outputs: out=FILE gets the first, outK=FILE output K (default: \
             out's name with .K appended), each one row per example.",
            extra.join(" "),
            widths.len()
        )
    };
    Ok(join_parts(&[
        header(g, "Prediction script", &usage).text(),
        source_lines(&sources).text(),
        func.text(),
        body.text(),
    ]))
}

/// The gradient script: one training-mode forward and backward pass over all rows of `X`; leaves
/// the loss in [`OUTPUT_LOSS`], the gradients in `d_<param>` and updated statistics in their params.
pub fn gradient_script(g: &Graph) -> Result<String, ConvertError> {
    let t = training(g)?;
    let mut cx = Cx::new(g, Mode::Train);
    forward_pass(&mut cx, "X")?;
    loss_code(&mut cx.code, g, t, "y", OUTPUT_LOSS, true)?;
    let (_, _, out) = output_dims(g)?;
    let out_t = g.outputs[0];
    let _ = out;
    cx.start_grad(out_t);
    backward_pass(&mut cx)?;
    regularization(&mut cx.code, g, OUTPUT_LOSS, true);
    Ok(join_parts(&[source_lines(&cx.sources).text(), cx.code.text()]))
}

/// Variables of the metrics' running sums (`<var>_total`): the history key made an identifier.
fn metric_vars(t: &TrainingConfig) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (k, key) in t.metric_keys().iter().enumerate() {
        let mut v = format!("metric_{}", sanitize_key(key));
        if out.contains(&v) {
            v = format!("{v}_{k}");
        }
        out.push(v);
    }
    out
}

/// Writes `metric_batch = <the batch's sum of metric k's per-sample values>`.
fn metric_code(
    code: &mut Code,
    g: &Graph,
    t: &TrainingConfig,
    k: usize,
    pred: &str,
    yb: &str,
) -> Result<(), ConvertError> {
    let (lead, last, _) = output_dims(g)?;
    let resolved = metric::resolve(&t.metrics[k], &t.loss, last);
    metric::emit(code, &resolved, pred, yb, "metric_batch", lead, last);
    Ok(())
}

/// The training-mode forward pass, the loss and the backward pass of the batch `Xb`, `yb`: leaves
/// `batch_loss` (with the penalties) and `d_<param>` of every trainable parameter.
fn train_step(
    g: &Graph,
    t: &TrainingConfig,
    indent: usize,
    sources: &mut std::collections::BTreeSet<(String, String)>,
) -> Result<Code, ConvertError> {
    let mut cx = Cx::new(g, Mode::Train);
    cx.code.indent = indent;
    cx.comment("Forward pass (training mode).");
    forward_pass(&mut cx, "Xb")?;
    cx.comment("Loss and its gradient.");
    loss_code(&mut cx.code, g, t, "yb", "batch_loss", true)?;
    regularization(&mut cx.code, g, "batch_loss", false);
    cx.start_grad(g.outputs[0]);
    cx.comment("Backward pass.");
    backward_pass(&mut cx)?;
    // Penalties' gradients after the backward pass has assigned d_<param>.
    let mut reg = Code { indent: cx.code.indent, ..Default::default() };
    regularization(&mut reg, g, "reg_unused", true);
    cx.code.lines.extend(reg.lines.into_iter().filter(|l| !l.contains("reg_unused")));
    sources.extend(cx.sources.iter().cloned());
    Ok(cx.code)
}

/// Writes one optimizer step from the gradients `d_<param>`, in Keras's order: the learning rate
/// of this step, clipping, decoupled weight decay, the update; then `iterations` counts it.
fn update_step(code: &mut Code, g: &Graph, t: &TrainingConfig) {
    let trainable = g.trainable_params();
    code.comment("Optimizer step.");
    optim::learning_rate(code, &t.optimizer.learning_rate);
    let grads: Vec<String> = trainable.iter().map(|&p| format!("d_{}", g.params[p].var)).collect();
    optim::clip(code, &t.optimizer, &grads);
    optim::global_step(code, &t.optimizer);
    for &p in &trainable {
        optim::weight_decay(code, &t.optimizer, &g.params[p].var);
    }
    for &p in &trainable {
        let v = &g.params[p].var;
        optim::update(code, &t.optimizer, v, &format!("d_{v}"));
    }
    code.line("iterations = iterations + 1");
}

/// The non-trainable parameters that the training-mode forward pass assigns (moving statistics).
fn updated_params(g: &Graph, step: &Code) -> Vec<ParamId> {
    let assigned = |var: &str| {
        step.lines.iter().any(|l| {
            let l = l.trim_start();
            if let Some(rest) = l.strip_prefix(var) {
                return rest.starts_with(" = ");
            }
            if let (Some(list), true) = (l.strip_prefix('['), l.contains("] =")) {
                let list = &list[..list.find(']').unwrap_or(0)];
                return list.split(',').any(|x| x.trim() == var);
            }
            false
        })
    };
    (0..g.params.len()).filter(|&p| !g.params[p].trainable && assigned(&g.params[p].var)).collect()
}

/// A matrix variable as one row (for a parfor's result matrices) and back.
fn as_row(v: &str) -> String {
    format!("matrix({v}, rows=1, cols=nrow({v}) * ncol({v}))")
}

/// The state of the callbacks, saved in checkpoints, in the order of the `state` matrix.
const CALLBACK_STATE: [&str; 12] = [
    "epoch",
    "stop_training",
    "es_has_best",
    "es_best",
    "es_wait",
    "es_best_epoch",
    "es_have_best_weights",
    "es_stopped_epoch",
    "rlr_has_best",
    "rlr_best",
    "rlr_wait",
    "rlr_cooldown",
];
const BOOLEAN_STATE: [&str; 4] = ["stop_training", "es_has_best", "es_have_best_weights", "rlr_has_best"];

/// The `-nvargs` of a training script with their meaning, for its header.
const TRAIN_USAGE: &[(&str, &str)] = &[
    ("X=FILE y=FILE", "the training rows and their targets"),
    ("format=csv", "the format of X, y, X_val and y_val"),
    ("X_val=FILE y_val=FILE", "validation rows (Keras's validation_data; overrides validation_split)"),
    ("epochs=N batch_size=B", "Keras's fit arguments"),
    ("validation_split=F", "the LAST rows (taken before shuffling) validate"),
    ("shuffle=TRUE|FALSE seed=S", "shuffle the training rows every epoch (seed + epoch; -1: random)"),
    ("parallel_batches=K", "mini-batches per update (looped_minibatch, allreduce_parallel_batches)"),
    ("test_algo=minibatch|batch", "validation in batches of batch_size rows, or all at once"),
    ("weights=DIR", "the starting weights (default: the folder written with this script)"),
    ("optimizer_state=TRUE|FALSE", "continue the optimizer state of DIR/optimizer/, or start it fresh"),
    ("weights_out=DIR", "where the trained weights and optimizer state go (default: weights)"),
    ("early_stopping=MONITOR", "EarlyStopping on a history key (empty: off), with"),
    ("  patience=N min_delta=F restore_best_weights=TRUE|FALSE", ""),
    ("  baseline=F start_from_epoch=N es_mode=auto|min|max", ""),
    ("reduce_lr=MONITOR", "ReduceLROnPlateau on a history key (empty: off), with"),
    ("  factor=F lr_patience=N lr_min_delta=F cooldown=N min_lr=F lr_mode=auto|min|max", ""),
    ("log=FILE", "a CSV log (epoch and history columns, as Keras's CSVLogger)"),
    ("checkpoint=DIR", "a checkpoint after every epoch (weights, optimizer and callback state)"),
    ("resume=DIR", "continue from the last checkpoint in DIR"),
    ("history=FILE", "the history matrix as CSV (columns as listed below)"),
    ("chart=FILE", "the history as an SVG line chart (losses, then metrics, per epoch)"),
    ("verbose=TRUE|FALSE", "one line per epoch, and a progress bar on a terminal"),
];

/// The progress bar of an epoch: step `done` of `total`, with the running mean of the loss
/// (rounded to four places, as Keras shows it) and the estimated seconds left in the epoch (from
/// the mean time of the steps so far). `printProgress` draws only on a terminal.
fn progress_bar(b: &mut Code, done: &str, total: &str, lead: usize) {
    b.open("if (verbose)");
    b.line(format!("eta = as.integer(round((time() - epoch_start) / 1e9 * ({total} - {done}) / {done}))"));
    b.line(format!(
        "drawn = printProgress({done}, {total}, \"loss: \" + round(loss_total * {lead} / seen * 10000) / 10000 + \" - ETA: \" + eta + \"s\")"
    ));
    b.close();
}

/// Writes the `monitor_column` function: a monitored history key to its column and direction.
fn monitor_function(g: &Graph, cols: &[String]) -> Code {
    let mut c = Code::default();
    c.comment("The history column of a quantity a callback monitors, and its direction (1: lower is better,");
    c.comment("-1: higher is better). Mode \"auto\" decides from the name as Keras does: losses decrease,");
    c.comment("accuracies increase.");
    c.open("monitor_column = function(String name, String mode) return (Double col, Double sign)");
    c.line("col = 0");
    c.line("sign = 1");
    let named: Vec<(usize, &String)> =
        cols.iter().enumerate().filter(|(_, k)| *k != "learning_rate").collect();
    for (i, (k, key)) in named.iter().enumerate() {
        let head = format!("if (name == \"{}\")", escape(key));
        if i == 0 {
            c.open(head);
        } else {
            c.close();
            c.open(format!("else {head}"));
        }
        c.line(format!("col = {}", k + 1));
        if lower_is_better(g, key) == Some(false) {
            c.line("sign = -1");
        }
    }
    if !named.is_empty() {
        c.close();
    }
    let names: Vec<&str> = named.iter().map(|(_, k)| k.as_str()).collect();
    c.open("if (col == 0)");
    c.line(format!(
        "stop(\"cannot monitor \" + name + \": the history keys are {}\")",
        escape(&names.join(", "))
    ));
    c.close();
    c.open("if (mode == \"min\")");
    c.line("sign = 1");
    c.close();
    c.open("else if (mode == \"max\")");
    c.line("sign = -1");
    c.close();
    c.open("else if (mode != \"auto\")");
    c.line("stop(\"a callback's mode is auto, min or max, not \" + mode)");
    c.close();
    c.close();
    c
}

/// Keras's CSVLogger columns: the sorted keys Keras logs; without validation, Keras appends
/// `val_<key>` of every key, all "NA". Returns the header and the DML expression of each cell.
fn csv_columns(cols: &[String], train_cols: usize, validation: bool, lr: bool) -> (String, Vec<String>) {
    let col_of = |k: &str| cols.iter().position(|c| c == k);
    let mut keys: Vec<String> = cols[..train_cols].to_vec();
    if validation {
        keys.extend(cols[train_cols..cols.len() - 1].iter().cloned());
    }
    if lr {
        keys.push("learning_rate".into());
    }
    keys.sort();
    if !validation {
        let v: Vec<String> = keys.iter().map(|k| format!("val_{k}")).collect();
        keys.extend(v);
    }
    let cells = keys
        .iter()
        .map(|k| match col_of(k) {
            Some(c) if validation || !k.starts_with("val_") => format!("as.scalar(history[e, {}])", c + 1),
            _ => "\"NA\"".to_string(),
        })
        .collect();
    let mut header = vec!["epoch".to_string()];
    header.extend(keys);
    (header.join(","), cells)
}

/// The training script: Keras's `fit`.
///
/// A Files script reads `X`, `y` (and `X_val`, `y_val`), the weights and the optimizer state
/// (`weights/optimizer/`: `iterations`, `learning_rate`, `<param>_<slot>`, `nadam_u_product`, as
/// 1x1 or full binary matrices) and writes them to `weights_out`; its settings are `-nvargs`
/// whose defaults are `opts` (see the script's header). A checkpoint folder holds two slots,
/// `slot0` and `slot1`, written alternately after each epoch (every parameter, `optimizer/`,
/// `state`: the epoch and the callbacks' state, `history`, and `best/` with EarlyStopping's best
/// weights), and `latest`, written last, naming the slot of the last complete epoch: an
/// interrupted write never damages the checkpoint a resume reads.
pub fn training_script(g: &Graph, opts: &TrainOptions, io: &Io) -> Result<String, ConvertError> {
    let t = training(g)?;
    let files = matches!(io, Io::Files { .. });
    let schedule = !matches!(t.optimizer.learning_rate, LearningRate::Constant(_));
    let gen_err = |class: &str, detail: String| ConvertError::Layer {
        layer: g.name.clone(),
        class: class.into(),
        detail,
    };
    if opts.reduce_lr.is_some() && schedule {
        return Err(gen_err(
            "ReduceLROnPlateau",
            "the optimizer's learning rate is a schedule; ReduceLROnPlateau needs a constant one (as in Keras)".into(),
        ));
    }
    if let Some(r) = &opts.reduce_lr
        && (r.factor >= 1.0 || r.factor.is_nan())
    {
        return Err(gen_err(
            "ReduceLROnPlateau",
            format!("factor {} must be below 1 (as in Keras)", r.factor),
        ));
    }
    if opts.algo.grouped() && opts.parallel_batches == 0 {
        return Err(gen_err("fit", "parallel_batches must be at least 1".into()));
    }
    let cols = history_columns(g, true);
    for (class, monitor) in [
        ("EarlyStopping", opts.early_stopping.as_ref().map(|e| &e.monitor)),
        ("ReduceLROnPlateau", opts.reduce_lr.as_ref().map(|r| &r.monitor)),
    ] {
        if let Some(m) = monitor
            && (m == "learning_rate" || !cols.contains(m))
        {
            return Err(gen_err(
                class,
                format!("monitor `{m}` is none of the history keys {}", cols.join(", ")),
            ));
        }
    }
    let with_es = files || opts.early_stopping.is_some();
    let with_rlr = (files && !schedule) || opts.reduce_lr.is_some();
    let mut sources = Default::default();
    let func = predict_function(g, &mut sources)?;
    let (lead, _, out_var) = output_dims(g)?;
    let trainable: Vec<ParamId> = g.trainable_params();
    let mvars = metric_vars(t);
    let nm = mvars.len();
    let train_cols = 1 + nm;
    let lr_col = cols.len();
    let state_vars = optim::keras_order(g, &t.optimizer);
    let mut b = Code::default();

    // ---------------------------------------------------------------- settings
    b.comment("Settings.");
    if files {
        b.line("X = read($X, format=ifdef($format, \"csv\"))");
        b.line("y = read($y, format=ifdef($format, \"csv\"))");
    }
    setting(&mut b, io, "epochs", &opts.epochs.to_string());
    setting(&mut b, io, "batch_size", &opts.batch_size.to_string());
    setting(&mut b, io, "validation_split", &num(opts.validation_split));
    setting(&mut b, io, "shuffle", bool_text(opts.shuffle));
    setting(&mut b, io, "seed", &opts.seed.to_string());
    if opts.algo.grouped() {
        setting(&mut b, io, "parallel_batches", &opts.parallel_batches.to_string());
    }
    setting(&mut b, io, "test_algo", &quote(opts.test_algo.name()));
    setting(&mut b, io, "verbose", bool_text(opts.verbose));
    if with_es {
        let es = opts.early_stopping.clone();
        let d = EarlyStopping::default();
        let e = es.as_ref().unwrap_or(&d);
        b.comment("EarlyStopping (Keras 3's callback) monitors this history key; empty: off.");
        setting(&mut b, io, "early_stopping", &quote(es.as_ref().map_or("", |e| e.monitor.as_str())));
        setting(&mut b, io, "patience", &e.patience.to_string());
        setting(&mut b, io, "min_delta", &num(e.min_delta.abs()));
        setting(&mut b, io, "restore_best_weights", bool_text(e.restore_best_weights));
        setting(&mut b, io, "baseline", &e.baseline.map_or("NaN".to_string(), num));
        setting(&mut b, io, "start_from_epoch", &e.start_from_epoch.to_string());
        setting(&mut b, io, "es_mode", &quote(e.mode.name()));
    }
    if with_rlr {
        let rl = opts.reduce_lr.clone();
        let d = ReduceLrOnPlateau::default();
        let r = rl.as_ref().unwrap_or(&d);
        b.comment("ReduceLROnPlateau (Keras 3's callback) monitors this history key; empty: off.");
        setting(&mut b, io, "reduce_lr", &quote(rl.as_ref().map_or("", |r| r.monitor.as_str())));
        setting(&mut b, io, "factor", &num(r.factor));
        setting(&mut b, io, "lr_patience", &r.patience.to_string());
        setting(&mut b, io, "lr_min_delta", &num(r.min_delta.abs()));
        setting(&mut b, io, "cooldown", &r.cooldown.to_string());
        setting(&mut b, io, "min_lr", &num(r.min_lr));
        setting(&mut b, io, "lr_mode", &quote(r.mode.name()));
    } else if files {
        b.open("if (ifdef($reduce_lr, \"\") != \"\")");
        b.line("stop(\"ReduceLROnPlateau needs a constant learning rate; this model's optimizer uses a schedule\")");
        b.close();
    }
    setting(&mut b, io, "log", &quote(opts.log.as_deref().unwrap_or("")));
    setting(&mut b, io, "checkpoint", &quote(opts.checkpoint.as_deref().unwrap_or("")));
    setting(&mut b, io, "resume", &quote(opts.resume.as_deref().unwrap_or("")));
    if let Io::Files { weights_dir } = io {
        b.line(format!("weights = ifdef($weights, \"{}\")", escape(weights_dir)));
        b.line("weights_out = ifdef($weights_out, weights)");
        b.line("optimizer_state = ifdef($optimizer_state, TRUE)");
    }
    b.blank();

    // ---------------------------------------------------------------- weights and optimizer state
    let read_state = |b: &mut Code, dir: &str| {
        for p in &g.params {
            b.line(format!("{} = read({dir} + \"/{}\")", p.var, p.var));
        }
        for v in &state_vars {
            let name = v.var(g);
            match v {
                optim::StateVar::Slot { .. } => {
                    b.line(format!("{name} = read({dir} + \"/optimizer/{name}\")"))
                }
                _ => b.line(format!("{name} = as.scalar(read({dir} + \"/optimizer/{name}\"))")),
            }
        }
    };
    let write_state = |b: &mut Code, dir: &str| {
        for p in &g.params {
            b.line(format!("write({}, {dir} + \"/{}\", format=\"binary\")", p.var, p.var));
        }
        for v in &state_vars {
            let name = v.var(g);
            let value = match v {
                optim::StateVar::Slot { .. } => name.clone(),
                _ => format!("as.matrix({name})"),
            };
            b.line(format!("write({value}, {dir} + \"/optimizer/{name}\", format=\"binary\")"));
        }
    };
    b.comment("Callback state (saved in checkpoints): EarlyStopping's best value, wait and best epoch,");
    b.comment("ReduceLROnPlateau's best value, wait and cooldown.");
    b.line("start_epoch = 1");
    b.line("stop_training = FALSE");
    b.line("es_has_best = FALSE");
    b.line("es_best = NaN");
    b.line("es_wait = 0");
    b.line("es_best_epoch = 0");
    b.line("es_have_best_weights = FALSE");
    b.line("es_stopped_epoch = 0");
    b.line("rlr_has_best = FALSE");
    b.line("rlr_best = NaN");
    b.line("rlr_wait = 0");
    b.line("rlr_cooldown = 0");
    b.line(format!("history = matrix(0, rows=max(epochs, 1), cols={})", cols.len()));
    b.blank();
    if files {
        b.open("if (resume == \"\")");
        b.comment("The weights, and the optimizer state Keras saved with the model (or a fresh one).");
        for p in &g.params {
            b.line(format!("{} = read(weights + \"/{}\")", p.var, p.var));
        }
        b.open("if (optimizer_state)");
        for v in &state_vars {
            let name = v.var(g);
            match v {
                optim::StateVar::Slot { .. } => {
                    b.line(format!("{name} = read(weights + \"/optimizer/{name}\")"))
                }
                _ => b.line(format!("{name} = as.scalar(read(weights + \"/optimizer/{name}\"))")),
            }
        }
        b.close();
        b.open("else");
        b.line("iterations = 0");
        if let LearningRate::Constant(lr) = t.optimizer.learning_rate {
            b.line(format!("learning_rate = {}", num(lr)));
        }
        optim::global_init(&mut b, &t.optimizer);
        for &p in &trainable {
            optim::init(&mut b, &t.optimizer, &g.params[p].var);
        }
        b.close();
        b.close();
        b.open("else");
    } else {
        b.open("if (resume != \"\")");
    }
    b.comment("Resume: the slot `latest` names holds the last complete epoch's checkpoint.");
    b.line("ckpt = resume + \"/slot\" + as.integer(as.scalar(read(resume + \"/latest\")))");
    read_state(&mut b, "ckpt");
    b.line("state = read(ckpt + \"/state\")");
    for (k, v) in CALLBACK_STATE.iter().enumerate() {
        let value = format!("as.scalar(state[1, {}])", k + 1);
        match *v {
            "epoch" => b.line(format!("start_epoch = as.integer({value}) + 1")),
            v if BOOLEAN_STATE.contains(&v) => b.line(format!("{v} = {value} == 1")),
            "es_best" | "rlr_best" => b.line(format!("{v} = {value}")),
            v => b.line(format!("{v} = as.integer({value})")),
        }
    }
    b.line("done = read(ckpt + \"/history\")");
    b.line(format!("history = matrix(0, rows=max(epochs, nrow(done)), cols={})", cols.len()));
    b.line("history[1:nrow(done), ] = done");
    if with_es {
        b.open("if (es_have_best_weights)");
        for p in &g.params {
            b.line(format!("best_{} = read(ckpt + \"/best/{}\")", p.var, p.var));
        }
        b.close();
    }
    b.close();
    b.blank();

    // ---------------------------------------------------------------- data
    b.comment("Keras takes the validation rows from the end, before shuffling; validation data given");
    b.comment("separately override them.");
    b.line("N = nrow(X)");
    b.line("n_val = 0");
    let split = |b: &mut Code, head: &str| {
        b.open(head);
        b.line("split_at = floor(N * (1 - validation_split))");
        b.line("n_val = N - split_at");
        b.line("X_val = X[(split_at + 1):N, ]");
        b.line("y_val = y[(split_at + 1):N, ]");
        b.line("X = X[1:split_at, ]");
        b.line("y = y[1:split_at, ]");
        b.line("N = split_at");
        b.close();
    };
    match io {
        Io::Bound if opts.validation_data => b.line("n_val = nrow(X_val)"),
        Io::Bound => split(&mut b, "if (validation_split > 0)"),
        Io::Files { .. } => {
            b.line("X_val_file = ifdef($X_val, \"\")");
            b.open("if (X_val_file != \"\")");
            b.line("X_val = read(X_val_file, format=ifdef($format, \"csv\"))");
            b.line("y_val = read(ifdef($y_val, \"\"), format=ifdef($format, \"csv\"))");
            b.line("n_val = nrow(X_val)");
            b.close();
            split(&mut b, "else if (validation_split > 0)");
        }
    }
    b.line("val_batch = ifelse(test_algo == \"batch\", max(n_val, 1), batch_size)");
    b.blank();

    // ---------------------------------------------------------------- callbacks' setup
    if with_es || with_rlr {
        b.comment("The monitored columns (a val_ key without validation data is skipped, as Keras warns).");
    }
    let missing = |b: &mut Code, col: &str, what: &str, monitor: &str| {
        b.open(format!("if ({col} > {train_cols} & n_val == 0)"));
        b.line(format!(
            "print(\"Warning: {what} monitors \" + {monitor} + \", which needs validation data; it does nothing\")"
        ));
        b.close();
    };
    if with_es {
        b.line("es_col = 0");
        b.line("es_sign = 1");
        b.open("if (early_stopping != \"\")");
        b.line("[es_col, es_sign] = monitor_column(early_stopping, es_mode)");
        missing(&mut b, "es_col", "EarlyStopping", "early_stopping");
        b.close();
        b.line("min_delta = abs(min_delta)");
    }
    if with_rlr {
        b.line("rlr_col = 0");
        b.line("rlr_sign = 1");
        b.open("if (reduce_lr != \"\")");
        b.line("[rlr_col, rlr_sign] = monitor_column(reduce_lr, lr_mode)");
        missing(&mut b, "rlr_col", "ReduceLROnPlateau", "reduce_lr");
        b.open("if (factor >= 1)");
        b.line("stop(\"ReduceLROnPlateau's factor must be below 1, not \" + factor)");
        b.close();
        b.close();
        b.line("lr_min_delta = abs(lr_min_delta)");
        b.comment("Keras compares the learning rate with min_lr rounded to float32.");
        b.line("min_lr_f32 = min_lr");
        b.open("if (min_lr > 0)");
        b.line("e2 = floor(log(min_lr, 2))");
        b.line("e2 = ifelse(2^e2 > min_lr, e2 - 1, ifelse(2^(e2 + 1) <= min_lr, e2 + 1, e2))");
        b.line("min_lr_f32 = round(min_lr / 2^(e2 - 23)) * 2^(e2 - 23)");
        b.close();
    }
    b.comment("The learning rate of the next step (the history's learning_rate column).");
    optim::learning_rate(&mut b, &t.optimizer.learning_rate);
    b.line("epochs_run = start_epoch - 1");
    b.line("epoch = start_epoch");
    b.blank();

    // ---------------------------------------------------------------- epochs
    b.open("while (epoch <= epochs & !stop_training)");
    b.line("epoch_start = time()");
    b.line("Xe = X");
    b.line("ye = y");
    b.open("if (shuffle)");
    b.line("shuffle_seed = ifelse(seed < 0, -1, seed + epoch)");
    b.line("order_idx = order(target=rand(rows=N, cols=1, seed=shuffle_seed), by=1, index.return=TRUE)");
    b.line("P = table(seq(1, N), order_idx, N, N)");
    b.line("Xe = P %*% X");
    b.line("ye = P %*% y");
    b.close();
    b.line("loss_total = 0");
    b.line("seen = 0");
    for v in &mvars {
        b.line(format!("{v}_total = 0"));
    }
    let step = train_step(g, t, 0, &mut sources)?;
    match opts.algo {
        TrainAlgo::Minibatch | TrainAlgo::Batch => {
            if opts.algo == TrainAlgo::Batch {
                b.comment("train_algo=batch: one update per epoch over all rows.");
                b.line("step_rows = max(N, 1)");
            } else {
                b.line("step_rows = batch_size");
            }
            b.open("for (i in 1:ceil(N / step_rows))");
            b.line("beg = (i - 1) * step_rows + 1");
            b.line("end = min(i * step_rows, N)");
            b.line("Xb = Xe[beg:end, ]");
            b.line("yb = ye[beg:end, ]");
            let ind = b.indent;
            b.lines.extend(step.lines.iter().map(|l| indent_line(l, ind)));
            update_step(&mut b, g, t);
            b.comment("The epoch's loss and metrics: sums over the rows, from this batch's forward pass.");
            b.line("loss_total = loss_total + batch_loss * nrow(Xb)");
            b.line(format!("seen = seen + nrow(Xb) * {lead}"));
            for (k, v) in mvars.iter().enumerate() {
                metric_code(&mut b, g, t, k, &out_var, "yb")?;
                b.line(format!("{v}_total = {v}_total + metric_batch"));
            }
            progress_bar(&mut b, "i", "ceil(N / step_rows)", lead);
            b.close();
        }
        TrainAlgo::LoopedMinibatch | TrainAlgo::AllreduceParallelBatches => {
            let stats = updated_params(g, &step);
            let parallel = opts.algo == TrainAlgo::AllreduceParallelBatches;
            comment_wrapped(
                &mut b,
                &format!(
                    "train_algo={}: groups of parallel_batches mini-batches; their gradients (computed {} \
                     from the same weights) averaged, weighted by their rows, into one update.",
                    opts.algo.name(),
                    if parallel { "in parallel" } else { "one after the other" }
                ),
            );
            b.line("n_batches = ceil(N / batch_size)");
            b.open("for (group in 1:ceil(n_batches / parallel_batches))");
            b.line("first = (group - 1) * parallel_batches + 1");
            b.line("k = min(parallel_batches, n_batches - first + 1)");
            b.line("group_beg = (first - 1) * batch_size + 1");
            b.line("group_rows = min((first + k - 1) * batch_size, N) - group_beg + 1");
            b.comment("One row per mini-batch: its gradients (and updated statistics) times its rows.");
            for &p in &trainable {
                let v = &g.params[p].var;
                b.line(format!("G_{v} = matrix(0, rows=k, cols=nrow({v}) * ncol({v}))"));
            }
            for &p in &stats {
                let v = &g.params[p].var;
                b.line(format!("S_{v} = matrix(0, rows=k, cols=nrow({v}) * ncol({v}))"));
                b.line(format!("{v}_group_start = {v}"));
            }
            b.line(format!("group_sums = matrix(0, rows=k, cols={})", 1 + nm));
            b.open(format!("{} (j in 1:k)", if parallel { "parfor" } else { "for" }));
            b.line("beg = group_beg + (j - 1) * batch_size");
            b.line("end = min(beg + batch_size - 1, N)");
            b.line("Xb = Xe[beg:end, ]");
            b.line("yb = ye[beg:end, ]");
            for &p in &stats {
                let v = &g.params[p].var;
                b.line(format!("{v} = {v}_group_start"));
            }
            let ind = b.indent;
            b.lines.extend(step.lines.iter().map(|l| indent_line(l, ind)));
            for &p in &trainable {
                let v = &g.params[p].var;
                b.line(format!("G_{v}[j, ] = {} * nrow(Xb)", as_row(&format!("d_{v}"))));
            }
            for &p in &stats {
                let v = &g.params[p].var;
                b.line(format!("S_{v}[j, ] = {} * nrow(Xb)", as_row(v)));
            }
            b.line("group_sums[j, 1] = batch_loss * nrow(Xb)");
            for k in 0..nm {
                metric_code(&mut b, g, t, k, &out_var, "yb")?;
                b.line(format!("group_sums[j, {}] = metric_batch", k + 2));
            }
            b.close();
            for &p in &trainable {
                let v = &g.params[p].var;
                b.line(format!(
                    "d_{v} = matrix(colSums(G_{v}), rows=nrow({v}), cols=ncol({v})) / group_rows"
                ));
            }
            for &p in &stats {
                let v = &g.params[p].var;
                b.line(format!("{v} = matrix(colSums(S_{v}), rows=nrow({v}), cols=ncol({v})) / group_rows"));
            }
            update_step(&mut b, g, t);
            b.line("loss_total = loss_total + sum(group_sums[, 1])");
            b.line(format!("seen = seen + group_rows * {lead}"));
            for (k, v) in mvars.iter().enumerate() {
                b.line(format!("{v}_total = {v}_total + sum(group_sums[, {}])", k + 2));
            }
            progress_bar(&mut b, "group", "ceil(n_batches / parallel_batches)", lead);
            b.close();
        }
    }
    b.line(format!("history[epoch, 1] = loss_total * {lead} / seen"));
    for (k, v) in mvars.iter().enumerate() {
        b.line(format!("history[epoch, {}] = {v}_total / seen", k + 2));
    }
    // Validation in inference mode with the epoch's final weights.
    b.open("if (n_val > 0)");
    b.comment("Validation in inference mode, with the weights at the end of the epoch.");
    b.line("val_loss_total = 0");
    for v in &mvars {
        b.line(format!("val_{v}_total = 0"));
    }
    b.open("for (i in 1:ceil(n_val / val_batch))");
    b.line("beg = (i - 1) * val_batch + 1");
    b.line("end = min(i * val_batch, n_val)");
    b.line("yv = y_val[beg:end, ]");
    b.line(format!("pv = {}", predict_call(g, "X_val[beg:end, ]")));
    let (plead, plast, _) = output_dims(g)?;
    let vars =
        loss::LossVars { pred: "pv", y: "yv", value: "val_batch_loss", grad: None, lead: plead, last: plast };
    loss::emit(&mut b, &t.loss, &vars);
    regularization(&mut b, g, "val_batch_loss", false);
    b.line("val_loss_total = val_loss_total + val_batch_loss * nrow(yv)");
    for (k, v) in mvars.iter().enumerate() {
        metric_code(&mut b, g, t, k, "pv", "yv")?;
        b.line(format!("val_{v}_total = val_{v}_total + metric_batch"));
    }
    b.close();
    b.line(format!("history[epoch, {}] = val_loss_total / n_val", train_cols + 1));
    for (k, v) in mvars.iter().enumerate() {
        b.line(format!("history[epoch, {}] = val_{v}_total / (n_val * {lead})", train_cols + 2 + k));
    }
    b.close();
    if schedule {
        b.line(format!("history[epoch, {lr_col}] = lr"));
    } else {
        b.line(format!("history[epoch, {lr_col}] = learning_rate"));
    }

    // The epoch line: Keras's rounded values, then every value in full.
    b.line("epoch_time = (time() - epoch_start) / 1e9");
    b.open("if (verbose)");
    let val_cols = &cols[train_cols..lr_col - 1];
    let part = |c: &str, k: usize| (format!("{c}: %.4f"), format!("as.scalar(history[epoch, {}])", k + 1));
    let full = |c: &str, k: usize| format!("\"{c}=\" + as.scalar(history[epoch, {}])", k + 1);
    let train_parts: Vec<(String, String)> =
        cols[..train_cols].iter().enumerate().map(|(k, c)| part(c, k)).collect();
    let val_parts: Vec<(String, String)> =
        val_cols.iter().enumerate().map(|(k, c)| part(c, train_cols + k)).collect();
    let lr_part = part("learning_rate", lr_col - 1);
    let train_full: Vec<String> = cols[..train_cols].iter().enumerate().map(|(k, c)| full(c, k)).collect();
    let val_full: Vec<String> = val_cols.iter().enumerate().map(|(k, c)| full(c, train_cols + k)).collect();
    let print_line = |b: &mut Code, parts: &[(String, String)]| {
        let fmt: Vec<&str> = parts.iter().map(|(f, _)| f.as_str()).collect();
        let args: Vec<&str> = parts.iter().map(|(_, a)| a.as_str()).collect();
        b.line(format!(
            "print(\"Epoch %d/%d - %.2f s - {} | %s\", epoch, epochs, epoch_time, {}, full)",
            fmt.join(" - "),
            args.join(", ")
        ));
    };
    b.line(format!("full = {}", train_full.join(" + \" \" + ")));
    b.open("if (n_val > 0)");
    b.line(format!("full = full + \" \" + {}", val_full.join(" + \" \" + ")));
    b.close();
    let rlr_on = if with_rlr { "reduce_lr != \"\"" } else { "FALSE" };
    if with_rlr {
        b.open(format!("if ({rlr_on})"));
        b.line(format!("full = full + \" learning_rate=\" + as.scalar(history[epoch, {lr_col}])"));
        b.close();
    }
    let mut variants: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for (val, lr) in [(true, true), (true, false), (false, true), (false, false)] {
        if lr && !with_rlr {
            continue;
        }
        let mut parts = train_parts.clone();
        if val {
            parts.extend(val_parts.iter().cloned());
        }
        if lr {
            parts.push(lr_part.clone());
        }
        let cond = match (val, lr) {
            (true, true) => format!("n_val > 0 & {rlr_on}"),
            (true, false) => "n_val > 0".to_string(),
            (false, true) => rlr_on.to_string(),
            (false, false) => String::new(),
        };
        variants.push((cond, parts));
    }
    for (i, (cond, parts)) in variants.iter().enumerate() {
        match (i, cond.is_empty()) {
            (0, _) => b.open(format!("if ({cond})")),
            (_, false) => b.open(format!("else if ({cond})")),
            (_, true) => b.open("else"),
        }
        print_line(&mut b, parts);
        b.close();
    }
    b.close();

    // ReduceLROnPlateau, Keras 3's rule.
    if with_rlr {
        b.comment("ReduceLROnPlateau (Keras 3): an improvement (by more than lr_min_delta) resets the wait;");
        b.comment(
            "after lr_patience epochs without one, outside a cooldown, the rate is multiplied by factor",
        );
        b.comment("(not below min_lr) and a cooldown of `cooldown` epochs starts.");
        b.open(format!("if (reduce_lr != \"\" & (rlr_col <= {train_cols} | n_val > 0))"));
        b.line("rlr_current = as.scalar(history[epoch, rlr_col])");
        b.open("if (rlr_cooldown > 0)");
        b.line("rlr_cooldown = rlr_cooldown - 1");
        b.line("rlr_wait = 0");
        b.close();
        b.open("if (!rlr_has_best | rlr_sign * rlr_current + lr_min_delta < rlr_sign * rlr_best)");
        b.line("rlr_best = rlr_current");
        b.line("rlr_has_best = TRUE");
        b.line("rlr_wait = 0");
        b.close();
        b.open("else if (rlr_cooldown <= 0)");
        b.line("rlr_wait = rlr_wait + 1");
        b.open("if (rlr_wait >= lr_patience & learning_rate > min_lr_f32)");
        b.line("learning_rate = max(learning_rate * factor, min_lr)");
        b.line("rlr_cooldown = cooldown");
        b.line("rlr_wait = 0");
        b.open("if (verbose)");
        b.line("print(\"Epoch \" + epoch + \": ReduceLROnPlateau reducing learning rate to \" + learning_rate + \".\")");
        b.close();
        b.close();
        b.close();
        b.close();
    }

    // EarlyStopping, Keras 3's rule.
    if with_es {
        b.comment("EarlyStopping (Keras 3): from epoch start_from_epoch (counted from 0) on, an improvement");
        b.comment(
            "(by more than min_delta) records the best value (and weights); it resets the wait when it",
        );
        b.comment(
            "also beats the baseline; patience epochs without one stop training (not after the first).",
        );
        b.open(format!(
            "if (early_stopping != \"\" & epoch - 1 >= start_from_epoch & (es_col <= {train_cols} | n_val > 0))"
        ));
        b.line("es_current = as.scalar(history[epoch, es_col])");
        b.open("if (restore_best_weights & !es_have_best_weights)");
        for p in &g.params {
            b.line(format!("best_{} = {}", p.var, p.var));
        }
        b.line("es_have_best_weights = TRUE");
        b.line("es_best_epoch = epoch");
        b.close();
        b.line("es_wait = es_wait + 1");
        b.open("if (!es_has_best | es_sign * es_current + min_delta < es_sign * es_best)");
        b.line("es_best = es_current");
        b.line("es_has_best = TRUE");
        b.line("es_best_epoch = epoch");
        b.open("if (restore_best_weights)");
        for p in &g.params {
            b.line(format!("best_{} = {}", p.var, p.var));
        }
        b.close();
        b.open("if (is.nan(baseline) | es_sign * es_current + min_delta < es_sign * baseline)");
        b.line("es_wait = 0");
        b.close();
        b.close();
        b.open("else if (es_wait >= patience & epoch > 1)");
        b.line("stop_training = TRUE");
        b.line("es_stopped_epoch = epoch");
        b.close();
        b.close();
    }

    // CSV log.
    b.open("if (log != \"\")");
    b.comment("The CSV log, rewritten with every epoch so far (as Keras's CSVLogger writes it).");
    let mut log_variants = Vec::new();
    for (val, lr) in [(true, true), (true, false), (false, true), (false, false)] {
        if lr && !with_rlr {
            continue;
        }
        let cond = match (val, lr) {
            (true, true) => format!("n_val > 0 & {rlr_on}"),
            (true, false) => "n_val > 0".to_string(),
            (false, true) => rlr_on.to_string(),
            (false, false) => String::new(),
        };
        log_variants.push((cond, csv_columns(&cols, train_cols, val, lr)));
    }
    for (i, (cond, (header, cells))) in log_variants.iter().enumerate() {
        match (i, cond.is_empty()) {
            (0, _) => b.open(format!("if ({cond})")),
            (_, false) => b.open(format!("else if ({cond})")),
            (_, true) => b.open("else"),
        }
        b.line(format!("log_text = \"{header}\\n\""));
        b.open("for (e in 1:epoch)");
        let row: Vec<String> = cells.clone();
        b.line(format!(
            "log_text = log_text + as.integer(e - 1) + \",\" + {} + \"\\n\"",
            row.join(" + \",\" + ")
        ));
        b.close();
        b.close();
    }
    b.line("write(log_text, log)");
    b.close();

    // Checkpoint.
    b.open("if (checkpoint != \"\")");
    b.comment("A checkpoint into the slot that `latest` does not name; `latest` is written after it.");
    b.line("ckpt_slot = as.integer(epoch %% 2)");
    b.line("ckpt = checkpoint + \"/slot\" + ckpt_slot");
    write_state(&mut b, "ckpt");
    b.line(format!("state = matrix(0, rows=1, cols={})", CALLBACK_STATE.len()));
    for (k, v) in CALLBACK_STATE.iter().enumerate() {
        if BOOLEAN_STATE.contains(v) {
            b.line(format!("state[1, {}] = as.double({v})", k + 1));
        } else {
            b.line(format!("state[1, {}] = {v}", k + 1));
        }
    }
    b.line("write(state, ckpt + \"/state\", format=\"binary\")");
    b.line("write(history[1:epoch, ], ckpt + \"/history\", format=\"binary\")");
    if with_es {
        b.open("if (es_have_best_weights)");
        for p in &g.params {
            b.line(format!("write(best_{}, ckpt + \"/best/{}\", format=\"binary\")", p.var, p.var));
        }
        b.close();
    }
    b.close();
    b.open("if (checkpoint != \"\")");
    b.line("write(as.matrix(ckpt_slot), checkpoint + \"/latest\", format=\"binary\")");
    b.close();
    b.line("epochs_run = epoch");
    b.line("epoch = epoch + 1");
    b.close();
    b.blank();

    // ---------------------------------------------------------------- the end of training
    if with_es {
        b.open("if (es_stopped_epoch > 0 & verbose)");
        b.line("print(\"Epoch \" + es_stopped_epoch + \": early stopping\")");
        b.close();
        b.comment(
            "Keras 3 restores the best weights at the end of training, whether it stopped early or not.",
        );
        b.open("if (restore_best_weights & es_have_best_weights)");
        b.open("if (verbose)");
        b.line("print(\"Restoring model weights from the end of the best epoch: \" + es_best_epoch + \".\")");
        b.close();
        for p in &g.params {
            b.line(format!("{} = best_{}", p.var, p.var));
        }
        b.close();
    }
    b.open("if (epochs_run > 0)");
    b.line("history = history[1:epochs_run, ]");
    b.close();
    if files {
        b.blank();
        b.comment("Trained weights and optimizer state.");
        write_state(&mut b, "weights_out");
        b.line("history_file = ifdef($history, \"\")");
        b.open("if (history_file != \"\" & epochs_run > 0)");
        b.line("write(history, history_file, format=\"csv\")");
        b.close();
        b.line("chart_file = ifdef($chart, \"\")");
        b.open("if (chart_file != \"\" & epochs_run > 0)");
        // Without validation rows the `val_` columns hold zeros: only the training columns
        // (the first ones) are drawn.
        let train_cols = cols.iter().take_while(|c| !c.starts_with("val_") && *c != "learning_rate").count();
        b.open("if (n_val > 0)");
        b.line(format!("plotHistory(history, chart_file, \"{}\")", cols.join(",")));
        b.close();
        b.open("else");
        b.line(format!(
            "plotHistory(history[, 1:{train_cols}], chart_file, \"{}\")",
            cols[..train_cols].join(",")
        ));
        b.close();
        b.close();
    }

    // ---------------------------------------------------------------- header
    let mut h =
        header(g, "Training script", "Usage: dml run train.dml -nvargs X=FILE y=FILE [setting=value ...]");
    let ykind = match &t.loss {
        Loss::SparseCategoricalCrossentropy { .. } => {
            "y: one row per example, the 0-based class id(s).".to_string()
        }
        Loss::CategoricalCrossentropy { .. } => "y: one row per example, the one-hot class.".to_string(),
        l => format!("y: one row per example, the targets of the {} loss.", loss_key(l)),
    };
    h.comment(ykind);
    h.comment(format!("History columns: {}.", cols.join(", ")));
    h.comment("");
    h.comment("Settings (-nvargs; the defaults are those this script was generated with):");
    for (arg, what) in TRAIN_USAGE {
        if what.is_empty() {
            h.comment(format!("  {arg}"));
        } else {
            h.comment(format!("  {arg}: {what}"));
        }
    }
    h.comment("");
    comment_wrapped(&mut h, &format!("train_algo={}: {}", opts.algo.name(), algo_doc(opts.algo)));
    h.comment("Every step: the training-mode forward pass, Keras's loss (plus the weight penalties) and");
    h.comment("the backward pass; then Keras's optimizer step: the learning rate of the iteration count,");
    h.comment("gradient clipping, decoupled weight decay, the update; `iterations` counts the steps. An");
    h.comment("epoch's loss and metrics are means over its rows, each from the forward pass of its batch.");
    h.comment("Validation (test_algo) runs in inference mode after each epoch.");
    h.comment("");
    h.comment("Files: weights/<param> and weights/optimizer/ (iterations, learning_rate, <param>_<slot>, as");
    h.comment("binary matrices); a checkpoint folder holds slot0/ and slot1/ (the same, plus state, history");
    h.comment("and best/) written alternately after each epoch, and `latest`, written last, naming the slot");
    h.comment("of the last complete epoch, so an interrupted run never damages what resume= reads.");
    let monitor = if with_es || with_rlr { monitor_function(g, &cols).text() } else { String::new() };
    Ok(join_parts(&[h.text(), source_lines(&sources).text(), func.text(), monitor, b.text()]))
}

/// Joins script parts with one blank line between non-empty ones.
pub(crate) fn join_parts(parts: &[String]) -> String {
    let kept: Vec<&str> =
        parts.iter().map(|p| p.trim_end_matches('\n')).filter(|p| !p.trim().is_empty()).collect();
    let mut s = kept.join("\n\n");
    s.push('\n');
    s
}

/// What each `train_algo` computes, for the script's header.
fn algo_doc(algo: TrainAlgo) -> &'static str {
    match algo {
        TrainAlgo::Minibatch => {
            "one update per mini-batch of batch_size rows (the last one partial), as Keras's fit."
        }
        TrainAlgo::Batch => {
            "one update per epoch from the gradient over all training rows (a mini-batch of N rows)."
        }
        TrainAlgo::LoopedMinibatch => {
            "groups of parallel_batches consecutive mini-batches (the last group of an epoch may be \
             smaller): each batch's gradient is computed from the weights at the start of the group, one \
             batch after the other; the group's update uses their mean weighted by the batches' rows (the \
             gradient of the group as one batch when the model has no batch statistics); moving \
             statistics become the same weighted mean of each batch's update."
        }
        TrainAlgo::AllreduceParallelBatches => {
            "as looped_minibatch, with the mini-batches of a group computed in parallel (parfor): \
             groups of parallel_batches mini-batches, their gradients averaged weighted by rows into one \
             update per group (for a model without batch statistics, minibatch with batch_size = \
             parallel_batches * batch_size)."
        }
    }
}

fn bool_text(b: bool) -> &'static str {
    if b { "TRUE" } else { "FALSE" }
}

/// A DML string literal.
fn quote(s: &str) -> String {
    format!("\"{}\"", escape(s))
}

/// A comment wrapped at about 100 columns.
fn comment_wrapped(code: &mut Code, text: &str) {
    let width = 96usize.saturating_sub(2 * code.indent).max(40);
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.len() + 1 + word.len() > width {
            code.comment(&line);
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        code.comment(&line);
    }
}

/// A line of code at `indent` more levels.
fn indent_line(l: &str, indent: usize) -> String {
    if l.is_empty() { String::new() } else { format!("{}{l}", "  ".repeat(indent)) }
}

/// Nodes in the order they run, for the summary.
pub fn node_order(g: &Graph) -> Vec<NodeId> {
    (0..g.nodes.len()).collect()
}
