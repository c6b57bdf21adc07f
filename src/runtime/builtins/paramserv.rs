//! `paramserv` (the local, data-parallel parameter server) and `rowClassMeet`.
//!
//! paramserv runs its workers one after another in a fixed order, so results never depend on
//! thread timing:
//! - BSP: synchronization round `r` takes the `r`-th push of every worker that still has one,
//!   sums those gradients (item by item, in worker order) and calls `agg` once with the sum, as
//!   SystemDS does (it accrues BSP gradients before aggregating); every worker then receives the
//!   new model.
//! - ASP: the workers push in turn (worker 0, 1, ..., k-1, 0, ...); each push updates the global
//!   model at once and hands the new model back to that worker only. This is one of the
//!   interleavings SystemDS's threads may produce; with `k=1` ASP equals BSP.
//! - SBP (BSP with `num_backup_workers=b`): a round is complete once all but `b` workers have
//!   pushed; the last `b` workers of each round play the stragglers whose gradients SystemDS
//!   drops (with `b=0` it is BSP).
//! - freq BATCH pulls the model before every batch and pushes that batch's gradients; EPOCH
//!   pulls once per epoch, updates a local copy of the model with `agg` after every batch but
//!   the last, and pushes the epoch's summed gradients; NBATCHES follows SystemDS 3.4.0, which
//!   pulls and pushes every 8 batches (its `nbatches` argument is ignored).
//!
//! `upd` and `agg` name a function of the script (`"f"`) or of a file (`"path/file.dml::f"`,
//! loaded at compile time, see `compiler::paramserv_file_refs`). Their parameters bind by name: `model`,
//! `features`, `labels` and `hyperparams` for `upd` (which returns the gradients, a list), and
//! `model`, `gradients` and `hyperparams` for `agg` (which returns the new model, a list).

use super::{Args, BuiltinFn::CallsBack, BuiltinFn::Plain, Context, DmlFunction, Impl, err, one};
use crate::kernels::datagen::Rng;
use crate::kernels::elementwise::binary_mm;
use crate::kernels::index::slice;
use crate::runtime::error::{RtError, RtResult};
use crate::types::matrix::Matrix;
use crate::types::ops::BinOp;
use crate::types::value::{ListValue, Value};
use std::sync::Arc;

pub(super) const IMPLS: &[Impl] =
    &[("paramserv", CallsBack(paramserv)), ("rowClassMeet", Plain(row_class_meet))];

// ---------------------------------------------------------------------------------------------
// paramserv

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Freq {
    Batch,
    Epoch,
    NBatches,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum UType {
    Bsp,
    Asp,
    /// BSP with backup workers: a round ends once all but `num_backup_workers` have pushed.
    Sbp,
}

/// A user function called by name with arguments bound by parameter name.
struct UserFn<'a> {
    f: DmlFunction<'a>,
    label: String,
    params: Vec<&'a str>,
}

impl<'a> UserFn<'a> {
    /// The `what` function `fname` (`upd`, `agg`, `val`) of the main script, which must have the
    /// parameters `required`, may have `optional` ones, and must return `nout` values.
    fn resolve(
        ctx: &'a dyn Context,
        what: &str,
        fname: &str,
        required: &[&str],
        optional: &[&str],
        nout: usize,
    ) -> RtResult<UserFn<'a>> {
        let (ns, short) = match fname.rsplit_once("::") {
            Some((ns, f)) => (Some(ns), f),
            None => (None, fname),
        };
        let Some(f) = ctx.find_main_function(ns, short) else {
            return err(format!("paramserv: the `{what}` function `{fname}` is not defined"));
        };
        let func = f.def();
        let params = f.params();
        for r in required {
            if !params.contains(r) {
                return err(format!(
                    "paramserv: the `{what}` function `{fname}` must have a parameter named `{r}`"
                ));
            }
        }
        for &p in &params {
            if !required.contains(&p) && !optional.contains(&p) {
                let has_default = func.params.iter().any(|q| q.name.name == p && q.default.is_some());
                if !has_default {
                    return err(format!(
                        "paramserv: the parameter `{p}` of the `{what}` function `{fname}` has no value (allowed: {})",
                        required.iter().chain(optional).copied().collect::<Vec<_>>().join(", ")
                    ));
                }
            }
        }
        if func.returns.len() != nout {
            return err(if nout == 1 {
                format!("paramserv: the `{what}` function `{fname}` must return exactly one list")
            } else {
                format!("paramserv: the `{what}` function `{fname}` must return {nout} values")
            });
        }
        Ok(UserFn { f, label: fname.to_string(), params })
    }

    fn call(&self, ctx: &dyn Context, bound: &[(&str, &Value)]) -> RtResult<Value> {
        match self.call_all(ctx, bound)?.into_iter().next() {
            Some(v @ Value::List(_)) => Ok(v),
            Some(v) => {
                err(format!("paramserv: `{}` must return a list, but returned a {}", self.label, v.kind()))
            }
            None => err(format!("paramserv: `{}` returned no value", self.label)),
        }
    }

    fn call_all(&self, ctx: &dyn Context, bound: &[(&str, &Value)]) -> RtResult<Vec<Value>> {
        let args: Vec<Option<Value>> = self
            .params
            .iter()
            .map(|p| bound.iter().find(|(n, _)| n == p).map(|(_, v)| (*v).clone()))
            .collect();
        let depth = DEPTH.with(|d| {
            d.set(d.get() + 1);
            d.get()
        });
        let r = ctx.call(self.f, args, depth);
        DEPTH.with(|d| d.set(d.get() - 1));
        r
    }
}

thread_local! {
    /// How deeply paramserv's function calls are nested (bounds runaway recursion).
    static DEPTH: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Adds two gradient lists item by item (`None` is the empty sum).
fn accrue(acc: Option<Value>, g: &Value) -> RtResult<Value> {
    let Some(acc) = acc else { return Ok(g.clone()) };
    let (Value::List(a), Value::List(b)) = (&acc, g) else {
        return err("paramserv: gradients must be lists");
    };
    if a.items.len() != b.items.len() {
        return err(format!(
            "paramserv: gradient lists of different lengths ({} and {})",
            a.items.len(),
            b.items.len()
        ));
    }
    let mut items = Vec::with_capacity(a.items.len());
    for (x, y) in a.items.iter().zip(&b.items) {
        let v = match (x, y) {
            (Value::Matrix(x), Value::Matrix(y)) => Value::matrix(
                binary_mm(BinOp::Add, x, y)
                    .map_err(|e| RtError::new(format!("paramserv: adding gradients: {}", e.0)))?,
            ),
            (Value::Int(x), Value::Int(y)) => Value::Int(x.wrapping_add(*y)),
            (x, y) => match (x.as_f64(), y.as_f64()) {
                (Some(x), Some(y)) => Value::Double(x + y),
                _ => {
                    return err(format!(
                        "paramserv: cannot add gradients of types {} and {}",
                        x.kind(),
                        y.kind()
                    ));
                }
            },
        };
        items.push(v);
    }
    Ok(Value::List(Arc::new(ListValue { items, names: a.names.clone() })))
}

/// One worker's data and its position in its loop over epochs and batches.
struct Worker {
    x: Arc<Matrix>,
    y: Arc<Matrix>,
    batches: usize,
    epoch: usize,
    batch: usize,
    /// The model the server last sent to this worker (what a pull returns).
    received: Value,
    /// The worker's local copy of the model (EPOCH and NBATCHES update it between pushes).
    params: Option<Value>,
    acc: Option<Value>,
    step: usize,
    check: bool,
}

struct Server<'a> {
    ctx: &'a dyn Context,
    upd: UserFn<'a>,
    agg: UserFn<'a>,
    /// The validation function with the validation features and labels.
    val: Option<(UserFn<'a>, Value, Value)>,
    hyper: Option<Value>,
    freq: Freq,
    epochs: usize,
    batchsize: usize,
}

impl Server<'_> {
    fn gradients(&self, w: &Worker, model: &Value, j: usize) -> RtResult<Value> {
        let n = w.x.rows();
        let (begin, end) = (j * self.batchsize, ((j + 1) * self.batchsize).min(n));
        let kerr = |e: crate::kernels::KernelError| RtError::new(format!("paramserv: {}", e.0));
        let bx = Value::matrix(slice(&w.x, begin..end, 0..w.x.cols()).map_err(kerr)?);
        let by = Value::matrix(slice(&w.y, begin..end, 0..w.y.cols()).map_err(kerr)?);
        let mut bound = vec![("model", model), ("features", &bx), ("labels", &by)];
        if let Some(h) = &self.hyper {
            bound.push(("hyperparams", h));
        }
        self.upd.call(self.ctx, &bound)
    }

    fn aggregate(&self, model: &Value, grads: &Value) -> RtResult<Value> {
        let mut bound = vec![("model", model), ("gradients", grads)];
        if let Some(h) = &self.hyper {
            bound.push(("hyperparams", h));
        }
        self.agg.call(self.ctx, &bound)
    }

    /// Calls the validation function (if any) on the global model at the end of an epoch;
    /// SystemDS only logs its loss and accuracy, so only its side effects show.
    fn validate(&self, model: &Value) -> RtResult<()> {
        let Some((f, x, y)) = &self.val else { return Ok(()) };
        let mut bound = vec![("model", model), ("val_features", x), ("val_labels", y)];
        if let Some(h) = &self.hyper {
            bound.push(("hyperparams", h));
        }
        let outs = f.call_all(self.ctx, &bound)?;
        if outs.iter().any(|v| !v.is_scalar()) {
            return err(format!("paramserv: the validation function `{}` must return two scalars", f.label));
        }
        Ok(())
    }

    /// Runs worker `w` until its next push (returns the pushed gradients) or its end (`None`).
    fn advance(&self, w: &mut Worker) -> RtResult<Option<Value>> {
        loop {
            if w.batch >= w.batches {
                w.epoch += 1;
                w.batch = 0;
                if self.freq == Freq::NBatches {
                    w.params = None;
                    w.check = true;
                    w.step = 0;
                }
            }
            if w.epoch >= self.epochs || w.batches == 0 {
                return Ok(None);
            }
            let j = w.batch;
            w.batch += 1;
            match self.freq {
                Freq::Batch => return self.gradients(w, &w.received, j).map(Some),
                Freq::Epoch => {
                    if j == 0 {
                        w.params = Some(w.received.clone());
                        w.acc = None;
                    }
                    let params = w.params.take().unwrap_or_else(|| w.received.clone());
                    let g = self.gradients(w, &params, j)?;
                    w.acc = Some(accrue(w.acc.take(), &g)?);
                    if j + 1 < w.batches {
                        w.params = Some(self.aggregate(&params, &g)?);
                    } else {
                        return Ok(w.acc.take());
                    }
                }
                Freq::NBatches => {
                    // SystemDS 3.4.0 fixes the number of batches between pushes at 8.
                    const NB: usize = 8;
                    let local_pull = w.step.is_multiple_of(NB - 1);
                    if local_pull && w.check {
                        w.params = Some(w.received.clone());
                        w.check = false;
                    }
                    let params = w.params.take().unwrap_or_else(|| w.received.clone());
                    let g = self.gradients(w, &params, j)?;
                    w.acc = Some(accrue(w.acc.take(), &g)?);
                    w.params = Some(self.aggregate(&params, &g)?);
                    let push = if local_pull && j > 0 {
                        w.check = true;
                        w.step = 0;
                        w.acc.take()
                    } else {
                        None
                    };
                    w.step += 1;
                    if push.is_some() {
                        return Ok(push);
                    }
                }
            }
        }
    }
}

/// Splits the rows of `x` and `y` over `k` workers.
fn partition(
    scheme: &str,
    k: usize,
    x: &Arc<Matrix>,
    y: &Arc<Matrix>,
    seed: Option<i64>,
) -> RtResult<Vec<(Arc<Matrix>, Arc<Matrix>)>> {
    let n = x.rows();
    let rows_of = |m: &Matrix, idx: &[usize]| -> RtResult<Arc<Matrix>> {
        let cols = m.cols();
        let mut data = Vec::with_capacity(idx.len() * cols);
        for &r in idx {
            for c in 0..cols {
                data.push(m.get(r, c));
            }
        }
        Ok(Arc::new(Matrix::from_vec(idx.len(), cols, data).examine_format()))
    };
    let contiguous = |order: &[usize]| -> RtResult<Vec<(Arc<Matrix>, Arc<Matrix>)>> {
        if k == 1 {
            return Ok(vec![(rows_of(x, order)?, rows_of(y, order)?)]);
        }
        // As SystemDS: blocks of ceil(n/k) rows while the next block starts before the last row.
        let step = n.div_ceil(k).max(1);
        let mut parts = Vec::new();
        let mut begin = 1;
        while begin < n {
            let end = (begin - 1 + step).min(n);
            let idx = &order[begin - 1..end];
            parts.push((rows_of(x, idx)?, rows_of(y, idx)?));
            begin = end + 1;
        }
        if parts.len() != k {
            return err(format!(
                "paramserv: {scheme} splits {n} rows into {} partitions, not k={k}; choose another k",
                parts.len()
            ));
        }
        Ok(parts)
    };
    let shuffled = |salt: u64| -> Vec<usize> {
        let base = seed.map(|s| s as u64).unwrap_or(0x5eed);
        let mut rng = Rng::new(base ^ salt.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let mut idx: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            let j = rng.next_below(i as u64 + 1) as usize;
            idx.swap(i, j);
        }
        idx
    };
    match scheme {
        "DISJOINT_CONTIGUOUS" => contiguous(&(0..n).collect::<Vec<_>>()),
        "DISJOINT_ROUND_ROBIN" => (0..k)
            .map(|w| {
                let idx: Vec<usize> = (0..n).filter(|r| r % k == w).collect();
                Ok((rows_of(x, &idx)?, rows_of(y, &idx)?))
            })
            .collect(),
        "DISJOINT_RANDOM" => contiguous(&shuffled(0)),
        "OVERLAP_RESHUFFLE" => (0..k)
            .map(|w| {
                let idx = shuffled(w as u64 + 1);
                Ok((rows_of(x, &idx)?, rows_of(y, &idx)?))
            })
            .collect(),
        other => err(format!(
            "paramserv: unknown scheme `{other}` (DISJOINT_CONTIGUOUS, DISJOINT_ROUND_ROBIN, DISJOINT_RANDOM, OVERLAP_RESHUFFLE)"
        )),
    }
}

fn paramserv(a: Args, ctx: &dyn Context) -> RtResult<Vec<Value>> {
    let model = Value::List(a.list("model")?.clone());
    let x = a.matrix("features")?.clone();
    let y = a.matrix("labels")?.clone();
    if x.rows() != y.rows() {
        return err(format!("paramserv: `features` has {} rows but `labels` has {}", x.rows(), y.rows()));
    }
    let (val_x, val_y) = (a.opt_matrix("val_features")?, a.opt_matrix("val_labels")?);
    let hyper = a.opt_list("hyperparams")?.map(|h| Value::List(h.clone()));
    let mode = a.opt_str("mode")?.unwrap_or("LOCAL");
    if !matches!(mode, "LOCAL" | "REMOTE_SPARK") {
        return err(format!("paramserv: unknown mode `{mode}` (LOCAL or REMOTE_SPARK)"));
    }
    let utype = match a.opt_str("utype")?.unwrap_or("ASP") {
        "BSP" => UType::Bsp,
        "ASP" => UType::Asp,
        "SBP" => UType::Sbp,
        other => return err(format!("paramserv: unsupported update type `{other}` (BSP, ASP or SBP)")),
    };
    let freq = match a.opt_str("freq")?.unwrap_or("EPOCH") {
        "BATCH" => Freq::Batch,
        "EPOCH" => Freq::Epoch,
        "NBATCHES" => Freq::NBatches,
        other => {
            return err(format!(
                "paramserv: unsupported update frequency `{other}` (BATCH, EPOCH or NBATCHES)"
            ));
        }
    };
    let epochs = match a.int("epochs")? {
        e if e > 0 => e as usize,
        _ => return err("paramserv: `epochs` must be at least 1"),
    };
    let batchsize = match a.opt_int("batchsize")? {
        Some(b) if b > 0 => b as usize,
        Some(_) => return err("paramserv: `batchsize` must be at least 1"),
        None => 64,
    };
    let k = match a.opt_int("k")? {
        Some(k) if k > 0 => k as usize,
        Some(_) => return err("paramserv: `k` must be at least 1"),
        None => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
    };
    let scheme = a.opt_str("scheme")?.unwrap_or("DISJOINT_CONTIGUOUS");
    if let Some(c) = a.opt_str("checkpointing")?
        && !matches!(c, "NONE" | "EPOCH" | "EPOCH10")
    {
        return err(format!("paramserv: unknown checkpointing `{c}` (NONE, EPOCH or EPOCH10)"));
    }
    let seed = a.opt_int("seed")?;
    a.opt_int("nbatches")?;
    let backups = match a.opt_int("num_backup_workers")? {
        None => 0,
        Some(b) if b >= 0 && (b as usize) < k => b as usize,
        Some(b) => return err(format!("paramserv: num_backup_workers={b} must be between 0 and k-1")),
    };
    match a.get("modelAvg")? {
        None | Some(Value::Bool(false)) => {}
        Some(Value::Bool(true)) => return err("paramserv: modelAvg=TRUE is not supported"),
        Some(x) => return err(format!("paramserv: `modelAvg` must be a boolean, but got a {}", x.kind())),
    }
    let upd =
        UserFn::resolve(ctx, "upd", a.str("upd")?, &["model", "features", "labels"], &["hyperparams"], 1)?;
    let agg = UserFn::resolve(ctx, "agg", a.str("agg")?, &["model", "gradients"], &["hyperparams"], 1)?;
    // As SystemDS: validation runs only with a function and both validation inputs.
    let val = match (a.opt_str("val")?, val_x, val_y) {
        (Some(name), Some(x), Some(y)) => {
            let f = UserFn::resolve(
                ctx,
                "val",
                name,
                &["model", "val_features", "val_labels"],
                &["hyperparams"],
                2,
            )?;
            Some((f, Value::Matrix(x.clone()), Value::Matrix(y.clone())))
        }
        _ => None,
    };

    let parts = partition(scheme, k, &x, &y, seed)?;
    let mut workers: Vec<Worker> = parts
        .into_iter()
        .map(|(x, y)| Worker {
            batches: x.rows().div_ceil(batchsize),
            x,
            y,
            epoch: 0,
            batch: 0,
            received: model.clone(),
            params: None,
            acc: None,
            step: 0,
            check: true,
        })
        .collect();
    // Batches per epoch, as SystemDS counts them for validation: those of the first worker.
    let epoch_batches = workers.first().map_or(0, |w| w.batches);
    let server = Server { ctx, upd, agg, val, hyper, freq, epochs, batchsize };
    let nworkers = workers.len();
    let mut syncs = 0usize;
    let mut global = model;
    let mut done = vec![false; workers.len()];
    loop {
        let mut any = false;
        let mut round: Option<Value> = None;
        let mut pushed = 0usize;
        for (w, worker) in workers.iter_mut().enumerate() {
            if done[w] {
                continue;
            }
            match server.advance(worker)? {
                None => done[w] = true,
                Some(g) => {
                    any = true;
                    match utype {
                        UType::Bsp => round = Some(accrue(round.take(), &g)?),
                        // The last `backups` workers of a round play the stragglers: the
                        // round is complete without them and their gradients are dropped.
                        UType::Sbp => {
                            if pushed < nworkers - backups {
                                round = Some(accrue(round.take(), &g)?);
                            }
                            pushed += 1;
                        }
                        UType::Asp => {
                            global = server.aggregate(&global, &g)?;
                            worker.received = global.clone();
                            // SystemDS's "pseudo epochs": every k pushes (EPOCH), every k times
                            // the batches of an epoch (BATCH), every push (NBATCHES).
                            syncs += 1;
                            let per_epoch = match freq {
                                Freq::Epoch => nworkers,
                                Freq::Batch => nworkers * epoch_batches,
                                Freq::NBatches => 1,
                            };
                            if per_epoch > 0 && syncs.is_multiple_of(per_epoch) {
                                server.validate(&global)?;
                            }
                        }
                    }
                }
            }
        }
        if !any {
            break;
        }
        if let Some(g) = round {
            global = server.aggregate(&global, &g)?;
            for worker in workers.iter_mut() {
                worker.received = global.clone();
            }
            syncs += 1;
            let epoch_end = match freq {
                Freq::Epoch | Freq::NBatches => true,
                Freq::Batch => epoch_batches > 0 && syncs.is_multiple_of(epoch_batches),
            };
            if epoch_end {
                server.validate(&global)?;
            }
        }
    }
    one(global)
}

// ---------------------------------------------------------------------------------------------
// rowClassMeet

/// `[C, N] = rowClassMeet(A, B)`: for every row `i` of `A`, the cells `j` (over the columns both
/// inputs have) where `A[i,j]` and `B[i,j]` (or `B[1,j]` when `B` has one row) are both non-zero
/// are grouped by the pair of their integer parts; `C[i,j]` numbers the groups from 1 and
/// `N[i,j]` is the size of the group. Both outputs have the larger of the two inputs' shapes.
///
/// The groups are numbered in the order SystemDS 3.4.0 enumerates them: it keeps them in a
/// `java.util.HashMap` keyed by the pair with hash `31*(31+a)+b`, so the order is by hash
/// bucket, then by first appearance, for a table that doubles as it fills (and is reused,
/// never shrunk, from row to row). `JavaHashOrder` reproduces that order.
fn row_class_meet(args: Args) -> RtResult<Vec<Value>> {
    let (a, b) = (args.matrix("X")?, args.matrix("Y")?);
    let nr = a.rows().max(b.rows());
    let nc = a.cols().max(b.cols());
    let common = a.cols().min(b.cols());
    let b_is_row = b.rows() == 1;
    let mut c = vec![0.0; nr * nc];
    let mut n = vec![0.0; nr * nc];
    let mut table = JavaHashOrder::default();
    for i in 0..a.rows() {
        table.clear();
        let bi = if b_is_row { 0 } else { i };
        if bi >= b.rows() {
            continue;
        }
        for j in 0..common {
            let av = java_d2i(a.get(i, j));
            let bv = java_d2i(b.get(bi, j));
            if av != 0 && bv != 0 {
                table.add((av, bv), j);
            }
        }
        for (label, cols) in table.groups().into_iter().enumerate() {
            for &j in &cols {
                c[i * nc + j] = (label + 1) as f64;
                n[i * nc + j] = cols.len() as f64;
            }
        }
    }
    let out = |v: Vec<f64>| Value::matrix(Matrix::from_vec(nr, nc, v).examine_format());
    Ok(vec![out(c), out(n)])
}

/// Java's `(int) d`: truncation toward zero, NaN to 0, saturating at the int range.
fn java_d2i(d: f64) -> i32 {
    if d.is_nan() { 0 } else { d.clamp(i32::MIN as f64, i32::MAX as f64) as i32 }
}

/// The iteration order of a `java.util.HashMap<(int, int), _>` whose key hash is
/// `31*(31+a)+b`: entries by bucket (`(h ^ h>>>16) & (capacity-1)`), then by insertion. The
/// capacity starts at 16 and doubles when the map holds more than 3/4 of it, or when a bucket
/// reaches 9 entries while the capacity is below 64; `clear` keeps the capacity.
#[derive(Default)]
struct JavaHashOrder {
    capacity: usize,
    keys: Vec<(i32, i32)>,
    cols: Vec<Vec<usize>>,
    index: std::collections::HashMap<(i32, i32), usize>,
}

impl JavaHashOrder {
    fn clear(&mut self) {
        self.keys.clear();
        self.cols.clear();
        self.index.clear();
    }

    fn bucket(&self, key: (i32, i32)) -> usize {
        let h = 31i32.wrapping_mul(31i32.wrapping_add(key.0)).wrapping_add(key.1) as u32;
        ((h ^ (h >> 16)) as usize) & (self.capacity - 1)
    }

    fn add(&mut self, key: (i32, i32), col: usize) {
        if let Some(&i) = self.index.get(&key) {
            self.cols[i].push(col);
            return;
        }
        if self.capacity == 0 {
            self.capacity = 16;
        }
        self.index.insert(key, self.keys.len());
        self.keys.push(key);
        self.cols.push(vec![col]);
        // (below 64 the map holds at most 48 keys, so counting is cheap)
        if self.capacity < 64 {
            let b = self.bucket(key);
            if self.keys.iter().filter(|k| self.bucket(**k) == b).count() >= 9 {
                self.capacity *= 2;
            }
        }
        if self.keys.len() * 4 > self.capacity * 3 {
            self.capacity *= 2;
        }
    }

    /// The groups' columns in iteration order.
    fn groups(&self) -> Vec<Vec<usize>> {
        let mut order: Vec<usize> = (0..self.keys.len()).collect();
        order.sort_by_key(|&i| self.bucket(self.keys[i]));
        order.into_iter().map(|i| self.cols[i].clone()).collect()
    }
}
