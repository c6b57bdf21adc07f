//! Errors of the converters.
//!
//! Every message names the file and the part of it that failed ("model.keras: zip member
//! model.weights.h5: HDF5 group /layers/dense/vars: ..."), because a user who hands us a model
//! file can only act on an error that says where the file is wrong.
use std::path::PathBuf;

/// An error reading or writing a model file.
///
/// `file` is the name the caller gave (a path, or the name passed to a `from_bytes` function);
/// `part` says where in the file, from the outside in.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConvertError {
    /// The file system refused: the file is missing, unreadable, or the destination not writable.
    #[error("{}: cannot {action}: {source}", path.display())]
    Io {
        path: PathBuf,
        /// What was being done, as a verb phrase: "read", "create a temporary file in its folder".
        action: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// The file is damaged, truncated, or not what its format promises.
    #[error("{file}: {part}: {detail}")]
    Malformed { file: String, part: String, detail: String },
    /// The file is valid but uses something this code does not handle (sharded weights, a
    /// bfloat16 variable of an unknown storage, a nested model inside a legacy `.h5` ...).
    #[error("{file}: {part}: not supported: {detail}")]
    Unsupported { file: String, part: String, detail: String },
    /// A layer (or the model's compile settings) that the converter cannot take as it is: an
    /// unsupported class or setting, or a config that does not fit together. Names the layer and
    /// its class.
    #[error("layer `{layer}` ({class}): {detail}")]
    Layer { layer: String, class: String, detail: String },
    /// Weights handed to a writer that do not fit the model they are written into.
    #[error("{file}: layer {layer}: {detail}")]
    WeightsMismatch { file: String, layer: String, detail: String },
}

/// The file being worked on, to build errors that name it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FileCtx<'a> {
    pub(crate) file: &'a str,
}

impl FileCtx<'_> {
    pub(crate) fn malformed(&self, part: impl Into<String>, detail: impl std::fmt::Display) -> ConvertError {
        ConvertError::Malformed { file: self.file.to_string(), part: part.into(), detail: detail.to_string() }
    }

    pub(crate) fn unsupported(
        &self,
        part: impl Into<String>,
        detail: impl std::fmt::Display,
    ) -> ConvertError {
        ConvertError::Unsupported {
            file: self.file.to_string(),
            part: part.into(),
            detail: detail.to_string(),
        }
    }

    pub(crate) fn mismatch(&self, layer: impl Into<String>, detail: impl std::fmt::Display) -> ConvertError {
        ConvertError::WeightsMismatch {
            file: self.file.to_string(),
            layer: layer.into(),
            detail: detail.to_string(),
        }
    }
}
