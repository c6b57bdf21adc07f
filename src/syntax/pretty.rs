//! Prints an AST back as canonical DML: 2-space indentation, braces always, one statement per
//! line, and only the parentheses the precedence table needs.
//!
//! Printing then re-parsing gives the same tree (spans aside) for every tree the parser can
//! produce. Two kinds of value have no exact source form and are printed as close as possible:
//! negative number literals (the parser never folds signs, so `-5` comes back as a negation) and
//! strings containing a backslash (SystemDS keeps `\\` as two characters, see
//! [`crate::syntax::lexer::unescape`]).

use crate::syntax::ast::*;
use crate::syntax::lexer::unescape;
use std::fmt::Write;

/// Precedence levels as the grammar sees them; higher binds tighter.
const PREC_NOT: u8 = 3;
const PREC_SIGN: u8 = 9;
const PREC_ATOM: u8 = 11;

pub fn print_program(program: &Program) -> String {
    let mut out = String::new();
    print_block(&mut out, &program.body, 0);
    out
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

fn print_block(out: &mut String, body: &[Stmt], level: usize) {
    for s in body {
        indent(out, level);
        print_stmt(out, s, level);
        out.push('\n');
    }
}

/// `{`, the body one level deeper, and `}` at the current level (no trailing newline).
fn print_braced(out: &mut String, body: &[Stmt], level: usize) {
    if body.is_empty() {
        out.push_str("{}");
        return;
    }
    out.push_str("{\n");
    print_block(out, body, level + 1);
    indent(out, level);
    out.push('}');
}

fn print_stmt(out: &mut String, s: &Stmt, level: usize) {
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
            print_if(out, cond, then_body, else_body.as_deref(), level)
        }
        StmtKind::For { var, iter, params, body } => print_loop(out, "for", var, iter, params, body, level),
        StmtKind::ParFor { var, iter, params, body } => {
            print_loop(out, "parfor", var, iter, params, body, level)
        }
        StmtKind::While { cond, body } => {
            out.push_str("while (");
            write_expr(out, cond, 0);
            out.push_str(") ");
            print_braced(out, body, level);
        }
        StmtKind::FunctionDef(f) => print_function(out, f, level),
        StmtKind::Source { path, namespace, .. } => {
            let _ = write!(out, "source({}) as {}", quote(path), namespace.name);
        }
        StmtKind::SetWd { path } => {
            let _ = write!(out, "setwd({})", quote(path));
        }
    }
}

fn print_if(out: &mut String, cond: &Expr, then_body: &[Stmt], else_body: Option<&[Stmt]>, level: usize) {
    out.push_str("if (");
    write_expr(out, cond, 0);
    out.push_str(") ");
    print_braced(out, then_body, level);
    match else_body {
        None => {}
        // `else if` chains stay flat.
        Some([only @ Stmt { kind: StmtKind::If { cond, then_body, else_body }, .. }]) => {
            let _ = only;
            out.push_str(" else ");
            print_if(out, cond, then_body, else_body.as_deref(), level);
        }
        Some(body) => {
            out.push_str(" else ");
            print_braced(out, body, level);
        }
    }
}

fn print_loop(
    out: &mut String,
    keyword: &str,
    var: &Ident,
    iter: &Iterable,
    params: &[Arg],
    body: &[Stmt],
    level: usize,
) {
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
    print_braced(out, body, level);
}

fn print_function(out: &mut String, f: &FunctionDef, level: usize) {
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
            print_braced(out, &f.body, level);
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
