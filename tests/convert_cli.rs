//! `dml convert keras` end to end, as a user runs it: convert a fixture model into a folder, run
//! the written `predict.dml` and `train.dml` with `dml run` on CSV files, and compare the
//! predictions and the training history with what Keras computed (tests/data/keras). Also the
//! way back: the trained weights written into a `.keras` file that reads back with those values.

use std::path::{Path, PathBuf};

use dml::convert::npz::read_npz;

mod cli_support;
use cli_support::{dml, run_ok, write_npy_csv as write_csv};

fn scratch(name: &str) -> PathBuf {
    cli_support::scratch("convert-cli", name)
}

fn case(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/keras/cases").join(name)
}

fn read_csv(path: &Path) -> Vec<f64> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .flat_map(|l| l.split(',').map(|v| v.trim().parse::<f64>().unwrap_or(0.0)).collect::<Vec<_>>())
        .collect()
}

fn assert_close(ours: &[f64], theirs: &[f64], rel: f64, what: &str) {
    assert_eq!(ours.len(), theirs.len(), "{what}: lengths differ");
    for (i, (a, b)) in ours.iter().zip(theirs).enumerate() {
        assert!((a - b).abs() <= rel * b.abs() + 1e-12, "{what}: cell {i}: ours {a}, Keras {b}");
    }
}

/// Converts `name`, predicts and trains from the written folder, compares with Keras.
fn convert_predict_train(name: &str) {
    let dir = scratch(name);
    let src = case(name);
    let npz = read_npz(&src.join("oracle.npz")).unwrap();
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(src.join("manifest.json")).unwrap()).unwrap();
    let out = dir.join("model");
    run_ok(dml().args(["convert", "keras"]).arg(src.join("model.keras")).arg("--out").arg(&out));
    for f in ["train.dml", "predict.dml", "weights"] {
        assert!(out.join(f).exists(), "{f} was not written");
    }
    // The scripts are in dml fmt's canonical form.
    run_ok(dml().args(["fmt", "--check"]).arg(out.join("train.dml")).arg(out.join("predict.dml")));

    write_csv(&npz["x"], &dir.join("x.csv"));
    write_csv(&npz["y"], &dir.join("y.csv"));
    run_ok(
        dml()
            .arg("run")
            .arg(out.join("predict.dml"))
            .arg("-nvargs")
            .arg(format!("X={}", dir.join("x.csv").display()))
            .arg(format!("out={}", dir.join("pred.csv").display())),
    );
    assert_close(&read_csv(&dir.join("pred.csv")), &npz["pred"].data, 1e-9, "prediction");

    let fit = &manifest["fit"];
    let trained = dir.join("trained");
    let printed =
        run_ok(dml().current_dir(&dir).arg("run").arg(out.join("train.dml")).arg("-nvargs").args([
            "X=x.csv".to_string(),
            "y=y.csv".to_string(),
            format!("epochs={}", fit["epochs"]),
            format!("batch_size={}", fit["batch_size"]),
            format!("validation_split={}", fit["validation_split"].as_f64().unwrap_or(0.0)),
            "shuffle=FALSE".to_string(),
            format!("weights_out={}", trained.display()),
            "history=history.csv".to_string(),
            "chart=history.svg".to_string(),
        ]));
    assert!(printed.contains(&format!("Epoch 1/{}", fit["epochs"])), "no epoch line in:\n{printed}");
    // The history chart: an SVG with the losses (validation too) named in its legend.
    let svg = std::fs::read_to_string(dir.join("history.svg")).expect("history.svg");
    assert!(svg.starts_with("<svg") && svg.contains("\nloss\n") && svg.contains("\nval_loss\n"), "{svg}");
    let history = read_csv(&dir.join("history.csv"));
    let cols = history.len() / fit["epochs"].as_u64().unwrap() as usize;
    let loss: Vec<f64> = history.chunks(cols).map(|r| r[0]).collect();
    assert_close(&loss, &npz["hist_loss"].data, 1e-7, "history loss");

    // The trained weights go back into a .keras file and read back with the same values.
    let saved = dir.join("trained.keras");
    run_ok(
        dml()
            .args(["convert", "keras"])
            .arg(src.join("model.keras"))
            .arg("--weights")
            .arg(&trained)
            .arg("--save")
            .arg(&saved),
    );
    let back = dml::convert::load_keras(&saved).unwrap();
    let mut trained_model = dml::convert::load_keras(&src.join("model.keras")).unwrap();
    trained_model.read_weights_dir(&trained).unwrap();
    for (a, b) in back.graph.params.iter().zip(&trained_model.graph.params) {
        assert_eq!(a.value, b.value, "{} after the round trip through .keras", a.var);
    }
    // And they are Keras's trained weights.
    for (i, p) in trained_model.graph.params.iter().enumerate() {
        if let Some(want) = npz.get(&format!("fit_{i}")) {
            assert_close(&p.origin.transform.to_framework(&p.value), &want.data, 1e-7, &p.var);
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn dense_model_end_to_end() {
    convert_predict_train("fit_validation_split");
}

#[test]
fn lenet_end_to_end() {
    convert_predict_train("lenet");
}

#[test]
fn summary_lists_layers_and_counts() {
    let out =
        run_ok(dml().args(["convert", "keras"]).arg(case("lenet").join("model.keras")).arg("--summary"));
    assert!(out.contains("conv2d (Conv2D)") && out.contains("(None, 24, 24, 4)"), "{out}");
    // 4*(5*5*1) + 4 = 104 parameters in the first convolution, as Keras counts them.
    assert!(out.lines().any(|l| l.contains("conv2d (Conv2D)") && l.trim_end().ends_with("104")), "{out}");
    assert!(out.contains("Total params: 2,432"), "{out}");
}

#[test]
fn bad_input_is_a_clear_error_and_writes_nothing() {
    let dir = scratch("bad");
    let bad = dir.join("broken.keras");
    std::fs::write(&bad, b"PK\x03\x04 this is not a zip archive").unwrap();
    let out = dml().args(["convert", "keras"]).arg(&bad).arg("--out").arg(dir.join("out")).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("broken.keras"), "the error names the file: {err}");
    assert!(!dir.join("out").exists(), "nothing is written for a broken model");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The training settings given to `dml convert` become the script's defaults: grouped updates of
/// one mini-batch each (`looped_minibatch`, `--parallel-batches 1`) are Keras's own mini-batch
/// updates, and `--no-shuffle` keeps Keras's unshuffled order, so the history is Keras's.
#[test]
fn convert_settings_become_the_training_defaults() {
    let name = "fit_validation_split";
    let dir = scratch("settings");
    let src = case(name);
    let npz = read_npz(&src.join("oracle.npz")).unwrap();
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(src.join("manifest.json")).unwrap()).unwrap();
    let fit = &manifest["fit"];
    let out = dir.join("model");
    run_ok(
        dml()
            .args(["convert", "keras"])
            .arg(src.join("model.keras"))
            .arg("--out")
            .arg(&out)
            .args(["--train-algo", "looped_minibatch", "--parallel-batches", "1", "--no-shuffle"])
            .args(["--epochs", &fit["epochs"].to_string(), "--batch-size", &fit["batch_size"].to_string()])
            .args(["--validation-split", &fit["validation_split"].as_f64().unwrap_or(0.0).to_string()]),
    );
    let script = std::fs::read_to_string(out.join("train.dml")).unwrap();
    assert!(script.contains("train_algo=looped_minibatch"), "the script says how it trains");
    write_csv(&npz["x"], &dir.join("x.csv"));
    write_csv(&npz["y"], &dir.join("y.csv"));
    run_ok(dml().current_dir(&dir).arg("run").arg(out.join("train.dml")).arg("-nvargs").args([
        "X=x.csv",
        "y=y.csv",
        "weights_out=trained",
        "history=history.csv",
    ]));
    let history = read_csv(&dir.join("history.csv"));
    let cols = history.len() / fit["epochs"].as_u64().unwrap() as usize;
    let loss: Vec<f64> = history.chunks(cols).map(|r| r[0]).collect();
    assert_close(&loss, &npz["hist_loss"].data, 1e-7, "history loss");

    let bad =
        dml().args(["convert", "keras"]).arg(src.join("model.keras")).args(["--train-algo", "sgd"]).output();
    let bad = bad.unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("looped_minibatch"), "the error lists the choices");
    std::fs::remove_dir_all(&dir).unwrap();
}
