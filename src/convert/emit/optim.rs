//! Optimizers with Keras 3's update formulas (`keras/src/optimizers/*.py`, `update_step`), the
//! learning-rate schedules as functions of the iteration count, gradient clipping and decoupled
//! weight decay in Keras's order: clip the gradients, decay the variables, then update.
//!
//! The state of a parameter `p` lives in `p_<slot>` (`dense_weight_m`); the iteration count (the
//! number of steps already taken, Keras's `optimizer.iterations`) in `iterations`, the current
//! learning rate in `lr`.

use super::{Code, num};
use crate::convert::ir::{CaffePolicy, LearningRate, Optimizer, OptimizerKind};

/// The per-variable slots Keras keeps, in its saved order, with their initial value.
pub fn slots(opt: &Optimizer) -> Vec<(&'static str, f64)> {
    match &opt.kind {
        OptimizerKind::Sgd { momentum, .. } if *momentum != 0.0 => vec![("momentum", 0.0)],
        OptimizerKind::Sgd { .. } => vec![],
        OptimizerKind::RmsProp { momentum, centered, .. } => {
            let mut s = vec![("velocity", 0.0)];
            if *momentum > 0.0 {
                s.push(("momentum", 0.0));
            }
            if *centered {
                s.push(("average_gradient", 0.0));
            }
            s
        }
        OptimizerKind::Adagrad { initial_accumulator, .. } => vec![("accumulator", *initial_accumulator)],
        OptimizerKind::Adadelta { .. } => vec![("accumulated_grad", 0.0), ("accumulated_delta_var", 0.0)],
        OptimizerKind::Adam { amsgrad, .. } | OptimizerKind::AdamW { amsgrad, .. } => {
            let mut s = vec![("momentum", 0.0), ("velocity", 0.0)];
            if *amsgrad {
                s.push(("velocity_hat", 0.0));
            }
            s
        }
        OptimizerKind::Adamax { .. } => vec![("m", 0.0), ("norm", 0.0)],
        OptimizerKind::Nadam { .. } => vec![("momentum", 0.0), ("velocity", 0.0)],
    }
}

/// The DML variable of slot `slot` of parameter `p`.
pub fn slot_var(p: &str, slot: &str) -> String {
    format!("{p}_{slot}")
}

/// Writes the initial state of parameter `p`.
pub fn init(code: &mut Code, opt: &Optimizer, p: &str) {
    for (slot, v) in slots(opt) {
        code.line(format!("{} = matrix({}, rows=nrow({p}), cols=ncol({p}))", slot_var(p, slot), num(v)));
    }
}

/// Writes state that is shared by all parameters and updated once per step before them (Nadam's
/// running product of momentum factors).
pub fn global_init(code: &mut Code, opt: &Optimizer) {
    if let OptimizerKind::Nadam { .. } = opt.kind {
        code.line("nadam_u_product = 1.0");
    }
}

/// Writes the per-step shared updates (before the parameters' updates).
pub fn global_step(code: &mut Code, opt: &Optimizer) {
    if let OptimizerKind::Nadam { beta_1, .. } = opt.kind {
        code.line(format!(
            "nadam_u_product = nadam_u_product * {} * (1 - 0.5 * 0.96^(iterations + 1))",
            num(beta_1)
        ));
    }
}

/// Writes `lr = ...` for the current `iterations` (the number of steps already taken).
pub fn learning_rate(code: &mut Code, lr: &LearningRate) {
    let it = "iterations";
    match lr {
        LearningRate::Constant(v) => code.line(format!("lr = {}", num(*v))),
        LearningRate::ExponentialDecay { initial, decay_steps, decay_rate, staircase } => {
            let p = if *staircase {
                format!("floor({it} / {})", num(*decay_steps))
            } else {
                format!("{it} / {}", num(*decay_steps))
            };
            code.line(format!("lr = {} * {}^({p})", num(*initial), num(*decay_rate)));
        }
        LearningRate::InverseTimeDecay { initial, decay_steps, decay_rate, staircase } => {
            let p = if *staircase {
                format!("floor({it} / {})", num(*decay_steps))
            } else {
                format!("{it} / {}", num(*decay_steps))
            };
            code.line(format!("lr = {} / (1 + {} * {p})", num(*initial), num(*decay_rate)));
        }
        LearningRate::PiecewiseConstant { boundaries, values } => {
            code.line(format!("lr = {}", num(values[values.len() - 1])));
            for (i, b) in boundaries.iter().enumerate().rev() {
                code.open(format!("if ({it} <= {})", num(*b)));
                code.line(format!("lr = {}", num(values[i])));
                code.close();
            }
        }
        LearningRate::PolynomialDecay { initial, decay_steps, end, power, cycle } => {
            if *cycle {
                code.line(format!(
                    "lr_steps = {} * max(ceil({it} / {}), 1)",
                    num(*decay_steps),
                    num(*decay_steps)
                ));
                code.line(format!("lr_step = {it}"));
            } else {
                code.line(format!("lr_steps = {}", num(*decay_steps)));
                code.line(format!("lr_step = min({it}, lr_steps)"));
            }
            code.line(format!(
                "lr = ({} - {}) * (1 - lr_step / lr_steps)^{} + {}",
                num(*initial),
                num(*end),
                num(*power),
                num(*end)
            ));
        }
        LearningRate::CosineDecay { initial, decay_steps, alpha, warmup_target, warmup_steps } => {
            let cosine = |from: &str, step: &str| {
                format!(
                    "{from} * ((1 - {}) * 0.5 * (1 + cos({} * {step} / {})) + {})",
                    num(*alpha),
                    num(std::f64::consts::PI),
                    num(*decay_steps),
                    num(*alpha)
                )
            };
            match warmup_target {
                None => {
                    code.line(format!("lr_step = min({it}, {})", num(*decay_steps)));
                    code.line(format!("lr = {}", cosine(&num(*initial), "lr_step")));
                }
                Some(target) => {
                    code.line(format!("lr_step = min({it}, {})", num(warmup_steps + decay_steps)));
                    code.open(format!("if (lr_step < {})", num(*warmup_steps)));
                    code.line(format!(
                        "lr = ({} - {}) * (lr_step / {}) + {}",
                        num(*target),
                        num(*initial),
                        num(*warmup_steps),
                        num(*initial)
                    ));
                    code.close();
                    code.open("else");
                    code.line(format!(
                        "lr = {}",
                        cosine(&num(*target), &format!("(lr_step - {})", num(*warmup_steps)))
                    ));
                    code.close();
                }
            }
        }
        LearningRate::CosineDecayRestarts { initial, first_decay_steps, t_mul, m_mul, alpha } => {
            code.line(format!("lr_frac = {it} / {}", num(*first_decay_steps)));
            if *t_mul == 1.0 {
                code.line("lr_restart = floor(lr_frac)");
                code.line("lr_frac = lr_frac - lr_restart");
            } else {
                let t = num(*t_mul);
                code.line(format!("lr_restart = floor(log(1 - lr_frac * (1 - {t})) / log({t}))"));
                code.line(format!("lr_sum = (1 - {t}^lr_restart) / (1 - {t})"));
                code.line(format!("lr_frac = (lr_frac - lr_sum) / {t}^lr_restart"));
            }
            code.line(format!(
                "lr = {} * ((1 - {}) * 0.5 * {}^lr_restart * (1 + cos({} * lr_frac)) + {})",
                num(*initial),
                num(*alpha),
                num(*m_mul),
                num(std::f64::consts::PI),
                num(*alpha)
            ));
        }
        LearningRate::Caffe { policy, base_lr } => {
            let b = num(*base_lr);
            let e = match policy {
                CaffePolicy::Fixed => b,
                CaffePolicy::Step { gamma, stepsize } => {
                    format!("{b} * {}^floor({it} / {})", num(*gamma), num(*stepsize))
                }
                CaffePolicy::MultiStep { gamma, steps } => {
                    let passed: Vec<String> =
                        steps.iter().map(|s| format!("({it} >= {})", num(*s))).collect();
                    format!(
                        "{b} * {}^({})",
                        num(*gamma),
                        if passed.is_empty() { "0".into() } else { passed.join(" + ") }
                    )
                }
                CaffePolicy::Exp { gamma } => format!("{b} * {}^{it}", num(*gamma)),
                CaffePolicy::Inv { gamma, power } => {
                    format!("{b} * (1 + {} * {it})^(-{})", num(*gamma), num(*power))
                }
                CaffePolicy::Poly { power, max_iter } => {
                    format!("{b} * (1 - {it} / {})^{}", num(*max_iter), num(*power))
                }
                CaffePolicy::Sigmoid { gamma, stepsize } => {
                    format!("{b} / (1 + exp(-{} * ({it} - {})))", num(*gamma), num(*stepsize))
                }
            };
            code.line(format!("lr = {e}"));
        }
    }
}

/// Writes the gradient clipping of all trainable gradients `grads` (Keras's `_clip_gradients`:
/// clipnorm per variable, else global_clipnorm over all, else clipvalue).
pub fn clip(code: &mut Code, opt: &Optimizer, grads: &[String]) {
    if let Some(c) = opt.clipnorm.filter(|c| *c > 0.0) {
        let c = num(c);
        for g in grads {
            code.line(format!("{g} = {g} * {c} / max(sqrt(sum({g}^2)), {c})"));
        }
    } else if let Some(c) = opt.global_clipnorm.filter(|c| *c > 0.0) {
        let c = num(c);
        let sq: Vec<String> = grads.iter().map(|g| format!("sum({g}^2)")).collect();
        code.line(format!("grad_norm = sqrt({})", sq.join(" + ")));
        code.line(format!("grad_scale = {c} * min(1 / grad_norm, 1 / {c})"));
        for g in grads {
            code.line(format!("{g} = {g} * grad_scale"));
        }
    } else if let Some(v) = opt.clipvalue.filter(|v| *v > 0.0) {
        let (lo, hi) = (num(-v), num(v));
        for g in grads {
            code.line(format!("{g} = min(max({g}, {lo}), {hi})"));
        }
    }
}

/// Writes the decoupled weight decay of parameter `p` (before its update).
pub fn weight_decay(code: &mut Code, opt: &Optimizer, p: &str) {
    if let Some(wd) = opt.weight_decay {
        code.line(format!("{p} = {p} - {p} * {} * lr", num(wd)));
    }
}

/// Writes the update of parameter `p` with gradient `g`.
pub fn update(code: &mut Code, opt: &Optimizer, p: &str, g: &str) {
    let s = |slot: &str| slot_var(p, slot);
    match &opt.kind {
        OptimizerKind::Sgd { momentum, nesterov } => {
            if *momentum == 0.0 {
                code.line(format!("{p} = {p} - {g} * lr"));
            } else {
                let (m, mu) = (s("momentum"), num(*momentum));
                code.line(format!("{m} = -{g} * lr + {m} * {mu}"));
                if *nesterov {
                    code.line(format!("{p} = {p} + (-{g} * lr + {m} * {mu})"));
                } else {
                    code.line(format!("{p} = {p} + {m}"));
                }
            }
        }
        OptimizerKind::RmsProp { rho, momentum, epsilon, centered } => {
            let (v, r) = (s("velocity"), num(*rho));
            code.line(format!("{v} = {r} * {v} + (1 - {r}) * {g}^2"));
            let denom = if *centered {
                let a = s("average_gradient");
                code.line(format!("{a} = {r} * {a} + (1 - {r}) * {g}"));
                format!("{v} - {a}^2 + {}", num(*epsilon))
            } else {
                format!("{v} + {}", num(*epsilon))
            };
            let incr = format!("lr * {g} / sqrt({denom})");
            if *momentum > 0.0 {
                let m = s("momentum");
                code.line(format!("{m} = {} * {m} + {incr}", num(*momentum)));
                code.line(format!("{p} = {p} - {m}"));
            } else {
                code.line(format!("{p} = {p} - {incr}"));
            }
        }
        OptimizerKind::Adagrad { epsilon, .. } => {
            let a = s("accumulator");
            code.line(format!("{a} = {a} + {g}^2"));
            code.line(format!("{p} = {p} - lr * {g} / sqrt({a} + {})", num(*epsilon)));
        }
        OptimizerKind::Adadelta { rho, epsilon } => {
            let (ag, ad, r, e) =
                (s("accumulated_grad"), s("accumulated_delta_var"), num(*rho), num(*epsilon));
            code.line(format!("{ag} = {r} * {ag} + (1 - {r}) * {g}^2"));
            code.line(format!("adadelta_delta = -sqrt({ad} + {e}) * {g} / sqrt({ag} + {e})"));
            code.line(format!("{ad} = {r} * {ad} + (1 - {r}) * adadelta_delta^2"));
            code.line(format!("{p} = {p} + lr * adadelta_delta"));
        }
        OptimizerKind::Adam { beta_1, beta_2, epsilon, amsgrad }
        | OptimizerKind::AdamW { beta_1, beta_2, epsilon, amsgrad } => {
            let (m, v, b1, b2) = (s("momentum"), s("velocity"), num(*beta_1), num(*beta_2));
            code.line(format!(
                "adam_alpha = lr * sqrt(1 - {b2}^(iterations + 1)) / (1 - {b1}^(iterations + 1))"
            ));
            code.line(format!("{m} = {m} + ({g} - {m}) * (1 - {b1})"));
            code.line(format!("{v} = {v} + ({g}^2 - {v}) * (1 - {b2})"));
            let vv = if *amsgrad {
                let vh = s("velocity_hat");
                code.line(format!("{vh} = max({vh}, {v})"));
                vh
            } else {
                v
            };
            code.line(format!("{p} = {p} - ({m} * adam_alpha) / (sqrt({vv}) + {})", num(*epsilon)));
        }
        OptimizerKind::Adamax { beta_1, beta_2, epsilon } => {
            let (m, u, b1, b2) = (s("m"), s("norm"), num(*beta_1), num(*beta_2));
            code.line(format!("{m} = {m} + ({g} - {m}) * (1 - {b1})"));
            code.line(format!("{u} = max({b2} * {u}, abs({g}))"));
            code.line(format!(
                "{p} = {p} - (lr * {m}) / ((1 - {b1}^(iterations + 1)) * ({u} + {}))",
                num(*epsilon)
            ));
        }
        OptimizerKind::Nadam { beta_1, beta_2, epsilon } => {
            let (m, v, b1, b2) = (s("momentum"), s("velocity"), num(*beta_1), num(*beta_2));
            code.line(format!("nadam_u_t = {b1} * (1 - 0.5 * 0.96^(iterations + 1))"));
            code.line(format!("nadam_u_t_1 = {b1} * (1 - 0.5 * 0.96^(iterations + 2))"));
            code.line("nadam_u_product_t_1 = nadam_u_product * nadam_u_t_1");
            code.line(format!("{m} = {m} + ({g} - {m}) * (1 - {b1})"));
            code.line(format!("{v} = {v} + ({g}^2 - {v}) * (1 - {b2})"));
            code.line(format!(
                "nadam_m_hat = nadam_u_t_1 * {m} / (1 - nadam_u_product_t_1) + (1 - nadam_u_t) * {g} / (1 - nadam_u_product)"
            ));
            code.line(format!("nadam_v_hat = {v} / (1 - {b2}^(iterations + 1))"));
            code.line(format!("{p} = {p} - (nadam_m_hat * lr) / (sqrt(nadam_v_hat) + {})", num(*epsilon)));
        }
    }
}
