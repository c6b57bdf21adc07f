//! ONNX models (`torch.onnx.export`, `tf2onnx`, ...) to the converter's graph.
//!
//! The file is protobuf, decoded by prost into the messages of [`proto`] (written by hand from
//! ONNX's schema). [`lower`] walks the graph's nodes (already in topological order) and builds
//! the same [`Graph`] the Keras importer builds, so everything downstream (layouts, emitters,
//! scripts, the API) is shared.
//!
//! ONNX tensors are NCHW. The graph's logical shapes are channels-last, so a 4-D ONNX tensor
//! `[N, C, H, W]` is the logical `[H, W, C]` in the channels-first layout: the DML columns are
//! ONNX's own `C*H*W` order and no data moves between convolutions. The script's `X` holds each
//! example's input flattened in ONNX's row-major order (NCHW), and the outputs come back in
//! ONNX's order too.
//!
//! An ONNX file holds an inference graph without training settings: the training script is
//! written when the caller names a loss and an optimizer ([`training_config`]), and fine-tunes
//! the file's weights.

pub mod lower;
mod ops;
pub mod proto;
mod rnn;
mod shape_fold;
mod value;

use std::path::Path;

use prost::Message;

use crate::convert::error::ConvertError;
use crate::convert::ir::{Graph, TrainingConfig};

/// Reads and lowers an ONNX model file.
pub fn load(path: &Path) -> Result<Graph, ConvertError> {
    let bytes = std::fs::read(path).map_err(|source| ConvertError::Io {
        path: path.to_path_buf(),
        action: "read",
        source,
    })?;
    from_bytes(&bytes, &path.display().to_string())
}

/// Lowers an ONNX model held in memory; `name` is used in messages.
pub fn from_bytes(bytes: &[u8], name: &str) -> Result<Graph, ConvertError> {
    let model = proto::ModelProto::decode(bytes).map_err(|e| ConvertError::Malformed {
        file: name.to_string(),
        part: "protobuf".into(),
        detail: format!("not a readable ONNX model (ModelProto): {e}"),
    })?;
    lower::lower(&model, name)
}

/// Adds the training settings the user chose (an ONNX file has none): a loss and an optimizer
/// by their Keras names (`"categorical_crossentropy"`, `"adam"`), with the optimizer's learning
/// rate when given.
pub fn training_config(
    loss: &str,
    optimizer: &str,
    learning_rate: Option<f64>,
) -> Result<TrainingConfig, String> {
    use serde_json::{Value as Json, json};
    let loss = crate::convert::keras::compile::parse_loss(&Json::String(loss.to_string()))?;
    let opt = match learning_rate {
        Some(lr) => json!({"class_name": optimizer, "config": {"learning_rate": lr}}),
        None => Json::String(optimizer.to_string()),
    };
    let optimizer = crate::convert::keras::compile::parse_optimizer(&opt)?;
    Ok(TrainingConfig { loss, optimizer, metrics: Vec::new(), metric_names: Vec::new() })
}
