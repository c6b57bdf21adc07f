//! Which HDF5 group of a Keras 3 weights file belongs to which layer of the model config.
//!
//! Keras does not file variables under the user's layer names but under the snake-cased class
//! name with a per-class counter, over the model's layer list in config order
//! (saving_lib.py `_save_container_state`). Both the reader and the writer derive the group names
//! here, from the config alone.
use std::collections::HashMap;

use serde_json::Value;

use crate::convert::error::{ConvertError, FileCtx};

/// Keras's `naming.to_snake_case`: drop non-word characters, put `_` before each capitalised
/// word and between a lower-case letter and a capital, lower-case the lot.
/// `Conv2D` → `conv2d`, `BatchNormalization` → `batch_normalization`, `LSTM` → `lstm`,
/// `Conv2DTranspose` → `conv2d_transpose`.
pub fn snake_case(name: &str) -> String {
    // re.sub(r"\W+", "", name)
    let s: Vec<char> = name.chars().filter(|c| c.is_alphanumeric() || *c == '_').collect();
    // re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name): leftmost, non-overlapping matches.
    let mut first = Vec::with_capacity(s.len() + 4);
    let mut i = 0;
    while i < s.len() {
        let starts_word = s.get(i + 1).is_some_and(char::is_ascii_uppercase)
            && s.get(i + 2).is_some_and(char::is_ascii_lowercase);
        if starts_word {
            first.extend([s[i], '_', s[i + 1]]);
            i += 2;
            while let Some(c) = s.get(i).filter(|c| c.is_ascii_lowercase()) {
                first.push(*c);
                i += 1;
            }
        } else {
            first.push(s[i]);
            i += 1;
        }
    }
    // re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()
    let mut out = String::with_capacity(first.len() + 4);
    let mut i = 0;
    while i < first.len() {
        let c = first[i];
        match first.get(i + 1) {
            Some(n) if c.is_ascii_lowercase() && n.is_ascii_uppercase() => {
                out.push(c);
                out.push('_');
                out.push(*n);
                i += 2;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    out.to_lowercase()
}

/// One layer of a model config, with the group Keras saves its state under.
#[derive(Debug, Clone)]
pub(crate) struct SavedLayer<'a> {
    /// The user's layer name.
    pub(crate) name: String,
    pub(crate) class: String,
    /// The layer's whole config entry (`{"class_name", "config", ...}`).
    pub(crate) entry: &'a Value,
    /// The group name in the container: `conv2d`, `conv2d_1`, ...
    pub(crate) group: String,
    /// Whether the layer is itself a model, whose layers nest under `<group>/layers`.
    pub(crate) is_model: bool,
}

/// Whether a layer config entry is a nested model (a layer list of its own).
pub(crate) fn is_model(entry: &Value) -> bool {
    matches!(entry.get("class_name").and_then(Value::as_str), Some("Sequential" | "Functional" | "Model"))
        || entry.get("config").and_then(|c| c.get("layers")).is_some_and(Value::is_array)
}

/// The layers of a model config in `model.layers` order, each with its weights group name.
///
/// `where_` names the model in messages ("config.json", "config.json: layer block").
pub(crate) fn saved_layers<'a>(
    model: &'a Value,
    ctx: FileCtx<'_>,
    where_: &str,
) -> Result<Vec<SavedLayer<'a>>, ConvertError> {
    let class = model.get("class_name").and_then(Value::as_str).unwrap_or("");
    let Some(layers) = model.get("config").and_then(|c| c.get("layers")).and_then(Value::as_array) else {
        return Err(ctx.unsupported(
            where_,
            format!(
                "model class {class:?} has no layer list in its config (a subclassed model?): \
                 where its variables are saved is not known"
            ),
        ));
    };
    let mut counters: HashMap<String, usize> = HashMap::new();
    let mut out = Vec::with_capacity(layers.len());
    for (i, entry) in layers.iter().enumerate() {
        let layer_class = entry.get("class_name").and_then(Value::as_str).ok_or_else(|| {
            ctx.malformed(where_, format!("layer {i} of the model config has no class_name"))
        })?;
        // model.layers of a Sequential leaves out its InputLayer (sequential.py `layers`).
        if i == 0 && class == "Sequential" && layer_class == "InputLayer" {
            continue;
        }
        let name = entry
            .get("config")
            .and_then(|c| c.get("name"))
            .or_else(|| entry.get("name"))
            .and_then(Value::as_str)
            .ok_or_else(|| ctx.malformed(where_, format!("layer {i} ({layer_class}) has no name")))?;
        let nested = is_model(entry);
        // Keras 2 configs call a nested functional model "Model"; its Python class is Functional.
        let base =
            if nested && layer_class == "Model" { "functional".to_string() } else { snake_case(layer_class) };
        let k = counters.entry(base.clone()).and_modify(|k| *k += 1).or_insert(0);
        let group = if *k == 0 { base } else { format!("{base}_{k}") };
        out.push(SavedLayer {
            name: name.to_string(),
            class: layer_class.to_string(),
            entry,
            group,
            is_model: nested,
        });
    }
    Ok(out)
}

/// Order in which a layer's sub-objects are read: the usual ones in the order their variables
/// are created (so Bidirectional gives forward before backward, as `layer.weights` and legacy
/// `.h5` files do), then any other attribute alphabetically with private ones last, as Keras
/// walks them (saving_lib.py `_name_key`).
pub(crate) fn sub_object_order(names: &mut [String]) {
    const FIRST: [&str; 4] = ["cell", "forward_layer", "backward_layer", "layer"];
    names.sort_by_key(|n| match FIRST.iter().position(|f| f == n) {
        Some(p) => (p, String::new()),
        None if n.starts_with('_') => (FIRST.len(), format!("~{n}")),
        None => (FIRST.len(), n.clone()),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case_matches_keras() {
        for (class, snake) in [
            ("Conv2D", "conv2d"),
            ("BatchNormalization", "batch_normalization"),
            ("DepthwiseConv2D", "depthwise_conv2d"),
            ("SeparableConv2D", "separable_conv2d"),
            ("MaxPooling2D", "max_pooling2d"),
            ("InputLayer", "input_layer"),
            ("LSTM", "lstm"),
            ("GRU", "gru"),
            ("SimpleRNN", "simple_rnn"),
            ("Conv2DTranspose", "conv2d_transpose"),
            ("GlobalAveragePooling2D", "global_average_pooling2d"),
            ("PReLU", "p_re_lu"),
            ("ReLU", "re_lu"),
            ("UpSampling2D", "up_sampling2d"),
            ("Sequential", "sequential"),
            ("Functional", "functional"),
            ("MultiHeadAttention", "multi_head_attention"),
            ("Dense", "dense"),
            ("my-Layer", "my_layer"),
            ("ABCDef", "abc_def"),
            ("aB", "a_b"),
            ("HTTPServerX", "http_server_x"),
            ("ConvLSTM2D", "conv_lstm2d"),
            ("LayerNormalization", "layer_normalization"),
        ] {
            assert_eq!(snake_case(class), snake, "{class}");
        }
    }

    #[test]
    fn bidirectional_forward_first() {
        let mut v: Vec<String> =
            ["backward_layer", "_tracker", "forward_layer", "zeta", "alpha"].map(String::from).to_vec();
        sub_object_order(&mut v);
        assert_eq!(v, ["forward_layer", "backward_layer", "alpha", "zeta", "_tracker"]);
    }
}
