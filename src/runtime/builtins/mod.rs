//! The runtime side of the builtins.

pub mod frame;
