//! Running a script end to end: parse, load sourced files, validate, then execute block by block.
//! The command line, the REPL and embedders all go through here.

use crate::compiler::{self, Options};
use crate::diagnostics::{Diagnostic, SourceMap};
use crate::runtime::exec::{Slots, run_program};
use crate::runtime::output::Output;
use crate::runtime::stats::Stats;
use std::time::Instant;

/// What `--explain` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Explain {
    None,
    /// The HOP DAG of every block after rewrites, with shapes, estimates and backends.
    Hops,
    /// The instruction program of every block.
    Runtime,
    /// The HOP DAG of every block as one Graphviz DOT graph (a cluster per block).
    Dot,
}

/// How a run failed.
#[derive(Debug)]
pub enum Failure {
    /// Problems found before execution started (syntax, validation, memory estimates).
    Compile(Vec<Diagnostic>),
    /// An error while running, or `stop()`.
    Runtime(Diagnostic),
}

pub struct RunConfig {
    pub explain: Explain,
    pub stats: bool,
}

/// Parses, validates and runs `src`. Output goes to `out`; explain and stats text is returned so
/// the caller decides where it goes.
pub fn run_script(
    map: &mut SourceMap,
    name: &str,
    src: &str,
    opts: &Options,
    cfg: &RunConfig,
    out: &Output,
) -> Result<String, Failure> {
    let start = Instant::now();
    let program = compiler::prepare_program(map, name, src, opts, &[], false).map_err(Failure::Compile)?;
    let mut report = String::new();
    if cfg.explain == Explain::Hops {
        // Explain what will run: the program after branch removal.
        report.push_str(&compiler::validate::validate(&program, opts, true).explain);
    } else if cfg.explain == Explain::Dot {
        report.push_str(&dot_of(&program, opts, &[]));
    }
    let compile_time = start.elapsed();
    let stats = cfg.stats.then(Stats::default);
    let mut slots = Slots::new(program.main_vars.len());
    let result = run_program(&program, opts, out, stats.as_ref(), &mut slots);
    if cfg.explain == Explain::Runtime {
        report.push_str(&crate::runtime::explain::explain_runtime(&program));
    }
    if let Some(s) = &stats {
        report.push_str(&s.report(start.elapsed(), compile_time));
    }
    match result {
        Ok(_) => Ok(report),
        Err(e) => Err(Failure::Runtime(e.into_diagnostic())),
    }
}

/// The HOP DAGs of `program` as one Graphviz document (`--explain dot`); `initial` types the
/// variables that exist before it starts (a REPL session's), by slot.
pub fn dot_of(
    program: &compiler::program::Program,
    opts: &Options,
    initial: &[(crate::hops::VarId, crate::types::type_info::TypeInfo)],
) -> String {
    let dot_opts = Options { explain_format: compiler::ExplainFormat::Dot, ..opts.clone() };
    let sections = compiler::validate::validate_with(program, &dot_opts, true, initial).explain;
    crate::hops::explain::dot::document(&sections)
}

/// The HOP DAGs of a script after rewrites, as `--explain hops` prints them (nothing runs).
pub fn explain_hops(name: &str, src: &str, opts: &Options) -> Result<String, Vec<Diagnostic>> {
    let mut map = SourceMap::new();
    let program = compiler::prepare_program(&mut map, name, src, opts, &[], false)?;
    Ok(compiler::validate::validate(&program, opts, true).explain)
}
