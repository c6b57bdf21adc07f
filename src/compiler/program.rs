//! Program structure: the AST cut into statement blocks, functions collected from the script and
//! its `source`d files, and variable names mapped to frame slots.
//!
//! A basic block is a run of simple statements (assignments, calls, prints); control flow (if,
//! for, parfor, while) gets blocks of its own, as in SystemDS. Each basic block is compiled to a
//! HOP DAG and then to instructions; its compiled plans are cached by the types and shapes of the
//! variables flowing into it, so a loop body is compiled once per distinct input shape.

use crate::compiler::plan_cache::PlanCache;
use crate::hops::{FuncId, VarId};
use crate::syntax::ast::{self, Arg, Expr, Ident, Span, Stmt};
use crate::syntax::visit;
use std::collections::HashMap;

/// Variable names of one scope (the main program or a function) and their slots.
#[derive(Clone, Debug, Default)]
pub struct VarTable {
    pub names: Vec<String>,
    index: HashMap<String, VarId>,
}

impl VarTable {
    pub fn slot(&mut self, name: &str) -> VarId {
        if let Some(&id) = self.index.get(name) {
            return id;
        }
        let id = self.names.len() as VarId;
        self.names.push(name.to_string());
        self.index.insert(name.to_string(), id);
        id
    }

    pub fn get(&self, name: &str) -> Option<VarId> {
        self.index.get(name).copied()
    }

    pub fn name(&self, id: VarId) -> &str {
        &self.names[id as usize]
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// A scalar expression evaluated at run time by a small compiled plan: `if`/`while` predicates and
/// `for` bounds.
#[derive(Debug)]
pub struct Predicate {
    pub expr: Expr,
    pub cache: PlanCache,
}

#[derive(Debug)]
pub struct BasicBlock {
    pub stmts: Vec<Stmt>,
    pub span: Span,
    pub cache: PlanCache,
    /// Variables read after this block (set by live-variable analysis; `None` = keep all).
    pub live_out: Option<Vec<VarId>>,
    /// Variables the validator proved to hold these constants whenever the block runs.
    pub consts: Vec<(VarId, crate::hops::Lit)>,
}

#[derive(Debug)]
pub struct ForBlock {
    pub var: VarId,
    pub var_span: Span,
    pub from: Predicate,
    pub to: Predicate,
    pub incr: Option<Predicate>,
    pub body: Vec<Block>,
    /// Loop-invariant statements hoisted out of the body: run once before the first iteration,
    /// only when the loop runs at all.
    pub preheader: Vec<Block>,
    /// `Some` for `parfor`, with its options.
    pub parfor: Option<Vec<Arg>>,
    pub span: Span,
}

#[derive(Debug)]
pub enum Block {
    Basic(BasicBlock),
    If { cond: Predicate, then_body: Vec<Block>, else_body: Vec<Block>, span: Span },
    While { cond: Predicate, body: Vec<Block>, span: Span },
    For(Box<ForBlock>),
}

/// A user-defined function, ready to compile.
#[derive(Debug)]
pub struct Function {
    pub name: String,
    /// The module (script file) the function was defined in; unqualified calls in its body
    /// resolve against this module's functions and namespaces.
    pub module: ModuleId,
    pub params: Vec<ast::Param>,
    pub returns: Vec<ast::Param>,
    pub param_slots: Vec<VarId>,
    pub return_slots: Vec<VarId>,
    pub body: Vec<Block>,
    pub vars: VarTable,
    pub span: Span,
    pub external: bool,
    /// Default values of parameters, evaluated in the function's scope when an argument is absent.
    pub defaults: Vec<Option<Predicate>>,
}

pub type ModuleId = u32;

/// One script file: its own functions and the namespaces it `source`s.
#[derive(Debug, Default)]
pub struct Module {
    pub path: String,
    pub functions: HashMap<String, FuncId>,
    pub namespaces: HashMap<String, ModuleId>,
}

/// A whole program after structuring: the main blocks, every function, every module.
#[derive(Debug, Default)]
pub struct Program {
    pub main: Vec<Block>,
    pub main_vars: VarTable,
    pub functions: Vec<Function>,
    pub modules: Vec<Module>,
    /// DML-bodied builtins loaded from the builtin directory, by the name scripts call them with.
    pub builtin_modules: HashMap<String, ModuleId>,
    /// Name and line-start offsets of every loaded file, by file id (for messages and explain).
    pub files: HashMap<u32, (String, Vec<u32>)>,
    /// Some code calls `lineage` or `autoDiff`: the executor traces lineage (see
    /// `runtime::lineage`).
    pub traces_lineage: bool,
}

impl Program {
    /// `file.dml:L1-L2` for a span, using the recorded line starts.
    pub fn describe_span(&self, span: Span) -> String {
        let Some((name, starts)) = self.files.get(&span.file.0) else {
            return format!("bytes {}..{}", span.start, span.end);
        };
        let line = |off: u32| starts.partition_point(|&s| s <= off);
        let (a, b) = (line(span.start), line(span.end.saturating_sub(1).max(span.start)));
        if a == b { format!("{name}:{a}") } else { format!("{name}:{a}-{b}") }
    }

    /// A DML-bodied builtin `name`: the file's `m_name` for a matrix first argument, `s_name` for
    /// a scalar, `f_name` for a frame (as SystemDS picks them), or a function named `name` itself.
    pub fn resolve_dml_builtin(
        &self,
        name: &str,
        first_arg: Option<crate::types::type_info::DType>,
    ) -> Option<FuncId> {
        use crate::types::type_info::DType;
        let m = &self.modules[*self.builtin_modules.get(name)? as usize];
        let prefixed = |p: &str| m.functions.get(&format!("{p}_{name}")).copied();
        let by_type = match first_arg {
            Some(DType::Scalar) => prefixed("s"),
            Some(DType::Frame) => prefixed("f"),
            Some(DType::List) => prefixed("l"),
            _ => prefixed("m"),
        };
        by_type
            .or_else(|| m.functions.get(name).copied())
            .or_else(|| prefixed("m"))
            .or_else(|| prefixed("s"))
            .or_else(|| prefixed("f"))
    }

    /// Resolves a call `ns::name` or `name` made from code in `module`.
    pub fn resolve_function(&self, module: ModuleId, ns: Option<&str>, name: &str) -> Option<FuncId> {
        let m = &self.modules[module as usize];
        match ns {
            Some(ns) => {
                let target = *m.namespaces.get(ns)?;
                self.modules[target as usize].functions.get(name).copied()
            }
            None => m.functions.get(name).copied(),
        }
    }
}

/// Cuts a statement list into blocks, allocating variable slots in `vars` for every name assigned
/// or read.
pub fn make_blocks(stmts: &[Stmt], vars: &mut VarTable) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut pending: Vec<Stmt> = Vec::new();
    let flush = |pending: &mut Vec<Stmt>, blocks: &mut Vec<Block>| {
        if !pending.is_empty() {
            let span = pending[0].span.to(pending[pending.len() - 1].span);
            blocks.push(Block::Basic(BasicBlock {
                stmts: std::mem::take(pending),
                span,
                cache: PlanCache::default(),
                live_out: None,
                consts: Vec::new(),
            }));
        }
    };
    for stmt in stmts {
        collect_names(stmt, vars);
        match &stmt.kind {
            ast::StmtKind::If { cond, then_body, else_body } => {
                flush(&mut pending, &mut blocks);
                blocks.push(Block::If {
                    cond: Predicate { expr: cond.clone(), cache: PlanCache::default() },
                    then_body: make_blocks(then_body, vars),
                    else_body: else_body.as_deref().map(|b| make_blocks(b, vars)).unwrap_or_default(),
                    span: stmt.span,
                });
            }
            ast::StmtKind::While { cond, body } => {
                flush(&mut pending, &mut blocks);
                blocks.push(Block::While {
                    cond: Predicate { expr: cond.clone(), cache: PlanCache::default() },
                    body: make_blocks(body, vars),
                    span: stmt.span,
                });
            }
            ast::StmtKind::For { var, iter, params, body }
            | ast::StmtKind::ParFor { var, iter, params, body } => {
                flush(&mut pending, &mut blocks);
                let is_parfor = matches!(stmt.kind, ast::StmtKind::ParFor { .. });
                let (from, to, incr) = match iter {
                    ast::Iterable::Range { from, to } => (from.clone(), to.clone(), None),
                    ast::Iterable::Seq { from, to, incr } => (from.clone(), to.clone(), incr.clone()),
                };
                let pred = |e: Expr| Predicate { expr: e, cache: PlanCache::default() };
                blocks.push(Block::For(Box::new(ForBlock {
                    var: vars.slot(&var.name),
                    var_span: var.span,
                    from: pred(from),
                    to: pred(to),
                    incr: incr.map(pred),
                    body: make_blocks(body, vars),
                    preheader: Vec::new(),
                    parfor: is_parfor.then(|| params.clone()),
                    span: stmt.span,
                })));
            }
            ast::StmtKind::FunctionDef(_) | ast::StmtKind::Source { .. } | ast::StmtKind::SetWd { .. } => {}
            _ => {
                // A call of stop() ends its block in SystemDS; keeping it inside is equivalent
                // because roots run in statement order.
                pending.push(stmt.clone());
            }
        }
    }
    flush(&mut pending, &mut blocks);
    blocks
}

/// Allocates slots for the variables a simple statement assigns and for a variable its value is
/// (`y = x`, `y = X[i, ]`). Names read deeper in the value are not allocated here: a name never
/// assigned has no slot, and its read is reported as undefined.
fn collect_names(stmt: &Stmt, vars: &mut VarTable) {
    for a in visit::assigned_vars(stmt) {
        vars.slot(&a.name.name);
    }
    if let ast::StmtKind::Assign { value, .. }
    | ast::StmtKind::MultiAssign { value, .. }
    | ast::StmtKind::Expr(value) = &stmt.kind
    {
        match &value.kind {
            ast::ExprKind::Ident(name) => {
                vars.slot(name);
            }
            ast::ExprKind::Index { name, .. } => {
                vars.slot(&name.name);
            }
            _ => {}
        }
    }
}

/// Name of an identifier, for messages.
pub fn ident_name(i: &Ident) -> &str {
    &i.name
}

/// Every variable a list of blocks may assign.
pub fn assigned_in(blocks: &[Block], vars: &VarTable, out: &mut Vec<VarId>) {
    for b in blocks {
        match b {
            Block::Basic(bb) => {
                for a in bb.stmts.iter().flat_map(visit::assigned_vars) {
                    if let Some(v) = vars.get(&a.name.name)
                        && !out.contains(&v)
                    {
                        out.push(v);
                    }
                }
            }
            Block::If { then_body, else_body, .. } => {
                assigned_in(then_body, vars, out);
                assigned_in(else_body, vars, out);
            }
            Block::While { body, .. } => assigned_in(body, vars, out),
            Block::For(f) => {
                if !out.contains(&f.var) {
                    out.push(f.var);
                }
                assigned_in(&f.preheader, vars, out);
                assigned_in(&f.body, vars, out);
            }
        }
    }
}
