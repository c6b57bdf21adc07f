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

/// A column's value type as SystemDS names it in schemas. FP32 and INT32 columns are stored
/// as 64-bit values here; the name is kept so that schemas, `typeof` and printing match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColType {
    Fp64,
    Fp32,
    Int64,
    Int32,
    Boolean,
    String,
}

impl ColType {
    pub fn name(self) -> &'static str {
        match self {
            ColType::Fp64 => "FP64",
            ColType::Fp32 => "FP32",
            ColType::Int64 => "INT64",
            ColType::Int32 => "INT32",
            ColType::Boolean => "BOOLEAN",
            ColType::String => "STRING",
        }
    }

    /// Parses a schema entry (`FP64`, `int`, `string`, ...); `*` and unknown names are `None`.
    pub fn parse(s: &str) -> Option<ColType> {
        Some(match s.trim().to_ascii_uppercase().as_str() {
            "FP64" | "DOUBLE" => ColType::Fp64,
            "FP32" | "FLOAT" => ColType::Fp32,
            "INT64" | "INT" | "INTEGER" | "LONG" => ColType::Int64,
            "INT32" => ColType::Int32,
            "BOOLEAN" | "BOOL" => ColType::Boolean,
            "STRING" | "STR" => ColType::String,
            _ => return None,
        })
    }

    /// Whether SystemDS stores this type in 32 bits.
    pub fn narrow(self) -> bool {
        matches!(self, ColType::Fp32 | ColType::Int32)
    }

    /// An empty column of this type.
    pub fn empty_column(self, rows: usize) -> FrameColumn {
        match self {
            ColType::Fp64 | ColType::Fp32 => FrameColumn::Double(vec![0.0; rows]),
            ColType::Int64 | ColType::Int32 => FrameColumn::Int(vec![0; rows]),
            ColType::Boolean => FrameColumn::Bool(vec![false; rows]),
            ColType::String => FrameColumn::Str(vec![None; rows]),
        }
    }
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

    /// The 64-bit (or boolean, string) schema type of this storage.
    pub fn wide_type(&self) -> ColType {
        match self {
            FrameColumn::Double(_) => ColType::Fp64,
            FrameColumn::Int(_) => ColType::Int64,
            FrameColumn::Bool(_) => ColType::Boolean,
            FrameColumn::Str(_) => ColType::String,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct Frame {
    /// Column names; empty means the defaults `C1..Cn` (which slicing renumbers, as SystemDS).
    pub names: Vec<String>,
    pub columns: Vec<FrameColumn>,
    /// Per column: SystemDS keeps it in 32 bits (FP32, INT32). Empty means all 64-bit.
    pub narrow: Vec<bool>,
    /// Per column: the value transforms impute for missing cells (SystemDS keeps it in the
    /// column metadata of meta frames, not in a cell). Empty means none.
    pub impute: Vec<Option<String>>,
}

impl Frame {
    pub fn rows(&self) -> usize {
        self.columns.first().map(|c| c.len()).unwrap_or(0)
    }

    pub fn cols(&self) -> usize {
        self.columns.len()
    }

    /// A frame with the default column names.
    pub fn new(columns: Vec<FrameColumn>) -> Frame {
        Frame { names: vec![], columns, narrow: vec![], impute: vec![] }
    }

    /// The name of column `c` (0-based), `C<c+1>` if none was given.
    pub fn name(&self, c: usize) -> String {
        self.names.get(c).cloned().unwrap_or_else(|| format!("C{}", c + 1))
    }

    /// The schema type of column `c` (0-based).
    pub fn col_type(&self, c: usize) -> ColType {
        let wide = self.columns[c].wide_type();
        if self.narrow.get(c).copied().unwrap_or(false) {
            match wide {
                ColType::Fp64 => ColType::Fp32,
                ColType::Int64 => ColType::Int32,
                t => t,
            }
        } else {
            wide
        }
    }

    pub fn schema(&self) -> Vec<ColType> {
        (0..self.cols()).map(|c| self.col_type(c)).collect()
    }

    /// Builds a frame from typed columns (FP32/INT32 remembered as narrow).
    pub fn from_typed(names: Vec<String>, cols: Vec<(ColType, FrameColumn)>) -> Frame {
        let narrow: Vec<bool> = cols.iter().map(|(t, _)| t.narrow()).collect();
        let narrow = if narrow.iter().any(|n| *n) { narrow } else { vec![] };
        Frame { names, columns: cols.into_iter().map(|(_, c)| c).collect(), narrow, impute: vec![] }
    }

    pub fn is_narrow(&self, c: usize) -> bool {
        self.narrow.get(c).copied().unwrap_or(false)
    }
}
