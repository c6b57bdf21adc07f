//! `dml check`: parses (and later validates) scripts and reports every problem.
use super::{load, report};
use dml::diagnostics::SourceMap;
use dml::syntax::parse_with_diagnostics;
use std::path::PathBuf;

/// Checks every file; true when all are fine (warnings allowed). Validation does not exist yet,
/// so `parse_only` changes nothing for now.
pub fn run(files: &[PathBuf], _parse_only: bool) -> bool {
    let mut map = SourceMap::new();
    let mut all_ok = true;
    for path in files {
        let Some(file) = load(&mut map, path) else {
            all_ok = false;
            continue;
        };
        let (program, diags) = parse_with_diagnostics(map.source(file), file);
        report(&map, &diags);
        if program.is_some() {
            println!("{}: ok", path.display());
        } else {
            all_ok = false;
        }
    }
    all_ok
}
