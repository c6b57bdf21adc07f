//! Metrics as Keras computes them: a per-sample value for each example of a batch, averaged over
//! the epoch (Keras's `MeanMetricWrapper` keeps a running sum and count). The emitter writes the
//! batch's sum of per-sample values; the training script keeps the running sums.

use super::{Code, loss};
use crate::convert::ir::{Loss, Metric};

/// `'accuracy'` resolved as Keras does from the shapes: binary for a one-column output, sparse
/// when the targets are class ids, categorical otherwise.
pub fn resolve(m: &Metric, loss: &Loss, last: usize) -> Metric {
    match m {
        Metric::Accuracy if last == 1 => Metric::BinaryAccuracy { threshold: 0.5 },
        Metric::Accuracy if matches!(loss, Loss::SparseCategoricalCrossentropy { .. }) => {
            Metric::SparseCategoricalAccuracy
        }
        Metric::Accuracy => Metric::CategoricalAccuracy,
        other => other.clone(),
    }
}

/// The 1-based index of each row's FIRST largest value, as `argmax` in Keras (`rowIndexMax`
/// returns the last one on ties: a multi-label target row, or equal scores).
fn argmax(m: &str) -> String {
    format!("(ncol({m}) + 1 - rowIndexMax(t(rev(t({m})))))")
}

/// Writes `sum_var = <sum over the batch's samples of the metric>`; `pred` is `N x (lead*last)`.
pub fn emit(code: &mut Code, m: &Metric, pred: &str, y: &str, sum_var: &str, lead: usize, last: usize) {
    let (p, t) = if lead > 1 {
        let ycols = if matches!(m, Metric::SparseCategoricalAccuracy | Metric::TopK { sparse: true, .. }) {
            1
        } else {
            last
        };
        code.line(format!("metric_p = matrix({pred}, rows=nrow({pred})*{lead}, cols={last})"));
        code.line(format!("metric_y = matrix({y}, rows=nrow({y})*{lead}, cols={ycols})"));
        ("metric_p".to_string(), "metric_y".to_string())
    } else {
        (pred.to_string(), y.to_string())
    };
    match m {
        Metric::CategoricalAccuracy => {
            code.line(format!("{sum_var} = sum({} == {})", argmax(&p), argmax(&t)));
        }
        Metric::SparseCategoricalAccuracy => {
            code.line(format!("{sum_var} = sum({} == {t} + 1)", argmax(&p)));
        }
        Metric::BinaryAccuracy { threshold } => {
            code.line(format!("{sum_var} = sum(rowMeans({t} == ({p} > {})))", super::num(*threshold)));
        }
        Metric::TopK { k, sparse } => {
            // Keras's in_top_k: the rank of the target class's score (1 + the number of larger
            // scores) is at most k; the target is the first arg-max of a one-hot row.
            let class = if *sparse { format!("{t} + 1") } else { argmax(&t) };
            code.line(format!(
                "metric_target = rowSums({p} * table(seq(1, nrow({p})), {class}, nrow({p}), ncol({p})))"
            ));
            code.line(format!("{sum_var} = sum(rowSums({p} > metric_target) + 1 <= {k})"));
        }
        Metric::Loss(l) => {
            // The mean loss times the number of per-sample values is the batch's sum.
            let vars = loss::LossVars { pred: &p, y: &t, value: "metric_mean", grad: None, lead: 1, last };
            loss::emit(code, l, &vars);
            code.line(format!("{sum_var} = metric_mean * nrow({p})"));
        }
        Metric::Accuracy => unreachable!("resolved before emission"),
    }
}
