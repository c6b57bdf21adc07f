"""Makes the tf.keras 2.15 fixtures and expected_tf2.json (see README.md for the venv):

    /work/venvs/kio-tf215/bin/python tests/data/keras_io/make_tf2_files.py

tf.keras 2.15 writes a `.keras` archive in the Keras 3 layout but without `name` attributes, with
a `metrics` group, an extra (empty) `layer` group under Bidirectional, an int64 `iterations` and
no learning_rate variable in `optimizer/vars`, and `compile_config.optimizer` as a plain string;
its `.h5` has `kernel:0` weight names. Expected values come from the model's own variables.
"""

import importlib.metadata
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from tensorflow import keras  # noqa: E402

L = keras.layers
OUT = os.path.dirname(os.path.abspath(__file__))


def path(name):
    return os.path.join(OUT, name)


def exact(x):
    return repr(float(x))


def stats(value):
    a = np.asarray(value)
    f = a.astype(np.float64).ravel()
    return {
        "shape": list(a.shape),
        "dtype": str(a.dtype),
        "sum": exact(f.sum()),
        "abs_sum": exact(np.abs(f).sum()),
        "first": exact(f[0]) if f.size else None,
        "last": exact(f[-1]) if f.size else None,
    }


def main():
    tf.keras.utils.set_random_seed(2)
    rng = np.random.default_rng(2)
    inp = keras.Input((6,), dtype="int32", name="tokens")
    e = L.Embedding(20, 4, name="emb")(inp)
    l1 = L.LSTM(3, return_sequences=True, name="lstm1")(e)
    b = L.Bidirectional(L.LSTM(2), name="bi")(l1)
    x = L.BatchNormalization(name="bn")(b)
    out = L.Dense(2, name="head")(x)
    m = keras.Model(inp, out, name="tf2text")
    m.compile(optimizer="adam", loss="mse")
    m.fit(rng.integers(0, 20, (16, 6)), rng.normal(size=(16, 2)), epochs=2, batch_size=8, verbose=0)
    m.save(path("tf2_text.keras"))
    m.save(path("tf2_text.h5"))
    layers = {layer.name: [stats(v.numpy()) for v in layer.weights] for layer in m.layers if layer.weights}
    optimizer = [stats(v.numpy()) for v in m.optimizer.variables]
    common = {"keras_version": importlib.metadata.version("keras"), "model_class": "Functional", "layers": layers}
    expected = {
        "tf2_text.keras": {"format": "keras3", "optimizer": optimizer, **common},
        # The .h5 holds optimizer_weights too, in the same order.
        "tf2_text.h5": {"format": "legacy_h5", "optimizer": optimizer, **common},
    }
    with open(path("expected_tf2.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")
    for name in ("tf2_text.keras", "tf2_text.h5"):
        print(f"{os.path.getsize(path(name)):8d} {name}")


if __name__ == "__main__":
    main()
