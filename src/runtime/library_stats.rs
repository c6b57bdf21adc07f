//! Library builtins for distributions, signal processing and assorted statistics:
//! `cdf icdf pnorm qnorm pt qt pf qf pchisq qchisq pexp qexp`, and the others listed in
//! [`call`]. Arguments arrive in the order of the builtin table's parameters.

use crate::builtins::BuiltinId;
use crate::kernels::distributions::Dist;
use crate::runtime::error::{RtError, RtResult};
use crate::runtime::exec::Runtime;
use crate::types::matrix::Matrix;
use crate::types::type_info::DType;
use crate::types::value::{ListValue, Value};
use std::sync::Arc;

fn err<T>(msg: impl Into<String>) -> RtResult<T> {
    Err(RtError::new(msg))
}

fn kerr(e: crate::kernels::KernelError) -> RtError {
    RtError::new(e.0)
}

/// A numeric scalar argument (integers and doubles; booleans and strings are refused).
fn number(v: &Option<Value>, what: &str) -> RtResult<f64> {
    match v {
        Some(Value::Int(i)) => Ok(*i as f64),
        Some(Value::Double(d)) => Ok(*d),
        Some(x) => err(format!("{what} must be a number, but got a {}", x.kind())),
        None => err(format!("{what} is missing")),
    }
}

fn opt_number(v: &Option<Value>, what: &str, default: f64) -> RtResult<f64> {
    match v {
        None => Ok(default),
        some => number(some, what),
    }
}

fn flag(v: &Option<Value>, what: &str) -> RtResult<bool> {
    match v {
        Some(Value::Bool(b)) => Ok(*b),
        Some(x) => x.as_bool().ok_or_else(|| RtError::new(format!("{what} must be TRUE or FALSE"))),
        None => Ok(true),
    }
}

/// Builds the distribution from `dist` and the parameters given by name.
struct DistArgs<'a> {
    dist: &'a str,
    mean: &'a Option<Value>,
    sd: &'a Option<Value>,
    df: &'a Option<Value>,
    df1: &'a Option<Value>,
    df2: &'a Option<Value>,
    rate: &'a Option<Value>,
}

impl DistArgs<'_> {
    fn build(&self, fname: &str) -> RtResult<Dist> {
        let need = |v: &Option<Value>, what: &str, dist: &str| -> RtResult<f64> {
            match v {
                None => err(format!("{fname}: the {dist} distribution needs the parameter `{what}`")),
                some => number(some, what),
            }
        };
        let d = match self.dist {
            "normal" => Dist::normal(opt_number(self.mean, "mean", 0.0)?, opt_number(self.sd, "sd", 1.0)?),
            "t" => Dist::t(need(self.df, "df", "t")?),
            "f" => Dist::f(need(self.df1, "df1", "F")?, need(self.df2, "df2", "F")?),
            "chisq" => Dist::chisq(need(self.df, "df", "chi-squared")?),
            "exp" => Dist::exp(opt_number(self.rate, "rate", 1.0)?),
            other => {
                return err(format!(
                    "{fname}: unknown distribution \"{other}\" (expected \"normal\", \"t\", \"f\", \"chisq\" or \"exp\")"
                ));
            }
        };
        d.map_err(|e| RtError::new(format!("{fname}: {}", e.0)))
    }
}

fn distribution(name: &str, a: &[Option<Value>]) -> RtResult<Value> {
    // Table layouts:
    //   cdf:   target dist mean sd df df1 df2 rate lower.tail
    //   icdf:  target dist mean sd df df1 df2 rate
    //   pnorm: target mean sd lower.tail      qnorm: target mean sd
    //   pt/pchisq: target df lower.tail       qt/qchisq: target df
    //   pf: target df1 df2 lower.tail         qf: target df1 df2
    //   pexp: target rate lower.tail          qexp: target rate
    let none = &None;
    let (inverse, d, lower) = match name {
        "cdf" | "icdf" => {
            let dist = match &a[1] {
                Some(Value::Str(s)) => s.to_string(),
                Some(x) => return err(format!("{name}: dist must be a string, but got a {}", x.kind())),
                None => return err(format!("{name}: a distribution must be given with dist=")),
            };
            let args = DistArgs {
                dist: &dist,
                mean: &a[2],
                sd: &a[3],
                df: &a[4],
                df1: &a[5],
                df2: &a[6],
                rate: &a[7],
            };
            let d = args.build(name)?;
            let lower = if name == "cdf" { flag(&a[8], "lower.tail")? } else { true };
            (name == "icdf", d, lower)
        }
        _ => {
            let inverse = name.starts_with('q');
            let short = &name[1..];
            let (d, rest) = match short {
                "norm" => (
                    DistArgs {
                        dist: "normal",
                        mean: &a[1],
                        sd: &a[2],
                        df: none,
                        df1: none,
                        df2: none,
                        rate: none,
                    },
                    3,
                ),
                "t" | "chisq" => (
                    DistArgs {
                        dist: short,
                        mean: none,
                        sd: none,
                        df: &a[1],
                        df1: none,
                        df2: none,
                        rate: none,
                    },
                    2,
                ),
                "f" => (
                    DistArgs {
                        dist: "f",
                        mean: none,
                        sd: none,
                        df: none,
                        df1: &a[1],
                        df2: &a[2],
                        rate: none,
                    },
                    3,
                ),
                "exp" => (
                    DistArgs {
                        dist: "exp",
                        mean: none,
                        sd: none,
                        df: none,
                        df1: none,
                        df2: none,
                        rate: &a[1],
                    },
                    2,
                ),
                _ => return err(format!("unknown distribution function {name}")),
            };
            let lower = if inverse { true } else { flag(a.get(rest).unwrap_or(none), "lower.tail")? };
            (inverse, d.build(name)?, lower)
        }
    };
    let target = number(&a[0], &format!("{name}: target"))?;
    let r = if inverse { d.icdf(target) } else { d.cdf(target, lower) };
    Ok(Value::Double(r.map_err(|e| RtError::new(format!("{name}: {}", e.0)))?))
}

thread_local! {
    /// How deeply `eval` calls are nested on this thread (bounds recursion through `eval`).
    static EVAL_DEPTH: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
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

/// `eval(fname, args...)` and `evalList(fname, list)`: calls a user function, a DML-bodied
/// builtin or a native builtin by a name known only at run time. Returns all its outputs.
fn second_order(rt: &Runtime, name: &str, args: &[Option<Value>]) -> RtResult<Vec<Value>> {
    second_order_named(rt, name, args).map(|(outs, _)| outs)
}

/// [`second_order`] with the names of the outputs (a user function's declared outputs; none for
/// a native builtin): `evalList` returns them as a named list, as SystemDS does.
fn second_order_named(
    rt: &Runtime,
    name: &str,
    args: &[Option<Value>],
) -> RtResult<(Vec<Value>, Vec<String>)> {
    let fname = match &args[0] {
        Some(Value::Str(s)) => s.to_string(),
        Some(x) => return err(format!("{name}: the function name must be a string, but got a {}", x.kind())),
        None => return err(format!("{name}: the function name is missing")),
    };
    let rest: Vec<Value> = args[1..].iter().flatten().cloned().collect();
    let call_args = match (name, rest.as_slice()) {
        (_, [Value::List(l)]) => CallArgs::from_list(l),
        ("evalList", [other]) => {
            return err(format!("evalList: the arguments must be a list, but got a {}", other.kind()));
        }
        ("evalList", _) => return err("evalList takes a function name and one list of arguments"),
        _ => CallArgs::from_values(rest),
    };
    let program = rt.program;
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
    // As a direct call in the calling file would: its own functions and namespaces, then the
    // main script's, then the DML-bodied builtins already loaded.
    let mut user = program
        .resolve_function(rt.module, ns, short)
        .or_else(|| program.resolve_function(0, ns, short))
        .or_else(|| if ns.is_none() { program.resolve_dml_builtin(short, first_dt) } else { None });
    let mut rt = *rt;
    if user.is_none() && !std::ptr::eq(rt.script, rt.program) {
        // Inside a builtin compiled on demand: the script's functions come next.
        user = rt.script.resolve_function(0, ns, short);
        if user.is_some() {
            rt = Runtime { program: rt.script, module: 0, ..rt };
        }
    }
    let rt = &rt;
    if let Some(fid) = user {
        return call_dml_function(rt, fid, call_args, &fname);
    }
    if ns.is_none()
        && let Some(id) = crate::builtins::lookup(short).filter(|id| !id.name().starts_with('_'))
    {
        let spec = id.spec();
        let params: Vec<&str> = spec.params.iter().map(|p| p.name).collect();
        let bound = call_args.bind(&fname, &params)?;
        return call_native(rt, id, bound).map(|outs| (outs, Vec::new()));
    }
    // A DML-bodied builtin no code names directly (`gridSearch(train="lm")`): loaded now, once.
    if ns.is_none()
        && let Some(lazy) = lazy_builtin(rt, short)?
        && let Some(fid) = lazy.resolve_dml_builtin(short, first_dt)
    {
        return call_dml_function(&Runtime { program: lazy, tracer: None, ..*rt }, fid, call_args, &fname);
    }
    err(format!("{name}: unknown function `{fname}` (not a user function or a builtin)"))
}

/// Calls function `fid` of `rt.program` with `eval`'s arguments; returns its outputs and their
/// declared names.
fn call_dml_function(
    rt: &Runtime,
    fid: u32,
    call_args: CallArgs,
    fname: &str,
) -> RtResult<(Vec<Value>, Vec<String>)> {
    let func = &rt.program.functions[fid as usize];
    let params: Vec<&str> = func.params.iter().map(|p| p.name.name.as_str()).collect();
    let bound = call_args.bind(fname, &params)?;
    let depth = EVAL_DEPTH.with(|d| {
        d.set(d.get() + 1);
        d.get()
    });
    let r = rt.call_function(fid, bound, depth);
    EVAL_DEPTH.with(|d| d.set(d.get() - 1));
    r.map(|outs| (outs, func.returns.iter().map(|p| p.name.name.clone()).collect()))
}

/// The program holding the DML-bodied builtin `name` of the builtin directory, compiled on first
/// use and kept for the rest of the process (a handful of builtins at most, so it is leaked
/// rather than tied to a run).
fn lazy_builtin(rt: &Runtime, name: &str) -> RtResult<Option<&'static crate::compiler::program::Program>> {
    use crate::compiler::program::Program;
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    type Cache = Mutex<HashMap<(std::path::PathBuf, String), &'static Program>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let Some(dir) = rt.opts.builtin_path.clone() else { return Ok(None) };
    let key = (dir, name.to_string());
    let cache = CACHE.get_or_init(Default::default);
    if let Some(p) = cache.lock().map_err(|_| RtError::new("eval: builtin cache poisoned"))?.get(&key) {
        return Ok(Some(*p));
    }
    match crate::compiler::prepare_builtin_program(name, rt.opts) {
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
fn call_native(rt: &Runtime, id: BuiltinId, mut args: Vec<Option<Value>>) -> RtResult<Vec<Value>> {
    use crate::builtins::{Def, Lower};
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
    match spec.lower {
        Lower::Library => crate::runtime::library::call(rt, id, args),
        Lower::Agg(op, dir) => {
            let x = match &args[0] {
                Some(Value::Matrix(m)) => m.clone(),
                _ => return err(format!("eval: `{}` needs a matrix", spec.name)),
            };
            Ok(vec![crate::runtime::library::aggregate_value(op, dir, &x)?])
        }
        Lower::Unary(op) => match &args[0] {
            Some(Value::Matrix(m)) => Ok(vec![crate::runtime::library::unary_matrix(op, m.clone())]),
            Some(x) => crate::kernels::scalar::unary_scalar(op, x).map(|v| vec![v]).map_err(RtError::new),
            None => err(format!("eval: `{}` needs an argument", spec.name)),
        },
        Lower::Reorg(op) => {
            use crate::kernels::reorg;
            use crate::types::ops::ReorgOp;
            let x = match &args[0] {
                Some(Value::Matrix(m)) => m.clone(),
                _ => return err(format!("eval: `{}` needs a matrix", spec.name)),
            };
            let r = match op {
                ReorgOp::Transpose => reorg::transpose(&x),
                ReorgOp::Rev => reorg::rev(&x),
                ReorgOp::Diag => reorg::diag(&x).map_err(kerr)?,
            };
            Ok(vec![mat(r)])
        }
        _ => err(format!("eval cannot call the builtin `{}`; call it directly", spec.name)),
    }
}

fn matrix(v: &Option<Value>, what: &str) -> RtResult<Arc<Matrix>> {
    match v {
        Some(Value::Matrix(m)) => Ok(m.clone()),
        Some(x) => err(format!("{what} must be a matrix, but got a {}", x.kind())),
        None => err(format!("{what} is missing")),
    }
}

fn mat(m: Matrix) -> Value {
    Value::matrix(m)
}

/// Dispatches the builtins of this module; `None` when `name` is not one of them.
pub fn call(rt: &Runtime, name: &str, args: &[Option<Value>]) -> Option<RtResult<Vec<Value>>> {
    let one = |r: RtResult<Value>| Some(r.map(|v| vec![v]));
    match name {
        "cdf" | "icdf" | "pnorm" | "qnorm" | "pt" | "qt" | "pf" | "qf" | "pchisq" | "qchisq" | "pexp"
        | "qexp" => one(distribution(name, args)),
        "eval" => Some(second_order(rt, name, args).and_then(|outs| match outs.into_iter().next() {
            // eval's result is a matrix: a scalar result becomes a 1x1 matrix, as in SystemDS.
            Some(v) if v.is_scalar() => match v.as_f64() {
                Some(x) => Ok(vec![Value::matrix(Matrix::scalar(x))]),
                None => Ok(vec![v]),
            },
            Some(v) => Ok(vec![v]),
            None => err("eval: the function returns no value"),
        })),
        "evalList" => Some(
            second_order_named(rt, name, args)
                .map(|(items, names)| vec![Value::List(Arc::new(ListValue { items, names }))]),
        ),
        "roll" => {
            let x = match matrix(&args[0], "roll: X") {
                Ok(x) => x,
                Err(e) => return Some(Err(e)),
            };
            one(number(&args[1], "roll: shift").map(|s| mat(roll(&x, s as i64))))
        }
        "as.list" => one(match &args[0] {
            // A one-element list holding a list gives the inner list, as in SystemDS
            // (independentSubnetTrain's `as.list(masks[s])`).
            Some(Value::List(l)) if l.items.len() == 1 && matches!(l.items[0], Value::List(_)) => {
                Ok(l.items[0].clone())
            }
            Some(v @ Value::List(_)) => Ok(v.clone()),
            Some(x) => err(format!("as.list needs a list, but got a {}", x.kind())),
            None => err("as.list needs a list"),
        }),
        "countDistinctApprox" | "rowCountDistinctApprox" | "colCountDistinctApprox" => {
            one(count_distinct_approx(name, args))
        }
        "sqrtMatrixJava" => one(matrix(&args[0], "sqrtMatrixJava").and_then(|x| sqrt_symmetric(&x).map(mat))),
        "fft" | "ifft" | "fft_linearized" | "ifft_linearized" => Some(fft_call(name, args)),
        "stft" => Some(stft_call(args)),
        "interQuantile" => Some(inter_quantile_call(args)),
        "readMM" | "read.csv" => {
            let mut a = args.to_vec();
            if a.len() > 1 && a[1].is_none() {
                a[1] = Some(Value::str(if name == "readMM" { "mm" } else { "csv" }));
            }
            Some(crate::runtime::library_ext::call(rt, "read", a))
        }
        "einsum" => one(einsum_call(args)),
        // Compression is a storage choice in SystemDS; the values are unchanged.
        "compress" | "decompress" => {
            one(args[0].clone().ok_or_else(|| RtError::new(format!("{name} needs X"))))
        }
        "ppred" => one(ppred(args)),
        _ => None,
    }
}

/// Circular shift of the rows of `x` down by `shift` (negative shifts move rows up).
fn roll(x: &Matrix, shift: i64) -> Matrix {
    let (rows, cols) = (x.rows(), x.cols());
    if rows == 0 {
        return x.clone();
    }
    let s = shift.rem_euclid(rows as i64) as usize;
    let d = x.dense_data();
    let mut out = Vec::with_capacity(rows * cols);
    for r in 0..rows {
        let src = (r + rows - s) % rows;
        out.extend_from_slice(&d[src * cols..(src + 1) * cols]);
    }
    Matrix::from_vec(rows, cols, out)
}

/// The approximate distinct counts: exact counts here (which is what the KMV sketch gives for
/// inputs smaller than its sketch size).
fn count_distinct_approx(name: &str, a: &[Option<Value>]) -> RtResult<Value> {
    use crate::kernels::stats::count_distinct;
    let x = matrix(&a[0], &format!("{name}: data"))?;
    let dir = match name {
        "rowCountDistinctApprox" => "r".to_string(),
        "colCountDistinctApprox" => "c".to_string(),
        _ => match &a[1] {
            Some(Value::Str(s)) => s.to_string(),
            None => "rc".to_string(),
            Some(v) => return err(format!("{name}: dir must be a string, but got a {}", v.kind())),
        },
    };
    let ty_idx = if name == "countDistinctApprox" { 2 } else { 1 };
    if let Some(t) = a.get(ty_idx).and_then(|t| t.as_ref()) {
        match t {
            Value::Str(s) if &**s == "KMV" => {}
            other => {
                return err(format!(
                    "{name}: unsupported type {} (only \"KMV\")",
                    crate::kernels::scalar::scalar_to_string(other)
                ));
            }
        }
    }
    if !matches!(dir.as_str(), "rc" | "r" | "c") {
        return err(format!("{name}: dir must be \"rc\", \"r\" or \"c\", got \"{dir}\""));
    }
    let r = count_distinct(&x, &dir).map_err(kerr)?;
    Ok(if dir == "rc" { Value::Int(r.get(0, 0) as i64) } else { mat(r) })
}

fn fft_call(name: &str, a: &[Option<Value>]) -> RtResult<Vec<Value>> {
    use crate::kernels::fft;
    let re = matrix(&a[0], &format!("{name}: re"))?;
    let im = match a.get(1) {
        Some(Some(_)) => Some(matrix(&a[1], &format!("{name}: im"))?),
        _ => None,
    };
    let inverse = name.starts_with('i');
    let linearized = name.ends_with("_linearized");
    let (r, i) = fft::fft(&re, im.as_deref(), inverse, linearized).map_err(kerr)?;
    Ok(vec![mat(r), mat(i)])
}

/// `ppred(X, Y, op)`: the old spelling of the cellwise comparisons (`X > Y` for op ">").
fn ppred(a: &[Option<Value>]) -> RtResult<Value> {
    use crate::types::ops::BinOp;
    let op = match a[2].as_ref() {
        Some(Value::Str(s)) => match &**s {
            ">" => BinOp::Gt,
            ">=" => BinOp::Ge,
            "<" => BinOp::Lt,
            "<=" => BinOp::Le,
            "==" => BinOp::Eq,
            "!=" => BinOp::Ne,
            other => return err(format!("ppred: unknown comparison \"{other}\" (one of > >= < <= == !=)")),
        },
        _ => return err("ppred: the comparison must be a string such as \">\""),
    };
    match (&a[0], &a[1]) {
        (Some(x), Some(y)) => crate::runtime::library::binary(op, x.clone(), y.clone()),
        _ => err("ppred needs two operands"),
    }
}

fn stft_call(a: &[Option<Value>]) -> RtResult<Vec<Value>> {
    use crate::kernels::fft;
    let re = matrix(&a[0], "stft: input")?;
    // stft(X, window, overlap) or stft(re, im, window, overlap)
    let (im, w, o) = match a.get(3) {
        Some(Some(_)) => (Some(matrix(&a[1], "stft: im")?), &a[2], &a[3]),
        _ => (None, &a[1], &a[2]),
    };
    let size = |v: &Option<Value>, what: &str| -> RtResult<usize> {
        match v.as_ref().and_then(Value::as_f64) {
            Some(x) if x >= 0.0 && x.fract() == 0.0 => Ok(x as usize),
            _ => Err(RtError::new(format!("stft: the {what} must be a non-negative integer"))),
        }
    };
    let (r, i) = fft::stft(&re, im.as_deref(), size(w, "window size")?, size(o, "overlap")?).map_err(kerr)?;
    Ok(vec![mat(r), mat(i)])
}

fn inter_quantile_call(a: &[Option<Value>]) -> RtResult<Vec<Value>> {
    let x = matrix(&a[0], "interQuantile: X")?;
    // interQuantile(X, p) or interQuantile(X, W, p)
    let (w, p) = match a.get(2) {
        Some(Some(_)) => (Some(matrix(&a[1], "interQuantile: W")?), &a[2]),
        _ => (None, &a[1]),
    };
    let p = p
        .as_ref()
        .and_then(Value::as_f64)
        .ok_or_else(|| RtError::new("interQuantile: p must be a number"))?;
    let v = crate::kernels::stats::inter_quantile(&x, w.as_deref(), p).map_err(kerr)?;
    Ok(vec![mat(Matrix::from_vec(v.len(), 1, v))])
}

/// Square root of a symmetric positive semi-definite matrix, V diag(sqrt(w)) V^T from its
/// eigen-decomposition (SystemDS also supports only symmetric input).
fn sqrt_symmetric(x: &Matrix) -> RtResult<Matrix> {
    let (w, v) = crate::kernels::linalg::eigen(x)
        .map_err(|e| RtError::new(format!("sqrtMatrixJava: {}", e.0.trim_start_matches("eigen: "))))?;
    let n = x.rows();
    let mut out = vec![0.0; n * n];
    for k in 0..n {
        let s = w.get(k, 0).sqrt();
        for i in 0..n {
            let vik = v.get(i, k) * s;
            for j in 0..n {
                out[i * n + j] += vik * v.get(j, k);
            }
        }
    }
    Ok(Matrix::from_vec(n, n, out))
}

fn einsum_call(a: &[Option<Value>]) -> RtResult<Value> {
    let spec = match &a[0] {
        Some(Value::Str(s)) => s.to_string(),
        _ => return err("einsum: the first argument must be the equation string, e.g. \"ij,jk->ik\""),
    };
    let ops: Vec<Arc<Matrix>> = a[1..]
        .iter()
        .flatten()
        .map(|v| match v {
            Value::Matrix(m) => Ok(m.clone()),
            other => err(format!("einsum: operands must be matrices, but got a {}", other.kind())),
        })
        .collect::<RtResult<_>>()?;
    let refs: Vec<&Matrix> = ops.iter().map(|m| &**m).collect();
    let (out, shape) = crate::kernels::einsum::einsum(&spec, &refs).map_err(kerr)?;
    Ok(match shape {
        None => Value::Double(out.get(0, 0)),
        Some(_) => mat(out),
    })
}
