//! Operators with their result types: unary, binary, matrix product, indexing and left
//! indexing, aggregates and casts. Each checks its operands and reports a mismatch at the
//! user's code.

use super::types::{binary_type, extent};
use super::{Builder, R, err};
use crate::hops::{HopId, HopOp, Lit};
use crate::syntax::ast::{IndexSpec, Span, ValueType};
use crate::types::ops::{AggDir, AggOp, BinOp, CastOp, UnOp};
use crate::types::type_info::{DType, TypeInfo};

impl Builder<'_> {
    pub fn unary(&mut self, op: UnOp, x: HopId, span: Span) -> R<HopId> {
        let t = self.ty(x);
        let ty = match t.dt {
            DType::Scalar => {
                if t.vt == ValueType::String {
                    return Err(err(span, format!("`{}` cannot be applied to a string", op_name_un(op))));
                }
                let vt = match op {
                    UnOp::Not | UnOp::IsNa | UnOp::IsNaN | UnOp::IsInf => ValueType::Boolean,
                    UnOp::Neg if t.vt == ValueType::Int => ValueType::Int,
                    _ => ValueType::Double,
                };
                TypeInfo::scalar(vt)
            }
            DType::Matrix => TypeInfo::matrix(t.rows, t.cols),
            DType::Unknown => TypeInfo::UNKNOWN,
            _ => return Err(err(span, format!("`{}` cannot be applied to a {}", op_name_un(op), t))),
        };
        Ok(self.add(HopOp::Unary(op), vec![x], ty, span))
    }

    pub fn binary(&mut self, op: BinOp, a: HopId, b: HopId, span: Span) -> R<HopId> {
        let ty = binary_type(op, &self.ty(a), &self.ty(b)).map_err(|m| err(span, m))?;
        Ok(self.add(HopOp::Binary(op), vec![a, b], ty, span))
    }

    pub(super) fn matmul(&mut self, a: HopId, b: HopId, span: Span) -> R<HopId> {
        let (ta, tb) = (self.ty(a), self.ty(b));
        for t in [ta, tb] {
            if t.dt != DType::Matrix && t.dt != DType::Unknown {
                return Err(err(span, format!("%*% needs two matrices, but got a {t}")));
            }
        }
        if ta.cols >= 0 && tb.rows >= 0 && ta.cols != tb.rows {
            return Err(err(
                span,
                format!(
                    "dimensions do not match for matrix multiplication: {}x{} %*% {}x{}",
                    ta.rows, ta.cols, tb.rows, tb.cols
                ),
            ));
        }
        Ok(self.add(HopOp::MatMul, vec![a, b], TypeInfo::matrix(ta.rows, tb.cols), span))
    }

    pub(super) fn index_bounds(&mut self, spec: Option<&IndexSpec>) -> R<(HopId, HopId)> {
        match spec {
            None | Some(IndexSpec::All) => {
                let a = self.lit(Lit::Absent, Span::default());
                let b = self.lit(Lit::Absent, Span::default());
                Ok((a, b))
            }
            Some(IndexSpec::Single(e)) => {
                let x = self.expr(e)?;
                Ok((x, x))
            }
            Some(IndexSpec::Range(lo, hi)) => Ok((self.expr(lo)?, self.expr(hi)?)),
        }
    }

    pub(super) fn index(
        &mut self,
        x: HopId,
        rows: &IndexSpec,
        cols: Option<&IndexSpec>,
        span: Span,
    ) -> R<HopId> {
        let tx = self.ty(x);
        if tx.dt == DType::Scalar {
            return Err(err(span, format!("cannot index a scalar ({tx})")));
        }
        let (rl, ru) = self.index_bounds(Some(rows))?;
        let (cl, cu) = self.index_bounds(cols)?;
        let ty = match tx.dt {
            DType::List => TypeInfo::list(-1),
            DType::Matrix | DType::Frame => {
                let r = extent(&self.dag, rl, ru, tx.rows);
                let c = extent(&self.dag, cl, cu, tx.cols);
                let mut t =
                    if tx.dt == DType::Frame { TypeInfo::frame(r, c) } else { TypeInfo::matrix(r, c) };
                t.vt = tx.vt;
                t
            }
            _ => TypeInfo::UNKNOWN,
        };
        Ok(self.add(HopOp::Index, vec![x, rl, ru, cl, cu], ty, span))
    }

    pub(super) fn left_index(
        &mut self,
        target: HopId,
        value: HopId,
        rows: &IndexSpec,
        cols: Option<&IndexSpec>,
        span: Span,
    ) -> R<HopId> {
        let tt = self.ty(target);
        if tt.dt == DType::Scalar {
            return Err(err(span, format!("cannot assign into an index of a scalar ({tt})")));
        }
        let (rl, ru) = self.index_bounds(Some(rows))?;
        let (cl, cu) = self.index_bounds(cols)?;
        Ok(self.add(HopOp::LeftIndex, vec![target, value, rl, ru, cl, cu], tt, span))
    }

    pub(super) fn aggregate(&mut self, op: AggOp, dir: AggDir, x: HopId, span: Span) -> R<HopId> {
        let t = self.ty(x);
        if !matches!(t.dt, DType::Matrix | DType::Unknown) {
            return Err(err(span, format!("this aggregate needs a matrix, but got a {t}")));
        }
        let ty = match dir {
            AggDir::All => TypeInfo::scalar(ValueType::Double),
            AggDir::Row => TypeInfo::matrix(t.rows, 1),
            AggDir::Col => TypeInfo::matrix(1, t.cols),
        };
        Ok(self.add(HopOp::AggUnary(op, dir), vec![x], ty, span))
    }

    pub(super) fn cast(&mut self, op: CastOp, x: HopId, span: Span) -> R<HopId> {
        let t = self.ty(x);
        let ty = match op {
            CastOp::AsScalar => {
                if t.dt == DType::Scalar {
                    return Ok(x);
                }
                if t.dt == DType::Matrix && t.dims_known() && (t.rows != 1 || t.cols != 1) {
                    return Err(err(
                        span,
                        format!("as.scalar needs a 1x1 matrix, but this is {}x{}", t.rows, t.cols),
                    ));
                }
                let vt = if t.dt == DType::Matrix { ValueType::Double } else { ValueType::Unknown };
                TypeInfo {
                    dt: if vt == ValueType::Unknown { DType::Unknown } else { DType::Scalar },
                    ..TypeInfo::scalar(vt)
                }
            }
            CastOp::AsMatrix => match t.dt {
                DType::Matrix => return Ok(x),
                DType::Scalar => TypeInfo::matrix(1, 1),
                DType::Frame => TypeInfo::matrix(t.rows, t.cols),
                _ => TypeInfo::matrix(-1, -1),
            },
            CastOp::AsDouble | CastOp::AsInt | CastOp::AsBool => {
                let vt = match op {
                    CastOp::AsDouble => ValueType::Double,
                    CastOp::AsInt => ValueType::Int,
                    _ => ValueType::Boolean,
                };
                match t.dt {
                    DType::Matrix => TypeInfo::matrix(t.rows, t.cols),
                    DType::Scalar | DType::Unknown => TypeInfo::scalar(vt),
                    _ => return Err(err(span, format!("cannot convert a {t} to a {vt}"))),
                }
            }
            CastOp::Nrow | CastOp::Ncol | CastOp::Length => {
                if t.dt == DType::Scalar {
                    if op == CastOp::Length {
                        return Ok(self.lit(Lit::Int(1), span));
                    }
                    return Err(err(span, format!("nrow/ncol need a matrix, frame or list, but got a {t}")));
                }
                TypeInfo::scalar(ValueType::Int)
            }
        };
        Ok(self.add(HopOp::Cast(op), vec![x], ty, span))
    }
}

pub(super) fn op_name_un(op: UnOp) -> String {
    format!("{op:?}").to_lowercase()
}
