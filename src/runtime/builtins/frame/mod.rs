//! The frame builtins: building frames and their schemas, cleaning them, the transforms and
//! their meta frames, `tokenize`, and `map` with its Java lambdas; and the frame operations
//! the executor's operators call (`ops`).

mod clean;
mod construct;
mod java;
mod lambda;
mod meta;
pub mod ops;
mod tokenize;
mod transform;

pub(crate) use construct::{string_items, type_of};

use super::{BuiltinFn::Plain, Impl, one};
use crate::runtime::error::RtResult;
use crate::types::frame::Frame;
use crate::types::value::Value;
use std::sync::Arc;

pub(super) const IMPLS: &[Impl] = &[
    ("frame", Plain(construct::construct)),
    ("as.frame", Plain(construct::as_frame)),
    ("colnames", Plain(construct::colnames)),
    ("detectSchema", Plain(construct::detect_schema)),
    ("applySchema", Plain(construct::apply_schema)),
    ("dropInvalidType", Plain(clean::drop_invalid_type)),
    ("valueSwap", Plain(clean::value_swap)),
    ("freplicate", Plain(clean::freplicate)),
    ("dropInvalidLength", Plain(clean::drop_invalid_length)),
    ("transformencode", Plain(transform::encode_builtin)),
    ("transformapply", Plain(transform::apply_builtin)),
    ("transformdecode", Plain(transform::decode_builtin)),
    ("transformcolmap", Plain(meta::transform_colmap)),
    ("getCategoricalMask", Plain(meta::categorical_mask)),
    ("transformmeta", Plain(meta::transform_meta)),
    ("tokenize", Plain(tokenize::tokenize_builtin)),
    ("map", Plain(lambda::map_builtin)),
];

fn fv(f: Frame) -> Value {
    Value::Frame(Arc::new(f))
}

/// The outputs of a builtin whose one output is the frame `f`.
fn frame_out(f: Frame) -> RtResult<Vec<Value>> {
    one(fv(f))
}
