//! Operators on a matrix known to be all zeros (`matrix(0, r, c)`, or `rand` with min = max = 0)
//! are folded (SystemDS's empty-matrix rewrites, limited to the exact ones): `sum(E)` and
//! `sumSq(E)` are 0, `rowSums(E)`, `colSums(E)` and `t(E)` are zero matrices of their shape, and
//! `X + E`, `E + X`, `X - E` are `X`. Exact: adding zero keeps every double (`-0.0 + 0` = `0.0`,
//! equal to `-0.0`). SystemDS also folds `E %*% X` and `E * X` to zeros, which changes the value
//! when `X` holds NaN or infinities (`0 * Inf` is NaN): those are left alone here.

use super::{HopRewrite, add_like, lit_num};
use crate::hops::{Dag, HopId, HopOp, Lit};
use crate::syntax::ast::ValueType;
use crate::types::ops::{AggDir, AggOp, BinOp, DataGenOp, ReorgOp};
use crate::types::type_info::TypeInfo;

pub struct EmptyMatrix;

/// Whether `id` certainly holds only zeros, whatever its inputs' values.
fn certainly_empty(dag: &Dag, id: HopId) -> bool {
    let hop = dag.get(id);
    match hop.op {
        HopOp::DataGen(DataGenOp::Fill) => lit_num(dag, hop.inputs[0]) == Some(0.0),
        HopOp::DataGen(DataGenOp::Rand) => {
            lit_num(dag, hop.inputs[2]) == Some(0.0) && lit_num(dag, hop.inputs[3]) == Some(0.0)
        }
        _ => false,
    }
}

/// A new `matrix(0, rows, cols)`.
fn zeros(dag: &mut Dag, rows: i64, cols: i64, span: crate::syntax::ast::Span) -> HopId {
    let int = TypeInfo::scalar(ValueType::Int);
    let z =
        add_like(dag, HopOp::Literal(Lit::Double(0.0)), vec![], TypeInfo::scalar(ValueType::Double), span);
    let r = add_like(dag, HopOp::Literal(Lit::Int(rows)), vec![], int, span);
    let c = add_like(dag, HopOp::Literal(Lit::Int(cols)), vec![], int, span);
    add_like(dag, HopOp::DataGen(DataGenOp::Fill), vec![z, r, c], TypeInfo::matrix_nnz(rows, cols, 0), span)
}

impl HopRewrite for EmptyMatrix {
    fn name(&self) -> &'static str {
        "empty_matrix"
    }

    fn rewrite(&self, dag: &mut Dag, id: HopId) -> Option<HopId> {
        let hop = dag.get(id);
        let (ty, span) = (hop.ty, hop.span);
        match hop.op {
            HopOp::AggUnary(AggOp::Sum | AggOp::SumSq, dir) if certainly_empty(dag, hop.inputs[0]) => {
                if dir == AggDir::All {
                    let d = TypeInfo::scalar(ValueType::Double);
                    return Some(add_like(dag, HopOp::Literal(Lit::Double(0.0)), vec![], d, span));
                }
                ty.dims_known().then(|| zeros(dag, ty.rows, ty.cols, span))
            }
            HopOp::Reorg(ReorgOp::Transpose) if certainly_empty(dag, hop.inputs[0]) && ty.dims_known() => {
                Some(zeros(dag, ty.rows, ty.cols, span))
            }
            HopOp::Binary(op @ (BinOp::Add | BinOp::Sub)) => {
                let (a, b) = (hop.inputs[0], hop.inputs[1]);
                let keeps = |x: HopId| {
                    let t = dag.get(x).ty;
                    t.is_matrix() && t.dims_known() && t.rows == ty.rows && t.cols == ty.cols
                };
                // The zero operand must have the result's shape too: a broadcast zero vector is
                // left alone (it still names a parameter of the operation, as `autoDiff` over
                // the lineage of `X %*% W + b` with `b = 0` expects its gradient).
                let empty_b = certainly_empty(dag, b) && keeps(b);
                let empty_a = certainly_empty(dag, a) && keeps(a);
                if empty_b && keeps(a) {
                    Some(a)
                } else if op == BinOp::Add && empty_a && keeps(b) {
                    Some(b)
                } else {
                    None
                }
            }
            _ => None,
        }
    }
}
