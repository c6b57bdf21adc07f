//! `dml`: a fast engine for DML, the R-like machine-learning language of Apache SystemDS.
pub mod diagnostics;
pub mod runtime;
pub mod syntax;
