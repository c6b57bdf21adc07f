//! Matching a call's arguments to the parameters of a builtin (from the builtin table) or of a
//! user function: positional, then named, as R does, with SystemDS's exceptions.

use super::{Builder, R, err};
use crate::builtins::Def;
use crate::hops::{HopId, Lit};
use crate::syntax::ast::{Arg, Span};
use crate::types::bind::{BindError, bind_args};

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
        // SystemDS's parser passes a plain (not parameterized) builtin's arguments by position
        // once the first one is unnamed, whatever later ones are called: `ifelse(c, 5, n =
        // ceil(x))` (bandit.dml). Only for these few, so that a misspelt name of a builtin with
        // named parameters (`matrix(0, rows=2, colz=3)`) stays an error.
        const PLAIN: &[&str] =
            &["ifelse", "min", "max", "round", "abs", "log", "sqrt", "exp", "floor", "ceil"];
        let first_positional =
            builtin && PLAIN.contains(&fname) && args.first().is_some_and(|a| a.name.is_none());
        let names: Vec<&str> = params.iter().map(|(p, _)| *p).collect();
        let mut bound_args = Vec::with_capacity(args.len());
        for arg in args {
            let value = self.expr(&arg.value)?;
            // SystemDS also names table's output dimensions rows= and cols=.
            let name = arg.name.as_ref().map(|n| match (fname, n.name.as_str()) {
                ("table" | "ctable", "rows") => "odim1",
                ("table" | "ctable", "cols") => "odim2",
                (_, other) => other,
            });
            let name = name.filter(|n| !first_positional || names.contains(n));
            bound_args.push((name, value));
        }
        // The name an error points at (only named arguments are unknown or given twice).
        let named = |arg: usize| args[arg].name.as_ref().map_or((span, ""), |n| (n.span, n.name.as_str()));
        let (slots, extra) = bind_args(&names, bound_args, variadic).map_err(|e| match e {
            BindError::UnknownName { arg } => {
                let (at, n) = named(arg);
                err(at, format!("`{fname}` has no parameter named `{n}`"))
            }
            BindError::GivenTwice { arg, .. } => {
                let (at, n) = named(arg);
                err(at, format!("parameter `{n}` of `{fname}` is given twice"))
            }
            BindError::TooMany { arg } => err(
                args[arg].value.span,
                format!("too many arguments for `{fname}` (it takes {})", params.len()),
            ),
        })?;
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
