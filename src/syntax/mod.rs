//! Front end: lexer, parser, AST and pretty-printer of DML.
//!
//! The entry point is [`parse_program`]; [`pretty::print_program`] prints an AST back as canonical
//! DML, and [`spans::erase_spans`] blanks every span so that trees can be compared structurally.
// The AST keeps its variants unboxed for easy matching; the size gap is accepted.
#[allow(clippy::large_enum_variant)]
pub mod ast;
pub mod lexer;
pub mod parser;
pub mod pretty;
pub mod spans;

pub use parser::{parse_program, parse_program_with_comments, parse_with_diagnostics};

pub use pretty::{print_expr, print_program};
pub use spans::{erase_expr_spans, erase_spans};
