//! Order statistics, moments and grouped aggregates with SystemDS's definitions (each one was
//! checked against sysds 3.4.0; the tests cite the printed values).

use super::{KResult, KernelError};
use crate::types::matrix::Matrix;

/// The cells of a column vector (a single-row vector is accepted too).
fn vector(x: &Matrix, what: &str) -> KResult<Vec<f64>> {
    if x.cols() != 1 && x.rows() != 1 {
        return Err(KernelError::new(format!(
            "{what}: expected a vector, found a {}x{} matrix",
            x.rows(),
            x.cols()
        )));
    }
    Ok((0..x.len()).map(|i| if x.cols() == 1 { x.get(i, 0) } else { x.get(0, i) }).collect())
}

/// Weights matching `n` values; absent weights are all 1.
fn weights(w: Option<&Matrix>, n: usize, what: &str) -> KResult<Vec<f64>> {
    match w {
        None => Ok(vec![1.0; n]),
        Some(w) => {
            let v = vector(w, what)?;
            if v.len() != n {
                return Err(KernelError::new(format!("{what}: {} weights for {n} values", v.len())));
            }
            if v.iter().any(|x| *x < 0.0 || x.is_nan()) {
                return Err(KernelError::new(format!("{what}: weights must be non-negative numbers")));
            }
            Ok(v)
        }
    }
}

/// Values sorted ascending (NaN last) with their weights, and the total weight.
fn sorted(x: &Matrix, w: Option<&Matrix>, what: &str) -> KResult<(Vec<(f64, f64)>, f64)> {
    let v = vector(x, what)?;
    let w = weights(w, v.len(), what)?;
    let mut pairs: Vec<(f64, f64)> = v.into_iter().zip(w).collect();
    pairs.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or_else(|| a.0.is_nan().cmp(&b.0.is_nan())));
    let total = pairs.iter().map(|p| p.1).sum();
    Ok((pairs, total))
}

/// The value at 1-based position `pos` of the weight-expanded sorted sequence.
fn at_position(pairs: &[(f64, f64)], pos: f64) -> f64 {
    let mut cum = 0.0;
    for &(v, w) in pairs {
        cum += w;
        if cum >= pos {
            return v;
        }
    }
    pairs.last().map_or(f64::NAN, |p| p.0)
}

/// `p`-quantiles: the value at position `max(1, ceil(p * W))` of the sorted values, each value
/// repeated by its weight (W = total weight). sysds: quantile(5 1 4 2 3 8 7, 0.75) = 7.
pub fn quantile(x: &Matrix, w: Option<&Matrix>, p: &[f64]) -> KResult<Vec<f64>> {
    let (pairs, total) = sorted(x, w, "quantile")?;
    if pairs.is_empty() {
        return Err(KernelError::new("quantile: empty input"));
    }
    p.iter()
        .map(|&q| {
            if !(0.0..=1.0).contains(&q) {
                return Err(KernelError::new(format!("quantile: probability {q} is outside [0, 1]")));
            }
            Ok(at_position(&pairs, (q * total).ceil().max(1.0)))
        })
        .collect()
}

/// The scalar form `quantile(X[, W], p)`: like [`quantile`], but when the total weight is even
/// the value at position `ceil(p * W)` is averaged with the next one (clamped to the last).
/// sysds: quantile(5 1 4 2 3 8, 0.5) = 3.5; quantile(1..10, 0.1) = 1.5, (.., 0) = 1, (.., 1) = 10.
pub fn quantile_scalar(x: &Matrix, w: Option<&Matrix>, q: f64) -> KResult<f64> {
    let (pairs, total) = sorted(x, w, "quantile")?;
    if pairs.is_empty() {
        return Err(KernelError::new("quantile: empty input"));
    }
    if !(0.0..=1.0).contains(&q) {
        return Err(KernelError::new(format!("quantile: probability {q} is outside [0, 1]")));
    }
    let pos = (q * total).ceil();
    if total % 2.0 == 0.0 {
        Ok((at_position(&pairs, pos) + at_position(&pairs, pos + 1.0)) / 2.0)
    } else {
        Ok(at_position(&pairs, pos.max(1.0)))
    }
}

/// Median: the middle value, or the mean of the two middle values when the total weight is
/// even (sysds: median(5 1 4 2 3 8) = 3.5).
pub fn median(x: &Matrix, w: Option<&Matrix>) -> KResult<f64> {
    let (pairs, total) = sorted(x, w, "median")?;
    if pairs.is_empty() {
        return Err(KernelError::new("median: empty input"));
    }
    if total % 2.0 == 0.0 {
        let half = total / 2.0;
        Ok((at_position(&pairs, half) + at_position(&pairs, half + 1.0)) / 2.0)
    } else {
        Ok(at_position(&pairs, (0.5 * total).ceil().max(1.0)))
    }
}

/// Mean of the middle half: the sorted values as a step function over `[0, W]` (each value
/// spanning its weight), integrated over `[W/4, 3W/4]` and divided by `W/2`. Fractional ends
/// count partly (sysds: IQM(5 1 4 2 3 8 7) = 4.071428571428571 = 14.25 / 3.5).
pub fn interquartile_mean(x: &Matrix, w: Option<&Matrix>) -> KResult<f64> {
    let (pairs, total) = sorted(x, w, "interQuartileMean")?;
    let (lo, hi) = (total / 4.0, 3.0 * total / 4.0);
    let mut cum = 0.0;
    let mut sum = 0.0;
    for &(v, wt) in &pairs {
        let (a, b) = (cum, cum + wt);
        let overlap = b.min(hi) - a.max(lo);
        if overlap > 0.0 {
            sum += v * overlap;
        }
        cum = b;
    }
    Ok(sum / (hi - lo))
}

/// `interQuantile(X[, W], p)`: the sorted values (each repeated by its integer weight) whose
/// 1-based rank `r` lies in `p*W < r <= (1-p)*W`, as a column vector; W is the total weight.
/// SystemDS 3.4.0 documents this but fails at run time ("Unsupported qpick operation type:
/// RANGEPICK"), so the rank rule is the one its inter-quartile mean uses, derived by hand:
/// 1..8 with p = 0.25 keeps ranks 3..6, that is 3 4 5 6.
pub fn inter_quantile(x: &Matrix, w: Option<&Matrix>, p: f64) -> KResult<Vec<f64>> {
    if !(0.0..=0.5).contains(&p) {
        return Err(KernelError::new(format!("interQuantile: p must be in [0, 0.5], found {p}")));
    }
    let (pairs, total) = sorted(x, w, "interQuantile")?;
    let (lo, hi) = (p * total, (1.0 - p) * total);
    let mut out = Vec::new();
    let mut rank = 0.0;
    for &(v, wt) in &pairs {
        let copies = wt.round().max(0.0) as u64;
        for _ in 0..copies {
            rank += 1.0;
            if rank > lo && rank <= hi {
                out.push(v);
            }
        }
    }
    Ok(out)
}

/// Weighted central moment `sum w (x - mean)^k / sum w` (population form, as sysds prints).
fn central_moment(v: &[f64], w: &[f64], order: u32) -> f64 {
    let total: f64 = w.iter().sum();
    let mean = v.iter().zip(w).map(|(x, w)| x * w).sum::<f64>() / total;
    v.iter().zip(w).map(|(x, w)| w * (x - mean).powi(order as i32)).sum::<f64>() / total
}

/// Central moment of order 2, 3 or 4 (`moment(X, k)`, `moment(X, W, k)`).
pub fn moment(x: &Matrix, w: Option<&Matrix>, order: u32) -> KResult<f64> {
    if !(2..=4).contains(&order) {
        return Err(KernelError::new(format!("moment: order must be 2, 3 or 4, found {order}")));
    }
    let v = vector(x, "moment")?;
    let w = weights(w, v.len(), "moment")?;
    Ok(central_moment(&v, &w, order))
}

/// Sample covariance `sum w (x - mx)(y - my) / (sum w - 1)` (sysds: cov(5 1 4 2 3 8,
/// 1 2 1 3 1 2) = -0.4666666666666667).
pub fn cov(x: &Matrix, y: &Matrix, w: Option<&Matrix>) -> KResult<f64> {
    let a = vector(x, "cov")?;
    let b = vector(y, "cov")?;
    if a.len() != b.len() {
        return Err(KernelError::new(format!("cov: vectors of {} and {} cells", a.len(), b.len())));
    }
    let w = weights(w, a.len(), "cov")?;
    let total: f64 = w.iter().sum();
    let ma = a.iter().zip(&w).map(|(x, w)| x * w).sum::<f64>() / total;
    let mb = b.iter().zip(&w).map(|(x, w)| x * w).sum::<f64>() / total;
    let s: f64 = a.iter().zip(&b).zip(&w).map(|((x, y), w)| w * (x - ma) * (y - mb)).sum();
    Ok(s / (total - 1.0))
}

/// Grouped aggregate (`aggregate(target, groups, fn, weights, ngroups, order)`), one output row
/// per group id `1..=k` where `k = ngroups` or `max(groups)`; groups above `ngroups` are dropped.
///
/// Checked with sysds: empty groups give 0 for every function; `variance` is the sample variance
/// (`/(sum w - 1)`, 0 for one member); `centralmoment` the population form; `count` sums weights;
/// weighted `min`/`max` take the extreme of `w * x`.
pub fn grouped_aggregate(
    target: &Matrix,
    groups: &Matrix,
    weights_m: Option<&Matrix>,
    func: &str,
    ngroups: Option<usize>,
    order: Option<u32>,
) -> KResult<Matrix> {
    let n = target.rows();
    let g = vector(groups, "aggregate")?;
    if g.len() != n {
        return Err(KernelError::new(format!("aggregate: {} group ids for {n} rows", g.len())));
    }
    let w = weights(weights_m, n, "aggregate")?;
    let mut ids = Vec::with_capacity(n);
    for v in &g {
        let t = v.trunc();
        if t.is_nan() || t < 1.0 {
            return Err(KernelError::new(format!("aggregate: group id {v} is not a positive integer")));
        }
        ids.push(t as usize);
    }
    let k = ngroups.unwrap_or_else(|| ids.iter().copied().max().unwrap_or(0));
    let func = func.to_ascii_lowercase();
    let ord = match func.as_str() {
        "centralmoment" => match order {
            Some(o @ 2..=4) => o,
            other => {
                return Err(KernelError::new(format!(
                    "aggregate: centralmoment needs order 2, 3 or 4, found {other:?}"
                )));
            }
        },
        "sum" | "count" | "mean" | "variance" | "min" | "max" => 0,
        other => return Err(KernelError::new(format!("aggregate: unknown function \"{other}\""))),
    };
    let cols = target.cols();
    if weights_m.is_none()
        && matches!(func.as_str(), "sum" | "count" | "mean")
        && let Some(x) = target.dense_slice()
    {
        return Ok(unweighted_group_sums(x, cols, &ids, k, &func));
    }
    let mut out = vec![0.0; k * cols];
    for c in 0..cols {
        let mut members: Vec<(Vec<f64>, Vec<f64>)> = vec![(Vec::new(), Vec::new()); k];
        for (r, &id) in ids.iter().enumerate() {
            if id <= k {
                members[id - 1].0.push(target.get(r, c));
                members[id - 1].1.push(w[r]);
            }
        }
        for (gi, (v, wt)) in members.iter().enumerate() {
            if v.is_empty() {
                continue;
            }
            let total: f64 = wt.iter().sum();
            let weighted = v.iter().zip(wt).map(|(x, w)| x * w);
            out[gi * cols + c] = match func.as_str() {
                "sum" => weighted.sum(),
                "count" => total,
                "mean" => weighted.sum::<f64>() / total,
                "variance" if total <= 1.0 => 0.0,
                "variance" => central_moment(v, wt, 2) * total / (total - 1.0),
                "centralmoment" => central_moment(v, wt, ord),
                "min" => weighted.fold(f64::INFINITY, f64::min),
                _ => weighted.fold(f64::NEG_INFINITY, f64::max),
            };
        }
    }
    Ok(Matrix::from_vec(k, cols, out))
}

/// `sum`, `count` or `mean` per group of a dense target without weights, in one row-major pass:
/// each group's accumulator row takes the target's rows in row order, which is the order (and,
/// starting from -0.0 as `Iterator::sum` does, the bits) of the general per-column path.
fn unweighted_group_sums(x: &[f64], cols: usize, ids: &[usize], k: usize, func: &str) -> Matrix {
    let mut sums = vec![-0.0f64; k * cols];
    let mut counts = vec![0usize; k];
    for (row, &id) in x.chunks_exact(cols.max(1)).zip(ids) {
        if id <= k {
            counts[id - 1] += 1;
            if func != "count" {
                for (acc, v) in sums[(id - 1) * cols..id * cols].iter_mut().zip(row) {
                    *acc += v;
                }
            }
        }
    }
    for (g, &n) in counts.iter().enumerate() {
        let out = &mut sums[g * cols..(g + 1) * cols];
        match (n, func) {
            (0, _) => out.fill(0.0),
            (_, "count") => out.fill(n as f64),
            (_, "mean") => out.iter_mut().for_each(|v| *v /= n as f64),
            _ => {}
        }
    }
    Matrix::from_vec(k, cols, sums)
}

/// Java's `Double.hashCode` after `HashMap`'s spreading step.
fn java_hash(v: f64) -> u32 {
    let bits = if v.is_nan() { 0x7ff8_0000_0000_0000u64 } else { v.to_bits() };
    let h = (bits ^ (bits >> 32)) as u32;
    h ^ (h >> 16)
}

/// Distinct values in the order a Java `HashMap` with default capacity iterates them, which is
/// the order SystemDS's `unique` returns (matched with sysds: 1 2 2 1 NaN 3 1 2 2 0 0 NaN gives
/// 1 2 0 NaN 3). NaN equals NaN.
fn distinct_java_order(values: impl Iterator<Item = f64>) -> Vec<f64> {
    let mut seen = std::collections::HashSet::new();
    let mut firsts = Vec::new();
    let mut cap = 16usize;
    for v in values {
        let key = if v.is_nan() { u64::MAX } else { v.to_bits() };
        if seen.insert(key) {
            firsts.push(v);
            if firsts.len() > cap * 3 / 4 {
                cap *= 2;
            }
        }
    }
    // Iteration goes bucket by bucket; within a bucket, insertion order (stable sort).
    firsts.sort_by_key(|v| (java_hash(*v) as usize) & (cap - 1));
    firsts
}

fn rows_of(x: &Matrix) -> impl Iterator<Item = Vec<f64>> + '_ {
    (0..x.rows()).map(move |r| (0..x.cols()).map(|c| x.get(r, c)).collect())
}

fn cols_of(x: &Matrix) -> impl Iterator<Item = Vec<f64>> + '_ {
    (0..x.cols()).map(move |c| (0..x.rows()).map(|r| x.get(r, c)).collect())
}

fn all_cells(x: &Matrix) -> impl Iterator<Item = f64> + '_ {
    (0..x.rows()).flat_map(move |r| (0..x.cols()).map(move |c| x.get(r, c)))
}

fn check_dir(dir: &str, what: &str) -> KResult<()> {
    match dir {
        "rc" | "r" | "c" => Ok(()),
        other => {
            Err(KernelError::new(format!("{what}: dir must be \"rc\", \"r\" or \"c\", found \"{other}\"")))
        }
    }
}

/// Exact distinct counts: 1x1 for `dir="rc"`, one per row (`"r"`, a column) or per column
/// (`"c"`, a row). NaN is one value (sysds counts 5 in 1 2 2 1 NaN 3 1 2 2 0 0 NaN).
pub fn count_distinct(x: &Matrix, dir: &str) -> KResult<Matrix> {
    check_dir(dir, "countDistinct")?;
    Ok(match dir {
        "rc" => Matrix::scalar(distinct_java_order(all_cells(x)).len() as f64),
        "r" => {
            let v: Vec<f64> = rows_of(x).map(|r| distinct_java_order(r.into_iter()).len() as f64).collect();
            Matrix::from_vec(v.len(), 1, v)
        }
        _ => {
            let v: Vec<f64> = cols_of(x).map(|c| distinct_java_order(c.into_iter()).len() as f64).collect();
            Matrix::from_vec(1, v.len(), v)
        }
    })
}

/// Distinct values. `"rc"`: a column of all distinct values; `"r"`: each row's distinct values,
/// left-aligned and padded with zeros to the widest row; `"c"`: the same per column (sysds
/// behaviour, values in Java hash order).
pub fn unique(x: &Matrix, dir: &str) -> KResult<Matrix> {
    check_dir(dir, "unique")?;
    Ok(match dir {
        "rc" => {
            let v = distinct_java_order(all_cells(x));
            Matrix::from_vec(v.len(), 1, v)
        }
        "r" => {
            let rows: Vec<Vec<f64>> = rows_of(x).map(|r| distinct_java_order(r.into_iter())).collect();
            let width = rows.iter().map(Vec::len).max().unwrap_or(0);
            let mut data = vec![0.0; rows.len() * width];
            for (i, r) in rows.iter().enumerate() {
                data[i * width..i * width + r.len()].copy_from_slice(r);
            }
            Matrix::from_vec(rows.len(), width, data)
        }
        _ => {
            let cols: Vec<Vec<f64>> = cols_of(x).map(|c| distinct_java_order(c.into_iter())).collect();
            let height = cols.iter().map(Vec::len).max().unwrap_or(0);
            let mut data = vec![0.0; height * cols.len()];
            for (j, c) in cols.iter().enumerate() {
                for (i, v) in c.iter().enumerate() {
                    data[i * cols.len() + j] = *v;
                }
            }
            Matrix::from_vec(height, cols.len(), data)
        }
    })
}
