//! Keras compile settings (loss, optimizer with its learning-rate schedule, metrics) to the
//! graph's frontend-neutral [`TrainingConfig`]. Keras 3's `compile_config` and the legacy
//! `training_config` of `.h5` files (Keras 2 spellings: `lr`, `decay`) are both read. Every
//! optimizer setting that would change the numbers and is not implemented is refused by name.

use serde_json::Value as Json;

use super::KerasFormat;
use crate::convert::error::ConvertError;
use crate::convert::ir::{LearningRate, Loss, Metric, Optimizer, OptimizerKind, TrainingConfig};

fn err(model: &str, detail: impl std::fmt::Display) -> ConvertError {
    ConvertError::Layer { layer: model.to_string(), class: "compile".into(), detail: detail.to_string() }
}

/// Reads the compile settings of model `model`.
pub fn training_config(c: &Json, _format: KerasFormat, model: &str) -> Result<TrainingConfig, ConvertError> {
    let opt = c.get("optimizer").filter(|v| !v.is_null()).or_else(|| c.get("optimizer_config"));
    let opt = opt.ok_or_else(|| err(model, "the model was compiled without an optimizer"))?;
    let loss_v = c
        .get("loss")
        .filter(|v| !v.is_null())
        .ok_or_else(|| err(model, "the model was compiled without a loss"))?;
    let loss = parse_loss(loss_v).map_err(|e| err(model, e))?;
    let optimizer = parse_optimizer(opt).map_err(|e| err(model, e))?;
    let mut named = Vec::new();
    if let Some(ms) = c.get("metrics").filter(|v| !v.is_null()) {
        collect_metrics(ms, &mut named).map_err(|e| err(model, e))?;
    }
    let (metric_names, metrics) = named.into_iter().unzip();
    if let Some(w) = c.get("loss_weights").filter(|v| !v.is_null()) {
        return Err(err(model, format!("loss_weights {w} are not supported (one output, one loss)")));
    }
    Ok(TrainingConfig { loss, optimizer, metrics, metric_names })
}

/// Collects `(name, metric)` pairs: the name Keras keys the history with is the string the model
/// was compiled with, or the serialized metric's configured `name`.
fn collect_metrics(v: &Json, out: &mut Vec<(String, Metric)>) -> Result<(), String> {
    match v {
        Json::Array(a) => {
            for m in a {
                collect_metrics(m, out)?;
            }
            Ok(())
        }
        Json::Object(o) if o.contains_key("class_name") => {
            let m = parse_metric(v)?;
            let name = v
                .get("config")
                .and_then(|c| c.get("name"))
                .and_then(Json::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| m.key());
            out.push((name, m));
            Ok(())
        }
        Json::Object(o) => {
            // {output_name: metrics} for a named output.
            for m in o.values() {
                collect_metrics(m, out)?;
            }
            Ok(())
        }
        Json::String(s) => {
            out.push((s.clone(), parse_metric(v)?));
            Ok(())
        }
        Json::Null => Ok(()),
        other => Err(format!("unreadable metrics {other}")),
    }
}

/// Class name (or string) and config of a serialized Keras object.
/// tf.keras 2.11 to 2.15 save their optimizers as registered custom objects (`Custom>Adam`) and
/// their metrics as `MeanMetricWrapper {fn: "categorical_accuracy"}`; both name a built-in.
fn class_and_config(v: &Json) -> (&str, &Json) {
    match v {
        Json::String(s) => (s.strip_prefix("Custom>").unwrap_or(s), &Json::Null),
        _ => {
            let cfg = v.get("config").unwrap_or(&Json::Null);
            let class = v.get("class_name").and_then(Json::as_str).unwrap_or("");
            if class == "MeanMetricWrapper"
                && let Some(f) = cfg.get("fn").and_then(Json::as_str)
            {
                return (f, cfg);
            }
            (class.strip_prefix("Custom>").unwrap_or(class), cfg)
        }
    }
}

fn num(cfg: &Json, key: &str, default: f64) -> f64 {
    cfg.get(key).and_then(Json::as_f64).unwrap_or(default)
}

fn flag(cfg: &Json, key: &str, default: bool) -> bool {
    cfg.get(key).and_then(Json::as_bool).unwrap_or(default)
}

/// A loss by its Keras name or serialized class.
pub fn parse_loss(v: &Json) -> Result<Loss, String> {
    let (name, cfg) = class_and_config(v);
    if let Some(r) = cfg.get("reduction").and_then(Json::as_str)
        && r != "sum_over_batch_size"
        && r != "auto"
    {
        return Err(format!("loss reduction `{r}` is not supported (only sum_over_batch_size)"));
    }
    let logits = flag(cfg, "from_logits", false);
    let smoothing = num(cfg, "label_smoothing", 0.0);
    Ok(match name {
        "categorical_crossentropy" | "CategoricalCrossentropy" => {
            Loss::CategoricalCrossentropy { from_logits: logits, label_smoothing: smoothing }
        }
        "sparse_categorical_crossentropy" | "SparseCategoricalCrossentropy" => {
            if cfg.get("ignore_class").is_some_and(|v| !v.is_null()) {
                return Err("sparse_categorical_crossentropy with ignore_class is not supported".into());
            }
            Loss::SparseCategoricalCrossentropy { from_logits: logits }
        }
        "binary_crossentropy" | "BinaryCrossentropy" => {
            Loss::BinaryCrossentropy { from_logits: logits, label_smoothing: smoothing }
        }
        "mse" | "mean_squared_error" | "MeanSquaredError" => Loss::MeanSquaredError,
        "mae" | "mean_absolute_error" | "MeanAbsoluteError" => Loss::MeanAbsoluteError,
        "mape" | "mean_absolute_percentage_error" | "MeanAbsolutePercentageError" => {
            Loss::MeanAbsolutePercentageError
        }
        "msle" | "mean_squared_logarithmic_error" | "MeanSquaredLogarithmicError" => {
            Loss::MeanSquaredLogarithmicError
        }
        "huber" | "huber_loss" | "Huber" => Loss::Huber { delta: num(cfg, "delta", 1.0) },
        "log_cosh" | "logcosh" | "LogCosh" => Loss::LogCosh,
        "hinge" | "Hinge" => Loss::Hinge,
        "squared_hinge" | "SquaredHinge" => Loss::SquaredHinge,
        "categorical_hinge" | "CategoricalHinge" => Loss::CategoricalHinge,
        "kl_divergence" | "kld" | "kullback_leibler_divergence" | "KLDivergence" => Loss::KlDivergence,
        "poisson" | "Poisson" => Loss::Poisson,
        "" => return Err(format!("unreadable loss {v}")),
        other => {
            return Err(format!(
                "loss `{other}` is not supported (supported: categorical_crossentropy, \
                 sparse_categorical_crossentropy, binary_crossentropy, mse, mae, mape, msle, huber, log_cosh, hinge, \
                 squared_hinge, categorical_hinge, kl_divergence, poisson)"
            ));
        }
    })
}

fn parse_metric(v: &Json) -> Result<Metric, String> {
    let (name, cfg) = class_and_config(v);
    Ok(match name {
        "accuracy" | "acc" | "Accuracy" => Metric::Accuracy,
        "categorical_accuracy" | "CategoricalAccuracy" => Metric::CategoricalAccuracy,
        "sparse_categorical_accuracy" | "SparseCategoricalAccuracy" => Metric::SparseCategoricalAccuracy,
        "binary_accuracy" | "BinaryAccuracy" => {
            Metric::BinaryAccuracy { threshold: num(cfg, "threshold", 0.5) }
        }
        "top_k_categorical_accuracy" | "TopKCategoricalAccuracy" => {
            Metric::TopK { k: num(cfg, "k", 5.0) as usize, sparse: false }
        }
        "sparse_top_k_categorical_accuracy" | "SparseTopKCategoricalAccuracy" => {
            Metric::TopK { k: num(cfg, "k", 5.0) as usize, sparse: true }
        }
        other => match parse_loss(v) {
            Ok(l) => Metric::Loss(l),
            Err(_) => {
                return Err(format!(
                    "metric `{other}` is not supported (supported: accuracy, categorical_accuracy, \
                     sparse_categorical_accuracy, binary_accuracy, top_k_categorical_accuracy, \
                     sparse_top_k_categorical_accuracy, and the losses)"
                ));
            }
        },
    })
}

/// An optimizer with its Keras 3 defaults for missing keys.
pub fn parse_optimizer(v: &Json) -> Result<Optimizer, String> {
    let (class, cfg) = class_and_config(v);
    let class = class.to_ascii_lowercase();
    for key in ["use_ema"] {
        if flag(cfg, key, false) {
            return Err(format!("optimizer setting {key}=True is not supported"));
        }
    }
    for key in ["gradient_accumulation_steps", "loss_scale_factor", "ema_overwrite_frequency"] {
        if let Some(x) = cfg.get(key).filter(|x| !x.is_null()) {
            return Err(format!("optimizer setting {key}={x} is not supported"));
        }
    }
    let lr_value = cfg.get("learning_rate").or_else(|| cfg.get("lr"));
    let default_lr = if class == "sgd" { 0.01 } else { 0.001 };
    let mut learning_rate = match lr_value {
        None | Some(Json::Null) => LearningRate::Constant(default_lr),
        Some(Json::Number(n)) => LearningRate::Constant(n.as_f64().unwrap_or(default_lr)),
        Some(sched) => parse_schedule(sched)?,
    };
    // Keras 2's time-based decay: lr / (1 + decay * iterations).
    let decay = num(cfg, "decay", 0.0);
    if decay != 0.0 {
        let LearningRate::Constant(initial) = learning_rate else {
            return Err("decay together with a learning-rate schedule is not supported".into());
        };
        learning_rate =
            LearningRate::InverseTimeDecay { initial, decay_steps: 1.0, decay_rate: decay, staircase: false };
    }
    let eps = num(cfg, "epsilon", 1e-7);
    let (b1, b2) = (num(cfg, "beta_1", 0.9), num(cfg, "beta_2", 0.999));
    let kind = match class.as_str() {
        "sgd" => {
            OptimizerKind::Sgd { momentum: num(cfg, "momentum", 0.0), nesterov: flag(cfg, "nesterov", false) }
        }
        "rmsprop" => OptimizerKind::RmsProp {
            rho: num(cfg, "rho", 0.9),
            momentum: num(cfg, "momentum", 0.0),
            epsilon: eps,
            centered: flag(cfg, "centered", false),
        },
        "adagrad" => OptimizerKind::Adagrad {
            initial_accumulator: num(cfg, "initial_accumulator_value", 0.1),
            epsilon: eps,
        },
        "adadelta" => OptimizerKind::Adadelta { rho: num(cfg, "rho", 0.95), epsilon: eps },
        "adam" => {
            OptimizerKind::Adam { beta_1: b1, beta_2: b2, epsilon: eps, amsgrad: flag(cfg, "amsgrad", false) }
        }
        "adamw" => OptimizerKind::AdamW {
            beta_1: b1,
            beta_2: b2,
            epsilon: eps,
            amsgrad: flag(cfg, "amsgrad", false),
        },
        "adamax" => OptimizerKind::Adamax { beta_1: b1, beta_2: b2, epsilon: eps },
        "nadam" => OptimizerKind::Nadam { beta_1: b1, beta_2: b2, epsilon: eps },
        "" => return Err(format!("unreadable optimizer {v}")),
        other => {
            return Err(format!(
                "optimizer `{other}` is not supported (supported: SGD, RMSprop, Adagrad, Adadelta, Adam, AdamW, \
                 Adamax, Nadam)"
            ));
        }
    };
    let opt_num = |k: &str| cfg.get(k).and_then(Json::as_f64);
    let weight_decay = match (&kind, opt_num("weight_decay")) {
        (OptimizerKind::AdamW { .. }, None) => Some(0.004),
        (_, w) => w.filter(|w| *w != 0.0),
    };
    Ok(Optimizer {
        kind,
        learning_rate,
        weight_decay,
        clipnorm: opt_num("clipnorm"),
        global_clipnorm: opt_num("global_clipnorm"),
        clipvalue: opt_num("clipvalue"),
    })
}

fn parse_schedule(v: &Json) -> Result<LearningRate, String> {
    let (class, cfg) = class_and_config(v);
    let n = |k: &str| cfg.get(k).and_then(Json::as_f64).ok_or_else(|| format!("{class}: `{k}` is missing"));
    let list = |k: &str| -> Result<Vec<f64>, String> {
        cfg.get(k)
            .and_then(Json::as_array)
            .map(|a| a.iter().filter_map(Json::as_f64).collect())
            .ok_or_else(|| format!("{class}: `{k}` is missing"))
    };
    Ok(match class {
        "ExponentialDecay" => LearningRate::ExponentialDecay {
            initial: n("initial_learning_rate")?,
            decay_steps: n("decay_steps")?,
            decay_rate: n("decay_rate")?,
            staircase: flag(cfg, "staircase", false),
        },
        "PiecewiseConstantDecay" => {
            let (boundaries, values) = (list("boundaries")?, list("values")?);
            if values.len() != boundaries.len() + 1 {
                return Err("PiecewiseConstantDecay needs one more value than boundaries".into());
            }
            LearningRate::PiecewiseConstant { boundaries, values }
        }
        "InverseTimeDecay" => LearningRate::InverseTimeDecay {
            initial: n("initial_learning_rate")?,
            decay_steps: n("decay_steps")?,
            decay_rate: n("decay_rate")?,
            staircase: flag(cfg, "staircase", false),
        },
        "PolynomialDecay" => LearningRate::PolynomialDecay {
            initial: n("initial_learning_rate")?,
            decay_steps: n("decay_steps")?,
            end: num(cfg, "end_learning_rate", 0.0001),
            power: num(cfg, "power", 1.0),
            cycle: flag(cfg, "cycle", false),
        },
        "CosineDecay" => LearningRate::CosineDecay {
            initial: n("initial_learning_rate")?,
            decay_steps: n("decay_steps")?,
            alpha: num(cfg, "alpha", 0.0),
            warmup_target: cfg.get("warmup_target").and_then(Json::as_f64),
            warmup_steps: num(cfg, "warmup_steps", 0.0),
        },
        "CosineDecayRestarts" => LearningRate::CosineDecayRestarts {
            initial: n("initial_learning_rate")?,
            first_decay_steps: n("first_decay_steps")?,
            t_mul: num(cfg, "t_mul", 2.0),
            m_mul: num(cfg, "m_mul", 1.0),
            alpha: num(cfg, "alpha", 0.0),
        },
        other => {
            return Err(format!(
                "learning-rate schedule `{other}` is not supported (supported: ExponentialDecay, \
                 PiecewiseConstantDecay, InverseTimeDecay, PolynomialDecay, CosineDecay, CosineDecayRestarts)"
            ));
        }
    })
}
