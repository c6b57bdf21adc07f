//! Runtime values: scalars, matrices, frames and lists.
//!
//! Matrices and other large values sit behind `Arc`, so assigning a variable or passing an
//! argument never copies data. An instruction that updates a matrix (left indexing) calls
//! `Arc::make_mut`, which copies only when another owner still holds it; the executor moves
//! values out of registers at their last use so that, in the common loop case, the update
//! happens in place.

use crate::types::frame::Frame;
use crate::types::matrix::Matrix;
use std::fmt;
use std::sync::Arc;

#[derive(Clone, Debug)]
pub enum Value {
    Int(i64),
    Double(f64),
    Bool(bool),
    Str(Arc<str>),
    Matrix(Arc<Matrix>),
    Frame(Arc<Frame>),
    List(Arc<ListValue>),
}

/// A DML list: heterogeneous elements, optionally named.
#[derive(Clone, Debug, Default)]
pub struct ListValue {
    pub items: Vec<Value>,
    /// Either empty (unnamed list) or one name per item.
    pub names: Vec<String>,
}

impl ListValue {
    pub fn is_named(&self) -> bool {
        !self.names.is_empty()
    }

    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }
}

/// The coarse kind of a value, as the validator and error messages speak of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    Int,
    Double,
    Bool,
    Str,
    Matrix,
    Frame,
    List,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Int => "integer",
            Kind::Double => "double",
            Kind::Bool => "boolean",
            Kind::Str => "string",
            Kind::Matrix => "matrix",
            Kind::Frame => "frame",
            Kind::List => "list",
        })
    }
}

impl Value {
    pub fn kind(&self) -> Kind {
        match self {
            Value::Int(_) => Kind::Int,
            Value::Double(_) => Kind::Double,
            Value::Bool(_) => Kind::Bool,
            Value::Str(_) => Kind::Str,
            Value::Matrix(_) => Kind::Matrix,
            Value::Frame(_) => Kind::Frame,
            Value::List(_) => Kind::List,
        }
    }

    pub fn is_scalar(&self) -> bool {
        matches!(self, Value::Int(_) | Value::Double(_) | Value::Bool(_) | Value::Str(_))
    }

    pub fn matrix(m: Matrix) -> Value {
        Value::Matrix(Arc::new(m))
    }

    pub fn str(s: impl Into<Arc<str>>) -> Value {
        Value::Str(s.into())
    }

    /// The numeric value of a scalar (booleans are 0/1, strings parse as numbers); `None` otherwise.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Double(d) => Some(*d),
            Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
            Value::Str(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        }
    }

    /// The integer value of a numeric scalar (doubles truncate toward zero as Java's cast).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Double(d) => Some(*d as i64),
            Value::Bool(b) => Some(*b as i64),
            Value::Str(s) => {
                s.trim().parse::<i64>().ok().or_else(|| s.trim().parse::<f64>().ok().map(|d| d as i64))
            }
            _ => None,
        }
    }

    /// Truth value of a scalar predicate: numbers are true when non-zero.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            Value::Int(i) => Some(*i != 0),
            Value::Double(d) => Some(*d != 0.0),
            Value::Str(s) => match &**s {
                "TRUE" | "true" => Some(true),
                "FALSE" | "false" => Some(false),
                _ => None,
            },
            _ => None,
        }
    }

    pub fn as_matrix(&self) -> Option<&Arc<Matrix>> {
        match self {
            Value::Matrix(m) => Some(m),
            _ => None,
        }
    }
}
