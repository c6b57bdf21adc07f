//! Prints an AST back as canonical DML: 2-space indentation, braces always, one statement per
//! line, and only the parentheses the precedence table needs.
//!
//! Printing then re-parsing gives the same tree (spans aside) for every tree the parser can
//! produce. Two kinds of value have no exact source form and are printed as close as possible:
//! negative number literals (the parser never folds signs, so `-5` comes back as a negation) and
//! strings containing a backslash (SystemDS keeps `\\` as two characters, see
//! [`crate::syntax::lexer::unescape`]).
//!
//! # Comments and blank lines (`dml fmt`)
//!
//! [`print_program`] prints the tree alone. [`print_program_with_comments`] (and [`format_source`],
//! which is `dml fmt`) also puts back the comments of the source the tree was parsed from, and its
//! blank lines. Every comment is printed exactly once, in source order, with its text unchanged
//! (a line comment loses only its trailing white space; a block comment is kept verbatim, the
//! lines after its first included). Where a comment goes:
//!
//! - **Own line.** A comment that starts a line of its own is printed on its own line, at the
//!   indentation of the statement that follows it in the same block, or, at the end of a block
//!   (before `}`) or of the file, at the indentation of the block's statements.
//! - **Trailing.** A comment that follows a statement on the statement's last line stays on that
//!   line, after two spaces: `x = 1  # note` (several comments on the line: one space between
//!   them). A comment after an opening `{` on its line stays after the `{`: `if (c) {  # note`.
//! - **Blank lines.** One or more blank lines between two statements or comments of a block
//!   become exactly one; blank lines right after `{`, before `}` and at the start or end of the
//!   file are dropped.
//! - **Moved, never lost.** A comment inside a statement (in a multi-line expression, or in the
//!   head of an `if`, a loop or a function definition, before its `{`) is printed on its own line
//!   just before the statement. A comment between `}` and `else`, or in the condition of an
//!   `else if`, is printed at the top of the block that follows. A block comment followed by
//!   code on the same line gets a line of its own. `else { if ... }` prints as `else if ...`
//!   only when no comment sits inside those braces around the inner `if`.
//!
//! The result is a fixed point: formatting it again gives the same text.

use crate::diagnostics::Diagnostic;
use crate::syntax::ast::*;
use crate::syntax::lexer::{Comment, Tok, tokenize, unescape};
use crate::syntax::parser::parse_program_with_comments;
use std::fmt::Write;

/// Precedence levels as the grammar sees them; higher binds tighter.
const PREC_NOT: u8 = 3;
const PREC_SIGN: u8 = 9;
const PREC_ATOM: u8 = 11;

/// Prints the tree alone: no comments, no blank lines.
pub fn print_program(program: &Program) -> String {
    let mut p = Printer { out: String::new(), layout: None };
    p.print_block(&program.body, 0, None, usize::MAX);
    p.out
}

/// Prints `program` with the comments and blank lines of `src`, the text it was parsed from
/// (with [`parse_program_with_comments`], which also gives `comments`). See the module
/// documentation for where comments go.
pub fn print_program_with_comments(program: &Program, comments: &[Comment], src: &str) -> String {
    let layout = Layout::new(src, comments);
    let mut p = Printer { out: String::new(), layout: Some(layout) };
    p.print_block(&program.body, 0, Some(usize::MAX), usize::MAX);
    p.out
}

/// `dml fmt`: the canonical form of a script, comments included; the diagnostics when it does
/// not parse.
pub fn format_source(src: &str, file: FileId) -> Result<String, Vec<Diagnostic>> {
    let (program, comments) = parse_program_with_comments(src, file)?;
    Ok(print_program_with_comments(&program, &comments, src))
}

pub fn print_expr(e: &Expr) -> String {
    let mut out = String::new();
    write_expr(&mut out, e, 0);
    out
}

fn indent(out: &mut String, level: usize) {
    for _ in 0..level {
        out.push_str("  ");
    }
}

/// What the comment-preserving printer knows about the source besides the tree.
struct Layout<'a> {
    src: &'a str,
    comments: &'a [Comment],
    /// Index in `comments` of the first comment not printed yet.
    next: usize,
    /// Every `{` with its matching `}` (start offsets), in source order.
    braces: Vec<(usize, usize)>,
    /// Start offsets of the `else` keywords.
    elses: Vec<usize>,
    /// End offsets of all tokens, in source order.
    token_ends: Vec<usize>,
    /// End offset of the last thing printed (statement, comment or `{`), for blank lines.
    last_end: usize,
}

impl<'a> Layout<'a> {
    fn new(src: &'a str, comments: &'a [Comment]) -> Self {
        let (tokens, _) = tokenize(src, FileId::default());
        let mut braces = vec![];
        let mut elses = vec![];
        let mut open: Vec<usize> = vec![];
        let token_ends = tokens.iter().map(|(_, _, end)| *end).collect();
        for (start, tok, _) in &tokens {
            match tok {
                Tok::LBrace => {
                    open.push(braces.len());
                    braces.push((*start, usize::MAX));
                }
                Tok::RBrace => {
                    if let Some(i) = open.pop() {
                        braces[i].1 = *start;
                    }
                }
                Tok::Else => elses.push(*start),
                _ => {}
            }
        }
        Layout { src, comments, next: 0, braces, elses, token_ends, last_end: 0 }
    }

    /// Where statement `s` really ends: the end of its last token. (A statement that ends with a
    /// block has a span running up to the next token, over white space and comments.)
    fn stmt_end(&self, s: &Stmt) -> usize {
        let end = s.span.end as usize;
        let i = self.token_ends.partition_point(|e| *e <= end);
        if i == 0 { end } else { self.token_ends[i - 1] }
    }

    /// The next comment to print, when it starts before `before`.
    fn pending_before(&self, before: usize) -> Option<&'a Comment> {
        self.comments.get(self.next).filter(|c| (c.span.start as usize) < before)
    }

    /// Whether a comment not printed yet starts in `from..to`.
    fn has_comment_in(&self, from: usize, to: usize) -> bool {
        let rest = &self.comments[self.next..];
        let i = rest.partition_point(|c| (c.span.start as usize) < from);
        rest.get(i).is_some_and(|c| (c.span.start as usize) < to)
    }

    /// The braces around a body whose `{` (if any) comes at or after `from`: the first `{` there,
    /// when it comes before the body's first statement (a body without statements is braced).
    fn body_braces(&self, from: usize, body: &[Stmt]) -> Option<(usize, usize)> {
        let first = body.first().map_or(usize::MAX, |s| s.span.start as usize);
        let i = self.braces.partition_point(|(open, _)| *open < from);
        self.braces.get(i).copied().filter(|(open, _)| *open < first)
    }

    /// Whether the source between `from` and `to` holds a blank line.
    fn blank_between(&self, from: usize, to: usize) -> bool {
        let Some(gap) = self.src.get(from..to) else { return false };
        let mut lines = gap.split('\n');
        lines.next();
        let mut lines = lines.peekable();
        while let Some(line) = lines.next() {
            if lines.peek().is_some() && line.trim().is_empty() {
                return true;
            }
        }
        false
    }
}

/// Prints statements; with a [`Layout`] it also prints comments and blank lines.
struct Printer<'a> {
    out: String,
    layout: Option<Layout<'a>>,
}

impl Printer<'_> {
    /// Prints the comments that start before `before` on lines of their own at `level`, with a
    /// blank line before one where the source has one (unless it is the first thing of a block).
    fn own_line_comments(&mut self, before: usize, level: usize, first: &mut bool) {
        let Some(layout) = &mut self.layout else { return };
        while let Some(c) = layout.pending_before(before) {
            if !*first && layout.blank_between(layout.last_end, c.span.start as usize) {
                self.out.push('\n');
            }
            indent(&mut self.out, level);
            self.out.push_str(&c.text);
            self.out.push('\n');
            layout.last_end = c.span.end as usize;
            layout.next += 1;
            *first = false;
        }
    }

    /// Appends to the current line the comments that follow `anchor` on its source line and start
    /// before `limit`.
    fn trailing_comments(&mut self, anchor: usize, limit: usize) {
        let Some(layout) = &mut self.layout else { return };
        let mut at = anchor;
        let mut separator = "  ";
        while let Some(c) = layout.pending_before(limit) {
            let start = c.span.start as usize;
            if start < at || layout.src.get(at..start).is_none_or(|gap| gap.contains('\n')) {
                break;
            }
            self.out.push_str(separator);
            self.out.push_str(&c.text);
            separator = " ";
            at = c.span.end as usize;
            layout.last_end = at;
            layout.next += 1;
        }
    }

    /// Where the comments that move before statement `s` end: its end for a simple statement,
    /// the `{` (or first statement) of its first body for a compound one.
    fn head_end(&self, s: &Stmt) -> usize {
        let Some(layout) = &self.layout else { return 0 };
        let start = s.span.start as usize;
        let first_body = match &s.kind {
            StmtKind::If { then_body, .. } => then_body,
            StmtKind::For { body, .. } | StmtKind::ParFor { body, .. } | StmtKind::While { body, .. } => body,
            StmtKind::FunctionDef(f) if f.external.is_none() => &f.body,
            _ => return layout.stmt_end(s),
        };
        match layout.body_braces(start, first_body) {
            Some((open, _)) => open,
            None => first_body.first().map_or(layout.stmt_end(s), |b| b.span.start as usize),
        }
    }

    /// The statements of a block at `level`. `close` is the offset of the block's `}` (comments
    /// before it are printed at the end of the block); `limit` bounds the last statement's
    /// trailing comments.
    fn print_block(&mut self, body: &[Stmt], level: usize, close: Option<usize>, limit: usize) {
        let mut first = true;
        for (i, s) in body.iter().enumerate() {
            let start = s.span.start as usize;
            let end = self.layout.as_ref().map_or(0, |l| l.stmt_end(s));
            let next_limit = body.get(i + 1).map_or(limit, |n| n.span.start as usize);
            if self.layout.is_some() {
                self.own_line_comments(start, level, &mut first);
                if let Some(layout) = &self.layout
                    && !first
                    && layout.blank_between(layout.last_end, start)
                {
                    self.out.push('\n');
                }
                let head_end = self.head_end(s);
                let mut moved_first = true;
                self.own_line_comments(head_end, level, &mut moved_first);
            }
            indent(&mut self.out, level);
            self.print_stmt(s, level, next_limit);
            if let Some(layout) = &mut self.layout {
                layout.last_end = layout.last_end.max(end);
            }
            self.trailing_comments(end, next_limit);
            self.out.push('\n');
            first = false;
        }
        if let Some(close) = close {
            self.own_line_comments(close, level, &mut first);
        }
    }

    /// `{`, the body one level deeper, and `}` at the current level (no trailing newline).
    /// `braces` are the body's `{` and `}` in the source, if it had them.
    fn print_braced(&mut self, body: &[Stmt], level: usize, braces: Option<(usize, usize)>, limit: usize) {
        let close = braces.map(|(_, close)| close);
        let has_comments = match (&self.layout, close) {
            (Some(layout), Some(close)) => layout.pending_before(close).is_some(),
            _ => false,
        };
        if body.is_empty() && !has_comments {
            self.out.push_str("{}");
            self.set_last_end(close.map(|c| c.saturating_add(1)));
            return;
        }
        self.out.push('{');
        if let Some((open, close)) = braces {
            self.set_last_end(Some(open + 1));
            let first = body.first().map_or(close, |s| s.span.start as usize);
            self.trailing_comments(open + 1, first);
        }
        self.out.push('\n');
        self.print_block(body, level + 1, close, close.unwrap_or(limit));
        indent(&mut self.out, level);
        self.out.push('}');
        self.set_last_end(close.map(|c| c.saturating_add(1)));
    }

    fn set_last_end(&mut self, end: Option<usize>) {
        if let (Some(layout), Some(end)) = (&mut self.layout, end) {
            layout.last_end = end;
        }
    }

    fn braces_of(&self, from: usize, body: &[Stmt]) -> Option<(usize, usize)> {
        self.layout.as_ref().and_then(|l| l.body_braces(from, body))
    }

    /// Prints `s` without indentation or newline; `limit` bounds the trailing comments of the
    /// last statement of a body without braces.
    fn print_stmt(&mut self, s: &Stmt, level: usize, limit: usize) {
        let start = s.span.start as usize;
        let out = &mut self.out;
        match &s.kind {
            StmtKind::Assign { target, op, value } => {
                match target {
                    AssignTarget::Var(name) => out.push_str(&name.name),
                    AssignTarget::Indexed { name, rows, cols } => {
                        write_index(out, &name.name, rows, cols.as_ref())
                    }
                }
                out.push_str(match op {
                    AssignOp::Eq => " = ",
                    AssignOp::Arrow => " <- ",
                    AssignOp::PlusEq => " += ",
                });
                write_expr(out, value, 0);
            }
            StmtKind::MultiAssign { targets, value } => {
                let names: Vec<&str> = targets.iter().map(|t| t.name.as_str()).collect();
                let _ = write!(out, "[{}] = ", names.join(", "));
                write_expr(out, value, 0);
            }
            StmtKind::Expr(e) => write_expr(out, e, 0),
            StmtKind::If { cond, then_body, else_body } => {
                self.print_if(start, cond, then_body, else_body.as_deref(), level, limit)
            }
            StmtKind::For { var, iter, params, body } => {
                self.print_loop(start, "for", var, iter, params, body, level, limit)
            }
            StmtKind::ParFor { var, iter, params, body } => {
                self.print_loop(start, "parfor", var, iter, params, body, level, limit)
            }
            StmtKind::While { cond, body } => {
                out.push_str("while (");
                write_expr(out, cond, 0);
                out.push_str(") ");
                let braces = self.braces_of(start, body);
                self.print_braced(body, level, braces, limit);
            }
            StmtKind::FunctionDef(f) => self.print_function(start, f, level, limit),
            StmtKind::Source { path, namespace, .. } => {
                let _ = write!(out, "source({}) as {}", quote(path), namespace.name);
            }
            StmtKind::SetWd { path } => {
                let _ = write!(out, "setwd({})", quote(path));
            }
        }
    }

    fn print_if(
        &mut self,
        start: usize,
        cond: &Expr,
        then_body: &[Stmt],
        else_body: Option<&[Stmt]>,
        level: usize,
        limit: usize,
    ) {
        self.out.push_str("if (");
        write_expr(&mut self.out, cond, 0);
        self.out.push_str(") ");
        let then_braces = self.braces_of(start, then_body);
        // Without braces, the last statement's trailing comments end at the `else`.
        let then_end = match then_braces {
            Some((_, close)) => close.saturating_add(1),
            None => match (&self.layout, then_body.last()) {
                (Some(layout), Some(last)) => layout.stmt_end(last),
                _ => start,
            },
        };
        let then_limit = match (&self.layout, else_body) {
            (Some(layout), Some(_)) => {
                let i = layout.elses.partition_point(|e| *e < then_end);
                layout.elses.get(i).copied().unwrap_or(limit)
            }
            _ => limit,
        };
        self.print_braced(then_body, level, then_braces, then_limit);
        let Some(body) = else_body else { return };
        let else_braces = self.braces_of(then_end, body);
        self.out.push_str(" else ");
        match body {
            // `else if` chains stay flat.
            [inner @ Stmt { kind: StmtKind::If { cond, then_body, else_body }, span }]
                if self.may_flatten(else_braces, inner) =>
            {
                let inner_limit = else_braces.map_or(limit, |(_, close)| close);
                self.print_if(span.start as usize, cond, then_body, else_body.as_deref(), level, inner_limit);
                self.set_last_end(else_braces.map(|(_, close)| close.saturating_add(1)));
            }
            body => self.print_braced(body, level, else_braces, limit),
        }
    }

    /// Whether `else { if ... }` may print as `else if ...`: always without comments; with them,
    /// when the braces (if the source has them) hold no comment outside the inner `if`.
    fn may_flatten(&self, else_braces: Option<(usize, usize)>, inner: &Stmt) -> bool {
        let (Some(layout), Some((open, close))) = (&self.layout, else_braces) else { return true };
        let (start, end) = (inner.span.start as usize, layout.stmt_end(inner));
        !(layout.has_comment_in(open + 1, start) || layout.has_comment_in(end, close))
    }

    #[allow(clippy::too_many_arguments)]
    fn print_loop(
        &mut self,
        start: usize,
        keyword: &str,
        var: &Ident,
        iter: &Iterable,
        params: &[Arg],
        body: &[Stmt],
        level: usize,
        limit: usize,
    ) {
        let out = &mut self.out;
        let _ = write!(out, "{keyword} ({} in ", var.name);
        match iter {
            Iterable::Range { from, to } => {
                write_expr(out, from, 0);
                out.push(':');
                write_expr(out, to, 0);
            }
            Iterable::Seq { from, to, incr } => {
                out.push_str("seq(");
                write_expr(out, from, 0);
                out.push_str(", ");
                write_expr(out, to, 0);
                if let Some(incr) = incr {
                    out.push_str(", ");
                    write_expr(out, incr, 0);
                }
                out.push(')');
            }
        }
        for p in params {
            out.push_str(", ");
            write_arg(out, p);
        }
        out.push_str(") ");
        let braces = self.braces_of(start, body);
        self.print_braced(body, level, braces, limit);
    }

    fn print_function(&mut self, start: usize, f: &FunctionDef, level: usize, limit: usize) {
        let out = &mut self.out;
        let keyword = if f.external.is_some() { "externalFunction" } else { "function" };
        let _ = write!(out, "{} = {keyword}(", f.name.name);
        write_params(out, &f.params);
        out.push(')');
        if !f.returns.is_empty() {
            out.push_str(" return (");
            write_params(out, &f.returns);
            out.push(')');
        }
        match &f.external {
            Some(args) => {
                out.push_str(" implemented in (");
                write_args(out, args);
                out.push(')');
            }
            None => {
                out.push(' ');
                let braces = self.braces_of(start, &f.body);
                self.print_braced(&f.body, level, braces, limit);
            }
        }
    }
}

fn write_params(out: &mut String, params: &[Param]) {
    for (i, p) in params.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let _ = write!(out, "{} {}", type_text(p.ty), p.name.name);
        if let Some(d) = &p.default {
            out.push_str(" = ");
            write_expr(out, d, 0);
        }
    }
}

/// `int`, `matrix[double]`: scalars print as their value type alone.
pub fn type_text(ty: TypeSpec) -> String {
    match ty.data {
        DataType::Scalar => ty.value.to_string(),
        data => format!("{data}[{}]", ty.value),
    }
}

fn write_args(out: &mut String, args: &[Arg]) {
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_arg(out, a);
    }
}

fn write_arg(out: &mut String, a: &Arg) {
    if let Some(name) = &a.name {
        let _ = write!(out, "{}=", name.name);
    }
    write_expr(out, &a.value, 0);
}

fn write_index(out: &mut String, name: &str, rows: &IndexSpec, cols: Option<&IndexSpec>) {
    out.push_str(name);
    out.push('[');
    write_index_spec(out, rows);
    if let Some(cols) = cols {
        if matches!(cols, IndexSpec::All) {
            out.push(',');
        } else {
            out.push_str(", ");
        }
        write_index_spec(out, cols);
    }
    out.push(']');
}

fn write_index_spec(out: &mut String, spec: &IndexSpec) {
    match spec {
        IndexSpec::All => {}
        IndexSpec::Single(e) => write_expr(out, e, 0),
        IndexSpec::Range(lo, hi) => {
            write_expr(out, lo, 0);
            out.push(':');
            write_expr(out, hi, 0);
        }
    }
}

/// The binding strength of an expression's outermost operator.
fn precedence(e: &Expr) -> u8 {
    match &e.kind {
        ExprKind::Binary { op, .. } => op.precedence(),
        ExprKind::Unary { op: UnaryOp::Not, .. } => PREC_NOT,
        ExprKind::Unary { .. } => PREC_SIGN,
        ExprKind::Int(v) if *v < 0 => PREC_SIGN,
        ExprKind::Double(v) if v.is_sign_negative() => PREC_SIGN,
        _ => PREC_ATOM,
    }
}

/// Writes `e`, in parentheses when it binds more loosely than its context requires (`min`).
fn write_expr(out: &mut String, e: &Expr, min: u8) {
    let parens = precedence(e) < min;
    if parens {
        out.push('(');
    }
    match &e.kind {
        ExprKind::Int(v) => {
            let _ = write!(out, "{v}");
        }
        ExprKind::Double(v) => out.push_str(&double_text(*v)),
        ExprKind::Bool(b) => out.push_str(if *b { "TRUE" } else { "FALSE" }),
        ExprKind::Str(s) => out.push_str(&quote(s)),
        ExprKind::Ident(name) => out.push_str(name),
        ExprKind::CmdArg(name) => {
            let _ = write!(out, "${name}");
        }
        ExprKind::IfDef { param, default } => {
            let _ = write!(out, "ifdef(${param}, ");
            write_expr(out, default, 0);
            out.push(')');
        }
        ExprKind::Unary { op, expr } => {
            out.push_str(op.symbol());
            let operand_min = if *op == UnaryOp::Not { PREC_NOT } else { PREC_SIGN };
            // `- -x` must not print as `--x` (which still lexes, but reads badly).
            if matches!(&expr.kind, ExprKind::Unary { op: UnaryOp::Neg | UnaryOp::Pos, .. }) {
                out.push(' ');
            }
            write_expr(out, expr, operand_min);
        }
        ExprKind::Binary { op, lhs, rhs } => {
            let p = op.precedence();
            let (lhs_min, rhs_min) = if *op == BinaryOp::Pow {
                // Right-associative, and the base must be an atom: `(-2)^2`, `(a^b)^c`.
                (PREC_ATOM, PREC_SIGN)
            } else {
                (p, p + 1)
            };
            write_expr(out, lhs, lhs_min);
            if *op == BinaryOp::Pow {
                out.push('^');
            } else {
                let _ = write!(out, " {} ", op.symbol());
            }
            write_expr(out, rhs, rhs_min);
        }
        ExprKind::Call { namespace, name, args } => {
            if let Some(ns) = namespace {
                let _ = write!(out, "{}::", ns.name);
            }
            out.push_str(&name.name);
            out.push('(');
            write_args(out, args);
            out.push(')');
        }
        ExprKind::Index { name, rows, cols } => write_index(out, &name.name, rows, cols.as_deref()),
        ExprKind::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_expr(out, item, 0);
            }
            out.push(']');
        }
    }
    if parens {
        out.push(')');
    }
}

/// A double in a form that lexes back as a double with the same value (`1.0`, `1e-7`, `Inf`).
pub fn double_text(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Inf".into() } else { "-Inf".into() };
    }
    // Rust's `Debug` is the shortest text that reads back exactly, and always has `.` or `e`.
    format!("{v:?}")
}

/// A string literal that the lexer reads back as `s`.
///
/// SystemDS keeps `\\` as two backslashes, so backslashes are first tried verbatim (that is how
/// regexes such as `"\\s"` are written); only when that text would not read back as `s` are they
/// doubled, which is the closest available form.
pub fn quote(s: &str) -> String {
    let verbatim = escape(s, false);
    let body = if reads_back_as(&verbatim, s) { verbatim } else { escape(s, true) };
    format!("\"{body}\"")
}

fn escape(s: &str, double_backslashes: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' if double_backslashes => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c => out.push(c),
        }
    }
    out
}

/// Whether `body` between double quotes lexes as one string literal whose value is `value`.
fn reads_back_as(body: &str, value: &str) -> bool {
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return false,
            '\\' if chars.next().is_none() => return false,
            _ => {}
        }
    }
    let (decoded, bad) = unescape(body);
    bad.is_empty() && decoded == value
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::parse_program;

    fn roundtrip(src: &str) -> String {
        match parse_program(src, FileId(0)) {
            Ok(p) => print_program(&p),
            Err(e) => panic!("parse failed: {e:?}"),
        }
    }

    #[test]
    fn minimal_parentheses() {
        assert_eq!(roundtrip("x = -2^2"), "x = -2^2\n");
        assert_eq!(roundtrip("x = (-2)^2"), "x = (-2)^2\n");
        assert_eq!(roundtrip("x = a-(b-c)"), "x = a - (b - c)\n");
        assert_eq!(roundtrip("x = (a-b)-c"), "x = a - b - c\n");
        assert_eq!(roundtrip("x = 2^3^2"), "x = 2^3^2\n");
        assert_eq!(roundtrip("x = (2^3)^2"), "x = (2^3)^2\n");
        assert_eq!(roundtrip("x = !a == b"), "x = !a == b\n");
        assert_eq!(roundtrip("x = 1.5e-7 + 1."), "x = 1.5e-7 + 1.0\n");
    }

    #[test]
    fn statements() {
        assert_eq!(
            roundtrip("if(a)x=1 else if(b) x=2 else {x=3}"),
            "if (a) {\n  x = 1\n} else if (b) {\n  x = 2\n} else {\n  x = 3\n}\n"
        );
        assert_eq!(
            roundtrip("f = function(matrix[double] X, int n=5) return (Matrix[Double] Y) { Y = X[1:n,] }"),
            "f = function(matrix[double] X, int n = 5) return (matrix[double] Y) {\n  Y = X[1:n,]\n}\n"
        );
    }
}
