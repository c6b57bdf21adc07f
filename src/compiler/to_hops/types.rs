//! Type rules: result types of cellwise, n-ary and library operators, index extents, and the
//! output shapes of the DNN builtins from literal shape arguments.

use super::Builder;
use crate::builtins::Out;
use crate::hops::{Dag, HopId, HopOp, Lit};
use crate::syntax::ast::ValueType;
use crate::types::ops::{BinOp, NaryOp};
use crate::types::type_info::{DType, TypeInfo, is_numeric};

impl Builder<'_> {
    /// The integers of a shape argument such as `[N, C, H, W]` when they are all literals.
    pub(super) fn shape_lits(&self, h: HopId, len: usize, default: Option<i64>) -> Option<Vec<i64>> {
        let hop = self.dag.get(h);
        match (&hop.op, default) {
            (HopOp::Literal(Lit::Absent), Some(d)) => Some(vec![d; len]),
            (HopOp::Literal(l), _) => l.as_f64().map(|v| vec![v as i64; len]),
            (HopOp::MakeList(_), _) if hop.inputs.len() == len => hop
                .inputs
                .iter()
                .map(|&i| self.dag.get(i).literal().and_then(|l| l.as_f64()).map(|v| v as i64))
                .collect(),
            _ => None,
        }
    }

    /// Output shapes of the DNN builtins, from literal shape arguments (after constants are
    /// propagated these usually are), so that later operators have known sizes.
    pub(super) fn dnn_out_type(&self, name: &str, inputs: &[HopId]) -> Option<TypeInfo> {
        let out = |lo: i64, pad: i64, k: i64, stride: i64| (lo + 2 * pad - k) / stride.max(1) + 1;
        match name {
            "conv2d" => {
                let i = self.shape_lits(inputs[2], 4, None)?;
                let f = self.shape_lits(inputs[3], 4, None)?;
                let st = self.shape_lits(inputs[4], 2, Some(1))?;
                let p = self.shape_lits(inputs[5], 2, Some(0))?;
                Some(TypeInfo::matrix(
                    i[0],
                    f[0] * out(i[2], p[0], f[2], st[0]) * out(i[3], p[1], f[3], st[1]),
                ))
            }
            "conv2d_backward_filter" => {
                let f = self.shape_lits(inputs[5], 4, None)?;
                Some(TypeInfo::matrix(f[0], f[1] * f[2] * f[3]))
            }
            "conv2d_backward_data" => {
                let i = self.shape_lits(inputs[4], 4, None)?;
                Some(TypeInfo::matrix(i[0], i[1] * i[2] * i[3]))
            }
            "max_pool" | "avg_pool" => {
                let i = self.shape_lits(inputs[1], 4, None)?;
                let k = self.shape_lits(inputs[2], 2, None)?;
                let st = self.shape_lits(inputs[3], 2, Some(1))?;
                let p = self.shape_lits(inputs[4], 2, Some(0))?;
                Some(TypeInfo::matrix(
                    i[0],
                    i[1] * out(i[2], p[0], k[0], st[0]) * out(i[3], p[1], k[1], st[1]),
                ))
            }
            "max_pool_backward" | "avg_pool_backward" => {
                let i = self.shape_lits(inputs[2], 4, None)?;
                Some(TypeInfo::matrix(i[0], i[1] * i[2] * i[3]))
            }
            // read(..., data_type="frame") gives a frame.
            "read" => match self.dag.get(*inputs.get(10)?).literal()? {
                Lit::Str(s) if s.eq_ignore_ascii_case("frame") => Some(TypeInfo::frame(-1, -1)),
                _ => None,
            },
            _ => None,
        }
    }
}

/// Number of rows (or cols) selected by an index range, when it can be known.
pub(super) fn extent(dag: &Dag, lo: HopId, hi: HopId, full: i64) -> i64 {
    let l = dag.get(lo).literal();
    let h = dag.get(hi).literal();
    match (l, h) {
        (Some(Lit::Absent), _) => full,
        _ if lo == hi => 1,
        (Some(a), Some(b)) => match (a.as_f64(), b.as_f64()) {
            (Some(a), Some(b)) if b >= a => (b - a) as i64 + 1,
            _ => -1,
        },
        _ => -1,
    }
}

/// Result type of a cellwise binary operator, with SystemDS's value-type promotion.
pub fn binary_type(op: BinOp, a: &TypeInfo, b: &TypeInfo) -> Result<TypeInfo, String> {
    use DType::*;
    match (a.dt, b.dt) {
        (Scalar, Scalar) => {
            let (va, vb) = (a.vt, b.vt);
            if va == ValueType::String || vb == ValueType::String {
                return match op {
                    BinOp::Add => Ok(TypeInfo::scalar(ValueType::String)),
                    BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge | BinOp::Eq | BinOp::Ne => {
                        Ok(TypeInfo::scalar(ValueType::Boolean))
                    }
                    _ => Err(format!("operator {} cannot be applied to strings", op.name())),
                };
            }
            let both_int =
                is_intlike(va) && is_intlike(vb) && (va != ValueType::Unknown && vb != ValueType::Unknown);
            let vt = match op {
                _ if op.is_boolean_valued() => ValueType::Boolean,
                BinOp::Div | BinOp::Pow | BinOp::Log => ValueType::Double,
                _ if va == ValueType::Unknown || vb == ValueType::Unknown => ValueType::Unknown,
                _ if both_int => ValueType::Int,
                _ => ValueType::Double,
            };
            Ok(TypeInfo::scalar(vt))
        }
        (Matrix, Scalar) | (Scalar, Matrix) => {
            let m = if a.dt == Matrix { a } else { b };
            let s = if a.dt == Matrix { b } else { a };
            if s.vt == ValueType::String {
                return Err(format!("operator {} cannot combine a matrix and a string", op.name()));
            }
            Ok(TypeInfo::matrix(m.rows, m.cols))
        }
        (Matrix, Matrix) => {
            let rows = broadcast_dim(a.rows, b.rows);
            let cols = broadcast_dim(a.cols, b.cols);
            match (rows, cols) {
                (Some(r), Some(c)) => Ok(TypeInfo::matrix(r, c)),
                _ => Err(format!(
                    "dimensions do not match for operator {}: {}x{} and {}x{}",
                    op.name(),
                    a.rows,
                    a.cols,
                    b.rows,
                    b.cols
                )),
            }
        }
        (Frame, Frame)
            if matches!(op, BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge) =>
        {
            Ok(TypeInfo::frame(a.rows, a.cols))
        }
        (Unknown, _) | (_, Unknown) => Ok(TypeInfo::UNKNOWN),
        _ => Err(format!("operator {} cannot be applied to a {} and a {}", op.name(), a, b)),
    }
}

pub(super) fn is_intlike(vt: ValueType) -> bool {
    matches!(vt, ValueType::Int | ValueType::Boolean)
}

/// Matrix-matrix cellwise operands must have equal sizes, or one side must be a vector that is
/// broadcast (its size 1 along the dimension).
pub(super) fn broadcast_dim(a: i64, b: i64) -> Option<i64> {
    if a < 0 || b < 0 {
        return Some(if a == b || b == 1 {
            a
        } else if a == 1 {
            b
        } else {
            -1
        });
    }
    if a == b || b == 1 {
        Some(a)
    } else if a == 1 {
        Some(b)
    } else {
        None
    }
}

pub(super) fn nary_type(op: NaryOp, tys: &[TypeInfo]) -> Result<TypeInfo, String> {
    match op {
        NaryOp::Cbind | NaryOp::Rbind => {
            let mut rows = tys[0].rows;
            let mut cols = tys[0].cols;
            for t in &tys[1..] {
                if t.dt == DType::Scalar {
                    return Err("cbind/rbind need matrices".into());
                }
                if op == NaryOp::Cbind {
                    if rows >= 0 && t.rows >= 0 && rows != t.rows {
                        return Err(format!(
                            "cbind needs the same number of rows, got {} and {}",
                            rows, t.rows
                        ));
                    }
                    rows = if rows < 0 { t.rows } else { rows };
                    cols = if cols >= 0 && t.cols >= 0 { cols + t.cols } else { -1 };
                } else {
                    if cols >= 0 && t.cols >= 0 && cols != t.cols {
                        return Err(format!(
                            "rbind needs the same number of columns, got {} and {}",
                            cols, t.cols
                        ));
                    }
                    cols = if cols < 0 { t.cols } else { cols };
                    rows = if rows >= 0 && t.rows >= 0 { rows + t.rows } else { -1 };
                }
            }
            if tys[0].dt == DType::Frame {
                return Ok(TypeInfo::frame(rows, cols));
            }
            Ok(TypeInfo::matrix(rows, cols))
        }
        NaryOp::Min | NaryOp::Max => Ok(TypeInfo::UNKNOWN),
    }
}

pub(super) fn out_type(out: Out, tys: &[TypeInfo]) -> TypeInfo {
    match out {
        Out::DoubleScalar => TypeInfo::scalar(ValueType::Double),
        Out::IntScalar => TypeInfo::scalar(ValueType::Int),
        Out::BoolScalar => TypeInfo::scalar(ValueType::Boolean),
        Out::StrScalar => TypeInfo::scalar(ValueType::String),
        Out::Matrix | Out::Matrices => TypeInfo::matrix(-1, -1),
        Out::SameAs(i) => tys.get(i).copied().unwrap_or(TypeInfo::UNKNOWN),
        Out::MatrixLike(i) => {
            tys.get(i).map(|t| TypeInfo::matrix(t.rows, t.cols)).unwrap_or(TypeInfo::matrix(-1, -1))
        }
        Out::ColumnOf(i) => {
            tys.get(i).map(|t| TypeInfo::matrix(t.rows, 1)).unwrap_or(TypeInfo::matrix(-1, 1))
        }
        Out::OneByOne => TypeInfo::matrix(1, 1),
        Out::KindOf(i) if tys.get(i).is_some_and(|t| t.dt == DType::Frame) => TypeInfo::frame(-1, -1),
        Out::KindOf(_) => TypeInfo::matrix(-1, -1),
        Out::Frame => TypeInfo::frame(-1, -1),
        Out::List => TypeInfo::list(-1),
        Out::Nothing | Out::Unknown => TypeInfo::UNKNOWN,
    }
}

/// Whether a scalar of this type is numeric (for messages).
pub fn numeric(t: &TypeInfo) -> bool {
    t.dt == DType::Scalar && is_numeric(t.vt)
}
