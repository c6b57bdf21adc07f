//! `transformencode`, `transformapply` and `transformdecode`: recode, dummycode, binning,
//! imputation and pass-through columns, with the meta frame laid out as SystemDS 3.4.0 does
//! (recode maps as `token·code` cells in Java `HashMap` order, bins as `min·max`, a hashed
//! column's K in its first row).

pub mod colmap;
pub mod hash;
pub mod spec;

use super::ops::raw_cell;
use crate::runtime::builtins::{Args, err};
use crate::runtime::error::{RtError, RtResult};
use crate::runtime::io::parse_java_double;
use crate::types::frame::{ColType, Frame, FrameColumn};
use crate::types::matrix::Matrix;
use crate::types::value::Value;
use spec::{BinMethod, ColSpec, Impute};
use std::collections::HashMap;
use std::sync::Arc;

/// The separator SystemDS puts between a token and its code in meta frames.
pub const SEP: char = '\u{b7}';

fn names(f: &Frame) -> Vec<String> {
    (0..f.cols()).map(|c| f.name(c)).collect()
}

use hash::java_string_hash as java_hash;

/// The order in which a `java.util.HashMap<String, _>` with default settings iterates keys
/// inserted in this order: by bucket of the final table, then by insertion.
pub(crate) fn java_hashmap_order(keys: &[String]) -> Vec<usize> {
    let mut cap: usize = 16;
    while keys.len() as f64 > cap as f64 * 0.75 {
        cap *= 2;
    }
    let bucket = |k: &str| {
        let h = java_hash(k) as u32;
        ((h ^ (h >> 16)) as usize) & (cap - 1)
    };
    let mut idx: Vec<usize> = (0..keys.len()).collect();
    idx.sort_by_key(|&i| (bucket(&keys[i]), i));
    idx
}

/// Java `Double.toString`.
fn jd(v: f64) -> String {
    crate::kernels::format::format_double(v)
}

/// One column's learned encoding.
#[derive(Clone, Debug, Default)]
struct ColEnc {
    spec: ColSpec,
    /// Recode tokens in code order (code = index + 1).
    tokens: Vec<String>,
    map: HashMap<String, usize>,
    bins: Vec<(f64, f64)>,
    impute_value: Option<String>,
}

impl ColEnc {
    fn width(&self) -> usize {
        if self.spec.dummy {
            if let Some(k) = self.spec.hash {
                k as usize
            } else if self.spec.bin.is_some() {
                self.bins.len()
            } else {
                self.tokens.len()
            }
        } else {
            1
        }
    }

    fn recodes(&self) -> bool {
        (self.spec.recode || self.spec.dummy) && self.spec.bin.is_none() && self.spec.hash.is_none()
    }
}

/// A column's cells after imputation.
fn imputed(f: &Frame, c: usize, enc: &ColEnc) -> Vec<Option<String>> {
    (0..f.rows())
        .map(|r| match raw_cell(f, r, c) {
            Some(s) if !s.is_empty() => Some(s),
            _ => enc.impute_value.clone(),
        })
        .collect()
}

fn numeric(s: &str, c: usize) -> RtResult<f64> {
    parse_java_double(s).ok_or_else(|| {
        RtError::new(format!("transform: the value \"{s}\" of column {} is not a number", c + 1))
    })
}

fn learn_impute(f: &Frame, c: usize, how: &Impute) -> RtResult<Option<String>> {
    let vals: Vec<String> =
        (0..f.rows()).filter_map(|r| raw_cell(f, r, c)).filter(|s| !s.is_empty()).collect();
    Ok(match how {
        Impute::Constant(v) => Some(v.clone()),
        Impute::Mean => {
            if vals.is_empty() {
                None
            } else {
                let mut sum = 0.0;
                for v in &vals {
                    sum += numeric(v, c)?;
                }
                Some(jd(sum / vals.len() as f64))
            }
        }
        Impute::Mode => {
            let mut counts: Vec<(String, usize)> = Vec::new();
            for v in vals {
                match counts.iter_mut().find(|(k, _)| *k == v) {
                    Some(e) => e.1 += 1,
                    None => counts.push((v, 1)),
                }
            }
            let best = counts.iter().map(|e| e.1).max().unwrap_or(0);
            counts.into_iter().find(|e| e.1 == best).map(|e| e.0)
        }
    })
}

fn learn(f: &Frame, specs: Vec<ColSpec>) -> RtResult<Vec<ColEnc>> {
    let mut encs = Vec::with_capacity(specs.len());
    for (c, spec) in specs.into_iter().enumerate() {
        let mut enc = ColEnc { spec, ..Default::default() };
        if let Some(how) = &enc.spec.impute {
            enc.impute_value = learn_impute(f, c, how)?;
        }
        let cells = imputed(f, c, &enc);
        if let Some((method, k)) = enc.spec.bin {
            // A missing cell counts as 0 when the bins are learned (SystemDS 3.4.0 does so: the
            // values 3 4 5 7 10 and one missing cell give equi-width bins from 0, and the
            // equi-height boundaries of 0 3 4 5 7 10); the cell itself still encodes as NaN.
            let mut vals = Vec::new();
            let mut present = 0;
            for s in cells.iter() {
                let v = match s {
                    Some(s) => {
                        present += 1;
                        numeric(s, c)?
                    }
                    None => 0.0,
                };
                if !v.is_nan() {
                    vals.push(v);
                }
            }
            if present == 0 || vals.is_empty() {
                return err(format!("transform: column {} has no values to bin", c + 1));
            }
            vals.sort_by(|a, b| a.total_cmp(b));
            let (lo, hi) = (vals[0], vals[vals.len() - 1]);
            enc.bins = match method {
                BinMethod::EquiWidth => {
                    let w = (hi - lo) / k as f64;
                    (0..k).map(|i| (lo + i as f64 * w, lo + (i + 1) as f64 * w)).collect()
                }
                BinMethod::EquiHeight => {
                    let n = vals.len();
                    let mut out = Vec::with_capacity(k);
                    let mut prev = lo;
                    for i in 0..k {
                        let idx = ((n * (i + 1)) as f64 / k as f64).ceil() as usize;
                        let hi_i = vals[idx.clamp(1, n) - 1];
                        out.push((prev, hi_i));
                        prev = hi_i;
                    }
                    out
                }
            };
        } else if enc.recodes() {
            for s in cells.iter().flatten() {
                if !enc.map.contains_key(s) {
                    enc.tokens.push(s.clone());
                    enc.map.insert(s.clone(), enc.tokens.len());
                }
            }
        }
        encs.push(enc);
    }
    Ok(encs)
}

/// The bin (1-based) of `v`: the first bin whose upper bound is at least `v`, clamped.
fn bin_of(bins: &[(f64, f64)], v: f64) -> f64 {
    if v.is_nan() || bins.is_empty() {
        return f64::NAN;
    }
    let i = bins.iter().position(|b| v <= b.1).unwrap_or(bins.len() - 1);
    (i + 1) as f64
}

/// The hash bucket of cell (r, c); a missing cell takes the imputed value's bucket.
fn hash_code(f: &Frame, r: usize, c: usize, enc: &ColEnc) -> f64 {
    let k = enc.spec.hash.unwrap_or(1);
    if let Some(v) = &enc.impute_value
        && raw_cell(f, r, c).is_none_or(|s| s.is_empty())
    {
        return hash::bucket(java_hash(v), k);
    }
    hash::cell_hash(f, r, c).map_or(f64::NAN, |h| hash::bucket(h, k))
}

fn encode_matrix(f: &Frame, encs: &[ColEnc]) -> RtResult<Matrix> {
    let rows = f.rows();
    let width: usize = encs.iter().map(|e| e.width()).sum();
    let cells = rows.checked_mul(width).filter(|n| *n <= 1 << 31).ok_or_else(|| {
        RtError::new(format!("transform: the encoded matrix of {rows} x {width} cells is too large"))
    })?;
    let mut data = vec![0.0; cells];
    let mut off = 0;
    for (c, enc) in encs.iter().enumerate() {
        let cells = imputed(f, c, enc);
        for (r, cell) in cells.iter().enumerate() {
            let code = match cell {
                _ if enc.spec.hash.is_some() => hash_code(f, r, c, enc),
                None => f64::NAN,
                Some(s) if enc.spec.bin.is_some() => bin_of(&enc.bins, numeric(s, c)?),
                Some(s) if enc.recodes() => enc.map.get(s).map_or(f64::NAN, |&k| k as f64),
                Some(s) => numeric(s, c)?,
            };
            if enc.spec.dummy {
                if !code.is_nan() && code >= 1.0 && (code as usize) <= enc.width() {
                    data[r * width + off + code as usize - 1] = 1.0;
                }
            } else {
                data[r * width + off] = code;
            }
        }
        off += enc.width();
    }
    Ok(Matrix::from_vec(rows, width, data))
}

fn meta_frame(f: &Frame, encs: &[ColEnc]) -> Frame {
    let rows = encs
        .iter()
        .map(|e| e.tokens.len().max(e.bins.len()).max(e.spec.hash.is_some() as usize))
        .max()
        .unwrap_or(0);
    let mut cols = Vec::with_capacity(encs.len());
    for enc in encs {
        let mut cells: Vec<Option<String>> = vec![None; rows];
        if let Some(k) = enc.spec.hash {
            cells[0] = Some(k.to_string());
        } else if !enc.bins.is_empty() {
            for (i, (lo, hi)) in enc.bins.iter().enumerate() {
                cells[i] = Some(format!("{}{SEP}{}", jd(*lo), jd(*hi)));
            }
        } else if !enc.tokens.is_empty() {
            for (slot, i) in java_hashmap_order(&enc.tokens).into_iter().enumerate() {
                cells[slot] = Some(format!("{}{SEP}{}", enc.tokens[i], i + 1));
            }
        }
        cols.push(FrameColumn::Str(cells));
    }
    let impute = encs.iter().map(|e| e.impute_value.clone()).collect();
    Frame { names: f.names.clone(), columns: cols, narrow: vec![], impute }
}

/// Reads the encodings back from a meta frame.
fn from_meta(meta: &Frame, specs: Vec<ColSpec>) -> RtResult<Vec<ColEnc>> {
    if meta.cols() != specs.len() {
        return err(format!(
            "transform: the meta frame has {} columns but the data has {}",
            meta.cols(),
            specs.len()
        ));
    }
    let mut encs = Vec::with_capacity(specs.len());
    for (c, spec) in specs.into_iter().enumerate() {
        let mut enc = ColEnc { spec, ..Default::default() };
        let entries: Vec<String> = (0..meta.rows()).filter_map(|r| raw_cell(meta, r, c)).collect();
        if enc.spec.hash.is_some() {
            // The meta frame's K wins over the spec's, as in SystemDS.
            if let Some(k) = entries.first().and_then(|e| e.trim().parse::<u64>().ok()).filter(|k| *k > 0) {
                enc.spec.hash = Some(k);
            }
        } else if enc.spec.bin.is_some() {
            for e in &entries {
                let (a, b) = e
                    .rsplit_once(SEP)
                    .ok_or_else(|| RtError::new(format!("transform: bad bin entry \"{e}\"")))?;
                enc.bins.push((numeric(a, c)?, numeric(b, c)?));
            }
        } else if enc.recodes() {
            let mut pairs = Vec::new();
            for e in &entries {
                let (tok, code) = e
                    .rsplit_once(SEP)
                    .ok_or_else(|| RtError::new(format!("transform: bad recode entry \"{e}\"")))?;
                let k = code
                    .trim()
                    .parse::<usize>()
                    .map_err(|_| RtError::new(format!("transform: bad code in \"{e}\"")))?;
                pairs.push((k, tok.to_string()));
            }
            pairs.sort();
            for (k, tok) in pairs {
                enc.map.insert(tok.clone(), k);
                enc.tokens.push(tok);
            }
        }
        match &enc.spec.impute {
            Some(Impute::Constant(v)) => enc.impute_value = Some(v.clone()),
            Some(_) => enc.impute_value = meta.impute.get(c).cloned().flatten(),
            None => {}
        }
        encs.push(enc);
    }
    Ok(encs)
}

/// The column specs of the argument `spec` for the columns `f_names`.
fn spec_arg(a: &Args, f_names: &[String]) -> RtResult<Vec<ColSpec>> {
    spec::resolve(&a.text("spec")?, f_names).map_err(RtError::new)
}

/// `[X, M] = transformencode(target=F, spec=...)`.
pub fn encode_builtin(a: Args) -> RtResult<Vec<Value>> {
    let f = a.frame("target")?;
    let specs = spec_arg(&a, &names(f))?;
    let encs = learn(f, specs)?;
    let x = encode_matrix(f, &encs)?;
    Ok(vec![Value::matrix(x), Value::Frame(Arc::new(meta_frame(f, &encs)))])
}

/// `transformapply(target=F, spec=..., meta=M)`.
pub fn apply_builtin(a: Args) -> RtResult<Vec<Value>> {
    let f = a.frame("target")?;
    let meta = a.frame("meta")?;
    let specs = spec_arg(&a, &names(meta))?;
    let encs = from_meta(meta, specs)?;
    if encs.len() != f.cols() {
        return err(format!(
            "transformapply: the frame has {} columns but the meta frame {}",
            f.cols(),
            encs.len()
        ));
    }
    Ok(vec![Value::matrix(encode_matrix(f, &encs)?)])
}

/// `transformdecode(target=X, spec=..., meta=M)`.
pub fn decode_builtin(a: Args) -> RtResult<Vec<Value>> {
    let x = a.matrix("target")?;
    let meta = a.frame("meta")?;
    let specs = spec_arg(&a, &names(meta))?;
    let encs = from_meta(meta, specs)?;
    let width: usize = encs.iter().map(|e| e.width()).sum();
    if width != x.cols() {
        return err(format!(
            "transformdecode: the matrix has {} columns but the spec encodes {width}",
            x.cols()
        ));
    }
    let mut off = 0;
    let mut typed = Vec::with_capacity(encs.len());
    for enc in &encs {
        if enc.recodes() {
            let mut cells = Vec::with_capacity(x.rows());
            for r in 0..x.rows() {
                let code = if enc.spec.dummy {
                    (0..enc.width()).find(|&j| x.get(r, off + j) != 0.0).map_or(f64::NAN, |j| (j + 1) as f64)
                } else {
                    x.get(r, off)
                };
                let tok = if code.is_nan() || code < 1.0 {
                    None
                } else {
                    enc.tokens.get(code as usize - 1).cloned()
                };
                cells.push(tok);
            }
            typed.push((ColType::String, FrameColumn::Str(cells)));
        } else if enc.spec.dummy && enc.spec.hash.is_some() {
            // SystemDS gives the bucket of a hashed, dummy-coded column back as a string.
            let cells = (0..x.rows())
                .map(|r| (0..enc.width()).find(|&j| x.get(r, off + j) != 0.0).map(|j| jd((j + 1) as f64)))
                .collect();
            typed.push((ColType::String, FrameColumn::Str(cells)));
        } else {
            let vals = (0..x.rows())
                .map(|r| {
                    if enc.spec.dummy {
                        (0..enc.width())
                            .find(|&j| x.get(r, off + j) != 0.0)
                            .map_or(f64::NAN, |j| (j + 1) as f64)
                    } else {
                        x.get(r, off)
                    }
                })
                .collect();
            typed.push((ColType::Fp64, FrameColumn::Double(vals)));
        }
        off += enc.width();
    }
    Ok(vec![Value::Frame(Arc::new(Frame::from_typed(meta.names.clone(), typed)))])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Orders observed from SystemDS 3.4.0 meta frames.
    #[test]
    fn hashmap_order_matches_java() {
        let keys: Vec<String> = [
            "mango", "kiwi", "apple", "Zebra", "banana", "cherry", "date", "elder", "fig", "grape",
            "honeydew", "ice", "jack", "lime", "lemon", "nut", "olive",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let order: Vec<&str> = java_hashmap_order(&keys).into_iter().map(|i| keys[i].as_str()).collect();
        assert_eq!(
            order,
            [
                "banana", "date", "cherry", "kiwi", "Zebra", "fig", "lime", "ice", "elder", "grape", "nut",
                "jack", "mango", "apple", "honeydew", "lemon", "olive"
            ]
        );
        assert_eq!(java_hash("a"), 97);
        assert_eq!(crate::runtime::builtins::frame::ops::java_float(1.5), "1.5");
    }
}
