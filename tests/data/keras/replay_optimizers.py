#!/usr/bin/env python3
"""Executable spec of Keras 3.15.1's optimizer, clipping, weight-decay and LR-schedule formulas.

Replays `fit(shuffle=False)` of the optimizer/schedule fixtures in NUMPY: per batch it takes Keras's
gradient (the same recipe as the `grad_<i>` keys, on that batch), applies the formulas written below,
and compares the final weights, the optimizer variables and the epoch losses with the committed
`fit_<i>`, `opt_<k>`, `hist_loss`.  The formulas here are what the Rust side must implement.

    KERAS_BACKEND=jax /work/venvs/keras/bin/python tests/data/keras/replay_optimizers.py [CASE ...]
"""

import json
import math
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.dont_write_bytecode = True  # no __pycache__ inside the repository
_argv, sys.argv = sys.argv, sys.argv[:1]
import gen_fixtures as g  # noqa: E402  (sets jax x64, float64 promotion, cache)

sys.argv = _argv
import keras  # noqa: E402
import numpy as np  # noqa: E402


# ------------------------------------------------------------------ schedules (step = iterations, 0-based)
def schedule(cfg):
    if not isinstance(cfg, dict):
        return lambda step: float(cfg)
    cls, c = cfg["class_name"], cfg["config"]
    if cls == "ExponentialDecay":
        def f(step):
            p = step / c["decay_steps"]
            if c["staircase"]:
                p = math.floor(p)
            return c["initial_learning_rate"] * c["decay_rate"] ** p
    elif cls == "PiecewiseConstantDecay":
        def f(step):
            b, v = c["boundaries"], c["values"]
            if step <= b[0]:
                return v[0]
            for lo, hi, val in zip(b[:-1], b[1:], v[1:-1]):
                if lo < step <= hi:
                    return val
            return v[-1]
    elif cls == "InverseTimeDecay":
        def f(step):
            p = step / c["decay_steps"]
            if c["staircase"]:
                p = math.floor(p)
            return c["initial_learning_rate"] / (1 + c["decay_rate"] * p)
    elif cls == "PolynomialDecay":
        def f(step):
            ds = c["decay_steps"]
            if c["cycle"]:
                ds = ds * (1.0 if step == 0 else math.ceil(step / c["decay_steps"]))
            else:
                step = min(step, ds)
            p = step / ds
            return (c["initial_learning_rate"] - c["end_learning_rate"]) * (1 - p) ** c["power"] + c["end_learning_rate"]
    elif cls == "CosineDecay":
        def decay(step, frm):
            frac = step / c["decay_steps"]
            cos = 0.5 * (1.0 + math.cos(math.pi * frac))
            return frm * ((1 - c["alpha"]) * cos + c["alpha"])

        def f(step):
            if c.get("warmup_target") is None:
                return decay(min(step, c["decay_steps"]), c["initial_learning_rate"])
            ws = c["warmup_steps"]
            step = min(step, c["decay_steps"] + ws)
            if step < ws:
                return (c["warmup_target"] - c["initial_learning_rate"]) * (step / ws) + c["initial_learning_rate"]
            return decay(step - ws, c["warmup_target"])
    elif cls == "CosineDecayRestarts":
        def f(step):
            frac = step / c["first_decay_steps"]
            t_mul, m_mul = c["t_mul"], c["m_mul"]
            if t_mul == 1.0:
                i = math.floor(frac)
                frac -= i
            else:
                i = math.floor(math.log(1.0 - frac * (1.0 - t_mul)) / math.log(t_mul))
                sum_r = (1.0 - t_mul ** i) / (1.0 - t_mul)
                frac = (frac - sum_r) / t_mul ** i
            cos = 0.5 * m_mul ** i * (1.0 + math.cos(math.pi * frac))
            return c["initial_learning_rate"] * ((1 - c["alpha"]) * cos + c["alpha"])
    else:
        raise NotImplementedError(cls)
    return f


# ------------------------------------------------------------------ clipping (only ONE applies, in this order)
def clip(grads, c):
    if c.get("clipnorm"):
        cn = c["clipnorm"]
        return [gr * cn / max(math.sqrt(float((gr ** 2).sum())), cn) for gr in grads]
    if c.get("global_clipnorm"):
        cn = c["global_clipnorm"]
        norm = math.sqrt(sum(float((gr ** 2).sum()) for gr in grads))
        return [gr * (cn * min(1.0 / norm, 1.0 / cn)) for gr in grads]
    if c.get("clipvalue"):
        v = c["clipvalue"]
        return [np.clip(gr, -v, v) for gr in grads]
    return grads


# ------------------------------------------------------------------ update steps; t = iterations + 1
class Opt:
    def __init__(self, cfg, shapes):
        self.cls, self.c = cfg["class_name"], cfg["config"]
        self.lr = schedule(self.c["learning_rate"])
        self.it = 0
        z = lambda: [np.zeros(s) for s in shapes]  # noqa: E731
        cls, c = self.cls, self.c
        # slot names in Keras's order (interleaved per variable in optimizer.variables)
        if cls == "SGD":
            self.slots = {"momentum": z()} if c["momentum"] != 0 else {}
        elif cls == "RMSprop":
            self.slots = {"velocity": z()}
            if c["momentum"] > 0:
                self.slots["momentum"] = z()
            if c["centered"]:
                self.slots["average_gradient"] = z()
        elif cls == "Adagrad":
            self.slots = {"accumulator": [np.full(s, c["initial_accumulator_value"]) for s in shapes]}
        elif cls == "Adadelta":
            self.slots = {"accumulated_grad": z(), "accumulated_delta_var": z()}
        elif cls in ("Adam", "AdamW"):
            self.slots = {"momentum": z(), "velocity": z()}
            if c["amsgrad"]:
                self.slots["velocity_hat"] = z()
        elif cls == "Adamax":
            self.slots = {"momentum": z(), "norm": z()}
        elif cls == "Nadam":
            self.slots = {"momentum": z(), "velocity": z()}
            self.u_product = 1.0
        else:
            raise NotImplementedError(cls)

    def step(self, ws, grads):
        c, lr = self.c, self.lr(self.it)
        grads = clip(grads, c)
        if c.get("weight_decay"):  # decoupled, every trainable variable, with the CURRENT lr, before the step
            ws = [w - w * c["weight_decay"] * lr for w in ws]
        t = self.it + 1
        if self.cls == "Nadam":  # u_product advances once per step, before the per-variable updates
            self.u_product *= c["beta_1"] * (1.0 - 0.5 * 0.96 ** t)
        out = []
        for i, (w, gr) in enumerate(zip(ws, grads)):
            s = {k: v[i] for k, v in self.slots.items()}
            if self.cls == "SGD":
                if "momentum" in s:
                    m = c["momentum"] * s["momentum"] - lr * gr
                    s["momentum"] = m
                    w = w + (c["momentum"] * m - lr * gr if c["nesterov"] else m)
                else:
                    w = w - lr * gr
            elif self.cls == "RMSprop":
                rho = c["rho"]
                s["velocity"] = rho * s["velocity"] + (1 - rho) * gr ** 2
                if c["centered"]:
                    s["average_gradient"] = rho * s["average_gradient"] + (1 - rho) * gr
                    den = s["velocity"] - s["average_gradient"] ** 2 + c["epsilon"]
                else:
                    den = s["velocity"] + c["epsilon"]
                inc = lr * gr / np.sqrt(den)
                if "momentum" in s:
                    s["momentum"] = c["momentum"] * s["momentum"] + inc
                    w = w - s["momentum"]
                else:
                    w = w - inc
            elif self.cls == "Adagrad":
                s["accumulator"] = s["accumulator"] + gr ** 2
                w = w - lr * gr / np.sqrt(s["accumulator"] + c["epsilon"])
            elif self.cls == "Adadelta":
                rho, eps = c["rho"], c["epsilon"]
                s["accumulated_grad"] = rho * s["accumulated_grad"] + (1 - rho) * gr ** 2
                d = -(np.sqrt(s["accumulated_delta_var"] + eps) * gr) / np.sqrt(s["accumulated_grad"] + eps)
                s["accumulated_delta_var"] = rho * s["accumulated_delta_var"] + (1 - rho) * d ** 2
                w = w + lr * d
            elif self.cls in ("Adam", "AdamW"):
                b1, b2 = c["beta_1"], c["beta_2"]
                alpha = lr * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
                s["momentum"] = s["momentum"] + (gr - s["momentum"]) * (1 - b1)
                s["velocity"] = s["velocity"] + (gr ** 2 - s["velocity"]) * (1 - b2)
                v = s["velocity"]
                if "velocity_hat" in s:
                    s["velocity_hat"] = np.maximum(s["velocity_hat"], v)
                    v = s["velocity_hat"]
                w = w - s["momentum"] * alpha / (np.sqrt(v) + c["epsilon"])
            elif self.cls == "Adamax":
                b1 = c["beta_1"]
                s["momentum"] = s["momentum"] + (gr - s["momentum"]) * (1 - b1)
                s["norm"] = np.maximum(c["beta_2"] * s["norm"], np.abs(gr))
                w = w - lr * s["momentum"] / ((1 - b1 ** t) * (s["norm"] + c["epsilon"]))
            elif self.cls == "Nadam":
                b1, b2 = c["beta_1"], c["beta_2"]
                u_t = b1 * (1.0 - 0.5 * 0.96 ** t)
                u_t1 = b1 * (1.0 - 0.5 * 0.96 ** (t + 1))
                up_t = self.u_product
                up_t1 = up_t * u_t1
                s["momentum"] = s["momentum"] + (gr - s["momentum"]) * (1 - b1)
                s["velocity"] = s["velocity"] + (gr ** 2 - s["velocity"]) * (1 - b2)
                m_hat = u_t1 * s["momentum"] / (1 - up_t1) + (1 - u_t) * gr / (1 - up_t)
                v_hat = s["velocity"] / (1 - b2 ** t)
                w = w - m_hat * lr / (np.sqrt(v_hat) + c["epsilon"])
            for k in self.slots:
                self.slots[k][i] = s[k]
            out.append(w)
        self.it += 1
        return out

    GROUPS = {"SGD": [["momentum"]], "RMSprop": [["velocity"], ["momentum"], ["average_gradient"]],
              "Adagrad": [["accumulator"]], "Adadelta": [["accumulated_grad", "accumulated_delta_var"]],
              "Adam": [["momentum", "velocity"], ["velocity_hat"]],
              "AdamW": [["momentum", "velocity"], ["velocity_hat"]],
              "Adamax": [["momentum", "norm"]], "Nadam": [["momentum", "velocity"]]}

    def groups(self):
        """Slot blocks in optimizer.variables order.  Slots created by ONE add_optimizer_variables(vars, [names])
        call are interleaved per variable; separate calls give consecutive blocks."""
        return [[k for k in grp if k in self.slots] for grp in self.GROUPS[self.cls]
                if any(k in self.slots for k in grp)]

    def variables(self):
        """In Keras's optimizer.variables order: iterations, learning_rate (absent with a schedule), then the slot
        blocks of groups() (Nadam: its u_product variable, named 'variable', last)."""
        lr_var = self.c["learning_rate"] if not isinstance(self.c["learning_rate"], dict) else None
        out = [float(self.it)] + ([lr_var] if lr_var is not None else [])
        n = len(next(iter(self.slots.values()))) if self.slots else 0
        for group in self.groups():
            for i in range(n):
                for k in group:
                    out.append(self.slots[k][i])
        if self.cls == "Nadam":
            out.append(self.u_product)
        return out


def replay(case):
    d = g.CASES_DIR / case
    man = json.loads((d / "manifest.json").read_text())
    o = np.load(d / "oracle.npz")
    keras.backend.clear_session(free_memory=False)
    keras.config.set_floatx("float64")
    model = keras.saving.load_model(d / "model.keras")
    x, y = o["x"], o["y"]
    fit = man["fit"]
    n_train = int(math.floor(len(y) * (1 - fit["validation_split"]))) if fit["validation_split"] else len(y)
    B = fit["batch_size"]
    opt = Opt(man["optimizer"], [tuple(v.shape) for v in model.trainable_variables])
    hist = []
    ntw = g.non_trainable_weights(model)
    for _ in range(fit["epochs"]):
        tot = 0.0
        for s in range(0, n_train, B):
            xb, yb = x[s:min(s + B, n_train)], y[s:min(s + B, n_train)]
            loss, grads, ntv_new, _ = g.loss_grads(model, xb, yb)
            tot += loss * len(yb)
            new = opt.step([np.asarray(v.numpy()) for v in model.trainable_variables], grads)
            for v, w in zip(model.trainable_variables, new):
                v.assign(w)
            for v, w in zip(ntw, ntv_new):
                v.assign(w)
        hist.append(tot / n_train)
    dw = max(float(np.max(np.abs(v.numpy() - o[f"fit_{i}"]) / np.maximum(np.abs(o[f"fit_{i}"]), 1e-8)))
             for i, v in enumerate(model.weights))
    mine = opt.variables()
    ko = [o[f"opt_{k}"] for k in range(len([f for f in o.files if f.startswith("opt_")]))]
    if len(mine) != len(ko):
        dopt = f"COUNT {len(mine)} vs keras {len(ko)}"
    else:
        dopt = max(float(np.max(np.abs(np.asarray(a) - b) / np.maximum(np.abs(b), 1e-8))) for a, b in zip(mine, ko))
    dh = float(np.max(np.abs(np.array(hist) - o["hist_loss"])))
    ok = dw < 1e-9 and isinstance(dopt, float) and dopt < 1e-9 and dh < 1e-12
    print(f"{case:32s} weights rel {dw:.1e}  opt vars rel {dopt if isinstance(dopt, str) else f'{dopt:.1e}'}  "
          f"hist_loss abs {dh:.1e}  {'ok' if ok else 'MISMATCH'}")
    return ok


def main():
    names = sys.argv[1:] or [n for n in g.CASES if n.startswith(("opt_", "sched_")) or n in
                             ("fit_partial_batch", "fit_single_batch", "fit_validation_split")]
    bad = [n for n in names if not replay(n)]
    if bad:
        print("MISMATCH:", " ".join(bad))
        sys.exit(1)
    print(f"{len(names)} replays agree")


if __name__ == "__main__":
    main()
