//! The executor: runs the program's blocks, compiling each basic block (and predicate) at its
//! first execution with the actual shapes of its inputs and reusing the cached plan afterwards.
//!
//! Instruction operands are registers resolved at lowering time, and variables are frame slots
//! resolved when the program was structured, so executing an instruction costs a match and a few
//! vector accesses.

use crate::compiler::Options;
use crate::compiler::plan_cache::PlanCache;
use crate::compiler::program::{Block, ForBlock, Function, Predicate, Program};
use crate::compiler::to_hops::{Env, VarInfo};
use crate::compiler::validate::{Scope, assigned_in, compile_basic, compile_predicate};
use crate::diagnostics::Diagnostic;
use crate::hops::HopOp;
use crate::kernels;
use crate::kernels::scalar::unary_scalar;
use crate::lower::{Instr, Operand, Plan, TAKE_FROM_FRAME};
use crate::runtime::error::{RtError, RtResult};
use crate::runtime::lineage::{self, LinRef, Replay, Tracer};
use crate::runtime::{builtins, output::Output, stats::Stats};
use crate::types::matrix::Matrix;
use crate::types::ops::{AggDir, BinOp};
use crate::types::ops::{CastOp, DataGenOp, EffectOp, NaryOp, ReorgOp};
use crate::types::type_info::TypeInfo;
use crate::types::type_info::TypeKey;
use crate::types::value::{ListValue, Value};
use std::sync::Arc;
use std::time::Instant;

/// The variables of one scope during execution.
#[derive(Clone, Debug)]
pub struct Frame {
    pub vals: Vec<Option<Value>>,
    /// The lineage of each variable, while lineage is traced (empty otherwise).
    pub lin: Vec<Option<LinRef>>,
}

impl Frame {
    pub fn new(n: usize) -> Self {
        Frame { vals: vec![None; n], lin: Vec::new() }
    }

    fn set_lin(&mut self, var: usize, item: Option<LinRef>) {
        if self.lin.len() <= var {
            self.lin.resize(self.vals.len().max(var + 1), None);
        }
        self.lin[var] = item;
    }

    fn lin_of(&self, var: usize) -> Option<LinRef> {
        self.lin.get(var).cloned().flatten()
    }
}

/// Deepest nesting of user function calls before the executor reports runaway recursion.
const MAX_CALL_DEPTH: usize = 2000;

/// Everything shared by one execution of a program.
#[derive(Clone, Copy)]
pub struct Runtime<'p> {
    pub program: &'p Program,
    pub opts: &'p Options,
    pub out: &'p Output,
    pub stats: Option<&'p Stats>,
    /// Traces lineage when the program calls `lineage` or `autoDiff`.
    pub tracer: Option<&'p Tracer>,
    /// The module (script file) whose code is running: `eval` resolves a function name first
    /// among that file's functions, as a direct call there would.
    pub module: crate::compiler::program::ModuleId,
    /// The program of the script being run. It differs from `program` while a builtin that
    /// `eval` compiled on demand runs; `eval` there still finds the script's own functions.
    pub script: &'p Program,
}

impl<'p> Runtime<'p> {
    /// Runs the main program with a fresh frame; returns the final frame.
    pub fn run_main(&self) -> RtResult<Frame> {
        let mut frame = Frame::new(self.program.main_vars.len());
        self.run_in(&mut frame)?;
        Ok(frame)
    }

    /// Runs the main program in an existing frame (the REPL keeps its variables this way).
    pub fn run_in(&self, frame: &mut Frame) -> RtResult<()> {
        let scope = Scope { module: 0, vars: &self.program.main_vars };
        if frame.vals.len() < self.program.main_vars.len() {
            frame.vals.resize(self.program.main_vars.len(), None);
        }
        self.run_blocks(scope, &self.program.main, frame, 0)
    }

    fn run_blocks(&self, scope: Scope, blocks: &[Block], frame: &mut Frame, depth: usize) -> RtResult<()> {
        for b in blocks {
            self.run_block(scope, b, frame, depth)?;
        }
        Ok(())
    }

    fn run_block(&self, scope: Scope, block: &Block, frame: &mut Frame, depth: usize) -> RtResult<()> {
        match block {
            Block::Basic(bb) => {
                let plan = self.plan_for(&bb.cache, frame, |env, keys| {
                    let mut env = env.clone();
                    for (v, lit) in &bb.consts {
                        if let Some(Some(info)) = env.get_mut(*v as usize) {
                            info.konst = Some(lit.clone());
                        }
                    }
                    let env = &env;
                    compile_basic(
                        self.program,
                        self.opts,
                        scope,
                        env,
                        &bb.stmts,
                        bb.live_out.as_deref(),
                        true, // only the proven constants above carry values
                        keys,
                    )
                    .map(|(p, _)| p)
                })?;
                self.execute(&plan, frame, depth)?;
                Ok(())
            }
            Block::If { cond, then_body, else_body, span } => {
                let c = self.eval_predicate(scope, cond, frame, depth)?;
                let truth = c.as_bool().ok_or_else(|| {
                    RtError::new(format!("the if predicate must be a boolean or number, got a {}", c.kind()))
                        .at(*span)
                })?;
                if truth {
                    self.run_blocks(scope, then_body, frame, depth)
                } else {
                    self.run_blocks(scope, else_body, frame, depth)
                }
            }
            Block::While { cond, body, span } => loop {
                let c = self.eval_predicate(scope, cond, frame, depth)?;
                let truth = c.as_bool().ok_or_else(|| {
                    RtError::new(format!(
                        "the while predicate must be a boolean or number, got a {}",
                        c.kind()
                    ))
                    .at(*span)
                })?;
                if !truth {
                    return Ok(());
                }
                self.run_blocks(scope, body, frame, depth)?;
            },
            Block::For(f) => self.run_for(scope, f, frame, depth),
        }
    }

    fn run_for(&self, scope: Scope, f: &ForBlock, frame: &mut Frame, depth: usize) -> RtResult<()> {
        let from = self.eval_predicate(scope, &f.from, frame, depth)?;
        let to = self.eval_predicate(scope, &f.to, frame, depth)?;
        let incr = match &f.incr {
            Some(i) => Some(self.eval_predicate(scope, i, frame, depth)?),
            None => None,
        };
        let num = |v: &Value, what: &str| {
            v.as_f64().filter(|_| v.is_scalar()).ok_or_else(|| {
                RtError::new(format!("the loop {what} must be a number, got a {}", v.kind())).at(f.span)
            })
        };
        let (a, b) = (num(&from, "start")?, num(&to, "end")?);
        let step = match &incr {
            Some(v) => num(v, "increment")?,
            None => {
                if a <= b {
                    1.0
                } else {
                    -1.0
                }
            }
        };
        if step == 0.0 || (b - a) * step < 0.0 && incr.is_some() {
            if step == 0.0 {
                return Err(RtError::new("the loop increment must not be 0").at(f.span));
            }
            return Ok(());
        }
        // SystemDS's loop variable is an integer whenever its values are whole numbers
        // (`for (i in 1:n)` with a double n, `for (j in 1.0:2)`), so it prints as `1`, not `1.0`.
        let integral = |v: f64| v.fract() == 0.0 && v.abs() < 9.0e15;
        let all_int = integral(a) && integral(step);
        let n = ((b - a) / step + 1e-10).floor() as i64 + 1;
        let value_at = |k: i64| {
            if all_int { Value::Int(a as i64 + k * step as i64) } else { Value::Double(a + k as f64 * step) }
        };
        if n <= 0 {
            return Ok(());
        }
        self.run_blocks(scope, &f.preheader, frame, depth)?;
        if f.parfor.is_some() {
            return self.run_parfor(scope, f, frame, depth, n, &value_at);
        }
        for k in 0..n {
            let v = value_at(k);
            if let Some(t) = self.tracer {
                frame.set_lin(f.var as usize, t.literal(&v));
            }
            frame.vals[f.var as usize] = Some(v);
            self.run_blocks(scope, &f.body, frame, depth)?;
        }
        Ok(())
    }

    /// `parfor`: iterations run in parallel on rayon, each worker on its own copy of the frame.
    /// Matrices updated by left indexing are merged back cell by cell (cells a worker changed
    /// relative to the matrix before the loop). A variable that carries a value from one
    /// iteration to the next makes the loop run sequentially, with a warning.
    fn run_parfor(
        &self,
        scope: Scope,
        f: &ForBlock,
        frame: &mut Frame,
        depth: usize,
        n: i64,
        value_at: &(dyn Fn(i64) -> Value + Sync),
    ) -> RtResult<()> {
        let mut assigned = Vec::new();
        assigned_in(&f.body, scope.vars, &mut assigned);
        let carried = crate::runtime::parfor::loop_carried(&f.body, scope.vars, f.var);
        if let Some(name) = carried {
            self.out.warn(&format!(
                "parfor: `{name}` carries a value from one iteration to the next; running the loop sequentially"
            ));
            for k in 0..n {
                frame.vals[f.var as usize] = Some(value_at(k));
                self.run_blocks(scope, &f.body, frame, depth)?;
            }
            return Ok(());
        }
        use rayon::prelude::*;
        let base = frame.clone();
        let threads = rayon::current_num_threads().max(1) as i64;
        let chunk = (n + threads - 1) / threads;
        let results: Vec<RtResult<Frame>> = (0..threads)
            .into_par_iter()
            .filter(|t| t * chunk < n)
            .map(|t| {
                let mut local = base.clone();
                for k in t * chunk..((t + 1) * chunk).min(n) {
                    local.vals[f.var as usize] = Some(value_at(k));
                    self.run_blocks(scope, &f.body, &mut local, depth)?;
                }
                Ok(local)
            })
            .collect();
        let mut workers = Vec::with_capacity(results.len());
        for r in results {
            workers.push(r?);
        }
        let whole = crate::runtime::parfor::assigned_whole(&f.body, scope.vars);
        crate::runtime::parfor::merge_results(frame, &base, &workers, &assigned, &whole, f.var)
            .map_err(|e| e.at(f.span))?;
        if self.tracer.is_some() {
            // Merged results have no single lineage: they start anew as inputs.
            for &v in &assigned {
                frame.set_lin(v as usize, None);
            }
        }
        frame.vals[f.var as usize] = Some(value_at(n - 1));
        Ok(())
    }

    fn eval_predicate(
        &self,
        scope: Scope,
        pred: &Predicate,
        frame: &mut Frame,
        depth: usize,
    ) -> RtResult<Value> {
        let plan = self.plan_for(&pred.cache, frame, |env, keys| {
            compile_predicate(self.program, self.opts, scope, env, &pred.expr, false, keys).map(|(p, _)| p)
        })?;
        let mut regs = self.execute(&plan, frame, depth)?;
        match &plan.result {
            Some(Operand::Reg(r)) => {
                regs[*r as usize].take().ok_or_else(|| RtError::new("predicate has no value"))
            }
            Some(Operand::Const(v)) => Ok(v.clone()),
            _ => Err(RtError::new("predicate has no value").at(pred.expr.span)),
        }
    }

    /// The cached plan for the current input types, compiling one on a miss.
    fn plan_for(
        &self,
        cache: &PlanCache,
        frame: &Frame,
        compile: impl Fn(&Env, &dyn Fn(u32) -> TypeKey) -> Result<Plan, Vec<Diagnostic>>,
    ) -> RtResult<Arc<Plan>> {
        let key_of = |v: u32| TypeKey::of(frame.vals.get(v as usize).and_then(|x| x.as_ref()));
        if let Some(p) = cache.find(key_of) {
            return Ok(p);
        }
        let start = Instant::now();
        let env: Env = frame
            .vals
            .iter()
            .map(|v| v.as_ref().map(|v| VarInfo { ty: TypeInfo::of_value(v), konst: None }))
            .collect();
        let plan = Arc::new(compile(&env, &key_of)?);
        if let Some(s) = self.stats {
            s.record_compile(start.elapsed());
        }
        cache.insert(plan.clone());
        Ok(plan)
    }

    /// Runs a plan's instructions; returns the register file (predicates read their result).
    fn execute(&self, plan: &Plan, frame: &mut Frame, depth: usize) -> RtResult<Vec<Option<Value>>> {
        let mut regs: Vec<Option<Value>> = vec![None; plan.nregs as usize];
        let mut lins: Vec<Option<LinRef>> =
            if self.tracer.is_some() { vec![None; plan.nregs as usize] } else { Vec::new() };
        for ins in &plan.instrs {
            let start = self.stats.map(|_| (Instant::now(), super::stats::process_cpu_time()));
            match self.tracer {
                None => self.step(ins, &mut regs, frame, depth),
                Some(t) => self.step_traced(t, ins, &mut regs, &mut lins, frame, depth),
            }
            .map_err(|e| e.at(ins.span))?;
            if let (Some(s), Some((t, cpu))) = (self.stats, start) {
                s.record(&ins.op, t.elapsed(), super::stats::process_cpu_time().saturating_sub(cpu));
            }
        }
        Ok(regs)
    }

    fn arg(&self, ins: &Instr, i: usize, regs: &mut [Option<Value>]) -> RtResult<Option<Value>> {
        match &ins.args[i] {
            Operand::Const(v) => Ok(Some(v.clone())),
            Operand::Absent => Ok(None),
            Operand::Reg(r) => {
                let slot = &mut regs[*r as usize];
                let v = if ins.moves & (1 << i) != 0 { slot.take() } else { slot.clone() };
                v.map(Some).ok_or_else(|| RtError::new("internal error: register read before it was written"))
            }
        }
    }

    fn args(&self, ins: &Instr, regs: &mut [Option<Value>]) -> RtResult<Vec<Option<Value>>> {
        let mut out = Vec::with_capacity(ins.args.len());
        for i in 0..ins.args.len() {
            out.push(self.arg(ins, i, regs)?);
        }
        Ok(out)
    }

    /// The lineage item of an operand (`None` for an absent optional argument).
    fn operand_lin(
        t: &Tracer,
        op: &Operand,
        regs: &[Option<Value>],
        lins: &mut [Option<LinRef>],
    ) -> Option<LinRef> {
        match op {
            Operand::Const(v) => Some(t.literal(v).unwrap_or_else(|| t.untraced(v))),
            Operand::Absent => None,
            Operand::Reg(r) => {
                let r = *r as usize;
                if lins[r].is_none()
                    && let Some(v) = &regs[r]
                {
                    lins[r] = Some(t.untraced(v));
                }
                lins[r].clone()
            }
        }
    }

    /// [`Runtime::step`] while tracing lineage: runs the instruction and gives each output an item.
    fn step_traced(
        &self,
        t: &Tracer,
        ins: &Instr,
        regs: &mut [Option<Value>],
        lins: &mut [Option<LinRef>],
        frame: &mut Frame,
        depth: usize,
    ) -> RtResult<()> {
        let out = ins.out as usize;
        match &ins.op {
            HopOp::Literal(_) | HopOp::Extract(_) | HopOp::Effect(_) => {
                return self.step(ins, regs, frame, depth);
            }
            HopOp::Read(var) => {
                self.step(ins, regs, frame, depth)?;
                let item = match frame.lin_of(*var as usize) {
                    Some(item) => item,
                    None => {
                        let item = regs[out].as_ref().map(|v| t.untraced(v));
                        frame.set_lin(*var as usize, item.clone());
                        match item {
                            Some(i) => i,
                            None => return Ok(()),
                        }
                    }
                };
                lins[out] = Some(item);
                return Ok(());
            }
            HopOp::Write(var) => {
                let item = Self::operand_lin(t, &ins.args[0], regs, lins);
                self.step(ins, regs, frame, depth)?;
                frame.set_lin(*var as usize, item);
                return Ok(());
            }
            HopOp::Call { func, .. } => {
                let items: Vec<Option<LinRef>> =
                    ins.args.iter().map(|a| Self::operand_lin(t, a, regs, lins)).collect();
                let args = self.args(ins, regs)?;
                let (outs, out_lins) = self.call_function_traced(*func, args, items, depth + 1)?;
                for (i, (v, l)) in outs.into_iter().zip(out_lins).enumerate() {
                    regs[out + i] = Some(v);
                    lins[out + i] = l;
                }
                return Ok(());
            }
            HopOp::Builtin { id, .. } if matches!(id.name(), "lineage" | "autoDiff") => {
                let items: Vec<Option<LinRef>> =
                    ins.args.iter().map(|a| Self::operand_lin(t, a, regs, lins)).collect();
                let args = self.args(ins, regs)?;
                let v = if id.name() == "lineage" {
                    let item = items[0].as_ref().ok_or_else(|| RtError::new("lineage needs a value"))?;
                    Value::str(lineage::explain(item))
                } else {
                    let output = req(args.into_iter().next().flatten())?;
                    let item = items[0].as_ref().ok_or_else(|| RtError::new("autoDiff needs an output"))?;
                    super::autodiff::auto_diff(self, item, &output)?
                };
                let shown: Vec<LinRef> = items.into_iter().flatten().collect();
                lins[out] = Some(t.instr(id.name().to_string(), shown, Replay::None, 0));
                regs[out] = Some(v);
                return Ok(());
            }
            HopOp::DataGen(op) => {
                let mut args = self.args(ins, regs)?;
                if let (DataGenOp::Fill, Some(Value::Str(_))) = (op, &args[0]) {
                    // matrix("1 2 3", rows, cols): SystemDS's `sinit (rows) (cols) (text)`.
                    let lits: Vec<LinRef> = [1, 2, 0]
                        .iter()
                        .filter_map(|&i| args[i].as_ref().and_then(|v| t.literal(v)))
                        .collect();
                    let v = builtins::fill(self.opts, args.clone())?;
                    let replay = Replay::Const { op: ins.op.clone(), args };
                    lins[out] = Some(t.instr("sinit".into(), lits, replay, 0));
                    regs[out] = Some(v);
                    return Ok(());
                }
                if *op == DataGenOp::Rand && args[7].as_ref().and_then(|s| s.as_f64()).is_none_or(|s| s < 0.0)
                {
                    // Fix the seed now, so that the trace can generate the same matrix again.
                    let seed = kernels::datagen::random_seed() & 0x7fff_ffff;
                    args[7] = Some(Value::Int(seed as i64));
                }
                let v = match op {
                    DataGenOp::Fill => builtins::fill(self.opts, args.clone())?,
                    DataGenOp::Rand => builtins::rand(self.opts, args.clone())?,
                    DataGenOp::Seq => builtins::seq(args.clone())?,
                };
                let text = lineage::creation_text(*op, &args, &v, rayon::current_num_threads());
                lins[out] = Some(t.creation(text, Replay::Const { op: ins.op.clone(), args }));
                regs[out] = Some(v);
                return Ok(());
            }
            _ => {}
        }
        if let HopOp::Builtin { id, .. } = &ins.op {
            if id.name().starts_with("read") {
                // A read is a creation item of its own, without items for its arguments.
                let args = self.args(ins, regs)?;
                let v = builtins::call(self, *id, args.clone())?;
                let text = read_text(&args, v.first());
                for (i, v) in v.into_iter().enumerate() {
                    regs[out + i] = Some(v);
                }
                lins[out] = Some(t.creation(text, Replay::Const { op: ins.op.clone(), args }));
                return Ok(());
            }
            if id.name() == "_matmul_t" {
                return self.step_traced_matmul_t(t, ins, regs, lins, frame, depth);
            }
        }
        let Some(mut opcode) = lineage::opcode(&ins.op) else {
            return self.step(ins, regs, frame, depth);
        };
        // Shown inputs, and where each argument sits among them (for replay).
        let mut inputs = Vec::with_capacity(ins.args.len() + 1);
        let mut slots = Vec::with_capacity(ins.args.len());
        if let HopOp::Unary(crate::types::ops::UnOp::Neg) = ins.op {
            // SystemDS traces -x as 0 - x.
            inputs.extend(t.literal(&Value::Int(0)));
        }
        for a in &ins.args {
            match Self::operand_lin(t, a, regs, lins) {
                Some(item) => {
                    slots.push(Some(inputs.len() as u16));
                    inputs.push(item);
                }
                None => slots.push(None),
            }
        }
        if let HopOp::Unary(crate::types::ops::UnOp::Relu) = ins.op {
            // ... and relu as max(x, 0).
            inputs.extend(t.literal(&Value::Int(0)));
        }
        if let HopOp::Binary(op @ (BinOp::Mul | BinOp::Pow)) = ins.op
            && matches!(&ins.args[0], Operand::Reg(r) if matches!(regs[*r as usize], Some(Value::Matrix(_))))
            && matches!(&ins.args[1], Operand::Const(c) if c.as_f64() == Some(2.0))
        {
            // X * 2 and X ^ 2 run as SystemDS's special opcodes `*2` and `^2`.
            opcode = if op == BinOp::Mul { "*2" } else { "^2" }.to_string();
        }
        let nout = match ins.op {
            HopOp::Builtin { nout, .. } => nout.max(1),
            _ => 1,
        };
        self.step(ins, regs, frame, depth)?;
        for i in 0..nout {
            let replay = Replay::Op { op: ins.op.clone(), slots: slots.clone(), out: i };
            lins[out + i as usize] = Some(t.instr(opcode.clone(), inputs.clone(), replay, i));
        }
        Ok(())
    }

    /// Our fused `_matmul_t(a, b, ta, tb)` traces as SystemDS runs it: `r'` of each transposed
    /// operand, then `ba+*`.
    fn step_traced_matmul_t(
        &self,
        t: &Tracer,
        ins: &Instr,
        regs: &mut [Option<Value>],
        lins: &mut [Option<LinRef>],
        frame: &mut Frame,
        depth: usize,
    ) -> RtResult<()> {
        let flag = |i: usize| matches!(&ins.args[i], Operand::Const(Value::Bool(true)));
        let mut operands = Vec::with_capacity(2);
        for i in 0..2 {
            let Some(item) = Self::operand_lin(t, &ins.args[i], regs, lins) else {
                return self.step(ins, regs, frame, depth);
            };
            operands.push(if flag(i + 2) {
                let replay =
                    Replay::Op { op: HopOp::Reorg(ReorgOp::Transpose), slots: vec![Some(0)], out: 0 };
                t.instr("r'".into(), vec![item], replay, 0)
            } else {
                item
            });
        }
        self.step(ins, regs, frame, depth)?;
        let replay = Replay::Op { op: HopOp::MatMul, slots: vec![Some(0), Some(1)], out: 0 };
        lins[ins.out as usize] = Some(t.instr("ba+*".into(), operands, replay, 0));
        Ok(())
    }

    pub(crate) fn step(
        &self,
        ins: &Instr,
        regs: &mut [Option<Value>],
        frame: &mut Frame,
        depth: usize,
    ) -> RtResult<()> {
        let out = ins.out as usize;
        let v = match &ins.op {
            HopOp::Read(var) => {
                let slot = &mut frame.vals[*var as usize];
                let v = if ins.moves & TAKE_FROM_FRAME != 0 { slot.take() } else { slot.clone() };
                v.ok_or_else(|| RtError::new("variable has no value at this point"))?
            }
            HopOp::Write(var) => {
                let v = req(self.arg(ins, 0, regs)?)?;
                frame.vals[*var as usize] = Some(v);
                return Ok(());
            }
            HopOp::Literal(_) | HopOp::Extract(_) => return Ok(()),
            HopOp::Unary(op) => {
                let x = req(self.arg(ins, 0, regs)?)?;
                match x {
                    Value::Matrix(m) => builtins::unary_matrix(*op, m),
                    _ if x.is_scalar() => unary_scalar(*op, &x)?,
                    _ => {
                        return Err(RtError::new(format!(
                            "{} cannot be applied to a {}",
                            op.name(),
                            x.kind()
                        )));
                    }
                }
            }
            HopOp::Binary(op) => {
                let a = req(self.arg(ins, 0, regs)?)?;
                let b = req(self.arg(ins, 1, regs)?)?;
                builtins::binary(*op, a, b)?
            }
            HopOp::Ternary => {
                let args = self.args(ins, regs)?;
                builtins::ifelse(args)?
            }
            HopOp::AggUnary(op, dir) => {
                let x = req(self.arg(ins, 0, regs)?)?;
                let m = builtins::matrix_arg(&x, "aggregate")?;
                match dir {
                    AggDir::All => Value::Double(kernels::aggregate::aggregate_all(*op, m)?),
                    _ => Value::matrix(kernels::aggregate::aggregate(*op, *dir, m)?),
                }
            }
            HopOp::MatMul => {
                let a = req(self.arg(ins, 0, regs)?)?;
                let b = req(self.arg(ins, 1, regs)?)?;
                let (ma, mb) = (builtins::matrix_arg(&a, "%*%")?, builtins::matrix_arg(&b, "%*%")?);
                builtins::check_budget_cells(self.opts, ma.rows() as f64 * mb.cols() as f64)?;
                Value::matrix(kernels::matmul::matmul(ma, mb)?)
            }
            HopOp::Tsmm { left } => {
                let x = req(self.arg(ins, 0, regs)?)?;
                Value::matrix(kernels::matmul::tsmm(builtins::matrix_arg(&x, "%*%")?, *left))
            }
            HopOp::Reorg(op) => {
                let x = req(self.arg(ins, 0, regs)?)?;
                let m = builtins::matrix_arg(&x, "reorganisation")?;
                Value::matrix(match op {
                    ReorgOp::Transpose => kernels::reorg::transpose(m),
                    ReorgOp::Rev => kernels::reorg::rev(m),
                    ReorgOp::Diag => kernels::reorg::diag(m)?,
                })
            }
            HopOp::Reshape { byrow } => {
                let args = self.args(ins, regs)?;
                builtins::reshape(args, *byrow)?
            }
            HopOp::Index | HopOp::ListIndex => {
                let args = self.args(ins, regs)?;
                builtins::right_index(args)?
            }
            HopOp::LeftIndex => {
                let args = self.args(ins, regs)?;
                builtins::left_index(args)?
            }
            HopOp::Nary(op) => {
                let args = self.args(ins, regs)?;
                match op {
                    NaryOp::Cbind | NaryOp::Rbind => builtins::bind(args, *op == NaryOp::Cbind)?,
                    NaryOp::Min | NaryOp::Max => builtins::nary_minmax(args, *op == NaryOp::Min)?,
                }
            }
            HopOp::Cast(op) => {
                let x = req(self.arg(ins, 0, regs)?)?;
                builtins::cast(*op, x)?
            }
            HopOp::DataGen(op) => {
                let args = self.args(ins, regs)?;
                match op {
                    DataGenOp::Fill => builtins::fill(self.opts, args)?,
                    DataGenOp::Rand => builtins::rand(self.opts, args)?,
                    DataGenOp::Seq => builtins::seq(args)?,
                }
            }
            HopOp::MakeList(names) => {
                let items = self.args(ins, regs)?.into_iter().map(req).collect::<RtResult<Vec<_>>>()?;
                Value::List(Arc::new(ListValue { items, names: names.clone() }))
            }
            HopOp::Builtin { id, nout } => {
                let args = self.args(ins, regs)?;
                let outs = builtins::call(self, *id, args)?;
                if (outs.len() as u8) < (*nout).max(1) && id.spec().out != crate::builtins::Out::Nothing {
                    return Err(RtError::new(format!("`{}` produced too few outputs", id.name())));
                }
                for (i, v) in outs.into_iter().enumerate() {
                    regs[out + i] = Some(v);
                }
                return Ok(());
            }
            HopOp::Call { func, .. } => {
                let args = self.args(ins, regs)?;
                let outs = self.call_function(*func, args, depth + 1)?;
                for (i, v) in outs.into_iter().enumerate() {
                    regs[out + i] = Some(v);
                }
                return Ok(());
            }
            HopOp::Effect(e) => {
                let args = self.args(ins, regs)?;
                return self.effect(*e, args);
            }
        };
        regs[out] = Some(v);
        Ok(())
    }

    fn effect(&self, e: EffectOp, args: Vec<Option<Value>>) -> RtResult<()> {
        match e {
            EffectOp::Print => {
                let v = req(args.into_iter().next().flatten())?;
                let text = builtins::print_string(&v)?;
                self.out.print(&text);
                Ok(())
            }
            EffectOp::Printf => {
                let vals: Vec<Value> = args.into_iter().map(req).collect::<RtResult<_>>()?;
                let text = builtins::printf(&vals)?;
                self.out.print(&text);
                Ok(())
            }
            EffectOp::Stop => {
                let v = args.into_iter().next().flatten();
                let msg = match v {
                    Some(v) => builtins::print_string(&v)?,
                    None => String::new(),
                };
                Err(RtError { message: msg, span: None, stopped: true, notes: vec![] })
            }
            EffectOp::Assert => {
                let v = req(args.into_iter().next().flatten())?;
                match v.as_bool() {
                    Some(true) => Ok(()),
                    Some(false) => Err(RtError::new("assertion failed")),
                    None => Err(RtError::new(format!("assert needs a boolean, got a {}", v.kind()))),
                }
            }
        }
    }

    /// Calls a user function with arguments in parameter order (`None` = not given).
    pub fn call_function(&self, fid: u32, args: Vec<Option<Value>>, depth: usize) -> RtResult<Vec<Value>> {
        self.call_function_traced(fid, args, Vec::new(), depth).map(|(outs, _)| outs)
    }

    /// [`Runtime::call_function`] with the arguments' lineage; returns the outputs' lineage too
    /// (empty when lineage is not traced).
    fn call_function_traced(
        &self,
        fid: u32,
        args: Vec<Option<Value>>,
        arg_lins: Vec<Option<LinRef>>,
        depth: usize,
    ) -> RtResult<(Vec<Value>, Vec<Option<LinRef>>)> {
        let func: &Function = &self.program.functions[fid as usize];
        if depth > MAX_CALL_DEPTH {
            return Err(RtError::new(format!(
                "function calls nested deeper than {MAX_CALL_DEPTH} (runaway recursion in `{}`?)",
                func.name
            )));
        }
        if func.external {
            return Err(RtError::new(format!(
                "`{}` is an externalFunction (Java code), which this engine cannot run",
                func.name
            )));
        }
        let scope = Scope { module: func.module, vars: &func.vars };
        let inner = Runtime { module: func.module, ..*self };
        let this = &inner;
        let mut frame = Frame::new(func.vars.len());
        for (i, a) in args.into_iter().enumerate() {
            if let Some(v) = a {
                frame.vals[func.param_slots[i] as usize] = Some(to_declared(v, &func.params[i].ty));
            }
        }
        if self.tracer.is_some() {
            for (i, l) in arg_lins.into_iter().enumerate() {
                if l.is_some() && i < func.param_slots.len() {
                    frame.set_lin(func.param_slots[i] as usize, l);
                }
            }
        }
        for (i, d) in func.defaults.iter().enumerate() {
            let slot = func.param_slots[i] as usize;
            if frame.vals[slot].is_none() {
                match d {
                    Some(pred) => {
                        let v = this.eval_predicate(scope, pred, &mut frame, depth)?;
                        frame.vals[slot] = Some(v);
                    }
                    None => {
                        return Err(RtError::new(format!(
                            "missing argument `{}` in the call of `{}`",
                            func.params[i].name.name, func.name
                        )));
                    }
                }
            }
        }
        this.run_blocks(scope, &func.body, &mut frame, depth)?;
        let mut outs = Vec::with_capacity(func.return_slots.len());
        let out_lins: Vec<Option<LinRef>> = if this.tracer.is_some() {
            func.return_slots.iter().map(|&s| frame.lin_of(s as usize)).collect()
        } else {
            Vec::new()
        };
        for (i, &slot) in func.return_slots.iter().enumerate() {
            match frame.vals[slot as usize].take() {
                Some(v) => outs.push(to_declared_output(v, &func.returns[i].ty)),
                None => {
                    return Err(RtError::new(format!(
                        "function `{}` ended without assigning its output `{}`",
                        func.name, func.returns[i].name.name
                    )));
                }
            }
        }
        Ok((outs, out_lins))
    }
}

/// SystemDS's creation item of a read: `CP°createvar°pREADxxx°file°...`.
fn read_text(args: &[Option<Value>], v: Option<&Value>) -> String {
    let s = |i: usize| match args.get(i).and_then(|a| a.as_ref()) {
        Some(Value::Str(s)) => s.to_string(),
        Some(other) => builtins::print_string(other).unwrap_or_default(),
        None => String::new(),
    };
    let (dt, rows, cols) = match v {
        Some(Value::Frame(f)) => ("FRAME", f.rows() as i64, f.cols() as i64),
        Some(Value::Matrix(m)) => ("MATRIX", m.rows() as i64, m.cols() as i64),
        _ => ("SCALAR", -1, -1),
    };
    // The format: given, or from the metadata file, or SystemDS's default.
    let fmt = match s(1) {
        f if f.is_empty() => {
            let path = std::path::PathBuf::from(s(0));
            crate::runtime::io::mtd::Mtd::read(&crate::runtime::io::mtd::mtd_path(&path))
                .map(|m| m.format)
                .unwrap_or_else(|_| "text".into())
        }
        f => f,
    };
    format!("CP°createvar°pREADxxx°{}°false°{dt}°{fmt}°{rows}°{cols}°-1°-1°copy°false°,°true°0.0°", s(0))
}

/// A function's output as its caller sees it. SystemDS rejects, at compile time, an output whose
/// value type is known and cannot be cast safely to the declared one; where the type is only known
/// at run time (assigned differently in two branches), it binds the value unchanged. So a double
/// stays a double even when declared `integer` or `boolean` (knnGraph's `kthSmallest` relies on
/// it); the safe casts (integer or boolean to double, boolean to integer) still apply.
fn to_declared_output(v: Value, spec: &crate::syntax::ast::TypeSpec) -> Value {
    match v {
        Value::Double(_) => v,
        v => to_declared(v, spec),
    }
}

/// Converts a scalar to the value type a function declares for it (int to double and so on).
fn to_declared(v: Value, spec: &crate::syntax::ast::TypeSpec) -> Value {
    use crate::syntax::ast::{DataType, ValueType};
    if spec.data != DataType::Scalar {
        return v;
    }
    match (spec.value, &v) {
        (ValueType::Double, Value::Int(i)) => Value::Double(*i as f64),
        (ValueType::Double, Value::Bool(b)) => Value::Double(*b as i64 as f64),
        (ValueType::Int, Value::Double(d)) => Value::Int(*d as i64),
        (ValueType::Int, Value::Bool(b)) => Value::Int(*b as i64),
        (ValueType::Boolean, Value::Int(i)) => Value::Bool(*i != 0),
        (ValueType::Boolean, Value::Double(d)) => Value::Bool(*d != 0.0),
        _ => v,
    }
}

fn req(v: Option<Value>) -> RtResult<Value> {
    v.ok_or_else(|| RtError::new("a required argument is missing"))
}

/// Whether a matrix of this many cells fits the memory budget (used by kernels of unknown size).
pub fn fits(opts: &Options, cells: f64) -> bool {
    cells * 8.0 <= opts.budget.bytes
}

#[allow(dead_code)]
fn unused(_: CastOp, _: &Matrix) {}
