//! `dml fmt`: prints a script in canonical formatting.
use super::{load, report};
use dml::diagnostics::SourceMap;
use dml::syntax::{parse_program, print_program};
use std::path::Path;

/// Prints the formatted script to stdout; false (nothing printed) on a read or syntax error.
pub fn run(path: &Path) -> bool {
    let mut map = SourceMap::new();
    let Some(file) = load(&mut map, path) else {
        return false;
    };
    match parse_program(map.source(file), file) {
        Ok(program) => {
            print!("{}", print_program(&program));
            true
        }
        Err(diags) => {
            report(&map, &diags);
            false
        }
    }
}
