//! Matching a call's arguments to the parameters of a builtin (from the builtin table) or of a
//! user function: positional, then named, as R does, with SystemDS's exceptions.

use super::{Builder, R, err};
use crate::builtins::Def;
use crate::hops::{HopId, Lit};
use crate::syntax::ast::{Arg, Span};

impl Builder<'_> {
    /// Matches call arguments to parameters (positional, then named), as R does.
    pub(super) fn match_args(
        &mut self,
        fname: &str,
        params: &[(&str, bool)],
        variadic: bool,
        args: &[Arg],
        span: Span,
    ) -> R<(Vec<Option<HopId>>, Vec<HopId>)> {
        self.match_args_with(fname, params, variadic, args, span, true)
    }

    /// [`Self::match_args`]; `builtin` allows SystemDS's positional reading of unknown names.
    pub(super) fn match_args_with(
        &mut self,
        fname: &str,
        params: &[(&str, bool)],
        variadic: bool,
        args: &[Arg],
        span: Span,
        builtin: bool,
    ) -> R<(Vec<Option<HopId>>, Vec<HopId>)> {
        let mut slots: Vec<Option<HopId>> = vec![None; params.len()];
        let mut extra = Vec::new();
        let mut next_pos = 0;
        // SystemDS's parser passes a plain (not parameterized) builtin's arguments by position
        // once the first one is unnamed, whatever later ones are called: `ifelse(c, 5, n =
        // ceil(x))` (bandit.dml). Only for these few, so that a misspelt name of a builtin with
        // named parameters (`matrix(0, rows=2, colz=3)`) stays an error.
        const PLAIN: &[&str] =
            &["ifelse", "min", "max", "round", "abs", "log", "sqrt", "exp", "floor", "ceil"];
        let first_positional =
            builtin && PLAIN.contains(&fname) && args.first().is_some_and(|a| a.name.is_none());
        for arg in args {
            let value = self.expr(&arg.value)?;
            // SystemDS also names table's output dimensions rows= and cols=.
            let named = arg.name.as_ref().map(|n| {
                let pname = match (fname, n.name.as_str()) {
                    ("table" | "ctable", "rows") => "odim1",
                    ("table" | "ctable", "cols") => "odim2",
                    (_, other) => other,
                };
                (n, params.iter().position(|(p, _)| *p == pname))
            });
            let named = match named {
                Some((_, None)) if first_positional => None,
                other => other,
            };
            match named {
                Some((n, i)) => {
                    let Some(i) = i else {
                        return Err(err(n.span, format!("`{fname}` has no parameter named `{}`", n.name)));
                    };
                    if slots[i].is_some() {
                        return Err(err(
                            n.span,
                            format!("parameter `{}` of `{fname}` is given twice", n.name),
                        ));
                    }
                    slots[i] = Some(value);
                }
                None => {
                    while next_pos < params.len() && slots[next_pos].is_some() {
                        next_pos += 1;
                    }
                    if next_pos < params.len() {
                        slots[next_pos] = Some(value);
                        next_pos += 1;
                    } else if variadic {
                        extra.push(value);
                    } else {
                        return Err(err(
                            arg.value.span,
                            format!("too many arguments for `{fname}` (it takes {})", params.len()),
                        ));
                    }
                }
            }
        }
        for (i, (pname, required)) in params.iter().enumerate() {
            if slots[i].is_none() && *required {
                return Err(err(span, format!("missing argument `{pname}` in the call of `{fname}`")));
            }
        }
        Ok((slots, extra))
    }
}

pub fn default_lit(d: Def) -> Lit {
    match d {
        Def::Req | Def::Opt => Lit::Absent,
        Def::I(i) => Lit::Int(i),
        Def::F(f) => Lit::Double(f),
        Def::B(b) => Lit::Bool(b),
        Def::S(s) => Lit::Str(s.to_string()),
    }
}
