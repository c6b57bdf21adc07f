//! Building the HOP DAG of one basic block (or one predicate) from its statements, with type and
//! shape inference and the checks of the validator: undefined variables, unknown functions,
//! argument lists, and data-type mismatches are reported here with the span of the user's code.
//!
//! This file holds the [`Builder`] and its scope (variables read, written and inlined), statements
//! and expressions; the rest is by concern: `args.rs` (matching arguments to parameters),
//! `calls.rs` (resolving a call, builtins compiled by their table entry), `special.rs` (builtins
//! with rules of their own), `user_calls.rs` (user function calls and inlining), `operators.rs`
//! (operators with their result types) and `types.rs` (type rules).

use crate::compiler::options::CmdArgs;
use crate::compiler::program::{ModuleId, Program, VarTable};
use crate::diagnostics::Diagnostic;
use crate::hops::{Dag, FuncId, Hop, HopId, HopOp, Lit, VarId};
use crate::syntax::ast::{
    AssignOp, AssignTarget, BinaryOp, Expr, ExprKind, Span, Stmt, StmtKind, UnaryOp, ValueType,
};
use crate::types::Backend;
use crate::types::ops::{BinOp, UnOp};
use crate::types::type_info::{DType, TypeInfo};
use std::collections::HashMap;

mod args;
mod calls;
mod operators;
mod special;
mod types;
mod user_calls;

pub use args::default_lit;
pub use types::{binary_type, numeric};

/// What is known about a variable flowing into a block.
#[derive(Clone, Debug)]
pub struct VarInfo {
    pub ty: TypeInfo,
    /// The value, when it is a compile-time constant scalar (constant propagation).
    pub konst: Option<Lit>,
}

/// Types (and constants) of the variables of a scope, by slot.
pub type Env = Vec<Option<VarInfo>>;

/// Everything the builder needs to know about the surroundings of a block.
pub struct BuildCtx<'a> {
    pub program: &'a Program,
    pub module: ModuleId,
    pub vars: &'a VarTable,
    pub env: &'a Env,
    pub args: &'a CmdArgs,
    /// Inline calls of small single-block functions into the caller's DAG.
    pub inline_functions: bool,
    /// Variables read after the block (live-variable analysis); `None` writes back every
    /// assignment.
    pub live_out: Option<&'a [VarId]>,
    /// Replace reads of constant scalars by literals (static compilation only: plans compiled at
    /// run time must not depend on scalar values, or loops would recompile every iteration).
    pub propagate_constants: bool,
}

/// The DAG of a block, with the variables it writes and their resulting types.
pub struct BuiltBlock {
    pub dag: Dag,
    /// Variables read from the enclosing scope, in first-read order.
    pub reads: Vec<VarId>,
    /// Types of the variables written by the block.
    pub writes: Vec<(VarId, TypeInfo, Option<Lit>)>,
}

/// The scope of a function whose body is being inlined into the caller's DAG.
struct InlineFrame<'a> {
    func: FuncId,
    vars: &'a VarTable,
    module: ModuleId,
    current: HashMap<VarId, HopId>,
}

pub struct Builder<'a> {
    ctx: &'a BuildCtx<'a>,
    inline_stack: Vec<InlineFrame<'a>>,
    dag: Dag,
    current: HashMap<VarId, HopId>,
    read_hops: HashMap<VarId, HopId>,
    reads: Vec<VarId>,
    write_order: Vec<VarId>,
}

pub(crate) type R<T> = Result<T, Diagnostic>;

pub(crate) fn err(span: Span, msg: impl Into<String>) -> Diagnostic {
    let msg = msg.into();
    Diagnostic::error(msg.clone()).with_primary(span, "")
}

impl<'a> Builder<'a> {
    pub fn new(ctx: &'a BuildCtx<'a>) -> Self {
        Builder {
            ctx,
            inline_stack: Vec::new(),
            dag: Dag::default(),
            current: HashMap::new(),
            read_hops: HashMap::new(),
            reads: Vec::new(),
            write_order: Vec::new(),
        }
    }

    /// Builds the DAG of a basic block.
    pub fn build_block(mut self, stmts: &[Stmt]) -> Result<BuiltBlock, Vec<Diagnostic>> {
        let mut errors = Vec::new();
        for stmt in stmts {
            if let Err(e) = self.stmt(stmt) {
                errors.push(e);
                self.poison_targets(stmt);
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let mut writes = Vec::new();
        for var in std::mem::take(&mut self.write_order) {
            let hop = self.current[&var];
            let h = self.dag.get(hop);
            let (ty, span) = (h.ty, h.span);
            let konst = h.literal().cloned();
            // Writing back an unchanged read is a no-op, and a variable nobody reads later need
            // not be written at all.
            if matches!(h.op, HopOp::Read(v) if v == var) {
                continue;
            }
            if self.ctx.live_out.is_some_and(|live| !live.contains(&var)) {
                writes.push((var, ty, konst));
                continue;
            }
            let w = self.add(HopOp::Write(var), vec![hop], ty, span);
            self.dag.roots.push(w);
            writes.push((var, ty, konst));
        }
        Ok(BuiltBlock { dag: self.dag, reads: self.reads, writes })
    }

    /// After a statement failed, its targets get a placeholder of unknown type, so that later
    /// uses do not report them as undefined (one error per mistake, not a cascade).
    fn poison_targets(&mut self, stmt: &Stmt) {
        for a in crate::syntax::visit::assigned_vars(stmt) {
            if let Some(var) = self.vars().get(&a.name.name) {
                let h = self.add(HopOp::Literal(Lit::Absent), vec![], TypeInfo::UNKNOWN, stmt.span);
                self.assign_var(var, h);
            }
        }
    }

    /// Builds the DAG of a predicate: its single root is the value.
    pub fn build_predicate(mut self, expr: &Expr) -> Result<(Dag, Vec<VarId>, HopId), Vec<Diagnostic>> {
        let id = self.expr(expr).map_err(|e| vec![e])?;
        self.dag.roots.push(id);
        Ok((self.dag, self.reads, id))
    }

    fn add(&mut self, op: HopOp, inputs: Vec<HopId>, ty: TypeInfo, span: Span) -> HopId {
        self.dag.add(Hop { op, inputs, ty, mem: 0.0, backend: Backend::CpuDense, span })
    }

    fn lit(&mut self, lit: Lit, span: Span) -> HopId {
        let ty = match &lit {
            Lit::Int(_) => TypeInfo::scalar(ValueType::Int),
            Lit::Double(_) => TypeInfo::scalar(ValueType::Double),
            Lit::Bool(_) => TypeInfo::scalar(ValueType::Boolean),
            Lit::Str(_) => TypeInfo::scalar(ValueType::String),
            Lit::Absent => TypeInfo::UNKNOWN,
        };
        self.add(HopOp::Literal(lit), vec![], ty, span)
    }

    fn ty(&self, id: HopId) -> TypeInfo {
        self.dag.get(id).ty
    }

    /// Variables of the scope being built (the inlined function's, inside an inlined body).
    fn vars(&self) -> &'a VarTable {
        match self.inline_stack.last() {
            Some(f) => f.vars,
            None => self.ctx.vars,
        }
    }

    fn module(&self) -> ModuleId {
        self.inline_stack.last().map(|f| f.module).unwrap_or(self.ctx.module)
    }

    fn is_defined(&self, name: &str) -> bool {
        match self.inline_stack.last() {
            Some(f) => f.vars.get(name).is_some_and(|v| f.current.contains_key(&v)),
            None => self.ctx.vars.get(name).is_some_and(|v| {
                self.current.contains_key(&v) || self.ctx.env.get(v as usize).is_some_and(|i| i.is_some())
            }),
        }
    }

    fn assign_var(&mut self, var: VarId, hop: HopId) {
        if let Some(f) = self.inline_stack.last_mut() {
            f.current.insert(var, hop);
            return;
        }
        if !self.write_order.contains(&var) {
            self.write_order.push(var);
        }
        self.current.insert(var, hop);
    }

    fn stmt(&mut self, stmt: &Stmt) -> R<()> {
        match &stmt.kind {
            StmtKind::Assign { target, op, value } => {
                let name = match target {
                    AssignTarget::Var(id) => id,
                    AssignTarget::Indexed { name, .. } => name,
                };
                let var = self
                    .vars()
                    .get(&name.name)
                    .ok_or_else(|| err(name.span, format!("cannot assign to `{}` here", name.name)))?;
                let mut rhs = self.expr(value)?;
                if *op == AssignOp::PlusEq {
                    let old = self.read_var(&name.name, name.span)?;
                    rhs = match target {
                        AssignTarget::Var(_) => self.binary(BinOp::Add, old, rhs, stmt.span)?,
                        AssignTarget::Indexed { rows, cols, .. } => {
                            let cur = self.index(old, rows, cols.as_ref(), name.span)?;
                            self.binary(BinOp::Add, cur, rhs, stmt.span)?
                        }
                    };
                }
                let result = match target {
                    AssignTarget::Var(_) => {
                        if self.ty(rhs).dt == DType::Unknown
                            && self.dag.get(rhs).literal() == Some(&Lit::Absent)
                        {
                            return Err(err(value.span, "this expression has no value"));
                        }
                        rhs
                    }
                    AssignTarget::Indexed { rows, cols, .. } => {
                        let target_hop = self.read_var(&name.name, name.span)?;
                        self.left_index(target_hop, rhs, rows, cols.as_ref(), stmt.span)?
                    }
                };
                self.assign_var(var, result);
                Ok(())
            }
            StmtKind::MultiAssign { targets, value } => {
                let ExprKind::Call { namespace, name, args } = &value.kind else {
                    return Err(err(
                        value.span,
                        "the right side of a multi-assignment must be a function call",
                    ));
                };
                let outs = self.call(namespace.as_ref(), name, args, value.span, targets.len())?;
                if outs.len() < targets.len() {
                    return Err(err(
                        value.span,
                        format!(
                            "`{}` returns {} values, but {} are assigned",
                            name.name,
                            outs.len(),
                            targets.len()
                        ),
                    ));
                }
                for (t, out) in targets.iter().zip(outs) {
                    let var = self.vars().get(&t.name).ok_or_else(|| err(t.span, "cannot assign here"))?;
                    self.assign_var(var, out);
                }
                Ok(())
            }
            StmtKind::Expr(e) => {
                let ExprKind::Call { namespace, name, args } = &e.kind else {
                    return Err(err(e.span, "an expression alone is not a statement; assign it or print it"));
                };
                let outs = self.call(namespace.as_ref(), name, args, e.span, 0)?;
                // A call whose value is unused still runs if it has effects (a user function, write).
                for out in outs {
                    let h = self.dag.get(out);
                    let root = match h.op {
                        HopOp::Extract(_) => h.inputs[0],
                        _ => out,
                    };
                    if self.dag.get(root).has_side_effect() && !self.dag.roots.contains(&root) {
                        self.dag.roots.push(root);
                    }
                }
                Ok(())
            }
            _ => Err(err(stmt.span, "control flow inside a basic block")),
        }
    }

    fn read_var(&mut self, name: &str, span: Span) -> R<HopId> {
        if let Some(f) = self.inline_stack.last() {
            return f
                .vars
                .get(name)
                .and_then(|v| f.current.get(&v).copied())
                .ok_or_else(|| undefined(name, span));
        }
        let Some(var) = self.ctx.vars.get(name) else {
            return Err(undefined(name, span));
        };
        if let Some(&h) = self.current.get(&var) {
            return Ok(h);
        }
        if let Some(&h) = self.read_hops.get(&var) {
            return Ok(h);
        }
        let Some(info) = self.ctx.env.get(var as usize).and_then(|v| v.as_ref()) else {
            return Err(undefined(name, span));
        };
        let id = match (&info.konst, self.ctx.propagate_constants) {
            (Some(k), true) => self.lit(k.clone(), span),
            _ => {
                let id = self.add(HopOp::Read(var), vec![], info.ty, span);
                self.reads.push(var);
                id
            }
        };
        self.read_hops.insert(var, id);
        Ok(id)
    }

    pub fn expr(&mut self, e: &Expr) -> R<HopId> {
        let span = e.span;
        match &e.kind {
            ExprKind::Int(i) => Ok(self.lit(Lit::Int(*i), span)),
            ExprKind::Double(d) => Ok(self.lit(Lit::Double(*d), span)),
            ExprKind::Bool(b) => Ok(self.lit(Lit::Bool(*b), span)),
            ExprKind::Str(s) => Ok(self.lit(Lit::Str(s.clone()), span)),
            ExprKind::Ident(name) => {
                if !self.is_defined(name) {
                    match name.as_str() {
                        "pi" => return Ok(self.lit(Lit::Double(std::f64::consts::PI), span)),
                        "Inf" => return Ok(self.lit(Lit::Double(f64::INFINITY), span)),
                        "NaN" => return Ok(self.lit(Lit::Double(f64::NAN), span)),
                        _ => {}
                    }
                }
                self.read_var(name, span)
            }
            ExprKind::CmdArg(name) => match self.ctx.args.values.get(name) {
                Some(v) => Ok(self.lit(v.clone(), span)),
                None => Err(err(span, format!("command-line parameter `${name}` was not given"))
                    .with_note("pass it with -nvargs name=value (or -args for $1, $2, ...), or use ifdef($name, default)")),
            },
            ExprKind::IfDef { param, default } => match self.ctx.args.values.get(param) {
                Some(v) => Ok(self.lit(v.clone(), span)),
                None => self.expr(default),
            },
            ExprKind::Unary { op, expr } => {
                let x = self.expr(expr)?;
                match op {
                    UnaryOp::Pos => Ok(x),
                    UnaryOp::Neg => {
                        if let Some(l) = self.dag.get(x).literal() {
                            match l {
                                Lit::Int(i) => return Ok(self.lit(Lit::Int(i.wrapping_neg()), span)),
                                Lit::Double(d) => return Ok(self.lit(Lit::Double(-d), span)),
                                _ => {}
                            }
                        }
                        self.unary(UnOp::Neg, x, span)
                    }
                    UnaryOp::Not => self.unary(UnOp::Not, x, span),
                }
            }
            ExprKind::Binary { op, lhs, rhs } => {
                let a = self.expr(lhs)?;
                let b = self.expr(rhs)?;
                let bop = match op {
                    BinaryOp::Pow => BinOp::Pow,
                    BinaryOp::MatMul => return self.matmul(a, b, span),
                    BinaryOp::IntDiv => BinOp::IntDiv,
                    BinaryOp::Mod => BinOp::Mod,
                    BinaryOp::Mul => BinOp::Mul,
                    BinaryOp::Div => BinOp::Div,
                    BinaryOp::Add => BinOp::Add,
                    BinaryOp::Sub => BinOp::Sub,
                    BinaryOp::Lt => BinOp::Lt,
                    BinaryOp::Le => BinOp::Le,
                    BinaryOp::Gt => BinOp::Gt,
                    BinaryOp::Ge => BinOp::Ge,
                    BinaryOp::Eq => BinOp::Eq,
                    BinaryOp::Ne => BinOp::Ne,
                    BinaryOp::And => BinOp::And,
                    BinaryOp::Or => BinOp::Or,
                    BinaryOp::AndAnd => {
                        return Err(err(span, "conditional AND (&&) is not supported; use &"));
                    }
                    BinaryOp::OrOr => return Err(err(span, "conditional OR (||) is not supported; use |")),
                };
                self.binary(bop, a, b, span)
            }
            ExprKind::Call { namespace, name, args } => {
                let outs = self.call(namespace.as_ref(), name, args, span, 1)?;
                match outs.first() {
                    Some(&o) => Ok(o),
                    None => Err(err(span, format!("`{}` returns no value", name.name))),
                }
            }
            ExprKind::Index { name, rows, cols } => {
                let x = self.read_var(&name.name, name.span)?;
                self.index(x, rows, cols.as_deref(), span)
            }
            ExprKind::List(items) => {
                // `[N, C, H, W]` shape arguments of the DNN builtins: an unnamed list of scalars.
                let mut inputs = Vec::with_capacity(items.len());
                for it in items {
                    inputs.push(self.expr(it)?);
                }
                let n = inputs.len() as i64;
                Ok(self.add(HopOp::MakeList(vec![]), inputs, TypeInfo::list(n), span))
            }
        }
    }
}

fn undefined(name: &str, span: Span) -> Diagnostic {
    Diagnostic::error(format!("undefined variable `{name}`"))
        .with_primary(span, "used here before it has a value")
}
