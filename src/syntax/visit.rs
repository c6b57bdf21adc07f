//! Read-only walks over the AST.
//!
//! [`Visitor`] has one method per kind of node, each of which by default walks the node's children
//! (the `walk_*` functions); a visitor overrides the methods for the nodes it cares about and
//! calls the `walk_*` function to keep going below them. On top of it sit the questions the
//! compiler and the runtime ask of statements:
//!
//! - [`for_each_var_read`] and [`for_each_stmt_read`]: the variables an expression or a simple
//!   statement reads, under [`ReadRules`] (the walkers that ask differ on two points, which the
//!   rules name);
//! - [`assigned_vars`]: the variables a statement assigns, as a whole or by left indexing;
//! - [`for_each_call`] and [`for_each_call_in`]: every call, with its namespace and arguments.

use crate::syntax::ast::{
    Arg, AssignOp, AssignTarget, Expr, ExprKind, FunctionDef, Ident, IndexSpec, Iterable, Stmt, StmtKind,
};

/// A read-only walk over statements and expressions. Every method by default visits the node's
/// children in source order.
pub trait Visitor {
    fn visit_stmt(&mut self, s: &Stmt) {
        walk_stmt(self, s);
    }

    fn visit_expr(&mut self, e: &Expr) {
        walk_expr(self, e);
    }

    /// The left side of an assignment: the subscripts of `A[i, j] = x` (the name is not an
    /// expression and is not visited).
    fn visit_target(&mut self, t: &AssignTarget) {
        walk_target(self, t);
    }

    /// The options of a `for` or `parfor` head (`parfor (i in 1:n, check=0)`).
    fn visit_loop_params(&mut self, params: &[Arg]) {
        walk_args(self, params);
    }

    /// A function definition: the defaults of its parameters and results, its body, and the
    /// `implemented in` list of an `externalFunction`.
    fn visit_function(&mut self, f: &FunctionDef) {
        walk_function(self, f);
    }
}

pub fn walk_stmts<V: Visitor + ?Sized>(v: &mut V, stmts: &[Stmt]) {
    for s in stmts {
        v.visit_stmt(s);
    }
}

pub fn walk_stmt<V: Visitor + ?Sized>(v: &mut V, s: &Stmt) {
    match &s.kind {
        StmtKind::Assign { target, value, .. } => {
            v.visit_target(target);
            v.visit_expr(value);
        }
        StmtKind::MultiAssign { value, .. } | StmtKind::Expr(value) => v.visit_expr(value),
        StmtKind::If { cond, then_body, else_body } => {
            v.visit_expr(cond);
            walk_stmts(v, then_body);
            if let Some(e) = else_body {
                walk_stmts(v, e);
            }
        }
        StmtKind::While { cond, body } => {
            v.visit_expr(cond);
            walk_stmts(v, body);
        }
        StmtKind::For { iter, params, body, .. } | StmtKind::ParFor { iter, params, body, .. } => {
            walk_iterable(v, iter);
            v.visit_loop_params(params);
            walk_stmts(v, body);
        }
        StmtKind::FunctionDef(f) => v.visit_function(f),
        StmtKind::Source { .. } | StmtKind::SetWd { .. } => {}
    }
}

pub fn walk_expr<V: Visitor + ?Sized>(v: &mut V, e: &Expr) {
    match &e.kind {
        ExprKind::Int(_)
        | ExprKind::Double(_)
        | ExprKind::Bool(_)
        | ExprKind::Str(_)
        | ExprKind::Ident(_)
        | ExprKind::CmdArg(_) => {}
        ExprKind::IfDef { default, .. } => v.visit_expr(default),
        ExprKind::Unary { expr, .. } => v.visit_expr(expr),
        ExprKind::Binary { lhs, rhs, .. } => {
            v.visit_expr(lhs);
            v.visit_expr(rhs);
        }
        ExprKind::Call { args, .. } => walk_args(v, args),
        ExprKind::Index { rows, cols, .. } => {
            walk_index(v, rows);
            if let Some(c) = cols {
                walk_index(v, c);
            }
        }
        ExprKind::List(items) => items.iter().for_each(|i| v.visit_expr(i)),
    }
}

pub fn walk_target<V: Visitor + ?Sized>(v: &mut V, t: &AssignTarget) {
    if let AssignTarget::Indexed { rows, cols, .. } = t {
        walk_index(v, rows);
        if let Some(c) = cols {
            walk_index(v, c);
        }
    }
}

pub fn walk_index<V: Visitor + ?Sized>(v: &mut V, spec: &IndexSpec) {
    match spec {
        IndexSpec::All => {}
        IndexSpec::Single(x) => v.visit_expr(x),
        IndexSpec::Range(a, b) => {
            v.visit_expr(a);
            v.visit_expr(b);
        }
    }
}

/// The bounds of a loop: `from`, `to`, and the increment of `seq(from, to, incr)`.
pub fn walk_iterable<V: Visitor + ?Sized>(v: &mut V, iter: &Iterable) {
    match iter {
        Iterable::Range { from, to } => {
            v.visit_expr(from);
            v.visit_expr(to);
        }
        Iterable::Seq { from, to, incr } => {
            v.visit_expr(from);
            v.visit_expr(to);
            if let Some(i) = incr {
                v.visit_expr(i);
            }
        }
    }
}

pub fn walk_args<V: Visitor + ?Sized>(v: &mut V, args: &[Arg]) {
    for a in args {
        v.visit_expr(&a.value);
    }
}

pub fn walk_function<V: Visitor + ?Sized>(v: &mut V, f: &FunctionDef) {
    for p in f.params.iter().chain(&f.returns) {
        if let Some(d) = &p.default {
            v.visit_expr(d);
        }
    }
    walk_stmts(v, &f.body);
    if let Some(args) = &f.external {
        walk_args(v, args);
    }
}

/// What counts as reading a variable. Every walker counts the names an expression reads (`x`,
/// and `X` of `X[i, j]`, subscripts and call arguments included) and the target of `x += e` and
/// `X[i, j] += e`; they differ on two points.
#[derive(Clone, Copy, Debug)]
pub struct ReadRules {
    /// Whether `A[i, j] = x` reads `A`. Left indexing keeps every other cell of the old value,
    /// so for live variables and for loop invariance it does (`liveness`, `hoist`). The parfor
    /// dependency check says no: a variable a parfor body changes only by left indexing is a
    /// result merged cell by cell, not a value carried from one iteration to the next.
    pub left_index_reads_target: bool,
    /// Whether `exists("x")` reads `x`. Live-variable analysis says yes, so that `x` is kept for
    /// the check; hoisting and the parfor check count only the names written as expressions.
    pub exists_names: bool,
}

impl ReadRules {
    /// Live-variable analysis: left indexing reads its target, `exists("x")` reads `x`.
    pub const LIVENESS: ReadRules = ReadRules { left_index_reads_target: true, exists_names: true };
    /// Loop-invariant hoisting: left indexing reads its target; only written names count.
    pub const HOIST: ReadRules = ReadRules { left_index_reads_target: true, exists_names: false };
    /// parfor's dependency check: only `+=` reads a left-indexed target; only written names count.
    pub const PARFOR: ReadRules = ReadRules { left_index_reads_target: false, exists_names: false };
}

struct Reads<'f> {
    rules: ReadRules,
    f: &'f mut dyn FnMut(&str),
}

impl Visitor for Reads<'_> {
    fn visit_expr(&mut self, e: &Expr) {
        match &e.kind {
            ExprKind::Ident(n) => (self.f)(n),
            ExprKind::Index { name, .. } => (self.f)(&name.name),
            // exists("x") names a variable in a string.
            ExprKind::Call { name, args, .. } if self.rules.exists_names && name.name == "exists" => {
                if let Some(ExprKind::Str(s)) = args.first().map(|a| &a.value.kind) {
                    (self.f)(s);
                }
            }
            _ => {}
        }
        walk_expr(self, e);
    }
}

/// Calls `f` with every variable name `e` reads, in source order (a name read twice comes twice).
pub fn for_each_var_read(e: &Expr, rules: ReadRules, f: &mut dyn FnMut(&str)) {
    Reads { rules, f }.visit_expr(e);
}

/// Calls `f` with every variable name a simple statement (an assignment or a call, the
/// statements of a basic block) reads: its value, the subscripts of its target, and the target
/// itself for `+=` and, under `rules`, for left indexing. Control flow and definitions read
/// nothing here; their parts are read where they run.
pub fn for_each_stmt_read(s: &Stmt, rules: ReadRules, f: &mut dyn FnMut(&str)) {
    let mut reads = Reads { rules, f };
    match &s.kind {
        StmtKind::Assign { target, op, value } => {
            reads.visit_expr(value);
            reads.visit_target(target);
            let (name, indexed) = match target {
                AssignTarget::Var(name) => (name, false),
                AssignTarget::Indexed { name, .. } => (name, true),
            };
            if *op == AssignOp::PlusEq || (indexed && rules.left_index_reads_target) {
                (reads.f)(&name.name);
            }
        }
        StmtKind::MultiAssign { value, .. } | StmtKind::Expr(value) => reads.visit_expr(value),
        _ => {}
    }
}

/// A variable a statement assigns.
#[derive(Clone, Copy, Debug)]
pub struct Assigned<'a> {
    pub name: &'a Ident,
    /// Assigned by left indexing (`A[i, ] = x`), which changes part of the old value, rather than
    /// as a whole (`x = e`, `x += e`, `[a, b] = f()`).
    pub indexed: bool,
}

/// The variables a statement assigns, in source order (nothing for control flow, whose bodies
/// are statements of their own).
pub fn assigned_vars(s: &Stmt) -> Vec<Assigned<'_>> {
    match &s.kind {
        StmtKind::Assign { target: AssignTarget::Var(name), .. } => vec![Assigned { name, indexed: false }],
        StmtKind::Assign { target: AssignTarget::Indexed { name, .. }, .. } => {
            vec![Assigned { name, indexed: true }]
        }
        StmtKind::MultiAssign { targets, .. } => {
            targets.iter().map(|name| Assigned { name, indexed: false }).collect()
        }
        _ => Vec::new(),
    }
}

/// A callback for a call: its namespace, name and arguments.
pub type CallFn<'a> = dyn FnMut(Option<&str>, &str, &[Arg]) + 'a;

/// Finds calls. It looks where the loader looks for the functions a script needs: values,
/// conditions, loop bounds, the bodies of control flow and function definitions, and the
/// defaults of parameters. The subscripts of a left-indexed target, loop options, the defaults
/// of results and the `implemented in` list of an external function are not searched.
struct Calls<'a, 'f> {
    f: &'a mut CallFn<'f>,
}

impl Visitor for Calls<'_, '_> {
    fn visit_expr(&mut self, e: &Expr) {
        if let ExprKind::Call { namespace, name, args } = &e.kind {
            (self.f)(namespace.as_ref().map(|n| n.name.as_str()), &name.name, args);
        }
        walk_expr(self, e);
    }

    fn visit_target(&mut self, _: &AssignTarget) {}

    fn visit_loop_params(&mut self, _: &[Arg]) {}

    fn visit_function(&mut self, f: &FunctionDef) {
        for d in f.params.iter().filter_map(|p| p.default.as_ref()) {
            self.visit_expr(d);
        }
        walk_stmts(self, &f.body);
    }
}

/// Calls `f` for every call anywhere in `stmts` (function bodies included), outer calls before
/// the calls in their arguments.
pub fn for_each_call(stmts: &[Stmt], f: &mut CallFn<'_>) {
    walk_stmts(&mut Calls { f }, stmts);
}

/// Calls `f` for every call in an expression, outer calls first.
pub fn for_each_call_in(e: &Expr, f: &mut CallFn<'_>) {
    Calls { f }.visit_expr(e);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::ast::FileId;

    fn stmts(src: &str) -> Vec<Stmt> {
        crate::syntax::parse_program(src, FileId(0)).expect("parses").body
    }

    fn reads(s: &Stmt, rules: ReadRules) -> Vec<String> {
        let mut out = Vec::new();
        for_each_stmt_read(s, rules, &mut |n| out.push(n.to_string()));
        out
    }

    #[test]
    fn expression_reads_include_subscripts_arguments_and_indexed_names() {
        let s = &stmts("y = f(X[i, j:k], -a) + ifdef($n, b) * [c, d]")[0];
        assert_eq!(reads(s, ReadRules::HOIST), ["X", "i", "j", "k", "a", "b", "c", "d"]);
    }

    #[test]
    fn left_indexing_reads_its_target_under_the_rules_that_say_so() {
        let s = &stmts("A[i, ] = x")[0];
        assert_eq!(reads(s, ReadRules::LIVENESS), ["x", "i", "A"]);
        assert_eq!(reads(s, ReadRules::HOIST), ["x", "i", "A"]);
        assert_eq!(reads(s, ReadRules::PARFOR), ["x", "i"]);
        let s = &stmts("A[i, ] += x")[0];
        assert_eq!(reads(s, ReadRules::PARFOR), ["x", "i", "A"]);
        let s = &stmts("n += 1")[0];
        assert_eq!(reads(s, ReadRules::PARFOR), ["n"]);
    }

    #[test]
    fn exists_names_a_variable_only_for_liveness() {
        let s = &stmts("b = exists(\"x\")")[0];
        assert_eq!(reads(s, ReadRules::LIVENESS), ["x"]);
        assert!(reads(s, ReadRules::HOIST).is_empty());
    }

    #[test]
    fn assigned_vars_tell_whole_from_indexed() {
        let body = stmts("x = 1\nA[1, 1] = 2\n[p, q] = f()\nprint(x)");
        let found: Vec<(String, bool)> =
            body.iter().flat_map(assigned_vars).map(|a| (a.name.name.clone(), a.indexed)).collect();
        let want = [("x", false), ("A", true), ("p", false), ("q", false)];
        assert_eq!(found, want.map(|(n, i)| (n.to_string(), i)));
    }

    #[test]
    fn calls_are_found_where_the_loader_looks() {
        let body = stmts(
            "f = function(double a = g()) return (double b) { b = h(a) }\n\
             if (p(1)) { A[q(1), ] = ns::r(s(2)) }\n\
             for (i in 1:t(), check = u()) { print(i) }",
        );
        let mut names = Vec::new();
        for_each_call(&body, &mut |ns, name, _| names.push(format!("{}{name}", ns.map_or("", |_| "ns::"))));
        // Not the subscript of a left-indexed target (q) nor a loop option (u).
        assert_eq!(names, ["g", "h", "p", "ns::r", "s", "t", "print"]);
    }
}
