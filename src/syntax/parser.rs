//! The parser: runs the LALRPOP-generated grammar over the lexer and turns every problem into a
//! [`Diagnostic`].
//!
//! Parsing never stops at the first error: the grammar recovers at statement boundaries (`!` in
//! `TopItem`/`BlockItem`), lexical errors are recorded by the lexer while the parser goes on, and
//! grammar actions record problems such as `source` without `as`. All of them are returned sorted
//! by position.

use crate::diagnostics::Diagnostic;
use crate::syntax::ast::{FileId, Program, Span};
use crate::syntax::lexer::{Comment, Spanned, SyntaxError, Tok, tokenize, tokenize_with_comments};
use lalrpop_util::{ErrorRecovery, ParseError};

lalrpop_util::lalrpop_mod!(
    #[allow(clippy::all, clippy::pedantic, unused_parens, dead_code)]
    grammar,
    "/dml.rs"
);

/// At most this many diagnostics are reported for one file; later ones are mostly noise.
const MAX_ERRORS: usize = 20;

type Recovered<'a> = ErrorRecovery<usize, Tok<'a>, SyntaxError>;

/// Parses one DML script. Returns the program, or every syntax error found (at least one).
/// Warnings (skipped characters) are dropped; use [`parse_with_diagnostics`] to see them.
pub fn parse_program(src: &str, file: FileId) -> Result<Program, Vec<Diagnostic>> {
    match parse_with_diagnostics(src, file) {
        (Some(program), _) => Ok(program),
        (None, diags) => Err(diags),
    }
}

/// Parses one DML script and also returns its comments, in source order (see
/// [`crate::syntax::pretty::print_program_with_comments`]). The tree is the one
/// [`parse_program`] gives: comments never reach the parser.
pub fn parse_program_with_comments(
    src: &str,
    file: FileId,
) -> Result<(Program, Vec<Comment>), Vec<Diagnostic>> {
    match parse(src, file, true) {
        (Some(program), _, comments) => Ok((program, comments)),
        (None, diags, _) => Err(diags),
    }
}

/// Parses one DML script and returns every diagnostic, warnings included. The program is `Some`
/// exactly when no diagnostic is an error.
pub fn parse_with_diagnostics(src: &str, file: FileId) -> (Option<Program>, Vec<Diagnostic>) {
    let (program, diags, _) = parse(src, file, false);
    (program, diags)
}

/// The parser behind the public entry points; the comments are collected only when asked for.
fn parse(src: &str, file: FileId, keep_comments: bool) -> (Option<Program>, Vec<Diagnostic>, Vec<Comment>) {
    let (tokens, comments, lex_errors) = if keep_comments {
        tokenize_with_comments(src, file)
    } else {
        let (tokens, lex_errors) = tokenize(src, file);
        (tokens, vec![], lex_errors)
    };
    let (program, diags) = parse_tokens(src, file, tokens, lex_errors);
    (program, diags, comments)
}

fn parse_tokens<'a>(
    src: &'a str,
    file: FileId,
    tokens: Vec<Spanned<'a>>,
    lex_errors: Vec<SyntaxError>,
) -> (Option<Program>, Vec<Diagnostic>) {
    let mut recovered: Vec<Recovered<'_>> = vec![];
    if let Some(too_deep) = nesting_guard(src, &tokens, file) {
        return (None, vec![to_diagnostic(too_deep)]);
    }
    let result = grammar::ProgramParser::new().parse(file, &mut recovered, tokens.into_iter().map(Ok));

    let mut parse_errors: Vec<ParseError<usize, Tok<'_>, SyntaxError>> =
        recovered.into_iter().map(|r| r.error).collect();
    let program = match result {
        Ok(p) => Some(p),
        Err(e) => {
            parse_errors.push(e);
            None
        }
    };
    if lex_errors.is_empty() && parse_errors.is_empty() {
        return match program {
            Some(p) => (Some(p), vec![]),
            None => (None, vec![Diagnostic::error("the parser failed without a reason")]),
        };
    }
    let context = ErrorContext::new(src, file, &lex_errors);
    let mut grammar_errors: Vec<SyntaxError> =
        parse_errors.into_iter().filter_map(|e| context.convert(e)).collect();
    grammar_errors.sort_by_key(|e| (e.span.start, e.span.end));
    let mut errors: Vec<SyntaxError> = lex_errors;
    errors.extend(context.drop_cascades(grammar_errors));
    errors.sort_by_key(|e| (e.span.start, e.span.end));
    errors.dedup_by(|a, b| a.span == b.span);
    errors.truncate(MAX_ERRORS);
    let has_error = errors.iter().any(|e| !e.is_warning);
    let diags = errors.into_iter().map(to_diagnostic).collect();
    (if has_error { None } else { program }, diags)
}

/// Deepest bracket nesting accepted.
const MAX_BRACKET_DEPTH: usize = 500;
/// Most operators and nested statements accepted in one statement-level run of tokens.
const MAX_CHAIN: usize = 5_000;

/// Rejects input whose tree would be so deep that walking or dropping it could overflow the
/// stack (the tree types are recursive and every later stage walks them recursively). The
/// parser itself is iterative; this guard keeps the rest of the engine safe. A "run" ends at
/// `;`, at a brace, or at a newline outside brackets after a token that can end an expression.
fn nesting_guard(src: &str, tokens: &[Spanned<'_>], file: FileId) -> Option<SyntaxError> {
    let mut depth = 0usize;
    let mut chain = 0usize;
    let mut prev_end: Option<(usize, bool)> = None;
    for (start, tok, end) in tokens {
        if let Some((p_end, ends_expr)) = prev_end
            && depth == 0
            && ends_expr
            && src.get(p_end..*start).is_some_and(|gap| gap.contains('\n'))
        {
            chain = 0;
        }
        match tok {
            Tok::LParen | Tok::LIndex | Tok::LBracket => depth += 1,
            Tok::RParen | Tok::RBracket => depth = depth.saturating_sub(1),
            Tok::Semi | Tok::LBrace | Tok::RBrace => chain = 0,
            _ => {}
        }
        if !matches!(tok, Tok::Ident(_) | Tok::Int(_) | Tok::Double(_) | Tok::Str(_) | Tok::Comma) {
            chain += 1;
        }
        let span = Span::new(file, *start, *end);
        if depth > MAX_BRACKET_DEPTH {
            return Some(SyntaxError::new(
                "brackets nested too deeply",
                span,
                format!("more than {MAX_BRACKET_DEPTH} levels"),
            ));
        }
        if chain > MAX_CHAIN {
            return Some(SyntaxError::new(
                "statement too complex",
                span,
                format!("more than {MAX_CHAIN} operators or nested statements"),
            ));
        }
        let ends_expr = matches!(
            tok,
            Tok::Ident(_)
                | Tok::Int(_)
                | Tok::Double(_)
                | Tok::Str(_)
                | Tok::CmdArg(_)
                | Tok::True
                | Tok::False
                | Tok::RParen
                | Tok::RBracket
        );
        prev_end = Some((*end, ends_expr));
    }
    None
}

/// Turns a [`SyntaxError`] into a [`Diagnostic`].
pub fn to_diagnostic(e: SyntaxError) -> Diagnostic {
    let base = if e.is_warning { Diagnostic::warning(e.message) } else { Diagnostic::error(e.message) };
    let mut d = base.with_primary(e.span, e.label);
    if let Some((span, label)) = e.secondary {
        d = d.with_secondary(span, label);
    }
    for n in e.notes {
        d = d.with_note(n);
    }
    d
}

/// What is needed to explain a LALRPOP error: the source, and where brackets were left open.
struct ErrorContext<'a> {
    src: &'a str,
    file: FileId,
    /// Opening brackets that are never closed (or closed by the wrong kind), with their offsets.
    unclosed: Vec<(usize, char)>,
    /// A lexical error running to the end of the file (unterminated string or comment).
    lex_error_reaches_eof: bool,
    /// Offsets of closing brackets that match no opening bracket.
    stray_closers: Vec<usize>,
    /// Start and end offsets of every token, for "what came before the error".
    tokens: Vec<(usize, Tok<'a>, usize)>,
}

impl<'a> ErrorContext<'a> {
    fn new(src: &'a str, file: FileId, lex_errors: &[SyntaxError]) -> Self {
        let (tokens, _) = tokenize(src, file);
        let mut stack: Vec<(usize, char)> = vec![];
        let mut unclosed = vec![];
        let mut stray_closers = vec![];
        for (start, tok, _) in &tokens {
            match tok {
                Tok::LParen => stack.push((*start, '(')),
                Tok::LIndex | Tok::LBracket => stack.push((*start, '[')),
                Tok::LBrace => stack.push((*start, '{')),
                Tok::RParen | Tok::RBracket | Tok::RBrace => {
                    let want = match tok {
                        Tok::RParen => '(',
                        Tok::RBracket => '[',
                        _ => '{',
                    };
                    // Pop up to the matching opener; anything popped on the way was never closed.
                    if let Some(pos) = stack.iter().rposition(|(_, c)| *c == want) {
                        unclosed.extend(stack.drain(pos + 1..));
                        stack.pop();
                    } else {
                        stray_closers.push(*start);
                    }
                }
                _ => {}
            }
        }
        unclosed.extend(stack);
        unclosed.sort();
        let lex_error_reaches_eof = lex_errors.iter().any(|e| {
            e.message.starts_with("unterminated string") || e.message.starts_with("unterminated block")
        });
        ErrorContext { src, file, unclosed, lex_error_reaches_eof, stray_closers, tokens }
    }

    fn line_of(&self, offset: usize) -> usize {
        let end = offset.min(self.src.len());
        self.src.as_bytes()[..end].iter().filter(|b| **b == b'\n').count()
    }

    /// Drops errors that are most likely consequences of an earlier one (sorted input): a second
    /// error on the same line, or an unexpected closing bracket that does match an opening one
    /// (the parser lost track of it while recovering).
    fn drop_cascades(&self, errors: Vec<SyntaxError>) -> Vec<SyntaxError> {
        let mut kept: Vec<SyntaxError> = vec![];
        for e in errors {
            if let Some(prev) = kept.last() {
                let start = e.span.start as usize;
                if self.line_of(prev.span.start as usize) == self.line_of(start) {
                    continue;
                }
                let at_closer = matches!(self.src.as_bytes().get(start), Some(b')' | b']' | b'}'))
                    && e.message.starts_with("unexpected `");
                if at_closer && !self.stray_closers.contains(&start) {
                    continue;
                }
            }
            kept.push(e);
        }
        kept
    }

    /// Whether the token just before `offset` can end an expression (so an operator could follow).
    fn follows_expression(&self, offset: usize) -> bool {
        let prev = self.tokens.iter().rev().find(|(_, _, end)| *end <= offset);
        matches!(
            prev,
            Some((
                _,
                Tok::Ident(_)
                    | Tok::Int(_)
                    | Tok::Double(_)
                    | Tok::Str(_)
                    | Tok::CmdArg(_)
                    | Tok::True
                    | Tok::False
                    | Tok::RParen
                    | Tok::RBracket,
                _
            ))
        )
    }

    fn span(&self, start: usize, end: usize) -> Span {
        Span::new(self.file, start, end)
    }

    /// Converts one LALRPOP error; `None` when it only repeats a lexical error.
    fn convert(&self, e: ParseError<usize, Tok<'_>, SyntaxError>) -> Option<SyntaxError> {
        match e {
            ParseError::User { error } => Some(error),
            ParseError::InvalidToken { location } => {
                Some(SyntaxError::new("invalid token", self.span(location, location), "not valid here"))
            }
            ParseError::UnrecognizedToken { token: (_, Tok::Invalid, _), .. } => None,
            ParseError::UnrecognizedToken { token: (start, tok, end), expected } => {
                let mut err = SyntaxError::new(
                    format!("unexpected {}", tok.describe()),
                    self.span(start, end),
                    expected_label(&expected, self.follows_expression(start)),
                );
                if let Tok::Function | Tok::ExternalFunction = tok {
                    err = err.with_note("functions can only be defined at the top level of a script");
                }
                if let Tok::Else = tok {
                    err = err.with_note("`else` must directly follow the body of an `if`");
                }
                if let Tok::Colon = tok {
                    err = err.with_note(
                        "`:` is only allowed inside index brackets and `for` headers; use seq(from, to) for a sequence",
                    );
                }
                self.attach_unclosed(&mut err, start);
                Some(err)
            }
            ParseError::UnrecognizedEof { location, expected } => {
                if self.lex_error_reaches_eof {
                    return None;
                }
                let at = location.min(self.src.len());
                let mut err = SyntaxError::new(
                    "unexpected end of file",
                    self.span(at, at),
                    expected_label(&expected, self.follows_expression(at)),
                );
                self.attach_unclosed(&mut err, at);
                Some(err)
            }
            ParseError::ExtraToken { token: (start, tok, end) } => Some(SyntaxError::new(
                format!("unexpected {}", tok.describe()),
                self.span(start, end),
                "expected the end of the file",
            )),
        }
    }

    /// Labels the innermost bracket opened before `at` that is never closed.
    fn attach_unclosed(&self, err: &mut SyntaxError, at: usize) {
        if let Some((pos, c)) = self.unclosed.iter().rev().find(|(pos, _)| *pos < at) {
            err.secondary = Some((self.span(*pos, pos + 1), format!("unclosed `{c}` opened here")));
        }
    }
}

/// A short human list of what the parser expected, from LALRPOP's terminal names.
///
/// LALRPOP lists only the tokens the failing state could shift; when the error comes right after
/// an expression, `after_expression` adds "an operator", which is usually what was missing.
fn expected_label(expected: &[String], after_expression: bool) -> String {
    const EXPR_START: &[&str] = &["Ident", "Int", "Double", "Str", "\"(\"", "\"-\"", "\"!\"", "CmdArg"];
    const OPERATORS: &[&str] =
        &["\"+\"", "\"*\"", "\"%*%\"", "\"^\"", "\"==\"", "\"&\"", "\"|\"", "\"<\"", "\"/\""];
    const STATEMENT_START: &[&str] = &["\"if\"", "\"for\"", "\"while\"", "\"source\""];
    let has = |s: &str| expected.iter().any(|e| e == s);
    let is_expr = EXPR_START.iter().filter(|s| has(s)).count() >= 5;
    let is_op = OPERATORS.iter().filter(|s| has(s)).count() >= 5;
    let is_stmt = STATEMENT_START.iter().all(|s| has(s));

    let mut items: Vec<String> = vec![];
    if is_stmt {
        items.push("a statement".into());
    }
    if is_expr && !is_stmt {
        items.push("an expression".into());
    }
    if is_op {
        items.push("an operator".into());
    }
    let covered = |e: &str| {
        (is_stmt
            && (STATEMENT_START.contains(&e)
                || matches!(e, "\"parfor\"" | "\"setwd\"" | "\"[\"" | "Ident" | "NsIdent")))
            || (is_expr && (EXPR_START.contains(&e) || is_expression_token(e)))
            || (is_op && (OPERATORS.contains(&e) || is_operator_token(e)))
    };
    for e in expected {
        if covered(e) {
            continue;
        }
        items.push(terminal_name(e));
    }
    // After a loop variable (`in` expected) or a multi-assignment's `=` (a call expected), an
    // operator is not what is missing.
    let operator_fits = !(has("\"in\"") || (expected.len() == 1 && has("\"(\"")));
    if after_expression && !is_op && operator_fits {
        items.push("an operator".into());
    }
    items.dedup();
    match items.len() {
        0 => "unexpected here".to_string(),
        1 => format!("expected {}", items[0]),
        n if n > 8 => format!("expected one of {}, …", items[..8].join(", ")),
        _ => format!("expected one of {}", items.join(", ")),
    }
}

fn is_expression_token(e: &str) -> bool {
    matches!(e, "\"TRUE\"" | "\"FALSE\"" | "\"+\"" | "\"[\"" | "\"ifdef\"" | "NsIdent")
}

fn is_operator_token(e: &str) -> bool {
    matches!(
        e,
        "\"-\"" | "\"%/%\"" | "\"%%\"" | "\"<=\"" | "\">\"" | "\">=\"" | "\"!=\"" | "\"&&\"" | "\"||\""
    )
}

/// How a terminal of the grammar is shown to the user.
fn terminal_name(e: &str) -> String {
    match e {
        "Ident" => "an identifier".into(),
        "NsIdent" => "a namespaced name".into(),
        "CmdArg" => "a `$` argument".into(),
        "Int" | "Double" => "a number".into(),
        "Str" => "a string".into(),
        "\"idx[\"" => "`[`".into(),
        "Invalid" => "valid input".into(),
        quoted => format!("`{}`", quoted.trim_matches('"')),
    }
}

/// Small constructors used by the grammar actions; kept here so the grammar stays readable.
pub(crate) mod helpers {
    use crate::syntax::ast::*;
    use crate::syntax::lexer::{SyntaxError, Tok};
    use lalrpop_util::{ErrorRecovery, ParseError};

    pub type Errors<'a> = Vec<ErrorRecovery<usize, Tok<'a>, SyntaxError>>;

    pub fn span(file: FileId, l: usize, r: usize) -> Span {
        Span::new(file, l, r)
    }

    pub fn stmt(file: FileId, l: usize, r: usize, kind: StmtKind) -> Stmt {
        Stmt { kind, span: span(file, l, r) }
    }

    pub fn expr(file: FileId, l: usize, r: usize, kind: ExprKind) -> Expr {
        Expr { kind, span: span(file, l, r) }
    }

    pub fn bin(op: BinaryOp, lhs: Expr, rhs: Expr) -> Expr {
        let span = lhs.span.to(rhs.span);
        Expr { kind: ExprKind::Binary { op, lhs: Box::new(lhs), rhs: Box::new(rhs) }, span }
    }

    pub fn unary(file: FileId, l: usize, op: UnaryOp, e: Expr) -> Expr {
        let span = span(file, l, e.span.end as usize);
        Expr { kind: ExprKind::Unary { op, expr: Box::new(e) }, span }
    }

    fn push_error(errors: &mut Errors<'_>, error: SyntaxError) {
        errors.push(ErrorRecovery { error: ParseError::User { error }, dropped_tokens: vec![] });
    }

    /// `ns::f(args)`: splits the one-token name.
    pub fn ns_call(file: FileId, l: usize, text: &str, name_end: usize, r: usize, args: Vec<Arg>) -> Expr {
        let (ns, name) = text.split_once("::").unwrap_or(("", text));
        let ns_end = l + ns.len();
        let namespace = Ident { name: ns.to_string(), span: span(file, l, ns_end) };
        let name = Ident { name: name.to_string(), span: span(file, name_end - name.len(), name_end) };
        expr(file, l, r, ExprKind::Call { namespace: Some(namespace), name, args })
    }

    /// The iteration space of a `for` header that is not `a:b`: must be `seq(from, to[, incr])`.
    pub fn iterable_from_call(e: Expr, errors: &mut Errors<'_>) -> Iterable {
        if let ExprKind::Call { namespace: None, name, args } = &e.kind
            && name.name == "seq"
            && (2..=3).contains(&args.len())
            && args.iter().all(|a| a.name.is_none())
        {
            let mut values = args.iter().map(|a| a.value.clone());
            if let (Some(from), Some(to)) = (values.next(), values.next()) {
                return Iterable::Seq { from, to, incr: values.next() };
            }
        }
        push_error(
            errors,
            SyntaxError::new(
                "a loop must iterate over `from:to` or `seq(from, to[, incr])`",
                e.span,
                "not a range",
            ),
        );
        let placeholder = Expr { kind: ExprKind::Int(0), span: e.span };
        Iterable::Range { from: placeholder.clone(), to: placeholder }
    }

    /// `source("f")` without `as ns`: an error with a hint, parsing goes on.
    pub fn source_without_as(
        file: FileId,
        l: usize,
        r: usize,
        path: String,
        path_span: Span,
        errors: &mut Errors<'_>,
    ) -> StmtKind {
        push_error(
            errors,
            SyntaxError::new("`source` needs a namespace", span(file, l, r), "missing `as <namespace>`")
                .with_note(format!(
                    "write `source(\"{path}\") as name` and call its functions as `name::f(...)`"
                )),
        );
        StmtKind::Source { path, path_span, namespace: Ident { name: String::new(), span: span(file, r, r) } }
    }

    /// `matrix[double]` and friends; the data-type word is an ordinary identifier.
    pub fn type_spec(
        file: FileId,
        (l, word, r): (usize, &str, usize),
        value: Result<ValueType, (usize, &str, usize)>,
        errors: &mut Errors<'_>,
    ) -> TypeSpec {
        let data = match word {
            "matrix" | "Matrix" => DataType::Matrix,
            "frame" | "Frame" => DataType::Frame,
            "list" | "List" => DataType::List,
            "scalar" | "Scalar" => DataType::Scalar,
            "tensor" | "Tensor" => DataType::Tensor,
            other => {
                push_error(
                    errors,
                    SyntaxError::new(
                        format!("unknown data type `{other}`"),
                        span(file, l, r),
                        "expected matrix, frame, list, scalar or tensor",
                    ),
                );
                DataType::Matrix
            }
        };
        let value = value.unwrap_or_else(|(l, w, r)| {
            push_error(errors, unknown_value_type(file, l, w, r));
            ValueType::Unknown
        });
        TypeSpec { data, value }
    }

    /// A parameter type that is a bare identifier: only value types may stand alone.
    pub fn bare_type_word(
        file: FileId,
        (l, word, r): (usize, &str, usize),
        errors: &mut Errors<'_>,
    ) -> TypeSpec {
        push_error(errors, unknown_value_type(file, l, word, r));
        TypeSpec { data: DataType::Scalar, value: ValueType::Unknown }
    }

    fn unknown_value_type(file: FileId, l: usize, word: &str, r: usize) -> SyntaxError {
        let hint = match word {
            "bool" => "did you mean `boolean`?",
            "str" => "did you mean `string`?",
            "float" | "real" | "numeric" => "did you mean `double`?",
            "long" => "did you mean `int`?",
            _ => "expected int, double, string, boolean or unknown, or a type like matrix[double]",
        };
        SyntaxError::new(format!("unknown type `{word}`"), span(file, l, r), hint)
    }

    /// The head of a loop, waiting for its body.
    pub enum LoopHead {
        For(Ident, Iterable, Vec<Arg>),
        ParFor(Ident, Iterable, Vec<Arg>),
        While(Expr),
    }

    impl LoopHead {
        pub fn into_stmt(self, file: FileId, l: usize, r: usize, body: Vec<Stmt>) -> Stmt {
            let kind = match self {
                LoopHead::For(var, iter, params) => StmtKind::For { var, iter, params, body },
                LoopHead::ParFor(var, iter, params) => StmtKind::ParFor { var, iter, params, body },
                LoopHead::While(cond) => StmtKind::While { cond, body },
            };
            stmt(file, l, r, kind)
        }
    }
}
