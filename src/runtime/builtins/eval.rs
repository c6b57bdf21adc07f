//! `eval(fname, args...)` and `evalList(fname, list)`: call a user function, a DML-bodied
//! builtin (compiled on demand when no code names it directly) or a native builtin by a name
//! known only at run time.

use super::{Args, BuiltinFn::CallsBack, Context, DmlFunction, Impl, err, one};
use crate::builtins::{BuiltinId, Def, Lower};
use crate::compiler::program::Program;
use crate::kernels;
use crate::runtime::error::{RtError, RtResult};
use crate::types::matrix::Matrix;
use crate::types::ops::{AggDir, ReorgOp};
use crate::types::type_info::DType;
use crate::types::value::{ListValue, Value};
use std::sync::Arc;

pub(super) const IMPLS: &[Impl] = &[("eval", CallsBack(eval)), ("evalList", CallsBack(eval_list))];

thread_local! {
    /// How deeply `eval` calls are nested on this thread (bounds recursion through `eval`).
    static EVAL_DEPTH: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// `eval(fname, args...)`: the first output; a scalar becomes a 1x1 matrix, as in SystemDS.
fn eval(a: Args, ctx: &dyn Context) -> RtResult<Vec<Value>> {
    let (outs, _) = second_order(&a, ctx, false)?;
    match outs.into_iter().next() {
        Some(v) if v.is_scalar() => match v.as_f64() {
            Some(x) => one(Value::matrix(Matrix::scalar(x))),
            None => one(v),
        },
        Some(v) => one(v),
        None => err("eval: the function returns no value"),
    }
}

/// `evalList(fname, list)`: all outputs, as a list named by a user function's declared outputs.
fn eval_list(a: Args, ctx: &dyn Context) -> RtResult<Vec<Value>> {
    let (items, names) = second_order(&a, ctx, true)?;
    one(Value::List(Arc::new(ListValue { items, names })))
}

/// The arguments of a second-order call: positional values, or the items of one list (named
/// items bind by name).
struct CallArgs {
    values: Vec<Value>,
    names: Vec<Option<String>>,
}

impl CallArgs {
    fn from_values(values: Vec<Value>) -> CallArgs {
        let names = vec![None; values.len()];
        CallArgs { values, names }
    }

    fn from_list(l: &ListValue) -> CallArgs {
        // SystemDS binds by name only when every element has one; otherwise by position.
        let names = if l.is_named() && l.names.iter().all(|n| !n.is_empty()) {
            l.names.iter().map(|n| Some(n.clone())).collect()
        } else {
            vec![None; l.items.len()]
        };
        CallArgs { values: l.items.clone(), names }
    }

    /// Binds to parameters in order; `None` for the ones not given.
    fn bind(self, fname: &str, params: &[&str]) -> RtResult<Vec<Option<Value>>> {
        let mut slots: Vec<Option<Value>> = vec![None; params.len()];
        let mut next = 0;
        for (v, n) in self.values.into_iter().zip(self.names) {
            match n {
                Some(n) => {
                    let Some(i) = params.iter().position(|p| *p == n) else {
                        return err(format!("eval: `{fname}` has no parameter named `{n}`"));
                    };
                    if slots[i].is_some() {
                        return err(format!("eval: parameter `{n}` of `{fname}` is given twice"));
                    }
                    slots[i] = Some(v);
                }
                None => {
                    while next < params.len() && slots[next].is_some() {
                        next += 1;
                    }
                    if next == params.len() {
                        return err(format!(
                            "eval: too many arguments for `{fname}` (it takes {})",
                            params.len()
                        ));
                    }
                    slots[next] = Some(v);
                    next += 1;
                }
            }
        }
        Ok(slots)
    }
}

/// Calls the function `eval` or (with `list`) `evalList` names; returns its outputs and their
/// names (a user function's declared outputs; none for a native builtin).
fn second_order(a: &Args, ctx: &dyn Context, list: bool) -> RtResult<(Vec<Value>, Vec<String>)> {
    let name = a.name();
    let fname = match a.get("fname")? {
        Some(Value::Str(s)) => s.to_string(),
        Some(x) => return err(format!("{name}: the function name must be a string, but got a {}", x.kind())),
        None => return err(format!("{name}: the function name is missing")),
    };
    // eval's arguments follow the name; evalList's are its one list.
    let rest: Vec<Value> = match list {
        true => a.get("args")?.into_iter().cloned().collect(),
        false => a.rest().iter().flatten().cloned().collect(),
    };
    let call_args = match (list, rest.as_slice()) {
        (_, [Value::List(l)]) => CallArgs::from_list(l),
        (true, [other]) => {
            return err(format!("evalList: the arguments must be a list, but got a {}", other.kind()));
        }
        (true, _) => return err("evalList takes a function name and one list of arguments"),
        (false, _) => CallArgs::from_values(rest),
    };
    let (ns, short) = match fname.split_once("::") {
        Some((ns, f)) => (Some(ns), f),
        None => (None, fname.as_str()),
    };
    let first_dt = call_args.values.first().map(|v| match v {
        Value::Matrix(_) => DType::Matrix,
        Value::Frame(_) => DType::Frame,
        Value::List(_) => DType::List,
        _ => DType::Scalar,
    });
    if let Some(f) = ctx.find_function(ns, short, first_dt) {
        return call_dml_function(ctx, f, call_args, &fname);
    }
    if ns.is_none()
        && let Some(id) = crate::builtins::lookup(short).filter(|id| !id.name().starts_with('_'))
    {
        let params: Vec<&str> = id.spec().params.iter().map(|p| p.name).collect();
        let bound = call_args.bind(&fname, &params)?;
        return call_native(ctx, id, bound).map(|outs| (outs, Vec::new()));
    }
    // A DML-bodied builtin no code names directly (`gridSearch(train="lm")`): loaded now, once.
    if ns.is_none()
        && let Some(program) = lazy_builtin(ctx, short)?
        && let Some(fid) = program.resolve_dml_builtin(short, first_dt)
    {
        return call_dml_function(ctx, DmlFunction { program, fid }, call_args, &fname);
    }
    err(format!("{name}: unknown function `{fname}` (not a user function or a builtin)"))
}

/// Calls the DML function `f` with `eval`'s arguments; returns its outputs and their declared
/// names.
fn call_dml_function(
    ctx: &dyn Context,
    f: DmlFunction<'_>,
    call_args: CallArgs,
    fname: &str,
) -> RtResult<(Vec<Value>, Vec<String>)> {
    let bound = call_args.bind(fname, &f.params())?;
    let depth = EVAL_DEPTH.with(|d| {
        d.set(d.get() + 1);
        d.get()
    });
    let r = ctx.call(f, bound, depth);
    EVAL_DEPTH.with(|d| d.set(d.get() - 1));
    r.map(|outs| (outs, f.returns()))
}

/// The program holding the DML-bodied builtin `name` of the builtin directory, compiled on first
/// use and kept for the rest of the process (a handful of builtins at most, so it is leaked
/// rather than tied to a run).
fn lazy_builtin(ctx: &dyn Context, name: &str) -> RtResult<Option<&'static Program>> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    type Cache = Mutex<HashMap<(std::path::PathBuf, String), &'static Program>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let opts = ctx.options();
    let Some(dir) = opts.builtin_path.clone() else { return Ok(None) };
    let key = (dir, name.to_string());
    let cache = CACHE.get_or_init(Default::default);
    if let Some(p) = cache.lock().map_err(|_| RtError::new("eval: builtin cache poisoned"))?.get(&key) {
        return Ok(Some(*p));
    }
    match crate::compiler::prepare_builtin_program(name, opts) {
        None => Ok(None),
        Some(Err(text)) => err(format!("eval: the builtin `{name}` does not compile:\n{text}")),
        Some(Ok(program)) => {
            let leaked: &'static Program = Box::leak(Box::new(program));
            let mut map = cache.lock().map_err(|_| RtError::new("eval: builtin cache poisoned"))?;
            Ok(Some(*map.entry(key).or_insert(leaked)))
        }
    }
}

/// A native builtin called through `eval`, with defaults filled in.
fn call_native(ctx: &dyn Context, id: BuiltinId, mut args: Vec<Option<Value>>) -> RtResult<Vec<Value>> {
    let spec = id.spec();
    for (slot, p) in args.iter_mut().zip(spec.params) {
        if slot.is_none() {
            *slot = match p.default {
                Def::Req => {
                    return err(format!(
                        "eval: missing argument `{}` in the call of `{}`",
                        p.name, spec.name
                    ));
                }
                Def::Opt => None,
                Def::I(i) => Some(Value::Int(i)),
                Def::F(f) => Some(Value::Double(f)),
                Def::B(b) => Some(Value::Bool(b)),
                Def::S(s) => Some(Value::str(s)),
            };
        }
    }
    let matrix = |args: &[Option<Value>]| match args.first() {
        Some(Some(Value::Matrix(m))) => Ok(m.clone()),
        _ => err(format!("eval: `{}` needs a matrix", spec.name)),
    };
    match spec.lower {
        Lower::Library => super::call(ctx, id, args),
        Lower::Agg(op, dir) => {
            let x = matrix(&args)?;
            one(match dir {
                AggDir::All => Value::Double(kernels::aggregate::aggregate_all(op, &x)?),
                _ => Value::matrix(kernels::aggregate::aggregate(op, dir, &x)?),
            })
        }
        Lower::Unary(op) => match args.into_iter().next().flatten() {
            Some(Value::Matrix(m)) => one(super::unary_matrix(op, m)),
            Some(x) => kernels::scalar::unary_scalar(op, &x).map(|v| vec![v]).map_err(RtError::new),
            None => err(format!("eval: `{}` needs an argument", spec.name)),
        },
        Lower::Reorg(op) => {
            let x = matrix(&args)?;
            one(Value::matrix(match op {
                ReorgOp::Transpose => kernels::reorg::transpose(&x),
                ReorgOp::Rev => kernels::reorg::rev(&x),
                ReorgOp::Diag => kernels::reorg::diag(&x)?,
            }))
        }
        _ => err(format!("eval cannot call the builtin `{}`; call it directly", spec.name)),
    }
}
