//! The runtime: values, matrices, kernels and the executor of lowered instruction programs.
pub mod io;
pub mod kernels;
pub mod matrix;
