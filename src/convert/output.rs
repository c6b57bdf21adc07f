//! Writing a converted model to a folder: `train.dml`, `predict.dml`, `weights/` and the
//! converter's DML library files the scripts source (so the folder also runs where only the nn
//! library is installed). Everything goes into a temporary folder beside the destination that
//! is renamed into place at the end, so a failure never leaves a half-written folder.

use std::path::{Path, PathBuf};

use crate::convert::error::ConvertError;
use crate::convert::model::Model;
use crate::convert::script::{Io, TrainOptions};
use crate::types::matrix::Matrix;

fn io_err(path: &Path, action: &'static str) -> impl FnOnce(std::io::Error) -> ConvertError + use<> {
    let path = path.to_path_buf();
    move |source| ConvertError::Io { path, action, source }
}

/// Writes the folder (see [`Model::write_dir`]).
pub fn write_dir(model: &Model, dir: &Path, opts: &TrainOptions) -> Result<(), ConvertError> {
    let parent = dir.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(io_err(parent, "create the folder"))?;
    let abs_parent = parent.canonicalize().map_err(io_err(parent, "resolve the folder"))?;
    let name = dir.file_name().ok_or_else(|| ConvertError::Io {
        path: dir.to_path_buf(),
        action: "use as the output folder",
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "the path has no folder name"),
    })?;
    let final_dir = abs_parent.join(name);
    let tmp = abs_parent.join(format!(".{}.tmp-{}", name.to_string_lossy(), std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let result = fill(model, &tmp, &final_dir, opts);
    if let Err(e) = result {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    replace_dir(&tmp, &final_dir)
}

/// Moves the finished temporary folder into place. An existing destination is replaced only
/// when it is an earlier output of the converter (it holds `train.dml` or `predict.dml`) or empty.
fn replace_dir(tmp: &Path, dest: &Path) -> Result<(), ConvertError> {
    if dest.exists() {
        let ours = dest.join("train.dml").exists() || dest.join("predict.dml").exists();
        let empty = std::fs::read_dir(dest).map(|mut d| d.next().is_none()).unwrap_or(false);
        if !ours && !empty {
            let _ = std::fs::remove_dir_all(tmp);
            return Err(ConvertError::Io {
                path: dest.to_path_buf(),
                action: "replace the output folder",
                source: std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    "it exists and is not an earlier output of `dml convert`",
                ),
            });
        }
        let old: PathBuf = dest.with_extension(format!("old-{}", std::process::id()));
        std::fs::rename(dest, &old).map_err(io_err(dest, "move the old output folder aside"))?;
        if let Err(e) = std::fs::rename(tmp, dest) {
            let _ = std::fs::rename(&old, dest);
            return Err(ConvertError::Io {
                path: dest.to_path_buf(),
                action: "move the new output into place",
                source: e,
            });
        }
        let _ = std::fs::remove_dir_all(&old);
        return Ok(());
    }
    std::fs::rename(tmp, dest).map_err(io_err(dest, "move the new output into place"))
}

fn write_text(path: &Path, text: &str) -> Result<(), ConvertError> {
    std::fs::write(path, text).map_err(io_err(path, "write"))
}

fn fill(model: &Model, tmp: &Path, final_dir: &Path, opts: &TrainOptions) -> Result<(), ConvertError> {
    let weights = tmp.join("weights");
    std::fs::create_dir_all(&weights).map_err(io_err(&weights, "create the folder"))?;
    let io = Io::Files { weights_dir: final_dir.join("weights").display().to_string() };
    let predict = model.prediction_script_with(&io, opts.batch_size, opts.test_algo)?;
    let train = match model.graph.training {
        Some(_) => Some(model.training_script(opts, &io)?),
        None => None,
    };
    write_text(&tmp.join("predict.dml"), &predict)?;
    if let Some(train) = &train {
        write_text(&tmp.join("train.dml"), train)?;
    }
    // The optimizer state the training script continues from (weights/optimizer/).
    let mut files: Vec<(PathBuf, ndarray::Array2<f64>)> =
        model.weights().into_iter().map(|(name, value)| (weights.join(name), value)).collect();
    if train.is_some() {
        let state = model.optimizer_matrices();
        let dir = weights.join("optimizer");
        std::fs::create_dir_all(&dir).map_err(io_err(&dir, "create the folder"))?;
        files.extend(state.into_iter().map(|(name, value)| (dir.join(name), value)));
    }
    for (path, value) in files {
        let m = Matrix::from_array(value);
        let wo = crate::runtime::io::WriteOptions { format: "binary".into(), ..Default::default() };
        crate::runtime::io::write_matrix(&m, &path, &wo).map_err(|e| ConvertError::Io {
            path: path.clone(),
            action: "write",
            source: std::io::Error::other(e.to_string()),
        })?;
    }
    // The converter's own library files, so the folder runs with only SystemDS's nn installed.
    let mut libs: Vec<&str> = Vec::new();
    for text in std::iter::once(&predict).chain(train.iter()) {
        for line in text.lines() {
            if let Some(rest) = line.trim().strip_prefix("source(\"keras/")
                && let Some(end) = rest.find('"')
            {
                libs.push(&rest[..end]);
            }
        }
    }
    libs.sort_unstable();
    libs.dedup();
    if !libs.is_empty() {
        let lib_dir = tmp.join("keras");
        std::fs::create_dir_all(&lib_dir).map_err(io_err(&lib_dir, "create the folder"))?;
        for f in libs {
            let rel = format!("keras/{f}");
            if let Some(src) = crate::compiler::stdlib::lookup(&rel) {
                write_text(&lib_dir.join(f), src)?;
            }
        }
    }
    Ok(())
}
