//! Losses exactly as Keras 3 computes and reduces them (JAX backend formulas, `epsilon() =
//! 1e-7` clipping included), with their gradients. Keras reduces each loss over the last axis
//! (a sum for the cross-entropies, a mean for the others) and then averages the per-sample
//! values (`sum_over_batch_size`). The nn library's losses scale differently (`l2_loss` is half
//! the sum over the batch), so the converter writes Keras's own formulas.

use super::{Code, num};
use crate::convert::ir::Loss;

const EPS: f64 = 1e-7;

/// Where the loss reads and writes.
pub struct LossVars<'a> {
    /// The model's output (row-major, `N x (lead * last)`).
    pub pred: &'a str,
    /// The target as Keras takes it (one-hot or regression rows, 0-based ids for sparse losses).
    pub y: &'a str,
    /// The scalar to assign the batch loss to.
    pub value: &'a str,
    /// The gradient to assign (with respect to `pred`), if wanted.
    pub grad: Option<&'a str>,
    /// Per-sample positions (the product of the output's leading axes) and the last axis.
    pub lead: usize,
    pub last: usize,
}

/// Prefix for the loss's temporaries, so they never collide with the model's variables.
const T: &str = "loss_";

/// Writes the loss (and its gradient) of a batch.
pub fn emit(code: &mut Code, loss: &Loss, v: &LossVars) {
    let (lead, last) = (v.lead, v.last);
    let (p, y) = if lead > 1 {
        code.line(format!("{T}p = matrix({}, rows=nrow({})*{lead}, cols={last})", v.pred, v.pred));
        let ycols = if matches!(loss, Loss::SparseCategoricalCrossentropy { .. }) { 1 } else { last };
        code.line(format!("{T}y = matrix({}, rows=nrow({})*{lead}, cols={ycols})", v.y, v.y));
        (format!("{T}p"), format!("{T}y"))
    } else {
        (v.pred.to_string(), v.y.to_string())
    };
    // Number of per-sample loss values: what sum_over_batch_size divides by.
    code.line(format!("{T}n = nrow({p})"));
    let n = format!("{T}n");
    let all = format!("({n} * {last})");
    let eps = num(EPS);
    let one_m_eps = num(1.0 - EPS);
    let mut grad: Option<String> = None;
    match loss {
        Loss::CategoricalCrossentropy { from_logits, .. }
        | Loss::SparseCategoricalCrossentropy { from_logits } => {
            let smoothing = match loss {
                Loss::CategoricalCrossentropy { label_smoothing, .. } => *label_smoothing,
                _ => 0.0,
            };
            let yy = if matches!(loss, Loss::SparseCategoricalCrossentropy { .. }) {
                code.line(format!("{T}t = table(seq(1, {n}), {y} + 1, {n}, {last})"));
                format!("{T}t")
            } else if smoothing > 0.0 {
                code.line(format!(
                    "{T}t = {y} * {} + {}",
                    num(1.0 - smoothing),
                    num(smoothing / last as f64)
                ));
                format!("{T}t")
            } else {
                y.clone()
            };
            if *from_logits {
                code.line(format!("{T}z = {p} - rowMaxs({p})"));
                code.line(format!("{T}logp = {T}z - log(rowSums(exp({T}z)))"));
                code.line(format!("{} = -sum({yy} * {T}logp) / {n}", v.value));
                grad = Some(format!("(exp({T}logp) * rowSums({yy}) - {yy}) / {n}"));
            } else {
                code.line(format!("{T}s = rowSums({p})"));
                code.line(format!("{T}q = {p} / {T}s"));
                code.line(format!("{T}c = min(max({T}q, {eps}), {one_m_eps})"));
                code.line(format!("{} = -sum({yy} * log({T}c)) / {n}", v.value));
                if v.grad.is_some() {
                    code.line(format!("{T}g = -({yy} / {T}c) * ({T}q > {eps}) * ({T}q < {one_m_eps}) / {n}"));
                    grad = Some(format!("({T}g - rowSums({T}g * {T}q)) / {T}s"));
                }
            }
        }
        Loss::BinaryCrossentropy { from_logits, label_smoothing } => {
            let yy = if *label_smoothing > 0.0 {
                code.line(format!(
                    "{T}t = {y} * {} + {}",
                    num(1.0 - label_smoothing),
                    num(0.5 * label_smoothing)
                ));
                format!("{T}t")
            } else {
                y.clone()
            };
            if *from_logits {
                let sp = |z: &str| format!("(max({z}, 0) + log(1 + exp(-abs({z}))))");
                code.line(format!(
                    "{} = sum({yy} * {} + (1 - {yy}) * {}) / {all}",
                    v.value,
                    sp(&format!("-{p}")),
                    sp(&p)
                ));
                grad = Some(format!("(1 / (1 + exp(-{p})) - {yy}) / {all}"));
            } else {
                code.line(format!("{T}c = min(max({p}, {eps}), {one_m_eps})"));
                code.line(format!(
                    "{} = -sum({yy} * log({T}c) + (1 - {yy}) * log(1 - {T}c)) / {all}",
                    v.value
                ));
                grad = Some(format!(
                    "-({yy} / {T}c - (1 - {yy}) / (1 - {T}c)) * ({p} > {eps}) * ({p} < {one_m_eps}) / {all}"
                ));
            }
        }
        Loss::MeanSquaredError => {
            code.line(format!("{T}e = {p} - {y}"));
            code.line(format!("{} = sum({T}e^2) / {all}", v.value));
            grad = Some(format!("2 * {T}e / {all}"));
        }
        Loss::MeanAbsoluteError => {
            code.line(format!("{T}e = {p} - {y}"));
            code.line(format!("{} = sum(abs({T}e)) / {all}", v.value));
            grad = Some(format!("sign({T}e) / {all}"));
        }
        Loss::MeanAbsolutePercentageError => {
            code.line(format!("{T}d = max(abs({y}), {eps})"));
            code.line(format!("{} = 100 * sum(abs({y} - {p}) / {T}d) / {all}", v.value));
            grad = Some(format!("100 * sign({p} - {y}) / {T}d / {all}"));
        }
        Loss::MeanSquaredLogarithmicError => {
            code.line(format!("{T}a = max({p}, {eps}) + 1"));
            code.line(format!("{T}e = log({T}a) - log(max({y}, {eps}) + 1)"));
            code.line(format!("{} = sum({T}e^2) / {all}", v.value));
            grad = Some(format!("2 * {T}e / {T}a * ({p} > {eps}) / {all}"));
        }
        Loss::Huber { delta } => {
            let d = num(*delta);
            code.line(format!("{T}e = {p} - {y}"));
            code.line(format!("{T}small = abs({T}e) <= {d}"));
            code.line(format!(
                "{} = sum({T}small * 0.5 * {T}e^2 + (1 - {T}small) * ({d} * abs({T}e) - 0.5 * {d}^2)) / {all}",
                v.value
            ));
            grad = Some(format!("({T}small * {T}e + (1 - {T}small) * {d} * sign({T}e)) / {all}"));
        }
        Loss::LogCosh => {
            code.line(format!("{T}e = {p} - {y}"));
            code.line(format!(
                "{} = sum({T}e + max(-2 * {T}e, 0) + log(1 + exp(-abs(2 * {T}e))) - log(2)) / {all}",
                v.value
            ));
            grad = Some(format!("(1 - 2 / (1 + exp(2 * {T}e))) / {all}"));
        }
        Loss::Hinge | Loss::SquaredHinge => {
            // Keras maps 0/1 labels to -1/1 when every label is 0 or 1.
            code.line(format!("{T}binary = sum(({y} == 0) | ({y} == 1)) == length({y})"));
            code.line(format!("{T}t = {y}"));
            code.open(format!("if ({T}binary)"));
            code.line(format!("{T}t = 2 * {y} - 1"));
            code.close();
            code.line(format!("{T}m = max(1 - {T}t * {p}, 0)"));
            if *loss == Loss::Hinge {
                code.line(format!("{} = sum({T}m) / {all}", v.value));
                grad = Some(format!("-{T}t * ({T}m > 0) / {all}"));
            } else {
                code.line(format!("{} = sum({T}m^2) / {all}", v.value));
                grad = Some(format!("-2 * {T}t * {T}m / {all}"));
            }
        }
        Loss::CategoricalHinge => {
            code.line(format!("{T}pos = rowSums({y} * {p})"));
            code.line(format!("{T}negs = (1 - {y}) * {p}"));
            code.line(format!("{T}neg = rowMaxs({T}negs)"));
            code.line(format!("{T}m = max({T}neg - {T}pos + 1, 0)"));
            code.line(format!("{} = sum({T}m) / {n}", v.value));
            grad = Some(format!("({T}m > 0) * (({T}negs == {T}neg) - {y}) / {n}"));
        }
        Loss::KlDivergence => {
            code.line(format!("{T}t = min(max({y}, {eps}), 1)"));
            code.line(format!("{T}c = min(max({p}, {eps}), 1)"));
            code.line(format!("{} = sum({T}t * log({T}t / {T}c)) / {n}", v.value));
            grad = Some(format!("-{T}t / {T}c * ({p} > {eps}) * ({p} < 1) / {n}"));
        }
        Loss::Poisson => {
            code.line(format!("{} = sum({p} - {y} * log({p} + {eps})) / {all}", v.value));
            grad = Some(format!("(1 - {y} / ({p} + {eps})) / {all}"));
        }
    }
    if let (Some(target), Some(g)) = (v.grad, grad) {
        if lead > 1 {
            code.line(format!("{target} = matrix({g}, rows=nrow({}), cols={})", v.pred, lead * last));
        } else {
            code.line(format!("{target} = {g}"));
        }
    }
}
