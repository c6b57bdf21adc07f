//! Property tests: printed random trees parse back to themselves, and no input makes the lexer
//! or parser panic.
mod common;

use dml::syntax::ast::*;
use dml::syntax::lexer::tokenize;
use dml::syntax::{erase_spans, parse_program, print_program};
use proptest::prelude::*;

const NAMES: &[&str] = &["x", "y", "X", "alpha", "n_1", "as.matrix", "seq", "matrix"];

fn ident() -> impl Strategy<Value = Ident> {
    prop::sample::select(NAMES).prop_map(|n| Ident { name: n.to_string(), span: Span::default() })
}

/// Names without dots: the only ones `ns::name` allows on either side.
fn plain_ident() -> impl Strategy<Value = Ident> {
    prop::sample::select(&["ns", "f", "g2"][..])
        .prop_map(|n| Ident { name: n.to_string(), span: Span::default() })
}

fn e(kind: ExprKind) -> Expr {
    Expr { kind, span: Span::default() }
}

fn leaf() -> impl Strategy<Value = Expr> {
    prop_oneof![
        (0i64..1_000_000).prop_map(|v| e(ExprKind::Int(v))),
        (0.0f64..1e12).prop_map(|v| e(ExprKind::Double(v))),
        prop::sample::select(&[1e-300, 2.5e-7, 0.1, 1e21, 3.0][..]).prop_map(|v| e(ExprKind::Double(v))),
        any::<bool>().prop_map(|b| e(ExprKind::Bool(b))),
        "[a-z \"'\t\n]{0,8}".prop_map(|s| e(ExprKind::Str(s))),
        ident().prop_map(|i| e(ExprKind::Ident(i.name))),
        prop::sample::select(&["1", "name", "X2"][..]).prop_map(|s| e(ExprKind::CmdArg(s.to_string()))),
    ]
}

fn binary_op() -> impl Strategy<Value = BinaryOp> {
    use BinaryOp::*;
    prop::sample::select(
        &[Pow, MatMul, IntDiv, Mod, Mul, Div, Add, Sub, Lt, Le, Gt, Ge, Eq, Ne, And, AndAnd, Or, OrOr][..],
    )
}

fn index_spec(inner: impl Strategy<Value = Expr> + Clone) -> impl Strategy<Value = IndexSpec> {
    prop_oneof![
        Just(IndexSpec::All),
        inner.clone().prop_map(IndexSpec::Single),
        (inner.clone(), inner).prop_map(|(a, b)| IndexSpec::Range(a, b)),
    ]
}

fn arg(inner: impl Strategy<Value = Expr>) -> impl Strategy<Value = Arg> {
    (prop::option::of(ident()), inner).prop_map(|(name, value)| Arg { name, value })
}

fn expr() -> BoxedStrategy<Expr> {
    leaf()
        .prop_recursive(4, 40, 4, |inner| {
            prop_oneof![
                (binary_op(), inner.clone(), inner.clone()).prop_map(|(op, l, r)| e(ExprKind::Binary {
                    op,
                    lhs: Box::new(l),
                    rhs: Box::new(r)
                })),
                (prop::sample::select(&[UnaryOp::Neg, UnaryOp::Pos, UnaryOp::Not][..]), inner.clone())
                    .prop_map(|(op, x)| e(ExprKind::Unary { op, expr: Box::new(x) })),
                (ident(), prop::collection::vec(arg(inner.clone()), 0..3))
                    .prop_map(|(name, args)| e(ExprKind::Call { namespace: None, name, args })),
                (plain_ident(), plain_ident(), prop::collection::vec(arg(inner.clone()), 0..3))
                    .prop_map(|(ns, name, args)| e(ExprKind::Call { namespace: Some(ns), name, args })),
                (ident(), index_spec(inner.clone()), prop::option::of(index_spec(inner.clone()))).prop_map(
                    |(name, rows, cols)| e(ExprKind::Index {
                        name,
                        rows: Box::new(rows),
                        cols: cols.map(Box::new)
                    })
                ),
                prop::collection::vec(inner.clone(), 1..3).prop_map(|v| e(ExprKind::List(v))),
                inner.prop_map(|d| e(ExprKind::IfDef { param: "p".into(), default: Box::new(d) })),
            ]
        })
        .boxed()
}

fn call() -> impl Strategy<Value = Expr> {
    (ident(), prop::collection::vec(arg(expr()), 0..3))
        .prop_map(|(name, args)| e(ExprKind::Call { namespace: None, name, args }))
}

fn s(kind: StmtKind) -> Stmt {
    Stmt { kind, span: Span::default() }
}

fn simple_stmt() -> impl Strategy<Value = Stmt> {
    let op = prop::sample::select(&[AssignOp::Eq, AssignOp::Arrow, AssignOp::PlusEq][..]);
    prop_oneof![
        (ident(), op.clone(), expr()).prop_map(|(n, op, v)| s(StmtKind::Assign {
            target: AssignTarget::Var(n),
            op,
            value: v
        })),
        (ident(), index_spec(expr()), prop::option::of(index_spec(expr())), op, expr()).prop_map(
            |(name, rows, cols, op, value)| s(StmtKind::Assign {
                target: AssignTarget::Indexed { name, rows, cols },
                op,
                value
            })
        ),
        (prop::collection::vec(ident(), 1..3), call())
            .prop_map(|(targets, value)| s(StmtKind::MultiAssign { targets, value })),
        call().prop_map(|c| s(StmtKind::Expr(c))),
    ]
}

fn iterable() -> impl Strategy<Value = Iterable> {
    prop_oneof![
        (expr(), expr()).prop_map(|(from, to)| Iterable::Range { from, to }),
        (expr(), expr(), prop::option::of(expr())).prop_map(|(from, to, incr)| Iterable::Seq {
            from,
            to,
            incr
        }),
    ]
}

fn stmt() -> impl Strategy<Value = Stmt> {
    simple_stmt().prop_recursive(3, 24, 3, |inner| {
        let body = prop::collection::vec(inner, 0..3);
        let named = (ident(), expr()).prop_map(|(n, v)| Arg { name: Some(n), value: v }).boxed();
        prop_oneof![
            (expr(), body.clone(), prop::option::of(body.clone()))
                .prop_map(|(cond, then_body, else_body)| s(StmtKind::If { cond, then_body, else_body })),
            (ident(), iterable(), prop::collection::vec(named.clone(), 0..2), body.clone())
                .prop_map(|(var, iter, params, body)| s(StmtKind::For { var, iter, params, body })),
            (ident(), iterable(), prop::collection::vec(named, 0..2), body.clone())
                .prop_map(|(var, iter, params, body)| s(StmtKind::ParFor { var, iter, params, body })),
            (expr(), body).prop_map(|(cond, body)| s(StmtKind::While { cond, body })),
        ]
    })
}

fn type_spec() -> impl Strategy<Value = TypeSpec> {
    use DataType::*;
    use ValueType::*;
    (
        prop::sample::select(&[Scalar, Matrix, Frame, List, Tensor][..]),
        prop::sample::select(&[Double, Int, Boolean, String, Unknown][..]),
    )
        .prop_map(|(data, value)| TypeSpec { data, value })
}

fn param() -> impl Strategy<Value = Param> {
    (type_spec(), ident(), prop::option::of(expr())).prop_map(|(ty, name, default)| Param {
        ty,
        name,
        default,
        span: Span::default(),
    })
}

fn function_def() -> impl Strategy<Value = Stmt> {
    (
        ident(),
        prop::collection::vec(param(), 0..3),
        prop::collection::vec(param().prop_map(|p| Param { default: None, ..p }), 0..2),
        prop::collection::vec(stmt(), 0..3),
        any::<bool>(),
    )
        .prop_map(|(name, params, returns, body, external)| {
            let external =
                external.then(|| vec![Arg { name: Some(name.clone()), value: e(ExprKind::Str("C".into())) }]);
            let body = if external.is_some() { vec![] } else { body };
            s(StmtKind::FunctionDef(FunctionDef { name, params, returns, body, external }))
        })
}

fn program() -> impl Strategy<Value = Program> {
    prop::collection::vec(
        prop_oneof![
            4 => stmt(),
            1 => function_def(),
            1 => ("[a-z/]{1,6}", ident()).prop_map(|(path, namespace)| s(StmtKind::Source {
                path,
                path_span: Span::default(),
                namespace
            })),
            1 => "[a-z]{1,4}".prop_map(|path| s(StmtKind::SetWd { path })),
        ],
        0..5,
    )
    .prop_map(|body| Program { body })
}

/// The canonical shape of a scalar type: `scalar[int]` and `int` parse to the same tree.
fn reparse(text: &str) -> Result<Program, String> {
    match parse_program(text, FileId(0)) {
        Ok(mut p) => {
            erase_spans(&mut p);
            Ok(p)
        }
        Err(d) => Err(format!("{d:?}")),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn printed_programs_parse_back_to_the_same_tree(p in program()) {
        let text = print_program(&p);
        let back = reparse(&text);
        prop_assert_eq!(back, Ok(p), "printed:\n{}", text);
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = tokenize(&text, FileId(0));
        let _ = parse_program(&text, FileId(0));
    }

    #[test]
    fn random_token_soup_never_panics(words in prop::collection::vec(prop::sample::select(&[
        "x", "f", "(", ")", "[", "]", "{", "}", ",", ";", ":", "=", "<-", "+=", "+", "-", "*", "^",
        "%*%", "!", "&", "|", "==", "if", "else", "for", "parfor", "in", "while", "function",
        "return", "source", "as", "setwd", "ifdef", "$a", "1", "2.5", "\"s\"", "TRUE", "int",
        "matrix", "externalFunction", "implemented", "\n", "#c\n", "/*c*/", "ns::g", "@", "%x%",
    ][..]), 0..60)) {
        let text = words.join(" ");
        let _ = parse_program(&text, FileId(0));
        let glued = words.concat();
        let _ = parse_program(&glued, FileId(0));
    }
}
