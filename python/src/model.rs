//! The converters from Python: the one module of the package that uses `dml::convert` (load,
//! scripts, summary, weights, the Keras file back), so that the converters' growth touches only
//! this file. [`ConvertedModel`] is a converted model of any frontend (a `dml::convert::Model`):
//! `load_keras`, `load_onnx` (loss and optimizer chosen by the user: an ONNX file has none) and
//! `load_caffe`, behind `Keras2DML`, `ONNX2DML` and `Caffe2DML` in `dml/keras2dml.py`. Prediction
//! and the scripts are the same for every frontend; a Caffe model trains with Caffe's solver loop
//! (`fit_caffe`), the others with Keras's `fit`.
//!
//! Training and prediction run the converter's generated scripts ([`Io::Bound`]) through a
//! prepared script like `dml.Script`: without the interpreter lock, printing to `sys.stdout`
//! (the per-epoch line), interruptible by Ctrl-C (an interrupted `fit` leaves the weights as they
//! were), with the data lent without a copy where the layout allows.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use dml::compiler::Options;
use dml::convert::emit::{Code, loss, metric};
use dml::convert::ir::{Graph, LearningRate, Loss, loss_key};
use dml::convert::script::{
    self, EarlyStopping, Io, MonitorMode, ReduceLrOnPlateau, TestAlgo, TrainAlgo, TrainOptions,
};
use dml::convert::{ConvertError, Model};
use dml::session::PreparedScript;
use numpy::PyArray2;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::DMLError;
use crate::exec;
use crate::values::{self, Lent};

fn convert_err(e: ConvertError) -> PyErr {
    DMLError::new_err(e.to_string())
}

/// A model converted to DML, with its current weights (the native side of `Keras2DML`,
/// `ONNX2DML` and `Caffe2DML`).
#[pyclass(module = "dml._dml", frozen)]
pub struct ConvertedModel {
    model: Mutex<Model>,
    /// The prediction script compiled for a batch size (weights are inputs: it survives `fit`).
    predictor: Mutex<Option<(usize, TestAlgo, PreparedScript)>>,
    interrupt: Arc<AtomicBool>,
}

impl ConvertedModel {
    fn model(&self) -> std::sync::MutexGuard<'_, Model> {
        self.model.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn new(model: Model) -> Self {
        ConvertedModel {
            model: Mutex::new(model),
            predictor: Mutex::new(None),
            interrupt: Arc::new(AtomicBool::new(false)),
        }
    }

    fn options(&self) -> Options {
        Options { interrupt: Some(self.interrupt.clone()), ..Options::default() }
    }

    fn prepared(&self, src: &str, inputs: &[String], outputs: &[String]) -> PyResult<PreparedScript> {
        let ins: Vec<&str> = inputs.iter().map(String::as_str).collect();
        let outs: Vec<&str> = outputs.iter().map(String::as_str).collect();
        let mut ps = PreparedScript::compile_with(src, &ins, &outs, self.options()).map_err(|e| {
            DMLError::new_err(format!(
                "internal error: a generated script does not compile; please report it\n{e}"
            ))
        })?;
        ps.set_output(exec::python_output());
        ps.keep_inputs(false);
        Ok(ps)
    }
}

/// The model's single output: (positions per example, last axis).
fn output_dims(g: &Graph) -> PyResult<(usize, usize)> {
    let [out] = g.outputs[..] else {
        return Err(DMLError::new_err(format!(
            "the model has {} outputs; only models with one output can be converted yet",
            g.outputs.len()
        )));
    };
    let t = g.tensor(out);
    let last = t.shape.last().copied().unwrap_or(1).max(1);
    Ok((t.width() / last, last))
}

fn param_names(g: &Graph) -> Vec<String> {
    g.params.iter().map(|p| p.var.clone()).collect()
}

fn bind_params(ps: &mut PreparedScript, g: &Graph) {
    for p in &g.params {
        ps.set_matrix(&p.var, p.value.clone());
    }
}

fn train_algo(name: &str) -> PyResult<TrainAlgo> {
    [TrainAlgo::Minibatch, TrainAlgo::Batch, TrainAlgo::LoopedMinibatch, TrainAlgo::AllreduceParallelBatches]
        .into_iter()
        .find(|a| a.name() == name)
        .ok_or_else(|| {
            PyValueError::new_err(format!(
                "train_algo='{name}': one of 'minibatch' (Keras's fit), 'batch', 'looped_minibatch', \
                 'allreduce_parallel_batches'"
            ))
        })
}

fn test_algo(name: &str) -> PyResult<TestAlgo> {
    match name {
        "minibatch" | "allreduce" => Ok(TestAlgo::Minibatch),
        "batch" => Ok(TestAlgo::Batch),
        other => Err(PyValueError::new_err(format!(
            "test_algo='{other}': one of 'minibatch', 'batch' (all rows at once), 'allreduce' (as minibatch)"
        ))),
    }
}

fn monitor_mode(name: &str) -> PyResult<MonitorMode> {
    [MonitorMode::Auto, MonitorMode::Min, MonitorMode::Max]
        .into_iter()
        .find(|m| m.name() == name)
        .ok_or_else(|| PyValueError::new_err(format!("mode='{name}': one of 'auto', 'min', 'max'")))
}

/// Reads the settings a dict holds, refusing keys it does not know (a misspelt setting is an
/// error, not silently a default).
struct Settings<'a, 'py> {
    dict: Option<&'a Bound<'py, PyDict>>,
    what: &'static str,
    known: &'static [&'static str],
}

impl<'py> Settings<'_, 'py> {
    fn check(&self) -> PyResult<()> {
        if let Some(d) = self.dict {
            for k in d.keys() {
                let k: String = k.extract()?;
                if !self.known.contains(&k.as_str()) {
                    return Err(PyValueError::new_err(format!(
                        "{}: unknown setting `{k}` (known: {})",
                        self.what,
                        self.known.join(", ")
                    )));
                }
            }
        }
        Ok(())
    }

    fn get<T: for<'a> FromPyObject<'a, 'py>>(&self, key: &str) -> PyResult<Option<T>> {
        let Some(d) = self.dict else { return Ok(None) };
        match d.get_item(key)? {
            Some(v) if !v.is_none() => v
                .extract::<T>()
                .map(Some)
                .map_err(|e| PyValueError::new_err(format!("{}: `{key}`: {}", self.what, e.into()))),
            _ => Ok(None),
        }
    }

    fn dict(&self, key: &str) -> PyResult<Option<Bound<'py, PyDict>>> {
        let Some(d) = self.dict else { return Ok(None) };
        match d.get_item(key)? {
            Some(v) if !v.is_none() => Ok(Some(v.cast_into::<PyDict>()?)),
            _ => Ok(None),
        }
    }
}

/// Keras's `EarlyStopping` from a dict of its arguments (Keras's defaults for those left out).
fn early_stopping(d: &Bound<'_, PyDict>) -> PyResult<EarlyStopping> {
    let s = Settings {
        dict: Some(d),
        what: "EarlyStopping",
        known: &[
            "monitor",
            "min_delta",
            "patience",
            "mode",
            "baseline",
            "restore_best_weights",
            "start_from_epoch",
        ],
    };
    s.check()?;
    let def = EarlyStopping::default();
    Ok(EarlyStopping {
        monitor: s.get("monitor")?.unwrap_or(def.monitor),
        min_delta: s.get("min_delta")?.unwrap_or(def.min_delta),
        patience: s.get("patience")?.unwrap_or(def.patience),
        mode: s.get::<String>("mode")?.map(|m| monitor_mode(&m)).transpose()?.unwrap_or(def.mode),
        baseline: s.get("baseline")?,
        restore_best_weights: s.get("restore_best_weights")?.unwrap_or(def.restore_best_weights),
        start_from_epoch: s.get("start_from_epoch")?.unwrap_or(def.start_from_epoch),
    })
}

/// Keras's `ReduceLROnPlateau` from a dict of its arguments.
fn reduce_lr(d: &Bound<'_, PyDict>) -> PyResult<ReduceLrOnPlateau> {
    let s = Settings {
        dict: Some(d),
        what: "ReduceLROnPlateau",
        known: &["monitor", "factor", "patience", "mode", "min_delta", "cooldown", "min_lr"],
    };
    s.check()?;
    let def = ReduceLrOnPlateau::default();
    Ok(ReduceLrOnPlateau {
        monitor: s.get("monitor")?.unwrap_or(def.monitor),
        factor: s.get("factor")?.unwrap_or(def.factor),
        patience: s.get("patience")?.unwrap_or(def.patience),
        mode: s.get::<String>("mode")?.map(|m| monitor_mode(&m)).transpose()?.unwrap_or(def.mode),
        min_delta: s.get("min_delta")?.unwrap_or(def.min_delta),
        cooldown: s.get("cooldown")?.unwrap_or(def.cooldown),
        min_lr: s.get("min_lr")?.unwrap_or(def.min_lr),
    })
}

/// The converter's [`TrainOptions`] from the estimator's settings dict (Keras's `fit` arguments and
/// SystemML's `train_algo`, `test_algo`, `parallel_batches`); defaults are Keras's.
fn train_options(settings: Option<&Bound<'_, PyDict>>) -> PyResult<TrainOptions> {
    let s = Settings {
        dict: settings,
        what: "training settings",
        known: &[
            "epochs",
            "batch_size",
            "validation_split",
            "shuffle",
            "seed",
            "train_algo",
            "parallel_batches",
            "test_algo",
            "early_stopping",
            "reduce_lr",
            "log",
            "checkpoint",
            "resume",
            "verbose",
        ],
    };
    s.check()?;
    let def = TrainOptions::default();
    Ok(TrainOptions {
        epochs: s.get("epochs")?.unwrap_or(def.epochs),
        batch_size: s.get::<usize>("batch_size")?.unwrap_or(def.batch_size).max(1),
        validation_split: s.get("validation_split")?.unwrap_or(def.validation_split),
        validation_data: false,
        shuffle: s.get("shuffle")?.unwrap_or(def.shuffle),
        seed: s.get("seed")?.unwrap_or(def.seed),
        algo: s.get::<String>("train_algo")?.map(|a| train_algo(&a)).transpose()?.unwrap_or(def.algo),
        parallel_batches: s.get::<usize>("parallel_batches")?.unwrap_or(def.parallel_batches).max(1),
        test_algo: s.get::<String>("test_algo")?.map(|a| test_algo(&a)).transpose()?.unwrap_or(def.test_algo),
        early_stopping: s.dict("early_stopping")?.as_ref().map(early_stopping).transpose()?,
        reduce_lr: s.dict("reduce_lr")?.as_ref().map(reduce_lr).transpose()?,
        log: s.get("log")?,
        checkpoint: s.get("checkpoint")?,
        resume: s.get("resume")?,
        verbose: s.get("verbose")?.unwrap_or(def.verbose),
    })
}

#[pymethods]
impl ConvertedModel {
    /// Loads and converts a Keras model file (`.keras`, or a legacy `.h5`).
    #[staticmethod]
    fn load_keras(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let model = py.detach(|| dml::convert::load_keras(&path)).map_err(convert_err)?;
        Ok(ConvertedModel::new(model))
    }

    /// Loads and converts an ONNX model file. An ONNX file holds no training settings: `loss`
    /// (a Keras loss name) makes it trainable, with `optimizer` (a Keras optimizer name, `"sgd"`
    /// when left out) and its `learning_rate` (the optimizer's default when left out).
    #[staticmethod]
    #[pyo3(signature = (path, loss=None, optimizer=None, learning_rate=None))]
    fn load_onnx(
        py: Python<'_>,
        path: PathBuf,
        loss: Option<String>,
        optimizer: Option<String>,
        learning_rate: Option<f64>,
    ) -> PyResult<Self> {
        let training = match (&loss, &optimizer) {
            (Some(l), o) => Some(
                dml::convert::onnx::training_config(l, o.as_deref().unwrap_or("sgd"), learning_rate)
                    .map_err(|e| PyValueError::new_err(format!("{}: {e}", path.display())))?,
            ),
            (None, Some(_)) => {
                return Err(PyValueError::new_err("optimizer= needs loss= too (an ONNX file has neither)"));
            }
            (None, None) if learning_rate.is_some() => {
                return Err(PyValueError::new_err(
                    "learning_rate= needs loss= (an ONNX file has no optimizer)",
                ));
            }
            (None, None) => None,
        };
        let mut model = py.detach(|| dml::convert::load_onnx(&path)).map_err(convert_err)?;
        if let Some(t) = training {
            model.set_training(t);
        }
        Ok(ConvertedModel::new(model))
    }

    /// Loads and converts a Caffe network (`NET.prototxt`), with its solver (`SOLVER.prototxt`,
    /// the training settings) and trained weights (a binary `.caffemodel`) when given;
    /// `input_shape` is a Data layer's `(C, H, W)`, which a prototxt does not say.
    #[staticmethod]
    #[pyo3(signature = (network, solver=None, weights=None, input_shape=None))]
    fn load_caffe(
        py: Python<'_>,
        network: PathBuf,
        solver: Option<PathBuf>,
        weights: Option<PathBuf>,
        input_shape: Option<Vec<usize>>,
    ) -> PyResult<Self> {
        let opts = dml::convert::caffe::NetOptions { input_shape, seed: 0 };
        let model = py
            .detach(|| dml::convert::load_caffe_with(&network, solver.as_deref(), weights.as_deref(), &opts))
            .map_err(convert_err)?;
        Ok(ConvertedModel::new(model))
    }

    /// Trains a Caffe model with its solver's loop for `max_iter` iterations (the solver's when
    /// left out), continuing the solver state (iteration count, history blobs). `y` holds what
    /// the loss layer reads (class ids for SoftmaxWithLoss). Returns `{"iteration", "loss",
    /// "lr"}`, one value per iteration.
    #[pyo3(signature = (x, y, x_val=None, y_val=None, max_iter=None, verbose=false))]
    #[allow(clippy::too_many_arguments)]
    fn fit_caffe<'py>(
        &self,
        py: Python<'py>,
        x: numpy::PyReadonlyArray2<'py, f64>,
        y: numpy::PyReadonlyArray2<'py, f64>,
        x_val: Option<numpy::PyReadonlyArray2<'py, f64>>,
        y_val: Option<numpy::PyReadonlyArray2<'py, f64>>,
        max_iter: Option<usize>,
        verbose: bool,
    ) -> PyResult<Bound<'py, PyDict>> {
        let (x, y) = (x.as_array().to_owned(), y.as_array().to_owned());
        let validation = match (x_val, y_val) {
            (Some(xv), Some(yv)) => Some((xv.as_array().to_owned(), yv.as_array().to_owned())),
            (None, None) => None,
            _ => return Err(PyValueError::new_err("x_val and y_val go together")),
        };
        let history = {
            let mut guard = self.model();
            let m: &mut Model = &mut guard;
            if m.caffe.is_none() {
                return Err(DMLError::new_err("fit_caffe: not a Caffe model (use fit)"));
            }
            py.detach(|| m.fit_caffe(&x, &y, validation.as_ref().map(|(a, b)| (a, b)), max_iter, verbose))
                .map_err(DMLError::new_err)?
        };
        let dict = PyDict::new(py);
        for key in ["iteration", "loss", "lr"] {
            if let Some(v) = history.get(key) {
                dict.set_item(key, v.clone())?;
            }
        }
        Ok(dict)
    }

    /// Facts the estimator needs: input shapes, output shape, loss, metrics, parameters.
    fn info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let m = self.model();
        let g = &m.graph;
        let d = PyDict::new(py);
        d.set_item("name", &g.name)?;
        d.set_item("origin", &g.origin)?;
        let frontend = if m.caffe.is_some() {
            "caffe"
        } else if m.keras.is_some() {
            "keras"
        } else {
            "onnx"
        };
        d.set_item("frontend", frontend)?;
        if let Some(c) = m.caffe.as_deref() {
            use dml::convert::caffe::LossKind;
            let kind = c.loss.as_ref().map(|l| match l.kind {
                LossKind::SoftmaxWithLoss { .. } => "softmax_with_loss",
                LossKind::Euclidean => "euclidean",
                LossKind::SigmoidCrossEntropy => "sigmoid_cross_entropy",
            });
            d.set_item("caffe_loss", kind)?;
            d.set_item("caffe_max_iter", c.solver.max_iter)?;
            d.set_item("caffe_batch_size", c.batch_size)?;
            d.set_item("caffe_test_batch_size", c.test_batch_size)?;
        }
        let inputs: Vec<Vec<usize>> = g.inputs.iter().map(|&t| g.tensor(t).shape.clone()).collect();
        d.set_item("input_shapes", inputs)?;
        let outputs: Vec<Vec<usize>> = g.outputs.iter().map(|&t| g.tensor(t).shape.clone()).collect();
        d.set_item("output_shapes", outputs)?;
        let t = g.training.as_ref();
        d.set_item("loss", t.map(|t| loss_key(&t.loss)))?;
        d.set_item(
            "from_logits",
            t.is_some_and(|t| {
                matches!(
                    t.loss,
                    Loss::CategoricalCrossentropy { from_logits: true, .. }
                        | Loss::SparseCategoricalCrossentropy { from_logits: true }
                        | Loss::BinaryCrossentropy { from_logits: true, .. }
                )
            }),
        )?;
        d.set_item("metrics", t.map(|t| t.metrics.iter().map(|m| m.key()).collect::<Vec<_>>()))?;
        d.set_item(
            "constant_learning_rate",
            t.is_some_and(|t| matches!(t.optimizer.learning_rate, LearningRate::Constant(_))),
        )?;
        d.set_item("params", param_names(g))?;
        let (total, trainable) = g.param_counts();
        d.set_item("param_count", total)?;
        d.set_item("trainable_param_count", trainable)?;
        Ok(d)
    }

    /// Keras's `summary()` table.
    fn summary(&self) -> String {
        self.model().summary()
    }

    /// The training script for `settings` (see `train_options`). With `weights_dir` it reads its
    /// data and weights from files and writes the trained weights (as `dml convert` writes it);
    /// without, its inputs are bound variables.
    #[pyo3(signature = (settings=None, weights_dir=None))]
    fn training_script(
        &self,
        settings: Option<&Bound<'_, PyDict>>,
        weights_dir: Option<String>,
    ) -> PyResult<String> {
        let opts = train_options(settings)?;
        let io = match weights_dir {
            Some(weights_dir) => Io::Files { weights_dir },
            None => Io::Bound,
        };
        self.model().training_script(&opts, &io).map_err(convert_err)
    }

    /// The prediction script (files with `weights_dir`, bound variables without).
    #[pyo3(signature = (batch_size=32, test_algo="minibatch", weights_dir=None))]
    fn prediction_script(
        &self,
        batch_size: usize,
        test_algo: &str,
        weights_dir: Option<String>,
    ) -> PyResult<String> {
        let io = match weights_dir {
            Some(weights_dir) => Io::Files { weights_dir },
            None => Io::Bound,
        };
        let algo = self::test_algo(test_algo)?;
        self.model().prediction_script_with(&io, batch_size.max(1), algo).map_err(convert_err)
    }

    /// Trains on `x`, `y` (rows as the converter takes them: flattened examples, targets as the
    /// loss wants them) as Keras's `fit`, continuing the optimizer's state as Keras does across
    /// `fit` calls; the weights become the trained ones. Returns the history as `{key: [value per
    /// epoch]}` with the keys of Keras's `History` in its order (`loss`, the metrics, `val_*` when
    /// validating, `learning_rate` with ReduceLROnPlateau).
    #[pyo3(signature = (x, y, x_val=None, y_val=None, settings=None))]
    fn fit<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        y: &Bound<'py, PyAny>,
        x_val: Option<&Bound<'py, PyAny>>,
        y_val: Option<&Bound<'py, PyAny>>,
        settings: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let mut opts = train_options(settings)?;
        let validation = match (x_val, y_val) {
            (Some(xv), Some(yv)) => Some((xv, yv)),
            (None, None) => None,
            _ => return Err(PyValueError::new_err("x_val and y_val go together")),
        };
        opts.validation_data = validation.is_some();
        let mut lent = Lent::default();
        let mut data = vec![("X", values::to_value(x, &mut lent)?), ("y", values::to_value(y, &mut lent)?)];
        if let Some((xv, yv)) = validation {
            data.push(("X_val", values::to_value(xv, &mut lent)?));
            data.push(("y_val", values::to_value(yv, &mut lent)?));
        }
        let (mut run, columns) = {
            let m = self.model();
            let run = m.prepare_fit(&opts, self.options()).map_err(|e| {
                DMLError::new_err(format!(
                    "internal error: a generated script does not compile; please report it\n{e}"
                ))
            })?;
            (run, script::history_columns(&m.graph, true))
        };
        run.script.set_output(exec::python_output());
        run.script.keep_inputs(false);
        for (n, v) in data {
            run.script.set_value(n, v);
        }
        let result = exec::run_detached(py, &self.interrupt, || run.script.execute())?;
        let res = result.map_err(DMLError::new_err)?;
        let history = self.model().finish_fit(&run, &res).map_err(DMLError::new_err)?;
        drop(res);
        drop(run);
        drop(lent);
        let dict = PyDict::new(py);
        for c in &columns {
            if let Some(v) = history.get(c) {
                dict.set_item(c, v.clone())?;
            }
        }
        Ok(dict)
    }

    /// The model's output for each row of `x`, in inference mode, `batch_size` rows at a time
    /// (all at once with `test_algo="batch"`).
    #[pyo3(signature = (x, batch_size=32, test_algo="minibatch"))]
    fn predict<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        batch_size: usize,
        test_algo: &str,
    ) -> PyResult<Py<PyAny>> {
        let batch_size = batch_size.max(1);
        let algo = self::test_algo(test_algo)?;
        let mut lent = Lent::default();
        let xv = values::to_value(x, &mut lent)?;
        let mut slot = self.predictor.lock().unwrap_or_else(|e| e.into_inner());
        if slot.as_ref().is_none_or(|(b, a, _)| *b != batch_size || *a != algo) {
            let m = self.model();
            let src = m.prediction_script_with(&Io::Bound, batch_size, algo).map_err(convert_err)?;
            let mut inputs = vec!["X".to_string()];
            inputs.extend(param_names(&m.graph));
            *slot =
                Some((batch_size, algo, self.prepared(&src, &inputs, &[script::OUTPUT_PRED.to_string()])?));
        }
        let (_, _, ps) = slot.as_mut().expect("compiled above");
        bind_params(ps, &self.model().graph);
        ps.set_value("X", xv);
        let result = exec::run_detached(py, &self.interrupt, || {
            let r = ps.execute();
            ps.unbind("X");
            r
        })?;
        let mut res = result.map_err(DMLError::new_err)?;
        let pred = res
            .take(script::OUTPUT_PRED)
            .ok_or_else(|| DMLError::new_err("the prediction script left no output"))?;
        values::to_py(py, pred, &lent)
    }

    /// Keras's `evaluate`: the loss (with the regularization penalties) and the compiled metrics
    /// over all rows, in inference mode, as `{"loss": ..., metric: ...}`.
    #[pyo3(signature = (x, y, batch_size=32))]
    fn evaluate<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        y: &Bound<'py, PyAny>,
        batch_size: usize,
    ) -> PyResult<Bound<'py, PyDict>> {
        let mut lent = Lent::default();
        let (xv, yv) = (values::to_value(x, &mut lent)?, values::to_value(y, &mut lent)?);
        let (mut ps, keys) = {
            let m = self.model();
            let g = &m.graph;
            let t = g.training.as_ref().ok_or_else(|| {
                DMLError::new_err("the model was saved without compile settings (loss and optimizer)")
            })?;
            let (lead, last) = output_dims(g)?;
            let mut src = m.prediction_script(&Io::Bound, batch_size.max(1)).map_err(convert_err)?;
            let mut code = Code::default();
            let vars = loss::LossVars {
                pred: script::OUTPUT_PRED,
                y: "y",
                value: "loss_value",
                grad: None,
                lead,
                last,
            };
            loss::emit(&mut code, &t.loss, &vars);
            for p in g.params.iter().filter(|p| p.trainable) {
                if let Some(r) = p.regularizer {
                    let v = &p.var;
                    code.line(format!(
                        "loss_value = loss_value + {} * sum(abs({v}))",
                        dml::convert::emit::num(r.l1)
                    ));
                    code.line(format!(
                        "loss_value = loss_value + {} * sum({v}^2)",
                        dml::convert::emit::num(r.l2)
                    ));
                }
            }
            let mut keys = vec!["loss".to_string()];
            let mut outputs = vec!["loss_value".to_string()];
            for (k, mt) in t.metrics.iter().enumerate() {
                let resolved = metric::resolve(mt, &t.loss, last);
                metric::emit(&mut code, &resolved, script::OUTPUT_PRED, "y", "metric_batch", lead, last);
                code.line(format!("metric_{k} = metric_batch / (nrow(y) * {lead})"));
                keys.push(mt.key());
                outputs.push(format!("metric_{k}"));
            }
            src.push('\n');
            src.push_str(&code.text());
            let mut inputs = vec!["X".to_string(), "y".to_string()];
            inputs.extend(param_names(g));
            let mut ps = self.prepared(&src, &inputs, &outputs)?;
            bind_params(&mut ps, g);
            (ps, keys.into_iter().zip(outputs).collect::<Vec<_>>())
        };
        ps.set_value("X", xv);
        ps.set_value("y", yv);
        let result = exec::run_detached(py, &self.interrupt, || ps.execute())?;
        let res = result.map_err(DMLError::new_err)?;
        drop(lent);
        let d = PyDict::new(py);
        for (key, var) in keys {
            d.set_item(key, res.scalar(&var))?;
        }
        Ok(d)
    }

    /// Every parameter as `{name: matrix}` in the DML layout (copies).
    fn weights<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (name, w) in self.model().weights() {
            d.set_item(name, PyArray2::from_owned_array(py, w))?;
        }
        Ok(d)
    }

    /// Replaces every parameter by the matrix of the same name in `dir` (a weights folder as the
    /// training script or `write_dir` writes it).
    fn read_weights(&self, py: Python<'_>, dir: PathBuf) -> PyResult<()> {
        let mut guard = self.model();
        let m: &mut Model = &mut guard;
        py.detach(|| m.read_weights_dir(&dir)).map_err(convert_err)
    }

    /// Writes `train.dml`, `predict.dml` and `weights/` into `dir` (as `dml convert` does), the
    /// scripts' defaults from `settings`.
    #[pyo3(signature = (dir, settings=None))]
    fn write_dir(&self, py: Python<'_>, dir: PathBuf, settings: Option<&Bound<'_, PyDict>>) -> PyResult<()> {
        let opts = train_options(settings)?;
        let m = self.model();
        py.detach(|| m.write_dir(&dir, &opts)).map_err(convert_err)
    }

    /// Starts the optimizer afresh (no step taken, the compiled learning rate).
    fn reset_optimizer(&self) {
        self.model().reset_optimizer();
    }

    /// Why the model file's optimizer state was not used, if it was not.
    fn optimizer_warning(&self) -> Option<String> {
        self.model().optimizer_warning().map(str::to_string)
    }

    /// Writes the model with its current weights as a `.keras` file that Keras loads.
    fn save_keras(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        let m = self.model();
        py.detach(|| m.save_keras(&path)).map_err(convert_err)
    }
}
