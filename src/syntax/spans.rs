//! Span erasure: sets every span in a tree to `Span::default()`, so that two parses of different
//! text (e.g. a script and its pretty-printed form) can be compared with `==`.
use crate::syntax::ast::*;

pub fn erase_spans(program: &mut Program) {
    erase_stmts(&mut program.body);
}

pub fn erase_expr_spans(e: &mut Expr) {
    e.span = Span::default();
    match &mut e.kind {
        ExprKind::Int(_)
        | ExprKind::Double(_)
        | ExprKind::Bool(_)
        | ExprKind::Str(_)
        | ExprKind::Ident(_)
        | ExprKind::CmdArg(_) => {}
        ExprKind::IfDef { default, .. } => erase_expr_spans(default),
        ExprKind::Unary { expr, .. } => erase_expr_spans(expr),
        ExprKind::Binary { lhs, rhs, .. } => {
            erase_expr_spans(lhs);
            erase_expr_spans(rhs);
        }
        ExprKind::Call { namespace, name, args } => {
            if let Some(ns) = namespace {
                erase_ident(ns);
            }
            erase_ident(name);
            erase_args(args);
        }
        ExprKind::Index { name, rows, cols } => {
            erase_ident(name);
            erase_index(rows);
            if let Some(c) = cols {
                erase_index(c);
            }
        }
        ExprKind::List(items) => items.iter_mut().for_each(erase_expr_spans),
    }
}

fn erase_stmts(body: &mut [Stmt]) {
    body.iter_mut().for_each(erase_stmt);
}

fn erase_stmt(s: &mut Stmt) {
    s.span = Span::default();
    match &mut s.kind {
        StmtKind::Assign { target, value, .. } => {
            match target {
                AssignTarget::Var(name) => erase_ident(name),
                AssignTarget::Indexed { name, rows, cols } => {
                    erase_ident(name);
                    erase_index(rows);
                    if let Some(c) = cols {
                        erase_index(c);
                    }
                }
            }
            erase_expr_spans(value);
        }
        StmtKind::MultiAssign { targets, value } => {
            targets.iter_mut().for_each(erase_ident);
            erase_expr_spans(value);
        }
        StmtKind::Expr(e) => erase_expr_spans(e),
        StmtKind::If { cond, then_body, else_body } => {
            erase_expr_spans(cond);
            erase_stmts(then_body);
            if let Some(b) = else_body {
                erase_stmts(b);
            }
        }
        StmtKind::For { var, iter, params, body } | StmtKind::ParFor { var, iter, params, body } => {
            erase_ident(var);
            match iter {
                Iterable::Range { from, to } => {
                    erase_expr_spans(from);
                    erase_expr_spans(to);
                }
                Iterable::Seq { from, to, incr } => {
                    erase_expr_spans(from);
                    erase_expr_spans(to);
                    if let Some(i) = incr {
                        erase_expr_spans(i);
                    }
                }
            }
            erase_args(params);
            erase_stmts(body);
        }
        StmtKind::While { cond, body } => {
            erase_expr_spans(cond);
            erase_stmts(body);
        }
        StmtKind::FunctionDef(f) => {
            erase_ident(&mut f.name);
            erase_params(&mut f.params);
            erase_params(&mut f.returns);
            erase_stmts(&mut f.body);
            if let Some(args) = &mut f.external {
                erase_args(args);
            }
        }
        StmtKind::Source { path_span, namespace, .. } => {
            *path_span = Span::default();
            erase_ident(namespace);
        }
        StmtKind::SetWd { .. } => {}
    }
}

fn erase_ident(i: &mut Ident) {
    i.span = Span::default();
}

fn erase_args(args: &mut [Arg]) {
    for a in args {
        if let Some(n) = &mut a.name {
            erase_ident(n);
        }
        erase_expr_spans(&mut a.value);
    }
}

fn erase_params(params: &mut [Param]) {
    for p in params {
        p.span = Span::default();
        erase_ident(&mut p.name);
        if let Some(d) = &mut p.default {
            erase_expr_spans(d);
        }
    }
}

fn erase_index(spec: &mut IndexSpec) {
    match spec {
        IndexSpec::All => {}
        IndexSpec::Single(e) => erase_expr_spans(e),
        IndexSpec::Range(a, b) => {
            erase_expr_spans(a);
            erase_expr_spans(b);
        }
    }
}
