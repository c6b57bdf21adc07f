//! The body of a generated fused operator (SystemDS's codegen templates): a small register
//! program of cellwise operators over the fused operator's inputs, with optional aggregates.
//!
//! The fusion rules (`rewrite/fuse_*.rs`) build a body from a region of the DAG; the kernel
//! (`kernels/fused`) runs it over chunks of cells so that no full-size temporary is written;
//! its text for explain is in `hops/fused.rs`. The types live here, in the shared vocabulary,
//! because the HOP DAG, the rules and the kernel all name them.
//! Every step of the body is the same operator, on the same operands in the same order, as the
//! unfused DAG it replaces, which is what keeps a fused result equal to the unfused one.

use crate::types::ops::{AggDir, AggOp, BinOp, UnOp};

/// Which template built the body; the kernel runs them the same way except where noted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FusedKind {
    /// Cellwise chain with an optional final aggregate; runs over bands of rows.
    Cell,
    /// Row-wise: the body holds row aggregates used by later steps; runs one row at a time.
    Row,
    /// Several full aggregates over the same inputs in one pass.
    MultiAgg,
    /// Driven by the non-zeros of a sparse input; `Dot` steps compute `U[i,] . V[j,]` per cell.
    Outer,
}

/// One step of the body. Operands name earlier steps by index.
#[derive(Clone, Debug, PartialEq)]
pub enum FStep {
    /// Input `k` of the fused operator: a matrix (full, or a row/column vector broadcast over the
    /// template's shape, or 1x1) or a scalar.
    Input(u16),
    /// A numeric literal of the original DAG.
    Const(f64),
    Unary(UnOp, u16),
    Binary(BinOp, u16, u16),
    /// `ifelse(c, a, b)`.
    Ternary(u16, u16, u16),
    /// A row aggregate of an earlier step (Row template only): one value per row, used by later
    /// steps as that row's scalar.
    RowAgg(AggOp, u16),
    /// `(U %*% t(V))[i, j]` for inputs `U`, `V` (Outer template only).
    Dot(u16, u16),
}

/// What the fused operator returns for one output step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FusedOut {
    /// The step's cells as a matrix of the template's shape.
    Cells,
    /// An aggregate of the step's cells: `All` gives a scalar, `Row` a column vector, `Col` a row
    /// vector. Only Sum, SumSq, Mean, Min and Max.
    Agg(AggOp, AggDir),
}

/// A fused operator: its template, its steps, and its outputs (one, or several for MultiAgg).
#[derive(Clone, Debug, PartialEq)]
pub struct FusedBody {
    pub kind: FusedKind,
    pub steps: Vec<FStep>,
    pub outputs: Vec<(u16, FusedOut)>,
    /// Number of inputs (`Input(k)` has `k < ninputs`).
    pub ninputs: u16,
    /// Outer template: the input whose non-zeros drive the loop.
    pub driver: Option<u16>,
}

/// Aggregates the kernel computes inside a fused operator.
pub fn fusable_agg(op: AggOp) -> bool {
    matches!(op, AggOp::Sum | AggOp::SumSq | AggOp::Mean | AggOp::Min | AggOp::Max)
}
