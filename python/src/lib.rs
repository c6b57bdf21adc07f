//! `dml._dml`: the native half of the Python package `dml`.
//!
//! - [`Script`]: a DML script compiled once ([`dml::session::PreparedScript`]) and run many times
//!   with inputs from Python, without the interpreter lock and interruptible by Ctrl-C
//!   ([`exec`]); values cross in [`values`] (NumPy arrays without a copy where the layout
//!   allows).
//! - [`model::ConvertedModel`]: a model converted by [`dml::convert`] (Keras's so far), the one
//!   module that uses the converters.
//!
//! The user-facing API (`dml.run`, `dml.Script`, `dml.Keras2DML`, the `%%dml` magic) is the
//! pure-Python layer in `dml/`, which normalizes values before they come here.

mod exec;
mod model;
mod values;

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use dml::compiler::{CmdArgs, Options};
use dml::hops::Lit;
use dml::session::PreparedScript;
use pyo3::exceptions::{PyException, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyString};

pyo3::create_exception!(
    dml,
    DMLError,
    PyException,
    "An error of a DML script: a syntax or validation error found before it runs, or an error while \
     it runs (`stop()` included). The message is the rendered diagnostic, pointing at the script's \
     source."
);

/// Options for a compilation: the script's `$name` arguments, and the run's interrupt flag.
fn options(args: Option<&Bound<'_, PyDict>>, interrupt: &Arc<AtomicBool>) -> PyResult<Options> {
    let mut opts = Options { interrupt: Some(interrupt.clone()), ..Options::default() };
    if let Some(args) = args {
        for (k, v) in args.iter() {
            let name: String = k.extract()?;
            let lit = if let Ok(b) = v.cast::<PyBool>() {
                Lit::Bool(b.is_true())
            } else if let Ok(i) = v.cast::<PyInt>() {
                Lit::Int(i.extract()?)
            } else if let Ok(f) = v.cast::<PyFloat>() {
                Lit::Double(f.value())
            } else if let Ok(s) = v.cast::<PyString>() {
                // Typed as SystemDS types command-line values ("3" is an integer).
                CmdArgs::parse_value(s.to_str()?)
            } else {
                return Err(PyTypeError::new_err(format!(
                    "script argument `{name}` must be an int, float, bool or str"
                )));
            };
            opts.args.values.insert(name, lit);
        }
    }
    Ok(opts)
}

/// A DML script compiled once and executed many times (SystemDS JMLC's prepared script).
///
/// `Script(source, inputs, outputs, args=None, name=None)`: `inputs` are the variables bound
/// before each run, `outputs` those read after it; `args` maps `$name` (or `$1`) to its value;
/// `name` is the file the source came from (for `source()` next to it, and in diagnostics).
/// Compile errors raise `DMLError`.
#[pyclass(module = "dml._dml", frozen)]
struct Script {
    inner: Mutex<PreparedScript>,
    inputs: Vec<String>,
    outputs: Vec<String>,
    interrupt: Arc<AtomicBool>,
}

#[pymethods]
impl Script {
    #[new]
    #[pyo3(signature = (source, inputs, outputs, args=None, name=None))]
    fn new(
        py: Python<'_>,
        source: String,
        inputs: Vec<String>,
        outputs: Vec<String>,
        args: Option<&Bound<'_, PyDict>>,
        name: Option<String>,
    ) -> PyResult<Self> {
        let interrupt = Arc::new(AtomicBool::new(false));
        let opts = options(args, &interrupt)?;
        let name = name.unwrap_or_else(|| "<script>".to_string());
        let ps = py
            .detach(|| {
                let ins: Vec<&str> = inputs.iter().map(String::as_str).collect();
                let outs: Vec<&str> = outputs.iter().map(String::as_str).collect();
                PreparedScript::compile_named(&name, &source, &ins, &outs, opts)
            })
            .map_err(DMLError::new_err)?;
        let mut ps = ps;
        ps.set_output(exec::python_output());
        ps.keep_inputs(false);
        Ok(Script { inner: Mutex::new(ps), inputs, outputs, interrupt })
    }

    /// Runs the script with `inputs` (a dict with every declared input) and returns a dict of the
    /// outputs. Releases the interpreter lock while running; Ctrl-C stops the run and raises
    /// `KeyboardInterrupt`; an error of the script raises `DMLError`.
    fn execute<'py>(&self, py: Python<'py>, inputs: &Bound<'py, PyDict>) -> PyResult<Bound<'py, PyDict>> {
        let mut lent = values::Lent::default();
        let mut bound = Vec::with_capacity(self.inputs.len());
        for name in &self.inputs {
            let v = inputs
                .get_item(name)?
                .ok_or_else(|| PyTypeError::new_err(format!("missing input `{name}`")))?;
            bound.push((name.as_str(), values::to_value(&v, &mut lent)?));
        }
        for k in inputs.keys() {
            let k: String = k.extract()?;
            if !self.inputs.contains(&k) {
                return Err(PyTypeError::new_err(format!(
                    "`{k}` is not an input of this script (inputs: {})",
                    self.inputs.join(", ")
                )));
            }
        }
        let result = exec::run_detached(py, &self.interrupt, || {
            let mut ps = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            for (n, v) in bound {
                ps.set_value(n, v);
            }
            let r = ps.execute();
            // Nothing of this run stays bound (a failed run may leave inputs behind).
            for n in &self.inputs {
                ps.unbind(n);
            }
            r.map(|mut res| self.outputs.iter().map(|n| (n.clone(), res.take(n))).collect::<Vec<_>>())
        })?;
        let outs = result.map_err(DMLError::new_err)?;
        let dict = PyDict::new(py);
        for (name, v) in outs {
            if let Some(v) = v {
                dict.set_item(name, values::to_py(py, v, &lent)?)?;
            }
        }
        drop(lent);
        Ok(dict)
    }

    /// The input variables, in declaration order.
    #[getter]
    fn inputs(&self) -> Vec<String> {
        self.inputs.clone()
    }

    /// The output variables, in declaration order.
    #[getter]
    fn outputs(&self) -> Vec<String> {
        self.outputs.clone()
    }
}

/// The native half of the `dml` package (use `dml`, not this module).
#[pymodule]
fn _dml(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("DMLError", m.py().get_type::<DMLError>())?;
    m.add_class::<Script>()?;
    m.add_class::<values::FrameData>()?;
    m.add_class::<values::CsrData>()?;
    m.add_class::<model::ConvertedModel>()?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
