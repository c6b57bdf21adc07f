//! The converter's Rust API: load a model, get its scripts and weights, write them to a folder,
//! and run them through the embedding session ([`crate::session::PreparedScript`]) without
//! touching the file system.

use std::collections::BTreeMap;
use std::path::Path;

use ndarray::Array2;

use crate::convert::emit::optim::{self, OptimizerState, StateVar};
use crate::convert::error::ConvertError;
use crate::convert::ir::{Graph, ParamId};
use crate::convert::keras::{self, DType, KerasFile, Tensor};
use crate::convert::script::{self, Io, TestAlgo, TrainOptions};
use crate::session::{PreparedScript, Results};

/// A converted model: the graph with its weights in the DML layout, and its optimizer's state.
#[derive(Debug, Clone)]
pub struct Model {
    pub graph: Graph,
    /// The file it came from (for writing trained weights back), when it was a Keras file.
    pub keras: Option<KerasFile>,
    /// The optimizer's state that training continues from (Keras's saved state when the file has
    /// one, else a fresh one); `None` for a model without compile settings. Training updates it.
    pub optimizer: Option<OptimizerState>,
    /// Why the file's optimizer state could not be mapped onto the model's variables, when it
    /// could not: training then starts from a fresh state, as Keras's own loader does (it warns
    /// and skips such variables).
    optimizer_problem: Option<String>,
    /// The Caffe settings (solver, loss layer, multipliers) of a model from Caffe files: its
    /// scripts are Caffe's solver loop, its optimizer state Caffe's history blobs.
    pub caffe: Option<Box<crate::convert::caffe::CaffeInfo>>,
}

/// Loads and converts a Keras model file (`.keras`, or a legacy `.h5`).
pub fn load_keras(path: &Path) -> Result<Model, ConvertError> {
    from_keras_file(keras::open(path)?)
}

/// Loads and converts an ONNX model file (`.onnx`). It has no training settings: see
/// [`Model::set_training`] to fine-tune it.
pub fn load_onnx(path: &Path) -> Result<Model, ConvertError> {
    Model::from_graph(crate::convert::onnx::load(path)?)
}

/// Converts an ONNX model already in memory (`name` is used in messages).
pub fn onnx_from_bytes(bytes: &[u8], name: &str) -> Result<Model, ConvertError> {
    Model::from_graph(crate::convert::onnx::from_bytes(bytes, name)?)
}

/// Converts a Keras model file already in memory.
pub fn keras_from_bytes(bytes: Vec<u8>, name: &str) -> Result<Model, ConvertError> {
    from_keras_file(keras::from_bytes(bytes, name)?)
}

/// Converts a Keras model file already read (its config may have been edited by the caller).
pub fn from_keras_file(file: KerasFile) -> Result<Model, ConvertError> {
    let mut graph = keras::lower::lower(&file)?;
    crate::convert::layout::assign_layouts(&mut graph)?;
    let (mut optimizer, mut optimizer_problem) = (None, None);
    if let Some(t) = &graph.training {
        let saved: Vec<Vec<f64>> = file.optimizer.iter().map(|v| v.data.clone()).collect();
        match OptimizerState::from_keras(&graph, &t.optimizer, &saved) {
            Ok(st) => optimizer = Some(st),
            Err(e) => {
                optimizer = Some(OptimizerState::fresh(&graph, &t.optimizer));
                optimizer_problem = Some(e);
            }
        }
    }
    Ok(Model { graph, keras: Some(file), optimizer, optimizer_problem, caffe: None })
}

impl Model {
    /// A model from Caffe files (see [`crate::convert::caffe`]): a fresh solver state.
    pub fn from_caffe(graph: Graph, info: crate::convert::caffe::CaffeInfo) -> Model {
        let mut m = Model {
            graph,
            keras: None,
            optimizer: None,
            optimizer_problem: None,
            caffe: Some(Box::new(info)),
        };
        m.reset_optimizer();
        m
    }

    fn caffe_view(&self) -> Option<crate::convert::caffe::Caffe<'_>> {
        self.caffe.as_deref().map(|info| crate::convert::caffe::Caffe { graph: &self.graph, info })
    }
}

/// A generated script in `dml fmt`'s canonical form. A script that does not parse is a bug of the
/// converter, reported as an error naming the model rather than handed to the user.
fn formatted(g: &Graph, text: String) -> Result<String, ConvertError> {
    crate::syntax::format_source(&text, crate::diagnostics::FileId(0)).map_err(|d| ConvertError::Layer {
        layer: g.name.clone(),
        class: "model".into(),
        detail: format!(
            "internal error: the generated script does not parse ({}); please report it",
            d.first().map(|d| d.message.as_str()).unwrap_or("?")
        ),
    })
}

/// The result of one forward and backward pass.
#[derive(Debug, Clone)]
pub struct Gradients {
    pub loss: f64,
    /// Gradient of each trainable parameter, in the DML layout, by parameter id.
    pub grads: BTreeMap<ParamId, Array2<f64>>,
    /// Non-trainable parameters after the pass (batch normalization's moving statistics).
    pub updated: BTreeMap<ParamId, Array2<f64>>,
}

/// Per-epoch values of a training run, by Keras's history keys.
pub type History = BTreeMap<String, Vec<f64>>;

/// A training run compiled and bound by [`Model::prepare_fit`], waiting for its data.
pub struct PreparedFit {
    /// The training script; inputs `X`, `y` (and `X_val`, `y_val`) are still to be bound.
    pub script: PreparedScript,
    /// The optimizer state's variables (whether each is a scalar), read back by
    /// [`Model::finish_fit`].
    state: Vec<(String, bool)>,
    validated: bool,
    reduce_lr: bool,
}

/// A value of the optimizer state bound into a training script.
enum StateValue {
    Scalar(f64),
    Matrix(Array2<f64>),
}

impl Model {
    /// A model of a lowered graph that came without a model file to write back into (ONNX):
    /// layouts assigned, a fresh optimizer when the graph has training settings.
    pub fn from_graph(mut graph: Graph) -> Result<Model, ConvertError> {
        crate::convert::layout::assign_layouts(&mut graph)?;
        let optimizer = graph.training.as_ref().map(|t| OptimizerState::fresh(&graph, &t.optimizer));
        Ok(Model { graph, keras: None, caffe: None, optimizer, optimizer_problem: None })
    }

    /// Sets the loss and optimizer (a model file without them, as ONNX files are, can then be
    /// trained); the optimizer starts afresh.
    pub fn set_training(&mut self, t: crate::convert::ir::TrainingConfig) {
        self.graph.training = Some(t);
        self.reset_optimizer();
    }

    /// The training script (Keras's `fit`), formatted as `dml fmt` prints it.
    pub fn training_script(&self, opts: &TrainOptions, io: &Io) -> Result<String, ConvertError> {
        if let Some(c) = self.caffe_view() {
            return formatted(&self.graph, crate::convert::caffe::script::training_script(c, io)?);
        }
        formatted(&self.graph, script::training_script(&self.graph, opts, io)?)
    }

    /// The prediction script (Keras's `predict`), formatted as `dml fmt` prints it.
    pub fn prediction_script(&self, io: &Io, batch_size: usize) -> Result<String, ConvertError> {
        formatted(&self.graph, script::prediction_script(&self.graph, io, batch_size)?)
    }

    /// The prediction script with a `test_algo` default.
    pub fn prediction_script_with(
        &self,
        io: &Io,
        batch_size: usize,
        test_algo: TestAlgo,
    ) -> Result<String, ConvertError> {
        formatted(&self.graph, script::prediction_script_with(&self.graph, io, batch_size, test_algo)?)
    }

    /// Why the model file's optimizer state was not used (training starts from a fresh state), if
    /// it was not: it does not match what Keras 3 keeps for this optimizer and these variables
    /// (a trained Keras 2 file, for instance).
    pub fn optimizer_warning(&self) -> Option<&str> {
        self.optimizer_problem.as_deref()
    }

    /// Starts the optimizer afresh (no step taken, the compiled learning rate).
    pub fn reset_optimizer(&mut self) {
        if let Some(c) = self.caffe_view() {
            let slots = crate::convert::caffe::script::state_vars(c)
                .into_iter()
                .map(|(p, v)| (v, Array2::zeros(self.graph.params[p].value.dim())))
                .collect();
            self.optimizer =
                Some(OptimizerState { iterations: 0.0, learning_rate: None, slots, u_product: None });
            self.optimizer_problem = None;
            return;
        }
        if let Some(t) = &self.graph.training {
            self.optimizer = Some(OptimizerState::fresh(&self.graph, &t.optimizer));
        }
        self.optimizer_problem = None;
    }

    /// The optimizer's state as Keras's `optimizer.variables` (what `model.optimizer.variables`
    /// holds after Keras's `fit`, and a `.keras` file saves): `iterations`, `learning_rate` (absent
    /// with a schedule), then the slots in Keras's order ([`optim::keras_order`]), each in the
    /// Keras variable's shape. Empty without compile settings.
    pub fn keras_optimizer_variables(&self) -> Vec<Tensor> {
        let (Some(t), Some(st)) = (&self.graph.training, &self.optimizer) else { return Vec::new() };
        let g = &self.graph;
        let float = if g.params.iter().any(|p| p.origin.float32) { DType::F32 } else { DType::F64 };
        let order = optim::keras_order(g, &t.optimizer);
        order
            .iter()
            .zip(st.to_keras(g, &t.optimizer))
            .map(|(v, data)| {
                let (shape, dtype) = match v {
                    StateVar::Iterations => (Vec::new(), DType::I64),
                    StateVar::Slot { param, .. } => (g.params[*param].origin.shape.clone(), float),
                    _ => (Vec::new(), float),
                };
                Tensor { name: format!("optimizer/{}", v.var(g)), shape, data, dtype }
            })
            .collect()
    }

    /// The optimizer state as the training script's files `weights/optimizer/<name>` (scalars as
    /// 1x1 matrices): `iterations`, `learning_rate`, `<param>_<slot>`, `nadam_u_product`.
    pub fn optimizer_matrices(&self) -> Vec<(String, Array2<f64>)> {
        self.state_values()
            .into_iter()
            .map(|(n, v)| match v {
                StateValue::Scalar(s) => (n, Array2::from_elem((1, 1), s)),
                StateValue::Matrix(m) => (n, m),
            })
            .collect()
    }

    /// The optimizer state's variables in the training script, with their values.
    fn state_values(&self) -> Vec<(String, StateValue)> {
        if let (Some(c), Some(st)) = (self.caffe_view(), &self.optimizer) {
            // Caffe's solver state: the iteration and the history blobs.
            let mut out = vec![("iterations".to_string(), StateValue::Scalar(st.iterations))];
            for (p, v) in crate::convert::caffe::script::state_vars(c) {
                let m = st
                    .slots
                    .get(&v)
                    .cloned()
                    .unwrap_or_else(|| Array2::zeros(self.graph.params[p].value.dim()));
                out.push((v, StateValue::Matrix(m)));
            }
            return out;
        }
        let (Some(t), Some(st)) = (&self.graph.training, &self.optimizer) else { return Vec::new() };
        let g = &self.graph;
        let mut out = Vec::new();
        for v in optim::keras_order(g, &t.optimizer) {
            let name = v.var(g);
            let value = match &v {
                StateVar::Iterations => StateValue::Scalar(st.iterations),
                StateVar::LearningRate => StateValue::Scalar(st.learning_rate.unwrap_or(0.0)),
                StateVar::UProduct => StateValue::Scalar(st.u_product.unwrap_or(1.0)),
                StateVar::Slot { param, init, .. } => StateValue::Matrix(
                    st.slots
                        .get(&name)
                        .cloned()
                        .unwrap_or_else(|| Array2::from_elem(g.params[*param].value.dim(), *init)),
                ),
            };
            out.push((name, value));
        }
        out
    }

    /// One training-mode forward and backward pass (the gradients the tests compare with Keras's).
    pub fn gradient_script(&self) -> Result<String, ConvertError> {
        if let Some(c) = self.caffe_view() {
            return formatted(&self.graph, crate::convert::caffe::script::gradient_script(c)?);
        }
        formatted(&self.graph, script::gradient_script(&self.graph)?)
    }

    /// Every parameter as `(name, matrix)` in the DML layout, as the weights folder holds them.
    pub fn weights(&self) -> Vec<(String, Array2<f64>)> {
        self.graph.params.iter().map(|p| (p.var.clone(), p.value.clone())).collect()
    }

    fn param_names(&self) -> Vec<String> {
        self.graph.params.iter().map(|p| p.var.clone()).collect()
    }

    fn bind_params(&self, ps: &mut PreparedScript) {
        for p in &self.graph.params {
            ps.set_matrix(&p.var, p.value.clone());
        }
    }

    /// The model's output for each row of `x` (rows flattened in Keras's order), in inference mode.
    pub fn predict(&self, x: &Array2<f64>, batch_size: usize) -> Result<Array2<f64>, String> {
        let src = self.prediction_script(&Io::Bound, batch_size).map_err(|e| e.to_string())?;
        let mut inputs = vec!["X".to_string()];
        inputs.extend(self.param_names());
        let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        let mut ps = PreparedScript::compile(&src, &inputs, &[script::OUTPUT_PRED])?;
        ps.set_matrix("X", x.clone());
        self.bind_params(&mut ps);
        let res = ps.execute()?;
        res.matrix(script::OUTPUT_PRED).ok_or_else(|| "the prediction script left no output".into())
    }

    /// One training-mode forward and backward pass over all rows of `x` against targets `y`.
    pub fn gradients(&self, x: &Array2<f64>, y: &Array2<f64>) -> Result<Gradients, String> {
        let src = self.gradient_script().map_err(|e| e.to_string())?;
        let g = &self.graph;
        let mut inputs = vec!["X".to_string(), "y".to_string()];
        inputs.extend(self.param_names());
        let trainable = g.trainable_params();
        let fixed: Vec<ParamId> = (0..g.params.len()).filter(|p| !g.params[*p].trainable).collect();
        let mut outputs = vec![script::OUTPUT_LOSS.to_string()];
        outputs.extend(trainable.iter().map(|&p| format!("d_{}", g.params[p].var)));
        outputs.extend(fixed.iter().map(|&p| g.params[p].var.clone()));
        let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        let outputs_ref: Vec<&str> = outputs.iter().map(String::as_str).collect();
        let mut ps = PreparedScript::compile(&src, &inputs, &outputs_ref)?;
        ps.set_matrix("X", x.clone());
        ps.set_matrix("y", y.clone());
        self.bind_params(&mut ps);
        let res = ps.execute()?;
        let loss = res.scalar(script::OUTPUT_LOSS).ok_or("the gradient script left no loss")?;
        let mut grads = BTreeMap::new();
        for &p in &trainable {
            let name = format!("d_{}", g.params[p].var);
            grads.insert(p, res.matrix(&name).ok_or_else(|| format!("no gradient {name}"))?);
        }
        let mut updated = BTreeMap::new();
        for &p in &fixed {
            updated.insert(p, res.matrix(&g.params[p].var).ok_or("a statistic went missing")?);
        }
        Ok(Gradients { loss, grads, updated })
    }

    /// Trains on `x`, `y` as Keras's `fit` does; the model's parameters become the trained ones.
    /// Returns the history (per-epoch loss, metrics, validation values, learning rate).
    pub fn fit(&mut self, x: &Array2<f64>, y: &Array2<f64>, opts: &TrainOptions) -> Result<History, String> {
        self.fit_with_validation(x, y, None, opts)
    }

    /// [`Self::fit`] with validation rows given separately (Keras's `validation_data`). The history
    /// has Keras's keys: `loss`, the metrics, `val_` of each when validating, and `learning_rate`
    /// with ReduceLROnPlateau; a resumed run's history includes the epochs before the checkpoint.
    pub fn fit_with_validation(
        &mut self,
        x: &Array2<f64>,
        y: &Array2<f64>,
        validation: Option<(&Array2<f64>, &Array2<f64>)>,
        opts: &TrainOptions,
    ) -> Result<History, String> {
        if self.caffe.is_some() {
            return self.fit_caffe(x, y, validation, None, opts.verbose);
        }
        let opts = TrainOptions { validation_data: validation.is_some(), ..opts.clone() };
        let mut run = self.prepare_fit(&opts, crate::compiler::Options::default())?;
        run.script.set_matrix("X", x.clone());
        run.script.set_matrix("y", y.clone());
        if let Some((xv, yv)) = validation {
            run.script.set_matrix("X_val", xv.clone());
            run.script.set_matrix("y_val", yv.clone());
        }
        let res = run.script.execute()?;
        if opts.verbose && !res.printed.is_empty() {
            print!("{}", res.printed);
        }
        self.finish_fit(&run, &res)
    }

    /// The first half of [`Self::fit_with_validation`] for a caller that runs the training script
    /// itself (an embedder with its own output, interrupt flag, or data it binds without a copy):
    /// the script compiled with `engine`'s options, the weights and the optimizer state bound.
    /// The caller binds `X` and `y` (and `X_val`, `y_val` when `opts.validation_data`), executes
    /// [`PreparedFit::script`] and hands the results to [`Self::finish_fit`]; a run that fails or
    /// is interrupted leaves the model as it was.
    pub fn prepare_fit(
        &self,
        opts: &TrainOptions,
        engine: crate::compiler::Options,
    ) -> Result<PreparedFit, String> {
        let src = self.training_script(opts, &Io::Bound).map_err(|e| e.to_string())?;
        let state = self.state_values();
        let mut inputs = vec!["X".to_string(), "y".to_string()];
        if opts.validation_data {
            inputs.push("X_val".into());
            inputs.push("y_val".into());
        }
        inputs.extend(self.param_names());
        inputs.extend(state.iter().map(|(n, _)| n.clone()));
        let mut outputs = vec![script::OUTPUT_HISTORY.to_string(), script::OUTPUT_EPOCHS_RUN.to_string()];
        outputs.extend(self.param_names());
        outputs.extend(state.iter().map(|(n, _)| n.clone()));
        let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        let outputs_ref: Vec<&str> = outputs.iter().map(String::as_str).collect();
        let mut ps = PreparedScript::compile_with(&src, &inputs, &outputs_ref, engine)?;
        self.bind_params(&mut ps);
        let mut state_names = Vec::with_capacity(state.len());
        for (name, v) in state {
            let scalar = matches!(v, StateValue::Scalar(_));
            match v {
                StateValue::Scalar(s) => ps.set_scalar(&name, s),
                StateValue::Matrix(m) => ps.set_matrix(&name, m),
            }
            state_names.push((name, scalar));
        }
        Ok(PreparedFit {
            script: ps,
            state: state_names,
            validated: opts.validation_data || opts.validation_split > 0.0,
            reduce_lr: opts.reduce_lr.is_some(),
        })
    }

    /// The second half of [`Self::prepare_fit`]: the trained weights and optimizer state from the
    /// run's results into the model, and the history (as [`Self::fit_with_validation`] returns it).
    pub fn finish_fit(&mut self, run: &PreparedFit, res: &Results) -> Result<History, String> {
        let g = &self.graph;
        let runs = res.scalar(script::OUTPUT_EPOCHS_RUN).unwrap_or(0.0) as usize;
        let hist = res.matrix(script::OUTPUT_HISTORY).ok_or("the training script left no history")?;
        let cols = script::history_columns(g, true);
        let ntrain = 1 + g.training.as_ref().map_or(0, |t| t.metrics.len());
        let mut history = History::new();
        for (k, c) in cols.iter().enumerate() {
            let is_val = k >= ntrain && k + 1 < cols.len();
            let is_lr = k + 1 == cols.len();
            if (is_val && !run.validated) || (is_lr && !run.reduce_lr) || k >= hist.ncols() {
                continue;
            }
            history.insert(c.clone(), hist.column(k).iter().take(runs).copied().collect());
        }
        // Everything is read before anything changes, so a result missing leaves the model whole.
        let mut params = Vec::with_capacity(g.params.len());
        for p in &g.params {
            params.push(res.matrix(&p.var).ok_or_else(|| format!("the training script left no {}", p.var))?);
        }
        let mut st = self.optimizer.clone();
        if let Some(st) = st.as_mut() {
            for (name, scalar) in &run.state {
                if *scalar {
                    let value =
                        res.scalar(name).ok_or_else(|| format!("the training script left no {name}"))?;
                    match name.as_str() {
                        "iterations" => st.iterations = value,
                        "learning_rate" => st.learning_rate = Some(value),
                        _ => st.u_product = Some(value),
                    }
                } else {
                    let m = res.matrix(name).ok_or_else(|| format!("the training script left no {name}"))?;
                    st.slots.insert(name.clone(), m);
                }
            }
        }
        for (p, m) in self.graph.params.iter_mut().zip(params) {
            p.value = m;
        }
        self.optimizer = st;
        Ok(history)
    }

    /// Trains a Caffe model with its solver's loop for `max_iter` iterations (default: the
    /// solver's), continuing its solver state. The history has `iteration`, `loss` (each
    /// iteration's batch loss) and `lr`.
    pub fn fit_caffe(
        &mut self,
        x: &Array2<f64>,
        y: &Array2<f64>,
        validation: Option<(&Array2<f64>, &Array2<f64>)>,
        max_iter: Option<usize>,
        verbose: bool,
    ) -> Result<History, String> {
        let Some(info) = self.caffe.as_deref() else { return Err("not a Caffe model".into()) };
        let mut info = info.clone();
        info.bound_validation = validation.is_some();
        let start = self.optimizer.as_ref().map_or(0.0, |s| s.iterations);
        if let Some(n) = max_iter {
            info.solver.max_iter = start as usize + n;
        }
        let view = crate::convert::caffe::Caffe { graph: &self.graph, info: &info };
        let src = formatted(
            &self.graph,
            crate::convert::caffe::script::training_script(view, &Io::Bound).map_err(|e| e.to_string())?,
        )
        .map_err(|e| e.to_string())?;
        let state = self.state_values();
        let mut inputs = vec!["X".to_string(), "y".to_string()];
        if validation.is_some() {
            inputs.push("X_val".into());
            inputs.push("y_val".into());
        }
        inputs.extend(self.param_names());
        inputs.extend(state.iter().map(|(n, _)| n.clone()));
        let mut outputs = vec![crate::convert::caffe::script::OUTPUT_HISTORY.to_string()];
        outputs.extend(self.param_names());
        outputs.extend(state.iter().map(|(n, _)| n.clone()));
        let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        let outputs_ref: Vec<&str> = outputs.iter().map(String::as_str).collect();
        let mut ps = PreparedScript::compile(&src, &inputs, &outputs_ref)?;
        ps.set_matrix("X", x.clone());
        ps.set_matrix("y", y.clone());
        if let Some((xv, yv)) = validation {
            ps.set_matrix("X_val", xv.clone());
            ps.set_matrix("y_val", yv.clone());
        }
        self.bind_params(&mut ps);
        for (name, v) in &state {
            match v {
                StateValue::Scalar(s) => ps.set_scalar(name, *s),
                StateValue::Matrix(m) => ps.set_matrix(name, m.clone()),
            }
        }
        let res = ps.execute()?;
        if verbose && !res.printed.is_empty() {
            print!("{}", res.printed);
        }
        let hist = res
            .matrix(crate::convert::caffe::script::OUTPUT_HISTORY)
            .ok_or("the training script left no history")?;
        let end = res.scalar("iterations").unwrap_or(start);
        let runs = (end - start).max(0.0) as usize;
        let mut history = History::new();
        for (k, key) in ["iteration", "loss", "lr"].iter().enumerate() {
            history.insert(key.to_string(), hist.column(k).iter().take(runs).copied().collect());
        }
        let names = self.param_names();
        for (p, name) in names.iter().enumerate() {
            if let Some(m) = res.matrix(name) {
                self.graph.params[p].value = m;
            }
        }
        if let Some(st) = self.optimizer.as_mut() {
            st.iterations = end;
            for (name, v) in &state {
                if let StateValue::Matrix(_) = v
                    && let Some(m) = res.matrix(name)
                {
                    st.slots.insert(name.clone(), m);
                }
            }
        }
        Ok(history)
    }

    /// The value of every parameter in the framework's own layout (row-major data), by parameter.
    pub fn framework_weights(&self) -> Vec<Vec<f64>> {
        self.graph.params.iter().map(|p| p.origin.transform.to_framework(&p.value)).collect()
    }

    /// Replaces every parameter by the matrix of the same name in `dir` (a weights folder as the
    /// training script writes it).
    pub fn read_weights_dir(&mut self, dir: &Path) -> Result<(), ConvertError> {
        for p in &mut self.graph.params {
            let path = dir.join(&p.var);
            let m = crate::runtime::io::read_matrix(&path, &Default::default()).map_err(|e| {
                ConvertError::Io {
                    path: path.clone(),
                    action: "read",
                    source: std::io::Error::other(e.to_string()),
                }
            })?;
            let dense = m.to_dense();
            if dense.dim() != p.value.dim() {
                return Err(ConvertError::Io {
                    path,
                    action: "use as a weight",
                    source: std::io::Error::other(format!(
                        "it is {}x{}, the model's {} is {}x{}",
                        dense.nrows(),
                        dense.ncols(),
                        p.var,
                        p.value.nrows(),
                        p.value.ncols()
                    )),
                });
            }
            p.value = dense;
        }
        // The optimizer state the training script writes beside them, when there is one.
        let opt_dir = dir.join("optimizer");
        if opt_dir.is_dir() {
            let mut state = self.optimizer.clone();
            for (name, old) in self.optimizer_matrices() {
                let path = opt_dir.join(&name);
                let m = crate::runtime::io::read_matrix(&path, &Default::default())
                    .map_err(|e| ConvertError::Io {
                        path: path.clone(),
                        action: "read",
                        source: std::io::Error::other(e.to_string()),
                    })?
                    .to_dense();
                if m.dim() != old.dim() {
                    return Err(ConvertError::Io {
                        path,
                        action: "use as optimizer state",
                        source: std::io::Error::other(format!(
                            "it is {}x{}, the model's {name} is {}x{}",
                            m.nrows(),
                            m.ncols(),
                            old.nrows(),
                            old.ncols()
                        )),
                    });
                }
                if let Some(st) = state.as_mut() {
                    match name.as_str() {
                        "iterations" => st.iterations = m[[0, 0]],
                        "learning_rate" => st.learning_rate = Some(m[[0, 0]]),
                        optim::NADAM_U_PRODUCT => st.u_product = Some(m[[0, 0]]),
                        _ => {
                            st.slots.insert(name, m);
                        }
                    }
                }
            }
            self.optimizer = state;
            self.optimizer_problem = None;
        }
        Ok(())
    }

    /// Writes the model with its current weights as a `.keras` file that Keras loads (from a
    /// legacy `.h5` original too).
    pub fn save_keras(&self, dst: &Path) -> Result<(), ConvertError> {
        let Some(file) = &self.keras else {
            return Err(ConvertError::Io {
                path: dst.to_path_buf(),
                action: "write",
                source: std::io::Error::other("the model did not come from a Keras file"),
            });
        };
        let mut layers: BTreeMap<String, Vec<(usize, keras::Tensor)>> = BTreeMap::new();
        for p in &self.graph.params {
            let o = &p.origin;
            let data = o.transform.to_framework(&p.value);
            let dtype = if o.float32 { keras::DType::F32 } else { keras::DType::F64 };
            let t = keras::Tensor { name: o.name.clone(), shape: o.shape.clone(), data, dtype };
            layers.entry(o.layer_key.clone()).or_default().push((o.index, t));
        }
        let new: BTreeMap<String, Vec<keras::Tensor>> = layers
            .into_iter()
            .map(|(k, mut v)| {
                v.sort_by_key(|(i, _)| *i);
                v.dedup_by_key(|(i, _)| *i);
                (k, v.into_iter().map(|(_, t)| t).collect())
            })
            .collect();
        // The optimizer state in Keras's order. The writer keeps the original's variable count: a
        // file saved after training gets the whole state; one saved before the first step (only
        // iterations and learning_rate) gets those two.
        let ours = self.keras_optimizer_variables();
        let n = file.optimizer.len();
        let opt: Option<Vec<keras::Tensor>> = (n > 0 && (n == ours.len() || (n <= 2 && n < ours.len())))
            .then(|| {
                ours.into_iter()
                    .zip(&file.optimizer)
                    .map(|(mut t, o)| {
                        t.name = o.name.clone();
                        t.dtype = o.dtype;
                        t
                    })
                    .collect()
            });
        keras::write_keras(file, &new, opt.as_deref(), dst)
    }

    /// A text table of the layers with output shapes and parameter counts, as Keras's `summary()`.
    pub fn summary(&self) -> String {
        crate::convert::summary::summary(&self.graph)
    }

    /// Writes `train.dml`, `predict.dml`, `weights/` (one SystemDS binary matrix with `.mtd` per
    /// parameter) and the converter library files the scripts use into `dir`, atomically: into a
    /// temporary folder beside it, renamed into place at the end.
    pub fn write_dir(&self, dir: &Path, opts: &TrainOptions) -> Result<(), ConvertError> {
        crate::convert::output::write_dir(self, dir, opts)
    }
}
