//! Model converters: other frameworks' models become readable DML over the nn library.
//!
//! The road a model travels:
//! - [`keras`]: the file container (`.keras` zip, legacy `.h5`) is read into a [`keras::KerasFile`];
//!   [`keras::lower`] turns its config and weights into the converter's graph ([`ir::Graph`]);
//! - [`layout`]: layouts assigned (Keras's channels-last tensors, nn's channels-first rows),
//!   conversions inserted where they meet, a Flatten's permutation folded into the next Dense;
//! - [`emit`]: per-op forward and backward DML, per-loss and per-optimizer DML;
//! - [`script`]: the training, prediction and gradient scripts assembled;
//! - [`model`]: the API (load, scripts, weights, run through the embedding session) and
//!   [`output`]: the folder `dml convert` writes.
//!
//! Everything is pure Rust (no libhdf5), so the converter builds wherever the engine builds.
pub mod caffe;
pub mod emit;
pub mod error;
mod h5;
pub mod ir;
pub mod keras;
pub mod layout;
pub mod model;
pub mod npz;
pub mod onnx;
pub mod output;
pub mod script;
pub mod shapes;
pub mod summary;

pub use caffe::{load_caffe, load_caffe_with};
pub use error::ConvertError;
pub use model::{Model, keras_from_bytes, load_keras, load_onnx, onnx_from_bytes};
