//! The Keras converter from Python: the one module of the package that uses `dml::convert`
//! (load, scripts, summary, weights, the Keras file back), so that the converter's growth touches
//! only this file. `dml/keras2dml.py` builds the estimator (`Keras2DML`) on [`KerasModel`].
//!
//! Training and prediction run the converter's generated scripts ([`Io::Bound`]) through a
//! prepared script like `dml.Script`: without the interpreter lock, printing to `sys.stdout`
//! (the per-epoch line), interruptible by Ctrl-C (an interrupted `fit` leaves the weights as they
//! were), with the data lent without a copy where the layout allows.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use dml::compiler::Options;
use dml::convert::emit::{Code, loss, metric};
use dml::convert::ir::{Graph, LearningRate, Loss, loss_key};
use dml::convert::script::{self, EarlyStopping, Io, TrainAlgo, TrainOptions};
use dml::convert::{ConvertError, Model};
use dml::session::PreparedScript;
use dml::types::value::Value;
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

/// A Keras model converted to DML, with its current weights (the native side of `Keras2DML`).
#[pyclass(module = "dml._dml", frozen)]
pub struct KerasModel {
    model: Mutex<Model>,
    /// The prediction script compiled for a batch size (weights are inputs: it survives `fit`).
    predictor: Mutex<Option<(usize, PreparedScript)>>,
    interrupt: Arc<AtomicBool>,
}

impl KerasModel {
    fn model(&self) -> std::sync::MutexGuard<'_, Model> {
        self.model.lock().unwrap_or_else(|e| e.into_inner())
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
    match name {
        "minibatch" => Ok(TrainAlgo::Minibatch),
        "batch" => Ok(TrainAlgo::Batch),
        other => Err(pyo3::exceptions::PyNotImplementedError::new_err(format!(
            "train_algo='{other}' is not available: the converter trains with 'minibatch' (Keras's fit) \
             or 'batch' (one update per epoch over all rows)"
        ))),
    }
}

/// Keras's `EarlyStopping` as a dict `{monitor, patience, min_delta, restore_best_weights}`.
fn early_stopping(d: &Bound<'_, PyDict>) -> PyResult<EarlyStopping> {
    let get = |k: &str| -> PyResult<Bound<'_, PyAny>> {
        d.get_item(k)?.ok_or_else(|| PyValueError::new_err(format!("early_stopping needs `{k}`")))
    };
    Ok(EarlyStopping {
        monitor: get("monitor")?.extract()?,
        patience: get("patience")?.extract()?,
        min_delta: get("min_delta")?.extract()?,
        restore_best_weights: get("restore_best_weights")?.extract()?,
    })
}

#[allow(clippy::too_many_arguments)]
fn train_options(
    epochs: usize,
    batch_size: usize,
    validation_split: f64,
    shuffle: bool,
    seed: i64,
    train_algo_name: &str,
    early: Option<&Bound<'_, PyDict>>,
    verbose: bool,
) -> PyResult<TrainOptions> {
    Ok(TrainOptions {
        epochs,
        batch_size: batch_size.max(1),
        validation_split,
        shuffle,
        seed,
        algo: train_algo(train_algo_name)?,
        early_stopping: early.map(early_stopping).transpose()?,
        verbose,
        ..TrainOptions::default()
    })
}

#[pymethods]
impl KerasModel {
    /// Loads and converts a Keras model file (`.keras`, or a legacy `.h5`).
    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let model = py.detach(|| dml::convert::load_keras(&path)).map_err(convert_err)?;
        Ok(KerasModel {
            model: Mutex::new(model),
            predictor: Mutex::new(None),
            interrupt: Arc::new(AtomicBool::new(false)),
        })
    }

    /// Facts the estimator needs: input shapes, output shape, loss, metrics, parameters.
    fn info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let m = self.model();
        let g = &m.graph;
        let d = PyDict::new(py);
        d.set_item("name", &g.name)?;
        d.set_item("origin", &g.origin)?;
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

    /// The training script. With `weights_dir` it reads its data and weights from files and writes
    /// the trained weights (as `dml convert` writes it); without, its inputs are bound variables.
    #[pyo3(signature = (epochs=1, batch_size=32, validation_split=0.0, shuffle=true, seed=-1,
                        train_algo="minibatch", early_stopping=None, verbose=true, weights_dir=None))]
    #[allow(clippy::too_many_arguments)]
    fn training_script(
        &self,
        epochs: usize,
        batch_size: usize,
        validation_split: f64,
        shuffle: bool,
        seed: i64,
        train_algo: &str,
        early_stopping: Option<&Bound<'_, PyDict>>,
        verbose: bool,
        weights_dir: Option<String>,
    ) -> PyResult<String> {
        let opts = train_options(
            epochs,
            batch_size,
            validation_split,
            shuffle,
            seed,
            train_algo,
            early_stopping,
            verbose,
        )?;
        let io = match weights_dir {
            Some(weights_dir) => Io::Files { weights_dir },
            None => Io::Bound,
        };
        self.model().training_script(&opts, &io).map_err(convert_err)
    }

    /// The prediction script (files with `weights_dir`, bound variables without).
    #[pyo3(signature = (batch_size=32, weights_dir=None))]
    fn prediction_script(&self, batch_size: usize, weights_dir: Option<String>) -> PyResult<String> {
        let io = match weights_dir {
            Some(weights_dir) => Io::Files { weights_dir },
            None => Io::Bound,
        };
        self.model().prediction_script(&io, batch_size.max(1)).map_err(convert_err)
    }

    /// Trains on `x`, `y` (rows as the converter takes them: flattened examples, targets as the
    /// loss wants them) as Keras's `fit`; the weights become the trained ones. Returns the history
    /// as `{key: [value per epoch]}` with the keys of Keras's `History` (`loss`, the metrics, and
    /// `val_*` when validating).
    #[pyo3(signature = (x, y, x_val=None, y_val=None, epochs=1, batch_size=32, validation_split=0.0,
                        shuffle=true, seed=-1, train_algo="minibatch", early_stopping=None, verbose=true))]
    #[allow(clippy::too_many_arguments)]
    fn fit<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        y: &Bound<'py, PyAny>,
        x_val: Option<&Bound<'py, PyAny>>,
        y_val: Option<&Bound<'py, PyAny>>,
        epochs: usize,
        batch_size: usize,
        validation_split: f64,
        shuffle: bool,
        seed: i64,
        train_algo: &str,
        early_stopping: Option<&Bound<'py, PyDict>>,
        verbose: bool,
    ) -> PyResult<Bound<'py, PyDict>> {
        let mut opts = train_options(
            epochs,
            batch_size,
            validation_split,
            shuffle,
            seed,
            train_algo,
            early_stopping,
            verbose,
        )?;
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
        let (mut ps, names, columns) = {
            let m = self.model();
            let src = m.training_script(&opts, &Io::Bound).map_err(convert_err)?;
            let g = &m.graph;
            let names = param_names(g);
            let mut inputs: Vec<String> = data.iter().map(|(n, _)| n.to_string()).collect();
            inputs.extend(names.iter().cloned());
            let mut outputs = vec![script::OUTPUT_HISTORY.to_string()];
            outputs.extend(names.iter().cloned());
            let mut ps = self.prepared(&src, &inputs, &outputs)?;
            bind_params(&mut ps, g);
            (ps, names, script::history_columns(g, true))
        };
        for (n, v) in data {
            ps.set_value(n, v);
        }
        let result = exec::run_detached(py, &self.interrupt, || ps.execute())?;
        drop(ps);
        let mut res = result.map_err(DMLError::new_err)?;
        let hist = res
            .matrix(script::OUTPUT_HISTORY)
            .ok_or_else(|| DMLError::new_err("the training script left no history"))?;
        let validating = validation.is_some() || validation_split > 0.0;
        let history = PyDict::new(py);
        for (k, c) in columns.iter().enumerate() {
            // Keras's History has no learning rate (only a callback that changes it logs one).
            let keep = (validating || !c.starts_with("val_")) && c != "learning_rate";
            if keep && k < hist.ncols() {
                history.set_item(c, hist.column(k).to_vec())?;
            }
        }
        let mut trained = BTreeMap::new();
        for n in &names {
            if let Some(Value::Matrix(w)) = res.take(n) {
                trained.insert(n.clone(), w.to_dense());
            }
        }
        drop(lent);
        let mut m = self.model();
        for p in &mut m.graph.params {
            if let Some(w) = trained.remove(&p.var) {
                p.value = w;
            }
        }
        Ok(history)
    }

    /// The model's output for each row of `x`, in inference mode, `batch_size` rows at a time.
    #[pyo3(signature = (x, batch_size=32))]
    fn predict<'py>(&self, py: Python<'py>, x: &Bound<'py, PyAny>, batch_size: usize) -> PyResult<Py<PyAny>> {
        let batch_size = batch_size.max(1);
        let mut lent = Lent::default();
        let xv = values::to_value(x, &mut lent)?;
        let mut slot = self.predictor.lock().unwrap_or_else(|e| e.into_inner());
        if slot.as_ref().is_none_or(|(b, _)| *b != batch_size) {
            let m = self.model();
            let src = m.prediction_script(&Io::Bound, batch_size).map_err(convert_err)?;
            let mut inputs = vec!["X".to_string()];
            inputs.extend(param_names(&m.graph));
            *slot = Some((batch_size, self.prepared(&src, &inputs, &[script::OUTPUT_PRED.to_string()])?));
        }
        let (_, ps) = slot.as_mut().expect("compiled above");
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

    /// Writes `train.dml`, `predict.dml` and `weights/` into `dir` (as `dml convert` does).
    #[pyo3(signature = (dir, epochs=1, batch_size=32, validation_split=0.0, shuffle=true, seed=-1,
                        train_algo="minibatch"))]
    #[allow(clippy::too_many_arguments)]
    fn write_dir(
        &self,
        py: Python<'_>,
        dir: PathBuf,
        epochs: usize,
        batch_size: usize,
        validation_split: f64,
        shuffle: bool,
        seed: i64,
        train_algo: &str,
    ) -> PyResult<()> {
        let opts =
            train_options(epochs, batch_size, validation_split, shuffle, seed, train_algo, None, true)?;
        let m = self.model();
        py.detach(|| m.write_dir(&dir, &opts)).map_err(convert_err)
    }

    /// Writes the model with its current weights as a `.keras` file that Keras loads.
    fn save_keras(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        let m = self.model();
        py.detach(|| m.save_keras(&path)).map_err(convert_err)
    }
}
