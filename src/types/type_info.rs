//! Static type information the compiler propagates: data type, value type, shape and non-zeros.

use crate::syntax::ast::{DataType, TypeSpec, ValueType};
use crate::types::value::{Kind, Value};
use std::fmt;

/// The data type of an expression as far as the compiler knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DType {
    Scalar,
    Matrix,
    Frame,
    List,
    /// Not known until run time (elements of lists, results of `eval`).
    Unknown,
}

/// What the compiler knows about a value: kinds exactly, sizes when known (-1 otherwise).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TypeInfo {
    pub dt: DType,
    pub vt: ValueType,
    pub rows: i64,
    pub cols: i64,
    pub nnz: i64,
}

impl TypeInfo {
    pub const UNKNOWN: TypeInfo =
        TypeInfo { dt: DType::Unknown, vt: ValueType::Unknown, rows: -1, cols: -1, nnz: -1 };

    pub fn scalar(vt: ValueType) -> TypeInfo {
        TypeInfo { dt: DType::Scalar, vt, rows: 0, cols: 0, nnz: -1 }
    }

    pub fn matrix(rows: i64, cols: i64) -> TypeInfo {
        TypeInfo { dt: DType::Matrix, vt: ValueType::Double, rows, cols, nnz: -1 }
    }

    pub fn matrix_nnz(rows: i64, cols: i64, nnz: i64) -> TypeInfo {
        TypeInfo { dt: DType::Matrix, vt: ValueType::Double, rows, cols, nnz }
    }

    pub fn frame(rows: i64, cols: i64) -> TypeInfo {
        TypeInfo { dt: DType::Frame, vt: ValueType::String, rows, cols, nnz: -1 }
    }

    pub fn list(len: i64) -> TypeInfo {
        TypeInfo { dt: DType::List, vt: ValueType::Unknown, rows: len, cols: 1, nnz: -1 }
    }

    pub fn is_scalar(&self) -> bool {
        self.dt == DType::Scalar
    }

    pub fn is_matrix(&self) -> bool {
        self.dt == DType::Matrix
    }

    pub fn dims_known(&self) -> bool {
        self.rows >= 0 && self.cols >= 0
    }

    /// Number of cells when the shape is known.
    pub fn cells(&self) -> Option<f64> {
        self.dims_known().then_some(self.rows as f64 * self.cols as f64)
    }

    /// The type of a runtime value (exact shapes and non-zeros).
    pub fn of_value(v: &Value) -> TypeInfo {
        match v {
            Value::Int(_) => TypeInfo::scalar(ValueType::Int),
            Value::Double(_) => TypeInfo::scalar(ValueType::Double),
            Value::Bool(_) => TypeInfo::scalar(ValueType::Boolean),
            Value::Str(_) => TypeInfo::scalar(ValueType::String),
            Value::Matrix(m) => TypeInfo::matrix_nnz(m.rows() as i64, m.cols() as i64, live_nnz(m)),
            Value::Frame(f) => TypeInfo::frame(f.rows() as i64, f.cols() as i64),
            Value::List(l) => TypeInfo::list(l.items.len() as i64),
        }
    }

    /// The type a declared parameter promises (`matrix[double] X`: a matrix of unknown shape).
    pub fn of_spec(spec: &TypeSpec) -> TypeInfo {
        match spec.data {
            DataType::Scalar => TypeInfo::scalar(spec.value),
            DataType::Matrix | DataType::Tensor => TypeInfo::matrix(-1, -1),
            DataType::Frame => TypeInfo::frame(-1, -1),
            DataType::List => TypeInfo::list(-1),
        }
    }

    /// The least upper bound of two types flowing into one variable (branches, loop iterations).
    pub fn join(&self, other: &TypeInfo) -> TypeInfo {
        if self.dt != other.dt {
            return TypeInfo::UNKNOWN;
        }
        let vt = if self.vt == other.vt {
            self.vt
        } else if self.dt == DType::Scalar && is_numeric(self.vt) && is_numeric(other.vt) {
            ValueType::Double
        } else {
            ValueType::Unknown
        };
        TypeInfo {
            dt: self.dt,
            vt,
            rows: if self.rows == other.rows { self.rows } else { -1 },
            cols: if self.cols == other.cols { self.cols } else { -1 },
            nnz: if self.nnz == other.nnz { self.nnz } else { -1 },
        }
    }
}

/// Dense matrices of at most this many cells are counted at dynamic recompilation (every matrix
/// variable in scope is, at each compilation, so the count must stay cheap); larger ones are
/// taken as dense (unknown count, the dense estimate), which is how they are stored: the runtime
/// keeps a matrix dense only above SystemDS's turn point.
const LIVE_COUNT_MAX_DENSE_CELLS: usize = 1 << 16;

/// The exact non-zeros of a live matrix for the planner: a sparse matrix's stored non-zeros
/// (proportional to its non-zeros), a small dense matrix's counted cells, -1 for a large dense one.
fn live_nnz(m: &crate::types::matrix::Matrix) -> i64 {
    use crate::types::matrix::Matrix;
    match m {
        Matrix::Sparse(_) => m.nnz() as i64,
        Matrix::Dense(_) if m.len() <= LIVE_COUNT_MAX_DENSE_CELLS => m.nnz() as i64,
        Matrix::Dense(_) => -1,
    }
}

pub fn is_numeric(vt: ValueType) -> bool {
    matches!(vt, ValueType::Int | ValueType::Double | ValueType::Boolean)
}

fn dim(d: i64) -> String {
    if d < 0 { "?".to_string() } else { d.to_string() }
}

impl fmt::Display for TypeInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.dt {
            DType::Scalar => write!(f, "{} scalar", self.vt),
            DType::Matrix => write!(f, "{}x{} matrix", dim(self.rows), dim(self.cols)),
            DType::Frame => write!(f, "{}x{} frame", dim(self.rows), dim(self.cols)),
            DType::List => write!(f, "list of {}", dim(self.rows)),
            DType::Unknown => f.write_str("value of unknown type"),
        }
    }
}
/// The part of a value's type that a plan depends on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TypeKey {
    pub kind: Option<Kind>,
    pub rows: u64,
    pub cols: u64,
    /// A matrix stored sparse: its plan was made with its (small) non-zero count, so a dense
    /// value of the same shape gets a plan of its own.
    pub sparse: bool,
    /// A matrix only on the device (`gpu::DeviceMatrix`): under `--gpu` its readers pay no
    /// upload, so it gets a plan of its own.
    pub device: bool,
}

impl TypeKey {
    /// The key of a matrix only on the device, known by its shape (it is dense).
    pub fn of_device_matrix(rows: usize, cols: usize) -> TypeKey {
        TypeKey {
            kind: Some(Kind::Matrix),
            rows: rows as u64,
            cols: cols as u64,
            sparse: false,
            device: true,
        }
    }

    pub fn of(v: Option<&Value>) -> TypeKey {
        match v {
            None => TypeKey { kind: None, rows: 0, cols: 0, sparse: false, device: false },
            Some(Value::Matrix(m)) => TypeKey {
                kind: Some(Kind::Matrix),
                rows: m.rows() as u64,
                cols: m.cols() as u64,
                sparse: m.is_sparse(),
                device: false,
            },
            Some(Value::Frame(f)) => TypeKey {
                kind: Some(Kind::Frame),
                rows: f.rows() as u64,
                cols: f.cols() as u64,
                sparse: false,
                device: false,
            },
            Some(Value::List(l)) => TypeKey {
                kind: Some(Kind::List),
                rows: l.items.len() as u64,
                cols: 1,
                sparse: false,
                device: false,
            },
            Some(v) => TypeKey { kind: Some(v.kind()), rows: 0, cols: 0, sparse: false, device: false },
        }
    }
}
