//! Frames: two-dimensional tables whose columns each have their own value type.

use crate::syntax::ast::ValueType;

/// One column of a frame.
#[derive(Clone, Debug, PartialEq)]
pub enum FrameColumn {
    Double(Vec<f64>),
    Int(Vec<i64>),
    Bool(Vec<bool>),
    Str(Vec<Option<String>>),
}

impl FrameColumn {
    pub fn len(&self) -> usize {
        match self {
            FrameColumn::Double(v) => v.len(),
            FrameColumn::Int(v) => v.len(),
            FrameColumn::Bool(v) => v.len(),
            FrameColumn::Str(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn value_type(&self) -> ValueType {
        match self {
            FrameColumn::Double(_) => ValueType::Double,
            FrameColumn::Int(_) => ValueType::Int,
            FrameColumn::Bool(_) => ValueType::Boolean,
            FrameColumn::Str(_) => ValueType::String,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct Frame {
    pub names: Vec<String>,
    pub columns: Vec<FrameColumn>,
}

impl Frame {
    pub fn rows(&self) -> usize {
        self.columns.first().map(|c| c.len()).unwrap_or(0)
    }

    pub fn cols(&self) -> usize {
        self.columns.len()
    }
}
