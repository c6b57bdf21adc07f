//! The runtime: values, matrices, kernels and the executor of lowered instruction programs.
pub mod format;
pub mod kernels;
pub mod matrix;
