//! The runtime: values, matrices, kernels and the executor of lowered instruction programs.
pub mod exec;
pub mod explain;
pub mod format;
pub mod frame;
pub mod frame_ops;
pub mod io;
pub mod kernels;
pub mod library;
pub mod library_dnn;
pub mod library_ext;
pub mod library_stats;
pub mod matrix;
pub mod output;
pub mod parfor;
pub mod scalar;
pub mod stats;
pub mod value;
