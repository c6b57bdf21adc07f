//! Building the HOP DAG of one basic block (or one predicate) from its statements, with type and
//! shape inference and the checks of the validator: undefined variables, unknown functions,
//! argument lists, and data-type mismatches are reported here with the span of the user's code.

use crate::builtins::{self, BuiltinId, Def, Lower, Out};
use crate::compiler::program::{ModuleId, Program, VarTable};
use crate::diagnostics::Diagnostic;
use crate::hops::{Dag, FuncId, Hop, HopId, HopOp, Lit, VarId};
use crate::syntax::ast::{
    self, Arg, AssignOp, AssignTarget, BinaryOp, Expr, ExprKind, IndexSpec, Span, Stmt, StmtKind, UnaryOp,
    ValueType,
};
use crate::types::Backend;
use crate::types::ops::{AggDir, AggOp, BinOp, UnOp};
use crate::types::ops::{CastOp, DataGenOp, EffectOp, NaryOp, ReorgOp};
use crate::types::type_info::{DType, TypeInfo, is_numeric};
use std::collections::HashMap;

/// What is known about a variable flowing into a block.
#[derive(Clone, Debug)]
pub struct VarInfo {
    pub ty: TypeInfo,
    /// The value, when it is a compile-time constant scalar (constant propagation).
    pub konst: Option<Lit>,
}

/// Types (and constants) of the variables of a scope, by slot.
pub type Env = Vec<Option<VarInfo>>;

/// Command-line parameters: `$name` and `$1`, already typed as SystemDS does.
#[derive(Clone, Debug, Default)]
pub struct CmdArgs {
    pub values: HashMap<String, Lit>,
}

impl CmdArgs {
    /// Types a raw argument as SystemDS does: integer, then double, then boolean, else string.
    pub fn parse_value(raw: &str) -> Lit {
        if let Ok(i) = raw.parse::<i64>() {
            return Lit::Int(i);
        }
        if let Ok(d) = raw.parse::<f64>() {
            return Lit::Double(d);
        }
        match raw {
            "TRUE" | "true" => Lit::Bool(true),
            "FALSE" | "false" => Lit::Bool(false),
            _ => Lit::Str(raw.trim_matches('"').to_string()),
        }
    }
}

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

type R<T> = Result<T, Diagnostic>;

fn err(span: Span, msg: impl Into<String>) -> Diagnostic {
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
        let names: Vec<&str> = match &stmt.kind {
            StmtKind::Assign { target: AssignTarget::Var(v), .. } => vec![v.name.as_str()],
            StmtKind::Assign { target: AssignTarget::Indexed { name, .. }, .. } => vec![name.name.as_str()],
            StmtKind::MultiAssign { targets, .. } => targets.iter().map(|t| t.name.as_str()).collect(),
            _ => vec![],
        };
        for n in names {
            if let Some(var) = self.vars().get(n) {
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

    pub fn unary(&mut self, op: UnOp, x: HopId, span: Span) -> R<HopId> {
        let t = self.ty(x);
        let ty = match t.dt {
            DType::Scalar => {
                if t.vt == ValueType::String {
                    return Err(err(span, format!("`{}` cannot be applied to a string", op_name_un(op))));
                }
                let vt = match op {
                    UnOp::Not | UnOp::IsNa | UnOp::IsNaN | UnOp::IsInf => ValueType::Boolean,
                    UnOp::Neg if t.vt == ValueType::Int => ValueType::Int,
                    _ => ValueType::Double,
                };
                TypeInfo::scalar(vt)
            }
            DType::Matrix => TypeInfo::matrix(t.rows, t.cols),
            DType::Unknown => TypeInfo::UNKNOWN,
            _ => return Err(err(span, format!("`{}` cannot be applied to a {}", op_name_un(op), t))),
        };
        Ok(self.add(HopOp::Unary(op), vec![x], ty, span))
    }

    pub fn binary(&mut self, op: BinOp, a: HopId, b: HopId, span: Span) -> R<HopId> {
        let ty = binary_type(op, &self.ty(a), &self.ty(b)).map_err(|m| err(span, m))?;
        Ok(self.add(HopOp::Binary(op), vec![a, b], ty, span))
    }

    fn matmul(&mut self, a: HopId, b: HopId, span: Span) -> R<HopId> {
        let (ta, tb) = (self.ty(a), self.ty(b));
        for t in [ta, tb] {
            if t.dt != DType::Matrix && t.dt != DType::Unknown {
                return Err(err(span, format!("%*% needs two matrices, but got a {t}")));
            }
        }
        if ta.cols >= 0 && tb.rows >= 0 && ta.cols != tb.rows {
            return Err(err(
                span,
                format!(
                    "dimensions do not match for matrix multiplication: {}x{} %*% {}x{}",
                    ta.rows, ta.cols, tb.rows, tb.cols
                ),
            ));
        }
        Ok(self.add(HopOp::MatMul, vec![a, b], TypeInfo::matrix(ta.rows, tb.cols), span))
    }

    fn index_bounds(&mut self, spec: Option<&IndexSpec>) -> R<(HopId, HopId)> {
        match spec {
            None | Some(IndexSpec::All) => {
                let a = self.lit(Lit::Absent, Span::default());
                let b = self.lit(Lit::Absent, Span::default());
                Ok((a, b))
            }
            Some(IndexSpec::Single(e)) => {
                let x = self.expr(e)?;
                Ok((x, x))
            }
            Some(IndexSpec::Range(lo, hi)) => Ok((self.expr(lo)?, self.expr(hi)?)),
        }
    }

    fn index(&mut self, x: HopId, rows: &IndexSpec, cols: Option<&IndexSpec>, span: Span) -> R<HopId> {
        let tx = self.ty(x);
        if tx.dt == DType::Scalar {
            return Err(err(span, format!("cannot index a scalar ({tx})")));
        }
        let (rl, ru) = self.index_bounds(Some(rows))?;
        let (cl, cu) = self.index_bounds(cols)?;
        let ty = match tx.dt {
            DType::List => TypeInfo::list(-1),
            DType::Matrix | DType::Frame => {
                let r = extent(&self.dag, rl, ru, tx.rows);
                let c = extent(&self.dag, cl, cu, tx.cols);
                let mut t =
                    if tx.dt == DType::Frame { TypeInfo::frame(r, c) } else { TypeInfo::matrix(r, c) };
                t.vt = tx.vt;
                t
            }
            _ => TypeInfo::UNKNOWN,
        };
        Ok(self.add(HopOp::Index, vec![x, rl, ru, cl, cu], ty, span))
    }

    fn left_index(
        &mut self,
        target: HopId,
        value: HopId,
        rows: &IndexSpec,
        cols: Option<&IndexSpec>,
        span: Span,
    ) -> R<HopId> {
        let tt = self.ty(target);
        if tt.dt == DType::Scalar {
            return Err(err(span, format!("cannot assign into an index of a scalar ({tt})")));
        }
        let (rl, ru) = self.index_bounds(Some(rows))?;
        let (cl, cu) = self.index_bounds(cols)?;
        Ok(self.add(HopOp::LeftIndex, vec![target, value, rl, ru, cl, cu], tt, span))
    }

    /// The integers of a shape argument such as `[N, C, H, W]` when they are all literals.
    fn shape_lits(&self, h: HopId, len: usize, default: Option<i64>) -> Option<Vec<i64>> {
        let hop = self.dag.get(h);
        match (&hop.op, default) {
            (HopOp::Literal(Lit::Absent), Some(d)) => Some(vec![d; len]),
            (HopOp::Literal(l), _) => l.as_f64().map(|v| vec![v as i64; len]),
            (HopOp::MakeList(_), _) if hop.inputs.len() == len => hop
                .inputs
                .iter()
                .map(|&i| self.dag.get(i).literal().and_then(|l| l.as_f64()).map(|v| v as i64))
                .collect(),
            _ => None,
        }
    }

    /// Output shapes of the DNN builtins, from literal shape arguments (after constants are
    /// propagated these usually are), so that later operators have known sizes.
    fn dnn_out_type(&self, name: &str, inputs: &[HopId]) -> Option<TypeInfo> {
        let out = |lo: i64, pad: i64, k: i64, stride: i64| (lo + 2 * pad - k) / stride.max(1) + 1;
        match name {
            "conv2d" => {
                let i = self.shape_lits(inputs[2], 4, None)?;
                let f = self.shape_lits(inputs[3], 4, None)?;
                let st = self.shape_lits(inputs[4], 2, Some(1))?;
                let p = self.shape_lits(inputs[5], 2, Some(0))?;
                Some(TypeInfo::matrix(
                    i[0],
                    f[0] * out(i[2], p[0], f[2], st[0]) * out(i[3], p[1], f[3], st[1]),
                ))
            }
            "conv2d_backward_filter" => {
                let f = self.shape_lits(inputs[5], 4, None)?;
                Some(TypeInfo::matrix(f[0], f[1] * f[2] * f[3]))
            }
            "conv2d_backward_data" => {
                let i = self.shape_lits(inputs[4], 4, None)?;
                Some(TypeInfo::matrix(i[0], i[1] * i[2] * i[3]))
            }
            "max_pool" | "avg_pool" => {
                let i = self.shape_lits(inputs[1], 4, None)?;
                let k = self.shape_lits(inputs[2], 2, None)?;
                let st = self.shape_lits(inputs[3], 2, Some(1))?;
                let p = self.shape_lits(inputs[4], 2, Some(0))?;
                Some(TypeInfo::matrix(
                    i[0],
                    i[1] * out(i[2], p[0], k[0], st[0]) * out(i[3], p[1], k[1], st[1]),
                ))
            }
            "max_pool_backward" | "avg_pool_backward" => {
                let i = self.shape_lits(inputs[2], 4, None)?;
                Some(TypeInfo::matrix(i[0], i[1] * i[2] * i[3]))
            }
            // read(..., data_type="frame") gives a frame.
            "read" => match self.dag.get(*inputs.get(10)?).literal()? {
                Lit::Str(s) if s.eq_ignore_ascii_case("frame") => Some(TypeInfo::frame(-1, -1)),
                _ => None,
            },
            _ => None,
        }
    }

    /// Matches call arguments to parameters (positional, then named), as R does.
    fn match_args(
        &mut self,
        fname: &str,
        params: &[(&str, bool)],
        variadic: bool,
        args: &[Arg],
        span: Span,
    ) -> R<(Vec<Option<HopId>>, Vec<HopId>)> {
        self.match_args_with(fname, params, variadic, args, span, true)
    }

    /// [`Self::match_args`]; `builtin` allows SystemDS's positional reading of unknown names.
    fn match_args_with(
        &mut self,
        fname: &str,
        params: &[(&str, bool)],
        variadic: bool,
        args: &[Arg],
        span: Span,
        builtin: bool,
    ) -> R<(Vec<Option<HopId>>, Vec<HopId>)> {
        let mut slots: Vec<Option<HopId>> = vec![None; params.len()];
        let mut extra = Vec::new();
        let mut next_pos = 0;
        // SystemDS's parser passes a plain (not parameterized) builtin's arguments by position
        // once the first one is unnamed, whatever later ones are called: `ifelse(c, 5, n =
        // ceil(x))` (bandit.dml). Only for these few, so that a misspelt name of a builtin with
        // named parameters (`matrix(0, rows=2, colz=3)`) stays an error.
        const PLAIN: &[&str] =
            &["ifelse", "min", "max", "round", "abs", "log", "sqrt", "exp", "floor", "ceil"];
        let first_positional =
            builtin && PLAIN.contains(&fname) && args.first().is_some_and(|a| a.name.is_none());
        for arg in args {
            let value = self.expr(&arg.value)?;
            // SystemDS also names table's output dimensions rows= and cols=.
            let named = arg.name.as_ref().map(|n| {
                let pname = match (fname, n.name.as_str()) {
                    ("table" | "ctable", "rows") => "odim1",
                    ("table" | "ctable", "cols") => "odim2",
                    (_, other) => other,
                };
                (n, params.iter().position(|(p, _)| *p == pname))
            });
            let named = match named {
                Some((_, None)) if first_positional => None,
                other => other,
            };
            match named {
                Some((n, i)) => {
                    let Some(i) = i else {
                        return Err(err(n.span, format!("`{fname}` has no parameter named `{}`", n.name)));
                    };
                    if slots[i].is_some() {
                        return Err(err(
                            n.span,
                            format!("parameter `{}` of `{fname}` is given twice", n.name),
                        ));
                    }
                    slots[i] = Some(value);
                }
                None => {
                    while next_pos < params.len() && slots[next_pos].is_some() {
                        next_pos += 1;
                    }
                    if next_pos < params.len() {
                        slots[next_pos] = Some(value);
                        next_pos += 1;
                    } else if variadic {
                        extra.push(value);
                    } else {
                        return Err(err(
                            arg.value.span,
                            format!("too many arguments for `{fname}` (it takes {})", params.len()),
                        ));
                    }
                }
            }
        }
        for (i, (pname, required)) in params.iter().enumerate() {
            if slots[i].is_none() && *required {
                return Err(err(span, format!("missing argument `{pname}` in the call of `{fname}`")));
            }
        }
        Ok((slots, extra))
    }

    /// Compiles a call; returns its outputs (several for multi-return functions).
    fn call(
        &mut self,
        ns: Option<&ast::Ident>,
        name: &ast::Ident,
        args: &[Arg],
        span: Span,
        want: usize,
    ) -> R<Vec<HopId>> {
        let program = self.ctx.program;
        if let Some(f) = program.resolve_function(self.module(), ns.map(|n| n.name.as_str()), &name.name) {
            return self.user_call(f, args, span);
        }
        if let Some(ns) = ns {
            if !program.modules[self.module() as usize].namespaces.contains_key(&ns.name) {
                return Err(err(ns.span, format!("unknown namespace `{}`", ns.name))
                    .with_note("bring it in with source(\"file.dml\") as ns"));
            }
            return Err(err(name.span, format!("namespace `{}` has no function `{}`", ns.name, name.name)));
        }
        let Some(id) = builtins::lookup(&name.name).filter(|id| !id.name().starts_with('_')) else {
            if program.builtin_modules.contains_key(&name.name) {
                let first = match args.first() {
                    Some(a) => {
                        let h = self.expr(&a.value)?;
                        Some(self.ty(h).dt)
                    }
                    None => None,
                };
                if let Some(f) = program.resolve_dml_builtin(&name.name, first) {
                    return self.user_call(f, args, span);
                }
            }
            if let Some(why) = unsupported_builtin(&name.name) {
                return Err(err(
                    name.span,
                    format!("`{}` is not supported by this engine: {why}", name.name),
                ));
            }
            return Err(err(name.span, format!("unknown function `{}`", name.name))
                .with_note("not a user function or a builtin; DML-bodied builtins need --builtin-path DIR or DML_BUILTIN_PATH"));
        };
        self.builtin_call(id, &name.name, args, span, want)
    }

    fn user_call(&mut self, f: FuncId, args: &[Arg], span: Span) -> R<Vec<HopId>> {
        let func = &self.ctx.program.functions[f as usize];
        let params: Vec<(&str, bool)> =
            func.params.iter().map(|p| (p.name.name.as_str(), p.default.is_none())).collect();
        let (slots, _) = self.match_args_with(&func.name, &params, false, args, span, false)?;
        let mut inputs = Vec::with_capacity(slots.len());
        for (i, s) in slots.into_iter().enumerate() {
            let hop = match s {
                Some(h) => {
                    let declared = TypeInfo::of_spec(&func.params[i].ty);
                    let actual = self.ty(h);
                    if declared.dt != actual.dt
                        && actual.dt != DType::Unknown
                        && declared.dt != DType::Unknown
                    {
                        let arg_span = self.dag.get(h).span;
                        return Err(err(
                            arg_span,
                            format!(
                                "argument `{}` of `{}` must be a {}, but this is a {}",
                                func.params[i].name.name, func.name, func.params[i].ty.data, actual
                            ),
                        ));
                    }
                    h
                }
                None => self.lit(Lit::Absent, span),
            };
            inputs.push(hop);
        }
        if let Some(outs) = self.try_inline(f, &inputs, span)? {
            return Ok(outs);
        }
        let nout = func.returns.len();
        let call = self.add(HopOp::Call { func: f, nout: nout as u8 }, inputs, TypeInfo::UNKNOWN, span);
        let mut outs = Vec::with_capacity(nout);
        for (i, r) in func.returns.iter().enumerate() {
            outs.push(self.add(HopOp::Extract(i as u8), vec![call], TypeInfo::of_spec(&r.ty), span));
        }
        // A call runs even when nobody reads its results: the function may print, write or stop,
        // and SystemDS runs every call statement.
        self.dag.roots.push(call);
        Ok(outs)
    }

    /// Inlines a call of a small function whose body is one basic block: its statements are built
    /// into this DAG with the parameters bound to the argument operators, so the call costs
    /// nothing at run time and rewrites see across it. Returns `None` when the function does not
    /// qualify (several blocks, recursion, too large, inlining switched off).
    fn try_inline(&mut self, f: FuncId, inputs: &[HopId], span: Span) -> R<Option<Vec<HopId>>> {
        const MAX_INLINE_STATEMENTS: usize = 24;
        const MAX_INLINE_DEPTH: usize = 8;
        if !self.ctx.inline_functions || self.inline_stack.len() >= MAX_INLINE_DEPTH {
            return Ok(None);
        }
        if self.inline_stack.iter().any(|fr| fr.func == f) {
            return Ok(None);
        }
        let program = self.ctx.program;
        let func = &program.functions[f as usize];
        if func.external {
            return Ok(None);
        }
        let stmts = match func.body.as_slice() {
            [] => &[][..],
            [crate::compiler::program::Block::Basic(bb)] => &bb.stmts[..],
            _ => return Ok(None),
        };
        if stmts.len() > MAX_INLINE_STATEMENTS {
            return Ok(None);
        }
        // `eval` resolves names in the file whose code is running; inlined into another file's
        // code it would look in the wrong one.
        if func.module != self.module() {
            let mut calls_eval = false;
            crate::compiler::visit_calls(stmts, &mut |ns, name, _| {
                calls_eval |= ns.is_none() && (name == "eval" || name == "evalList");
            });
            if calls_eval {
                return Ok(None);
            }
        }
        // Arguments whose parameter has a default expression that is not a literal are evaluated
        // by the callee at run time; such calls are not inlined.
        let mut frame =
            InlineFrame { func: f, vars: &func.vars, module: func.module, current: HashMap::new() };
        let mut pending_defaults = Vec::new();
        for (i, &h) in inputs.iter().enumerate() {
            if self.dag.get(h).literal() == Some(&Lit::Absent) {
                match &func.params[i].default {
                    Some(d) => pending_defaults.push((func.param_slots[i], d)),
                    None => return Ok(None),
                }
            } else {
                let h = self.cast_to_declared(h, &func.params[i].ty, span)?;
                frame.current.insert(func.param_slots[i], h);
            }
        }
        self.inline_stack.push(frame);
        let roots_before = self.dag.roots.len();
        let result = (|| -> R<Option<Vec<HopId>>> {
            for (slot, d) in pending_defaults {
                let h = self.expr(d)?;
                self.assign_var(slot, h);
            }
            for stmt in stmts {
                self.stmt(stmt)?;
            }
            let frame = self.inline_stack.last().expect("pushed above");
            let mut found = Vec::new();
            for &slot in &func.return_slots {
                match frame.current.get(&slot) {
                    Some(&h) => found.push(h),
                    None => return Ok(None),
                }
            }
            let mut outs = Vec::new();
            for (h, r) in found.into_iter().zip(&func.returns) {
                outs.push(self.cast_to_declared(h, &r.ty, span)?);
            }
            Ok(Some(outs))
        })();
        self.inline_stack.pop();
        if !matches!(result, Ok(Some(_))) {
            // Nothing of a failed attempt may run: the real call does it all.
            self.dag.roots.truncate(roots_before);
        }
        let _ = span;
        result
    }

    /// A scalar passed to or returned from a function takes the function's declared value type
    /// (an `int` result declared `double` prints as `3.0`), as SystemDS converts it.
    fn cast_to_declared(&mut self, h: HopId, spec: &ast::TypeSpec, span: Span) -> R<HopId> {
        let t = self.ty(h);
        let scalarish = t.dt == DType::Scalar || t.dt == DType::Unknown;
        if spec.data != ast::DataType::Scalar || !scalarish || t.vt == spec.value {
            return Ok(h);
        }
        let maybe = |vts: &[ValueType]| vts.contains(&t.vt) || t.vt == ValueType::Unknown;
        let op = match spec.value {
            ValueType::Double if maybe(&[ValueType::Int, ValueType::Boolean]) => CastOp::AsDouble,
            ValueType::Int if maybe(&[ValueType::Double, ValueType::Boolean]) => CastOp::AsInt,
            ValueType::Boolean if maybe(&[ValueType::Int, ValueType::Double]) => CastOp::AsBool,
            _ => return Ok(h),
        };
        self.cast(op, h, span)
    }

    fn builtin_call(
        &mut self,
        id: BuiltinId,
        name: &str,
        args: &[Arg],
        span: Span,
        want: usize,
    ) -> R<Vec<HopId>> {
        let spec = id.spec();
        // Builtins compiled by name first: they have unusual argument rules.
        if spec.lower == Lower::Special {
            return self.special_call(spec.name, args, span).map(|h| h.into_iter().collect());
        }
        let params: Vec<(&str, bool)> = spec.params.iter().map(|p| (p.name, p.default == Def::Req)).collect();
        let (slots, extra) = self.match_args(name, &params, spec.variadic, args, span)?;
        match spec.lower {
            Lower::Unary(op) => Ok(vec![self.unary(op, slots[0].expect("required"), span)?]),
            Lower::Agg(op, dir) => {
                let x = slots[0].expect("required");
                if let Some(w) = slots.get(1).copied().flatten() {
                    // Weighted mean: sum(X * W) / sum(W).
                    let xw = self.binary(BinOp::Mul, x, w, span)?;
                    let num = self.aggregate(AggOp::Sum, dir, xw, span)?;
                    let den = self.aggregate(AggOp::Sum, dir, w, span)?;
                    return Ok(vec![self.binary(BinOp::Div, num, den, span)?]);
                }
                Ok(vec![self.aggregate(op, dir, x, span)?])
            }
            Lower::MinMax(nop) => {
                let first = slots[0].expect("required");
                if extra.is_empty() {
                    let t = self.ty(first);
                    if t.dt == DType::Scalar {
                        return Ok(vec![first]);
                    }
                    let op = if nop == NaryOp::Min { AggOp::Min } else { AggOp::Max };
                    return Ok(vec![self.aggregate(op, AggDir::All, first, span)?]);
                }
                let bop = if nop == NaryOp::Min { BinOp::Min } else { BinOp::Max };
                let nary = extra.len() > 1;
                let mut acc = first;
                for e in extra {
                    acc = self.binary(bop, acc, e, span)?;
                }
                // SystemDS's n-ary min/max (three or more arguments) always gives a double.
                if nary && self.ty(acc).dt == DType::Scalar {
                    acc = self.cast(CastOp::AsDouble, acc, span)?;
                }
                Ok(vec![acc])
            }
            Lower::Reorg(op) => {
                let x = slots[0].expect("required");
                let t = self.ty(x);
                if t.dt != DType::Matrix && t.dt != DType::Unknown {
                    return Err(err(span, format!("`{name}` needs a matrix, but got a {t}")));
                }
                let ty = match op {
                    ReorgOp::Transpose => TypeInfo::matrix(t.cols, t.rows),
                    ReorgOp::Rev => TypeInfo::matrix(t.rows, t.cols),
                    ReorgOp::Diag => {
                        if t.cols == 1 {
                            TypeInfo::matrix(t.rows, t.rows)
                        } else if t.rows >= 0 && t.cols >= 0 && t.rows != t.cols {
                            return Err(err(
                                span,
                                format!("diag needs a square matrix or a column vector, got {t}"),
                            ));
                        } else {
                            TypeInfo::matrix(t.rows, if t.cols < 0 { -1 } else { 1 })
                        }
                    }
                };
                Ok(vec![self.add(HopOp::Reorg(op), vec![x], ty, span)])
            }
            Lower::Cast(op) => {
                let x = slots[0].expect("required");
                Ok(vec![self.cast(op, x, span)?])
            }
            Lower::Nary(op) => {
                let mut inputs = vec![slots[0].expect("required")];
                inputs.extend(extra);
                let tys: Vec<TypeInfo> = inputs.iter().map(|&h| self.ty(h)).collect();
                if tys.len() == 1
                    && tys[0].dt == DType::List
                    && matches!(op, crate::types::ops::NaryOp::Cbind | crate::types::ops::NaryOp::Rbind)
                {
                    // rbind(L) / cbind(L): the list's matrices, bound together (as SystemDS does).
                    return Ok(vec![self.add(HopOp::Nary(op), inputs, TypeInfo::matrix(-1, -1), span)]);
                }
                if tys.iter().any(|t| t.dt == DType::List) {
                    return Err(err(span, format!("`{name}` of lists: use append")));
                }
                let ty = nary_type(op, &tys).map_err(|m| err(span, m))?;
                Ok(vec![self.add(HopOp::Nary(op), inputs, ty, span)])
            }
            Lower::Library => {
                let mut inputs = Vec::with_capacity(slots.len() + extra.len());
                for (i, s) in slots.iter().enumerate() {
                    let h = match s {
                        Some(h) => *h,
                        None => {
                            let lit = default_lit(spec.params[i].default);
                            self.lit(lit, span)
                        }
                    };
                    inputs.push(h);
                }
                inputs.extend(extra);
                let tys: Vec<TypeInfo> = inputs.iter().map(|&h| self.ty(h)).collect();
                let nout = spec.nout.max(1);
                let ty = self.dnn_out_type(spec.name, &inputs).unwrap_or_else(|| out_type(spec.out, &tys));
                let hop = self.add(HopOp::Builtin { id, nout }, inputs, ty, span);
                if spec.nout > 1 || want > 1 {
                    let mut outs = Vec::new();
                    for i in 0..spec.nout {
                        outs.push(self.add(HopOp::Extract(i), vec![hop], TypeInfo::UNKNOWN, span));
                    }
                    let h = self.dag.get_mut(hop);
                    h.ty = TypeInfo::UNKNOWN;
                    return Ok(outs);
                }
                if spec.out == Out::Nothing {
                    self.dag.roots.push(hop);
                    return Ok(vec![]);
                }
                // Operators with effects (time(), reading files, random numbers) run where the
                // statement stands, not when their value is first needed: `t0 = time()` must
                // be taken before the work it measures.
                if spec.side_effect {
                    self.dag.roots.push(hop);
                }
                Ok(vec![hop])
            }
            Lower::Special => unreachable!("handled above"),
        }
    }

    fn aggregate(&mut self, op: AggOp, dir: AggDir, x: HopId, span: Span) -> R<HopId> {
        let t = self.ty(x);
        if !matches!(t.dt, DType::Matrix | DType::Unknown) {
            return Err(err(span, format!("this aggregate needs a matrix, but got a {t}")));
        }
        let ty = match dir {
            AggDir::All => TypeInfo::scalar(ValueType::Double),
            AggDir::Row => TypeInfo::matrix(t.rows, 1),
            AggDir::Col => TypeInfo::matrix(1, t.cols),
        };
        Ok(self.add(HopOp::AggUnary(op, dir), vec![x], ty, span))
    }

    fn cast(&mut self, op: CastOp, x: HopId, span: Span) -> R<HopId> {
        let t = self.ty(x);
        let ty = match op {
            CastOp::AsScalar => {
                if t.dt == DType::Scalar {
                    return Ok(x);
                }
                if t.dt == DType::Matrix && t.dims_known() && (t.rows != 1 || t.cols != 1) {
                    return Err(err(
                        span,
                        format!("as.scalar needs a 1x1 matrix, but this is {}x{}", t.rows, t.cols),
                    ));
                }
                let vt = if t.dt == DType::Matrix { ValueType::Double } else { ValueType::Unknown };
                TypeInfo {
                    dt: if vt == ValueType::Unknown { DType::Unknown } else { DType::Scalar },
                    ..TypeInfo::scalar(vt)
                }
            }
            CastOp::AsMatrix => match t.dt {
                DType::Matrix => return Ok(x),
                DType::Scalar => TypeInfo::matrix(1, 1),
                DType::Frame => TypeInfo::matrix(t.rows, t.cols),
                _ => TypeInfo::matrix(-1, -1),
            },
            CastOp::AsDouble | CastOp::AsInt | CastOp::AsBool => {
                let vt = match op {
                    CastOp::AsDouble => ValueType::Double,
                    CastOp::AsInt => ValueType::Int,
                    _ => ValueType::Boolean,
                };
                match t.dt {
                    DType::Matrix => TypeInfo::matrix(t.rows, t.cols),
                    DType::Scalar | DType::Unknown => TypeInfo::scalar(vt),
                    _ => return Err(err(span, format!("cannot convert a {t} to a {vt}"))),
                }
            }
            CastOp::Nrow | CastOp::Ncol | CastOp::Length => {
                if t.dt == DType::Scalar {
                    if op == CastOp::Length {
                        return Ok(self.lit(Lit::Int(1), span));
                    }
                    return Err(err(span, format!("nrow/ncol need a matrix, frame or list, but got a {t}")));
                }
                TypeInfo::scalar(ValueType::Int)
            }
        };
        Ok(self.add(HopOp::Cast(op), vec![x], ty, span))
    }

    /// Builtins with their own compilation rules.
    fn special_call(&mut self, name: &str, args: &[Arg], span: Span) -> R<Option<HopId>> {
        let spec = builtins::lookup(name).expect("special builtins are in the table").spec();
        match name {
            "print" => {
                if args.is_empty() {
                    let empty = self.lit(Lit::Str(String::new()), span);
                    let h = self.add(HopOp::Effect(EffectOp::Print), vec![empty], TypeInfo::UNKNOWN, span);
                    self.dag.roots.push(h);
                    return Ok(None);
                }
                let mut inputs = Vec::new();
                for a in args {
                    inputs.push(self.expr(&a.value)?);
                }
                let op = if inputs.len() == 1 { EffectOp::Print } else { EffectOp::Printf };
                let h = self.add(HopOp::Effect(op), inputs, TypeInfo::UNKNOWN, span);
                self.dag.roots.push(h);
                Ok(None)
            }
            "stop" | "assert" => {
                let params: Vec<(&str, bool)> =
                    spec.params.iter().map(|p| (p.name, p.default == Def::Req)).collect();
                let (slots, _) = self.match_args(name, &params, false, args, span)?;
                let x = match slots[0] {
                    Some(h) => h,
                    None => self.lit(Lit::Str(String::new()), span),
                };
                let op = if name == "stop" { EffectOp::Stop } else { EffectOp::Assert };
                let h = self.add(HopOp::Effect(op), vec![x], TypeInfo::UNKNOWN, span);
                self.dag.roots.push(h);
                Ok(None)
            }
            "log" => {
                let (slots, _) = self.match_args(name, &[("x", true), ("base", false)], false, args, span)?;
                let x = slots[0].expect("required");
                match slots[1] {
                    None => self.unary(UnOp::Log, x, span).map(Some),
                    Some(b) => self.binary(BinOp::Log, x, b, span).map(Some),
                }
            }
            "matrix" => {
                let params: Vec<(&str, bool)> =
                    spec.params.iter().map(|p| (p.name, p.default == Def::Req)).collect();
                let (slots, _) = self.match_args(name, &params, false, args, span)?;
                let data = slots[0].expect("required");
                let rows = slots[1];
                let cols = slots[2];
                let td = self.ty(data);
                let known = |b: &Self, h: Option<HopId>| -> i64 {
                    h.and_then(|h| b.dag.get(h).literal().and_then(|l| l.as_f64()))
                        .map(|v| v as i64)
                        .unwrap_or(-1)
                };
                let (r, c) = (known(self, rows), known(self, cols));
                let byrow = match slots[3] {
                    Some(h) => match self.dag.get(h).literal() {
                        Some(Lit::Bool(b)) => *b,
                        _ => return Err(err(span, "byrow must be TRUE or FALSE")),
                    },
                    None => true,
                };
                let absent = |b: &mut Self| b.lit(Lit::Absent, span);
                let rows_h = match rows {
                    Some(h) => h,
                    None => absent(self),
                };
                let cols_h = match cols {
                    Some(h) => h,
                    None => absent(self),
                };
                if td.dt == DType::List {
                    // matrix([a, b, c], rows=1, cols=3): the elements of a list of scalars.
                    let h = self.add(
                        HopOp::Reshape { byrow },
                        vec![data, rows_h, cols_h],
                        TypeInfo::matrix(r, c),
                        span,
                    );
                    return Ok(Some(h));
                }
                if td.dt == DType::Matrix || (td.dt == DType::Unknown) {
                    let (r2, c2) = match (r, c, td.cells()) {
                        (r, c, _) if r >= 0 && c >= 0 => (r, c),
                        (r, -1, Some(n)) if r > 0 => (r, n as i64 / r),
                        (-1, c, Some(n)) if c > 0 => (n as i64 / c, c),
                        _ => (-1, -1),
                    };
                    if let (Some(n), true) = (td.cells(), r2 >= 0 && c2 >= 0)
                        && (r2 * c2) as f64 != n
                    {
                        return Err(err(
                            span,
                            format!("cannot reshape a {}x{} matrix into {}x{}", td.rows, td.cols, r2, c2),
                        ));
                    }
                    let h = self.add(
                        HopOp::Reshape { byrow },
                        vec![data, rows_h, cols_h],
                        TypeInfo::matrix(r2, c2),
                        span,
                    );
                    return Ok(Some(h));
                }
                if td.dt != DType::Scalar {
                    return Err(err(span, format!("matrix() cannot be built from a {td}")));
                }
                if td.vt != ValueType::String && (rows.is_none() || cols.is_none()) {
                    return Err(err(span, "matrix(value, rows, cols) needs both rows and cols"));
                }
                let nnz = match self.dag.get(data).literal().and_then(|l| l.as_f64()) {
                    Some(0.0) => 0,
                    Some(_) if r >= 0 && c >= 0 => r * c,
                    _ => -1,
                };
                let h = self.add(
                    HopOp::DataGen(DataGenOp::Fill),
                    vec![data, rows_h, cols_h],
                    TypeInfo::matrix_nnz(r, c, nnz),
                    span,
                );
                Ok(Some(h))
            }
            "rand" => {
                let params: Vec<(&str, bool)> =
                    spec.params.iter().map(|p| (p.name, p.default == Def::Req)).collect();
                let (slots, _) = self.match_args(name, &params, false, args, span)?;
                let mut inputs = Vec::new();
                for (i, s) in slots.iter().enumerate() {
                    inputs.push(match s {
                        Some(h) => *h,
                        None => self.lit(default_lit(spec.params[i].default), span),
                    });
                }
                let dim = |b: &Self, h: HopId| {
                    b.dag.get(h).literal().and_then(|l| l.as_f64()).map(|v| v as i64).unwrap_or(-1)
                };
                let (r, c) = (dim(self, inputs[0]), dim(self, inputs[1]));
                let h = self.add(HopOp::DataGen(DataGenOp::Rand), inputs, TypeInfo::matrix(r, c), span);
                Ok(Some(h))
            }
            "seq" => {
                let (slots, _) = self.match_args(
                    name,
                    &[("from", true), ("to", true), ("incr", false)],
                    false,
                    args,
                    span,
                )?;
                let from = slots[0].expect("required");
                let to = slots[1].expect("required");
                let incr = match slots[2] {
                    Some(h) => h,
                    None => self.lit(Lit::Absent, span),
                };
                let lit = |b: &Self, h: HopId| b.dag.get(h).literal().and_then(|l| l.as_f64());
                let rows = match (lit(self, from), lit(self, to), lit(self, incr)) {
                    (Some(f), Some(t), inc) => {
                        let inc = inc.unwrap_or(if f <= t { 1.0 } else { -1.0 });
                        if inc != 0.0 && ((t - f) / inc) >= 0.0 {
                            ((t - f) / inc + 1e-10).floor() as i64 + 1
                        } else {
                            -1
                        }
                    }
                    _ => -1,
                };
                let h = self.add(
                    HopOp::DataGen(DataGenOp::Seq),
                    vec![from, to, incr],
                    TypeInfo::matrix(rows, 1),
                    span,
                );
                Ok(Some(h))
            }
            "ifelse" => {
                let (slots, _) =
                    self.match_args(name, &[("test", true), ("yes", true), ("no", true)], false, args, span)?;
                let ins: Vec<HopId> = slots.into_iter().map(|s| s.expect("required")).collect();
                let tys: Vec<TypeInfo> = ins.iter().map(|&h| self.ty(h)).collect();
                let ty = if tys.iter().all(|t| t.dt == DType::Scalar) {
                    let vt = if tys[1].vt == tys[2].vt { tys[1].vt } else { ValueType::Double };
                    TypeInfo::scalar(vt)
                } else if let Some(m) = tys.iter().find(|t| t.dt == DType::Matrix) {
                    TypeInfo::matrix(m.rows, m.cols)
                } else {
                    TypeInfo::UNKNOWN
                };
                Ok(Some(self.add(HopOp::Ternary, ins, ty, span)))
            }
            "list" => {
                // SystemDS allows mixing named and unnamed elements (`list(10, x=2)`); the
                // unnamed ones get an empty name, which no lookup matches.
                let mut names = Vec::new();
                let mut inputs = Vec::new();
                let any_named = args.iter().any(|a| a.name.is_some());
                for a in args {
                    if any_named {
                        names.push(a.name.as_ref().map(|n| n.name.clone()).unwrap_or_default());
                    }
                    inputs.push(self.expr(&a.value)?);
                }
                let n = inputs.len() as i64;
                Ok(Some(self.add(HopOp::MakeList(names), inputs, TypeInfo::list(n), span)))
            }
            "append" => {
                let mut inputs = Vec::new();
                for a in args {
                    inputs.push(self.expr(&a.value)?);
                }
                if inputs.len() < 2 {
                    return Err(err(span, "append needs at least two arguments"));
                }
                let t0 = self.ty(inputs[0]);
                if t0.dt == DType::Matrix {
                    let tys: Vec<TypeInfo> = inputs.iter().map(|&h| self.ty(h)).collect();
                    let ty = nary_type(NaryOp::Cbind, &tys).map_err(|m| err(span, m))?;
                    return Ok(Some(self.add(HopOp::Nary(NaryOp::Cbind), inputs, ty, span)));
                }
                let id = builtins::lookup("append").expect("append is a builtin");
                let ty = if t0.dt == DType::List {
                    TypeInfo::list(if t0.rows >= 0 { t0.rows + inputs.len() as i64 - 1 } else { -1 })
                } else {
                    TypeInfo::UNKNOWN
                };
                Ok(Some(self.add(HopOp::Builtin { id, nout: 1 }, inputs, ty, span)))
            }
            "exists" => {
                let Some(a) = args.first() else {
                    return Err(err(span, "exists needs a variable or a variable name"));
                };
                let name = match &a.value.kind {
                    ExprKind::Ident(n) => n.clone(),
                    ExprKind::Str(s) => s.clone(),
                    _ => return Err(err(a.value.span, "exists needs a variable or a variable name")),
                };
                let defined = self.is_defined(&name);
                Ok(Some(self.lit(Lit::Bool(defined), span)))
            }
            other => Err(err(span, format!("`{other}` cannot be used here"))),
        }
    }
}

fn undefined(name: &str, span: Span) -> Diagnostic {
    Diagnostic::error(format!("undefined variable `{name}`"))
        .with_primary(span, "used here before it has a value")
}

fn op_name_un(op: UnOp) -> String {
    format!("{op:?}").to_lowercase()
}

/// Number of rows (or cols) selected by an index range, when it can be known.
fn extent(dag: &Dag, lo: HopId, hi: HopId, full: i64) -> i64 {
    let l = dag.get(lo).literal();
    let h = dag.get(hi).literal();
    match (l, h) {
        (Some(Lit::Absent), _) => full,
        _ if lo == hi => 1,
        (Some(a), Some(b)) => match (a.as_f64(), b.as_f64()) {
            (Some(a), Some(b)) if b >= a => (b - a) as i64 + 1,
            _ => -1,
        },
        _ => -1,
    }
}

pub fn default_lit(d: Def) -> Lit {
    match d {
        Def::Req | Def::Opt => Lit::Absent,
        Def::I(i) => Lit::Int(i),
        Def::F(f) => Lit::Double(f),
        Def::B(b) => Lit::Bool(b),
        Def::S(s) => Lit::Str(s.to_string()),
    }
}

/// Result type of a cellwise binary operator, with SystemDS's value-type promotion.
pub fn binary_type(op: BinOp, a: &TypeInfo, b: &TypeInfo) -> Result<TypeInfo, String> {
    use DType::*;
    match (a.dt, b.dt) {
        (Scalar, Scalar) => {
            let (va, vb) = (a.vt, b.vt);
            if va == ValueType::String || vb == ValueType::String {
                return match op {
                    BinOp::Add => Ok(TypeInfo::scalar(ValueType::String)),
                    BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge | BinOp::Eq | BinOp::Ne => {
                        Ok(TypeInfo::scalar(ValueType::Boolean))
                    }
                    _ => Err(format!("operator {} cannot be applied to strings", op.name())),
                };
            }
            let both_int =
                is_intlike(va) && is_intlike(vb) && (va != ValueType::Unknown && vb != ValueType::Unknown);
            let vt = match op {
                BinOp::Lt
                | BinOp::Le
                | BinOp::Gt
                | BinOp::Ge
                | BinOp::Eq
                | BinOp::Ne
                | BinOp::And
                | BinOp::Or
                | BinOp::Xor => ValueType::Boolean,
                BinOp::Div | BinOp::Pow | BinOp::Log => ValueType::Double,
                _ if va == ValueType::Unknown || vb == ValueType::Unknown => ValueType::Unknown,
                _ if both_int => ValueType::Int,
                _ => ValueType::Double,
            };
            Ok(TypeInfo::scalar(vt))
        }
        (Matrix, Scalar) | (Scalar, Matrix) => {
            let m = if a.dt == Matrix { a } else { b };
            let s = if a.dt == Matrix { b } else { a };
            if s.vt == ValueType::String {
                return Err(format!("operator {} cannot combine a matrix and a string", op.name()));
            }
            Ok(TypeInfo::matrix(m.rows, m.cols))
        }
        (Matrix, Matrix) => {
            let rows = broadcast_dim(a.rows, b.rows);
            let cols = broadcast_dim(a.cols, b.cols);
            match (rows, cols) {
                (Some(r), Some(c)) => Ok(TypeInfo::matrix(r, c)),
                _ => Err(format!(
                    "dimensions do not match for operator {}: {}x{} and {}x{}",
                    op.name(),
                    a.rows,
                    a.cols,
                    b.rows,
                    b.cols
                )),
            }
        }
        (Frame, Frame)
            if matches!(op, BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge) =>
        {
            Ok(TypeInfo::frame(a.rows, a.cols))
        }
        (Unknown, _) | (_, Unknown) => Ok(TypeInfo::UNKNOWN),
        _ => Err(format!("operator {} cannot be applied to a {} and a {}", op.name(), a, b)),
    }
}

fn is_intlike(vt: ValueType) -> bool {
    matches!(vt, ValueType::Int | ValueType::Boolean)
}

/// Matrix-matrix cellwise operands must have equal sizes, or one side must be a vector that is
/// broadcast (its size 1 along the dimension).
fn broadcast_dim(a: i64, b: i64) -> Option<i64> {
    if a < 0 || b < 0 {
        return Some(if a == b || b == 1 {
            a
        } else if a == 1 {
            b
        } else {
            -1
        });
    }
    if a == b || b == 1 {
        Some(a)
    } else if a == 1 {
        Some(b)
    } else {
        None
    }
}

fn nary_type(op: NaryOp, tys: &[TypeInfo]) -> Result<TypeInfo, String> {
    match op {
        NaryOp::Cbind | NaryOp::Rbind => {
            let mut rows = tys[0].rows;
            let mut cols = tys[0].cols;
            for t in &tys[1..] {
                if t.dt == DType::Scalar {
                    return Err("cbind/rbind need matrices".into());
                }
                if op == NaryOp::Cbind {
                    if rows >= 0 && t.rows >= 0 && rows != t.rows {
                        return Err(format!(
                            "cbind needs the same number of rows, got {} and {}",
                            rows, t.rows
                        ));
                    }
                    rows = if rows < 0 { t.rows } else { rows };
                    cols = if cols >= 0 && t.cols >= 0 { cols + t.cols } else { -1 };
                } else {
                    if cols >= 0 && t.cols >= 0 && cols != t.cols {
                        return Err(format!(
                            "rbind needs the same number of columns, got {} and {}",
                            cols, t.cols
                        ));
                    }
                    cols = if cols < 0 { t.cols } else { cols };
                    rows = if rows >= 0 && t.rows >= 0 { rows + t.rows } else { -1 };
                }
            }
            if tys[0].dt == DType::Frame {
                return Ok(TypeInfo::frame(rows, cols));
            }
            Ok(TypeInfo::matrix(rows, cols))
        }
        NaryOp::Min | NaryOp::Max => Ok(TypeInfo::UNKNOWN),
    }
}

fn out_type(out: Out, tys: &[TypeInfo]) -> TypeInfo {
    match out {
        Out::DoubleScalar => TypeInfo::scalar(ValueType::Double),
        Out::IntScalar => TypeInfo::scalar(ValueType::Int),
        Out::BoolScalar => TypeInfo::scalar(ValueType::Boolean),
        Out::StrScalar => TypeInfo::scalar(ValueType::String),
        Out::Matrix | Out::Matrices => TypeInfo::matrix(-1, -1),
        Out::SameAs(i) => tys.get(i).copied().unwrap_or(TypeInfo::UNKNOWN),
        Out::MatrixLike(i) => {
            tys.get(i).map(|t| TypeInfo::matrix(t.rows, t.cols)).unwrap_or(TypeInfo::matrix(-1, -1))
        }
        Out::ColumnOf(i) => {
            tys.get(i).map(|t| TypeInfo::matrix(t.rows, 1)).unwrap_or(TypeInfo::matrix(-1, 1))
        }
        Out::OneByOne => TypeInfo::matrix(1, 1),
        Out::KindOf(i) if tys.get(i).is_some_and(|t| t.dt == DType::Frame) => TypeInfo::frame(-1, -1),
        Out::KindOf(_) => TypeInfo::matrix(-1, -1),
        Out::Frame => TypeInfo::frame(-1, -1),
        Out::List => TypeInfo::list(-1),
        Out::Nothing | Out::Unknown => TypeInfo::UNKNOWN,
    }
}

/// Whether a scalar of this type is numeric (for messages).
pub fn numeric(t: &TypeInfo) -> bool {
    t.dt == DType::Scalar && is_numeric(t.vt)
}

/// SystemDS builtins that need systems this engine does not have (or that SystemDS itself
/// rejects in scripts), with the reason given to the user.
fn unsupported_builtin(name: &str) -> Option<&'static str> {
    Some(match name {
        "sql" => "it reads from a JDBC database",
        "federated" => "it needs SystemDS federated workers",
        "tensor" => {
            "n-dimensional tensors are an experimental SystemDS feature without single-node support here"
        }
        "local" | "quantize_compress" => "SystemDS reserves it for internal use (it is rejected in scripts)",
        _ => return None,
    })
}
