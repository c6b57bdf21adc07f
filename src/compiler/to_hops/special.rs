//! Builtins with their own compilation rules (`Lower::Special` in the builtin table): print,
//! stop and assert, log, matrix, rand, seq, ifelse, list, append, exists.

use super::args::default_lit;
use super::types::nary_type;
use super::{Builder, R, err};
use crate::builtins::{self, Def};
use crate::hops::{HopId, HopOp, Lit};
use crate::syntax::ast::{Arg, ExprKind, Span, ValueType};
use crate::types::ops::{BinOp, DataGenOp, EffectOp, NaryOp, UnOp};
use crate::types::type_info::{DType, TypeInfo};

impl Builder<'_> {
    /// Builtins with their own compilation rules.
    pub(super) fn special_call(&mut self, name: &str, args: &[Arg], span: Span) -> R<Option<HopId>> {
        let spec = builtins::lookup(name).expect("special builtins are in the table").spec();
        match name {
            "print" => {
                if args.is_empty() {
                    let empty = self.lit(Lit::Str(String::new()), span);
                    let h = self.add(HopOp::Effect(EffectOp::Print), vec![empty], TypeInfo::UNKNOWN, span);
                    self.dag.roots.push(h);
                    return Ok(None);
                }
                let mut inputs = Vec::new();
                for a in args {
                    inputs.push(self.expr(&a.value)?);
                }
                let op = if inputs.len() == 1 { EffectOp::Print } else { EffectOp::Printf };
                let h = self.add(HopOp::Effect(op), inputs, TypeInfo::UNKNOWN, span);
                self.dag.roots.push(h);
                Ok(None)
            }
            "stop" | "assert" => {
                let params: Vec<(&str, bool)> =
                    spec.params.iter().map(|p| (p.name, p.default == Def::Req)).collect();
                let (slots, _) = self.match_args(name, &params, false, args, span)?;
                let x = match slots[0] {
                    Some(h) => h,
                    None => self.lit(Lit::Str(String::new()), span),
                };
                let op = if name == "stop" { EffectOp::Stop } else { EffectOp::Assert };
                let h = self.add(HopOp::Effect(op), vec![x], TypeInfo::UNKNOWN, span);
                self.dag.roots.push(h);
                Ok(None)
            }
            "log" => {
                let (slots, _) = self.match_args(name, &[("x", true), ("base", false)], false, args, span)?;
                let x = slots[0].expect("required");
                match slots[1] {
                    None => self.unary(UnOp::Log, x, span).map(Some),
                    Some(b) => self.binary(BinOp::Log, x, b, span).map(Some),
                }
            }
            "matrix" => {
                let params: Vec<(&str, bool)> =
                    spec.params.iter().map(|p| (p.name, p.default == Def::Req)).collect();
                let (slots, _) = self.match_args(name, &params, false, args, span)?;
                let data = slots[0].expect("required");
                let rows = slots[1];
                let cols = slots[2];
                let td = self.ty(data);
                let known = |b: &Self, h: Option<HopId>| -> i64 {
                    h.and_then(|h| b.dag.get(h).literal().and_then(|l| l.as_f64()))
                        .map(|v| v as i64)
                        .unwrap_or(-1)
                };
                let (r, c) = (known(self, rows), known(self, cols));
                let byrow = match slots[3] {
                    Some(h) => match self.dag.get(h).literal() {
                        Some(Lit::Bool(b)) => *b,
                        _ => return Err(err(span, "byrow must be TRUE or FALSE")),
                    },
                    None => true,
                };
                let absent = |b: &mut Self| b.lit(Lit::Absent, span);
                let rows_h = match rows {
                    Some(h) => h,
                    None => absent(self),
                };
                let cols_h = match cols {
                    Some(h) => h,
                    None => absent(self),
                };
                if td.dt == DType::List {
                    // matrix([a, b, c], rows=1, cols=3): the elements of a list of scalars.
                    let h = self.add(
                        HopOp::Reshape { byrow },
                        vec![data, rows_h, cols_h],
                        TypeInfo::matrix(r, c),
                        span,
                    );
                    return Ok(Some(h));
                }
                if td.dt == DType::Matrix || (td.dt == DType::Unknown) {
                    let (r2, c2) = match (r, c, td.cells()) {
                        (r, c, _) if r >= 0 && c >= 0 => (r, c),
                        (r, -1, Some(n)) if r > 0 => (r, n as i64 / r),
                        (-1, c, Some(n)) if c > 0 => (n as i64 / c, c),
                        _ => (-1, -1),
                    };
                    if let (Some(n), true) = (td.cells(), r2 >= 0 && c2 >= 0)
                        && (r2 * c2) as f64 != n
                    {
                        return Err(err(
                            span,
                            format!("cannot reshape a {}x{} matrix into {}x{}", td.rows, td.cols, r2, c2),
                        ));
                    }
                    let h = self.add(
                        HopOp::Reshape { byrow },
                        vec![data, rows_h, cols_h],
                        TypeInfo::matrix(r2, c2),
                        span,
                    );
                    return Ok(Some(h));
                }
                if td.dt != DType::Scalar {
                    return Err(err(span, format!("matrix() cannot be built from a {td}")));
                }
                if td.vt != ValueType::String && (rows.is_none() || cols.is_none()) {
                    return Err(err(span, "matrix(value, rows, cols) needs both rows and cols"));
                }
                let nnz = match self.dag.get(data).literal().and_then(|l| l.as_f64()) {
                    Some(0.0) => 0,
                    Some(_) if r >= 0 && c >= 0 => r * c,
                    _ => -1,
                };
                let h = self.add(
                    HopOp::DataGen(DataGenOp::Fill),
                    vec![data, rows_h, cols_h],
                    TypeInfo::matrix_nnz(r, c, nnz),
                    span,
                );
                Ok(Some(h))
            }
            "rand" => {
                let params: Vec<(&str, bool)> =
                    spec.params.iter().map(|p| (p.name, p.default == Def::Req)).collect();
                let (slots, _) = self.match_args(name, &params, false, args, span)?;
                let mut inputs = Vec::new();
                for (i, s) in slots.iter().enumerate() {
                    inputs.push(match s {
                        Some(h) => *h,
                        None => self.lit(default_lit(spec.params[i].default), span),
                    });
                }
                let dim = |b: &Self, h: HopId| {
                    b.dag.get(h).literal().and_then(|l| l.as_f64()).map(|v| v as i64).unwrap_or(-1)
                };
                let (r, c) = (dim(self, inputs[0]), dim(self, inputs[1]));
                let h = self.add(HopOp::DataGen(DataGenOp::Rand), inputs, TypeInfo::matrix(r, c), span);
                Ok(Some(h))
            }
            "seq" => {
                let (slots, _) = self.match_args(
                    name,
                    &[("from", true), ("to", true), ("incr", false)],
                    false,
                    args,
                    span,
                )?;
                let from = slots[0].expect("required");
                let to = slots[1].expect("required");
                let incr = match slots[2] {
                    Some(h) => h,
                    None => self.lit(Lit::Absent, span),
                };
                let lit = |b: &Self, h: HopId| b.dag.get(h).literal().and_then(|l| l.as_f64());
                let rows = match (lit(self, from), lit(self, to), lit(self, incr)) {
                    (Some(f), Some(t), inc) => {
                        let inc = inc.unwrap_or(if f <= t { 1.0 } else { -1.0 });
                        if inc != 0.0 && ((t - f) / inc) >= 0.0 {
                            ((t - f) / inc + 1e-10).floor() as i64 + 1
                        } else {
                            -1
                        }
                    }
                    _ => -1,
                };
                let h = self.add(
                    HopOp::DataGen(DataGenOp::Seq),
                    vec![from, to, incr],
                    TypeInfo::matrix(rows, 1),
                    span,
                );
                Ok(Some(h))
            }
            "ifelse" => {
                let (slots, _) =
                    self.match_args(name, &[("test", true), ("yes", true), ("no", true)], false, args, span)?;
                let ins: Vec<HopId> = slots.into_iter().map(|s| s.expect("required")).collect();
                let tys: Vec<TypeInfo> = ins.iter().map(|&h| self.ty(h)).collect();
                let ty = if tys.iter().all(|t| t.dt == DType::Scalar) {
                    let vt = if tys[1].vt == tys[2].vt { tys[1].vt } else { ValueType::Double };
                    TypeInfo::scalar(vt)
                } else if let Some(m) = tys.iter().find(|t| t.dt == DType::Matrix) {
                    TypeInfo::matrix(m.rows, m.cols)
                } else {
                    TypeInfo::UNKNOWN
                };
                Ok(Some(self.add(HopOp::Ternary, ins, ty, span)))
            }
            "list" => {
                // SystemDS allows mixing named and unnamed elements (`list(10, x=2)`); the
                // unnamed ones get an empty name, which no lookup matches.
                let mut names = Vec::new();
                let mut inputs = Vec::new();
                let any_named = args.iter().any(|a| a.name.is_some());
                for a in args {
                    if any_named {
                        names.push(a.name.as_ref().map(|n| n.name.clone()).unwrap_or_default());
                    }
                    inputs.push(self.expr(&a.value)?);
                }
                let n = inputs.len() as i64;
                Ok(Some(self.add(HopOp::MakeList(names), inputs, TypeInfo::list(n), span)))
            }
            "append" => {
                let mut inputs = Vec::new();
                for a in args {
                    inputs.push(self.expr(&a.value)?);
                }
                if inputs.len() < 2 {
                    return Err(err(span, "append needs at least two arguments"));
                }
                let t0 = self.ty(inputs[0]);
                if t0.dt == DType::Matrix {
                    let tys: Vec<TypeInfo> = inputs.iter().map(|&h| self.ty(h)).collect();
                    let ty = nary_type(NaryOp::Cbind, &tys).map_err(|m| err(span, m))?;
                    return Ok(Some(self.add(HopOp::Nary(NaryOp::Cbind), inputs, ty, span)));
                }
                let id = builtins::lookup("append").expect("append is a builtin");
                let ty = if t0.dt == DType::List {
                    TypeInfo::list(if t0.rows >= 0 { t0.rows + inputs.len() as i64 - 1 } else { -1 })
                } else {
                    TypeInfo::UNKNOWN
                };
                Ok(Some(self.add(HopOp::Builtin { id, nout: 1 }, inputs, ty, span)))
            }
            "exists" => {
                let Some(a) = args.first() else {
                    return Err(err(span, "exists needs a variable or a variable name"));
                };
                let name = match &a.value.kind {
                    ExprKind::Ident(n) => n.clone(),
                    ExprKind::Str(s) => s.clone(),
                    _ => return Err(err(a.value.span, "exists needs a variable or a variable name")),
                };
                let defined = self.is_defined(&name);
                Ok(Some(self.lit(Lit::Bool(defined), span)))
            }
            other => Err(err(span, format!("`{other}` cannot be used here"))),
        }
    }
}
