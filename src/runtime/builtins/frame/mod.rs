//! Frame builtins and the frame operations the executor's operators call.

pub mod java;
pub mod lambda;
pub mod ops;
pub mod tokenize;
pub mod transform;
