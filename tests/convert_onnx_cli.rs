//! `dml convert onnx` end to end, as a user runs it: convert a fixture of tests/data/onnx into a
//! folder, run the written `predict.dml` on a CSV file and compare with onnx.reference's output;
//! with `--loss` and `--optimizer`, run `train.dml` and see the loss fall. Bad input writes
//! nothing.

use std::path::{Path, PathBuf};

use dml::convert::npz::read_npz;

mod cli_support;
use cli_support::{dml, run_ok, write_npy_csv as write_csv};

fn scratch(name: &str) -> PathBuf {
    cli_support::scratch("convert-onnx-cli", name)
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/onnx").join(name)
}

fn read_csv(path: &Path) -> Vec<Vec<f64>> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| l.split(',').map(|v| v.trim().parse::<f64>().unwrap_or(f64::NAN)).collect())
        .collect()
}

fn predict_matches(case: &str, dir: &Path, out: &Path) {
    let npz = read_npz(&data(&format!("{case}.npz"))).unwrap();
    write_csv(&npz["x"], &dir.join("x.csv"));
    run_ok(
        dml()
            .arg("run")
            .arg(out.join("predict.dml"))
            .arg("-nvargs")
            .arg(format!("X={}", dir.join("x.csv").display()))
            .arg(format!("out={}", dir.join("pred.csv").display())),
    );
    let got: Vec<f64> = read_csv(&dir.join("pred.csv")).concat();
    let want = &npz["pred"].data;
    assert_eq!(got.len(), want.len(), "{case}: prediction size");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= 1e-9 * w.abs() + 1e-12, "{case}: cell {i}: ours {g}, onnx.reference {w}");
    }
}

#[test]
fn cnn_converts_predicts_and_fine_tunes_from_the_command_line() {
    let dir = scratch("cnn");
    let out = dir.join("model");
    run_ok(dml().args(["convert", "onnx"]).arg(data("cnn.onnx")).arg("--out").arg(&out).args([
        "--loss",
        "categorical_crossentropy",
        "--optimizer",
        "adam",
        "--learning-rate",
        "0.01",
    ]));
    for f in ["train.dml", "predict.dml", "weights"] {
        assert!(out.join(f).exists(), "{f} was not written");
    }
    run_ok(dml().args(["fmt", "--check"]).arg(out.join("train.dml")).arg(out.join("predict.dml")));
    predict_matches("cnn", &dir, &out);
    let npz = read_npz(&data("cnn.npz")).unwrap();
    write_csv(&npz["y"], &dir.join("y.csv"));
    let printed =
        run_ok(dml().current_dir(&dir).arg("run").arg(out.join("train.dml")).arg("-nvargs").args([
            "X=x.csv",
            "y=y.csv",
            "epochs=6",
            "batch_size=4",
            "shuffle=FALSE",
            "history=history.csv",
            "weights_out=trained",
        ]));
    assert!(printed.contains("Epoch 1/6"), "no epoch line in:\n{printed}");
    let loss: Vec<f64> = read_csv(&dir.join("history.csv")).iter().map(|r| r[0]).collect();
    assert_eq!(loss.len(), 6);
    assert!(loss[5] < 0.9 * loss[0], "the loss did not fall: {loss:?}");
    assert!(dir.join("trained").exists(), "no trained weights");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn prediction_only_without_a_loss() {
    let dir = scratch("lstm");
    let out = dir.join("model");
    run_ok(dml().args(["convert", "onnx"]).arg(data("lstm_seq.onnx")).arg("--out").arg(&out));
    assert!(out.join("predict.dml").exists() && !out.join("train.dml").exists());
    predict_matches("lstm_seq", &dir, &out);
    let summary = run_ok(dml().args(["convert", "onnx"]).arg(data("lstm_seq.onnx")).arg("--summary"));
    assert!(summary.contains("lstm"), "{summary}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_models_are_errors_that_write_nothing() {
    let dir = scratch("bad");
    let out = dir.join("model");
    let res = dml()
        .args(["convert", "onnx"])
        .arg(data("unsupported.onnx"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&res.stderr);
    assert!(!res.status.success());
    assert!(err.contains("cosine") && err.contains("Cos") && err.contains("supported:"), "{err}");
    let cut = dir.join("cut.onnx");
    let bytes = std::fs::read(data("cnn.onnx")).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() - 7]).unwrap();
    let res = dml().args(["convert", "onnx"]).arg(&cut).arg("--out").arg(&out).output().unwrap();
    let err = String::from_utf8_lossy(&res.stderr);
    assert!(!res.status.success() && err.contains("cut.onnx") && err.contains("protobuf"), "{err}");
    let res = dml()
        .args(["convert", "onnx"])
        .arg(data("mlp.onnx"))
        .args(["--out", "x", "--loss", "no_such_loss", "--optimizer", "adam"])
        .output()
        .unwrap();
    assert!(!res.status.success());
    assert!(!out.exists(), "a folder was written for a bad model");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn every_output_of_a_two_output_graph_is_written() {
    let dir = scratch("two_outputs");
    let out = dir.join("model");
    run_ok(dml().args(["convert", "onnx"]).arg(data("two_outputs.onnx")).arg("--out").arg(&out));
    let npz = read_npz(&data("two_outputs.npz")).unwrap();
    write_csv(&npz["x"], &dir.join("x.csv"));
    // out= gets the first output, out2= the second; without out2, `out` with ".2" appended.
    let (first, second, default) = (dir.join("seq.csv"), dir.join("logits.csv"), dir.join("seq.csv.2"));
    for with_out2 in [true, false] {
        let mut cmd = dml();
        cmd.arg("run")
            .arg(out.join("predict.dml"))
            .arg("-nvargs")
            .arg(format!("X={}", dir.join("x.csv").display()))
            .arg(format!("out={}", first.display()));
        if with_out2 {
            cmd.arg(format!("out2={}", second.display()));
        }
        run_ok(&mut cmd);
        let target = if with_out2 { &second } else { &default };
        let got: Vec<Vec<f64>> =
            read_csv(&first).into_iter().zip(read_csv(target)).map(|(a, b)| [a, b].concat()).collect();
        let want = &npz["pred"];
        let cols = want.shape[1];
        assert_eq!(got.len() * got[0].len(), want.data.len());
        for (r, row) in got.iter().enumerate() {
            for (c, g) in row.iter().enumerate() {
                let w = want.data[r * cols + c];
                assert!(
                    (g - w).abs() <= 1e-9 * w.abs() + 1e-12,
                    "row {r} col {c}: ours {g}, onnx.reference {w}"
                );
            }
        }
    }
}
