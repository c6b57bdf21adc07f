//! Valid snippets: the tree shape for precedence, the traps of DML, and every statement form.
//! Expressions are checked through a compact fully-parenthesised rendering (`sexpr`).
mod common;

use common::{parse_bare, parse_ok};
use dml::syntax::ast::*;

/// A fully parenthesised rendering that shows the tree: `(- (^ 2 2))`.
fn sexpr(e: &Expr) -> String {
    match &e.kind {
        ExprKind::Int(v) => v.to_string(),
        ExprKind::Double(v) => format!("{v:?}"),
        ExprKind::Bool(b) => b.to_string(),
        ExprKind::Str(s) => format!("{s:?}"),
        ExprKind::Ident(n) => n.clone(),
        ExprKind::CmdArg(n) => format!("${n}"),
        ExprKind::IfDef { param, default } => format!("(ifdef ${param} {})", sexpr(default)),
        ExprKind::Unary { op, expr } => format!("({} {})", op.symbol(), sexpr(expr)),
        ExprKind::Binary { op, lhs, rhs } => format!("({} {} {})", op.symbol(), sexpr(lhs), sexpr(rhs)),
        ExprKind::Call { namespace, name, args } => {
            let ns = namespace.as_ref().map(|n| format!("{}::", n.name)).unwrap_or_default();
            let args: Vec<String> = args
                .iter()
                .map(|a| match &a.name {
                    Some(n) => format!("{}={}", n.name, sexpr(&a.value)),
                    None => sexpr(&a.value),
                })
                .collect();
            format!("{ns}{}({})", name.name, args.join(" "))
        }
        ExprKind::Index { name, rows, cols } => {
            let cols = cols.as_ref().map(|c| format!(" , {}", spec(c))).unwrap_or_default();
            format!("{}[{}{cols}]", name.name, spec(rows))
        }
        ExprKind::List(items) => format!("[{}]", items.iter().map(sexpr).collect::<Vec<_>>().join(" ")),
    }
}

fn spec(s: &IndexSpec) -> String {
    match s {
        IndexSpec::All => "_".into(),
        IndexSpec::Single(e) => sexpr(e),
        IndexSpec::Range(a, b) => format!("{}:{}", sexpr(a), sexpr(b)),
    }
}

/// The right-hand side of the single statement `x = <src>`.
fn rhs(src: &str) -> String {
    let p = parse_ok(&format!("x = {src}"));
    match &p.body[..] {
        [Stmt { kind: StmtKind::Assign { value, .. }, .. }] => sexpr(value),
        other => panic!("expected one assignment, got {other:?}"),
    }
}

#[test]
fn power_binds_tighter_than_unary_minus() {
    assert_eq!(rhs("-2^2"), "(- (^ 2 2))");
    assert_eq!(rhs("(-2)^2"), "(^ (- 2) 2)");
    assert_eq!(rhs("-5"), "(- 5)");
}

#[test]
fn power_is_right_associative_and_takes_signed_exponent() {
    assert_eq!(rhs("2^3^2"), "(^ 2 (^ 3 2))");
    assert_eq!(rhs("2^-1"), "(^ 2 (- 1))");
}

#[test]
fn operator_table() {
    assert_eq!(rhs("a + b * c"), "(+ a (* b c))");
    assert_eq!(rhs("a - b - c"), "(- (- a b) c)");
    assert_eq!(rhs("a * b %*% c"), "(* a (%*% b c))");
    assert_eq!(rhs("a %% b * c"), "(* (%% a b) c)");
    assert_eq!(rhs("a %/% b %*% c"), "(%/% a (%*% b c))");
    assert_eq!(rhs("-a * b"), "(* (- a) b)");
    assert_eq!(rhs("a < b + 1"), "(< a (+ b 1))");
    assert_eq!(rhs("a & b | c"), "(| (& a b) c)");
    assert_eq!(rhs("a | b & c"), "(| a (& b c))");
    assert_eq!(rhs("a && b || c"), "(|| (&& a b) c)");
    assert_eq!(rhs("a == b != c"), "(!= (== a b) c)");
}

#[test]
fn not_has_low_precedence() {
    assert_eq!(rhs("!a == b"), "(! (== a b))");
    assert_eq!(rhs("!x + 1"), "(! (+ x 1))");
    assert_eq!(rhs("!a & b"), "(& (! a) b)");
    assert_eq!(rhs("a & !b"), "(& a (! b))");
    assert_eq!(rhs("!!a"), "(! (! a))");
}

#[test]
fn not_inside_a_tighter_operator_takes_the_rest_like_systemds() {
    assert_eq!(rhs("m * !mask"), "(* m (! mask))");
    assert_eq!(rhs("m * !a + b & c"), "(& (* m (! (+ a b))) c)");
}

#[test]
fn colon_has_lowest_precedence_inside_brackets() {
    assert_eq!(rhs("X[i+1:j]"), "X[(+ i 1):j]");
    assert_eq!(rhs("X[,(v-1)*3+1:v*3]"), "X[_ , (+ (* (- v 1) 3) 1):(* v 3)]");
}

#[test]
fn index_forms() {
    assert_eq!(rhs("X[1:3,]"), "X[1:3 , _]");
    assert_eq!(rhs("X[,2]"), "X[_ , 2]");
    assert_eq!(rhs("X[i]"), "X[i]");
    assert_eq!(rhs("X[,]"), "X[_ , _]");
    assert_eq!(rhs("L[\"key\"]"), "L[\"key\"]");
    assert_eq!(rhs("X [1, 2]"), "X[1 , 2]");
}

#[test]
fn literals() {
    assert_eq!(rhs("1."), "1.0");
    assert_eq!(rhs(".5"), "0.5");
    assert_eq!(rhs("1e-3"), "0.001");
    assert_eq!(rhs("2E5"), "200000.0");
    assert_eq!(rhs("TRUE"), "true");
}

#[test]
fn calls_and_arguments() {
    assert_eq!(rhs("f(1, b=2, 3)"), "f(1 b=2 3)");
    assert_eq!(rhs("ns::f(x)"), "ns::f(x)");
    assert_eq!(rhs("as.matrix(x)"), "as.matrix(x)");
    assert_eq!(
        rhs("order(target=X, by=1, decreasing=TRUE, index.return=FALSE)"),
        "order(target=X by=1 decreasing=true index.return=false)"
    );
    assert_eq!(rhs("conv2d(X, W, input_shape=[N, C, 1, 1])"), "conv2d(X W input_shape=[N C 1 1])");
    assert_eq!(rhs("f()"), "f()");
    assert_eq!(rhs("ifdef($n, 10)"), "(ifdef $n 10)");
    assert_eq!(rhs("$1 + $name"), "(+ $1 $name)");
}

#[test]
fn ns_call_has_name_spans() {
    let p = parse_ok("y = ab::cd(1)");
    let StmtKind::Assign { value, .. } = &p.body[0].kind else { panic!("not an assignment") };
    let ExprKind::Call { namespace: Some(ns), name, .. } = &value.kind else { panic!("not a call") };
    assert_eq!((ns.span.start, ns.span.end), (4, 6));
    assert_eq!((name.span.start, name.span.end), (8, 10));
    assert_eq!((value.span.start, value.span.end), (4, 13));
}

#[test]
fn assignment_forms() {
    let p = parse_bare("a = 1\nb <- 2\nc += 3\nX[1, 2] = 4\nL[i] = 5\nX[1:2, ] = Y");
    let ops: Vec<AssignOp> = p
        .body
        .iter()
        .map(|s| match &s.kind {
            StmtKind::Assign { op, .. } => *op,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        ops,
        [AssignOp::Eq, AssignOp::Arrow, AssignOp::PlusEq, AssignOp::Eq, AssignOp::Eq, AssignOp::Eq]
    );
    assert!(matches!(
        &p.body[3].kind,
        StmtKind::Assign { target: AssignTarget::Indexed { cols: Some(_), .. }, .. }
    ));
    assert!(matches!(
        &p.body[4].kind,
        StmtKind::Assign { target: AssignTarget::Indexed { cols: None, .. }, .. }
    ));
    assert!(matches!(
        &p.body[5].kind,
        StmtKind::Assign {
            target: AssignTarget::Indexed { rows: IndexSpec::Range(..), cols: Some(IndexSpec::All), .. },
            ..
        }
    ));
}

#[test]
fn multi_assign_after_a_plain_assignment_on_the_previous_line() {
    let p = parse_bare("x = y\n[a, b] = f(x)");
    assert_eq!(p.body.len(), 2);
    match &p.body[1].kind {
        StmtKind::MultiAssign { targets, value } => {
            assert_eq!(targets.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["a", "b"]);
            assert_eq!(sexpr(value), "f(x)");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn dangling_else_binds_to_the_nearest_if() {
    let p = parse_bare("if (a) if (b) x = 1 else x = 2");
    let StmtKind::If { then_body, else_body, .. } = &p.body[0].kind else { panic!() };
    assert!(else_body.is_none());
    assert!(matches!(&then_body[0].kind, StmtKind::If { else_body: Some(_), .. }));
}

#[test]
fn else_if_chain_and_semicolon_before_else() {
    let p = parse_bare("if (a) x = 1; else if (b) { x = 2 } else x = 3");
    let StmtKind::If { else_body: Some(e), .. } = &p.body[0].kind else { panic!() };
    assert!(matches!(&e[0].kind, StmtKind::If { else_body: Some(_), .. }));
}

#[test]
fn loops_with_params() {
    let p = parse_bare(
        "for (i in 1:n, check=0) x = i\nparfor (i in seq(1, 10, 2), par=4, mode=LOCAL) { y = i }\nwhile (i < 3) i = i + 1",
    );
    match &p.body[0].kind {
        StmtKind::For { iter: Iterable::Range { .. }, params, body, .. } => {
            assert_eq!(params.len(), 1);
            assert_eq!(body.len(), 1);
        }
        other => panic!("{other:?}"),
    }
    match &p.body[1].kind {
        StmtKind::ParFor { iter: Iterable::Seq { incr: Some(_), .. }, params, .. } => {
            let names: Vec<&str> =
                params.iter().filter_map(|a| a.name.as_ref()).map(|n| n.name.as_str()).collect();
            assert_eq!(names, ["par", "mode"]);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(&p.body[2].kind, StmtKind::While { .. }));
}

#[test]
fn functions() {
    let p = parse_bare(
        "f = function(matrix[double] X, Matrix[Double] Y, int n = 5, list[unknown] L, frame[string] F, Boolean b) \
         return (double s) { s = 1 }\n\
         g = function(string m) { print(m) }\n\
         h <- externalFunction(int a) return (int b) implemented in (classname=\"C\", exectype=\"mem\")",
    );
    let StmtKind::FunctionDef(f) = &p.body[0].kind else { panic!() };
    let types: Vec<String> = f.params.iter().map(|p| dml::syntax::pretty::type_text(p.ty)).collect();
    assert_eq!(
        types,
        ["matrix[double]", "matrix[double]", "int", "list[unknown]", "frame[string]", "boolean"]
    );
    assert!(f.params[2].default.is_some());
    assert_eq!(f.returns.len(), 1);
    let StmtKind::FunctionDef(g) = &p.body[1].kind else { panic!() };
    assert!(g.returns.is_empty());
    let StmtKind::FunctionDef(h) = &p.body[2].kind else { panic!() };
    assert_eq!(h.external.as_ref().map(Vec::len), Some(2));
}

#[test]
fn source_and_setwd() {
    let p = parse_bare("source(\"a/b.dml\") as ab\nsetwd('dir')");
    assert!(
        matches!(&p.body[0].kind, StmtKind::Source { path, namespace, .. } if path == "a/b.dml" && namespace.name == "ab")
    );
    assert!(matches!(&p.body[1].kind, StmtKind::SetWd { path } if path == "dir"));
}

#[test]
fn comments_semicolons_and_newlines() {
    let p = parse_bare("# line\nx = 1; /* block\n comment */ y = 2;;\nz = x +\n  y\nprint(z) # end");
    assert_eq!(p.body.len(), 4);
    let p = parse_bare("a = b\n-c");
    assert_eq!(p.body.len(), 1, "a leading minus continues the previous line, as in SystemDS");
}

#[test]
fn escapes_match_systemds() {
    assert_eq!(rhs(r#""t\tn\nq\"s\'""#), "\"t\\tn\\nq\\\"s'\"");
    assert_eq!(rhs(r#""a\\b""#), "\"a\\\\\\u{8}\"");
}

#[test]
fn stray_semicolon_before_closing_paren_of_a_call() {
    assert_eq!(rhs("ifelse(a, b, n = c;)"), "ifelse(a b n=c)");
}

#[test]
fn empty_program_and_empty_bodies() {
    assert!(parse_bare("").body.is_empty());
    assert!(parse_bare("  # nothing\n").body.is_empty());
    let p = parse_bare("while (FALSE) {}");
    assert!(matches!(&p.body[0].kind, StmtKind::While { body, .. } if body.is_empty()));
}

#[test]
fn spans_cover_statements() {
    let p = parse_ok("x = 1 + 2\nprint(x)");
    assert_eq!(p.body[0].span.range(), 0..9);
    assert_eq!(p.body[1].span.range(), 10..18);
}
