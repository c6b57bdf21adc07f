//! The meta frames of the transforms: `transformcolmap` and `getCategoricalMask` read one,
//! `transformmeta` builds one from SystemDS's file-based layout.

use super::frame_out;
use super::transform::{SEP, colmap, spec};
use crate::kernels::format::format_double;
use crate::runtime::builtins::{Args, err, matrix_out};
use crate::runtime::error::{RtError, RtResult};
use crate::types::frame::{Frame, FrameColumn};
use crate::types::value::Value;
use std::path::Path;

/// `transformcolmap(target=M, spec=)`: for each column of the input, its first column in the
/// encoded matrix.
pub(super) fn transform_colmap(a: Args) -> RtResult<Vec<Value>> {
    matrix_out(colmap::colmap(a.frame("target")?, &a.text("spec")?)?)
}

/// `getCategoricalMask(target=M, spec=)`: 1 for each encoded column of a categorical input.
pub(super) fn categorical_mask(a: Args) -> RtResult<Vec<Value>> {
    matrix_out(colmap::categorical_mask(a.frame("target")?, &a.text("spec")?)?)
}

/// `transformmeta(spec=, transformPath=)`.
pub(super) fn transform_meta(a: Args) -> RtResult<Vec<Value>> {
    let (spec, path) = (a.text("spec")?, a.text("transformPath")?);
    frame_out(meta_from_files(&spec, Path::new(&*path))?)
}

fn read_text(path: &Path) -> RtResult<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => err(format!("transformmeta: cannot read {}: {e}", path.display())),
    }
}

/// One recode map line, `"token",id,count` (the token may be quoted to hold commas).
fn recode_entry(line: &str) -> RtResult<(String, String)> {
    let bad = || RtError::new(format!("transformmeta: bad recode map entry \"{line}\""));
    let (token, rest) = match line.rfind('"') {
        Some(q) if line.starts_with('"') && q > 0 => (&line[1..q], line.get(q + 2..).ok_or_else(bad)?),
        _ => {
            let (t, r) = line.split_once(',').ok_or_else(bad)?;
            (t, r)
        }
    };
    let id = rest.split(',').next().ok_or_else(bad)?.trim();
    if id.is_empty() {
        return Err(bad());
    }
    Ok((token.to_string(), id.to_string()))
}

/// `transformmeta(spec=, transformPath=)`: the meta frame from the file-based layout
/// (`column.names`; `Recode/<col>.map`, `.ndistinct`; `Bin/<col>.bin`; `Impute/<col>.impute`).
fn meta_from_files(spec_text: &str, dir: &Path) -> RtResult<Frame> {
    let names_file = dir.join("column.names");
    let names_text = read_text(&names_file)?
        .ok_or_else(|| RtError::new(format!("transformmeta: {} does not exist", names_file.display())))?;
    let names: Vec<String> = names_text.trim().split(',').map(|s| s.to_string()).collect();
    let specs = spec::resolve(spec_text, &names).map_err(RtError::new)?;
    let n = names.len();
    let mut cols: Vec<Vec<String>> = vec![Vec::new(); n];
    let mut impute: Vec<Option<String>> = vec![None; n];
    // As SystemDS, the frame has as many rows as the largest domain found in the directory,
    // whether or not the spec uses that column.
    let mut rows = 0usize;
    for name in &names {
        let nd = dir.join("Recode").join(format!("{name}.ndistinct"));
        if dir.join("Recode").join(format!("{name}.map")).exists()
            && let Some(t) = read_text(&nd)?
        {
            let k = t.trim().parse::<usize>().map_err(|_| {
                RtError::new(format!("transformmeta: bad distinct count in {}", nd.display()))
            })?;
            rows = rows.max(k);
        }
        if let Some(t) = read_text(&dir.join("Bin").join(format!("{name}.bin")))? {
            let nb = t.trim().split(',').nth(4).and_then(|x| x.trim().parse::<f64>().ok());
            rows = rows.max(nb.filter(|x| (0.0..=1e7).contains(x)).unwrap_or(0.0) as usize);
        }
    }
    for (c, name) in names.iter().enumerate() {
        let s = &specs[c];
        if let Some((_, k)) = s.bin {
            let file = dir.join("Bin").join(format!("{name}.bin"));
            let map = read_text(&file)?.ok_or_else(|| {
                RtError::new(format!("transformmeta: the binning map of column \"{name}\" does not exist"))
            })?;
            let fields: Vec<&str> = map.trim().split(',').collect();
            let num = |i: usize| -> RtResult<f64> {
                fields.get(i).and_then(|x| x.trim().parse::<f64>().ok()).ok_or_else(|| {
                    RtError::new(format!("transformmeta: bad binning map for column \"{name}\": {map}"))
                })
            };
            let (min, width, nbins) = (num(1)?, num(3)?, num(4)?);
            let _ = k;
            if !(0.0..=1e7).contains(&nbins) {
                return err(format!("transformmeta: bad number of bins for column \"{name}\""));
            }
            for i in 0..nbins as usize {
                let lo = min + i as f64 * width;
                let hi = min + (i + 1) as f64 * width;
                cols[c].push(format!("{}{SEP}{}", format_double(lo), format_double(hi)));
            }
        } else if s.recode || s.dummy {
            let file = dir.join("Recode").join(format!("{name}.map"));
            let map = read_text(&file)?.ok_or_else(|| {
                RtError::new(format!("transformmeta: the recode map of column \"{name}\" does not exist"))
            })?;
            for line in map.lines().filter(|l| !l.is_empty()) {
                let (tok, id) = recode_entry(line)?;
                cols[c].push(format!("{tok}{SEP}{id}"));
            }
        }
        let file = dir.join("Impute").join(format!("{name}.impute"));
        if let Some(v) = read_text(&file)? {
            let v = v.trim_end_matches(['\n', '\r']);
            impute[c] = Some(v.split_once(',').map_or(v, |(_, b)| b).to_string());
        }
    }
    let rows = cols.iter().map(|c| c.len()).max().unwrap_or(0).max(rows);
    let columns = cols
        .into_iter()
        .map(|mut c| {
            let mut cells: Vec<Option<String>> = c.drain(..).map(Some).collect();
            cells.resize(rows, None);
            FrameColumn::Str(cells)
        })
        .collect();
    let impute = if impute.iter().any(|i| i.is_some()) { impute } else { vec![] };
    Ok(Frame { names, columns, narrow: vec![], impute })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recode_entries() {
        assert_eq!(recode_entry("\"a,b\",3,7").unwrap(), ("a,b".to_string(), "3".to_string()));
        assert_eq!(recode_entry("x,2,1").unwrap(), ("x".to_string(), "2".to_string()));
    }
}
