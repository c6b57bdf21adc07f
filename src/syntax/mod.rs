//! Front end: lexer, parser, AST and pretty-printer of DML.
//!
//! The entry point is [`parse_program`]; [`pretty::print_program`] prints an AST back as canonical
//! DML, and [`spans::erase_spans`] blanks every span so that trees can be compared structurally.
//! [`parse_program_with_comments`] also returns the comments (the parser never sees them), which
//! [`pretty::print_program_with_comments`] puts back; [`format_source`] is `dml fmt`.
// The AST keeps its variants unboxed for easy matching; the size gap is accepted.
#[allow(clippy::large_enum_variant)]
pub mod ast;
pub mod lexer;
pub mod parser;
pub mod pretty;
pub mod spans;
pub mod visit;

pub use parser::{parse_program, parse_program_with_comments, parse_with_diagnostics};

pub use pretty::{format_source, print_expr, print_program, print_program_with_comments};
pub use spans::{erase_expr_spans, erase_spans};
