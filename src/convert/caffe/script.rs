//! The scripts of a Caffe model: Caffe's solver loop (`Solver::Step`) as DML.
//!
//! Every iteration takes the next `batch_size` rows (the cursor wraps around the data, as Caffe's
//! data layer does; `shuffle=TRUE` reorders the rows at each pass), runs the training-mode forward
//! pass, the loss layer and the backward pass, then the solver's update: gradient clipping, weight
//! decay (L2 or L1, times each parameter's `decay_mult`), and the solver type's rule with the
//! policy's rate at this iteration times each parameter's `lr_mult`. Every `display` iterations
//! it prints the (smoothed) loss and the rate as Caffe logs them; every `test_interval` it tests
//! `test_iter` batches of the validation rows in inference mode and prints each output averaged;
//! every `snapshot` iterations it writes a snapshot folder (weights, solver state, iteration) that
//! `resume=` continues from exactly.

use std::collections::BTreeSet;

use super::Caffe;
use super::lower::{LossKind, LossSpec, Normalization};
use super::solver::{SolverType, slots};
use crate::convert::emit::{Code, Cx, Mode, num, optim};
use crate::convert::error::ConvertError;
use crate::convert::ir::{Graph, LearningRate};
use crate::convert::script::{
    Io, backward_pass, escape, forward_pass, join_parts, predict_call, predict_function, setting,
    source_lines,
};

/// The matrix of per-iteration values a training run leaves (columns: iteration, loss, rate).
pub const OUTPUT_HISTORY: &str = "history";
/// The scalar holding the loss of a gradient script.
pub const OUTPUT_LOSS: &str = "loss_value";

fn no_loss(g: &Graph) -> ConvertError {
    ConvertError::Layer {
        layer: g.name.clone(),
        class: "network".into(),
        detail: "the network has no loss layer (SoftmaxWithLoss, EuclideanLoss, SigmoidCrossEntropyLoss) \
                 and does not end in Softmax, so it cannot be trained"
            .into(),
    }
}

/// Writes the training loss of the batch (`value`) and the gradient of the loss's input.
fn loss_code(code: &mut Code, g: &Graph, loss: &LossSpec, yb: &str, value: &str) {
    let s = &g.tensors[loss.input].var;
    let width: usize = g.tensors[loss.input].shape.iter().product();
    let d = format!("d_{s}");
    let w = loss.weight;
    code.comment(format!("Loss layer {} (weight {}).", loss.layer, num(w)));
    code.line(format!("loss_n = nrow({s})"));
    match &loss.kind {
        LossKind::SoftmaxWithLoss { ignore_label } => {
            code.line(format!("loss_z = {s} - rowMaxs({s})"));
            code.line("loss_logp = loss_z - log(rowSums(exp(loss_z)))");
            match ignore_label {
                Some(ign) => {
                    code.line(format!("loss_valid = {yb} != {}", num(*ign as f64)));
                    code.line(format!(
                        "loss_t = table(seq(1, loss_n), {yb} * loss_valid + 1, loss_n, {width}) * loss_valid"
                    ));
                }
                None => {
                    code.line("loss_valid = matrix(1, rows=loss_n, cols=1)");
                    code.line(format!("loss_t = table(seq(1, loss_n), {yb} + 1, loss_n, {width})"));
                }
            }
            let norm = match loss.normalization {
                Normalization::Valid => "max(sum(loss_valid), 1)",
                Normalization::Full | Normalization::BatchSize => "loss_n",
                Normalization::None => "1",
            };
            code.line(format!("loss_norm = {norm}"));
            code.line(format!("{value} = -sum(loss_t * loss_logp) / loss_norm * {}", num(w)));
            code.line(format!("{d} = (exp(loss_logp) * loss_valid - loss_t) / loss_norm * {}", num(w)));
        }
        LossKind::Euclidean => {
            code.line(format!("loss_diff = {s} - {yb}"));
            code.line(format!("{value} = sum(loss_diff^2) / (2 * loss_n) * {}", num(w)));
            code.line(format!("{d} = loss_diff / loss_n * {}", num(w)));
        }
        LossKind::SigmoidCrossEntropy => {
            let norm = match loss.normalization {
                Normalization::BatchSize => "loss_n".to_string(),
                Normalization::Valid | Normalization::Full => format!("(loss_n * {width})"),
                Normalization::None => "1".into(),
            };
            code.line(format!("loss_pos = {s} >= 0"));
            code.line(format!(
                "{value} = -sum({s} * ({yb} - loss_pos) - log(1 + exp({s} - 2 * {s} * loss_pos))) / {norm} * {}",
                num(w)
            ));
            code.line(format!("{d} = (1 / (1 + exp(-{s})) - {yb}) / {norm} * {}", num(w)));
        }
    }
}

/// Writes the test loss (`value`, a batch mean as the loss layer normalizes it) of the model's
/// inference output `out` (probabilities for SoftmaxWithLoss and SigmoidCrossEntropyLoss).
fn test_loss_code(code: &mut Code, loss: &LossSpec, out: &str, yb: &str, value: &str) {
    let w = num(loss.weight);
    let floor = num(f32::MIN_POSITIVE as f64);
    match &loss.kind {
        LossKind::SoftmaxWithLoss { ignore_label } => {
            let valid = match ignore_label {
                Some(ign) => format!("({yb} != {})", num(*ign as f64)),
                None => format!("matrix(1, rows=nrow({out}), cols=1)"),
            };
            code.line(format!("test_valid = {valid}"));
            code.line(format!("test_t = table(seq(1, nrow({out})), {yb} * test_valid + 1, nrow({out}), ncol({out})) * test_valid"));
            let norm = match loss.normalization {
                Normalization::Valid => "max(sum(test_valid), 1)".to_string(),
                Normalization::Full | Normalization::BatchSize => format!("nrow({out})"),
                Normalization::None => "1".to_string(),
            };
            code.line(format!("{value} = -sum(test_t * log(max({out}, {floor}))) / {norm} * {w}"));
        }
        LossKind::Euclidean => {
            code.line(format!("{value} = sum(({out} - {yb})^2) / (2 * nrow({out})) * {w}"));
        }
        LossKind::SigmoidCrossEntropy => {
            let norm = match loss.normalization {
                Normalization::BatchSize => format!("nrow({out})"),
                Normalization::Valid | Normalization::Full => format!("(nrow({out}) * ncol({out}))"),
                Normalization::None => "1".into(),
            };
            code.line(format!(
                "{value} = -sum({yb} * log(max({out}, {floor})) + (1 - {yb}) * log(max(1 - {out}, {floor}))) / {norm} * {w}"
            ));
        }
    }
}

/// The per-parameter solver state variable of slot `slot`.
fn slot_var(p: &str, slot: &str) -> String {
    format!("{p}_{slot}")
}

/// The state variables of the solver: every slot of every trainable parameter.
pub fn state_vars(c: Caffe) -> Vec<(usize, String)> {
    let g = &c.graph;
    let mut out = Vec::new();
    for p in g.trainable_params() {
        for s in slots(c.solver.kind, c.solver.momentum) {
            out.push((p, slot_var(&g.params[p].var, s)));
        }
    }
    out
}

/// Writes the update of every trainable parameter from `d_<param>`, Caffe's order: clip, decay,
/// the rule. `lr` is the policy's rate of this iteration, `iterations` its (0-based) number.
fn update_code(code: &mut Code, c: Caffe) {
    let g = &c.graph;
    let s = &c.solver;
    let trainable = g.trainable_params();
    if s.clip_gradients >= 0.0 && !trainable.is_empty() {
        let sq: Vec<String> = trainable.iter().map(|&p| format!("sum(d_{}^2)", g.params[p].var)).collect();
        code.comment("Gradient clipping: the global L2 norm scaled down to clip_gradients.");
        code.line(format!("grad_norm = sqrt({})", sq.join(" + ")));
        code.open(format!("if (grad_norm > {})", num(s.clip_gradients)));
        for &p in &trainable {
            let v = &g.params[p].var;
            code.line(format!("d_{v} = d_{v} * {} / grad_norm", num(s.clip_gradients)));
        }
        code.close();
    }
    for &p in &trainable {
        let v = &g.params[p].var;
        let (lr_mult, decay_mult) = c.mults[p];
        let d = format!("d_{v}");
        let decay = s.weight_decay * decay_mult;
        if decay != 0.0 {
            if s.l1 {
                code.line(format!("{d} = {d} + {} * sign({v})", num(decay)));
            } else {
                code.line(format!("{d} = {d} + {} * {v}", num(decay)));
            }
        }
        let rate = if lr_mult == 1.0 { "lr".to_string() } else { format!("(lr * {})", num(lr_mult)) };
        let h = |k: &str| slot_var(v, k);
        let mu = num(s.momentum);
        match s.kind {
            SolverType::Sgd if s.momentum == 0.0 => code.line(format!("{v} = {v} - {rate} * {d}")),
            SolverType::Sgd => {
                code.line(format!("{} = {mu} * {} + {rate} * {d}", h("history"), h("history")));
                code.line(format!("{v} = {v} - {}", h("history")));
            }
            SolverType::Nesterov => {
                code.line(format!("nesterov_prev = {}", h("history")));
                code.line(format!("{} = {mu} * {} + {rate} * {d}", h("history"), h("history")));
                code.line(format!("{v} = {v} - ((1 + {mu}) * {} - {mu} * nesterov_prev)", h("history")));
            }
            SolverType::AdaGrad => {
                code.line(format!("{} = {} + {d}^2", h("history"), h("history")));
                code.line(format!("{v} = {v} - {rate} * {d} / (sqrt({}) + {})", h("history"), num(s.delta)));
            }
            SolverType::RmsProp => {
                let r = num(s.rms_decay);
                code.line(format!("{} = {r} * {} + (1 - {r}) * {d}^2", h("history"), h("history")));
                code.line(format!("{v} = {v} - {rate} * {d} / (sqrt({}) + {})", h("history"), num(s.delta)));
            }
            SolverType::AdaDelta => {
                let e = num(s.delta);
                code.line(format!("{} = {mu} * {} + (1 - {mu}) * {d}^2", h("history"), h("history")));
                code.line(format!(
                    "adadelta_update = {d} * sqrt(({} + {e}) / ({} + {e}))",
                    h("update_history"),
                    h("history")
                ));
                code.line(format!(
                    "{} = {mu} * {} + (1 - {mu}) * adadelta_update^2",
                    h("update_history"),
                    h("update_history")
                ));
                code.line(format!("{v} = {v} - {rate} * adadelta_update"));
            }
            SolverType::Adam => {
                let (b1, b2) = (mu.clone(), num(s.momentum2));
                code.line(format!("{} = {b1} * {} + (1 - {b1}) * {d}", h("m"), h("m")));
                code.line(format!("{} = {b2} * {} + (1 - {b2}) * {d}^2", h("v"), h("v")));
                code.line(format!(
                    "{v} = {v} - {rate} * sqrt(1 - {b2}^(iterations + 1)) / (1 - {b1}^(iterations + 1)) * {} / (sqrt({}) + {})",
                    h("m"),
                    h("v"),
                    num(s.delta)
                ));
            }
        }
    }
}

/// The training-mode forward pass, loss and backward pass of `Xb`, `yb`.
fn train_step(c: Caffe, sources: &mut BTreeSet<(String, String)>) -> Result<Code, ConvertError> {
    let g = &c.graph;
    let loss = c.loss.as_ref().ok_or_else(|| no_loss(g))?;
    let mut cx = Cx::new(g, Mode::Train);
    cx.comment("Forward pass (TRAIN phase).");
    forward_pass(&mut cx, "Xb")?;
    loss_code(&mut cx.code, g, loss, "yb", "batch_loss");
    cx.start_grad(loss.input);
    cx.comment("Backward pass.");
    backward_pass(&mut cx)?;
    sources.extend(cx.sources.iter().cloned());
    Ok(cx.code)
}

/// The gradient script: one training-mode forward and backward pass over all rows of `X`, the
/// loss in [`OUTPUT_LOSS`] and `d_<param>` of every trainable parameter (no weight decay).
pub fn gradient_script(c: Caffe) -> Result<String, ConvertError> {
    let g = &c.graph;
    let loss = c.loss.as_ref().ok_or_else(|| no_loss(g))?;
    let mut cx = Cx::new(g, Mode::Train);
    forward_pass(&mut cx, "X")?;
    loss_code(&mut cx.code, g, loss, "y", OUTPUT_LOSS);
    cx.start_grad(loss.input);
    backward_pass(&mut cx)?;
    Ok(join_parts(&[source_lines(&cx.sources).text(), cx.code.text()]))
}

const USAGE: &[(&str, &str)] = &[
    ("X=FILE y=FILE", "training rows (NCHW flattened) and labels (one 0-based class id per row)"),
    ("format=csv", "the format of X, y, X_val and y_val"),
    ("X_val=FILE y_val=FILE", "the rows the TEST phase evaluates (Caffe's test net data)"),
    ("max_iter=N", "iterations to run (the solver's max_iter)"),
    ("batch_size=B test_batch_size=B", "rows per iteration and per test iteration (the data layers')"),
    ("display=N", "print the loss and rate every N iterations (0: never)"),
    ("test_interval=N test_iter=N", "test test_iter batches every N iterations (0: never)"),
    ("snapshot=N snapshot_prefix=P", "write a snapshot folder P_iter_<iteration> every N iterations"),
    (
        "shuffle=TRUE|FALSE seed=S",
        "reorder the rows at each pass over the data (Caffe's Data layer does not)",
    ),
    ("weights=DIR", "the starting weights (default: the folder written with this script)"),
    ("weights_out=DIR", "where the trained weights and solver state go (default: weights)"),
    ("resume=DIR", "continue from a snapshot folder (weights, solver state, iteration)"),
    ("history=FILE", "per-iteration iteration, loss and rate as CSV"),
];

/// The training script: Caffe's solver loop.
pub fn training_script(c: Caffe, io: &Io) -> Result<String, ConvertError> {
    let g = &c.graph;
    let s = &c.solver;
    let loss = c.loss.as_ref().ok_or_else(|| no_loss(g))?;
    let files = matches!(io, Io::Files { .. });
    let mut sources = BTreeSet::new();
    let func = predict_function(g, &mut sources)?;
    let step = train_step(c, &mut sources)?;
    let state = state_vars(c);
    let mut b = Code::default();
    let batch = c.batch_size.unwrap_or(64);
    b.comment("Settings.");
    if files {
        b.line("X = read($X, format=ifdef($format, \"csv\"))");
        b.line("y = read($y, format=ifdef($format, \"csv\"))");
    }
    setting(&mut b, io, "max_iter", &s.max_iter.to_string());
    setting(&mut b, io, "batch_size", &batch.to_string());
    setting(&mut b, io, "test_batch_size", &c.test_batch_size.unwrap_or(batch).to_string());
    setting(&mut b, io, "display", &s.display.to_string());
    setting(&mut b, io, "test_interval", &s.test_interval.to_string());
    setting(&mut b, io, "test_iter", &s.test_iter.to_string());
    setting(&mut b, io, "snapshot", &s.snapshot.to_string());
    setting(&mut b, io, "snapshot_prefix", &format!("\"{}\"", escape(&s.snapshot_prefix)));
    setting(&mut b, io, "shuffle", "FALSE");
    setting(&mut b, io, "seed", &s.seed.to_string());
    setting(&mut b, io, "resume", "\"\"");
    if let Io::Files { weights_dir } = io {
        b.line(format!("weights = ifdef($weights, \"{}\")", escape(weights_dir)));
        b.line("weights_out = ifdef($weights_out, weights)");
    }
    b.blank();
    b.comment("Weights and solver state (a snapshot's when resuming).");
    let read_all = |b: &mut Code, dir: &str| {
        for p in &g.params {
            b.line(format!("{} = read({dir} + \"/{}\")", p.var, p.var));
        }
        for (_, v) in &state {
            b.line(format!("{v} = read({dir} + \"/optimizer/{v}\")"));
        }
        b.line(format!("iterations = as.scalar(read({dir} + \"/optimizer/iterations\"))"));
    };
    let write_all = |b: &mut Code, dir: &str| {
        for p in &g.params {
            b.line(format!("write({}, {dir} + \"/{}\", format=\"binary\")", p.var, p.var));
        }
        for (_, v) in &state {
            b.line(format!("write({v}, {dir} + \"/optimizer/{v}\", format=\"binary\")"));
        }
        b.line(format!("write(as.matrix(iterations), {dir} + \"/optimizer/iterations\", format=\"binary\")"));
    };
    if files {
        b.open("if (resume == \"\")");
        read_all(&mut b, "weights");
        b.close();
        b.open("else");
        read_all(&mut b, "resume");
        b.close();
    } else {
        b.open("if (resume != \"\")");
        read_all(&mut b, "resume");
        b.close();
    }
    b.blank();
    b.comment("Data: labels are 0-based class ids, as Caffe's label blob holds them.");
    b.line("N = nrow(X)");
    if let LossKind::SoftmaxWithLoss { ignore_label } = &loss.kind {
        let k: usize = g.tensors[loss.input].shape.iter().product();
        let known = match ignore_label {
            Some(i) => format!(" & y != {}", num(*i as f64)),
            None => String::new(),
        };
        b.open(format!("if (sum((y < 0 | y >= {k} | y != round(y)){known}) > 0)"));
        b.line(format!("stop(\"y must hold one 0-based class id (0 to {}) per row\")", k - 1));
        b.close();
    }
    b.open(format!("if (ncol(X) != {})", g.tensors[g.inputs[0]].width()));
    b.line(format!(
        "stop(\"X must have {} columns (one row per example, NCHW flattened); it has \" + ncol(X))",
        g.tensors[g.inputs[0]].width()
    ));
    b.close();
    b.line("batch_size = min(batch_size, N)");
    b.line("n_val = 0");
    if files {
        b.line("X_val_file = ifdef($X_val, \"\")");
        b.open("if (X_val_file != \"\")");
        b.line("X_val = read(X_val_file, format=ifdef($format, \"csv\"))");
        b.line("y_val = read(ifdef($y_val, \"\"), format=ifdef($format, \"csv\"))");
        b.line("n_val = nrow(X_val)");
        b.close();
    } else if c.bound_validation {
        b.line("n_val = nrow(X_val)");
    }
    b.open("if (test_interval > 0 & test_iter > 0 & n_val == 0)");
    b.line("print(\"Note: no validation rows (X_val, y_val): the TEST phase does not run\")");
    b.close();
    b.line("test_cursor = 0");
    b.line("Xe = X");
    b.line("ye = y");
    b.line("pass = 0");
    b.line("start_iter = iterations");
    b.line("history = matrix(0, rows=max(max_iter - start_iter, 1), cols=3)");
    b.line(format!("recent = matrix(0, rows={}, cols=1)", s.average_loss));
    b.line("recent_n = 0");
    b.line("smoothed_loss = 0");
    b.blank();

    // The test function: test_iter batches of the validation rows in inference mode, the test
    // cursor carried over between tests as Caffe's test data layer does.
    let validation = files || c.bound_validation;
    let test_block = |b: &mut Code| {
        if !validation {
            b.comment("No validation rows are bound: the TEST phase does not run.");
            return;
        }
        b.open("if (n_val > 0 & test_iter > 0)");
        b.line("print(\"Iteration \" + as.integer(iterations) + \", Testing net (#0)\")");
        b.line("test_loss = 0");
        for (k, _) in c.accuracy.iter().enumerate() {
            b.line(format!("test_accuracy_{k} = 0"));
        }
        b.open("for (ti in 1:test_iter)");
        b.line("tb = min(test_batch_size, n_val)");
        b.line("idx = (test_cursor + seq(0, tb - 1)) %% n_val + 1");
        b.line("test_cursor = (test_cursor + tb) %% n_val");
        b.line("sel = table(seq(1, tb), idx, tb, n_val)");
        b.line("Xt = sel %*% X_val");
        b.line("yt = sel %*% y_val");
        b.line(format!("out = {}", predict_call(g, "Xt")));
        test_loss_code(b, loss, "out", "yt", "batch_test_loss");
        b.line("test_loss = test_loss + batch_test_loss / test_iter");
        for (k, (_, top_k)) in c.accuracy.iter().enumerate() {
            if *top_k == 1 {
                b.line(format!(
                    "test_accuracy_{k} = test_accuracy_{k} + mean(rowIndexMax(out) == yt + 1) / test_iter"
                ));
            } else {
                b.comment(format!(
                    "Top-{top_k}: the label's probability is among the {top_k} largest (fewer larger ones)."
                ));
                b.line("label_p = rowSums(out * table(seq(1, tb), yt + 1, tb, ncol(out)))");
                b.line(format!(
                    "test_accuracy_{k} = test_accuracy_{k} + mean(rowSums(out > label_p) < {top_k}) / test_iter"
                ));
            }
        }
        b.close();
        let mut k_out = 0;
        for (k, (name, _)) in c.accuracy.iter().enumerate() {
            b.line(format!(
                "print(\"    Test net output #{k_out}: {} = \" + test_accuracy_{k})",
                escape(name)
            ));
            k_out += 1;
        }
        b.line(format!(
            "print(\"    Test net output #{k_out}: {} = \" + test_loss + \" (* {} = \" + test_loss + \" loss)\")",
            escape(&loss.layer),
            num(loss.weight)
        ));
        b.close();
    };

    b.comment("Caffe's solver loop: `iterations` counts the updates done (Caffe's iter_).");
    b.open("while (iterations < max_iter)");
    b.open(format!(
        "if (test_interval > 0 & iterations %% test_interval == 0 & (iterations > 0 | {}))",
        if s.test_initialization { "TRUE" } else { "FALSE" }
    ));
    test_block(&mut b);
    b.close();
    b.comment("The next batch: the cursor wraps around the data (a new pass reshuffles with shuffle=TRUE).");
    b.line("beg = (iterations * batch_size) %% N + 1");
    b.line("end = beg + batch_size - 1");
    b.open("if (end <= N)");
    b.line("Xb = Xe[beg:end, ]");
    b.line("yb = ye[beg:end, ]");
    b.close();
    b.open("else");
    b.line("Xb = Xe[beg:N, ]");
    b.line("yb = ye[beg:N, ]");
    b.close();
    b.open("if (end >= N)");
    b.line("pass = pass + 1");
    b.open("if (shuffle)");
    b.line("order_idx = order(target=rand(rows=N, cols=1, seed=ifelse(seed < 0, -1, seed + pass)), by=1, index.return=TRUE)");
    b.line("P = table(seq(1, N), order_idx, N, N)");
    b.line("Xe = P %*% X");
    b.line("ye = P %*% y");
    b.close();
    b.open("if (end > N)");
    b.line("Xb = rbind(Xb, Xe[1:(end - N), ])");
    b.line("yb = rbind(yb, ye[1:(end - N), ])");
    b.close();
    b.close();
    b.lines.extend(step.lines.iter().map(|l| format!("  {l}")));
    b.comment("The loss smoothed over the last average_loss iterations (Caffe's display value).");
    b.line(format!("recent[(iterations %% {}) + 1, 1] = batch_loss", s.average_loss));
    b.line(format!("recent_n = min(recent_n + 1, {})", s.average_loss));
    b.line("smoothed_loss = sum(recent) / recent_n");
    b.comment("The policy's rate at this iteration.");
    let mut lr_code = Code::default();
    optim::learning_rate(&mut lr_code, &LearningRate::Caffe { policy: s.policy.clone(), base_lr: s.base_lr });
    b.lines.extend(lr_code.lines.iter().map(|l| format!("  {l}")));
    b.open("if (display > 0 & iterations %% display == 0)");
    b.line("print(\"Iteration \" + as.integer(iterations) + \", loss = \" + smoothed_loss)");
    b.line(format!(
        "print(\"    Train net output #0: {} = \" + batch_loss + \" (* {} = \" + batch_loss + \" loss)\")",
        escape(&loss.layer),
        num(loss.weight)
    ));
    b.line("print(\"Iteration \" + as.integer(iterations) + \", lr = \" + lr)");
    b.close();
    b.comment(format!("Solver update ({:?}).", s.kind));
    let mut up = Code::default();
    update_code(&mut up, c);
    b.lines.extend(up.lines.iter().map(|l| format!("  {l}")));
    b.line("history[iterations - start_iter + 1, 1] = iterations");
    b.line("history[iterations - start_iter + 1, 2] = batch_loss");
    b.line("history[iterations - start_iter + 1, 3] = lr");
    b.line("iterations = iterations + 1");
    b.open("if (snapshot > 0 & iterations %% snapshot == 0 & snapshot_prefix != \"\")");
    b.line("snap = snapshot_prefix + \"_iter_\" + as.integer(iterations)");
    write_all(&mut b, "snap");
    b.line("print(\"Snapshotting to \" + snap)");
    b.close();
    b.close();
    b.comment("After the last iteration Caffe tests once more when it falls on the interval.");
    b.open("if (test_interval > 0 & iterations %% test_interval == 0 & iterations > start_iter)");
    test_block(&mut b);
    b.close();
    b.line("print(\"Optimization Done.\")");
    b.open("if (max_iter > start_iter)");
    b.line("history = history[1:(max_iter - start_iter), ]");
    b.close();
    if files {
        b.comment("Trained weights and solver state.");
        write_all(&mut b, "weights_out");
        b.line("history_file = ifdef($history, \"\")");
        b.open("if (history_file != \"\")");
        b.line("write(history, history_file, format=\"csv\")");
        b.close();
    }

    let mut h = Code::default();
    h.comment(format!("Training script for the {}, generated by `dml convert caffe`.", g.origin));
    h.comment("Usage: dml run train.dml -nvargs X=FILE y=FILE [setting=value ...]");
    h.comment(super::sequence_input_note(g).unwrap_or_else(|| {
        format!(
            "X: one row per example, the {:?} data blob (C, H, W) flattened in Caffe's NCHW order ({} columns).",
            super::ops::caffe_shape(&g.tensors[g.inputs[0]].shape),
            g.tensors[g.inputs[0]].width()
        )
    }));
    h.comment(match loss.kind {
        LossKind::SoftmaxWithLoss { .. } => {
            "y: one row per example, the 0-based class id (Caffe's label blob).".to_string()
        }
        _ => format!("y: one row per example, the {} targets of the loss.", c.label_width),
    });
    h.comment(format!(
        "Solver: {:?}, base_lr {}, lr_policy {:?}, momentum {}, weight_decay {} ({}).",
        s.kind,
        num(s.base_lr),
        s.policy,
        num(s.momentum),
        num(s.weight_decay),
        if s.l1 { "L1" } else { "L2" }
    ));
    h.comment("");
    h.comment("Settings (-nvargs; the defaults are the solver's and the data layers'):");
    for (a, w) in USAGE {
        h.comment(format!("  {a}: {w}"));
    }
    h.comment("");
    h.comment("Files: weights/<param> and weights/optimizer/ (iterations and the solver's history blobs, as");
    h.comment("binary matrices); a snapshot folder holds the same, so resume= continues exactly.");
    Ok(join_parts(&[h.text(), source_lines(&sources).text(), func.text(), b.text()]))
}
