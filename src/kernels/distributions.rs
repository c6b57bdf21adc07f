//! Cumulative distribution functions and their inverses for `cdf`/`icdf` and the
//! `pnorm qnorm pt qt pf qf pchisq qchisq pexp qexp` shortcuts.
//!
//! The forward functions come from `statrs` (regularized incomplete gamma and beta functions).
//! The inverses are found by bisection on the ordered bit patterns of doubles, which ends in at
//! most about 64 steps at the smallest double whose CDF reaches `p`: as precise as the CDF itself,
//! with no tolerance to tune (the exponential inverse has a closed form).

use super::{KResult, KernelError};
use statrs::distribution::{ChiSquared, ContinuousCDF, Exp, FisherSnedecor, StudentsT};

/// A distribution with its parameters, checked.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Dist {
    Normal { mean: f64, sd: f64 },
    T { df: f64 },
    F { df1: f64, df2: f64 },
    ChiSq { df: f64 },
    Exp { rate: f64 },
}

fn bad(msg: String) -> KernelError {
    KernelError::new(msg)
}

fn positive(v: f64, what: &str, dist: &str) -> KResult<f64> {
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(bad(format!("{what} of the {dist} distribution must be a positive number, got {v}")))
    }
}

impl Dist {
    pub fn normal(mean: f64, sd: f64) -> KResult<Dist> {
        if !mean.is_finite() {
            return Err(bad(format!("mean of the normal distribution must be finite, got {mean}")));
        }
        Ok(Dist::Normal { mean, sd: positive(sd, "sd", "normal")? })
    }

    pub fn t(df: f64) -> KResult<Dist> {
        Ok(Dist::T { df: positive(df, "df", "t")? })
    }

    pub fn f(df1: f64, df2: f64) -> KResult<Dist> {
        Ok(Dist::F { df1: positive(df1, "df1", "F")?, df2: positive(df2, "df2", "F")? })
    }

    pub fn chisq(df: f64) -> KResult<Dist> {
        Ok(Dist::ChiSq { df: positive(df, "df", "chi-squared")? })
    }

    pub fn exp(rate: f64) -> KResult<Dist> {
        Ok(Dist::Exp { rate: positive(rate, "rate", "exponential")? })
    }

    /// Lower bound of the support.
    fn min(&self) -> f64 {
        match self {
            Dist::Normal { .. } | Dist::T { .. } => f64::NEG_INFINITY,
            _ => 0.0,
        }
    }

    /// The CDF (or survival function) at a finite `x` inside the support.
    fn eval(&self, x: f64, lower_tail: bool) -> f64 {
        fn tail<D: ContinuousCDF<f64, f64>>(d: Result<D, impl std::fmt::Debug>, x: f64, lower: bool) -> f64 {
            match d {
                Ok(d) if lower => d.cdf(x),
                Ok(d) => d.sf(x),
                Err(_) => f64::NAN,
            }
        }
        match *self {
            Dist::Normal { mean, sd } => {
                let z = (x - mean) / (sd * std::f64::consts::SQRT_2);
                0.5 * erfc(if lower_tail { -z } else { z })
            }
            Dist::T { df } => tail(StudentsT::new(0.0, 1.0, df), x, lower_tail),
            Dist::F { df1, df2 } => tail(FisherSnedecor::new(df1, df2), x, lower_tail),
            Dist::ChiSq { df } => tail(ChiSquared::new(df), x, lower_tail),
            Dist::Exp { rate } => tail(Exp::new(rate), x, lower_tail),
        }
    }

    /// P(X <= x), or P(X > x) when `lower_tail` is false.
    pub fn cdf(&self, x: f64, lower_tail: bool) -> KResult<f64> {
        if x.is_nan() {
            return Ok(f64::NAN);
        }
        if x <= self.min() {
            return Ok(if lower_tail { 0.0 } else { 1.0 });
        }
        let overflow = match *self {
            Dist::F { df1, .. } => !(df1 * x).is_finite(),
            _ => x == f64::INFINITY,
        };
        if overflow {
            return Ok(if lower_tail { 1.0 } else { 0.0 });
        }
        Ok(self.eval(x, lower_tail))
    }

    /// The smallest x with P(X <= x) >= p.
    pub fn icdf(&self, p: f64) -> KResult<f64> {
        if !(0.0..=1.0).contains(&p) {
            return Err(bad(format!("the probability for an inverse CDF must be in [0, 1], got {p}")));
        }
        if p == 0.0 {
            return Ok(self.min());
        }
        if p == 1.0 {
            return Ok(f64::INFINITY);
        }
        match *self {
            Dist::Exp { rate } => Ok(-(-p).ln_1p() / rate),
            Dist::Normal { mean, sd } => {
                let z = bisect(|x| 0.5 * erfc(-x / std::f64::consts::SQRT_2), p, f64::NEG_INFINITY);
                Ok(mean + sd * z)
            }
            _ => Ok(bisect(|x| self.eval(x, true), p, self.min())),
        }
    }
}

/// The complementary error function through the regularized upper incomplete gamma function,
/// erfc(x) = Q(1/2, x^2) for x >= 0, which is accurate to a few ulps (statrs' own `erfc` is not).
pub fn erfc(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    let x2 = x * x;
    let q = if x2 == f64::INFINITY {
        0.0
    } else if x2 == 0.0 {
        1.0
    } else {
        statrs::function::gamma::checked_gamma_ur(0.5, x2).unwrap_or(f64::NAN)
    };
    if x >= 0.0 { q } else { 2.0 - q }
}

/// Maps doubles to integers preserving order (for non-NaN values).
fn key(x: f64) -> i64 {
    let b = x.to_bits() as i64;
    if b < 0 { i64::MIN - b } else { b }
}

fn unkey(k: i64) -> f64 {
    let b = if k < 0 { i64::MIN - k } else { k };
    f64::from_bits(b as u64)
}

/// The smallest double x > `min` with `cdf(x) >= p`, for 0 < p < 1 and a non-decreasing `cdf`.
fn bisect(cdf: impl Fn(f64) -> f64, p: f64, min: f64) -> f64 {
    // Bracket by doubling away from zero, then bisect on the ordered keys of the doubles.
    // Invariant: cdf(lo) < p <= cdf(hi).
    let mut hi = 1.0f64;
    while cdf(hi) < p {
        if hi > 1e300 {
            return f64::INFINITY;
        }
        hi *= 2.0;
    }
    let mut lo = if min == f64::NEG_INFINITY { -1.0f64 } else { min };
    if min == f64::NEG_INFINITY {
        while cdf(lo) >= p {
            if lo < -1e300 {
                return f64::NEG_INFINITY;
            }
            lo *= 2.0;
        }
    } else if cdf(lo) >= p {
        return lo;
    }
    let (mut lo, mut hi) = (key(lo) as i128, key(hi) as i128);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if cdf(unkey(mid as i64)) >= p {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    unkey(hi as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * b.abs().max(1e-300)
    }

    #[test]
    fn keys_keep_order() {
        let xs = [-f64::MAX, -3.5, -1e-300, -0.0, 0.0, 1e-300, 2.0, f64::MAX];
        for w in xs.windows(2) {
            assert!(key(w[0]) <= key(w[1]));
            assert_eq!(unkey(key(w[0])), w[0]);
        }
    }

    #[test]
    fn known_values() {
        // reference values from the closed forms / R
        let n = Dist::normal(0.0, 1.0).unwrap();
        assert!(close(n.cdf(1.5, true).unwrap(), 0.9331927987311419, 1e-14));
        assert!(close(n.icdf(0.975).unwrap(), 1.959963984540054, 1e-14));
        let e = Dist::exp(0.5).unwrap();
        assert!(close(e.cdf(2.0, true).unwrap(), 1.0 - (-1.0f64).exp(), 1e-15));
        assert!(close(e.icdf(0.5).unwrap(), 2.0 * 2f64.ln(), 1e-15));
        // chi-squared with 2 df is exponential with rate 1/2
        let c = Dist::chisq(2.0).unwrap();
        assert!(close(c.icdf(0.3).unwrap(), -2.0 * 0.7f64.ln(), 1e-13));
        // t with 1 df is Cauchy: quantile tan(pi (p - 1/2))
        let t = Dist::t(1.0).unwrap();
        let p: f64 = 0.9;
        assert!(close(t.icdf(p).unwrap(), (std::f64::consts::PI * (p - 0.5)).tan(), 1e-12));
    }

    #[test]
    fn bad_parameters() {
        assert!(Dist::normal(0.0, 0.0).is_err());
        assert!(Dist::t(-1.0).is_err());
        assert!(Dist::f(1.0, f64::NAN).is_err());
        assert!(Dist::exp(1.0).unwrap().icdf(1.5).is_err());
    }
}
