//! The operator enums every layer names: the HOP DAG carries them, the builtin table maps names to
//! them, rewrites match on them, and the kernels (`crate::kernels::ops`) give them their meaning.
//! Only the names live here, so that none of those layers imports another for its vocabulary.

/// Binary cellwise operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    IntDiv,
    Mod,
    Min,
    Max,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    And,
    Or,
    Xor,
    BitwAnd,
    BitwOr,
    BitwXor,
    BitwShiftL,
    BitwShiftR,
    /// `log(x, base)`.
    Log,
}

impl BinOp {
    /// Comparisons and logical operators: their value is a boolean (`TRUE`/`FALSE` for
    /// scalars, 1/0 in matrices).
    pub fn is_boolean_valued(self) -> bool {
        matches!(
            self,
            BinOp::Lt
                | BinOp::Le
                | BinOp::Gt
                | BinOp::Ge
                | BinOp::Eq
                | BinOp::Ne
                | BinOp::And
                | BinOp::Or
                | BinOp::Xor
        )
    }

    /// Operators whose result on dense operands is often mostly zeros (a mask, or a matrix
    /// multiplied by one): their dense results are counted as they are written, and stored
    /// sparse when the count crosses SystemDS's turn point, as SystemDS re-examines every
    /// result. `min`/`max` (ReLU) are left out: their results are usually about half zeros,
    /// on the dense side of the turn point, and counting them would only cost time.
    pub fn may_sparsify(self) -> bool {
        matches!(self, BinOp::Mul) || self.is_boolean_valued()
    }
}

/// Unary cellwise operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnOp {
    Neg,
    Not,
    Abs,
    Sign,
    Sqrt,
    Exp,
    Log,
    Floor,
    Ceil,
    Round,
    Sin,
    Cos,
    Tan,
    Asin,
    Acos,
    Atan,
    Sinh,
    Cosh,
    Tanh,
    Sigmoid,
    IsNa,
    IsNaN,
    IsInf,
    /// `max(0, x)`.
    Relu,
}

/// Aggregation functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AggOp {
    Sum,
    SumSq,
    Mean,
    Var,
    Sd,
    Min,
    Max,
    Prod,
    IndexMax,
    IndexMin,
}

/// Aggregation direction: all cells, per row (rows x 1), or per column (1 x cols).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AggDir {
    All,
    Row,
    Col,
}

/// Column-wise prefix aggregates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CumOp {
    Sum,
    Prod,
    Min,
    Max,
}

/// Data-generating operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DataGenOp {
    /// inputs: rows, cols, min, max, sparsity, pdf, lambda, seed
    Rand,
    /// inputs: from, to, incr
    Seq,
    /// `matrix(value, rows, cols)`: inputs value, rows, cols
    Fill,
}

/// Reorganisations that only move cells.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReorgOp {
    Transpose,
    Rev,
    Diag,
}

/// Operators with any number of inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NaryOp {
    Cbind,
    Rbind,
    Min,
    Max,
}

/// Conversions between data and value types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CastOp {
    AsScalar,
    AsMatrix,
    AsDouble,
    AsInt,
    AsBool,
    Nrow,
    Ncol,
    Length,
}

/// Statements with side effects; they are roots of the DAG and run in statement order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EffectOp {
    Print,
    /// `print(fmt, args...)`
    Printf,
    Stop,
    Assert,
}
