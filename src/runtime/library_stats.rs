//! Library builtins for distributions, signal processing and assorted statistics:
//! `cdf icdf pnorm qnorm pt qt pf qf pchisq qchisq pexp qexp`, and the others listed in
//! [`call`]. Arguments arrive in the order of the builtin table's parameters.

use crate::runtime::exec::{RtError, RtResult, Runtime};
use crate::runtime::kernels::distributions::Dist;
use crate::runtime::value::Value;

fn err<T>(msg: impl Into<String>) -> RtResult<T> {
    Err(RtError::new(msg))
}

fn kerr(e: crate::runtime::kernels::KernelError) -> RtError {
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
    let (inverse, dist_name, d, lower) = match name {
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
            (name == "icdf", dist, d, lower)
        }
        _ => {
            let inverse = name.starts_with('q');
            let short = &name[1..];
            let (dist, d, rest) = match short {
                "norm" => (
                    "normal",
                    DistArgs { dist: "normal", mean: &a[1], sd: &a[2], df: none, df1: none, df2: none, rate: none },
                    3,
                ),
                "t" | "chisq" => (
                    short,
                    DistArgs { dist: short, mean: none, sd: none, df: &a[1], df1: none, df2: none, rate: none },
                    2,
                ),
                "f" => (
                    "f",
                    DistArgs { dist: "f", mean: none, sd: none, df: none, df1: &a[1], df2: &a[2], rate: none },
                    3,
                ),
                "exp" => (
                    "exp",
                    DistArgs { dist: "exp", mean: none, sd: none, df: none, df1: none, df2: none, rate: &a[1] },
                    2,
                ),
                _ => return err(format!("unknown distribution function {name}")),
            };
            let lower = if inverse { true } else { flag(a.get(rest).unwrap_or(none), "lower.tail")? };
            (inverse, dist.to_string(), d.build(name)?, lower)
        }
    };
    let _ = dist_name;
    let target = number(&a[0], &format!("{name}: target"))?;
    let r = if inverse { d.icdf(target) } else { d.cdf(target, lower) };
    Ok(Value::Double(r.map_err(|e| RtError::new(format!("{name}: {}", e.0)))?))
}

/// Dispatches the builtins of this module; `None` when `name` is not one of them.
pub fn call(rt: &Runtime, name: &str, args: &[Option<Value>]) -> Option<RtResult<Vec<Value>>> {
    let _ = rt;
    let one = |r: RtResult<Value>| Some(r.map(|v| vec![v]));
    match name {
        "cdf" | "icdf" | "pnorm" | "qnorm" | "pt" | "qt" | "pf" | "qf" | "pchisq" | "qchisq" | "pexp" | "qexp" => {
            one(distribution(name, args))
        }
        _ => {
            let _ = kerr;
            None
        }
    }
}
