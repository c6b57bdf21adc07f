//! `transformcolmap(target=M, spec=)` and `getCategoricalMask(M, spec)`: the layout of the
//! encoded matrix read from a meta frame `M` (as `transformencode` returns it) and a spec.
//! A dummy-coded column spans as many output columns as its domain: the recode tokens or bins
//! listed in its meta column, or the K buckets of a hashed column.

use super::spec::{self, ColSpec};
use crate::runtime::builtins::frame::ops::raw_cell;
use crate::runtime::error::{RtError, RtResult};
use crate::types::frame::Frame;
use crate::types::matrix::Matrix;

/// The number of output columns that input column `c` becomes.
fn width(meta: &Frame, c: usize, s: &ColSpec) -> usize {
    if !s.dummy {
        return 1;
    }
    if let Some(k) = s.hash {
        let from_meta = raw_cell(meta, 0, c).and_then(|v| v.trim().parse::<u64>().ok()).filter(|k| *k > 0);
        return from_meta.unwrap_or(k) as usize;
    }
    (0..meta.rows()).filter(|&r| raw_cell(meta, r, c).is_some()).count()
}

fn resolve(meta: &Frame, spec_text: &str) -> RtResult<Vec<ColSpec>> {
    let names: Vec<String> = (0..meta.cols()).map(|c| meta.name(c)).collect();
    spec::resolve(spec_text, &names).map_err(RtError::new)
}

/// One row per input column: its number, the first and the last output column (1-based).
pub fn colmap(meta: &Frame, spec_text: &str) -> RtResult<Matrix> {
    let specs = resolve(meta, spec_text)?;
    let mut data = Vec::with_capacity(specs.len() * 3);
    let mut next = 0usize;
    for (c, s) in specs.iter().enumerate() {
        let w = width(meta, c, s);
        data.extend_from_slice(&[(c + 1) as f64, (next + 1) as f64, (next + w) as f64]);
        next += w;
    }
    Ok(Matrix::from_vec(specs.len(), 3, data))
}

/// A 1 x (encoded width) row: 1 where the output column comes from a recoded, dummy-coded or
/// hashed input column, 0 for pass-through columns. Only id-based specs without binning, as
/// SystemDS.
pub fn categorical_mask(meta: &Frame, spec_text: &str) -> RtResult<Matrix> {
    let parsed = spec::parse_json(spec_text).map_err(RtError::new)?;
    if !matches!(parsed.get("ids"), Some(serde_json::Value::Bool(true))) {
        return Err(RtError::new("getCategoricalMask: the spec must use column ids (ids: true)"));
    }
    if parsed.get("bin").is_some() {
        return Err(RtError::new("getCategoricalMask: binning is not supported"));
    }
    let specs = resolve(meta, spec_text)?;
    let mut data = Vec::new();
    for (c, s) in specs.iter().enumerate() {
        let cat = s.recode || s.dummy || s.hash.is_some();
        let w = width(meta, c, s);
        if data.len() + w > 1 << 31 {
            return Err(RtError::new("getCategoricalMask: the encoded width is too large"));
        }
        data.extend(std::iter::repeat_n(if cat { 1.0 } else { 0.0 }, w));
    }
    let n = data.len();
    Ok(Matrix::from_vec(1, n, data))
}
