//! The shared vocabulary: the types every layer of the engine speaks (value and data types, the
//! operator enums, the bodies of generated fused operators, backends, values, matrices and
//! frames). It imports nothing but the syntax's type names, so the IR, the builtin table, the rewrites, the kernels and the runtime can all
//! depend on it without depending on each other.

pub mod backend;
pub mod bind;
pub mod conversions;
pub mod frame;
pub mod fused;
pub mod matrix;
pub mod ops;
pub mod type_info;
pub mod value;

pub use backend::Backend;
