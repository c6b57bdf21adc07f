//! Front end: lexer, parser and AST of DML.
pub mod ast;
