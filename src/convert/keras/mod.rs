//! Keras model files: Keras 3 `.keras` archives and legacy `.h5` files, read into one
//! [`KerasFile`], and trained weights written back as a `.keras` archive ([`write_keras`]).
//!
//! The reader knows where Keras puts each variable; it knows nothing about what a layer
//! computes. The converter reads the model from [`KerasFile::config`] and takes each layer's
//! variables from [`KerasFile::layer_weights`] by the layer's name path.
//!
//! Where the variables live (checked against files written by Keras 3.15.1, see
//! `tests/data/keras_io/`):
//! - `.keras`: a zip with `config.json`, `metadata.json` and `model.weights.h5`. In the HDF5 file a
//!   layer's variables are `layers/<snake_case(class)>[_k]/vars/0..n`, where `_k` counts layers of
//!   the same class in the model's layer list (a Sequential leaves its InputLayer out of that list,
//!   a Functional keeps it), sublayers go under their attribute name (`lstm/cell/vars`,
//!   `bidirectional/forward_layer/cell/vars`), and a nested model under
//!   `layers/<sequential|functional>[_k]/layers/...`. The user's layer name is not in the path;
//!   since Keras 3.6 it is the `name` attribute of each `vars` group, which the reader checks.
//! - legacy `.h5`: `/model_weights/<layer name>` groups listed by the `layer_names` attribute, each
//!   with a `weight_names` attribute giving its datasets' paths; the reader follows those names.
pub mod compile;
mod keras3;
pub mod layers;
mod layout;
mod legacy;
pub mod lower;
mod write;

use std::collections::BTreeMap;
use std::path::Path;

pub(crate) use keras3::unzip as unzip_members;
pub use layout::snake_case;
pub use write::write_keras;

use super::error::{ConvertError, FileCtx};

/// Which kind of file a [`KerasFile`] came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KerasFormat {
    /// A Keras 3 `.keras` zip archive (or tf.keras 2.13–2.15's, which has the same layout), or
    /// the same three files unzipped in a folder.
    Keras3,
    /// An HDF5 file written by `model.save("m.h5")` (Keras 2, or Keras 3's legacy writer).
    LegacyH5,
}

/// The element type a variable is stored with. Values are always handed out as f64; this says
/// what Keras computed with, and what a writer stores back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DType {
    F16,
    BF16,
    F32,
    F64,
    I8,
    I16,
    I32,
    I64,
    U8,
    U16,
    U32,
    U64,
}

impl DType {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            DType::I8 | DType::U8 => 1,
            DType::F16 | DType::BF16 | DType::I16 | DType::U16 => 2,
            DType::F32 | DType::I32 | DType::U32 => 4,
            DType::F64 | DType::I64 | DType::U64 => 8,
        }
    }

    /// numpy's name for the type ("float32", "int64"), as Keras configs and messages use it.
    pub fn numpy_name(self) -> &'static str {
        match self {
            DType::F16 => "float16",
            DType::BF16 => "bfloat16",
            DType::F32 => "float32",
            DType::F64 => "float64",
            DType::I8 => "int8",
            DType::I16 => "int16",
            DType::I32 => "int32",
            DType::I64 => "int64",
            DType::U8 => "uint8",
            DType::U16 => "uint16",
            DType::U32 => "uint32",
            DType::U64 => "uint64",
        }
    }
}

/// One variable (a weight, a batch-norm statistic, an optimizer slot).
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    /// Where it lives in the file: the HDF5 dataset path without the leading `/`, such as
    /// `layers/conv2d/vars/0` (`.keras`) or `model_weights/conv/seqcnn/conv/kernel` (`.h5`).
    /// Keras 3 files do not record variable names, so this is the only name there is; use the
    /// position in the layer's list to tell a kernel from a bias.
    pub name: String,
    /// Dimensions in Keras's (row-major) order; empty for a scalar.
    pub shape: Vec<usize>,
    /// The values in row-major order, converted to f64 (exactly, for every stored type but
    /// 64-bit integers beyond 2^53).
    pub data: Vec<f64>,
    /// The stored element type.
    pub dtype: DType,
}

impl Tensor {
    /// Number of elements (1 for a scalar).
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Whether the tensor has no elements (a zero-sized dimension).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A Keras model file, read.
#[derive(Debug, Clone)]
pub struct KerasFile {
    pub format: KerasFormat,
    /// The whole model object: `config.json` of a `.keras` file, or the `model_config` attribute
    /// of an `.h5` (`{"class_name": "Sequential"|"Functional"|..., "config": {...}, ...}`).
    pub config: serde_json::Value,
    /// How the model was compiled, when it was: `compile_config` of a `.keras` (Keras 3 schema:
    /// `{optimizer: {class_name, config}, loss, metrics, ...}`), or `training_config` of an `.h5`
    /// (legacy schema: `{optimizer_config: {class_name, config}, loss, metrics, ...}`).
    pub compile: Option<serde_json::Value>,
    /// `metadata.json`'s `keras_version`, or the `.h5`'s `keras_version` attribute.
    pub keras_version: Option<String>,
    /// Variables of each layer that owns any, keyed by the layer's name path: its name
    /// (`"dense_1"`), or `"outer/inner"` for a layer of a nested model in a `.keras` file. Each
    /// list is in Keras's saved order: own variables first (trainable, then non-trainable, in
    /// creation order: Dense kernel, bias; BatchNormalization gamma, beta, moving_mean,
    /// moving_variance), then those of sublayers: an RNN's `cell` (LSTM kernel, recurrent_kernel,
    /// bias), a Bidirectional's forward layer then its backward layer.
    ///
    /// A legacy `.h5` keeps a nested model's variables under the nested model's name, all in one
    /// list, as the file does. Variables the model object itself owns (rare) have the key `""`.
    pub layer_weights: BTreeMap<String, Vec<Tensor>>,
    /// The optimizer's variables in saved order, or empty when none were saved: Keras 3 saves
    /// `iterations` (int32), `learning_rate`, then the slots of each trainable variable in turn
    /// (Adam: m, v); tf.keras 2.11–2.15 saves `iterations` (int64) and the slots, with no
    /// `learning_rate`.
    pub optimizer: Vec<Tensor>,
    /// What write_keras needs from the original besides the above.
    pub(crate) origin: Origin,
}

/// The original archive's members, for writing a `.keras` that differs only in its weights.
#[derive(Clone)]
pub(crate) enum Origin {
    /// The `.keras` members in archive order, and the name the file was opened as.
    Keras3 {
        name: String,
        members: Vec<(String, Vec<u8>)>,
    },
    LegacyH5 {
        name: String,
    },
}

impl std::fmt::Debug for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Keras3 { name, members } => f
                .debug_struct("Keras3")
                .field("name", name)
                .field("members", &members.iter().map(|(n, b)| (n, b.len())).collect::<Vec<_>>())
                .finish(),
            Origin::LegacyH5 { name } => f.debug_struct("LegacyH5").field("name", name).finish(),
        }
    }
}

impl KerasFile {
    /// The name the file was opened as (its path, or the name given to [`from_bytes`]).
    pub fn source_name(&self) -> &str {
        match &self.origin {
            Origin::Keras3 { name, .. } | Origin::LegacyH5 { name } => name,
        }
    }

    /// The model's class name at the top of the config ("Sequential", "Functional", ...).
    pub fn model_class(&self) -> Option<&str> {
        self.config.get("class_name").and_then(serde_json::Value::as_str)
    }
}

/// Opens a Keras model file, telling the format by its content (zip or HDF5 signature), not its
/// extension. A folder holding `config.json` and `model.weights.h5` (an unzipped `.keras`) is
/// read too.
pub fn open(path: &Path) -> Result<KerasFile, ConvertError> {
    let name = path.display().to_string();
    if path.is_dir() {
        return keras3::read_dir(path, &name);
    }
    let bytes = std::fs::read(path).map_err(|source| ConvertError::Io {
        path: path.to_path_buf(),
        action: "read",
        source,
    })?;
    from_bytes(bytes, &name)
}

/// Reads a Keras model file from memory; `name` is used in error messages.
pub fn from_bytes(bytes: Vec<u8>, name: &str) -> Result<KerasFile, ConvertError> {
    let ctx = FileCtx { file: name };
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        keras3::read_zip(bytes, name)
    } else if super::h5::is_hdf5(&bytes) {
        legacy::read(bytes, name)
    } else {
        if bytes.is_empty() {
            return Err(ctx.malformed("file", "the file is empty"));
        }
        let head: Vec<String> = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
        Err(ctx.malformed(
            "file",
            format!(
                "neither a .keras zip archive nor an HDF5 .h5 file ({} bytes, starting {})",
                bytes.len(),
                head.join(" ")
            ),
        ))
    }
}
