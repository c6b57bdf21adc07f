//! Python values to engine values and back.
//!
//! The pure-Python layer (`dml/_values.py`) has already normalized what the user passed: a
//! matrix arrives here as a 2-D float64 NumPy array, a pandas DataFrame as a [`FrameData`], a
//! scipy sparse matrix as a [`CsrData`]. What copies:
//!
//! - **In, no copy**: a C-contiguous, aligned, native float64 array becomes the engine's
//!   row-major matrix over the array's own buffer ([`Borrowed`]).
//! - **In, one copy**: a Fortran-ordered float64 array (a blocked parallel transposing copy), any
//!   other array (strided views, other dtypes: the Python layer converts those with NumPy
//!   first), frames, sparse matrices.
//! - **Out, no copy**: a matrix the script made is handed to NumPy with its buffer (NumPy owns it
//!   from then on); an output that is an input passed through unchanged is that same array.
//! - **Out, one copy**: a matrix shared by two outputs (the second one), a sparse result
//!   (densified), frames' string columns.

use std::sync::Arc;

use dml::types::frame::{ColType, Frame, FrameColumn};
use dml::types::matrix::Matrix;
use dml::types::value::{ListValue, Value};
use ndarray::Array2;
use numpy::{PyArray1, PyArray2, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::exceptions::{PyOverflowError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

/// A frame on its way between pandas and the engine: column names, SystemDS schema names
/// (`FP64`, `FP32`, `INT64`, `INT32`, `BOOLEAN`, `STRING`) and one column each (a NumPy array of
/// float64, int64 or bool, or a list of `str`/`None` for strings).
#[pyclass(module = "dml._dml", get_all, frozen)]
pub struct FrameData {
    pub names: Vec<String>,
    pub types: Vec<String>,
    pub columns: Vec<Py<PyAny>>,
}

#[pymethods]
impl FrameData {
    #[new]
    fn new(names: Vec<String>, types: Vec<String>, columns: Vec<Py<PyAny>>) -> PyResult<Self> {
        if names.len() != types.len() || names.len() != columns.len() {
            return Err(PyValueError::new_err("FrameData: names, types and columns differ in length"));
        }
        Ok(FrameData { names, types, columns })
    }

    fn __repr__(&self) -> String {
        format!("FrameData(names={:?}, types={:?})", self.names, self.types)
    }
}

/// A sparse matrix in compressed sparse rows (scipy's CSR with sorted indices and no duplicates).
#[pyclass(module = "dml._dml", frozen)]
pub struct CsrData {
    rows: usize,
    cols: usize,
    indptr: Vec<usize>,
    indices: Vec<usize>,
    data: Vec<f64>,
}

#[pymethods]
impl CsrData {
    #[new]
    fn new(
        rows: usize,
        cols: usize,
        indptr: PyReadonly1<'_, i64>,
        indices: PyReadonly1<'_, i64>,
        data: PyReadonly1<'_, f64>,
    ) -> PyResult<Self> {
        let idx = |a: &PyReadonly1<'_, i64>| -> PyResult<Vec<usize>> {
            a.as_array()
                .iter()
                .map(|&i| usize::try_from(i).map_err(|_| PyValueError::new_err("negative sparse index")))
                .collect()
        };
        Ok(CsrData {
            rows,
            cols,
            indptr: idx(&indptr)?,
            indices: idx(&indices)?,
            data: data.as_array().to_vec(),
        })
    }
}

type PyReadonly1<'py, T> = numpy::PyReadonlyArray1<'py, T>;

/// A matrix whose cells are a NumPy array's buffer, lent to the engine for one run.
///
/// The engine's dense matrix owns a `Vec<f64>`; here that `Vec` is built over NumPy's memory.
/// That is sound only because the `Vec` is never freed, grown or written through: this guard
/// keeps a second reference to the matrix for the whole run, so the engine never sees it
/// unshared and never updates it in place (it copies first, as it does for any shared value), and
/// when the guard goes the `Vec` is forgotten, not dropped. Should anything still hold the matrix
/// then (nothing in the engine keeps values past a run), the array is leaked rather than freed
/// under it. The array itself is kept alive by `owner`. The one thing the caller must not do is
/// change the array from another Python thread while a script runs (the lock on the interpreter
/// is released then), as with any NumPy function that releases it.
pub struct Borrowed {
    matrix: Option<Arc<Matrix>>,
    owner: Option<Py<PyAny>>,
}

impl Borrowed {
    /// Lends `arr` (C-contiguous, aligned, not empty) to the engine.
    fn new(arr: &Bound<'_, PyArray2<f64>>) -> Borrowed {
        let (rows, cols) = (arr.shape()[0], arr.shape()[1]);
        let len = rows * cols;
        debug_assert!(len > 0 && arr.is_c_contiguous() && arr.is_aligned());
        // SAFETY: the buffer holds `len` initialized, aligned f64 in row-major order and outlives
        // the matrix (`owner`); the `Vec` is never dropped or reallocated (see the type's doc).
        let data = unsafe { Vec::from_raw_parts(arr.data(), len, len) };
        let a = Array2::from_shape_vec((rows, cols), data).expect("the length is rows * cols");
        Borrowed { matrix: Some(Arc::new(Matrix::Dense(a))), owner: Some(arr.clone().into_any().unbind()) }
    }

    fn value(&self) -> Value {
        Value::Matrix(self.matrix.clone().expect("lent until dropped"))
    }

    /// The array this matrix is, if `m` is it.
    fn array_of(&self, py: Python<'_>, m: &Arc<Matrix>) -> Option<Py<PyAny>> {
        match (&self.matrix, &self.owner) {
            (Some(mine), Some(owner)) if Arc::ptr_eq(mine, m) => Some(owner.clone_ref(py)),
            _ => None,
        }
    }
}

impl Drop for Borrowed {
    fn drop(&mut self) {
        let Some(m) = self.matrix.take() else { return };
        match Arc::try_unwrap(m) {
            Ok(Matrix::Dense(a)) => {
                let (data, _) = a.into_raw_vec_and_offset();
                std::mem::forget(data);
            }
            // Never happens (the matrix is built dense and never changes); a sparse matrix would
            // own its memory, so dropping it is fine.
            Ok(Matrix::Sparse(s)) => drop(s),
            Err(shared) => {
                // Still referenced: keep both the matrix and the array alive for good.
                std::mem::forget(shared);
                if let Some(owner) = self.owner.take() {
                    std::mem::forget(owner);
                }
            }
        }
    }
}

/// Inputs converted for one run; the arrays lent to the engine are returned when it is dropped.
#[derive(Default)]
pub struct Lent {
    borrowed: Vec<Borrowed>,
}

impl Lent {
    /// The array a matrix output is, when it is one of the lent inputs unchanged.
    fn array_of(&self, py: Python<'_>, m: &Arc<Matrix>) -> Option<Py<PyAny>> {
        self.borrowed.iter().find_map(|b| b.array_of(py, m))
    }
}

/// Converts a (normalized) Python value for the engine.
pub fn to_value(obj: &Bound<'_, PyAny>, lent: &mut Lent) -> PyResult<Value> {
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if let Ok(i) = obj.cast::<PyInt>() {
        return i
            .extract::<i64>()
            .map(Value::Int)
            .map_err(|_| PyOverflowError::new_err("integer does not fit DML's 64-bit integers"));
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        return Ok(Value::Double(f.value()));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Value::Str(Arc::from(s.to_str()?)));
    }
    if let Ok(arr) = obj.cast::<PyArray2<f64>>() {
        return Ok(matrix_from_array(arr, lent));
    }
    if let Ok(f) = obj.cast::<FrameData>() {
        return Ok(Value::Frame(Arc::new(frame_from_data(obj.py(), f.get())?)));
    }
    if let Ok(c) = obj.cast::<CsrData>() {
        let c = c.get();
        let m = sprs::CsMat::try_new((c.rows, c.cols), c.indptr.clone(), c.indices.clone(), c.data.clone())
            .map_err(|e| PyValueError::new_err(format!("not a valid CSR matrix: {}", e.3)))?;
        return Ok(Value::Matrix(Arc::new(Matrix::Sparse(m))));
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        let mut list = ListValue::default();
        for (k, v) in d.iter() {
            let name = k
                .cast::<PyString>()
                .map_err(|_| PyTypeError::new_err("a dict passed as a DML list needs str keys"))?
                .to_string();
            list.names.push(name);
            list.items.push(to_value(&v, lent)?);
        }
        return Ok(Value::List(Arc::new(list)));
    }
    if obj.cast::<PyList>().is_ok() || obj.cast::<PyTuple>().is_ok() {
        let mut list = ListValue::default();
        for v in obj.try_iter()? {
            list.items.push(to_value(&v?, lent)?);
        }
        return Ok(Value::List(Arc::new(list)));
    }
    Err(PyTypeError::new_err(format!(
        "cannot pass a {} to DML (matrices are NumPy arrays, frames pandas DataFrames; scalars are \
         int, float, bool and str; lists and dicts become DML lists)",
        obj.get_type().name()?
    )))
}

fn matrix_from_array(arr: &Bound<'_, PyArray2<f64>>, lent: &mut Lent) -> Value {
    let len = arr.len();
    if len > 0 && arr.is_c_contiguous() && arr.is_aligned() {
        let b = Borrowed::new(arr);
        let v = b.value();
        lent.borrowed.push(b);
        return v;
    }
    let (rows, cols) = (arr.shape()[0], arr.shape()[1]);
    if len > 0 && arr.is_fortran_contiguous() && arr.is_aligned() {
        // SAFETY: `len` aligned f64 in column-major order, read while holding the interpreter.
        let src = unsafe { std::slice::from_raw_parts(arr.data(), len) };
        let a = Array2::from_shape_vec((rows, cols), transpose_copy(src, rows, cols)).expect("rows * cols");
        return Value::Matrix(Arc::new(Matrix::Dense(a)));
    }
    // SAFETY: read-only view while holding the interpreter, copied at once.
    let view = unsafe { arr.as_array() };
    Value::Matrix(Arc::new(Matrix::Dense(view.as_standard_layout().into_owned())))
}

/// The row-major copy of a column-major `rows x cols` matrix: blocked (cache-friendly) and on
/// all cores, since a plain strided copy of a large Fortran-ordered array is several times slower.
fn transpose_copy(src: &[f64], rows: usize, cols: usize) -> Vec<f64> {
    use rayon::prelude::*;
    const B: usize = 64;
    let mut dst = vec![0.0; rows * cols];
    dst.par_chunks_mut(B * cols).enumerate().for_each(|(blk, out)| {
        let r0 = blk * B;
        let nr = out.len() / cols;
        for c0 in (0..cols).step_by(B) {
            for c in c0..(c0 + B).min(cols) {
                let col = &src[c * rows + r0..c * rows + r0 + nr];
                for (i, v) in col.iter().enumerate() {
                    out[i * cols + c] = *v;
                }
            }
        }
    });
    dst
}

fn frame_from_data(py: Python<'_>, f: &FrameData) -> PyResult<Frame> {
    let mut cols = Vec::with_capacity(f.columns.len());
    for ((name, ty), col) in f.names.iter().zip(&f.types).zip(&f.columns) {
        let t = ColType::parse(ty)
            .ok_or_else(|| PyValueError::new_err(format!("column `{name}`: unknown type `{ty}`")))?;
        let col = col.bind(py);
        let data = match t {
            ColType::Fp64 | ColType::Fp32 => FrameColumn::Double(
                col.cast::<PyArray1<f64>>()
                    .map_err(|_| column_error(name, "float64"))?
                    .readonly()
                    .as_array()
                    .to_vec(),
            ),
            ColType::Int64 | ColType::Int32 => FrameColumn::Int(
                col.cast::<PyArray1<i64>>()
                    .map_err(|_| column_error(name, "int64"))?
                    .readonly()
                    .as_array()
                    .to_vec(),
            ),
            ColType::Boolean => FrameColumn::Bool(
                col.cast::<PyArray1<bool>>()
                    .map_err(|_| column_error(name, "bool"))?
                    .readonly()
                    .as_array()
                    .to_vec(),
            ),
            ColType::String => {
                let mut v = Vec::new();
                for item in col.try_iter()? {
                    let item = item?;
                    v.push(if item.is_none() { None } else { Some(item.extract::<String>()?) });
                }
                FrameColumn::Str(v)
            }
        };
        cols.push((t, data));
    }
    if let Some(n) = cols.first().map(|(_, c)| c.len())
        && cols.iter().any(|(_, c)| c.len() != n)
    {
        return Err(PyValueError::new_err("frame columns differ in length"));
    }
    Ok(Frame::from_typed(f.names.clone(), cols))
}

fn column_error(name: &str, want: &str) -> PyErr {
    PyTypeError::new_err(format!("frame column `{name}` must be a 1-D {want} array"))
}

/// Converts an engine value for Python, handing buffers over where the value is not shared.
pub fn to_py(py: Python<'_>, v: Value, lent: &Lent) -> PyResult<Py<PyAny>> {
    Ok(match v {
        Value::Int(i) => i.into_pyobject(py)?.into_any().unbind(),
        Value::Double(d) => d.into_pyobject(py)?.into_any().unbind(),
        Value::Bool(b) => PyBool::new(py, b).to_owned().into_any().unbind(),
        Value::Str(s) => PyString::new(py, &s).into_any().unbind(),
        Value::Matrix(m) => {
            if let Some(arr) = lent.array_of(py, &m) {
                return Ok(arr);
            }
            let a = match Arc::try_unwrap(m) {
                Ok(Matrix::Dense(a)) if a.is_standard_layout() => a,
                Ok(other) => other.to_dense(),
                Err(shared) => shared.to_dense(),
            };
            PyArray2::from_owned_array(py, a).into_any().unbind()
        }
        Value::Frame(f) => {
            let f = Arc::try_unwrap(f).unwrap_or_else(|shared| (*shared).clone());
            frame_to_py(py, f)?
        }
        Value::List(l) => {
            let l = Arc::try_unwrap(l).unwrap_or_else(|shared| (*shared).clone());
            if l.is_named() {
                let d = PyDict::new(py);
                for (k, v) in l.names.into_iter().zip(l.items) {
                    d.set_item(k, to_py(py, v, lent)?)?;
                }
                d.into_any().unbind()
            } else {
                let items: Vec<Py<PyAny>> =
                    l.items.into_iter().map(|v| to_py(py, v, lent)).collect::<PyResult<_>>()?;
                PyList::new(py, items)?.into_any().unbind()
            }
        }
    })
}

fn frame_to_py(py: Python<'_>, f: Frame) -> PyResult<Py<PyAny>> {
    let names: Vec<String> = (0..f.cols()).map(|c| f.name(c)).collect();
    let types: Vec<String> = f.schema().iter().map(|t| t.name().to_string()).collect();
    let mut columns = Vec::with_capacity(f.cols());
    for c in f.columns {
        columns.push(match c {
            FrameColumn::Double(v) => PyArray1::from_vec(py, v).into_any().unbind(),
            FrameColumn::Int(v) => PyArray1::from_vec(py, v).into_any().unbind(),
            FrameColumn::Bool(v) => PyArray1::from_vec(py, v).into_any().unbind(),
            FrameColumn::Str(v) => PyList::new(py, v)?.into_any().unbind(),
        });
    }
    Ok(Py::new(py, FrameData { names, types, columns })?.into_any())
}
