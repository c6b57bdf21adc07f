//! The converted training script beyond the fixture checks of `convert_keras.rs`: the optimizer
//! state as Keras keeps it, checkpoints and resuming, the CSV log, the `train_algo` menu, and the
//! Files-mode script (`dml run train.dml -nvargs ...`) against the Rust API (Bound mode).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use dml::convert::npz::{NpyArray, read_npz};
use dml::convert::script::{EarlyStopping, ReduceLrOnPlateau, TestAlgo, TrainAlgo, TrainOptions};
use dml::convert::{Model, load_keras};
use dml::runtime::io::{ReadOptions, WriteOptions, read_matrix, write_matrix};
use dml::types::matrix::Matrix;
use ndarray::Array2;

fn case_dir(case: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/keras/cases").join(case)
}

fn matrix(a: &NpyArray) -> Array2<f64> {
    let rows = a.shape.first().copied().unwrap_or(1).max(1);
    Array2::from_shape_vec((rows, a.data.len() / rows), a.data.clone()).unwrap()
}

/// A fixture's model and its x, y.
fn fixture(case: &str) -> (Model, Array2<f64>, Array2<f64>) {
    let dir = case_dir(case);
    let npz = read_npz(&dir.join("oracle.npz")).unwrap();
    (load_keras(&dir.join("model.keras")).unwrap(), matrix(&npz["x"]), matrix(&npz["y"]))
}

fn tmp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("dml_convert_fit_{}_{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn max_rel(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs() / y.abs().max(1e-3)).fold(0.0, f64::max)
}

/// Every parameter, the optimizer state and the history of two models agree within `rel`.
fn assert_same(
    a: &Model,
    b: &Model,
    ha: &BTreeMap<String, Vec<f64>>,
    hb: &BTreeMap<String, Vec<f64>>,
    rel: f64,
) {
    for (pa, pb) in a.graph.params.iter().zip(&b.graph.params) {
        let d = max_rel(pa.value.as_slice().unwrap(), pb.value.as_slice().unwrap());
        assert!(d <= rel, "{}: differs by {d:e}", pa.var);
    }
    let (va, vb) = (a.keras_optimizer_variables(), b.keras_optimizer_variables());
    assert_eq!(va.len(), vb.len());
    for (x, y) in va.iter().zip(&vb) {
        let d = max_rel(&x.data, &y.data);
        assert!(d <= rel, "optimizer {}: differs by {d:e}", x.name);
    }
    assert_eq!(ha.keys().collect::<Vec<_>>(), hb.keys().collect::<Vec<_>>());
    for (k, v) in ha {
        let d = max_rel(v, &hb[k]);
        assert!(d <= rel, "history {k}: {v:?} vs {:?}", hb[k]);
    }
}

#[test]
fn optimizer_state_comes_from_the_file_and_goes_back_in_keras_order() {
    for case in ["fit_saved_optimizer_rmsprop", "fit_saved_optimizer_amsgrad", "fit_saved_optimizer_nadam"] {
        let (model, _, _) = fixture(case);
        let file = model.keras.as_ref().unwrap();
        let ours = model.keras_optimizer_variables();
        assert_eq!(ours.len(), file.optimizer.len(), "{case}");
        assert!(ours[0].data[0] == 3.0, "{case}: iterations {:?}", ours[0].data);
        for (k, (a, b)) in ours.iter().zip(&file.optimizer).enumerate() {
            assert_eq!(a.shape, b.shape, "{case}: variable {k}");
            assert_eq!(a.data, b.data, "{case}: variable {k}");
        }
    }
    // A freshly compiled model's file holds only iterations and learning_rate: the slots start at
    // their initial values (Adagrad's accumulator at 0.1).
    let (model, _, _) = fixture("opt_adagrad");
    let vars = model.keras_optimizer_variables();
    assert_eq!(vars[0].data, vec![0.0]);
    assert!(vars[2..].iter().all(|v| v.data.iter().all(|&x| x == 0.1)));
}

#[test]
fn resuming_from_a_checkpoint_equals_an_uninterrupted_fit() {
    let (base, x, y) = fixture("fit_reduce_lr");
    let dir = tmp_dir("resume");
    let opts = TrainOptions {
        epochs: 5,
        batch_size: 4,
        validation_split: 0.2,
        shuffle: true,
        seed: 7,
        verbose: false,
        early_stopping: Some(EarlyStopping {
            monitor: "val_loss".into(),
            patience: 10,
            restore_best_weights: true,
            ..EarlyStopping::default()
        }),
        reduce_lr: Some(ReduceLrOnPlateau {
            monitor: "loss".into(),
            factor: 0.5,
            patience: 1,
            min_delta: 10.0,
            ..ReduceLrOnPlateau::default()
        }),
        ..TrainOptions::default()
    };
    let mut whole = base.clone();
    let h_whole = whole.fit(&x, &y, &opts).unwrap();
    assert_eq!(h_whole["loss"].len(), 5);
    // Two epochs with checkpoints, then a fresh model resumes from the folder.
    let ckpt = dir.join("ckpt").display().to_string();
    let mut first = base.clone();
    let h_first = first
        .fit(&x, &y, &TrainOptions { epochs: 2, checkpoint: Some(ckpt.clone()), ..opts.clone() })
        .unwrap();
    assert_eq!(h_first["loss"], h_whole["loss"][..2].to_vec());
    assert!(
        dir.join("ckpt/latest").exists()
            && dir.join("ckpt/slot0").exists()
            && dir.join("ckpt/slot1").exists()
    );
    let mut resumed = base.clone();
    let h_resumed = resumed.fit(&x, &y, &TrainOptions { resume: Some(ckpt), ..opts.clone() }).unwrap();
    assert_same(&resumed, &whole, &h_resumed, &h_whole, 0.0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_csv_log_is_what_keras_csvlogger_writes() {
    let (mut model, x, y) = fixture("fit_reduce_lr");
    let dir = tmp_dir("log");
    let log = dir.join("log.csv");
    let opts = TrainOptions {
        epochs: 3,
        batch_size: 4,
        shuffle: false,
        verbose: false,
        log: Some(log.display().to_string()),
        reduce_lr: Some(ReduceLrOnPlateau { monitor: "loss".into(), ..ReduceLrOnPlateau::default() }),
        ..TrainOptions::default()
    };
    let h = model.fit(&x, &y, &opts).unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // Sorted keys; without validation Keras appends val_ of every key, all NA.
    assert_eq!(
        lines[0], "epoch,accuracy,learning_rate,loss,val_accuracy,val_learning_rate,val_loss",
        "{text}"
    );
    assert_eq!(lines.len(), 4);
    for (e, line) in lines[1..].iter().enumerate() {
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!(cells[0], e.to_string());
        assert_eq!(cells[1].parse::<f64>().unwrap(), h["accuracy"][e]);
        assert_eq!(cells[2].parse::<f64>().unwrap(), h["learning_rate"][e]);
        assert_eq!(cells[3].parse::<f64>().unwrap(), h["loss"][e]);
        assert_eq!(&cells[4..], &["NA", "NA", "NA"]);
    }
    // With validation: the sorted keys of training and validation, no NA.
    let (mut model, x, y) = fixture("fit_validation_split");
    let opts = TrainOptions { validation_split: 0.25, reduce_lr: None, epochs: 2, ..opts };
    let h = model.fit(&x, &y, &opts).unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "epoch,accuracy,loss,val_accuracy,val_loss");
    let cells: Vec<f64> = lines[2].split(',').map(|c| c.parse().unwrap()).collect();
    assert_eq!(cells, vec![1.0, h["accuracy"][1], h["loss"][1], h["val_accuracy"][1], h["val_loss"][1]]);
    let _ = std::fs::remove_dir_all(&dir);
}

fn fit_with(case: &str, opts: &TrainOptions) -> (Model, BTreeMap<String, Vec<f64>>) {
    let (mut model, x, y) = fixture(case);
    let h = model.fit(&x, &y, opts).unwrap();
    (model, h)
}

#[test]
fn train_algo_batch_is_minibatch_over_all_rows() {
    let base = TrainOptions { epochs: 3, shuffle: false, verbose: false, ..TrainOptions::default() };
    for case in ["fit_partial_batch", "opt_adam", "opt_nadam"] {
        let (a, ha) = fit_with(case, &TrainOptions { algo: TrainAlgo::Batch, batch_size: 4, ..base.clone() });
        let (b, hb) = fit_with(case, &TrainOptions { batch_size: 1000, ..base.clone() });
        assert_same(&a, &b, &ha, &hb, 0.0);
    }
}

#[test]
fn allreduce_parallel_batches_is_minibatch_with_k_times_the_batch() {
    // The gradient of a mean loss over k*B rows is the row-weighted mean of the k mini-batches'
    // gradients (linearity), so k mini-batches of B rows per update equal one batch of k*B rows,
    // up to rounding; the last group is partial (11 rows: groups of 4, 4 and 3 rows).
    let base = TrainOptions { epochs: 2, shuffle: false, verbose: false, ..TrainOptions::default() };
    for case in ["fit_partial_batch", "opt_rmsprop_centered", "dense_l2"] {
        let (mb, hmb) = fit_with(case, &TrainOptions { batch_size: 4, ..base.clone() });
        for algo in [TrainAlgo::AllreduceParallelBatches, TrainAlgo::LoopedMinibatch] {
            let opts = TrainOptions { algo, batch_size: 2, parallel_batches: 2, ..base.clone() };
            let (ar, har) = fit_with(case, &opts);
            assert_same(&ar, &mb, &har, &hmb, 1e-10);
        }
        // Three mini-batches of one row per update against batches of three rows (the last group
        // and the last batch partial alike).
        let opts = TrainOptions {
            algo: TrainAlgo::AllreduceParallelBatches,
            batch_size: 1,
            parallel_batches: 3,
            ..base.clone()
        };
        let (ar, har) = fit_with(case, &opts);
        let (mb, hmb) = fit_with(case, &TrainOptions { batch_size: 3, ..base.clone() });
        assert_same(&ar, &mb, &har, &hmb, 1e-10);
    }
    // parallel_batches=1 is minibatch.
    let opts = TrainOptions {
        algo: TrainAlgo::AllreduceParallelBatches,
        batch_size: 4,
        parallel_batches: 1,
        ..base.clone()
    };
    let (ar, har) = fit_with("opt_adam", &opts);
    let (mb, hmb) = fit_with("opt_adam", &TrainOptions { batch_size: 4, ..base.clone() });
    assert_same(&ar, &mb, &har, &hmb, 1e-12);
}

#[test]
fn test_algo_batch_validates_all_rows_at_once() {
    let base = TrainOptions {
        epochs: 2,
        batch_size: 4,
        validation_split: 0.25,
        shuffle: false,
        verbose: false,
        ..TrainOptions::default()
    };
    let (a, ha) = fit_with("fit_validation_split", &base);
    let (b, hb) =
        fit_with("fit_validation_split", &TrainOptions { test_algo: TestAlgo::Batch, ..base.clone() });
    assert_same(&a, &b, &ha, &hb, 1e-12);
    let (model, x, _) = fixture("fit_validation_split");
    let script = model.prediction_script_with(&dml::convert::script::Io::Bound, 4, TestAlgo::Batch).unwrap();
    assert!(script.contains("test_algo = \"batch\""));
    let p = model.predict(&x, 3).unwrap();
    let q = model.predict(&x, 100).unwrap();
    assert!(max_rel(p.as_slice().unwrap(), q.as_slice().unwrap()) < 1e-14);
}

#[test]
fn reduce_lr_on_plateau_with_a_schedule_is_refused() {
    let (model, _, _) = fixture("sched_exponential");
    let opts = TrainOptions {
        reduce_lr: Some(ReduceLrOnPlateau { monitor: "loss".into(), ..ReduceLrOnPlateau::default() }),
        ..TrainOptions::default()
    };
    let err = model.training_script(&opts, &dml::convert::script::Io::Bound).unwrap_err().to_string();
    assert!(err.contains("schedule"), "{err}");
    let opts = TrainOptions {
        early_stopping: Some(EarlyStopping { monitor: "val_acc".into(), ..EarlyStopping::default() }),
        ..TrainOptions::default()
    };
    let err = model.training_script(&opts, &dml::convert::script::Io::Bound).unwrap_err().to_string();
    assert!(err.contains("val_acc") && err.contains("val_accuracy"), "{err}");
}

#[test]
fn the_trained_optimizer_state_is_written_back_into_the_keras_file() {
    let (mut model, x, y) = fixture("fit_saved_optimizer_nadam");
    model
        .fit(
            &x,
            &y,
            &TrainOptions {
                epochs: 2,
                batch_size: 4,
                shuffle: false,
                verbose: false,
                ..TrainOptions::default()
            },
        )
        .unwrap();
    let dir = tmp_dir("save");
    let file = dir.join("trained.keras");
    model.save_keras(&file).unwrap();
    let back = load_keras(&file).unwrap();
    let (ours, theirs) = (model.keras_optimizer_variables(), back.keras_optimizer_variables());
    assert_eq!(ours.len(), theirs.len());
    assert_eq!(theirs[0].data, vec![9.0]);
    for (a, b) in ours.iter().zip(&theirs) {
        assert_eq!(a.data, b.data, "{}", a.name);
    }
    // A file saved before the first step keeps its two variables: iterations and learning_rate.
    let (mut model, x, y) = fixture("opt_adam");
    model
        .fit(
            &x,
            &y,
            &TrainOptions {
                epochs: 1,
                batch_size: 4,
                shuffle: false,
                verbose: false,
                ..TrainOptions::default()
            },
        )
        .unwrap();
    model.save_keras(&file).unwrap();
    let back = load_keras(&file).unwrap();
    assert_eq!(back.keras.as_ref().unwrap().optimizer.len(), 2);
    assert_eq!(back.keras.as_ref().unwrap().optimizer[0].data, vec![3.0]);
    let _ = std::fs::remove_dir_all(&dir);
}

fn write_bin(path: &Path, m: &Array2<f64>) {
    let wo = WriteOptions { format: "binary".into(), ..WriteOptions::default() };
    write_matrix(&Matrix::from_array(m.clone()), path, &wo).unwrap();
}

fn read_bin(path: &Path) -> Array2<f64> {
    read_matrix(path, &ReadOptions::default()).unwrap().to_dense()
}

fn dml_run(script: &Path, args: &[String]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_dml"))
        .arg("run")
        .arg(script)
        .arg("-nvargs")
        .args(args)
        .output()
        .expect("run dml");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "dml run {} failed:\n{text}", script.display());
    text
}

/// `dml run train.dml` of a written folder trains as the API does, reads and writes the optimizer
/// state, logs, checkpoints and resumes.
#[test]
fn the_files_script_trains_as_the_api_does() {
    let (model, x, y) = fixture("fit_saved_optimizer_amsgrad");
    let dir = tmp_dir("files");
    let out = dir.join("model");
    let opts =
        TrainOptions { epochs: 3, batch_size: 4, shuffle: false, verbose: true, ..TrainOptions::default() };
    model.write_dir(&out, &opts).unwrap();
    assert!(out.join("weights/optimizer/iterations").exists());
    write_bin(&dir.join("X"), &x);
    write_bin(&dir.join("y"), &y);
    let p = |s: &Path| s.display().to_string();
    let args = |extra: &[String]| -> Vec<String> {
        let mut a = vec![
            format!("X={}", p(&dir.join("X"))),
            format!("y={}", p(&dir.join("y"))),
            "format=binary".into(),
        ];
        a.extend_from_slice(extra);
        a
    };
    // The API's run, with the optimizer state the file holds.
    let mut api = model.clone();
    let es = EarlyStopping {
        monitor: "loss".into(),
        patience: 1,
        min_delta: 0.5,
        restore_best_weights: true,
        ..EarlyStopping::default()
    };
    let api_opts =
        TrainOptions { verbose: false, validation_split: 0.2, early_stopping: Some(es), ..opts.clone() };
    let h_api = api.fit(&x, &y, &api_opts).unwrap();
    let log = dir.join("log.csv");
    let printed = dml_run(
        &out.join("train.dml"),
        &args(&[
            format!("weights_out={}", p(&dir.join("w1"))),
            "validation_split=0.2".into(),
            "early_stopping=loss".into(),
            "patience=1".into(),
            "min_delta=0.5".into(),
            "restore_best_weights=TRUE".into(),
            format!("log={}", p(&log)),
            format!("history={}", p(&dir.join("history.csv"))),
        ]),
    );
    assert!(printed.contains("Epoch 1/3 - "), "{printed}");
    assert!(printed.contains("val_loss: "), "{printed}");
    for (k, prm) in api.graph.params.iter().enumerate() {
        let ours = read_bin(&dir.join("w1").join(&prm.var));
        let d = max_rel(ours.as_slice().unwrap(), prm.value.as_slice().unwrap());
        assert!(d == 0.0, "param {k} differs by {d:e}");
    }
    let state = api.optimizer_matrices();
    for (name, value) in &state {
        let ours = read_bin(&dir.join("w1/optimizer").join(name));
        assert_eq!(ours, *value, "optimizer {name}");
    }
    // The folder read back into a model: weights and optimizer state.
    let mut back = model.clone();
    back.read_weights_dir(&dir.join("w1")).unwrap();
    assert_eq!(back.keras_optimizer_variables(), api.keras_optimizer_variables());
    let logged = std::fs::read_to_string(&log).unwrap();
    assert_eq!(logged.lines().count(), 1 + h_api["loss"].len(), "{logged}");
    // Fresh optimizer state (optimizer_state=FALSE) equals the API after reset_optimizer.
    let mut fresh = model.clone();
    fresh.reset_optimizer();
    let h_fresh = fresh.fit(&x, &y, &TrainOptions { verbose: false, ..opts.clone() }).unwrap();
    dml_run(
        &out.join("train.dml"),
        &args(&[format!("weights_out={}", p(&dir.join("w2"))), "optimizer_state=FALSE".into()]),
    );
    let it = read_bin(&dir.join("w2/optimizer/iterations"));
    assert_eq!(it[[0, 0]], 9.0);
    for prm in &fresh.graph.params {
        assert_eq!(read_bin(&dir.join("w2").join(&prm.var)), prm.value, "{}", prm.var);
    }
    assert_eq!(h_fresh["loss"].len(), 3);
    // Checkpoints and resume through files: two epochs, then resume to three.
    let ck = dir.join("ck");
    dml_run(
        &out.join("train.dml"),
        &args(&[
            "epochs=2".into(),
            format!("checkpoint={}", p(&ck)),
            format!("weights_out={}", p(&dir.join("w3"))),
        ]),
    );
    dml_run(
        &out.join("train.dml"),
        &args(&[format!("resume={}", p(&ck)), format!("weights_out={}", p(&dir.join("w4")))]),
    );
    dml_run(&out.join("train.dml"), &args(&[format!("weights_out={}", p(&dir.join("w5")))]));
    for prm in &model.graph.params {
        assert_eq!(
            read_bin(&dir.join("w4").join(&prm.var)),
            read_bin(&dir.join("w5").join(&prm.var)),
            "{}",
            prm.var
        );
    }
    for (name, _) in &state {
        assert_eq!(
            read_bin(&dir.join("w4/optimizer").join(name)),
            read_bin(&dir.join("w5/optimizer").join(name)),
            "{name}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
