//! `dml convert caffe` end to end, as a user runs it: convert SystemML's LeNet files into a
//! folder, run the written `train.dml` and `predict.dml` with `dml run` on CSV files; snapshots
//! that resume exactly; bad input that leaves nothing behind; and `dml convert keras --emit-caffe`.

use std::path::{Path, PathBuf};

mod cli_support;
use cli_support::{dml, run_ok};

fn scratch(name: &str) -> PathBuf {
    cli_support::scratch("convert-caffe", name)
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)
}

fn write_csv(rows: &[Vec<f64>], path: &Path) {
    let s: Vec<String> =
        rows.iter().map(|r| r.iter().map(|v| format!("{v:?}")).collect::<Vec<_>>().join(",")).collect();
    std::fs::write(path, s.join("\n") + "\n").unwrap();
}

fn read_csv(path: &Path) -> Vec<Vec<f64>> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            l.split(',')
                .map(|v| if v.trim().is_empty() { 0.0 } else { v.trim().parse::<f64>().unwrap() })
                .collect()
        })
        .collect()
}

/// MNIST-like rows: a bright block whose place is the class, on noise.
fn images(n: usize, seed: usize) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
    let mut xs = Vec::new();
    let mut ys = Vec::new();
    for r in 0..n {
        let k = (r * 3 + seed) % 10;
        let mut x: Vec<f64> = (0..784).map(|i| ((i * 31 + r * 17 + seed) % 50) as f64).collect();
        let (r0, c0) = ((k / 5) * 14, (k % 5) * 5);
        for a in r0..r0 + 10 {
            for b in c0..c0 + 5 {
                x[a * 28 + b] += 200.0;
            }
        }
        xs.push(x);
        ys.push(vec![k as f64]);
    }
    (xs, ys)
}

#[test]
fn lenet_trains_and_tests_in_inference_mode_with_averaged_losses() {
    let d = scratch("lenet");
    let out = d.join("lenet");
    run_ok(
        dml()
            .args(["convert", "caffe"])
            .arg(data("caffe/lenet.prototxt"))
            .arg(data("caffe/lenet_solver.prototxt"))
            .args(["--input-shape", "1,28,28", "--out"])
            .arg(&out),
    );
    let (x, y) = images(32, 1);
    let (xv, yv) = images(8, 4);
    for (rows, name) in [(&x, "x.csv"), (&y, "y.csv"), (&xv, "xv.csv"), (&yv, "yv.csv")] {
        write_csv(rows, &d.join(name));
    }
    let p = |f: &str| d.join(f).display().to_string();
    // The prediction of the validation rows before training.
    run_ok(
        dml()
            .arg("run")
            .arg(out.join("predict.dml"))
            .arg("-nvargs")
            .arg(format!("X={}", p("xv.csv")))
            .arg(format!("out={}", p("prob.csv"))),
    );
    let prob = read_csv(&d.join("prob.csv"));
    let want: f64 = prob.iter().zip(&yv).map(|(r, y)| -r[y[0] as usize].ln()).sum::<f64>() / 8.0;
    let log = run_ok(
        dml()
            .arg("run")
            .arg(out.join("train.dml"))
            .arg("-nvargs")
            .arg(format!("X={}", p("x.csv")))
            .arg(format!("y={}", p("y.csv")))
            .arg(format!("X_val={}", p("xv.csv")))
            .arg(format!("y_val={}", p("yv.csv")))
            .args([
                "max_iter=6",
                "display=2",
                "test_interval=3",
                "test_iter=2",
                "test_batch_size=4",
                "batch_size=16",
            ])
            .arg(format!("weights_out={}", p("trained")))
            .arg(format!("history={}", p("hist.csv"))),
    );
    // Caffe2DML bugs 2-4: the TEST phase ran in training mode (dropout on), looped over the
    // training batch count and summed the batch losses. Here: test_iter batches of the
    // validation rows, inference mode, the mean; at iteration 0 it is the prediction's loss.
    let first = log.lines().find(|l| l.contains("Test net output #1: loss = ")).expect(&log);
    let got: f64 = first.split("loss = ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    assert!((got - want).abs() <= 1e-9 * want, "test loss {got}, prediction's loss {want}\n{log}");
    assert!(
        log.contains("Iteration 0, Testing net (#0)") && log.contains("Iteration 3, Testing net (#0)"),
        "{log}"
    );
    assert!(log.contains("Iteration 2, loss = ") && log.contains("Iteration 4, lr = "), "{log}");
    assert!(log.contains("Optimization Done."), "{log}");
    let hist = read_csv(&d.join("hist.csv"));
    assert_eq!(hist.len(), 6);
    assert!(hist[5][1] < hist[0][1], "loss fell: {hist:?}");
    // The exp policy: base_lr * gamma^iter with Caffe's float constants.
    for (it, row) in hist.iter().enumerate() {
        let want = 0.01f32 as f64 * (0.95f32 as f64).powi(it as i32);
        assert!((row[2] - want).abs() < 1e-15, "lr at {it}: {} vs {want}", row[2]);
    }
    assert!(d.join("trained/ip2_weight").exists() && d.join("trained/optimizer/iterations").exists());
    let _ = std::fs::remove_dir_all(&d);
}

const SMALL: &str = r#"name: "small"
layer { name: "in" type: "Input" top: "data" top: "label" input_param { shape { dim: 4 dim: 2 dim: 4 dim: 4 } shape { dim: 4 dim: 1 } } }
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv" convolution_param { num_output: 3 kernel_size: 3 weight_filler { type: "xavier" } } }
layer { name: "bn" type: "BatchNorm" bottom: "conv" top: "conv" }
layer { name: "relu" type: "ReLU" bottom: "conv" top: "conv" }
layer { name: "ip" type: "InnerProduct" bottom: "conv" top: "ip" inner_product_param { num_output: 3 weight_filler { type: "xavier" } } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip" bottom: "label" top: "loss" }
"#;

#[test]
fn a_snapshot_resumes_exactly() {
    let d = scratch("resume");
    std::fs::write(d.join("net.prototxt"), SMALL).unwrap();
    std::fs::write(d.join("solver.prototxt"), "net: \"net.prototxt\" base_lr: 0.05 lr_policy: \"inv\" gamma: 0.1 power: 0.75 momentum: 0.9 type: \"Adam\" momentum2: 0.99 max_iter: 5 display: 0").unwrap();
    let out = d.join("m");
    run_ok(
        dml()
            .args(["convert", "caffe"])
            .arg(d.join("net.prototxt"))
            .arg(d.join("solver.prototxt"))
            .arg("--out")
            .arg(&out),
    );
    let x: Vec<Vec<f64>> =
        (0..6).map(|r| (0..32).map(|i| (((r * 7 + i * 3) % 11) as f64) / 5.0 - 1.0).collect()).collect();
    let y: Vec<Vec<f64>> = (0..6).map(|r| vec![(r % 3) as f64]).collect();
    write_csv(&x, &d.join("x.csv"));
    write_csv(&y, &d.join("y.csv"));
    let p = |f: &str| d.join(f).display().to_string();
    let train = |extra: &[String]| {
        let mut c = dml();
        c.arg("run")
            .arg(out.join("train.dml"))
            .arg("-nvargs")
            .arg(format!("X={}", p("x.csv")))
            .arg(format!("y={}", p("y.csv")))
            .args(extra);
        run_ok(&mut c)
    };
    train(&[format!("weights_out={}", p("straight"))]);
    train(&[
        "max_iter=2".into(),
        "snapshot=2".into(),
        format!("snapshot_prefix={}", p("snap")),
        format!("weights_out={}", p("half")),
    ]);
    train(&[format!("resume={}", p("snap_iter_2")), format!("weights_out={}", p("resumed"))]);
    for w in
        ["conv_weight", "ip_bias", "bn_mean", "bn_factor", "optimizer/ip_weight_m", "optimizer/iterations"]
    {
        let read = |dir: &str| {
            let f = d.join(format!("{w}.csv"));
            let script = d.join("show.dml");
            std::fs::write(
                &script,
                format!("write(read(\"{}/{w}\"), \"{}\", format=\"csv\")\n", p(dir), f.display()),
            )
            .unwrap();
            run_ok(dml().arg("run").arg(&script));
            read_csv(&f)
        };
        assert_eq!(read("straight"), read("resumed"), "{w}");
    }
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn bad_input_is_an_error_that_leaves_nothing_behind() {
    let d = scratch("bad");
    let out = d.join("out");
    let fail = |args: &[&Path]| {
        let mut c = dml();
        c.args(["convert", "caffe"]);
        for a in args {
            c.arg(a);
        }
        let o = c.arg("--out").arg(&out).output().unwrap();
        assert_eq!(o.status.code(), Some(1));
        assert!(!out.exists(), "nothing is written");
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    let e = fail(&[&data("caffe/lenet.prototxt")]);
    assert!(e.contains("mnist") && e.contains("--input-shape"), "{e}");
    std::fs::write(d.join("net.prototxt"), SMALL).unwrap();
    std::fs::write(d.join("solver.prototxt"), "base_lr: 0.1\nlr_policy: \"fixed\"\ntest_itr: 3\n").unwrap();
    let e = fail(&[&d.join("net.prototxt"), &d.join("solver.prototxt")]);
    assert!(e.contains("solver.prototxt") && e.contains("line 3") && e.contains("test_itr"), "{e}");
    std::fs::write(d.join("w.caffemodel"), [0x0a, 0x05, 0x01]).unwrap();
    let mut c = dml();
    let o = c
        .args(["convert", "caffe"])
        .arg(d.join("net.prototxt"))
        .arg("--weights")
        .arg(d.join("w.caffemodel"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("w.caffemodel"));
    assert!(!out.exists());
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn emit_caffe_writes_keras2dmls_prototxt_and_solver() {
    let d = scratch("emit");
    let model = data("keras/cases/dense_softmax/model.keras");
    run_ok(dml().args(["convert", "keras"]).arg(&model).arg("--emit-caffe").arg(&d));
    let net = std::fs::read_to_string(d.join("sequential.proto")).unwrap();
    let solver = std::fs::read_to_string(d.join("sequential_solver.proto")).unwrap();
    // Keras2DML's mapping: Data with a label top, InnerProduct, the fused activation as an
    // in-place `<name>_activation` layer, the last softmax dropped into SoftmaxWithLoss.
    for want in [
        "type: \"Data\"",
        "top: \"label\"",
        "type: \"InnerProduct\"",
        "name: \"dense_activation\"",
        "type: \"SoftmaxWithLoss\"",
    ] {
        assert!(net.contains(want), "{want} missing:\n{net}");
    }
    assert!(!net.contains("dense_1_activation"), "the last softmax goes into the loss:\n{net}");
    for want in [
        "net: \"sequential.proto\"",
        "lr_policy: \"step\"",
        "type: \"Adam\"",
        "momentum2: 0.999",
        "max_iter: 2000",
    ] {
        assert!(solver.contains(want), "{want} missing:\n{solver}");
    }
    // Both are valid Caffe text files.
    dml::convert::caffe::proto::parse_text("net", &net, "NetParameter").unwrap();
    dml::convert::caffe::proto::parse_text("solver", &solver, "SolverParameter").unwrap();
    // What Keras2DML refused is refused.
    let o = dml()
        .args(["convert", "keras"])
        .arg(data("keras/cases/fit_partial_batch/model.keras"))
        .arg("--emit-caffe")
        .arg(d.join("x"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("Keras2DML"));
    let _ = std::fs::remove_dir_all(&d);
}
