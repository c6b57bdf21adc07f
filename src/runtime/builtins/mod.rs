//! The runtime side of the builtins, by topic, and the operators whose behaviour depends on the
//! kinds of their operands (scalar or matrix, list or frame), which the executor calls.
//!
//! Every builtin the compiler turns into a call (`HopOp::Builtin`: the library builtins of
//! `builtins/table.rs` and `append`) has exactly one implementation, listed with its name in
//! the `IMPLS` list of its topic's file. [`call`] finds it by the builtin's [`BuiltinId`], an
//! index into a table built once from those lists; a test checks that every library builtin
//! of the table has one, and that no list names a builtin the table lacks. Builtins sharing an
//! implementation (`cumsum`, `cumprod`, ...) each have their row, with the differences in the
//! row. Implementations read their arguments by parameter name through [`Args`]; those that
//! call DML functions back (`eval`, `paramserv`) get the executor as a [`Context`].

mod args;
mod cellwise;
mod chart;
mod context;
mod dnn;
mod eval;
pub mod frame;
mod index;
mod io;
mod linalg;
mod matrix;
mod paramserv;
mod print;
mod select;
mod stats;
mod values;

#[cfg(test)]
mod tests;

pub use args::{Args, matrix_arg};
pub use cellwise::{binary, fused, ifelse, nary_minmax, unary_matrix};
pub use context::{Context, DmlFunction};
/// The GPU backend reads the convolution arguments as the CPU builtins do.
pub(crate) use dnn::{conv_shape, pool_shape};
pub use index::{left_index, right_index};
pub use matrix::{bind, check_budget_cells, fill, rand, reshape, seq};
pub use print::{print_string, printf};
pub use values::cast;

use crate::builtins::{BUILTINS, BuiltinId, lookup};
use crate::runtime::error::{RtError, RtResult};
use crate::types::matrix::Matrix;
use crate::types::value::Value;
use std::sync::OnceLock;

/// How a builtin is implemented.
#[derive(Clone, Copy)]
pub enum BuiltinFn {
    /// From its arguments alone.
    Plain(fn(Args) -> RtResult<Vec<Value>>),
    /// Calling back into the executor (`eval`, `paramserv`).
    CallsBack(fn(Args, &dyn Context) -> RtResult<Vec<Value>>),
}

/// One row of a topic's list: the builtin's name in the table and its implementation.
type Impl = (&'static str, BuiltinFn);

/// The topics' lists.
const LISTS: &[&[Impl]] = &[
    values::IMPLS,
    print::IMPLS,
    cellwise::IMPLS,
    matrix::IMPLS,
    select::IMPLS,
    linalg::IMPLS,
    stats::IMPLS,
    io::IMPLS,
    eval::IMPLS,
    dnn::IMPLS,
    paramserv::IMPLS,
    frame::IMPLS,
    chart::IMPLS,
];

/// The implementation of each builtin, indexed by [`BuiltinId`].
#[inline]
fn table() -> &'static [Option<BuiltinFn>] {
    static TABLE: OnceLock<Vec<Option<BuiltinFn>>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table = vec![None; BUILTINS.len()];
        // A name the table lacks, or a builtin listed twice, fails the tests (tests.rs).
        for (name, f) in LISTS.iter().copied().flatten() {
            if let Some(id) = lookup(name) {
                table[id.0 as usize] = Some(*f);
            }
        }
        table
    })
}

/// The implementation of builtin `id`, if it has one.
#[inline]
pub fn implementation(id: BuiltinId) -> Option<BuiltinFn> {
    table().get(id.0 as usize).copied().flatten()
}

/// Calls builtin `id` with its arguments in parameter order; returns its outputs.
#[inline]
pub fn call(ctx: &dyn Context, id: BuiltinId, args: Vec<Option<Value>>) -> RtResult<Vec<Value>> {
    match implementation(id) {
        Some(BuiltinFn::Plain(f)) => f(Args::new(id, args)),
        Some(BuiltinFn::CallsBack(f)) => f(Args::new(id, args), ctx),
        None => err(format!("internal error: the builtin `{}` has no implementation", id.name())),
    }
}

/// The builtins the executor runs as operators of its own (`HopOp::DataGen`, `HopOp::Reshape`),
/// whose operands are those builtins' parameters in order, read through [`Args`].
const OPERATORS: [&str; 3] = ["matrix", "rand", "seq"];

/// The id of one of the [`OPERATORS`] (looked up once, not at every call).
#[inline]
fn operator_id(name: &str) -> RtResult<BuiltinId> {
    static IDS: OnceLock<[Option<BuiltinId>; 3]> = OnceLock::new();
    let ids = IDS.get_or_init(|| OPERATORS.map(lookup));
    match OPERATORS.iter().position(|n| args::same_name(n, name)).and_then(|i| ids[i]) {
        Some(id) => Ok(id),
        None => err(format!("internal error: `{name}` is not a builtin run as an operator")),
    }
}

/// An error with `msg`.
pub(crate) fn err<T>(msg: impl Into<String>) -> RtResult<T> {
    Err(RtError::new(msg))
}

/// The outputs of a builtin with one output.
fn one(v: Value) -> RtResult<Vec<Value>> {
    Ok(vec![v])
}

/// The outputs of a builtin whose one output is the matrix `m`.
fn matrix_out(m: Matrix) -> RtResult<Vec<Value>> {
    one(Value::matrix(m))
}

/// The outputs of a builtin with several matrices.
fn matrices_out<const N: usize>(ms: [Matrix; N]) -> Vec<Value> {
    ms.into_iter().map(Value::matrix).collect()
}
