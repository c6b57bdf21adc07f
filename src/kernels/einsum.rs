//! Einstein summation (`einsum`) over small dense matrices by direct enumeration of the index
//! space.

use super::{KResult, KernelError};
use crate::types::matrix::Matrix;

/// Einstein summation over matrices: `spec` such as `"ij,jk->ik"`, one term of one or two index
/// letters per operand (a single letter indexes the cells of a vector). Letters missing from the
/// output are summed over. Without `->` the output has the letters used exactly once, sorted.
/// Returns the result and its shape (`None` for a scalar, empty output); a one-letter output is a
/// column vector.
pub fn einsum(spec: &str, ops: &[&Matrix]) -> KResult<(Matrix, Option<(usize, usize)>)> {
    let bad = |m: String| KernelError::new(format!("einsum: {m}"));
    let spec: String = spec.chars().filter(|c| !c.is_whitespace()).collect();
    let (lhs, rhs) = match spec.split_once("->") {
        Some((l, r)) => (l.to_string(), Some(r.to_string())),
        None => (spec.clone(), None),
    };
    let terms: Vec<Vec<char>> = lhs.split(',').map(|t| t.chars().collect()).collect();
    if terms.len() != ops.len() {
        return Err(bad(format!("the equation names {} operands but {} were given", terms.len(), ops.len())));
    }
    let mut letters: Vec<char> = Vec::new();
    let mut dims: Vec<usize> = Vec::new();
    let mut count: Vec<usize> = Vec::new();
    for (t, m) in terms.iter().zip(ops) {
        if t.is_empty() || t.len() > 2 || t.iter().any(|c| !c.is_ascii_alphabetic()) {
            return Err(bad(format!(
                "each operand needs one or two index letters, got \"{}\"",
                t.iter().collect::<String>()
            )));
        }
        let sizes: Vec<usize> = if t.len() == 2 {
            vec![m.rows(), m.cols()]
        } else if m.cols() == 1 || m.rows() == 1 {
            vec![m.len()]
        } else {
            return Err(bad(format!(
                "\"{}\" indexes a vector, but the operand is {}x{}",
                t[0],
                m.rows(),
                m.cols()
            )));
        };
        for (&c, &n) in t.iter().zip(&sizes) {
            match letters.iter().position(|&l| l == c) {
                Some(i) => {
                    if dims[i] != n {
                        return Err(bad(format!("index {c} has sizes {} and {n}", dims[i])));
                    }
                    count[i] += 1;
                }
                None => {
                    letters.push(c);
                    dims.push(n);
                    count.push(1);
                }
            }
        }
    }
    let out: Vec<char> = match rhs {
        Some(r) => r.chars().collect(),
        None => {
            let mut once: Vec<char> =
                letters.iter().zip(&count).filter(|(_, n)| **n == 1).map(|(c, _)| *c).collect();
            once.sort_unstable();
            once
        }
    };
    if out.len() > 2 {
        return Err(bad("the output can have at most two indexes".into()));
    }
    let mut out_idx = Vec::with_capacity(out.len());
    for (k, c) in out.iter().enumerate() {
        if out[..k].contains(c) {
            return Err(bad(format!("index {c} appears twice in the output")));
        }
        match letters.iter().position(|l| l == c) {
            Some(i) => out_idx.push(i),
            None => return Err(bad(format!("output index {c} does not appear in the inputs"))),
        }
    }
    let (orows, ocols) = match out_idx.as_slice() {
        [] => (1, 1),
        [i] => (dims[*i], 1),
        [i, j] => (dims[*i], dims[*j]),
        _ => unreachable!("checked above"),
    };
    let total: f64 = dims.iter().map(|&d| d as f64).product();
    if total > 4e9 {
        return Err(bad(format!("the summation has {total} terms, too many")));
    }
    // position of each operand's letters in `letters`
    let pos: Vec<Vec<usize>> = terms
        .iter()
        .map(|t| t.iter().map(|c| letters.iter().position(|l| l == c).unwrap_or(0)).collect())
        .collect();
    let data: Vec<std::borrow::Cow<'_, [f64]>> = ops.iter().map(|m| m.dense_data()).collect();
    let cols: Vec<usize> = ops.iter().map(|m| m.cols()).collect();
    let mut result = vec![0.0; orows * ocols];
    let mut idx = vec![0usize; letters.len()];
    if dims.contains(&0) {
        return Ok((
            Matrix::from_vec(orows, ocols, result),
            if out.is_empty() { None } else { Some((orows, ocols)) },
        ));
    }
    loop {
        let mut prod = 1.0;
        for (k, p) in pos.iter().enumerate() {
            let cell = match p.as_slice() {
                [i] => idx[*i],
                [i, j] => idx[*i] * cols[k] + idx[*j],
                _ => 0,
            };
            prod *= data[k][cell];
        }
        let o = match out_idx.as_slice() {
            [] => 0,
            [i] => idx[*i],
            [i, j] => idx[*i] * ocols + idx[*j],
            _ => 0,
        };
        result[o] += prod;
        // next index combination (odometer)
        let mut d = letters.len();
        loop {
            if d == 0 {
                let shape = if out.is_empty() { None } else { Some((orows, ocols)) };
                return Ok((Matrix::from_vec(orows, ocols, result), shape));
            }
            d -= 1;
            idx[d] += 1;
            if idx[d] < dims[d] {
                break;
            }
            idx[d] = 0;
        }
    }
}
