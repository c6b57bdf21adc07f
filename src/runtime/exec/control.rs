//! Control flow: blocks in order, `if`, `while`, `for` and `parfor`, and predicates (conditions,
//! loop bounds, default values), each basic block and predicate compiled at its first run with
//! the actual input types and cached by them.

use crate::compiler::block::{Scope, compile_basic, compile_predicate};
use crate::compiler::plan_cache::PlanCache;
use crate::compiler::program::{Block, ForBlock, Predicate, assigned_in};
use crate::compiler::to_hops::{Env, VarInfo};
use crate::diagnostics::Diagnostic;
use crate::lower::{Operand, Plan};
use crate::runtime::error::{RtError, RtResult};
use crate::runtime::exec::{Runtime, Slots};
use crate::types::type_info::TypeKey;
use crate::types::value::Value;
use std::sync::Arc;
use std::time::Instant;

impl Runtime<'_> {
    pub(super) fn run_blocks(
        &self,
        scope: Scope,
        blocks: &[Block],
        slots: &mut Slots,
        depth: usize,
    ) -> RtResult<()> {
        for b in blocks {
            self.run_block(scope, b, slots, depth)?;
        }
        Ok(())
    }

    fn run_block(&self, scope: Scope, block: &Block, slots: &mut Slots, depth: usize) -> RtResult<()> {
        // Every loop iteration and function body runs blocks: the one place to stop a program.
        if self.opts.interrupted() {
            return Err(RtError::new(crate::compiler::options::INTERRUPTED));
        }
        match block {
            Block::Basic(bb) => {
                let plan = self.plan_for(&bb.cache, slots, |env, keys| {
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
                self.execute(&plan, slots, depth)?;
                Ok(())
            }
            Block::If { cond, then_body, else_body, span } => {
                let c = self.eval_predicate(scope, cond, slots, depth)?;
                let truth = c.as_bool().ok_or_else(|| {
                    RtError::new(format!("the if predicate must be a boolean or number, got a {}", c.kind()))
                        .at(*span)
                })?;
                if truth {
                    self.run_blocks(scope, then_body, slots, depth)
                } else {
                    self.run_blocks(scope, else_body, slots, depth)
                }
            }
            Block::While { cond, body, span } => loop {
                if self.opts.interrupted() {
                    return Err(RtError::new(crate::compiler::options::INTERRUPTED));
                }
                let c = self.eval_predicate(scope, cond, slots, depth)?;
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
                self.run_blocks(scope, body, slots, depth)?;
            },
            Block::For(f) => self.run_for(scope, f, slots, depth),
        }
    }

    fn run_for(&self, scope: Scope, f: &ForBlock, slots: &mut Slots, depth: usize) -> RtResult<()> {
        let from = self.eval_predicate(scope, &f.from, slots, depth)?;
        let to = self.eval_predicate(scope, &f.to, slots, depth)?;
        let incr = match &f.incr {
            Some(i) => Some(self.eval_predicate(scope, i, slots, depth)?),
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
        self.run_blocks(scope, &f.preheader, slots, depth)?;
        if f.parfor.is_some() {
            return self.run_parfor(scope, f, slots, depth, n, &value_at);
        }
        for k in 0..n {
            let v = value_at(k);
            if let Some(t) = self.tracer {
                slots.set_lin(f.var as usize, t.literal(&v));
            }
            slots.set(f.var as usize, v);
            self.run_blocks(scope, &f.body, slots, depth)?;
        }
        Ok(())
    }

    /// `parfor`: iterations run in parallel on rayon, each worker on its own copy of the slots.
    /// Matrices updated by left indexing are merged back cell by cell (cells a worker changed
    /// relative to the matrix before the loop). A variable that carries a value from one
    /// iteration to the next makes the loop run sequentially, with a warning.
    fn run_parfor(
        &self,
        scope: Scope,
        f: &ForBlock,
        slots: &mut Slots,
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
                slots.set(f.var as usize, value_at(k));
                self.run_blocks(scope, &f.body, slots, depth)?;
            }
            return Ok(());
        }
        use rayon::prelude::*;
        // The workers run CPU code on host values (and merge them cell by cell).
        slots.to_host()?;
        let base = slots.clone();
        let threads = rayon::current_num_threads().max(1) as i64;
        let chunk = (n + threads - 1) / threads;
        // Iterations done show on a terminal when the loop takes long.
        let progress = crate::runtime::progress::Progress::new(
            "parfor",
            Some(n as u64),
            crate::runtime::progress::Unit::Iterations,
        );
        let results: Vec<RtResult<Slots>> = (0..threads)
            .into_par_iter()
            .filter(|t| t * chunk < n)
            .map(|t| {
                let mut local = base.clone();
                for k in t * chunk..((t + 1) * chunk).min(n) {
                    local.set(f.var as usize, value_at(k));
                    self.run_blocks(scope, &f.body, &mut local, depth)?;
                    progress.add(1);
                }
                local.to_host()?;
                Ok(local)
            })
            .collect();
        progress.finish();
        let mut workers = Vec::with_capacity(results.len());
        for r in results {
            workers.push(r?);
        }
        let whole = crate::runtime::parfor::assigned_whole(&f.body, scope.vars);
        crate::runtime::parfor::merge_results(slots, &base, &mut workers, &assigned, &whole, f.var)
            .map_err(|e| e.at(f.span))?;
        if self.tracer.is_some() {
            // Merged results have no single lineage: they start anew as inputs.
            for &v in &assigned {
                slots.set_lin(v as usize, None);
            }
        }
        slots.set(f.var as usize, value_at(n - 1));
        Ok(())
    }

    pub(super) fn eval_predicate(
        &self,
        scope: Scope,
        pred: &Predicate,
        slots: &mut Slots,
        depth: usize,
    ) -> RtResult<Value> {
        let plan = self.plan_for(&pred.cache, slots, |env, keys| {
            compile_predicate(self.program, self.opts, scope, env, &pred.expr, false, keys).map(|(p, _)| p)
        })?;
        let mut regs = self.execute(&plan, slots, depth)?;
        match &plan.result {
            Some(Operand::Reg(r)) => {
                regs.read(*r as usize, true)?.ok_or_else(|| RtError::new("predicate has no value"))
            }
            Some(Operand::Const(v)) => Ok(v.clone()),
            _ => Err(RtError::new("predicate has no value").at(pred.expr.span)),
        }
    }

    /// The cached plan for the current input types, compiling one on a miss.
    fn plan_for(
        &self,
        cache: &PlanCache,
        slots: &Slots,
        compile: impl Fn(&Env, &dyn Fn(u32) -> TypeKey) -> Result<Plan, Vec<Diagnostic>>,
    ) -> RtResult<Arc<Plan>> {
        let key_of = |v: u32| slots.type_key(v as usize);
        if let Some(p) = cache.find(key_of) {
            return Ok(p);
        }
        let start = Instant::now();
        let env: Env = slots.types().into_iter().map(|ty| ty.map(|ty| VarInfo { ty, konst: None })).collect();
        let plan = Arc::new(compile(&env, &key_of)?);
        if let Some(s) = self.stats {
            s.record_compile(start.elapsed());
        }
        cache.insert(plan.clone());
        Ok(plan)
    }
}
