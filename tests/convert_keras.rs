//! The Keras converter against Keras's own numbers: every case under `tests/data/keras/cases/`
//! (written by `tests/data/keras/gen_fixtures.py` with Keras 3 on JAX in float64; see the README
//! there) is converted and run through the embedding session, and compared with what Keras
//! computed for the same model and weights:
//! - `pred`: inference output (relative 1e-9);
//! - `grad`: the training-mode loss and the gradient of every trainable variable, and the updated
//!   moving statistics (relative 1e-9);
//! - `fit`: every variable after `fit(shuffle=False)` and the history (relative 1e-7).
//!
//! `tests/data/keras/PENDING` lists cases (or `case:check`) that are expected to fail for now,
//! with the reason; they run as ignored tests, and one that passes is reported so the line can go.
//! `tests/data/keras/REFUSED` lists cases the converter must refuse, each with a text its error
//! must contain (a model whose file does not say what it computes); they run as `case:refused`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use dml::convert::ir::Graph;
use dml::convert::npz::{NpyArray, read_npz};
use dml::convert::script::{EarlyStopping, MonitorMode, ReduceLrOnPlateau, TrainOptions};
use libtest_mimic::{Arguments, Failed, Trial};
use ndarray::Array2;
use serde_json::Value as Json;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/keras")
}

fn read_pending() -> BTreeMap<String, String> {
    read_list("PENDING")
}

/// `case  # text the error must contain` lines of a list file.
fn read_list(file: &str) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(root().join(file)).unwrap_or_default();
    text.lines()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (name, why) = l.split_once('#').unwrap_or((l, ""));
            (name.trim().to_string(), why.trim().to_string())
        })
        .collect()
}

/// A refused case: converting it fails, and the error names what it cannot convert.
fn run_refused(dir: &Path, expect: &str) -> Result<(), Failed> {
    let manifest: Json =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    match load(dir, &manifest) {
        Ok(_) => Err("the converter accepted a model it should refuse".into()),
        Err(e) if e.contains(expect) => Ok(()),
        Err(e) => Err(format!("refused, but the error does not contain `{expect}`: {e}").into()),
    }
}

fn main() {
    let args = Arguments::from_args();
    let pending = read_pending();
    let refused = read_list("REFUSED");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root().join("cases"))
        .map(|d| d.flatten().map(|e| e.path()).filter(|p| p.join("manifest.json").exists()).collect())
        .unwrap_or_default();
    dirs.sort();
    let mut trials = Vec::new();
    let mut known = BTreeSet::new();
    for dir in dirs {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        if let Some(expect) = refused.get(&name) {
            let (d, e) = (dir.clone(), expect.clone());
            trials.push(Trial::test(format!("{name}:refused"), move || run_refused(&d, &e)));
            known.insert(name);
            continue;
        }
        for check in ["pred", "grad", "fit"] {
            let id = format!("{name}:{check}");
            known.insert(id.clone());
            let ignored = pending.contains_key(&name) || pending.contains_key(&id);
            let d = dir.clone();
            let c = check.to_string();
            trials.push(Trial::test(id, move || run_check(&d, &c)).with_ignored_flag(ignored));
        }
        known.insert(name);
    }
    for p in pending.keys() {
        if !known.contains(p) {
            eprintln!("warning: tests/data/keras/PENDING lists {p}, which is not a case");
        }
    }
    libtest_mimic::run(&args, trials).exit();
}

fn matrix(a: &NpyArray) -> Array2<f64> {
    let rows = a.shape.first().copied().unwrap_or(1).max(1);
    let cols = a.data.len() / rows;
    Array2::from_shape_vec((rows, cols), a.data.clone()).unwrap()
}

/// The model input as one matrix: the inputs' flattened rows side by side.
fn input(npz: &BTreeMap<String, NpyArray>, prefix: &str) -> Option<Array2<f64>> {
    if let Some(x) = npz.get(prefix) {
        return Some(matrix(x));
    }
    let parts: Vec<Array2<f64>> = (0..).map_while(|k| npz.get(&format!("{prefix}{k}")).map(matrix)).collect();
    if parts.is_empty() {
        return None;
    }
    let views: Vec<_> = parts.iter().map(|p| p.view()).collect();
    Some(ndarray::concatenate(ndarray::Axis(1), &views).unwrap())
}

fn close(ours: &[f64], theirs: &[f64], rel: f64, what: &str) -> Result<(), String> {
    if ours.len() != theirs.len() {
        return Err(format!("{what}: {} values, Keras has {}", ours.len(), theirs.len()));
    }
    let scale = theirs.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    for (i, (a, b)) in ours.iter().zip(theirs).enumerate() {
        let tol = rel * b.abs() + 1e-12 * scale + rel * 1e-3 * scale;
        if (a - b).abs() > tol || a.is_nan() != b.is_nan() {
            return Err(format!(
                "{what}: cell {i}: ours {a:e}, Keras {b:e} (difference {:e})",
                (a - b).abs()
            ));
        }
    }
    Ok(())
}

/// For each manifest variable, our parameter id. Keras lists `model.weights` layer by layer in
/// the config's order, each layer's variables in its saved order, which is the order the
/// converter creates parameters in; the shapes must agree.
fn param_map(g: &Graph, manifest: &Json) -> Result<Vec<usize>, String> {
    let vars = manifest["variables"].as_array().ok_or("manifest has no variables")?;
    if vars.len() != g.params.len() {
        return Err(format!(
            "Keras has {} variables, the converted model {} parameters",
            vars.len(),
            g.params.len()
        ));
    }
    for (i, v) in vars.iter().enumerate() {
        let shape: Vec<usize> = v["shape"]
            .as_array()
            .map(|a| a.iter().filter_map(|d| d.as_u64()).map(|d| d as usize).collect())
            .unwrap_or_default();
        if shape != g.params[i].origin.shape {
            return Err(format!(
                "Keras variable {i} ({}) has shape {shape:?}, parameter {} has {:?}",
                v["path"], g.params[i].var, g.params[i].origin.shape
            ));
        }
    }
    Ok((0..vars.len()).collect())
}

fn mode(v: &Json) -> MonitorMode {
    match v.as_str() {
        Some("min") => MonitorMode::Min,
        Some("max") => MonitorMode::Max,
        _ => MonitorMode::Auto,
    }
}

fn load(dir: &Path, manifest: &Json) -> Result<dml::convert::Model, String> {
    let file = if manifest["legacy_h5"].as_bool() == Some(true) && dir.join("model.h5").exists() {
        dir.join("model.h5")
    } else {
        dir.join("model.keras")
    };
    dml::convert::load_keras(&file).map_err(|e| e.to_string())
}

fn run_check(dir: &Path, check: &str) -> Result<(), Failed> {
    let manifest: Json =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let checks: Vec<&str> = manifest["checks"]
        .as_array()
        .map(|a| a.iter().filter_map(Json::as_str).collect())
        .unwrap_or_default();
    if !checks.contains(&check) {
        return Ok(());
    }
    let npz = read_npz(&dir.join("oracle.npz")).map_err(|e| e.to_string())?;
    let mut model = load(dir, &manifest)?;
    let x = input(&npz, "x").ok_or("oracle has no x")?;
    match check {
        "pred" => {
            let pred = model.predict(&x, 32)?;
            close(pred.as_slice().unwrap(), &npz["pred"].data, 1e-9, "prediction")?;
        }
        "grad" => {
            let y = matrix(&npz["y"]);
            let g = model.gradients(&x, &y)?;
            close(&[g.loss], &npz["loss"].data, 1e-9, "loss")?;
            let map = param_map(&model.graph, &manifest)?;
            let trainable = manifest["trainable"].as_array().cloned().unwrap_or_default();
            for (k, vi) in trainable.iter().enumerate() {
                let vi = vi.as_u64().unwrap() as usize;
                let p = map[vi];
                let ours = g
                    .grads
                    .get(&p)
                    .ok_or_else(|| format!("no gradient for {}", manifest["variables"][vi]["path"]))?;
                let fw = model.graph.params[p].origin.transform.to_framework(ours);
                close(
                    &fw,
                    &npz[&format!("grad_{k}")].data,
                    1e-9,
                    &format!("gradient of {}", manifest["variables"][vi]["path"]),
                )?;
            }
            let fixed = manifest["non_trainable"].as_array().cloned().unwrap_or_default();
            for (j, vi) in fixed.iter().enumerate() {
                let Some(want) = npz.get(&format!("bn_{j}")) else { continue };
                let p = map[vi.as_u64().unwrap() as usize];
                if let Some(m) = g.updated.get(&p) {
                    let fw = model.graph.params[p].origin.transform.to_framework(m);
                    close(&fw, &want.data, 1e-9, &format!("updated {}", model.graph.params[p].var))?;
                }
            }
        }
        "fit" => {
            let y = matrix(&npz["y"]);
            let fit = &manifest["fit"];
            let mut opts = TrainOptions {
                epochs: fit["epochs"].as_u64().unwrap_or(1) as usize,
                batch_size: fit["batch_size"].as_u64().unwrap_or(32) as usize,
                validation_split: fit["validation_split"].as_f64().unwrap_or(0.0),
                shuffle: false,
                verbose: false,
                ..TrainOptions::default()
            };
            for cb in fit["callbacks"].as_array().cloned().unwrap_or_default() {
                let c = &cb["config"];
                match cb["class_name"].as_str() {
                    Some("EarlyStopping") => {
                        opts.early_stopping = Some(EarlyStopping {
                            monitor: c["monitor"].as_str().unwrap_or("val_loss").into(),
                            patience: c["patience"].as_u64().unwrap_or(0) as usize,
                            min_delta: c["min_delta"].as_f64().unwrap_or(0.0),
                            restore_best_weights: c["restore_best_weights"].as_bool().unwrap_or(false),
                            mode: mode(&c["mode"]),
                            baseline: c["baseline"].as_f64(),
                            start_from_epoch: c["start_from_epoch"].as_u64().unwrap_or(0) as usize,
                        })
                    }
                    Some("ReduceLROnPlateau") => {
                        let d = ReduceLrOnPlateau::default();
                        opts.reduce_lr = Some(ReduceLrOnPlateau {
                            monitor: c["monitor"].as_str().unwrap_or("val_loss").into(),
                            factor: c["factor"].as_f64().unwrap_or(d.factor),
                            patience: c["patience"].as_u64().map_or(d.patience, |p| p as usize),
                            mode: mode(&c["mode"]),
                            min_delta: c["min_delta"].as_f64().unwrap_or(d.min_delta),
                            cooldown: c["cooldown"].as_u64().unwrap_or(0) as usize,
                            min_lr: c["min_lr"].as_f64().unwrap_or(0.0),
                        })
                    }
                    other => return Err(format!("callback {other:?} is not handled by the test").into()),
                }
            }
            let val = match (input(&npz, "x_val"), npz.get("y_val")) {
                (Some(xv), Some(yv)) => Some((xv, matrix(yv))),
                _ => None,
            };
            let history = model.fit_with_validation(&x, &y, val.as_ref().map(|(a, b)| (a, b)), &opts)?;
            let map = param_map(&model.graph, &manifest)?;
            for (i, &p) in map.iter().enumerate() {
                let Some(want) = npz.get(&format!("fit_{i}")) else { continue };
                let fw = model.graph.params[p].origin.transform.to_framework(&model.graph.params[p].value);
                close(&fw, &want.data, 1e-7, &format!("{} after fit", manifest["variables"][i]["path"]))?;
            }
            for (key, want) in npz.iter().filter_map(|(k, v)| k.strip_prefix("hist_").map(|k| (k, v))) {
                let ours = history.get(key).ok_or_else(|| format!("our history has no {key}"))?;
                close(ours, &want.data, 1e-7, &format!("history {key}"))?;
            }
            let keys: BTreeSet<&String> = history.keys().collect();
            let theirs: BTreeSet<String> =
                npz.keys().filter_map(|k| k.strip_prefix("hist_")).map(str::to_string).collect();
            if keys.len() != theirs.len() {
                return Err(format!("history keys: ours {keys:?}, Keras {theirs:?}").into());
            }
            // The optimizer state after fit, in Keras's order (`model.optimizer.variables`).
            let state = model.keras_optimizer_variables();
            let n_opt = npz.keys().filter(|k| k.starts_with("opt_")).count();
            if state.len() != n_opt {
                return Err(format!("{} optimizer variables, Keras has {n_opt}", state.len()).into());
            }
            for (k, v) in state.iter().enumerate() {
                let want = &npz[&format!("opt_{k}")];
                close(&v.data, &want.data, 1e-7, &format!("optimizer variable {k} ({})", v.name))?;
            }
        }
        _ => unreachable!(),
    }
    Ok(())
}
