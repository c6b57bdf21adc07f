//! Writing trained weights back into a Keras 3 `.keras` archive that `keras.saving.load_model`
//! loads.
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use hdf5_pure::{AttrValue, FileBuilder, GroupBuilder, LibVer};
use serde_json::{Value, json};

use super::keras3::{CONFIG, METADATA, WEIGHTS};
use super::layout::{SavedLayer, saved_layers, snake_case};
use super::{DType, KerasFile, Origin, Tensor};
use crate::convert::error::{ConvertError, FileCtx};
use crate::convert::h5::{self, H5};

/// Writes `original` with new variable values as a `.keras` archive at `dst`.
///
/// - `new_layer_weights` is keyed like [`KerasFile::layer_weights`]; a layer it leaves out keeps
///   its values, a layer it names must get every variable, each with the original's shape. The
///   values are stored in the original's element type (a float32 model stays float32), so
///   [`Tensor::name`] and [`Tensor::dtype`] of the new tensors are not used.
/// - `new_optimizer`, when given, replaces [`KerasFile::optimizer`] (same count and shapes);
///   `None` keeps the original optimizer state.
///
/// From a `.keras` original, every archive member is copied (`config.json`, `metadata.json`,
/// any assets) and `model.weights.h5` is the original file with the new values written over the
/// old ones, so groups, attributes, dtypes and anything this reader does not interpret stay
/// exactly as Keras wrote them.
///
/// From a legacy `.h5` original, the result is still a `.keras` archive (Keras 3 writes no new
/// `.h5` models): `config.json` is the `.h5`'s `model_config`, with its `training_config` turned
/// into a Keras 3 `compile_config`, and `model.weights.h5` is built in the Keras 3 layout from
/// the config. That needs to know where a layer's sub-objects keep their variables, so it covers
/// plain layers, recurrent layers (`cell`), Bidirectional and TimeDistributed, and refuses a
/// nested model that has weights. The config is not translated: a Keras 2 config loads in Keras 3
/// only where Keras 3 reads it (it cannot, for example, read tf.keras 2.15's LSTM, not even from
/// the original `.h5`). The optimizer state is written as the `.h5` had it; tf.keras 2 saved no
/// learning rate among it, so Keras 3 skips it with a warning.
///
/// The file appears whole or not at all: it is written to a temporary file in `dst`'s folder,
/// then renamed over `dst`.
pub fn write_keras(
    original: &KerasFile,
    new_layer_weights: &BTreeMap<String, Vec<Tensor>>,
    new_optimizer: Option<&[Tensor]>,
    dst: &Path,
) -> Result<(), ConvertError> {
    let dst_name = dst.display().to_string();
    let ctx = FileCtx { file: &dst_name };
    check_new_weights(original, new_layer_weights, new_optimizer, ctx)?;
    let members = match &original.origin {
        Origin::Keras3 { name, members } => {
            let weights = patched_weights(original, name, members, new_layer_weights, new_optimizer)?;
            let mut out = members.clone();
            if let Some(m) = out.iter_mut().find(|(n, _)| n == WEIGHTS) {
                m.1 = weights;
            }
            out
        }
        Origin::LegacyH5 { name } => {
            let src = FileCtx { file: name };
            let weights = built_weights(original, src, new_layer_weights, new_optimizer)?;
            let config = keras3_config(original);
            let metadata = json!({
                "keras_version": original.keras_version.clone().unwrap_or_else(|| "unknown".to_string()),
                "date_saved": date_saved(),
            });
            vec![
                (METADATA.to_string(), metadata.to_string().into_bytes()),
                (CONFIG.to_string(), config.to_string().into_bytes()),
                (WEIGHTS.to_string(), weights),
            ]
        }
    };
    write_zip_atomically(dst, &members)
}

/// Every replacement must fit the variable it replaces, so that a wrong key or a transposed
/// matrix is reported here and not by Keras at load time (or not at all).
fn check_new_weights(
    original: &KerasFile,
    new_layer_weights: &BTreeMap<String, Vec<Tensor>>,
    new_optimizer: Option<&[Tensor]>,
    ctx: FileCtx<'_>,
) -> Result<(), ConvertError> {
    let check = |layer: &str, old: &[Tensor], new: &[Tensor]| -> Result<(), ConvertError> {
        if old.len() != new.len() {
            return Err(
                ctx.mismatch(layer, format!("{} variables given, the model has {}", new.len(), old.len()))
            );
        }
        for (i, (o, n)) in old.iter().zip(new).enumerate() {
            if o.shape != n.shape {
                return Err(ctx.mismatch(
                    layer,
                    format!(
                        "variable {i} ({}): shape {:?} given, the model has {:?}",
                        o.name, n.shape, o.shape
                    ),
                ));
            }
            if n.data.len() != o.len() {
                return Err(ctx.mismatch(
                    layer,
                    format!(
                        "variable {i} ({}): {} values given for shape {:?}",
                        o.name,
                        n.data.len(),
                        n.shape
                    ),
                ));
            }
        }
        Ok(())
    };
    for (key, new) in new_layer_weights {
        let Some(old) = original.layer_weights.get(key) else {
            let known: Vec<&str> = original.layer_weights.keys().map(String::as_str).collect();
            return Err(ctx.mismatch(
                key.as_str(),
                format!(
                    "the model has no layer with weights by this name (those with weights: {})",
                    known.join(", ")
                ),
            ));
        };
        check(key, old, new)?;
    }
    if let Some(new) = new_optimizer {
        check("(optimizer)", &original.optimizer, new)?;
    }
    Ok(())
}

/// The original `model.weights.h5` with the new values written over the old ones in place.
fn patched_weights(
    original: &KerasFile,
    name: &str,
    members: &[(String, Vec<u8>)],
    new_layer_weights: &BTreeMap<String, Vec<Tensor>>,
    new_optimizer: Option<&[Tensor]>,
) -> Result<Vec<u8>, ConvertError> {
    let ctx = FileCtx { file: name };
    let image = members
        .iter()
        .find(|(n, _)| n == WEIGHTS)
        .map(|(_, d)| d.clone())
        .ok_or_else(|| ctx.malformed("zip archive", format!("no {WEIGHTS}")))?;
    let h5 = H5::open(image.clone(), ctx, &format!("zip member {WEIGHTS}"))?;
    let mut image = image;
    let replacements = new_layer_weights
        .iter()
        .filter_map(|(k, new)| original.layer_weights.get(k).map(|old| (old, new.as_slice())))
        .chain(new_optimizer.map(|new| (&original.optimizer, new)));
    for (old, new) in replacements {
        for (o, n) in old.iter().zip(new) {
            let extent = h5.extent(&o.name)?;
            let bytes = h5::encode_le(&n.data, extent.dtype);
            let slot = extent
                .offset
                .checked_add(extent.len)
                .and_then(|end| image.get_mut(extent.offset..end))
                .filter(|s| s.len() == bytes.len())
                .ok_or_else(|| ctx.malformed(h5.part("dataset", &o.name), "data lies outside the file"))?;
            slot.copy_from_slice(&bytes);
        }
    }
    Ok(image)
}

/// Groups and datasets of a Keras 3 weights file, built before handing them to the HDF5 writer.
#[derive(Default)]
struct Node {
    /// Variable-length UTF-8 string attributes (all Keras writes: each `vars` group's `name`).
    attrs: Vec<(String, String)>,
    groups: BTreeMap<String, Node>,
    datasets: Vec<(String, Tensor)>,
}

impl Node {
    fn at(&mut self, path: &str) -> &mut Node {
        path.split('/')
            .filter(|p| !p.is_empty())
            .fold(self, |n, p| n.groups.entry(p.to_string()).or_default())
    }

    /// A `vars` group named like the object it belongs to, holding `tensors` as 0, 1, ...
    fn vars(&mut self, path: &str, name: &str, tensors: &[Tensor]) {
        let v = self.at(path).at("vars");
        v.attrs.push(("name".to_string(), name.to_string()));
        for (i, t) in tensors.iter().enumerate() {
            v.datasets.push((i.to_string(), t.clone()));
        }
    }
}

/// Recurrent layers keep their variables in their `cell` (rnn.py `RNN.cell`).
const RNN_CLASSES: [&str; 6] = ["LSTM", "GRU", "SimpleRNN", "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D"];

/// Layers with sub-objects whose place this writer does not know.
const COMPOSITE_CLASSES: [&str; 5] =
    ["MultiHeadAttention", "GroupedQueryAttention", "RNN", "StackedRNNCells", "Wrapper"];

/// A Keras 3 `model.weights.h5` for a model read from a legacy `.h5`.
fn built_weights(
    original: &KerasFile,
    src: FileCtx<'_>,
    new_layer_weights: &BTreeMap<String, Vec<Tensor>>,
    new_optimizer: Option<&[Tensor]>,
) -> Result<Vec<u8>, ConvertError> {
    let weights_of = |key: &str| -> Option<&[Tensor]> {
        new_layer_weights.get(key).or_else(|| original.layer_weights.get(key)).map(Vec::as_slice)
    };
    let mut root = Node::default();
    let model_name =
        original.config.get("config").and_then(|c| c.get("name")).and_then(Value::as_str).unwrap_or("");
    root.vars("", model_name, weights_of("").unwrap_or(&[]));
    let mut placed = 0usize;
    place_model(&mut root, "", &original.config, "", &weights_of, src, "model_config", &mut placed)?;
    let with_weights = original.layer_weights.keys().filter(|k| !k.is_empty()).count();
    if placed != with_weights {
        return Err(src.unsupported(
            "model_config",
            format!("{with_weights} layers have weights but only {placed} map to layers of the model config"),
        ));
    }
    let optimizer = new_optimizer.unwrap_or(&original.optimizer);
    if !optimizer.is_empty() {
        let opt_name = original
            .compile
            .as_ref()
            .and_then(|c| c.get("optimizer_config"))
            .and_then(|o| {
                o.get("config")
                    .and_then(|c| c.get("name"))
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .or_else(|| o.get("class_name").and_then(Value::as_str).map(snake_case))
            })
            .unwrap_or_else(|| "optimizer".to_string());
        root.vars("optimizer", &opt_name, optimizer);
    }
    let mut fb = FileBuilder::new();
    // The oldest format hdf5-pure writes (HDF5 1.8: version 2 superblock); h5py writes version 0,
    // which this crate cannot, and every h5py Keras ships with reads 1.8 files.
    fb.with_libver_bounds(LibVer::Earliest, LibVer::V18);
    for (name, node) in &root.groups {
        let mut g = fb.create_group(name);
        emit(node, &mut g, src)?;
        fb.add_group(g.finish());
    }
    fb.finish().map_err(|e| src.malformed("model.weights.h5 being written", e))
}

/// Places the variables of a model's layers (`model_group` "" for the top model).
#[allow(clippy::too_many_arguments)]
fn place_model<'w>(
    root: &mut Node,
    model_group: &str,
    model: &Value,
    key_prefix: &str,
    weights_of: &dyn Fn(&str) -> Option<&'w [Tensor]>,
    src: FileCtx<'_>,
    where_: &str,
    placed: &mut usize,
) -> Result<(), ConvertError> {
    let layers = saved_layers(model, src, where_)?;
    for layer in &layers {
        let group = if model_group.is_empty() {
            format!("layers/{}", layer.group)
        } else {
            format!("{model_group}/layers/{}", layer.group)
        };
        let key = format!("{key_prefix}{}", layer.name);
        let tensors = weights_of(&key).unwrap_or(&[]);
        if !tensors.is_empty() {
            *placed += 1;
        }
        if layer.is_model {
            if !tensors.is_empty() {
                return Err(src.unsupported(
                    format!("layer {key}"),
                    "a nested model in a legacy .h5 keeps all its weights in one list, which cannot be split \
                     into its layers' groups of a .keras file",
                ));
            }
            root.vars(&group, &layer.name, &[]);
            place_model(root, &group, layer.entry, &format!("{key}/"), weights_of, src, where_, placed)?;
            continue;
        }
        place_layer(root, &group, layer, tensors, src)?;
    }
    Ok(())
}

fn place_layer(
    root: &mut Node,
    group: &str,
    layer: &SavedLayer<'_>,
    tensors: &[Tensor],
    src: FileCtx<'_>,
) -> Result<(), ConvertError> {
    let part = || format!("layer {}", layer.name);
    let cell_name = |class: &str| format!("{}_cell", snake_case(class));
    let inner = layer.entry.get("config").and_then(|c| c.get("layer"));
    let inner_class = inner.and_then(|l| l.get("class_name")).and_then(Value::as_str).unwrap_or("");
    let inner_name =
        inner.and_then(|l| l.get("config")).and_then(|c| c.get("name")).and_then(Value::as_str).unwrap_or("");
    let node = root.at(group);
    match layer.class.as_str() {
        class if RNN_CLASSES.contains(&class) => {
            node.vars("", &layer.name, &[]);
            node.vars("cell", &cell_name(class), tensors);
        }
        "Bidirectional" => {
            if !RNN_CLASSES.contains(&inner_class) || !tensors.len().is_multiple_of(2) {
                return Err(src.unsupported(
                    part(),
                    format!("placing the weights of a Bidirectional over {inner_class:?}"),
                ));
            }
            // The legacy file lists the forward layer's weights, then the backward layer's.
            let (fwd, bwd) = tensors.split_at(tensors.len() / 2);
            // Keras 3 configs hold the forward layer ("forward_lstm"), Keras 2 ones the wrapped
            // layer ("lstm"); Bidirectional names its copies forward_<name> and backward_<name>.
            let base = inner_name.strip_prefix("forward_").unwrap_or(inner_name);
            let backward = layer
                .entry
                .get("config")
                .and_then(|c| c.get("backward_layer"))
                .and_then(|b| b.get("config"))
                .and_then(|c| c.get("name"))
                .and_then(Value::as_str)
                .map_or_else(|| format!("backward_{base}"), str::to_string);
            node.vars("", &layer.name, &[]);
            node.vars("forward_layer", &format!("forward_{base}"), &[]);
            node.vars("forward_layer/cell", &cell_name(inner_class), fwd);
            node.vars("backward_layer", &backward, &[]);
            node.vars("backward_layer/cell", &cell_name(inner_class), bwd);
        }
        "TimeDistributed" => {
            node.vars("", &layer.name, &[]);
            if RNN_CLASSES.contains(&inner_class) {
                node.vars("layer", inner_name, &[]);
                node.vars("layer/cell", &cell_name(inner_class), tensors);
            } else if COMPOSITE_CLASSES.contains(&inner_class) && !tensors.is_empty() {
                return Err(src.unsupported(
                    part(),
                    format!("placing the weights of a TimeDistributed over {inner_class:?}"),
                ));
            } else {
                node.vars("layer", inner_name, tensors);
            }
        }
        class if COMPOSITE_CLASSES.contains(&class) && !tensors.is_empty() => {
            return Err(
                src.unsupported(part(), format!("placing the weights of a {class} layer in a .keras file"))
            );
        }
        _ => node.vars("", &layer.name, tensors),
    }
    Ok(())
}

/// Hands a [`Node`] tree to the HDF5 writer.
fn emit(node: &Node, g: &mut GroupBuilder, src: FileCtx<'_>) -> Result<(), ConvertError> {
    for (k, v) in &node.attrs {
        g.set_attr(k, AttrValue::VarLenString(v.clone()));
    }
    for (name, t) in &node.datasets {
        let shape: Vec<u64> = t.shape.iter().map(|&d| d as u64).collect();
        let d = g.create_dataset(name);
        match t.dtype {
            DType::F32 => d.with_f32_data(&t.data.iter().map(|&v| v as f32).collect::<Vec<_>>()),
            DType::F64 => d.with_f64_data(&t.data),
            DType::I32 => d.with_i32_data(&t.data.iter().map(|&v| v.round() as i32).collect::<Vec<_>>()),
            DType::I64 => d.with_i64_data(&t.data.iter().map(|&v| v.round() as i64).collect::<Vec<_>>()),
            DType::I8 => d.with_i8_data(&t.data.iter().map(|&v| v.round() as i8).collect::<Vec<_>>()),
            DType::I16 => d.with_i16_data(&t.data.iter().map(|&v| v.round() as i16).collect::<Vec<_>>()),
            DType::U8 => d.with_u8_data(&t.data.iter().map(|&v| v.round() as u8).collect::<Vec<_>>()),
            DType::U16 => d.with_u16_data(&t.data.iter().map(|&v| v.round() as u16).collect::<Vec<_>>()),
            DType::U32 => d.with_u32_data(&t.data.iter().map(|&v| v.round() as u32).collect::<Vec<_>>()),
            DType::U64 => d.with_u64_data(&t.data.iter().map(|&v| v.round() as u64).collect::<Vec<_>>()),
            DType::F16 | DType::BF16 => {
                return Err(src.unsupported(
                    format!("variable {}", t.name),
                    format!("writing {} variables into a new weights file", t.dtype.numpy_name()),
                ));
            }
        }
        .with_shape(&shape);
    }
    for (name, child) in &node.groups {
        let mut c = g.create_group(name);
        emit(child, &mut c, src)?;
        g.add_group(c.finish());
    }
    Ok(())
}

/// `config.json` for a model read from a legacy `.h5`: its `model_config`, plus what Keras 3's
/// `.keras` loader needs and a legacy config lacks. The loader resolves the top object by its
/// `module` (serialization_lib.py `_retrieve_class_or_fn`: without one a built-in class is "not
/// found"); the layers below it are fine without, since Sequential and Functional read legacy
/// layer entries themselves. The `training_config` becomes a `compile_config`.
fn keras3_config(original: &KerasFile) -> Value {
    let mut config = original.config.clone();
    let compile = compile_config(original);
    if let Some(obj) = config.as_object_mut() {
        let module = match obj.get("class_name").and_then(Value::as_str) {
            Some("Sequential") => Some("keras"),
            Some("Functional" | "Model") => {
                obj.insert("class_name".to_string(), json!("Functional"));
                Some("keras.src.models.functional")
            }
            _ => None,
        };
        if let Some(m) = module {
            obj.entry("module").or_insert_with(|| json!(m));
            obj.entry("registered_name").or_insert(Value::Null);
        }
        if let Some(c) = compile {
            obj.insert("compile_config".to_string(), c);
        }
    }
    config
}

/// A Keras 3 `compile_config` from a legacy `training_config`: the optimizer moves from
/// `optimizer_config` to `optimizer` in Keras 3's serialized form; loss and metrics stay.
fn compile_config(original: &KerasFile) -> Option<Value> {
    let training = original.compile.as_ref()?.as_object()?;
    let mut out = training.clone();
    let opt = out.remove("optimizer_config")?;
    // tf.keras 2.11+ names its optimizers "Custom>Adam".
    let class = opt.get("class_name")?.as_str()?;
    let class = class.strip_prefix("Custom>").unwrap_or(class).to_string();
    let config = opt.get("config").cloned().unwrap_or_else(|| json!({}));
    out.insert(
        "optimizer".to_string(),
        json!({"module": "keras.optimizers", "class_name": class, "config": config, "registered_name": null}),
    );
    Some(Value::Object(out))
}

/// Now as Keras writes `date_saved` ("2026-05-01@12:30:59", UTC here).
fn date_saved() -> String {
    let secs =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let (days, rest) = ((secs / 86_400) as i64, secs % 86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}@{:02}:{:02}:{:02}", rest / 3600, rest % 3600 / 60, rest % 60)
}

/// Writes the members as an uncompressed zip (as Keras does) to a temporary file beside `dst`,
/// then renames it over `dst`, so that a reader never sees half a file.
fn write_zip_atomically(dst: &Path, members: &[(String, Vec<u8>)]) -> Result<(), ConvertError> {
    let dir = match dst.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name =
        dst.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "model".into());
    let tmp = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
    let io_err = |path: &Path, action: &'static str, source: std::io::Error| ConvertError::Io {
        path: path.to_path_buf(),
        action,
        source,
    };
    let result = (|| {
        let file = std::fs::File::create(&tmp)
            .map_err(|e| io_err(dst, "create a temporary file in its folder", e))?;
        let mut zip = zip::ZipWriter::new(std::io::BufWriter::new(file));
        for (name, data) in members {
            let options = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Stored)
                .large_file(data.len() as u64 >= u64::from(u32::MAX));
            zip.start_file(name.as_str(), options)
                .map_err(|e| io_err(dst, "write", std::io::Error::other(e)))?;
            zip.write_all(data).map_err(|e| io_err(dst, "write", e))?;
        }
        let buf = zip.finish().map_err(|e| io_err(dst, "write", std::io::Error::other(e)))?;
        let file = buf.into_inner().map_err(|e| io_err(dst, "write", e.into_error()))?;
        file.sync_all().map_err(|e| io_err(dst, "write", e))?;
        std::fs::rename(&tmp, dst).map_err(|e| io_err(dst, "replace", e))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
