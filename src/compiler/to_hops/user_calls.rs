//! Calls of user functions: type checks of the arguments, and inlining of small single-block
//! functions into the caller's DAG.

use super::{Builder, InlineFrame, R, err};
use crate::hops::{FuncId, HopId, HopOp, Lit};
use crate::syntax::ast::{self, Arg, Span, ValueType};
use crate::types::ops::CastOp;
use crate::types::type_info::{DType, TypeInfo};
use std::collections::HashMap;

impl<'a> Builder<'a> {
    pub(super) fn user_call(&mut self, f: FuncId, args: &[Arg], span: Span) -> R<Vec<HopId>> {
        let func = &self.ctx.program.functions[f as usize];
        let params: Vec<(&str, bool)> =
            func.params.iter().map(|p| (p.name.name.as_str(), p.default.is_none())).collect();
        let (slots, _) = self.match_args_with(&func.name, &params, false, args, span, false)?;
        let mut inputs = Vec::with_capacity(slots.len());
        for (i, s) in slots.into_iter().enumerate() {
            let hop = match s {
                Some(h) => {
                    let declared = TypeInfo::of_spec(&func.params[i].ty);
                    let actual = self.ty(h);
                    if declared.dt != actual.dt
                        && actual.dt != DType::Unknown
                        && declared.dt != DType::Unknown
                    {
                        let arg_span = self.dag.get(h).span;
                        return Err(err(
                            arg_span,
                            format!(
                                "argument `{}` of `{}` must be a {}, but this is a {}",
                                func.params[i].name.name, func.name, func.params[i].ty.data, actual
                            ),
                        ));
                    }
                    h
                }
                None => self.lit(Lit::Absent, span),
            };
            inputs.push(hop);
        }
        if let Some(outs) = self.try_inline(f, &inputs, span)? {
            return Ok(outs);
        }
        let nout = func.returns.len();
        let call = self.add(HopOp::Call { func: f, nout: nout as u8 }, inputs, TypeInfo::UNKNOWN, span);
        let mut outs = Vec::with_capacity(nout);
        for (i, r) in func.returns.iter().enumerate() {
            outs.push(self.add(HopOp::Extract(i as u8), vec![call], TypeInfo::of_spec(&r.ty), span));
        }
        // A call runs even when nobody reads its results: the function may print, write or stop,
        // and SystemDS runs every call statement.
        self.dag.roots.push(call);
        Ok(outs)
    }

    /// Inlines a call of a small function whose body is one basic block: its statements are built
    /// into this DAG with the parameters bound to the argument operators, so the call costs
    /// nothing at run time and rewrites see across it. Returns `None` when the function does not
    /// qualify (several blocks, recursion, too large, inlining switched off).
    pub(super) fn try_inline(&mut self, f: FuncId, inputs: &[HopId], span: Span) -> R<Option<Vec<HopId>>> {
        const MAX_INLINE_STATEMENTS: usize = 24;
        const MAX_INLINE_DEPTH: usize = 8;
        if !self.ctx.inline_functions || self.inline_stack.len() >= MAX_INLINE_DEPTH {
            return Ok(None);
        }
        if self.inline_stack.iter().any(|fr| fr.func == f) {
            return Ok(None);
        }
        let program = self.ctx.program;
        let func = &program.functions[f as usize];
        if func.external {
            return Ok(None);
        }
        let stmts = match func.body.as_slice() {
            [] => &[][..],
            [crate::compiler::program::Block::Basic(bb)] => &bb.stmts[..],
            _ => return Ok(None),
        };
        if stmts.len() > MAX_INLINE_STATEMENTS {
            return Ok(None);
        }
        // `eval` resolves names in the file whose code is running; inlined into another file's
        // code it would look in the wrong one.
        if func.module != self.module() {
            let mut calls_eval = false;
            crate::syntax::visit::for_each_call(stmts, &mut |ns, name, _| {
                calls_eval |= ns.is_none() && (name == "eval" || name == "evalList");
            });
            if calls_eval {
                return Ok(None);
            }
        }
        // Arguments whose parameter has a default expression that is not a literal are evaluated
        // by the callee at run time; such calls are not inlined.
        let mut frame =
            InlineFrame { func: f, vars: &func.vars, module: func.module, current: HashMap::new() };
        let mut pending_defaults = Vec::new();
        for (i, &h) in inputs.iter().enumerate() {
            if self.dag.get(h).literal() == Some(&Lit::Absent) {
                match &func.params[i].default {
                    Some(d) => pending_defaults.push((func.param_slots[i], d)),
                    None => return Ok(None),
                }
            } else {
                let h = self.cast_to_declared(h, &func.params[i].ty, span)?;
                frame.current.insert(func.param_slots[i], h);
            }
        }
        self.inline_stack.push(frame);
        let roots_before = self.dag.roots.len();
        let result = (|| -> R<Option<Vec<HopId>>> {
            for (slot, d) in pending_defaults {
                let h = self.expr(d)?;
                self.assign_var(slot, h);
            }
            for stmt in stmts {
                self.stmt(stmt)?;
            }
            let frame = self.inline_stack.last().expect("pushed above");
            let mut found = Vec::new();
            for &slot in &func.return_slots {
                match frame.current.get(&slot) {
                    Some(&h) => found.push(h),
                    None => return Ok(None),
                }
            }
            let mut outs = Vec::new();
            for (h, r) in found.into_iter().zip(&func.returns) {
                outs.push(self.cast_to_declared(h, &r.ty, span)?);
            }
            Ok(Some(outs))
        })();
        self.inline_stack.pop();
        if !matches!(result, Ok(Some(_))) {
            // Nothing of a failed attempt may run: the real call does it all.
            self.dag.roots.truncate(roots_before);
        }
        let _ = span;
        result
    }

    /// A scalar passed to or returned from a function takes the function's declared value type
    /// (an `int` result declared `double` prints as `3.0`), as SystemDS converts it.
    pub(super) fn cast_to_declared(&mut self, h: HopId, spec: &ast::TypeSpec, span: Span) -> R<HopId> {
        let t = self.ty(h);
        let scalarish = t.dt == DType::Scalar || t.dt == DType::Unknown;
        if spec.data != ast::DataType::Scalar || !scalarish || t.vt == spec.value {
            return Ok(h);
        }
        let maybe = |vts: &[ValueType]| vts.contains(&t.vt) || t.vt == ValueType::Unknown;
        let op = match spec.value {
            ValueType::Double if maybe(&[ValueType::Int, ValueType::Boolean]) => CastOp::AsDouble,
            ValueType::Int if maybe(&[ValueType::Double, ValueType::Boolean]) => CastOp::AsInt,
            ValueType::Boolean if maybe(&[ValueType::Int, ValueType::Double]) => CastOp::AsBool,
            _ => return Ok(h),
        };
        self.cast(op, h, span)
    }
}
