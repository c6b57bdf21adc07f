//! Caffe's solver (`SolverParameter`): the learning-rate policy, the update rules of its six
//! solver types with per-parameter `lr_mult`/`decay_mult`, L1/L2 weight decay and gradient
//! clipping, all as Caffe's `sgd_solver.cpp` family computes them, and the loop settings.
//! Fields keep Caffe's proto defaults (`delta` 1e-8, `momentum2` 0.999, `rms_decay` 0.99).

use prost_reflect::DynamicMessage;

use super::proto::Msg;
use crate::convert::error::ConvertError;
use crate::convert::ir::CaffePolicy;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SolverType {
    Sgd,
    Nesterov,
    AdaGrad,
    RmsProp,
    AdaDelta,
    Adam,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Solver {
    pub base_lr: f64,
    pub policy: CaffePolicy,
    pub kind: SolverType,
    pub momentum: f64,
    pub momentum2: f64,
    pub delta: f64,
    pub rms_decay: f64,
    pub weight_decay: f64,
    /// L1 (`sign(w)`) instead of L2 (`w`) decay.
    pub l1: bool,
    /// Global L2 norm the gradients are scaled down to (Caffe's `clip_gradients`; < 0: off).
    pub clip_gradients: f64,
    pub max_iter: usize,
    pub test_iter: usize,
    pub test_interval: usize,
    pub test_initialization: bool,
    pub display: usize,
    pub average_loss: usize,
    pub snapshot: usize,
    pub snapshot_prefix: String,
    pub snapshot_after_train: bool,
    /// `random_seed` (-1: none).
    pub seed: i64,
    /// The `net` the solver names, when it names one.
    pub net: Option<String>,
}

impl Default for Solver {
    fn default() -> Self {
        Solver {
            base_lr: 0.01,
            policy: CaffePolicy::Fixed,
            kind: SolverType::Sgd,
            momentum: 0.0,
            momentum2: 0.999,
            delta: 1e-8,
            rms_decay: 0.99,
            weight_decay: 0.0,
            l1: false,
            clip_gradients: -1.0,
            max_iter: 1000,
            test_iter: 0,
            test_interval: 0,
            test_initialization: true,
            display: 100,
            average_loss: 1,
            snapshot: 0,
            snapshot_prefix: String::new(),
            snapshot_after_train: true,
            seed: -1,
            net: None,
        }
    }
}

/// Reads a parsed `SolverParameter`; settings Caffe has but the converter does not honour are
/// errors naming them.
pub fn read(m: &DynamicMessage, file: &str) -> Result<Solver, ConvertError> {
    let s = Msg(m);
    let err = |field: &str, detail: String| ConvertError::Unsupported {
        file: file.into(),
        part: field.into(),
        detail,
    };
    let bad = |field: &str, detail: String| ConvertError::Malformed {
        file: file.into(),
        part: field.into(),
        detail,
    };
    for f in ["train_net", "test_net"] {
        if s.has(f) {
            return Err(err(f, "separate train/test network files; give one `net` with phase rules".into()));
        }
    }
    if s.has("iter_size") && s.i64("iter_size") != 1 {
        return Err(err("iter_size", "gradient accumulation over iter_size batches".into()));
    }
    let f = |name: &str| s.f64(name);
    let gamma = f("gamma");
    let power = f("power");
    let stepsize = s.i64("stepsize") as f64;
    let max_iter = s.usize("max_iter");
    let policy_name = s.str("lr_policy");
    let need = |name: &str| -> Result<(), ConvertError> {
        if s.has(name) { Ok(()) } else { Err(bad(name, format!("lr_policy `{policy_name}` needs {name}"))) }
    };
    let policy = match policy_name.as_str() {
        "fixed" => CaffePolicy::Fixed,
        "step" => {
            need("gamma")?;
            need("stepsize")?;
            if stepsize <= 0.0 {
                return Err(bad("stepsize", "must be positive".into()));
            }
            CaffePolicy::Step { gamma, stepsize }
        }
        "multistep" => {
            need("gamma")?;
            let steps = s.f64s("stepvalue");
            if steps.windows(2).any(|w| w[1] <= w[0]) {
                return Err(bad("stepvalue", "must increase".into()));
            }
            CaffePolicy::MultiStep { gamma, steps }
        }
        "exp" => {
            need("gamma")?;
            CaffePolicy::Exp { gamma }
        }
        "inv" => {
            need("gamma")?;
            need("power")?;
            CaffePolicy::Inv { gamma, power }
        }
        "poly" => {
            need("power")?;
            CaffePolicy::Poly { power, max_iter: max_iter as f64 }
        }
        "sigmoid" => {
            need("gamma")?;
            need("stepsize")?;
            CaffePolicy::Sigmoid { gamma, stepsize }
        }
        "" => {
            return Err(bad(
                "lr_policy",
                "is missing (Caffe requires one: fixed, step, multistep, exp, inv, poly, sigmoid)".into(),
            ));
        }
        other => {
            return Err(err(
                "lr_policy",
                format!("`{other}` (supported: fixed, step, multistep, exp, inv, poly, sigmoid)"),
            ));
        }
    };
    let kind = if s.has("type") {
        match s.str("type").to_ascii_lowercase().as_str() {
            "sgd" => SolverType::Sgd,
            "nesterov" => SolverType::Nesterov,
            "adagrad" => SolverType::AdaGrad,
            "rmsprop" => SolverType::RmsProp,
            "adadelta" => SolverType::AdaDelta,
            "adam" => SolverType::Adam,
            other => {
                return Err(err(
                    "type",
                    format!("solver type `{other}` (SGD, Nesterov, AdaGrad, RMSProp, AdaDelta, Adam)"),
                ));
            }
        }
    } else {
        match s.enum_name("solver_type").as_str() {
            "NESTEROV" => SolverType::Nesterov,
            "ADAGRAD" => SolverType::AdaGrad,
            "RMSPROP" => SolverType::RmsProp,
            "ADADELTA" => SolverType::AdaDelta,
            "ADAM" => SolverType::Adam,
            _ => SolverType::Sgd,
        }
    };
    if kind == SolverType::AdaGrad && f("momentum") != 0.0 {
        return Err(bad("momentum", "AdaGrad takes no momentum (as in Caffe)".into()));
    }
    let reg = s.str("regularization_type");
    let l1 = match reg.as_str() {
        "L2" | "" => false,
        "L1" => true,
        other => return Err(err("regularization_type", format!("`{other}` (L1, L2)"))),
    };
    let tests = s.f64s("test_iter");
    if tests.len() > 1 {
        return Err(err("test_iter", "several test networks".into()));
    }
    if s.has("base_lr") && f("base_lr") < 0.0 {
        return Err(bad("base_lr", "must not be negative".into()));
    }
    Ok(Solver {
        base_lr: if s.has("base_lr") {
            f("base_lr")
        } else {
            return Err(bad("base_lr", "is missing".into()));
        },
        policy,
        kind,
        momentum: f("momentum"),
        momentum2: f("momentum2"),
        delta: f("delta"),
        rms_decay: f("rms_decay"),
        weight_decay: f("weight_decay"),
        l1,
        clip_gradients: f("clip_gradients"),
        max_iter,
        test_iter: tests.first().copied().unwrap_or(0.0) as usize,
        test_interval: s.usize("test_interval"),
        test_initialization: s.bool("test_initialization"),
        display: s.usize("display"),
        average_loss: s.usize("average_loss").max(1),
        snapshot: s.usize("snapshot"),
        snapshot_prefix: s.str("snapshot_prefix"),
        snapshot_after_train: s.bool("snapshot_after_train"),
        seed: s.i64("random_seed"),
        net: s.has("net").then(|| s.str("net")),
    })
}

/// Caffe's learning rate at iteration `iter` (0-based, `SGDSolver::GetLearningRate`).
pub fn rate(base_lr: f64, policy: &CaffePolicy, iter: f64) -> f64 {
    match policy {
        CaffePolicy::Fixed => base_lr,
        CaffePolicy::Step { gamma, stepsize } => base_lr * gamma.powf((iter / stepsize).floor()),
        CaffePolicy::MultiStep { gamma, steps } => {
            let passed = steps.iter().filter(|&&s| iter >= s).count();
            base_lr * gamma.powi(passed as i32)
        }
        CaffePolicy::Exp { gamma } => base_lr * gamma.powf(iter),
        CaffePolicy::Inv { gamma, power } => base_lr * (1.0 + gamma * iter).powf(-power),
        CaffePolicy::Poly { power, max_iter } => base_lr * (1.0 - iter / max_iter).powf(*power),
        CaffePolicy::Sigmoid { gamma, stepsize } => {
            base_lr * (1.0 / (1.0 + (-gamma * (iter - stepsize)).exp()))
        }
    }
}

/// The solver's per-parameter state (Caffe's history blobs): names of the slots.
pub fn slots(kind: SolverType, momentum: f64) -> &'static [&'static str] {
    match kind {
        SolverType::Sgd if momentum == 0.0 => &[],
        SolverType::Sgd | SolverType::Nesterov | SolverType::AdaGrad | SolverType::RmsProp => &["history"],
        SolverType::AdaDelta => &["history", "update_history"],
        SolverType::Adam => &["m", "v"],
    }
}
