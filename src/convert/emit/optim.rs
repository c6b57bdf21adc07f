//! Optimizers with Keras 3's update formulas (`keras/src/optimizers/*.py`, `update_step`), the
//! learning-rate schedules as functions of the iteration count, gradient clipping and decoupled
//! weight decay in Keras's order: clip the gradients, decay the variables, then update.
//!
//! The state of a parameter `p` lives in `p_<slot>` (`dense_weight_momentum`, Keras's slot names);
//! the iteration count (the number of steps already taken, Keras's `optimizer.iterations`) in
//! `iterations`, the optimizer's learning rate (without a schedule) in `learning_rate`, and the
//! rate of the current step in `lr`. [`OptimizerState`] holds that state outside a script, and
//! [`keras_order`] maps it to and from Keras's `optimizer.variables`.

use std::collections::BTreeMap;

use ndarray::Array2;

use super::{Code, num};
use crate::convert::ir::{CaffePolicy, Graph, LearningRate, Optimizer, OptimizerKind, ParamId};

/// The per-variable slots Keras keeps, grouped as Keras creates them, with their initial value.
/// Slots of one group are interleaved per variable in Keras's `optimizer.variables` (Adam:
/// m and v of the first variable, then of the second, ...); the groups follow each other (RMSprop:
/// every velocity, then every momentum, then every average gradient; Adam with amsgrad: the
/// interleaved m, v, then every velocity_hat).
pub fn slot_groups(opt: &Optimizer) -> Vec<Vec<(&'static str, f64)>> {
    match &opt.kind {
        OptimizerKind::Sgd { momentum, .. } if *momentum != 0.0 => vec![vec![("momentum", 0.0)]],
        OptimizerKind::Sgd { .. } => vec![],
        OptimizerKind::RmsProp { momentum, centered, .. } => {
            let mut s = vec![vec![("velocity", 0.0)]];
            if *momentum > 0.0 {
                s.push(vec![("momentum", 0.0)]);
            }
            if *centered {
                s.push(vec![("average_gradient", 0.0)]);
            }
            s
        }
        OptimizerKind::Adagrad { initial_accumulator, .. } => {
            vec![vec![("accumulator", *initial_accumulator)]]
        }
        OptimizerKind::Adadelta { .. } => {
            vec![vec![("accumulated_grad", 0.0), ("accumulated_delta_var", 0.0)]]
        }
        OptimizerKind::Adam { amsgrad, .. } | OptimizerKind::AdamW { amsgrad, .. } => {
            let mut s = vec![vec![("momentum", 0.0), ("velocity", 0.0)]];
            if *amsgrad {
                s.push(vec![("velocity_hat", 0.0)]);
            }
            s
        }
        OptimizerKind::Adamax { .. } => vec![vec![("momentum", 0.0), ("norm", 0.0)]],
        OptimizerKind::Nadam { .. } => vec![vec![("momentum", 0.0), ("velocity", 0.0)]],
    }
}

/// The per-variable slots with their initial value (the groups of [`slot_groups`] in turn).
pub fn slots(opt: &Optimizer) -> Vec<(&'static str, f64)> {
    slot_groups(opt).into_iter().flatten().collect()
}

/// The DML variable of Nadam's running product of momentum factors (Keras's optimizer variable
/// named `variable`).
pub const NADAM_U_PRODUCT: &str = "nadam_u_product";

/// One variable of an optimizer's state.
#[derive(Debug, Clone, PartialEq)]
pub enum StateVar {
    /// The number of steps taken (Keras's `iterations`).
    Iterations,
    /// The learning rate of an optimizer without a schedule (ReduceLROnPlateau changes it).
    LearningRate,
    /// Slot `slot` of trainable parameter `param`.
    Slot { param: ParamId, slot: &'static str, init: f64 },
    /// Nadam's running product of momentum factors.
    UProduct,
}

impl StateVar {
    /// The DML variable (and file name) holding it.
    pub fn var(&self, g: &Graph) -> String {
        match self {
            StateVar::Iterations => "iterations".into(),
            StateVar::LearningRate => "learning_rate".into(),
            StateVar::Slot { param, slot, .. } => slot_var(&g.params[*param].var, slot),
            StateVar::UProduct => NADAM_U_PRODUCT.into(),
        }
    }
}

/// The optimizer's variables in Keras's `optimizer.variables` order (what a `.keras` file saves
/// and `fit` leaves): `iterations`, `learning_rate` (absent with a schedule), the slot groups, and
/// Nadam's `variable` last.
pub fn keras_order(g: &Graph, opt: &Optimizer) -> Vec<StateVar> {
    let mut out = vec![StateVar::Iterations];
    if matches!(opt.learning_rate, LearningRate::Constant(_)) {
        out.push(StateVar::LearningRate);
    }
    let trainable = g.trainable_params();
    for group in slot_groups(opt) {
        for &param in &trainable {
            for &(slot, init) in &group {
                out.push(StateVar::Slot { param, slot, init });
            }
        }
    }
    if let OptimizerKind::Nadam { .. } = opt.kind {
        out.push(StateVar::UProduct);
    }
    out
}

/// An optimizer's state in the DML layout: what the training script starts from and leaves.
#[derive(Debug, Clone, PartialEq)]
pub struct OptimizerState {
    /// The number of steps already taken.
    pub iterations: f64,
    /// The current learning rate, for an optimizer without a schedule.
    pub learning_rate: Option<f64>,
    /// Every slot by its DML variable (`<param>_<slot>`), in the parameter's DML layout.
    pub slots: BTreeMap<String, Array2<f64>>,
    /// Nadam's running product of momentum factors.
    pub u_product: Option<f64>,
}

impl OptimizerState {
    /// The state of an optimizer that has taken no step (Keras's freshly built optimizer).
    pub fn fresh(g: &Graph, opt: &Optimizer) -> OptimizerState {
        let mut st =
            OptimizerState { iterations: 0.0, learning_rate: None, slots: BTreeMap::new(), u_product: None };
        for v in keras_order(g, opt) {
            match v {
                StateVar::Iterations => {}
                StateVar::LearningRate => {
                    if let LearningRate::Constant(lr) = opt.learning_rate {
                        st.learning_rate = Some(lr);
                    }
                }
                StateVar::Slot { param, init, .. } => {
                    let (r, c) = g.params[param].value.dim();
                    st.slots.insert(v.var(g), Array2::from_elem((r, c), init));
                }
                StateVar::UProduct => st.u_product = Some(1.0),
            }
        }
        st
    }

    /// The state from Keras's optimizer variables (row-major values, in [`keras_order`]): each
    /// slot goes through its parameter's transform, as slots are elementwise companions of their
    /// variable. A freshly compiled model saves only `iterations` and `learning_rate`: the slots
    /// then start fresh.
    pub fn from_keras(g: &Graph, opt: &Optimizer, vars: &[Vec<f64>]) -> Result<OptimizerState, String> {
        let mut st = OptimizerState::fresh(g, opt);
        if vars.is_empty() {
            return Ok(st);
        }
        let order = keras_order(g, opt);
        let scalar = |k: usize, what: &str| -> Result<f64, String> {
            match vars[k].as_slice() {
                [v] => Ok(*v),
                other => Err(format!("optimizer variable {k} ({what}) has {} values, not one", other.len())),
            }
        };
        let unbuilt = if st.learning_rate.is_some() { 2 } else { 1 };
        if vars.len() <= unbuilt {
            // Saved before the first step: only the iteration count (and learning rate).
            st.iterations = scalar(0, "iterations")?;
            if vars.len() == 2 && st.learning_rate.is_some() {
                st.learning_rate = Some(scalar(1, "learning_rate")?);
            }
            return Ok(st);
        }
        if vars.len() != order.len() {
            return Err(format!(
                "the file holds {} optimizer variables; Keras 3 keeps {} for this optimizer over {} trainable \
                 variables (iterations{}, then its slots), so they cannot be matched",
                vars.len(),
                order.len(),
                g.trainable_params().len(),
                if st.learning_rate.is_some() { ", learning_rate" } else { "" }
            ));
        }
        for (k, v) in order.iter().enumerate() {
            match v {
                StateVar::Iterations => st.iterations = scalar(k, "iterations")?,
                StateVar::LearningRate => st.learning_rate = Some(scalar(k, "learning_rate")?),
                StateVar::UProduct => st.u_product = Some(scalar(k, "Nadam's u_product")?),
                StateVar::Slot { param, slot, .. } => {
                    let p = &g.params[*param];
                    let n: usize = p.origin.shape.iter().product();
                    if vars[k].len() != n {
                        return Err(format!(
                            "optimizer variable {k} ({} of {}) has {} values, the variable {}",
                            slot,
                            p.var,
                            vars[k].len(),
                            n
                        ));
                    }
                    st.slots.insert(v.var(g), p.origin.transform.to_dml(&vars[k]));
                }
            }
        }
        Ok(st)
    }

    /// The state as Keras's optimizer variables (row-major values, in [`keras_order`]).
    pub fn to_keras(&self, g: &Graph, opt: &Optimizer) -> Vec<Vec<f64>> {
        keras_order(g, opt)
            .iter()
            .map(|v| match v {
                StateVar::Iterations => vec![self.iterations],
                StateVar::LearningRate => vec![self.learning_rate.unwrap_or(0.0)],
                StateVar::UProduct => vec![self.u_product.unwrap_or(1.0)],
                StateVar::Slot { param, .. } => {
                    let p = &g.params[*param];
                    match self.slots.get(&v.var(g)) {
                        Some(m) => p.origin.transform.to_framework(m),
                        None => vec![0.0; p.value.len()],
                    }
                }
            })
            .collect()
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
        // The optimizer's own variable: ReduceLROnPlateau may have lowered it.
        LearningRate::Constant(_) => code.line("lr = learning_rate"),
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
            let (m, u, b1, b2) = (s("momentum"), s("norm"), num(*beta_1), num(*beta_2));
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
