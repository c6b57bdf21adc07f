//! `tokenize(target=F, spec=json, max_tokens=)`: SystemDS's text tokenizer.

use crate::runtime::exec::{RtError, RtResult};
use crate::runtime::frame::Frame;
use crate::runtime::value::Value;

pub fn tokenize_builtin(args: &[Option<Value>]) -> RtResult<Frame> {
    let _ = args;
    Err(RtError::new("tokenize: not implemented"))
}
