//! `dml`: a fast engine for DML, the R-like machine-learning language of Apache SystemDS.
//!
//! The road a script travels: [`syntax`] (lexer, parser, AST) → [`compiler`] (sourced files,
//! blocks, validation) → [`hops`] (a DAG per block) → [`rewrite`] → [`plan`] (memory estimates,
//! backends) → [`lower`] (instructions) → [`runtime`] (execution). [`driver`] runs the whole road.
pub mod builtins;
pub mod compiler;
pub mod convert;
pub mod diagnostics;
pub mod driver;
pub mod gpu;
pub mod hops;
pub mod kernels;
pub mod lower;
pub mod plan;
pub mod rewrite;
pub mod runtime;
pub mod session;
pub mod syntax;
pub mod types;
