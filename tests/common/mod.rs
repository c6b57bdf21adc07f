//! Helpers shared by the parser tests.
#![allow(dead_code)]

use dml::diagnostics::{SourceMap, render_to_string};
use dml::syntax::ast::{FileId, Program};
use dml::syntax::{erase_spans, parse_program, print_program};

/// Parses `src` or panics with the rendered diagnostics.
pub fn parse_ok(src: &str) -> Program {
    let mut map = SourceMap::new();
    let file = map.add("test.dml", src);
    match parse_program(src, file) {
        Ok(p) => p,
        Err(d) => panic!("unexpected syntax errors:\n{}", render_to_string(&map, &d)),
    }
}

/// Parses with spans erased.
pub fn parse_bare(src: &str) -> Program {
    let mut p = parse_ok(src);
    erase_spans(&mut p);
    p
}

/// Checks that printing `program` and parsing the result gives the same tree; returns the text.
pub fn assert_roundtrip(name: &str, src: &str) -> String {
    let mut map = SourceMap::new();
    let file: FileId = map.add(name, src);
    let mut first = match parse_program(src, file) {
        Ok(p) => p,
        Err(d) => panic!("{name}: syntax errors:\n{}", render_to_string(&map, &d)),
    };
    let printed = print_program(&first);
    let second_file = map.add(format!("{name} (printed)"), printed.clone());
    let mut second = match parse_program(&printed, second_file) {
        Ok(p) => p,
        Err(d) => panic!("{name}: printed form does not parse:\n{}\n{printed}", render_to_string(&map, &d)),
    };
    erase_spans(&mut first);
    erase_spans(&mut second);
    assert!(first == second, "{name}: round trip changed the tree; printed:\n{printed}");
    printed
}
