//! Calls: resolving a name to a user function, a DML-bodied builtin or a native builtin, and
//! compiling a native builtin by its table entry (`Lower`).

use super::args::default_lit;
use super::types::{nary_type, out_type};
use super::{Builder, R, err};
use crate::builtins::{self, BuiltinId, Def, Lower, Out};
use crate::hops::{HopId, HopOp};
use crate::syntax::ast::{self, Arg, Span};
use crate::types::ops::{AggDir, AggOp, BinOp, CastOp, NaryOp, ReorgOp};
use crate::types::type_info::{DType, TypeInfo};

impl Builder<'_> {
    /// Compiles a call; returns its outputs (several for multi-return functions).
    pub(super) fn call(
        &mut self,
        ns: Option<&ast::Ident>,
        name: &ast::Ident,
        args: &[Arg],
        span: Span,
        want: usize,
    ) -> R<Vec<HopId>> {
        let program = self.ctx.program;
        if let Some(f) = program.resolve_function(self.module(), ns.map(|n| n.name.as_str()), &name.name) {
            return self.user_call(f, args, span);
        }
        if let Some(ns) = ns {
            if !program.modules[self.module() as usize].namespaces.contains_key(&ns.name) {
                return Err(err(ns.span, format!("unknown namespace `{}`", ns.name))
                    .with_note("bring it in with source(\"file.dml\") as ns"));
            }
            return Err(err(name.span, format!("namespace `{}` has no function `{}`", ns.name, name.name)));
        }
        let Some(id) = builtins::lookup(&name.name).filter(|id| !id.name().starts_with('_')) else {
            if program.builtin_modules.contains_key(&name.name) {
                let first = match args.first() {
                    Some(a) => {
                        let h = self.expr(&a.value)?;
                        Some(self.ty(h).dt)
                    }
                    None => None,
                };
                if let Some(f) = program.resolve_dml_builtin(&name.name, first) {
                    return self.user_call(f, args, span);
                }
            }
            if let Some(why) = unsupported_builtin(&name.name) {
                return Err(err(
                    name.span,
                    format!("`{}` is not supported by this engine: {why}", name.name),
                ));
            }
            return Err(err(name.span, format!("unknown function `{}`", name.name))
                .with_note("not a user function or a builtin; DML-bodied builtins need --builtin-path DIR or DML_BUILTIN_PATH"));
        };
        self.builtin_call(id, &name.name, args, span, want)
    }

    pub(super) fn builtin_call(
        &mut self,
        id: BuiltinId,
        name: &str,
        args: &[Arg],
        span: Span,
        want: usize,
    ) -> R<Vec<HopId>> {
        let spec = id.spec();
        // Builtins compiled by name first: they have unusual argument rules.
        if spec.lower == Lower::Special {
            return self.special_call(spec.name, args, span).map(|h| h.into_iter().collect());
        }
        let params: Vec<(&str, bool)> = spec.params.iter().map(|p| (p.name, p.default == Def::Req)).collect();
        let (slots, extra) = self.match_args(name, &params, spec.variadic, args, span)?;
        match spec.lower {
            Lower::Unary(op) => Ok(vec![self.unary(op, slots[0].expect("required"), span)?]),
            Lower::Agg(op, dir) => {
                let x = slots[0].expect("required");
                if let Some(w) = slots.get(1).copied().flatten() {
                    // Weighted mean: sum(X * W) / sum(W).
                    let xw = self.binary(BinOp::Mul, x, w, span)?;
                    let num = self.aggregate(AggOp::Sum, dir, xw, span)?;
                    let den = self.aggregate(AggOp::Sum, dir, w, span)?;
                    return Ok(vec![self.binary(BinOp::Div, num, den, span)?]);
                }
                Ok(vec![self.aggregate(op, dir, x, span)?])
            }
            Lower::MinMax(nop) => {
                let first = slots[0].expect("required");
                if extra.is_empty() {
                    let t = self.ty(first);
                    if t.dt == DType::Scalar {
                        return Ok(vec![first]);
                    }
                    let op = if nop == NaryOp::Min { AggOp::Min } else { AggOp::Max };
                    return Ok(vec![self.aggregate(op, AggDir::All, first, span)?]);
                }
                let bop = if nop == NaryOp::Min { BinOp::Min } else { BinOp::Max };
                let nary = extra.len() > 1;
                let mut acc = first;
                for e in extra {
                    acc = self.binary(bop, acc, e, span)?;
                }
                // SystemDS's n-ary min/max (three or more arguments) always gives a double.
                if nary && self.ty(acc).dt == DType::Scalar {
                    acc = self.cast(CastOp::AsDouble, acc, span)?;
                }
                Ok(vec![acc])
            }
            Lower::Reorg(op) => {
                let x = slots[0].expect("required");
                let t = self.ty(x);
                if t.dt != DType::Matrix && t.dt != DType::Unknown {
                    return Err(err(span, format!("`{name}` needs a matrix, but got a {t}")));
                }
                let ty = match op {
                    ReorgOp::Transpose => TypeInfo::matrix(t.cols, t.rows),
                    ReorgOp::Rev => TypeInfo::matrix(t.rows, t.cols),
                    ReorgOp::Diag => {
                        if t.cols == 1 {
                            TypeInfo::matrix(t.rows, t.rows)
                        } else if t.rows >= 0 && t.cols >= 0 && t.rows != t.cols {
                            return Err(err(
                                span,
                                format!("diag needs a square matrix or a column vector, got {t}"),
                            ));
                        } else {
                            TypeInfo::matrix(t.rows, if t.cols < 0 { -1 } else { 1 })
                        }
                    }
                };
                Ok(vec![self.add(HopOp::Reorg(op), vec![x], ty, span)])
            }
            Lower::Cast(op) => {
                let x = slots[0].expect("required");
                Ok(vec![self.cast(op, x, span)?])
            }
            Lower::Nary(op) => {
                let mut inputs = vec![slots[0].expect("required")];
                inputs.extend(extra);
                let tys: Vec<TypeInfo> = inputs.iter().map(|&h| self.ty(h)).collect();
                if tys.len() == 1
                    && tys[0].dt == DType::List
                    && matches!(op, crate::types::ops::NaryOp::Cbind | crate::types::ops::NaryOp::Rbind)
                {
                    // rbind(L) / cbind(L): the list's matrices, bound together (as SystemDS does).
                    return Ok(vec![self.add(HopOp::Nary(op), inputs, TypeInfo::matrix(-1, -1), span)]);
                }
                if tys.iter().any(|t| t.dt == DType::List) {
                    return Err(err(span, format!("`{name}` of lists: use append")));
                }
                let ty = nary_type(op, &tys).map_err(|m| err(span, m))?;
                Ok(vec![self.add(HopOp::Nary(op), inputs, ty, span)])
            }
            Lower::Library => {
                let mut inputs = Vec::with_capacity(slots.len() + extra.len());
                for (i, s) in slots.iter().enumerate() {
                    let h = match s {
                        Some(h) => *h,
                        None => {
                            let lit = default_lit(spec.params[i].default);
                            self.lit(lit, span)
                        }
                    };
                    inputs.push(h);
                }
                inputs.extend(extra);
                let tys: Vec<TypeInfo> = inputs.iter().map(|&h| self.ty(h)).collect();
                let nout = spec.nout.max(1);
                let ty = self.dnn_out_type(spec.name, &inputs).unwrap_or_else(|| out_type(spec.out, &tys));
                let hop = self.add(HopOp::Builtin { id, nout }, inputs, ty, span);
                if spec.nout > 1 || want > 1 {
                    let mut outs = Vec::new();
                    for i in 0..spec.nout {
                        outs.push(self.add(HopOp::Extract(i), vec![hop], TypeInfo::UNKNOWN, span));
                    }
                    let h = self.dag.get_mut(hop);
                    h.ty = TypeInfo::UNKNOWN;
                    return Ok(outs);
                }
                if spec.out == Out::Nothing {
                    self.dag.roots.push(hop);
                    return Ok(vec![]);
                }
                // Operators with effects (time(), reading files, random numbers) run where the
                // statement stands, not when their value is first needed: `t0 = time()` must
                // be taken before the work it measures.
                if spec.side_effect {
                    self.dag.roots.push(hop);
                }
                Ok(vec![hop])
            }
            Lower::Special => unreachable!("handled above"),
        }
    }
}

/// SystemDS builtins that need systems this engine does not have (or that SystemDS itself
/// rejects in scripts), with the reason given to the user.
fn unsupported_builtin(name: &str) -> Option<&'static str> {
    Some(match name {
        "sql" => "it reads from a JDBC database",
        "federated" => "it needs SystemDS federated workers",
        "tensor" => {
            "n-dimensional tensors are an experimental SystemDS feature without single-node support here"
        }
        "local" | "quantize_compress" => "SystemDS reserves it for internal use (it is rejected in scripts)",
        _ => return None,
    })
}
