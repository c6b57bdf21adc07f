"""Checks .keras files written by dml's write_keras with real Keras (run by hand; CI has no Python).

    KERAS_IO_WRITE_DIR=/tmp/kio_written cargo test --release --test convert_keras_files write_back
    KERAS_BACKEND=jax /work/venvs/kio/bin/python tests/data/keras_io/check_written.py /tmp/kio_written

With tf.keras 2.15 (the kio-tf215 venv) it checks the tf2_ files instead.

The Rust test keeps each written file and, beside it, FILE.json with the values it wrote (per
layer name path and for the optimizer: shape, dtype, sum, first, last). This script loads each
file with keras.saving.load_model, compares every layer's and the optimizer's variables with
that JSON, and runs one prediction. It exits non-zero if any file fails.
"""

import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("JAX_ENABLE_X64", "1")

import keras  # noqa: E402
import numpy as np  # noqa: E402


def layer_vars(model, prefix=""):
    out = {}
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            out.update(layer_vars(layer, prefix + layer.name + "/"))
        elif layer.weights:
            out[prefix + layer.name] = [v.numpy() for v in layer.weights]
    return out


def same(what, got, want, errors, notes):
    got = np.asarray(got)
    if list(got.shape) != want["shape"]:
        errors.append(f"{what}: shape {list(got.shape)} != {want['shape']}")
        return
    first, last = want["first"], want["last"]
    if str(got.dtype) != want["dtype"]:
        # Keras creates an optimizer's learning_rate with the loading process's floatx, so a
        # float64 value written for a float64 model reads back as float32 in a float32 session.
        if want["dtype"] == "float64" and got.dtype == np.float32 and what.startswith("optimizer"):
            notes.append(f"{what}: float64 written, Keras made the variable float32")
            first, last = float(np.float32(first)), float(np.float32(last))
            want = dict(want, sum=float(np.float32(want["sum"])))
        else:
            errors.append(f"{what}: dtype {got.dtype} != {want['dtype']}")
    f = got.astype(np.float64).ravel()
    if f.size and (f[0] != first or f[-1] != last):
        errors.append(f"{what}: first/last {f[0]}, {f[-1]} != {want['first']}, {want['last']}")
    if abs(f.sum() - want["sum"]) > 1e-6 * (1 + np.abs(f).sum()):
        errors.append(f"{what}: sum {f.sum()} != {want['sum']}")


def check(path):
    with open(path + ".json") as fh:
        want = json.load(fh)
    model = keras.saving.load_model(path)
    errors, notes = [], []
    got = layer_vars(model)
    if sorted(got) != sorted(want["layers"]):
        errors.append(f"layers {sorted(got)} != {sorted(want['layers'])}")
    for name, vals in want["layers"].items():
        for i, (g, w) in enumerate(zip(got.get(name, []), vals)):
            same(f"{name}[{i}]", g, w, errors, notes)
    opt = getattr(model, "optimizer", None)
    opt_vars = [v.numpy() for v in opt.variables] if opt is not None and getattr(opt, "built", True) else []
    if want["optimizer"]:
        if len(opt_vars) != len(want["optimizer"]):
            errors.append(f"optimizer: {len(opt_vars)} variables loaded, {len(want['optimizer'])} written")
        for i, (g, w) in enumerate(zip(opt_vars, want["optimizer"])):
            same(f"optimizer[{i}]", g, w, errors, notes)
    shape = [d or 2 for d in model.inputs[0].shape]
    dtype = model.inputs[0].dtype
    x = np.zeros(shape, dtype="int32") if "int" in str(dtype) else np.ones(shape, dtype=str(dtype))
    y = np.asarray(model.predict(x, verbose=0))
    return errors, notes, y.shape, len(opt_vars)


def skip_reason(name):
    """Files one Keras cannot load whatever their weights: tf.keras 2.15 configs (LSTM's
    `time_major`, module `keras.src.engine.functional`) fail in Keras 3 even as originals, and
    tf.keras 2.15 cannot read Keras 3 configs. Run the script with each venv."""
    tf2 = name.startswith("tf2_")
    if keras.__version__.startswith("2."):
        if not tf2 or name.startswith("tf2_text_h5"):
            return "a Keras 3 config: check with Keras 3"
    elif tf2:
        return "a tf.keras 2.15 config, which Keras 3 cannot load even from the original: check with tf.keras 2.15"
    return None


def main():
    folder = sys.argv[1]
    failed = 0
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".keras"):
            continue
        reason = skip_reason(name)
        if reason:
            print(f"SKIP {name}: {reason}")
            continue
        try:
            errors, notes, out_shape, n_opt = check(os.path.join(folder, name))
        except Exception as e:  # noqa: BLE001
            errors, notes, out_shape, n_opt = [f"load failed: {type(e).__name__}: {e}"[:2000]], [], None, 0
        status = "OK" if not errors else "FAIL"
        failed += bool(errors)
        print(f"{status:4} {name}: prediction shape {out_shape}, optimizer variables {n_opt}")
        for e in errors:
            print("     ", e)
        for n in notes:
            print("      note:", n)
    print(f"{failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
