//! `dml check`: parses and validates scripts and reports every problem without running anything.
use super::{load, report};
use dml::compiler::{self, Options};
use dml::diagnostics::SourceMap;
use dml::syntax::parse_with_diagnostics;
use std::path::PathBuf;

/// Checks every file; true when all are fine (warnings allowed). With `parse_only` the files are
/// only parsed; otherwise they are also loaded with their `source`d files and validated (types,
/// names, argument lists, memory estimates), as `dml run` would before executing.
pub fn run(files: &[PathBuf], parse_only: bool, opts: &Options) -> bool {
    let mut map = SourceMap::new();
    let mut all_ok = true;
    for path in files {
        let Some(file) = load(&mut map, path) else {
            all_ok = false;
            continue;
        };
        let (program, diags) = parse_with_diagnostics(map.source(file), file);
        report(&map, &diags);
        if program.is_none() {
            all_ok = false;
            continue;
        }
        if !parse_only {
            let name = path.display().to_string();
            let src = map.source(file).to_string();
            let loaded =
                compiler::load_program_with_vars(&mut map, &name, &src, &[], opts.builtin_path.as_deref());
            let errors = match loaded {
                Ok(p) => compiler::validate::validate(&p, opts, false).errors,
                Err(e) => e,
            };
            if !errors.is_empty() {
                report(&map, &errors);
                all_ok = false;
                continue;
            }
        }
        println!("{}: ok", path.display());
    }
    all_ok
}
