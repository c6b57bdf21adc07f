//! The executor: runs the program's blocks, compiling each basic block (and predicate) at its
//! first execution with the actual shapes of its inputs and reusing the cached plan afterwards.
//!
//! Instruction operands are registers resolved at lowering time, and variables are slots
//! resolved when the program was structured, so executing an instruction costs a match and a few
//! vector accesses.
//!
//! [`run_program`] is the one way in, for the command line, REPL sessions and prepared scripts.
//!
//! - [`slots`]: the variables of a scope ([`Slots`]);
//! - [`control`]: blocks, branches, loops and `parfor`, predicates, the plan cache lookups;
//! - [`regs`]: a plan's register file, host values and device matrices ([`Regs`]);
//! - [`interp`]: the instruction interpreter (the lineage-tracing one is in
//!   [`lineage`](crate::runtime::lineage));
//! - [`call`]: calls of user functions.

mod call;
mod control;
mod gpu;
mod interp;
mod regs;
mod slots;

pub(crate) use regs::Regs;
pub use slots::Slots;

use crate::compiler::Options;
use crate::compiler::block::Scope;
use crate::compiler::program::Program;
use crate::runtime::error::{RtError, RtResult};
use crate::runtime::lineage::Tracer;
use crate::runtime::{output::Output, stats::Stats};
use crate::types::value::Value;

/// Deepest nesting of user function calls before the executor reports runaway recursion.
const MAX_CALL_DEPTH: usize = 2000;

/// Everything shared by one execution of a program.
#[derive(Clone, Copy)]
pub struct Runtime<'p> {
    pub program: &'p Program,
    pub opts: &'p Options,
    pub out: &'p Output,
    pub stats: Option<&'p Stats>,
    /// Traces lineage when the program calls `lineage` or `autoDiff`.
    pub tracer: Option<&'p Tracer>,
    /// The module (script file) whose code is running: `eval` resolves a function name first
    /// among that file's functions, as a direct call there would.
    pub module: crate::compiler::program::ModuleId,
    /// The program of the script being run. It differs from `program` while a builtin that
    /// `eval` compiled on demand runs; `eval` there still finds the script's own functions.
    pub script: &'p Program,
}

/// The stack of the thread a program runs on. Deeply recursive scripts need a large one (function
/// calls nest up to [`MAX_CALL_DEPTH`] deep), and the command line, REPL sessions and prepared
/// scripts all get the same.
const STACK_SIZE: usize = 512 * 1024 * 1024;

/// Runs the main program of `program` in `slots` (which may already hold variables: a REPL
/// session's, a prepared script's inputs), on a thread of its own with a [`STACK_SIZE`] stack,
/// tracing lineage when the program calls `lineage` or `autoDiff`. The one way to run a program:
/// the driver, the REPL and the embedding API all come here. Variables whose value a device
/// operator left on the device stay there: read them with [`Slots::host`] (or bring all of them
/// back with [`Slots::to_host`]), so that a caller pays only for the values it reads.
pub fn run_program(
    program: &Program,
    opts: &Options,
    out: &Output,
    stats: Option<&Stats>,
    slots: &mut Slots,
) -> RtResult<()> {
    let tracer = Tracer::for_program(program);
    let rt = Runtime { program, opts, out, stats, tracer: tracer.as_ref(), module: 0, script: program };
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .stack_size(STACK_SIZE)
            .spawn_scoped(s, || rt.run_main(slots))
            .map_err(|e| RtError::new(format!("cannot start the executor: {e}")))?
            .join()
            .map_err(|_| RtError::new("internal error: the executor panicked"))?
    })
}

impl Runtime<'_> {
    /// Runs the main program in `slots`, which grow to the program's variables.
    fn run_main(&self, slots: &mut Slots) -> RtResult<()> {
        let scope = Scope { module: 0, vars: &self.program.main_vars };
        if slots.vals.len() < self.program.main_vars.len() {
            slots.vals.resize(self.program.main_vars.len(), None);
        }
        self.run_blocks(scope, &self.program.main, slots, 0)
    }
}

pub(crate) fn req(v: Option<Value>) -> RtResult<Value> {
    v.ok_or_else(|| RtError::new("a required argument is missing"))
}

/// Whether a matrix of this many cells fits the memory budget (used by kernels of unknown size).
pub fn fits(opts: &Options, cells: f64) -> bool {
    cells * 8.0 <= opts.budget.bytes
}
