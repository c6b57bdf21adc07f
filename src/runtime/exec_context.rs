//! The executor's side of the builtins' [`Context`]: how `eval` and `paramserv` find and call
//! the DML functions of the running program.

use crate::compiler::Options;
use crate::runtime::builtins::{Context, DmlFunction};
use crate::runtime::error::RtResult;
use crate::runtime::exec::Runtime;
use crate::types::type_info::DType;
use crate::types::value::Value;

impl Context for Runtime<'_> {
    fn options(&self) -> &Options {
        self.opts
    }

    fn find_function(&self, ns: Option<&str>, name: &str, first: Option<DType>) -> Option<DmlFunction<'_>> {
        let program = self.program;
        let found = program
            .resolve_function(self.module, ns, name)
            .or_else(|| program.resolve_function(0, ns, name))
            .or_else(|| if ns.is_none() { program.resolve_dml_builtin(name, first) } else { None });
        if let Some(fid) = found {
            return Some(DmlFunction { program, fid });
        }
        // Inside a builtin compiled on demand: the script's functions come next.
        if !std::ptr::eq(self.script, self.program) {
            let fid = self.script.resolve_function(0, ns, name)?;
            return Some(DmlFunction { program: self.script, fid });
        }
        None
    }

    fn find_main_function(&self, ns: Option<&str>, name: &str) -> Option<DmlFunction<'_>> {
        let fid = self.program.resolve_function(0, ns, name)?;
        Some(DmlFunction { program: self.program, fid })
    }

    fn call(&self, f: DmlFunction<'_>, args: Vec<Option<Value>>, depth: usize) -> RtResult<Vec<Value>> {
        if std::ptr::eq(f.program, self.program) {
            self.call_function(f.fid, args, depth)
        } else if std::ptr::eq(f.program, self.script) {
            Runtime { program: self.script, module: 0, ..*self }.call_function(f.fid, args, depth)
        } else {
            // A builtin compiled on demand: its lineage is not traced.
            Runtime { program: f.program, tracer: None, ..*self }.call_function(f.fid, args, depth)
        }
    }
}
