//! Data generation: `seq`, `rand` and `sample`.
//!
//! Random streams are our own (xoshiro256++ seeded through splitmix64), not SystemDS's: scripts
//! that depend on the exact numbers of a seed cannot match it anyway. Every fixed-size block of
//! rows has its own generator derived from (seed, block index), so a seed gives the same matrix
//! whatever the number of threads.

use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;

use super::{KResult, KernelError};
use crate::types::matrix::Matrix;

/// `seq(from, to, incr)` as a column vector.
///
/// SystemDS 3.4.0 checked: the values are a running sum `from, from+incr, ...` (seq(0, 1, 0.1)
/// has 0.30000000000000004 at 4, 0.7 at 8 and 0.9999999999999999 at 11); the length is
/// `1 + floor(to/incr - from/incr)`, plus one when one more step still stays within `to`
/// (seq(0, 0.9999999999, 0.1) has 10 cells, seq(1, 2.4, 0.5) 3); `from == to` gives one cell
/// whatever the increment; an increment pointing away from `to` is the error "Wrong sign for the
/// increment in a call to seq()".
pub fn seq(from: f64, to: f64, incr: f64) -> KResult<Matrix> {
    if !(from.is_finite() && to.is_finite() && incr.is_finite()) {
        return Err(KernelError::new("seq() requires finite from, to and increment"));
    }
    if from == to {
        return Ok(Matrix::scalar(from));
    }
    if incr == 0.0 || (from < to) != (incr > 0.0) {
        return Err(KernelError::new("Wrong sign for the increment in a call to seq()"));
    }
    let mut len = 1.0 + (to / incr - from / incr).floor();
    if len < 0.0 {
        len = 0.0;
    }
    let within = |v: f64| if incr > 0.0 { v <= to } else { v >= to };
    if within(from + len * incr) {
        len += 1.0;
    }
    if len > 1e10 {
        return Err(KernelError::new(format!("seq() would create {len} cells")));
    }
    let n = len as usize;
    Ok(Matrix::from_vec(n, 1, seq_cells(from, incr, n)))
}

/// The cells of `seq`: `from`, then each the previous plus `incr` (SystemDS's running sum, whose
/// roundings the values keep). When every value is an integer below 2^53 the running sum is exact
/// and equals `from + i * incr`, which large sequences compute in parallel.
fn seq_cells(from: f64, incr: f64, n: usize) -> Vec<f64> {
    use rayon::prelude::*;
    const EXACT: f64 = 9007199254740992.0; // 2^53
    let integral = from.fract() == 0.0 && incr.fract() == 0.0;
    if n > 1 << 16 && integral && from.abs() + n as f64 * incr.abs() < EXACT {
        let mut out = vec![0.0; n];
        out.par_chunks_mut(1 << 14).enumerate().for_each(|(c, chunk)| {
            let start = c << 14;
            for (i, v) in chunk.iter_mut().enumerate() {
                *v = from + (start + i) as f64 * incr;
            }
        });
        out[0] = from; // -0.0 stays -0.0, as the running sum has it
        return out;
    }
    let mut out = Vec::with_capacity(n);
    let mut cur = from;
    for _ in 0..n {
        out.push(cur);
        cur += incr;
    }
    out
}

/// Distribution of `rand` values.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Pdf {
    Uniform,
    Normal,
    Poisson(f64),
}

/// Arguments of `rand`.
#[derive(Clone, Debug, PartialEq)]
pub struct RandSpec {
    pub rows: usize,
    pub cols: usize,
    pub min: f64,
    pub max: f64,
    pub sparsity: f64,
    pub pdf: Pdf,
    pub seed: Option<u64>,
    /// Build the output sparse (CSR) directly; the planner's choice, or SystemDS's rule on the
    /// expected non-zeros when it had none ([`RandSpec::sparse_by_default`]).
    pub sparse: bool,
}

impl RandSpec {
    /// SystemDS's format rule on the expected non-zeros `rows * cols * sparsity`.
    pub fn sparse_by_default(rows: usize, cols: usize, sparsity: f64) -> bool {
        sparsity < 1.0 && Matrix::prefers_sparse(rows, cols, (rows as f64 * cols as f64 * sparsity) as usize)
    }
}

/// splitmix64: turns any 64-bit value into a well-mixed one (seeding only).
fn splitmix64(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// xoshiro256++ (Blackman and Vigna), small and fast with good statistical quality.
pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        let mut x = seed;
        Rng { s: [splitmix64(&mut x), splitmix64(&mut x), splitmix64(&mut x), splitmix64(&mut x)] }
    }

    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1) with 53 random bits.
    #[inline]
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Standard normal (Marsaglia's polar method).
    pub fn next_normal(&mut self) -> f64 {
        loop {
            let u = 2.0 * self.next_f64() - 1.0;
            let v = 2.0 * self.next_f64() - 1.0;
            let s = u * u + v * v;
            if s > 0.0 && s < 1.0 {
                return u * (-2.0 * s.ln() / s).sqrt();
            }
        }
    }

    /// Poisson(lambda): Knuth's product method on pieces of at most 30, which is exact because
    /// a sum of independent Poisson variables is Poisson with the summed rate.
    pub fn next_poisson(&mut self, lambda: f64) -> f64 {
        let mut left = lambda;
        let mut k = 0u64;
        while left > 0.0 {
            let piece = left.min(30.0);
            left -= piece;
            let limit = (-piece).exp();
            let mut p = self.next_f64();
            while p > limit {
                k += 1;
                p *= self.next_f64();
            }
        }
        k as f64
    }

    /// Uniform integer in [0, n) (n > 0), by rejection to avoid modulo bias.
    pub fn next_below(&mut self, n: u64) -> u64 {
        let zone = u64::MAX - (u64::MAX % n);
        loop {
            let x = self.next_u64();
            if x < zone {
                return x % n;
            }
        }
    }
}

/// A fresh seed from the clock and a process-wide counter, for `seed = -1`.
pub fn random_seed() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mut x = nanos ^ COUNTER.fetch_add(1, Ordering::Relaxed).wrapping_mul(0xA076_1D64_78BD_642F);
    splitmix64(&mut x)
}

/// Cells per generator block (whole rows); fixed so results do not depend on the thread count.
const BLOCK_CELLS: usize = 1 << 16;

/// `rand(rows, cols, min, max, sparsity, pdf, seed)`.
///
/// Uniform values lie in [min, max); normal values are N(0, 1) and poisson values Poisson(lambda)
/// (min/max ignored, as in SystemDS). Each cell is non-zero with probability `sparsity`; the
/// result is built directly in the format `spec.sparse` asks for. Sparse output skips from one
/// non-zero to the next with geometric gaps, so its cost is proportional to the non-zeros, not
/// to the cells (a 200,000 x 200,000 matrix at 1e-6 takes milliseconds).
pub fn rand(spec: &RandSpec) -> KResult<Matrix> {
    let RandSpec { rows, cols, min, max, sparsity, pdf, seed, sparse } = *spec;
    if !(0.0..=1.0).contains(&sparsity) {
        return Err(KernelError::new(format!("rand: sparsity must be in [0, 1], got {sparsity}")));
    }
    if min > max {
        return Err(KernelError::new(format!("rand: min ({min}) must not exceed max ({max})")));
    }
    if let Pdf::Poisson(l) = pdf
        && !(l >= 0.0 && l.is_finite())
    {
        return Err(KernelError::new(format!("rand: lambda must be non-negative, got {l}")));
    }
    let cells = rows.checked_mul(cols).ok_or_else(|| KernelError::new("rand: too many cells"))?;
    let seed = seed.unwrap_or_else(random_seed);
    if cells == 0 {
        return Ok(Matrix::zeros(rows, cols));
    }
    let block_rows = (BLOCK_CELLS / cols.max(1)).max(1);
    let nblocks = rows.div_ceil(block_rows);
    let draw = move |rng: &mut Rng| -> f64 {
        match pdf {
            Pdf::Uniform => min + (max - min) * rng.next_f64(),
            Pdf::Normal => rng.next_normal(),
            Pdf::Poisson(l) => rng.next_poisson(l),
        }
    };
    let block_rng =
        |b: usize| Rng::new(seed ^ (b as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17));
    if sparse && sparsity < 1.0 {
        // Sparse: per block of rows, the (row, col, value) lists of the cells that came out
        // non-zero. The gap to the next selected cell is geometric with parameter `sparsity`.
        let log_q = (1.0 - sparsity).ln();
        let blocks: Vec<(Vec<usize>, Vec<usize>, Vec<f64>)> = (0..nblocks)
            .into_par_iter()
            .map(|b| {
                let mut rng = block_rng(b);
                let (r0, r1) = (b * block_rows, ((b + 1) * block_rows).min(rows));
                let mut counts = vec![0usize; r1 - r0];
                let mut idx = Vec::new();
                let mut val = Vec::new();
                let span = (r1 - r0) * cols;
                let mut pos = 0usize;
                loop {
                    // P(gap >= g) = (1 - sparsity)^g; u in (0, 1].
                    let u = 1.0 - rng.next_f64();
                    let gap = (u.ln() / log_q).floor();
                    if !gap.is_finite() || gap >= (span - pos) as f64 {
                        break;
                    }
                    pos += gap as usize;
                    let v = draw(&mut rng);
                    if v != 0.0 {
                        counts[pos / cols] += 1;
                        idx.push(pos % cols);
                        val.push(v);
                    }
                    pos += 1;
                    if pos >= span {
                        break;
                    }
                }
                (counts, idx, val)
            })
            .collect();
        let total: usize = blocks.iter().map(|b| b.1.len()).sum();
        let mut indptr = Vec::with_capacity(rows + 1);
        indptr.push(0);
        let mut indices = Vec::with_capacity(total);
        let mut data = Vec::with_capacity(total);
        for (counts, idx, val) in blocks {
            for c in counts {
                indptr.push(indptr.last().copied().unwrap_or(0) + c);
            }
            indices.extend(idx);
            data.extend(val);
        }
        return Ok(Matrix::from_csr_parts(rows, cols, indptr, indices, data));
    }
    let mut out = vec![0.0; cells];
    out.par_chunks_mut(block_rows * cols).enumerate().for_each(|(b, chunk)| {
        let mut rng = block_rng(b);
        for x in chunk.iter_mut() {
            if sparsity >= 1.0 || rng.next_f64() < sparsity {
                *x = draw(&mut rng);
            }
        }
    });
    Ok(Matrix::from_vec(rows, cols, out))
}

/// `sample(range, size, replace, seed)`: a size x 1 vector of integers in [1, range].
/// Without replacement, size must not exceed range.
pub fn sample(range: u64, size: u64, replace: bool, seed: Option<u64>) -> KResult<Matrix> {
    if range == 0 && size > 0 {
        return Err(KernelError::new("sample: range must be positive"));
    }
    if !replace && size > range {
        return Err(KernelError::new(format!(
            "sample: sample size ({size}) must not exceed the range ({range}) without replacement"
        )));
    }
    let n = usize::try_from(size).map_err(|_| KernelError::new("sample: size too large"))?;
    let mut rng = Rng::new(seed.unwrap_or_else(random_seed));
    let out: Vec<f64> = if replace {
        (0..n).map(|_| (rng.next_below(range) + 1) as f64).collect()
    } else if size.saturating_mul(4) < range {
        // Few draws from a large range: reject repeats.
        let mut seen = std::collections::HashSet::with_capacity(n);
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let v = rng.next_below(range) + 1;
            if seen.insert(v) {
                out.push(v as f64);
            }
        }
        out
    } else {
        // Partial Fisher-Yates over the whole range.
        let mut all: Vec<u64> = (1..=range).collect();
        for i in 0..n {
            let j = i + rng.next_below((all.len() - i) as u64) as usize;
            all.swap(i, j);
        }
        all[..n].iter().map(|v| *v as f64).collect()
    };
    Ok(Matrix::from_vec(n, 1, out))
}

#[cfg(test)]
mod tests {
    use super::seq_cells;

    /// The parallel form gives the running sum's bits wherever it is used.
    #[test]
    fn parallel_integer_sequences_equal_the_running_sum() {
        for (from, incr, n) in [
            (1.0f64, 1.0f64, 200_000usize),
            (-0.0, 1.0, 70_000),
            (-100_000.0, 3.0, 100_000),
            (5e6, -7.0, 90_000),
        ] {
            let mut cur: f64 = from;
            let running: Vec<u64> = (0..n)
                .map(|_| {
                    let v = cur;
                    cur += incr;
                    v.to_bits()
                })
                .collect();
            let got: Vec<u64> = seq_cells(from, incr, n).iter().map(|v| v.to_bits()).collect();
            assert_eq!(got, running, "seq from {from} by {incr}, {n} cells");
        }
    }
}
