//! The runtime: the executor of lowered instruction programs, the builtins' implementations, I/O.
pub mod autodiff;
pub mod builtins;
pub mod error;
pub mod exec;
mod exec_context;
pub mod explain;
pub mod io;
pub mod lineage;
pub mod output;
pub mod parfor;
pub mod progress;
pub mod stats;
