//! The Keras file container layer (`dml::convert::keras`, `dml::convert::npz`) against real
//! files written by Keras 3.15.1 and h5py (tests/data/keras_io/, made by make_files.py there).
//!
//! Every expected value comes from expected.json, which make_files.py took from Keras's own
//! variables, so these tests check the reader against Keras, not against a second reader.
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use dml::convert::ConvertError;
use dml::convert::keras::{self, DType, KerasFile, KerasFormat, Tensor, write_keras};
use dml::convert::npz;
use serde_json::Value;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/keras_io").join(name)
}

/// expected.json (Keras 3, make_files.py) and expected_tf2.json (tf.keras 2.15, make_tf2_files.py).
fn expected() -> Value {
    let mut all = serde_json::Map::new();
    for file in ["expected.json", "expected_tf2.json"] {
        let text = std::fs::read_to_string(data(file)).expect(file);
        let Value::Object(m) = serde_json::from_str(&text).expect("JSON") else {
            panic!("{file}: not an object")
        };
        all.extend(m);
    }
    Value::Object(all)
}

fn open(name: &str) -> KerasFile {
    keras::open(&data(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// A fresh scratch folder under the target directory (no tempfile crate needed).
fn scratch(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("convert_keras_files").join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// A number of expected.json: exact values are decimal strings (see make_files.py `exact`).
fn num(v: &Value) -> f64 {
    match v {
        Value::String(s) => s.parse().unwrap_or_else(|e| panic!("{s:?}: {e}")),
        _ => v.as_f64().unwrap_or_else(|| panic!("not a number: {v}")),
    }
}

/// One tensor against make_files.py's stats of the same Keras variable.
fn check_tensor(what: &str, t: &Tensor, e: &Value) {
    let shape: Vec<usize> = e["shape"].as_array().expect("shape").iter().map(|d| num(d) as usize).collect();
    assert_eq!(t.shape, shape, "{what} ({}): shape", t.name);
    assert_eq!(t.dtype.numpy_name(), e["dtype"].as_str().expect("dtype"), "{what} ({}): dtype", t.name);
    assert_eq!(t.data.len(), t.len(), "{what}: data length");
    if !t.data.is_empty() {
        assert_eq!(t.data[0], num(&e["first"]), "{what} ({}): first value", t.name);
        assert_eq!(t.data[t.data.len() - 1], num(&e["last"]), "{what} ({}): last value", t.name);
    }
    let sum: f64 = t.data.iter().sum();
    let abs_sum: f64 = t.data.iter().map(|v| v.abs()).sum();
    let tol = 1e-9 * (1.0 + num(&e["abs_sum"]));
    assert!((sum - num(&e["sum"])).abs() <= tol, "{what} ({}): sum {sum} vs {}", t.name, e["sum"]);
    assert!((abs_sum - num(&e["abs_sum"])).abs() <= tol, "{what} ({}): abs sum", t.name);
}

/// A whole file against expected.json: format, version, class, every layer's and the
/// optimizer's variables in order.
fn check_file(name: &str) -> KerasFile {
    let all = expected();
    let e = &all[name];
    assert!(e.is_object(), "{name} is not in expected.json");
    let f = open(name);
    let format = match e["format"].as_str() {
        Some("keras3") => KerasFormat::Keras3,
        Some("legacy_h5") => KerasFormat::LegacyH5,
        other => panic!("{name}: format {other:?}"),
    };
    assert_eq!(f.format, format, "{name}: format");
    assert_eq!(f.keras_version.as_deref(), e["keras_version"].as_str(), "{name}: keras_version");
    assert_eq!(f.model_class(), e["model_class"].as_str(), "{name}: model class");
    let want = e["layers"].as_object().expect("layers");
    let got: Vec<&String> = f.layer_weights.keys().collect();
    let want_keys: Vec<&String> = want.keys().collect();
    assert_eq!(got, want_keys, "{name}: layers with weights");
    for (layer, vars) in want {
        let vars = vars.as_array().expect("vars");
        let tensors = &f.layer_weights[layer];
        assert_eq!(tensors.len(), vars.len(), "{name}: layer {layer}: variable count");
        for (i, (t, v)) in tensors.iter().zip(vars).enumerate() {
            check_tensor(&format!("{name}: layer {layer} var {i}"), t, v);
        }
    }
    let opt = e["optimizer"].as_array().expect("optimizer");
    assert_eq!(f.optimizer.len(), opt.len(), "{name}: optimizer variable count");
    for (i, (t, v)) in f.optimizer.iter().zip(opt).enumerate() {
        check_tensor(&format!("{name}: optimizer var {i}"), t, v);
    }
    f
}

fn names(ts: &[Tensor]) -> Vec<&str> {
    ts.iter().map(|t| t.name.as_str()).collect()
}

#[test]
fn sequential_cnn() {
    let f = check_file("seq_cnn.keras");
    assert!(f.compile.is_none(), "never compiled");
    assert!(f.optimizer.is_empty());
    // The path follows the class (conv2d), not the user's name (conv).
    assert_eq!(names(&f.layer_weights["conv"]), ["layers/conv2d/vars/0", "layers/conv2d/vars/1"]);
    assert_eq!(names(&f.layer_weights["sep"]).len(), 3);
    assert_eq!(f.layer_weights["bn"].len(), 4, "gamma, beta, moving_mean, moving_variance");
    assert_eq!(f.config["config"]["layers"][1]["class_name"], "Conv2D");
}

#[test]
fn functional_text_model_with_adam_state() {
    let f = check_file("fun_text.keras");
    assert_eq!(f.model_class(), Some("Functional"));
    let compile = f.compile.as_ref().expect("compiled model");
    assert_eq!(compile["optimizer"]["class_name"], "Adam");
    assert_eq!(
        names(&f.layer_weights["lstm1"]),
        ["layers/lstm/cell/vars/0", "layers/lstm/cell/vars/1", "layers/lstm/cell/vars/2"]
    );
    assert_eq!(names(&f.layer_weights["lstm2"])[0], "layers/lstm_1/cell/vars/0");
    // Bidirectional: forward layer's variables, then the backward layer's.
    let bi = names(&f.layer_weights["bi"]);
    assert_eq!(bi.len(), 6);
    assert!(bi[..3].iter().all(|n| n.starts_with("layers/bidirectional/forward_layer/cell/vars/")), "{bi:?}");
    assert!(
        bi[3..].iter().all(|n| n.starts_with("layers/bidirectional/backward_layer/cell/vars/")),
        "{bi:?}"
    );
    // GRU with reset_after: bias (2, 3M).
    assert_eq!(f.layer_weights["gru"][2].shape, [2, 9]);
    // iterations (int32 scalar), learning_rate (float32 scalar), then m and v of each variable;
    // 38 variables means "10", "11", ... were ordered numerically.
    assert_eq!(f.optimizer.len(), 38);
    assert_eq!((f.optimizer[0].dtype, f.optimizer[0].shape.as_slice()), (DType::I32, &[][..]));
    assert_eq!(f.optimizer[0].data, [4.0], "2 epochs of 2 batches");
    assert_eq!(f.optimizer[1].dtype, DType::F32);
    assert_eq!(f.optimizer[10].name, "optimizer/vars/10");
}

#[test]
fn nested_models() {
    let f = check_file("nested.keras");
    assert_eq!(names(&f.layer_weights["block/dense"])[0], "layers/sequential/layers/dense/vars/0");
    assert_eq!(names(&f.layer_weights["block2/dense"])[0], "layers/sequential_1/layers/dense/vars/0");
    assert_eq!(names(&f.layer_weights["head/dense"])[0], "layers/functional/layers/dense/vars/0");
    assert_eq!(names(&f.layer_weights["dense"])[0], "layers/dense/vars/0");
}

#[test]
fn two_hundred_layers_multi_level_group_btree() {
    let all = expected();
    let levels = &all["deep200.keras"]["group_btree_levels"];
    assert!(levels.as_array().expect("levels").iter().any(|l| num(l) >= 1.0), "fixture has a level-1 B-tree");
    let f = check_file("deep200.keras");
    assert_eq!(f.layer_weights.len(), 50);
    assert_eq!(names(&f.layer_weights["dense_49"])[0], "layers/dense_49/vars/0");
}

#[test]
fn float64_model_with_sgd_momentum() {
    let f = check_file("seq_f64.keras");
    assert!(f.layer_weights.values().flatten().all(|t| t.dtype == DType::F64));
    assert_eq!(f.optimizer[1].dtype, DType::F64, "learning_rate");
}

#[test]
fn bfloat16_and_float16() {
    let f = check_file("halfs.keras");
    assert!(f.layer_weights["bf"].iter().all(|t| t.dtype == DType::BF16));
    assert!(f.layer_weights["hf"].iter().all(|t| t.dtype == DType::F16));
}

/// `model.save(dir, zipped=False)` writes the three members as files in a folder.
#[test]
fn unzipped_keras_folder() {
    let dir = scratch("unzipped").join("model");
    std::fs::create_dir_all(&dir).expect("dir");
    let archive = std::fs::read(data("seq_cnn.keras")).expect("fixture");
    for m in ["config.json", "metadata.json", "model.weights.h5"] {
        std::fs::write(dir.join(m), member(&archive, m)).expect("write");
    }
    let f = keras::open(&dir).expect("folder");
    assert_eq!(f.layer_weights, open("seq_cnn.keras").layer_weights);
    let dst = dir.with_file_name("from_folder.keras");
    write_keras(&f, &changed(&f.layer_weights), None, &dst).expect("write");
    assert_eq!(keras::open(&dst).expect("read back").layer_weights.len(), 5);
}

#[test]
fn keras_before_3_6_without_name_attributes() {
    check_file("no_name_attr.keras");
}

#[test]
fn tf_keras_2_13_layer_checkpoint_dependencies() {
    let f = check_file("ckpt_deps.keras");
    assert_eq!(names(&f.layer_weights["conv"])[0], "_layer_checkpoint_dependencies/conv2d/vars/0");
}

/// Real tf.keras 2.15 files: the `.keras` layout of Keras 3 without `name` attributes, with a
/// `metrics` group, an empty `layer` group beside Bidirectional's forward and backward layers,
/// an int64 `iterations` and no learning_rate in the optimizer's variables; `kernel:0` in `.h5`.
#[test]
fn tf_keras_2_15_files() {
    let f = check_file("tf2_text.keras");
    assert_eq!(f.compile.as_ref().expect("compiled")["optimizer"], "adam");
    assert_eq!(f.optimizer[0].dtype, DType::I64);
    let bi = names(&f.layer_weights["bi"]);
    assert!(bi[0].starts_with("layers/bidirectional/forward_layer/cell/vars/"), "{bi:?}");
    let f = check_file("tf2_text.h5");
    assert_eq!(names(&f.layer_weights["bn"])[0], "model_weights/bn/bn/gamma:0");
    assert_eq!(f.optimizer[1].name, "optimizer_weights/Adam/m/emb/embeddings:0");
}

#[test]
fn name_attribute_mismatch_is_reported() {
    let err = keras::open(&data("name_mismatch.keras")).expect_err("mismatch");
    let msg = err.to_string();
    assert!(matches!(err, ConvertError::Malformed { .. }), "{msg}");
    for part in [
        "name_mismatch.keras",
        "zip member model.weights.h5",
        "HDF5 group /layers/dense/vars",
        "\"not_out\"",
        "\"out\"",
    ] {
        assert!(msg.contains(part), "{part:?} not in {msg}");
    }
}

#[test]
fn legacy_h5_from_keras3() {
    let f = check_file("legacy_cnn.h5");
    assert_eq!(
        names(&f.layer_weights["conv"]),
        ["model_weights/conv/seqcnn/conv/kernel", "model_weights/conv/seqcnn/conv/bias"]
    );
    let f = check_file("legacy_text.h5");
    assert_eq!(names(&f.layer_weights["lstm1"])[0], "model_weights/lstm1/lstm1/lstm_cell/kernel");
    assert_eq!(f.optimizer[0].name, "optimizer_weights/adam/iteration");
    let compile = f.compile.as_ref().expect("training_config");
    assert_eq!(compile["optimizer_config"]["class_name"], "Adam");
}

#[test]
fn keras2_style_h5_fixed_length_strings() {
    let f = check_file("keras2_style.h5");
    let all = expected();
    let want: Vec<&str> = all["keras2_style.h5"]["weight_paths"]["dense"]
        .as_array()
        .expect("paths")
        .iter()
        .map(|p| p.as_str().expect("path"))
        .collect();
    assert_eq!(names(&f.layer_weights["dense"]), want);
    assert_eq!(f.config["config"]["layers"][0]["config"]["batch_input_shape"][1], 4);
    assert!(f.compile.is_some());
}

#[test]
fn split_layer_names_and_weight_names() {
    let f = check_file("split_names.h5");
    assert_eq!(f.layer_weights.len(), 5, "layer_names0..2 joined; dense_2's weight_names0/1 joined");
}

// ---------------------------------------------------------------- damaged files

/// Deterministic pseudo-random bytes.
fn noise(n: usize, mut seed: u64) -> Vec<u8> {
    (0..n)
        .map(|_| {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 33) as u8
        })
        .collect()
}

fn zip_of(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, bytes) in members {
        w.start_file(*name, zip::write::SimpleFileOptions::default()).expect("zip");
        w.write_all(bytes).expect("zip");
    }
    w.finish().expect("zip").into_inner()
}

fn member(archive: &[u8], name: &str) -> Vec<u8> {
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(archive)).expect("zip");
    let mut f = z.by_name(name).expect("member");
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut f, &mut out).expect("read");
    out
}

fn expect_error(bytes: Vec<u8>, name: &str, parts: &[&str]) {
    match keras::from_bytes(bytes, name) {
        Ok(_) => panic!("{name}: read without error"),
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.starts_with(&format!("{name}: ")), "{msg}");
            for p in parts {
                assert!(msg.contains(p), "{name}: {p:?} not in {msg:?}");
            }
        }
    }
}

#[test]
fn corrupt_inputs_are_clear_errors() {
    let keras_bytes = std::fs::read(data("seq_cnn.keras")).expect("fixture");
    let h5_bytes = std::fs::read(data("legacy_cnn.h5")).expect("fixture");
    expect_error(keras_bytes[..keras_bytes.len() / 2].to_vec(), "half.keras", &["zip archive"]);
    expect_error(keras_bytes[..40].to_vec(), "tiny.keras", &["zip archive"]);
    let config = member(&keras_bytes, "config.json");
    let weights = member(&keras_bytes, "model.weights.h5");
    expect_error(zip_of(&[("config.json", &config)]), "noweights.keras", &["no model.weights.h5"]);
    expect_error(zip_of(&[("model.weights.h5", &weights)]), "noconfig.keras", &["no config.json"]);
    expect_error(
        zip_of(&[("config.json", b"{not json"), ("model.weights.h5", &weights)]),
        "badjson.keras",
        &["zip member config.json", "invalid JSON"],
    );
    expect_error(
        zip_of(&[("config.json", &config), ("model.weights.h5", &weights[..weights.len() / 3])]),
        "cut.keras",
        &["zip member model.weights.h5"],
    );
    expect_error(
        zip_of(&[("config.json", &config), ("model.weights.h5", b"not hdf5 at all")]),
        "nothdf5.keras",
        &["zip member model.weights.h5", "not an HDF5 file"],
    );
    expect_error(h5_bytes[..h5_bytes.len() / 2].to_vec(), "half.h5", &["HDF5"]);
    expect_error(h5_bytes[..100].to_vec(), "head.h5", &["HDF5"]);
    expect_error(noise(5000, 1), "noise.bin", &["neither a .keras zip archive nor an HDF5"]);
    expect_error(Vec::new(), "empty.keras", &["empty"]);
    // A Keras weights file alone is not a model file.
    expect_error(weights.clone(), "model.weights.h5", &["no model_config"]);
}

/// Damage everywhere in a file must give an error (or, for bytes nobody reads, a file), never a
/// panic: cut the file at many lengths and overwrite runs of bytes with noise.
#[test]
fn damaged_files_never_panic() {
    for fixture in ["legacy_cnn.h5", "seq_cnn.keras"] {
        let bytes = std::fs::read(data(fixture)).expect("fixture");
        let n = bytes.len();
        for k in 1..48 {
            let cut = n * k / 48;
            let _ = keras::from_bytes(bytes[..cut].to_vec(), fixture);
        }
        for k in 0..96 {
            let mut b = bytes.clone();
            let at = (n * k / 96).min(n - 16);
            b[at..at + 16].copy_from_slice(&noise(16, k as u64 + 7));
            let _ = keras::from_bytes(b, fixture);
        }
    }
    // The weights image inside a .keras, damaged with the zip intact.
    let keras_bytes = std::fs::read(data("fun_text.keras")).expect("fixture");
    let config = member(&keras_bytes, "config.json");
    let weights = member(&keras_bytes, "model.weights.h5");
    for k in 0..64 {
        let mut w = weights.clone();
        let at = (w.len() * k / 64).min(w.len() - 32);
        w[at..at + 32].copy_from_slice(&noise(32, k as u64));
        let _ = keras::from_bytes(zip_of(&[("config.json", &config), ("model.weights.h5", &w)]), "fun.keras");
    }
}

/// A group whose name was damaged to "" resolves to its parent: walking the children must stop
/// with an error, not recurse until the stack overflows (found by fuzzing).
#[test]
fn damaged_group_name_does_not_loop() {
    let keras_bytes = std::fs::read(data("fun_text.keras")).expect("fixture");
    let config = member(&keras_bytes, "config.json");
    let mut weights = member(&keras_bytes, "model.weights.h5");
    let at = weights.windows(7).position(|w| w == b"lstm_1\0").expect("link name in a local heap");
    weights[at] = 0;
    expect_error(
        zip_of(&[("config.json", &config), ("model.weights.h5", &weights)]),
        "fun.keras",
        &["HDF5 group /layers", "invalid name \"\""],
    );
}

// ---------------------------------------------------------------- writing back

/// New values for every variable: distinct from the old ones and exactly representable in f32.
fn changed(weights: &BTreeMap<String, Vec<Tensor>>) -> BTreeMap<String, Vec<Tensor>> {
    weights
        .iter()
        .map(|(k, ts)| {
            let ts = ts
                .iter()
                .enumerate()
                .map(|(i, t)| Tensor {
                    data: (0..t.data.len()).map(|j| ((j % 97) as f64 - 48.0) / 64.0 + i as f64).collect(),
                    ..t.clone()
                })
                .collect();
            (k.clone(), ts)
        })
        .collect()
}

fn assert_same_values(what: &str, got: &[Tensor], want: &[Tensor]) {
    assert_eq!(got.len(), want.len(), "{what}: count");
    for (g, w) in got.iter().zip(want) {
        assert_eq!(g.shape, w.shape, "{what}: {}", g.name);
        assert_eq!(g.data, w.data, "{what}: {}", g.name);
    }
}

/// If KERAS_IO_WRITE_DIR is set, written files are kept there with a JSON of the values, for
/// check_written.py (run by hand: CI has no Python).
fn keep_for_keras_check(path: &Path, f: &KerasFile) {
    let Ok(dir) = std::env::var("KERAS_IO_WRITE_DIR") else { return };
    let dir = PathBuf::from(dir);
    std::fs::create_dir_all(&dir).expect("KERAS_IO_WRITE_DIR");
    let name = path.file_name().expect("file name");
    std::fs::copy(path, dir.join(name)).expect("copy");
    let stats = |ts: &[Tensor]| -> Vec<Value> {
        ts.iter()
            .map(|t| {
                serde_json::json!({
                    "shape": t.shape, "dtype": t.dtype.numpy_name(), "sum": t.data.iter().sum::<f64>(),
                    "first": t.data.first(), "last": t.data.last(),
                })
            })
            .collect()
    };
    let layers: serde_json::Map<String, Value> =
        f.layer_weights.iter().map(|(k, ts)| (k.clone(), Value::from(stats(ts)))).collect();
    let json = serde_json::json!({"layers": layers, "optimizer": stats(&f.optimizer)});
    std::fs::write(dir.join(format!("{}.json", name.to_string_lossy())), json.to_string())
        .expect("write json");
}

/// The values as stored in each tensor's type.
fn rounded(ts: &[Tensor]) -> Vec<Tensor> {
    ts.iter()
        .map(|t| Tensor {
            data: t
                .data
                .iter()
                .map(|&v| if t.dtype == DType::F32 { f64::from(v as f32) } else { v })
                .collect(),
            ..t.clone()
        })
        .collect()
}

/// Reads `name`, writes it back with every variable changed, reads the result: it must hold
/// exactly the new values (rounded to the stored type), in the same layout.
fn round_trip(name: &str, with_optimizer: bool) -> KerasFile {
    let original = open(name);
    let new = changed(&original.layer_weights);
    let new_opt: Option<Vec<Tensor>> = with_optimizer.then(|| {
        original
            .optimizer
            .iter()
            .enumerate()
            .map(|(i, t)| Tensor { data: t.data.iter().map(|v| v + 1.0 + i as f64).collect(), ..t.clone() })
            .collect()
    });
    let stem = format!("{}{}", name.replace('.', "_"), if with_optimizer { "_new_optimizer" } else { "" });
    let dir = scratch(&format!("round_trip_{stem}"));
    let dst = dir.join(format!("{stem}.keras"));
    write_keras(&original, &new, new_opt.as_deref(), &dst).unwrap_or_else(|e| panic!("{name}: {e}"));
    let back = keras::open(&dst).unwrap_or_else(|e| panic!("{name} written back: {e}"));
    assert_eq!(back.format, KerasFormat::Keras3);
    assert_eq!(back.layer_weights.keys().collect::<Vec<_>>(), new.keys().collect::<Vec<_>>(), "{name}");
    for (k, ts) in &new {
        assert_same_values(&format!("{name}: {k}"), &back.layer_weights[k], &rounded(ts));
        assert!(
            back.layer_weights[k].iter().zip(ts).all(|(b, t)| b.dtype == t.dtype),
            "{name}: {k}: dtype kept"
        );
    }
    let want_opt = rounded(&new_opt.unwrap_or_else(|| original.optimizer.clone()));
    assert_same_values(&format!("{name}: optimizer"), &back.optimizer, &want_opt);
    // Nothing left behind but the file itself.
    let left: Vec<_> = std::fs::read_dir(&dir).expect("dir").map(|e| e.expect("entry").file_name()).collect();
    assert_eq!(left.len(), 1, "{left:?}");
    keep_for_keras_check(&dst, &back);
    back
}

#[test]
fn write_back_keras3() {
    let back = round_trip("seq_cnn.keras", false);
    let original = open("seq_cnn.keras");
    assert_eq!(back.config, original.config, "config.json kept");
    round_trip("fun_text.keras", true);
    round_trip("fun_text.keras", false);
    round_trip("nested.keras", false);
    round_trip("seq_f64.keras", true);
    round_trip("deep200.keras", false);
    round_trip("halfs.keras", false);
}

#[test]
fn write_back_from_legacy_h5() {
    let back = round_trip("legacy_cnn.h5", false);
    assert_eq!(names(&back.layer_weights["conv"])[0], "layers/conv2d/vars/0");
    let back = round_trip("legacy_text.h5", true);
    assert_eq!(names(&back.layer_weights["bi"])[3], "layers/bidirectional/backward_layer/cell/vars/0");
    let compile = back.compile.as_ref().expect("compile_config from training_config");
    assert_eq!(compile["optimizer"]["class_name"], "Adam");
    round_trip("keras2_style.h5", false);
    round_trip("tf2_text.h5", true);
    round_trip("tf2_text.keras", true);
}

#[test]
fn write_back_only_some_layers() {
    let original = open("seq_cnn.keras");
    let mut new = BTreeMap::new();
    new.insert("out".to_string(), changed(&original.layer_weights)["out"].clone());
    let dst = scratch("some_layers").join("m.keras");
    write_keras(&original, &new, None, &dst).expect("write");
    let back = keras::open(&dst).expect("read back");
    assert_eq!(back.layer_weights["conv"], original.layer_weights["conv"]);
    assert_ne!(back.layer_weights["out"], original.layer_weights["out"]);
}

#[test]
fn write_back_refuses_weights_that_do_not_fit() {
    let original = open("seq_cnn.keras");
    let dst = scratch("refuse").join("m.keras");
    let mut new = BTreeMap::new();
    new.insert("nope".to_string(), original.layer_weights["out"].clone());
    let e = write_keras(&original, &new, None, &dst).expect_err("unknown layer");
    assert!(matches!(e, ConvertError::WeightsMismatch { .. }) && e.to_string().contains("nope"), "{e}");

    let mut out = original.layer_weights["out"].clone();
    out[0].shape.reverse();
    let new = BTreeMap::from([("out".to_string(), out)]);
    let e = write_keras(&original, &new, None, &dst).expect_err("transposed kernel");
    assert!(e.to_string().contains("shape [3, 36] given, the model has [36, 3]"), "{e}");

    let new = BTreeMap::from([("out".to_string(), original.layer_weights["out"][..1].to_vec())]);
    let e = write_keras(&original, &new, None, &dst).expect_err("missing bias");
    assert!(e.to_string().contains("1 variables given, the model has 2"), "{e}");
    assert!(!dst.exists());

    let e =
        write_keras(&original, &BTreeMap::new(), None, &dst.join("no/such/dir/m.keras")).expect_err("no dir");
    assert!(matches!(e, ConvertError::Io { .. }), "{e}");
}

// ---------------------------------------------------------------- npz

#[test]
fn npz_arrays_from_numpy() {
    let all = expected();
    let want = all["npz"].as_object().expect("npz");
    for file in ["arrays.npz", "arrays_compressed.npz"] {
        let got = npz::read_npz(&data(file)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(got.keys().collect::<Vec<_>>(), want.keys().collect::<Vec<_>>(), "{file}");
        for (k, e) in want {
            let shape: Vec<usize> =
                e["shape"].as_array().expect("shape").iter().map(|d| num(d) as usize).collect();
            let values: Vec<f64> = e["data"].as_array().expect("data").iter().map(num).collect();
            assert_eq!(got[k].shape, shape, "{file}: {k}");
            assert_eq!(got[k].data, values, "{file}: {k}");
        }
    }
    let e = npz::npz_from_bytes(b"PK\x03\x04 broken", "x.npz").expect_err("broken");
    assert!(e.to_string().starts_with("x.npz: zip archive"), "{e}");
}
