//! Every Keras fixture through the command line, as a user runs it: `dml convert keras MODEL
//! --out DIR`, then `dml run DIR/predict.dml` on a CSV of the fixture's inputs, and (for the
//! fixtures trained without callbacks or separate validation rows, which take more settings)
//! `dml run DIR/train.dml` unshuffled; the predictions and the per-epoch loss are compared with
//! Keras's (tests/data/keras: 1e-9 and 1e-7 relative, as tests/convert_keras.rs compares the
//! same scripts run through the embedding session). One test per fixture (`case:cli`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use dml::convert::npz::{NpyArray, read_npz};
use libtest_mimic::{Arguments, Failed, Trial};
use serde_json::Value as Json;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/keras")
}

/// The cases tests/data/keras/REFUSED lists: the converter refuses them on purpose.
fn refused() -> BTreeSet<String> {
    std::fs::read_to_string(root().join("REFUSED"))
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.split('#').next().unwrap_or("").trim().to_string())
        .collect()
}

fn main() {
    let args = Arguments::from_args();
    let skip = refused();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root().join("cases"))
        .map(|d| d.flatten().map(|e| e.path()).filter(|p| p.join("manifest.json").exists()).collect())
        .unwrap_or_default();
    dirs.sort();
    let trials = dirs
        .into_iter()
        .filter(|d| !skip.contains(&d.file_name().unwrap().to_string_lossy().to_string()))
        .map(|d| {
            let name = d.file_name().unwrap().to_string_lossy().to_string();
            Trial::test(format!("{name}:cli"), move || run_case(&d))
        })
        .collect();
    libtest_mimic::run(&args, trials).exit();
}

/// The rows of the model's inputs side by side, one row per example, as CSV at full precision.
fn write_inputs(
    npz: &std::collections::BTreeMap<String, NpyArray>,
    prefix: &str,
    path: &Path,
) -> Result<(), String> {
    let parts: Vec<&NpyArray> = match npz.get(prefix) {
        Some(x) => vec![x],
        None => (0..).map_while(|k| npz.get(&format!("{prefix}{k}"))).collect(),
    };
    if parts.is_empty() {
        return Err(format!("the oracle has no {prefix}"));
    }
    let rows = parts[0].shape.first().copied().unwrap_or(1).max(1);
    let mut s = String::new();
    for r in 0..rows {
        let mut line = Vec::new();
        for p in &parts {
            let cols = p.data.len() / rows;
            line.extend(p.data[r * cols..(r + 1) * cols].iter().map(|v| format!("{v:?}")));
        }
        s.push_str(&line.join(","));
        s.push('\n');
    }
    std::fs::write(path, s).map_err(|e| e.to_string())
}

fn read_csv(path: &Path) -> Result<Vec<f64>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    text.lines()
        .flat_map(|l| l.split(','))
        .map(|v| v.trim().parse::<f64>().map_err(|e| format!("{}: `{v}`: {e}", path.display())))
        .collect()
}

/// Relative comparison scaled as tests/convert_keras.rs scales it.
fn close(ours: &[f64], theirs: &[f64], rel: f64, what: &str) -> Result<(), String> {
    if ours.len() != theirs.len() {
        return Err(format!("{what}: {} values, Keras has {}", ours.len(), theirs.len()));
    }
    let scale = theirs.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    for (i, (a, b)) in ours.iter().zip(theirs).enumerate() {
        let tol = rel * b.abs() + 1e-12 * scale + rel * 1e-3 * scale;
        if (a - b).abs() > tol || a.is_nan() != b.is_nan() {
            return Err(format!("{what}: cell {i}: ours {a:e}, Keras {b:e}"));
        }
    }
    Ok(())
}

fn run(cmd: &mut Command) -> Result<String, String> {
    let out = cmd.output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "{cmd:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn run_case(dir: &Path) -> Result<(), Failed> {
    let name = dir.file_name().unwrap().to_string_lossy().to_string();
    let manifest: Json = serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap())
        .map_err(|e| e.to_string())?;
    let checks: Vec<&str> = manifest["checks"]
        .as_array()
        .map(|a| a.iter().filter_map(Json::as_str).collect())
        .unwrap_or_default();
    let npz = read_npz(&dir.join("oracle.npz")).map_err(|e| e.to_string())?;
    let work = std::env::temp_dir().join(format!("dml-cli-fixture-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;
    let model = if manifest["legacy_h5"].as_bool() == Some(true) && dir.join("model.h5").exists() {
        dir.join("model.h5")
    } else {
        dir.join("model.keras")
    };
    let dml = env!("CARGO_BIN_EXE_dml");
    let out = work.join("model");
    run(Command::new(dml).args(["convert", "keras"]).arg(&model).arg("--out").arg(&out))?;
    write_inputs(&npz, "x", &work.join("x.csv"))?;
    if checks.contains(&"pred") {
        run(Command::new(dml).current_dir(&work).arg("run").arg(out.join("predict.dml")).args([
            "-nvargs",
            "X=x.csv",
            "out=pred.csv",
        ]))?;
        close(&read_csv(&work.join("pred.csv"))?, &npz["pred"].data, 1e-9, "prediction")?;
    }
    let fit = &manifest["fit"];
    let plain = fit["callbacks"].as_array().is_none_or(|c| c.is_empty()) && fit["validation_data"] != true;
    if checks.contains(&"fit") && plain && npz.contains_key("hist_loss") {
        write_inputs(&npz, "y", &work.join("y.csv"))?;
        run(Command::new(dml).current_dir(&work).arg("run").arg(out.join("train.dml")).arg("-nvargs").args(
            [
                "X=x.csv".to_string(),
                "y=y.csv".to_string(),
                format!("epochs={}", fit["epochs"]),
                format!("batch_size={}", fit["batch_size"]),
                format!("validation_split={}", fit["validation_split"].as_f64().unwrap_or(0.0)),
                "shuffle=FALSE".to_string(),
                "weights_out=trained".to_string(),
                "history=history.csv".to_string(),
                "verbose=FALSE".to_string(),
            ],
        ))?;
        let history = read_csv(&work.join("history.csv"))?;
        let epochs = npz["hist_loss"].data.len().max(1);
        let loss: Vec<f64> = history.chunks(history.len() / epochs).map(|r| r[0]).collect();
        close(&loss, &npz["hist_loss"].data, 1e-7, "history loss")?;
    }
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}
