//! The compiler: from parsed scripts to a validated, structured program, one file per step.
//!
//! - [`options`]: what shapes a compilation (command-line parameters, rewrites, budget).
//! - [`load`]: the main script, every file it `source`s, and the DML-bodied builtins it calls,
//!   as modules of functions whose bodies are cut into statement blocks ([`program`]).
//! - [`validate`]: builds the HOP DAG of every block once with the types and constants known
//!   statically, which reports type errors, unknown names and refused memory estimates before
//!   anything runs.
//! - [`branches`], [`hoist`], [`liveness`]: block-level rewrites and live variables.
//! - [`block`]: compiles one block (or predicate) to a plan through [`to_hops`], the rewrites,
//!   the planner and lowering; the validator calls it statically and the executor again at run
//!   time with the actual input shapes (`crate::runtime::exec`), cached in [`plan_cache`].
//!
//! [`prepare_program`] runs the steps in order.

pub mod block;
pub mod branches;
pub mod hoist;
pub mod liveness;
pub mod load;
pub mod options;
pub mod plan_cache;
pub mod program;
pub mod stdlib;
pub mod to_hops;
pub mod validate;

use crate::diagnostics::{Diagnostic, SourceMap};
use program::Program;

pub use load::{load_program, load_program_with_vars};
pub use options::{CmdArgs, ExplainFormat, Options};

/// A program whose main part is empty and which holds the DML-bodied builtin `NAME` from
/// `opts.builtin_path` (and the builtins it calls): what `eval` runs when the name of a builtin
/// is only known at run time (`gridSearch(train="lm")`). `None` when there is no such file.
pub fn prepare_builtin_program(name: &str, opts: &Options) -> Option<Result<Program, String>> {
    let dir = opts.builtin_path.as_deref()?;
    if !dir.join(format!("{name}.dml")).is_file() {
        return None;
    }
    let mut map = SourceMap::default();
    let loaded = load::load_builtin_program(&mut map, name, dir);
    let checked = loaded.and_then(|mut program| {
        let validation = validate::validate_with(&program, opts, false, &[]);
        if !validation.errors.is_empty() {
            return Err(validation.errors);
        }
        liveness::attach_constants(&mut program, &validation.block_consts);
        liveness::annotate(&mut program, false);
        Ok(program)
    });
    Some(checked.map_err(|diags| crate::diagnostics::render_to_string(&map, &diags)))
}

/// Everything between source text and a program ready to run: load the script and what it
/// sources, validate it (with the types of variables that exist beforehand, as in a REPL
/// session or a prepared script), attach the proven constants, remove constant branches, hoist
/// loop invariants, and annotate live variables. `keep_vars` keeps every variable of the main
/// program alive at its end, for REPL sessions and prepared scripts, which read them afterwards;
/// a script run from the command line ends with nothing live, so computations whose results
/// nobody reads (the gradient of a network's input, say) are never run.
pub fn prepare_program(
    map: &mut SourceMap,
    name: &str,
    src: &str,
    opts: &Options,
    vars: &[(String, crate::types::type_info::TypeInfo)],
    keep_vars: bool,
) -> Result<Program, Vec<Diagnostic>> {
    let names: Vec<String> = vars.iter().map(|(n, _)| n.clone()).collect();
    let mut program = load::load_program_with_vars(map, name, src, &names, opts.builtin_path.as_deref())?;
    let initial: Vec<(u32, crate::types::type_info::TypeInfo)> =
        vars.iter().enumerate().map(|(i, (_, t))| (i as u32, *t)).collect();
    let validation = validate::validate_with(&program, opts, false, &initial);
    if !validation.errors.is_empty() {
        return Err(validation.errors);
    }
    // Constants are attached before blocks move (spans are the keys).
    liveness::attach_constants(&mut program, &validation.block_consts);
    if opts.rewrites.enabled("remove_constant_branches") {
        branches::remove_constant_branches(&mut program, &validation.if_outcomes);
    }
    if opts.rewrites.enabled("hoist_loop_invariants") {
        hoist::hoist_loop_invariants(&mut program);
    }
    liveness::annotate(&mut program, keep_vars);
    Ok(program)
}
