//! [`Context`]: what a builtin may ask of the executor that runs it. `eval`, `evalList` and
//! `paramserv` call DML functions back through it; the executor's `Runtime` implements it
//! (`runtime/exec_context.rs`), so the builtins never see the executor itself.

use crate::compiler::Options;
use crate::compiler::program::{Function, Program};
use crate::runtime::error::RtResult;
use crate::types::type_info::DType;
use crate::types::value::Value;

/// A DML function found by name: the program holding it and its index there. The program is
/// the running one, the script's (inside a builtin compiled on demand), or that of a builtin
/// `eval` compiled on demand.
#[derive(Clone, Copy)]
pub struct DmlFunction<'a> {
    pub program: &'a Program,
    pub fid: u32,
}

impl<'a> DmlFunction<'a> {
    pub fn def(&self) -> &'a Function {
        &self.program.functions[self.fid as usize]
    }

    /// The names of its parameters, in order.
    pub fn params(&self) -> Vec<&'a str> {
        self.def().params.iter().map(|p| p.name.name.as_str()).collect()
    }

    /// The names of its outputs, in order.
    pub fn returns(&self) -> Vec<String> {
        self.def().returns.iter().map(|p| p.name.name.clone()).collect()
    }
}

/// The executor, as the builtins see it.
pub trait Context {
    fn options(&self) -> &Options;

    /// The function `ns::name` as a direct call in the running file would find it: that file's
    /// functions and namespaces, then the main script's, then (without `ns`) the DML-bodied
    /// builtins loaded with the program, in their matrix or frame variant after the kind of
    /// the first argument, `first`; inside a builtin compiled on demand, the script's own
    /// functions come last.
    fn find_function(&self, ns: Option<&str>, name: &str, first: Option<DType>) -> Option<DmlFunction<'_>>;

    /// The function `ns::name` of the running program's main script only (`paramserv`'s
    /// `upd`, `agg` and `val`).
    fn find_main_function(&self, ns: Option<&str>, name: &str) -> Option<DmlFunction<'_>>;

    /// Calls `f` with its arguments in parameter order (`None` takes the parameter's default);
    /// `depth` is the nesting of such calls, which the executor bounds. Returns its outputs.
    fn call(&self, f: DmlFunction<'_>, args: Vec<Option<Value>>, depth: usize) -> RtResult<Vec<Value>>;
}
