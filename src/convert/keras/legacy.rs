//! Reading legacy `.h5` model files (`model.save("m.h5")` in Keras 2 or 3).
//!
//! The file says where every weight is: `/model_weights` lists the layers in `layer_names`, and
//! each layer group lists its datasets in `weight_names`, as paths relative to the layer group.
//! The names differ between Keras versions (`dense/kernel:0`, `seqcnn/conv/kernel`,
//! `lstm1/lstm_cell/kernel`), so they are followed, never guessed.
use std::collections::BTreeMap;

use serde_json::Value;

use super::{KerasFile, KerasFormat, Origin, Tensor};
use crate::convert::error::{ConvertError, FileCtx};
use crate::convert::h5::H5;

pub(super) fn read(bytes: Vec<u8>, name: &str) -> Result<KerasFile, ConvertError> {
    let ctx = FileCtx { file: name };
    let h5 = H5::open(bytes, ctx, "")?;
    let json_attr = |attr: &str| -> Result<Option<Value>, ConvertError> {
        match h5.group_attr_string("", attr)? {
            Some(s) => serde_json::from_str(&s)
                .map(Some)
                .map_err(|e| ctx.malformed(format!("HDF5 attribute /{attr}"), format!("invalid JSON: {e}"))),
            None => Ok(None),
        }
    };
    let Some(config) = json_attr("model_config")? else {
        let detail = if h5.group_attrs("")?.keys().any(|k| k.starts_with("layer_names")) {
            "a weights-only file (model.save_weights): it has no model_config, so no model to convert"
        } else {
            "no model_config attribute: not a Keras model file"
        };
        return Err(ctx.malformed("HDF5 root group", detail));
    };
    let compile = json_attr("training_config")?.filter(|c| !c.is_null());
    let weights_group = if h5.has_group("model_weights")? { "model_weights" } else { "" };
    let keras_version = match h5.group_attr_string("", "keras_version")? {
        Some(v) => Some(v),
        None => h5.group_attr_string(weights_group, "keras_version")?,
    };

    let layer_names = h5.split_string_attr(weights_group, "layer_names")?.ok_or_else(|| {
        ctx.malformed(
            h5.part("group", weights_group),
            "no layer_names attribute: cannot tell which groups are layers",
        )
    })?;
    let (groups, _) = h5.children(weights_group)?;
    let mut layer_weights = BTreeMap::new();
    for layer in &layer_names {
        if !groups.iter().any(|g| g == layer) {
            return Err(ctx.malformed(
                h5.part("group", weights_group),
                format!("layer {layer:?} is listed in layer_names but has no group"),
            ));
        }
        let tensors = read_listed(&h5, &join(weights_group, layer))?;
        if tensors.is_empty() {
            continue;
        }
        if layer_weights.insert(layer.clone(), tensors).is_some() {
            return Err(ctx.malformed(
                h5.part("group", weights_group),
                format!("layer {layer:?} appears twice in layer_names"),
            ));
        }
    }
    // Keras 3's writer adds the model's own variables (rarely any) under this name.
    if groups.iter().any(|g| g == "top_level_model_weights")
        && !layer_names.iter().any(|l| l == "top_level_model_weights")
    {
        let own = read_listed(&h5, &join(weights_group, "top_level_model_weights"))?;
        if !own.is_empty() {
            layer_weights.insert(String::new(), own);
        }
    }
    let optimizer =
        if h5.has_group("optimizer_weights")? { read_listed(&h5, "optimizer_weights")? } else { Vec::new() };
    Ok(KerasFile {
        format: KerasFormat::LegacyH5,
        config,
        compile,
        keras_version,
        layer_weights,
        optimizer,
        origin: Origin::LegacyH5 { name: name.to_string() },
    })
}

fn join(group: &str, name: &str) -> String {
    if group.is_empty() { name.to_string() } else { format!("{group}/{name}") }
}

/// The datasets a group's `weight_names` attribute lists, in that order.
fn read_listed(h5: &H5<'_>, group: &str) -> Result<Vec<Tensor>, ConvertError> {
    let names = h5.split_string_attr(group, "weight_names")?.ok_or_else(|| {
        h5.ctx().malformed(
            h5.part("group", group),
            "no weight_names attribute: cannot tell which datasets it holds",
        )
    })?;
    names
        .iter()
        .map(|n| {
            let path = format!("{group}/{}", n.trim_start_matches('/'));
            h5.read_tensor(&path).map_err(|e| match e {
                ConvertError::Malformed { file, part, detail } => ConvertError::Malformed {
                    file,
                    part,
                    detail: format!("{detail} (listed in weight_names of /{group} as {n:?})"),
                },
                other => other,
            })
        })
        .collect()
}
