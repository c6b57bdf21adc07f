//! Statistics (quantiles, moments, covariance, grouped aggregates), the distribution functions
//! `cdf icdf pnorm qnorm pt qt pf qf pchisq qchisq pexp qexp`, and the Fourier transforms.

use super::args::num_operand;
use super::{Args, BuiltinFn::Plain, Impl, err, one};
use crate::kernels;
use crate::kernels::distributions::Dist;
use crate::runtime::error::{RtError, RtResult};
use crate::types::matrix::Matrix;
use crate::types::value::Value;

pub(super) const IMPLS: &[Impl] = &[
    ("quantile", Plain(quantile)),
    ("median", Plain(median)),
    ("interQuartileMean", Plain(interquartile_mean)),
    ("moment", Plain(moment)),
    ("cov", Plain(cov)),
    ("aggregate", Plain(grouped_aggregate)),
    ("interQuantile", Plain(inter_quantile)),
    ("cdf", Plain(|a| distribution(a, None, false))),
    ("icdf", Plain(|a| distribution(a, None, true))),
    ("pnorm", Plain(|a| distribution(a, Some("normal"), false))),
    ("qnorm", Plain(|a| distribution(a, Some("normal"), true))),
    ("pt", Plain(|a| distribution(a, Some("t"), false))),
    ("qt", Plain(|a| distribution(a, Some("t"), true))),
    ("pf", Plain(|a| distribution(a, Some("f"), false))),
    ("qf", Plain(|a| distribution(a, Some("f"), true))),
    ("pchisq", Plain(|a| distribution(a, Some("chisq"), false))),
    ("qchisq", Plain(|a| distribution(a, Some("chisq"), true))),
    ("pexp", Plain(|a| distribution(a, Some("exp"), false))),
    ("qexp", Plain(|a| distribution(a, Some("exp"), true))),
    ("fft", Plain(|a| fft(a, false, false))),
    ("ifft", Plain(|a| fft(a, true, false))),
    ("fft_linearized", Plain(|a| fft(a, false, true))),
    ("ifft_linearized", Plain(|a| fft(a, true, true))),
    ("stft", Plain(stft)),
];

/// `quantile(X, p)` or `quantile(X, W, p)`: the probabilities come last, a scalar or a column.
fn quantile(a: Args) -> RtResult<Vec<Value>> {
    let x = a.matrix("x")?;
    let (w, p) = match a.get("p")? {
        Some(p) => (a.opt_matrix("w")?.map(|w| &**w), p),
        None => (None, a.value("w")?),
    };
    match p {
        Value::Matrix(pm) => {
            let ps: Vec<f64> = (0..pm.rows()).map(|i| pm.get(i, 0)).collect();
            let q = kernels::stats::quantile(x, w, &ps)?;
            one(Value::matrix(Matrix::from_vec(q.len(), 1, q)))
        }
        _ => {
            let pv = num_operand(p, "quantile: `p`")?;
            one(Value::Double(kernels::stats::quantile_scalar(x, w, pv)?))
        }
    }
}

/// `median(X, W)`.
fn median(a: Args) -> RtResult<Vec<Value>> {
    let w = a.opt_matrix("w")?.map(|w| &**w);
    one(Value::Double(kernels::stats::median(a.matrix("x")?, w)?))
}

/// `interQuartileMean(X, W)`.
fn interquartile_mean(a: Args) -> RtResult<Vec<Value>> {
    let w = a.opt_matrix("w")?.map(|w| &**w);
    one(Value::Double(kernels::stats::interquartile_mean(a.matrix("x")?, w)?))
}

/// `moment(X, order)` or `moment(X, W, order)`.
fn moment(a: Args) -> RtResult<Vec<Value>> {
    let x = a.matrix("x")?;
    let (w, k) = match a.get("order")? {
        Some(k) => (a.opt_matrix("w")?.map(|w| &**w), k),
        None => (None, a.value("w")?),
    };
    let k = num_operand(k, "moment: `order`")?;
    one(Value::Double(kernels::stats::moment(x, w, k as u32)?))
}

/// `cov(X, Y, W)`.
fn cov(a: Args) -> RtResult<Vec<Value>> {
    let w = a.opt_matrix("w")?.map(|w| &**w);
    one(Value::Double(kernels::stats::cov(a.matrix("x")?, a.matrix("y")?, w)?))
}

/// `aggregate(target, groups, fn, weights, ngroups)`: `fn` of the cells of each group.
fn grouped_aggregate(a: Args) -> RtResult<Vec<Value>> {
    let (t, g) = (a.matrix("target")?, a.matrix("groups")?);
    let f = a.text("fn")?;
    let w = a.opt_matrix("weights")?.map(|w| &**w);
    let ng = a.opt_num("ngroups")?.map(|n| n as usize);
    let order = a.opt_num("order")?.map(|o| o as u32);
    one(Value::matrix(kernels::stats::grouped_aggregate(t, g, w, &f, ng, order)?))
}

/// `interQuantile(X, p)` or `interQuantile(X, W, p)`.
fn inter_quantile(a: Args) -> RtResult<Vec<Value>> {
    let x = a.matrix("x")?;
    let (w, p) = match a.get("p")? {
        Some(p) => (a.opt_matrix("w")?.map(|w| &**w), Some(p)),
        None => (None, a.get("w")?),
    };
    let p = p.and_then(Value::as_f64).ok_or_else(|| RtError::new("interQuantile: p must be a number"))?;
    let v = kernels::stats::inter_quantile(x, w, p)?;
    one(Value::matrix(Matrix::from_vec(v.len(), 1, v)))
}

/// A distribution function: `dist` for `pnorm`, `qt`, ...; `cdf` and `icdf` take it from their
/// parameter `dist`. The inverse ones (`icdf`, `q*`) have no `lower.tail`.
fn distribution(a: Args, dist: Option<&str>, inverse: bool) -> RtResult<Vec<Value>> {
    let name = a.name();
    let dist = match dist {
        Some(d) => d,
        None => match a.get("dist")? {
            Some(Value::Str(s)) => s,
            Some(x) => return err(format!("{name}: dist must be a string, but got a {}", x.kind())),
            None => return err(format!("{name}: a distribution must be given with dist=")),
        },
    };
    // A parameter the distribution needs, given by name.
    let need = |param: &str, what: &str| -> RtResult<f64> {
        match a.opt_real(param)? {
            Some(v) => Ok(v),
            None => err(format!("{name}: the {what} distribution needs the parameter `{param}`")),
        }
    };
    let d = match dist {
        "normal" => Dist::normal(a.opt_real("mean")?.unwrap_or(0.0), a.opt_real("sd")?.unwrap_or(1.0)),
        "t" => Dist::t(need("df", "t")?),
        "f" => Dist::f(need("df1", "F")?, need("df2", "F")?),
        "chisq" => Dist::chisq(need("df", "chi-squared")?),
        "exp" => Dist::exp(a.opt_real("rate")?.unwrap_or(1.0)),
        other => {
            return err(format!(
                "{name}: unknown distribution \"{other}\" (expected \"normal\", \"t\", \"f\", \"chisq\" or \"exp\")"
            ));
        }
    }
    .map_err(|e| RtError::new(format!("{name}: {}", e.0)))?;
    let target = a.real("target")?;
    let r = if inverse { d.icdf(target) } else { d.cdf(target, a.flag("lower.tail")?) };
    one(Value::Double(r.map_err(|e| RtError::new(format!("{name}: {}", e.0)))?))
}

/// `[re, im] = fft(re)`, `ifft(re, im)` and their `_linearized` forms (each row on its own).
fn fft(a: Args, inverse: bool, linearized: bool) -> RtResult<Vec<Value>> {
    let re = a.matrix("re")?;
    let im = if inverse { a.opt_matrix("im")?.map(|m| &**m) } else { None };
    let (r, i) = kernels::fft::fft(re, im, inverse, linearized)?;
    Ok(vec![Value::matrix(r), Value::matrix(i)])
}

/// `[re, im] = stft(X, window, overlap)` or `stft(re, im, window, overlap)`.
fn stft(a: Args) -> RtResult<Vec<Value>> {
    let re = a.matrix("re")?;
    let (im, w, o) = match a.get("c")? {
        Some(o) => (Some(&**a.matrix("a")?), a.get("b")?, Some(o)),
        None => (None, a.get("a")?, a.get("b")?),
    };
    let size = |v: Option<&Value>, what: &str| -> RtResult<usize> {
        match v.and_then(Value::as_f64) {
            Some(x) if x >= 0.0 && x.fract() == 0.0 => Ok(x as usize),
            _ => err(format!("stft: the {what} must be a non-negative integer")),
        }
    };
    let (r, i) = kernels::fft::stft(re, im, size(w, "window size")?, size(o, "overlap")?)?;
    Ok(vec![Value::matrix(r), Value::matrix(i)])
}
