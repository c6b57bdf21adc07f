//! The body of a generated fused operator (SystemDS's codegen templates): a small register
//! program of cellwise operators over the fused operator's inputs, with optional aggregates.
//!
//! The fusion rules (`rewrite/fuse_*.rs`) build a body from a region of the DAG; the kernel
//! (`kernels/fused`) runs it over chunks of cells so that no full-size temporary is written.
//! Every step of the body is the same operator, on the same operands in the same order, as the
//! unfused DAG it replaces, which is what keeps a fused result equal to the unfused one.

use crate::types::ops::{AggDir, AggOp, BinOp, UnOp};
use std::fmt;

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

fn agg_name(op: AggOp, dir: AggDir) -> String {
    let op = match op {
        AggOp::Sum => "sum",
        AggOp::SumSq => "sumSq",
        AggOp::Mean => "mean",
        AggOp::Min => "min",
        AggOp::Max => "max",
        other => return format!("{other:?}"),
    };
    // DML's spellings: rowSums, colMaxs, rowMeans (sumSq has no row/column builtin).
    let plural = if op == "sumSq" { "" } else { "s" };
    match dir {
        AggDir::All => op.to_string(),
        AggDir::Row => format!("row{}{plural}", capitalize(op)),
        AggDir::Col => format!("col{}{plural}", capitalize(op)),
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// The letter an input is shown by in explain text: a, b, ..., z, then i26, i27, ...
pub fn input_name(k: u16) -> String {
    if k < 26 { ((b'a' + k as u8) as char).to_string() } else { format!("i{k}") }
}

impl FusedBody {
    /// The expression of step `s`, as DML-like text.
    pub fn expr(&self, s: u16) -> String {
        match &self.steps[s as usize] {
            FStep::Input(k) => input_name(*k),
            FStep::Const(c) => crate::kernels::format::format_double(*c),
            FStep::Unary(UnOp::Neg, a) => format!("-{}", self.expr(*a)),
            FStep::Unary(UnOp::Not, a) => format!("!{}", self.expr(*a)),
            FStep::Unary(op, a) => format!("{}({})", op.name(), self.expr(*a)),
            FStep::Binary(op, a, b) => {
                let infix = matches!(
                    op,
                    BinOp::Add
                        | BinOp::Sub
                        | BinOp::Mul
                        | BinOp::Div
                        | BinOp::Pow
                        | BinOp::IntDiv
                        | BinOp::Mod
                        | BinOp::Lt
                        | BinOp::Le
                        | BinOp::Gt
                        | BinOp::Ge
                        | BinOp::Eq
                        | BinOp::Ne
                        | BinOp::And
                        | BinOp::Or
                );
                if infix {
                    format!("({}{}{})", self.expr(*a), op.name(), self.expr(*b))
                } else {
                    format!("{}({}, {})", op.name(), self.expr(*a), self.expr(*b))
                }
            }
            FStep::Ternary(c, a, b) => {
                format!("ifelse({}, {}, {})", self.expr(*c), self.expr(*a), self.expr(*b))
            }
            FStep::RowAgg(op, a) => format!("{}({})", agg_name(*op, AggDir::Row), self.expr(*a)),
            FStep::Dot(u, v) => format!("({}%*%t({}))", self.expr(*u), self.expr(*v)),
        }
    }
}

impl fmt::Display for FusedBody {
    /// `fused cell[sum]{ (a*b)^2 }`: the template, the aggregates of the outputs, and each
    /// output's expression over the inputs (named a, b, ... in input order).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            FusedKind::Cell => "cell",
            FusedKind::Row => "row",
            FusedKind::MultiAgg => "magg",
            FusedKind::Outer => "outer",
        };
        let aggs: Vec<String> = self
            .outputs
            .iter()
            .map(|(_, o)| match o {
                FusedOut::Cells => "cells".to_string(),
                FusedOut::Agg(op, dir) => agg_name(*op, *dir),
            })
            .collect();
        let bodies: Vec<String> = self.outputs.iter().map(|(s, _)| self.expr(*s)).collect();
        write!(f, "fused {kind}[{}]{{ {} }}", aggs.join(","), bodies.join("; "))
    }
}
