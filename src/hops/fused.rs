//! Text of a generated fused operator's body for `--explain hops` and `--stats`:
//! `fused cell[sum]{ (a*b)^2 }`, the template, the aggregate of each output, and each output's
//! expression over the inputs (named a, b, ... in input order). The body itself is in
//! `types/fused.rs`.

pub use crate::types::fused::*;
use crate::types::ops::{AggDir, AggOp, BinOp, UnOp};
use std::fmt;

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

/// The expression of step `s` of `body`, as DML-like text.
pub fn expr(body: &FusedBody, s: u16) -> String {
    match &body.steps[s as usize] {
        FStep::Input(k) => input_name(*k),
        FStep::Const(c) => crate::kernels::format::format_double(*c),
        FStep::Unary(UnOp::Neg, a) => format!("-{}", expr(body, *a)),
        FStep::Unary(UnOp::Not, a) => format!("!{}", expr(body, *a)),
        FStep::Unary(op, a) => format!("{}({})", op.name(), expr(body, *a)),
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
                format!("({}{}{})", expr(body, *a), op.name(), expr(body, *b))
            } else {
                format!("{}({}, {})", op.name(), expr(body, *a), expr(body, *b))
            }
        }
        FStep::Ternary(c, a, b) => {
            format!("ifelse({}, {}, {})", expr(body, *c), expr(body, *a), expr(body, *b))
        }
        FStep::RowAgg(op, a) => format!("{}({})", agg_name(*op, AggDir::Row), expr(body, *a)),
        FStep::Dot(u, v) => format!("({}%*%t({}))", expr(body, *u), expr(body, *v)),
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
        let bodies: Vec<String> = self.outputs.iter().map(|(s, _)| expr(self, *s)).collect();
        write!(f, "fused {kind}[{}]{{ {} }}", aggs.join(","), bodies.join("; "))
    }
}
