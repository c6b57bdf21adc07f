//! Reading Keras 3 `.keras` archives (and tf.keras 2.13–2.15's, which share the layout).
use std::collections::{BTreeMap, HashSet};
use std::io::{Cursor, Read};
use std::path::Path;

use serde_json::Value;

use super::layout::{SavedLayer, saved_layers, sub_object_order};
use super::{KerasFile, KerasFormat, Origin, Tensor};
use crate::convert::error::{ConvertError, FileCtx};
use crate::convert::h5::H5;

pub(crate) const CONFIG: &str = "config.json";
pub(crate) const METADATA: &str = "metadata.json";
pub(crate) const WEIGHTS: &str = "model.weights.h5";

/// Reads a `.keras` zip archive.
pub(super) fn read_zip(bytes: Vec<u8>, name: &str) -> Result<KerasFile, ConvertError> {
    let members = unzip(&bytes, FileCtx { file: name })?;
    from_members(members, name)
}

/// Reads the members of a zip archive in archive order (directories left out). Both stored and
/// deflated members are taken: Keras stores, but a re-zipped archive deflates.
pub(crate) fn unzip(bytes: &[u8], ctx: FileCtx<'_>) -> Result<Vec<(String, Vec<u8>)>, ConvertError> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| ctx.malformed("zip archive", format!("cannot read the archive: {e}")))?;
    let mut members = Vec::with_capacity(zip.len());
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).map_err(|e| ctx.malformed(format!("zip member {i}"), e))?;
        if f.is_dir() {
            continue;
        }
        let name = f.name().map_err(|e| ctx.malformed(format!("zip member {i}"), e))?.into_owned();
        let size = f.size();
        let mut data = Vec::new();
        // Read at most the declared size (plus one byte to notice a lie), whatever the stream says.
        (&mut f)
            .take(size.saturating_add(1))
            .read_to_end(&mut data)
            .map_err(|e| ctx.malformed(format!("zip member {name}"), format!("cannot extract: {e}")))?;
        if data.len() as u64 != size {
            return Err(ctx.malformed(
                format!("zip member {name}"),
                format!("holds {} bytes, its header says {size}", data.len()),
            ));
        }
        members.push((name, data));
    }
    Ok(members)
}

/// Reads an unzipped `.keras` folder (`model.save(path, zipped=False)`).
pub(super) fn read_dir(dir: &Path, name: &str) -> Result<KerasFile, ConvertError> {
    let mut members = Vec::new();
    for member in [METADATA, CONFIG, WEIGHTS] {
        let p = dir.join(member);
        if p.exists() {
            let data = std::fs::read(&p).map_err(|source| ConvertError::Io {
                path: p.clone(),
                action: "read",
                source,
            })?;
            members.push((member.to_string(), data));
        }
    }
    from_members(members, name)
}

fn member<'m>(members: &'m [(String, Vec<u8>)], name: &str) -> Option<&'m [u8]> {
    members.iter().find(|(n, _)| n == name).map(|(_, d)| d.as_slice())
}

fn from_members(members: Vec<(String, Vec<u8>)>, name: &str) -> Result<KerasFile, ConvertError> {
    let ctx = FileCtx { file: name };
    let listing = || members.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ");
    let config_bytes = member(&members, CONFIG).ok_or_else(|| {
        ctx.malformed(
            "zip archive",
            format!("no {CONFIG}: not a Keras model archive (members: {})", listing()),
        )
    })?;
    let config: Value = serde_json::from_slice(config_bytes)
        .map_err(|e| ctx.malformed(format!("zip member {CONFIG}"), format!("invalid JSON: {e}")))?;
    let keras_version = match member(&members, METADATA) {
        Some(m) => serde_json::from_slice::<Value>(m)
            .map_err(|e| ctx.malformed(format!("zip member {METADATA}"), format!("invalid JSON: {e}")))?
            .get("keras_version")
            .and_then(Value::as_str)
            .map(str::to_string),
        None => None,
    };
    // An uncompiled model has "compile_config": {} (Keras 3.15), not an absent key.
    let compile = config
        .get("compile_config")
        .filter(|c| !c.is_null() && c.as_object().is_none_or(|o| !o.is_empty()))
        .cloned();
    let Some(weights) = member(&members, WEIGHTS) else {
        if member(&members, "model.weights.npz").is_some() {
            return Err(
                ctx.unsupported("zip archive", "weights saved as model.weights.npz (weights_format=\"npz\")")
            );
        }
        if members.iter().any(|(n, _)| n.ends_with(".weights.json")) {
            return Err(ctx.unsupported("zip archive", "sharded weights (saved with max_shard_size)"));
        }
        return Err(ctx.malformed("zip archive", format!("no {WEIGHTS} (members: {})", listing())));
    };
    let h5 = H5::open(weights.to_vec(), ctx, &format!("zip member {WEIGHTS}"))?;
    let mut layer_weights = BTreeMap::new();
    read_model(&h5, &config, "", "", CONFIG, &mut layer_weights)?;
    let optimizer =
        if h5.has_group("optimizer/vars")? { read_vars(&h5, "optimizer/vars")? } else { Vec::new() };
    Ok(KerasFile {
        format: KerasFormat::Keras3,
        config,
        compile,
        keras_version,
        layer_weights,
        optimizer,
        origin: Origin::Keras3 { name: name.to_string(), members },
    })
}

fn join(a: &str, b: &str) -> String {
    if a.is_empty() { b.to_string() } else { format!("{a}/{b}") }
}

/// The group holding a model's layers: `layers`, or `_layer_checkpoint_dependencies` in files of
/// tf.keras 2.13–2.15 (Keras 3 reads those the same way: saving_lib.py H5IOStore.get).
fn layer_container(h5: &H5<'_>, model_group: &str) -> Result<Option<String>, ConvertError> {
    let (groups, _) = h5.children(model_group)?;
    Ok(["layers", "_layer_checkpoint_dependencies"]
        .into_iter()
        .find(|c| groups.iter().any(|g| g == c))
        .map(|c| join(model_group, c)))
}

/// Reads the variables of every layer of the model whose config is `model` and whose state is
/// saved under `model_group` ("" for the top model), keying them `key_prefix + layer name`.
fn read_model(
    h5: &H5<'_>,
    model: &Value,
    model_group: &str,
    key_prefix: &str,
    where_: &str,
    out: &mut BTreeMap<String, Vec<Tensor>>,
) -> Result<(), ConvertError> {
    let ctx = h5.ctx();
    let (groups, _) = h5.children(model_group)?;
    if groups.iter().any(|g| g == "vars") {
        let model_name = model.get("config").and_then(|c| c.get("name")).and_then(Value::as_str);
        if let Some(n) = model_name {
            check_name(h5, &join(model_group, "vars"), n, model.get("class_name").and_then(Value::as_str))?;
        }
        if key_prefix.is_empty() {
            let own = read_vars(h5, "vars")?;
            if !own.is_empty() {
                out.insert(String::new(), own);
            }
        }
    }
    let layers = saved_layers(model, ctx, where_)?;
    let Some(container) = layer_container(h5, model_group)? else {
        // Nothing saved for any layer: a model without variables, written before Keras 3.6
        // (which creates a group only for a layer with state).
        return Ok(());
    };
    let (present, _) = h5.children(&container)?;
    let present: HashSet<&str> = present.iter().map(String::as_str).collect();
    let mut claimed = HashSet::new();
    for layer in &layers {
        if !present.contains(layer.group.as_str()) {
            continue;
        }
        claimed.insert(layer.group.as_str());
        let group = join(&container, &layer.group);
        let key = format!("{key_prefix}{}", layer.name);
        if h5.children(&group)?.0.iter().any(|g| g == "vars") {
            check_name(h5, &join(&group, "vars"), &layer.name, Some(&layer.class))?;
        }
        let tensors = if layer.is_model {
            read_model(
                h5,
                layer.entry,
                &group,
                &format!("{key}/"),
                &format!("{where_}: layer {}", layer.name),
                out,
            )?;
            // A nested model's own variables (a subclass's add_weight), rarely any.
            if h5.children(&group)?.0.iter().any(|g| g == "vars") {
                read_vars(h5, &join(&group, "vars"))?
            } else {
                Vec::new()
            }
        } else {
            read_layer(h5, &group)?
        };
        if tensors.is_empty() {
            continue;
        }
        if out.insert(key.clone(), tensors).is_some() {
            return Err(ctx.malformed(where_, format!("two layers are named {key:?}")));
        }
    }
    // Variables that no config layer maps to mean the config and the weights disagree, and the
    // converter would silently drop them.
    for g in present.iter().filter(|g| !claimed.contains(**g)) {
        let group = join(&container, g);
        if holds_datasets(h5, &group)? {
            return Err(ctx.malformed(
                h5.part("group", &group),
                format!(
                    "holds variables, but no layer of the model config maps to it (the config's layers map \
                     to: {})",
                    describe(&layers)
                ),
            ));
        }
    }
    Ok(())
}

fn describe(layers: &[SavedLayer<'_>]) -> String {
    let v: Vec<String> = layers.iter().map(|l| format!("{} → {}", l.name, l.group)).collect();
    if v.is_empty() { "nothing".to_string() } else { v.join(", ") }
}

/// Since Keras 3.6 each `vars` group carries the name of the object whose variables it holds:
/// a different name means the path rule and the file disagree, so the weights would be misplaced.
fn check_name(h5: &H5<'_>, vars: &str, expected: &str, class: Option<&str>) -> Result<(), ConvertError> {
    match h5.group_attr_string(vars, "name")? {
        Some(found) if found != expected => Err(h5.ctx().malformed(
            h5.part("group", vars),
            format!(
                "its name attribute is {found:?}, but the layer of the model config that maps to this group \
                 is {expected:?}{}",
                class.map(|c| format!(" (class {c})")).unwrap_or_default()
            ),
        )),
        _ => Ok(()),
    }
}

/// A layer's variables: its own `vars`, then its sub-objects' (an RNN's `cell`, a
/// Bidirectional's `forward_layer` and `backward_layer`, ...), depth first.
fn read_layer(h5: &H5<'_>, group: &str) -> Result<Vec<Tensor>, ConvertError> {
    let (mut groups, _) = h5.children(group)?;
    let mut out = Vec::new();
    if groups.iter().any(|g| g == "vars") {
        out = read_vars(h5, &join(group, "vars"))?;
    }
    groups.retain(|g| g != "vars");
    sub_object_order(&mut groups);
    for g in groups {
        out.extend(read_layer(h5, &join(group, &g))?);
    }
    Ok(out)
}

/// The datasets of a `vars` group, which Keras names "0", "1", ... (sorted numerically: a plain
/// listing puts "10" before "2").
fn read_vars(h5: &H5<'_>, vars: &str) -> Result<Vec<Tensor>, ConvertError> {
    let (_, datasets) = h5.children(vars)?;
    let mut numbered = Vec::with_capacity(datasets.len());
    for d in &datasets {
        let i: usize = d.parse().map_err(|_| {
            h5.ctx().malformed(
                h5.part("group", vars),
                format!("dataset {d:?}: Keras names a layer's variables 0, 1, 2, ..."),
            )
        })?;
        numbered.push((i, d));
    }
    numbered.sort();
    if let Some((pos, (i, _))) = numbered.iter().enumerate().find(|(pos, (i, _))| pos != i) {
        return Err(h5.ctx().malformed(
            h5.part("group", vars),
            format!("variables are not numbered 0..{}: {i} is at position {pos}", numbered.len()),
        ));
    }
    numbered.iter().map(|(_, d)| h5.read_tensor(&join(vars, d))).collect()
}

fn holds_datasets(h5: &H5<'_>, group: &str) -> Result<bool, ConvertError> {
    let (groups, datasets) = h5.children(group)?;
    if !datasets.is_empty() {
        return Ok(true);
    }
    for g in groups {
        if holds_datasets(h5, &join(group, &g))? {
            return Ok(true);
        }
    }
    Ok(false)
}
