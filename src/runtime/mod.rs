//! The runtime: the executor of lowered instruction programs, the builtins' implementations, I/O.
pub mod autodiff;
pub mod builtins;
pub mod error;
pub mod exec;
pub mod explain;
pub mod io;
pub mod library;
pub mod library_dnn;
pub mod library_ext;
pub mod library_frame;
pub mod library_frame2;
pub mod library_pserv;
pub mod library_stats;
pub mod lineage;
pub mod output;
pub mod parfor;
pub mod stats;
