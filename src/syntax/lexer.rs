//! The DML lexer: turns source text into [`Tok`]s with byte spans.
//!
//! Scanning is done by a `logos` automaton over [`RawTok`] (unit variants only); [`Lexer`] then
//! converts each raw token into a [`Tok`] with its value (numbers parsed, strings unescaped) and
//! records lexical errors instead of stopping, so that one run reports every problem.
//!
//! Two decisions are made here rather than in the grammar:
//! - **Index brackets.** DML ignores newlines, so `x = y` followed by a line `[a, b] = f()` would
//!   read as `y[a, b]`. A `[` is an *index* bracket ([`Tok::LIndex`]) only when it follows an
//!   identifier on the same line; otherwise it opens a list or a multi-assignment
//!   ([`Tok::LBracket`]). This keeps the grammar LALR(1).
//! - **Bad input becomes [`Tok::Invalid`].** The error is recorded here with its span and the
//!   parser's complaint about the invalid token is dropped, so each problem is reported once.

use crate::syntax::ast::{FileId, Span};
use logos::Logos;
use std::fmt;

/// The tokens logos recognises; values are extracted later by [`Lexer`].
#[derive(Logos, Clone, Copy, Debug, PartialEq, Eq)]
#[logos(skip r"[ \t\r\n\f]+")]
enum RawTok {
    // Comments are tokens of logos so that their place is known; [`Lexer`] never passes them to
    // the parser, and keeps them on a side list only when asked to ([`Lexer::keep_comments`]).
    #[regex(r"#[^\n]*", allow_greedy = true)]
    LineComment,
    #[regex(r"/\*([^*]|\*+[^*/])*\*+/")]
    BlockComment,
    #[regex(r"/\*([^*]|\*+[^*/])*\**", allow_greedy = true)]
    UnterminatedComment,

    #[regex(r"[0-9]+[lL]?")]
    Int,
    #[regex(r"[0-9]+\.[0-9]*([eE][+-]?[0-9]+)?[lL]?")]
    #[regex(r"[0-9]+[eE][+-]?[0-9]+[lL]?")]
    #[regex(r"\.[0-9]+([eE][+-]?[0-9]+)?[lL]?")]
    Double,
    #[regex(r#""([^"\\]|\\(.|\n))*""#)]
    #[regex(r#"'([^'\\]|\\(.|\n))*'"#)]
    Str,
    #[regex(r#""([^"\\]|\\(.|\n))*\\?"#, allow_greedy = true)]
    #[regex(r#"'([^'\\]|\\(.|\n))*\\?"#, allow_greedy = true)]
    UnterminatedStr,

    #[regex(r"[A-Za-z][A-Za-z0-9_]*")]
    #[token("as.scalar")]
    #[token("as.matrix")]
    #[token("as.frame")]
    #[token("as.list")]
    #[token("as.double")]
    #[token("as.integer")]
    #[token("as.logical")]
    #[token("as.boolean")]
    #[token("index.return")]
    #[token("empty.return")]
    #[token("lower.tail")]
    #[token("lower.tri")]
    #[token("upper.tri")]
    #[token("is.na")]
    #[token("is.nan")]
    #[token("is.infinite")]
    #[token("read.csv")]
    Ident,
    #[regex(r"[A-Za-z][A-Za-z0-9_]*::[A-Za-z][A-Za-z0-9_]*")]
    NsIdent,
    #[regex(r"\$[A-Za-z][A-Za-z0-9_]*")]
    #[regex(r"\$[0-9]+")]
    CmdArg,

    #[token("source")]
    Source,
    #[token("as")]
    As,
    #[token("setwd")]
    Setwd,
    #[token("if")]
    If,
    #[token("else")]
    Else,
    #[token("for")]
    For,
    #[token("parfor")]
    Parfor,
    #[token("in")]
    In,
    #[token("while")]
    While,
    #[token("function")]
    Function,
    #[token("return")]
    Return,
    #[token("externalFunction")]
    ExternalFunction,
    #[token("implemented")]
    Implemented,
    #[token("ifdef")]
    Ifdef,
    #[token("TRUE")]
    True,
    #[token("FALSE")]
    False,
    #[token("int")]
    #[token("Int")]
    #[token("integer")]
    #[token("Integer")]
    TyInt,
    #[token("double")]
    #[token("Double")]
    TyDouble,
    #[token("string")]
    #[token("String")]
    TyString,
    #[token("boolean")]
    #[token("Boolean")]
    TyBoolean,
    #[token("unknown")]
    #[token("Unknown")]
    TyUnknown,

    #[token("%*%")]
    MatMul,
    #[token("%/%")]
    IntDiv,
    #[token("%%")]
    Mod,
    #[regex(r"%[^%\n]*%", priority = 1)]
    BadPercentOp,
    #[token("^")]
    Caret,
    #[token("+")]
    Plus,
    #[token("-")]
    Minus,
    #[token("*")]
    Star,
    #[token("/")]
    Slash,
    #[token("<")]
    Lt,
    #[token("<=")]
    Le,
    #[token(">")]
    Gt,
    #[token(">=")]
    Ge,
    #[token("==")]
    EqEq,
    #[token("!=")]
    Ne,
    #[token("!")]
    Bang,
    #[token("&")]
    Amp,
    #[token("&&")]
    AmpAmp,
    #[token("|")]
    Pipe,
    #[token("||")]
    PipePipe,
    #[token("=")]
    Assign,
    #[token("<-")]
    Arrow,
    #[token("+=")]
    PlusEq,
    #[token(":")]
    Colon,
    #[token(",")]
    Comma,
    #[token(";")]
    Semi,
    #[token("(")]
    LParen,
    #[token(")")]
    RParen,
    #[token("[")]
    LBracket,
    #[token("]")]
    RBracket,
    #[token("{")]
    LBrace,
    #[token("}")]
    RBrace,
}

/// A token as the parser sees it. Identifier-like tokens borrow the source text.
#[derive(Clone, Debug, PartialEq)]
pub enum Tok<'a> {
    /// A plain or dotted name (`x`, `as.matrix`).
    Ident(&'a str),
    /// `ns::name`, one token without spaces; the text as written.
    NsIdent(&'a str),
    /// `$name` or `$1`: the text after `$`.
    CmdArg(&'a str),
    Int(i64),
    Double(f64),
    /// A string literal, unescaped.
    Str(String),
    True,
    False,
    Source,
    As,
    Setwd,
    If,
    Else,
    For,
    Parfor,
    In,
    While,
    Function,
    Return,
    ExternalFunction,
    Implemented,
    Ifdef,
    TyInt,
    TyDouble,
    TyString,
    TyBoolean,
    TyUnknown,
    MatMul,
    IntDiv,
    Mod,
    Caret,
    Plus,
    Minus,
    Star,
    Slash,
    Lt,
    Le,
    Gt,
    Ge,
    EqEq,
    Ne,
    Bang,
    Amp,
    AmpAmp,
    Pipe,
    PipePipe,
    Assign,
    Arrow,
    PlusEq,
    Colon,
    Comma,
    Semi,
    LParen,
    RParen,
    /// `[` right after an identifier on the same line: indexing or a type like `matrix[double]`.
    LIndex,
    /// Any other `[`: a list literal or the start of a multi-assignment.
    LBracket,
    RBracket,
    LBrace,
    RBrace,
    /// Stands for input that did not lex; its error is already recorded.
    Invalid,
}

impl Tok<'_> {
    /// How the token is shown in messages: `` `)` ``, `identifier `x``, `end of file`.
    pub fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("identifier `{s}`"),
            Tok::NsIdent(s) => format!("name `{s}`"),
            Tok::CmdArg(s) => format!("`${s}`"),
            Tok::Int(v) => format!("number `{v}`"),
            Tok::Double(v) => format!("number `{v:?}`"),
            Tok::Str(_) => "string literal".to_string(),
            Tok::Invalid => "invalid token".to_string(),
            other => format!("`{}`", other.symbol()),
        }
    }

    /// The fixed text of keywords and punctuation.
    fn symbol(&self) -> &'static str {
        match self {
            Tok::True => "TRUE",
            Tok::False => "FALSE",
            Tok::Source => "source",
            Tok::As => "as",
            Tok::Setwd => "setwd",
            Tok::If => "if",
            Tok::Else => "else",
            Tok::For => "for",
            Tok::Parfor => "parfor",
            Tok::In => "in",
            Tok::While => "while",
            Tok::Function => "function",
            Tok::Return => "return",
            Tok::ExternalFunction => "externalFunction",
            Tok::Implemented => "implemented",
            Tok::Ifdef => "ifdef",
            Tok::TyInt => "int",
            Tok::TyDouble => "double",
            Tok::TyString => "string",
            Tok::TyBoolean => "boolean",
            Tok::TyUnknown => "unknown",
            Tok::MatMul => "%*%",
            Tok::IntDiv => "%/%",
            Tok::Mod => "%%",
            Tok::Caret => "^",
            Tok::Plus => "+",
            Tok::Minus => "-",
            Tok::Star => "*",
            Tok::Slash => "/",
            Tok::Lt => "<",
            Tok::Le => "<=",
            Tok::Gt => ">",
            Tok::Ge => ">=",
            Tok::EqEq => "==",
            Tok::Ne => "!=",
            Tok::Bang => "!",
            Tok::Amp => "&",
            Tok::AmpAmp => "&&",
            Tok::Pipe => "|",
            Tok::PipePipe => "||",
            Tok::Assign => "=",
            Tok::Arrow => "<-",
            Tok::PlusEq => "+=",
            Tok::Colon => ":",
            Tok::Comma => ",",
            Tok::Semi => ";",
            Tok::LParen => "(",
            Tok::RParen => ")",
            Tok::LIndex | Tok::LBracket => "[",
            Tok::RBracket => "]",
            Tok::LBrace => "{",
            Tok::RBrace => "}",
            Tok::Ident(_)
            | Tok::NsIdent(_)
            | Tok::CmdArg(_)
            | Tok::Int(_)
            | Tok::Double(_)
            | Tok::Str(_)
            | Tok::Invalid => "?",
        }
    }
}

impl fmt::Display for Tok<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

/// A problem found while lexing or parsing, before it is turned into a [`crate::diagnostics::Diagnostic`].
#[derive(Clone, Debug, PartialEq)]
pub struct SyntaxError {
    pub message: String,
    pub span: Span,
    /// Text of the primary label; empty means "use a default".
    pub label: String,
    pub notes: Vec<String>,
    /// A related place (e.g. the opening bracket).
    pub secondary: Option<(Span, String)>,
    /// Reported, but parsing succeeds (SystemDS skips such input too).
    pub is_warning: bool,
}

impl SyntaxError {
    pub fn new(message: impl Into<String>, span: Span, label: impl Into<String>) -> Self {
        SyntaxError {
            message: message.into(),
            span,
            label: label.into(),
            notes: vec![],
            secondary: None,
            is_warning: false,
        }
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }
}

/// One token with its byte range, as LALRPOP expects it.
pub type Spanned<'a> = (usize, Tok<'a>, usize);

/// The two kinds of DML comment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommentKind {
    /// `# ...` up to the end of the line.
    Line,
    /// `/* ... */`, possibly over several lines.
    Block,
}

/// A comment, kept beside the token stream (the parser never sees comments).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Comment {
    pub kind: CommentKind,
    /// The byte range of the comment in its source, from `#` or `/*` to the end of the text.
    pub span: Span,
    /// The comment as written, with its `#` or `/* */`. A line comment's trailing white space
    /// (a `\r` of a CRLF file included) is left out; a block comment is verbatim.
    pub text: String,
}

/// Lexes a whole source text. Errors are collected, not returned early: see [`Lexer::errors`].
pub struct Lexer<'a> {
    inner: logos::Lexer<'a, RawTok>,
    source: &'a str,
    file: FileId,
    errors: Vec<SyntaxError>,
    /// End offset of the previous token, when it was an identifier (for index brackets).
    prev_ident_end: Option<usize>,
    /// The comments seen so far, when asked for with [`Lexer::keep_comments`].
    comments: Option<Vec<Comment>>,
}

impl<'a> Lexer<'a> {
    pub fn new(source: &'a str, file: FileId) -> Self {
        Lexer {
            inner: RawTok::lexer(source),
            source,
            file,
            errors: vec![],
            prev_ident_end: None,
            comments: None,
        }
    }

    /// Also collect the comments, for [`Lexer::take_comments`]. Tokens are unchanged: comments
    /// are skipped either way; without this call they are not even copied.
    pub fn keep_comments(mut self) -> Self {
        self.comments = Some(vec![]);
        self
    }

    /// The comments seen so far, in source order (empty unless [`Lexer::keep_comments`] was set).
    pub fn take_comments(&mut self) -> Vec<Comment> {
        self.comments.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// The lexical errors found so far.
    pub fn errors(&self) -> &[SyntaxError] {
        &self.errors
    }

    pub fn into_errors(self) -> Vec<SyntaxError> {
        self.errors
    }

    fn comment(&mut self, kind: CommentKind, start: usize, end: usize) {
        if let Some(comments) = &mut self.comments {
            let raw = &self.source[start..end];
            let text = if kind == CommentKind::Line { raw.trim_end() } else { raw };
            let span = Span::new(self.file, start, start + text.len());
            comments.push(Comment { kind, span, text: text.to_string() });
        }
    }

    fn span(&self, start: usize, end: usize) -> Span {
        Span::new(self.file, start, end)
    }

    fn error(&mut self, message: String, start: usize, end: usize, label: &str) {
        let span = self.span(start, end);
        self.errors.push(SyntaxError::new(message, span, label));
    }

    /// Converts one raw token into a parser token, recording any error.
    fn convert(&mut self, raw: RawTok, start: usize, end: usize) -> Tok<'a> {
        let text = &self.source[start..end];
        match raw {
            RawTok::LineComment | RawTok::BlockComment => unreachable!("next() keeps comments apart"),
            RawTok::Ident => Tok::Ident(text),
            RawTok::NsIdent => Tok::NsIdent(text),
            RawTok::CmdArg => Tok::CmdArg(&text[1..]),
            RawTok::Int => self.int_literal(text, start, end),
            RawTok::Double => self.double_literal(text, start, end),
            RawTok::Str => {
                let (value, bad) = unescape(&text[1..text.len() - 1]);
                for (offset, len) in bad {
                    let at = start + 1 + offset;
                    let shown = &self.source[at..at + len];
                    self.error(
                        format!("invalid escape sequence `{shown}` in string"),
                        at,
                        at + len,
                        "valid escapes are \\b \\t \\n \\f \\r \\\" \\' \\\\",
                    );
                }
                Tok::Str(value)
            }
            RawTok::UnterminatedStr => {
                let quote_end = start + 1;
                self.error("unterminated string literal".into(), start, quote_end, "string starts here");
                Tok::Invalid
            }
            RawTok::UnterminatedComment => {
                self.error(
                    "unterminated block comment".into(),
                    start,
                    start + 2,
                    "comment starts here and never ends with `*/`",
                );
                Tok::Invalid
            }
            RawTok::BadPercentOp => {
                self.error(
                    format!("unknown operator `{text}`"),
                    start,
                    end,
                    "the `%` operators are %*%, %/% and %%",
                );
                Tok::Invalid
            }
            RawTok::True => Tok::True,
            RawTok::False => Tok::False,
            RawTok::Source => Tok::Source,
            RawTok::As => Tok::As,
            RawTok::Setwd => Tok::Setwd,
            RawTok::If => Tok::If,
            RawTok::Else => Tok::Else,
            RawTok::For => Tok::For,
            RawTok::Parfor => Tok::Parfor,
            RawTok::In => Tok::In,
            RawTok::While => Tok::While,
            RawTok::Function => Tok::Function,
            RawTok::Return => Tok::Return,
            RawTok::ExternalFunction => Tok::ExternalFunction,
            RawTok::Implemented => Tok::Implemented,
            RawTok::Ifdef => Tok::Ifdef,
            RawTok::TyInt => Tok::TyInt,
            RawTok::TyDouble => Tok::TyDouble,
            RawTok::TyString => Tok::TyString,
            RawTok::TyBoolean => Tok::TyBoolean,
            RawTok::TyUnknown => Tok::TyUnknown,
            RawTok::MatMul => Tok::MatMul,
            RawTok::IntDiv => Tok::IntDiv,
            RawTok::Mod => Tok::Mod,
            RawTok::Caret => Tok::Caret,
            RawTok::Plus => Tok::Plus,
            RawTok::Minus => Tok::Minus,
            RawTok::Star => Tok::Star,
            RawTok::Slash => Tok::Slash,
            RawTok::Lt => Tok::Lt,
            RawTok::Le => Tok::Le,
            RawTok::Gt => Tok::Gt,
            RawTok::Ge => Tok::Ge,
            RawTok::EqEq => Tok::EqEq,
            RawTok::Ne => Tok::Ne,
            RawTok::Bang => Tok::Bang,
            RawTok::Amp => Tok::Amp,
            RawTok::AmpAmp => Tok::AmpAmp,
            RawTok::Pipe => Tok::Pipe,
            RawTok::PipePipe => Tok::PipePipe,
            RawTok::Assign => Tok::Assign,
            RawTok::Arrow => Tok::Arrow,
            RawTok::PlusEq => Tok::PlusEq,
            RawTok::Colon => Tok::Colon,
            RawTok::Comma => Tok::Comma,
            RawTok::Semi => Tok::Semi,
            RawTok::LParen => Tok::LParen,
            RawTok::RParen => Tok::RParen,
            RawTok::LBracket => {
                let gap_has_newline =
                    self.prev_ident_end.map(|prev| self.source[prev..start].contains('\n')).unwrap_or(true);
                if gap_has_newline { Tok::LBracket } else { Tok::LIndex }
            }
            RawTok::RBracket => Tok::RBracket,
            RawTok::LBrace => Tok::LBrace,
            RawTok::RBrace => Tok::RBrace,
        }
    }

    fn int_literal(&mut self, text: &str, start: usize, end: usize) -> Tok<'a> {
        // SystemDS's grammar lexes `5L`, but its validator then cannot read it as an integer, so
        // no script that runs on SystemDS has one: report it here, with its place.
        if text.ends_with(['l', 'L']) {
            self.error(
                format!("integer literal `{text}` has an `L` suffix, which DML does not accept"),
                start,
                end,
                "write the number without the suffix",
            );
        }
        let digits = text.trim_end_matches(['l', 'L']);
        match digits.parse::<i64>() {
            Ok(v) => Tok::Int(v),
            Err(_) => {
                self.error(
                    format!("integer literal `{text}` is too large"),
                    start,
                    end,
                    "does not fit in a 64-bit integer",
                );
                Tok::Int(0)
            }
        }
    }

    fn double_literal(&mut self, text: &str, start: usize, end: usize) -> Tok<'a> {
        let trimmed = text.trim_end_matches(['l', 'L']);
        // Rust does not read `1.e5`; DML does.
        let normalised = trimmed.replacen(".e", ".0e", 1).replacen(".E", ".0E", 1);
        match normalised.parse::<f64>() {
            Ok(v) => Tok::Double(v),
            Err(_) => {
                self.error(format!("malformed number `{text}`"), start, end, "not a valid number");
                Tok::Double(0.0)
            }
        }
    }
}

impl<'a> Iterator for Lexer<'a> {
    type Item = Result<Spanned<'a>, SyntaxError>;

    fn next(&mut self) -> Option<Self::Item> {
        let (tok, start, end) = loop {
            let raw = self.inner.next()?;
            let range = self.inner.span();
            let (start, end) = (range.start, range.end);
            match raw {
                Ok(RawTok::LineComment) => self.comment(CommentKind::Line, start, end),
                Ok(RawTok::BlockComment) => self.comment(CommentKind::Block, start, end),
                Ok(raw) => break (self.convert(raw, start, end), start, end),
                // Like SystemDS's ANTLR lexer: report the character and skip it. A shipped builtin
                // (`sliceLineExtract.dml`) has a stray `.` that SystemDS accepts this way.
                Err(()) => {
                    let text = &self.source[start..end];
                    let span = self.span(start, end);
                    let mut warning = SyntaxError::new(
                        format!("unexpected character `{text}` (skipped)"),
                        span,
                        "not valid in DML",
                    );
                    warning.is_warning = true;
                    self.errors.push(warning);
                }
            }
        };
        self.prev_ident_end = matches!(tok, Tok::Ident(_) | Tok::NsIdent(_)).then_some(end);
        Some(Ok((start, tok, end)))
    }
}

/// Unescapes the text between the quotes the way SystemDS does, and reports invalid escapes.
///
/// SystemDS (checked with 3.4.0) lexes `\b \t \n \f \r \" \' \\` as escapes but then replaces only
/// `\b \t \n \f \r \" \'`, one after the other over the whole text; `\\` stays two backslashes.
/// So `"a\\b"` prints `a\` followed by a backspace, and `"c\\"` prints `c\\`. We do the same.
/// Returns the value and the (offset, length) of every invalid escape.
pub fn unescape(raw: &str) -> (String, Vec<(usize, usize)>) {
    let mut bad = vec![];
    let mut chars = raw.char_indices();
    while let Some((i, c)) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some((_, 'b' | 't' | 'n' | 'f' | 'r' | '"' | '\'' | '\\')) => {}
                Some((_, other)) => bad.push((i, 1 + other.len_utf8())),
                None => bad.push((i, 1)),
            }
        }
    }
    let mut value = raw.to_string();
    for (escape, replacement) in [
        ("\\b", "\u{8}"),
        ("\\t", "\t"),
        ("\\n", "\n"),
        ("\\f", "\u{c}"),
        ("\\r", "\r"),
        ("\\\"", "\""),
        ("\\'", "'"),
    ] {
        if value.contains(escape) {
            value = value.replace(escape, replacement);
        }
    }
    (value, bad)
}

/// Lexes `source` completely: every token (invalid input as [`Tok::Invalid`]) and every error.
pub fn tokenize(source: &str, file: FileId) -> (Vec<Spanned<'_>>, Vec<SyntaxError>) {
    let mut lexer = Lexer::new(source, file);
    let mut tokens = vec![];
    tokens.extend(lexer.by_ref().flatten());
    (tokens, lexer.into_errors())
}

/// Like [`tokenize`], and also returns every comment in source order.
pub fn tokenize_with_comments(
    source: &str,
    file: FileId,
) -> (Vec<Spanned<'_>>, Vec<Comment>, Vec<SyntaxError>) {
    let mut lexer = Lexer::new(source, file).keep_comments();
    let mut tokens = vec![];
    tokens.extend(lexer.by_ref().flatten());
    let comments = lexer.take_comments();
    (tokens, comments, lexer.into_errors())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(src: &str) -> Vec<Tok<'_>> {
        tokenize(src, FileId(0)).0.into_iter().map(|(_, t, _)| t).collect()
    }

    #[test]
    fn numbers() {
        assert_eq!(
            toks("1 5L 1.5 1. .5 1e-3 2E5"),
            vec![
                Tok::Int(1),
                Tok::Int(5),
                Tok::Double(1.5),
                Tok::Double(1.0),
                Tok::Double(0.5),
                Tok::Double(1e-3),
                Tok::Double(2e5)
            ]
        );
    }

    #[test]
    fn names_and_keywords() {
        assert_eq!(
            toks("as.matrix ns::f iff if $x $1"),
            vec![
                Tok::Ident("as.matrix"),
                Tok::NsIdent("ns::f"),
                Tok::Ident("iff"),
                Tok::If,
                Tok::CmdArg("x"),
                Tok::CmdArg("1")
            ]
        );
    }

    #[test]
    fn index_bracket_only_on_same_line() {
        assert_eq!(
            toks("X[1]\nY\n[a]"),
            vec![
                Tok::Ident("X"),
                Tok::LIndex,
                Tok::Int(1),
                Tok::RBracket,
                Tok::Ident("Y"),
                Tok::LBracket,
                Tok::Ident("a"),
                Tok::RBracket
            ]
        );
    }

    #[test]
    fn escapes_follow_systemds() {
        assert_eq!(unescape(r"a\\b").0, "a\\\u{8}");
        assert_eq!(unescape(r"c\\").0, "c\\\\");
        assert_eq!(unescape(r#"q\"x\tz"#).0, "q\"x\tz");
        assert_eq!(unescape(r"a\qb").1, vec![(1, 2)]);
    }

    #[test]
    fn comments_are_kept_apart_from_tokens() {
        let src = "x = 1 # one  \r\n/* two\n lines */ y # three\n[a] = f() /**/";
        let (tokens, comments, errs) = tokenize_with_comments(src, FileId(0));
        assert!(errs.is_empty());
        assert_eq!(tokens, tokenize(src, FileId(0)).0);
        let texts: Vec<&str> = comments.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(texts, ["# one", "/* two\n lines */", "# three", "/**/"]);
        let kinds: Vec<CommentKind> = comments.iter().map(|c| c.kind).collect();
        use CommentKind::{Block, Line};
        assert_eq!(kinds, [Line, Block, Line, Block]);
        for c in &comments {
            assert_eq!(&src[c.span.range()], c.text);
        }
        // A comment between a name and `[` on the next line does not make the `[` an index.
        assert_eq!(toks("y # c\n[a]")[1], Tok::LBracket);
        assert_eq!(toks("y /* c */[a]")[1], Tok::LIndex);
    }

    #[test]
    fn errors_have_spans() {
        let (_, errs) = tokenize("x = 99999999999999999999 @", FileId(0));
        assert_eq!(errs.len(), 2);
        assert_eq!(errs[0].span.range(), 4..24);
        assert_eq!(errs[1].span.range(), 25..26);
    }
}
