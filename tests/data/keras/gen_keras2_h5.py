#!/usr/bin/env python3
"""Writes the Keras-2 legacy .h5 fixtures with a REAL Keras 2 (tf.keras 2.15.1).

Run by gen_fixtures.py (not by hand) in a separate venv that has
tensorflow-cpu==2.15.1 (which bundles keras 2.15.0), e.g. /work/venvs/tf2:

    /work/venvs/tf2/bin/python gen_keras2_h5.py CASE INPUT.npz OUTDIR

INPUT.npz holds `x` (float64, the case's inputs). Writes OUTDIR/model.h5
(`model.save(..., save_format="h5")`: Keras 2's HDF5 writer, float32 weights,
randomized) and OUTDIR/tf2_out.npz with `pred` (TensorFlow's float32 predict).
"""

import math
import os
import sys
import zlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

keras = tf.keras
L = keras.layers


def build(name):
    if name == "legacy_h5_keras2_seq":
        m = keras.Sequential([
            L.InputLayer(input_shape=(6, 6, 2)),
            L.Conv2D(3, 3, activation="relu", name="conv"),
            L.BatchNormalization(name="bn"),
            L.MaxPooling2D(2, name="pool"),
            L.Flatten(name="flat"),
            L.Dense(4, activation="relu", name="fc"),
            L.Dense(3, activation="softmax", name="out"),
        ], name="k2seq")
        m.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9), loss="categorical_crossentropy",
                  metrics=["accuracy"])
        return m
    if name in ("legacy_h5_keras2_functional", "legacy_h5_keras2_fixedlen"):
        inp = keras.Input((5, 3), name="seq_in")
        h = L.LSTM(4, return_sequences=True, name="lstm1")(inp)
        h = L.GRU(3, name="gru1")(h)
        d = L.Dense(3, activation="tanh", name="fc")(h)
        c = L.Concatenate(name="cat")([h, d])
        out = L.Dense(3, activation="softmax", name="out")(c)
        m = keras.Model(inp, out, name="k2fun")
        m.compile(optimizer=keras.optimizers.Adam(0.01), loss="categorical_crossentropy", metrics=["accuracy"])
        return m
    raise SystemExit(f"unknown keras2 case {name}")


def randomize(model, rng):
    for v in model.weights:
        shape = tuple(v.shape)
        nm = v.name.split("/")[-1].split(":")[0]
        if nm in ("gamma", "moving_variance"):
            val = rng.uniform(0.5, 1.5, shape)
        elif nm in ("beta", "moving_mean"):
            val = rng.uniform(-0.5, 0.5, shape)
        elif "bias" in nm:
            val = rng.uniform(-0.3, 0.3, shape)
        elif nm == "recurrent_kernel":
            val = rng.uniform(-1, 1, shape) * math.sqrt(3.0 / shape[0]) * 0.9
        elif len(shape) >= 2:
            val = rng.uniform(-1, 1, shape) * math.sqrt(3.0 / int(np.prod(shape[:-1])))
        else:
            val = rng.uniform(-0.5, 0.5, shape)
        v.assign(val.astype(np.float32))


def main():
    name, inp, outdir = sys.argv[1:4]
    seed = zlib.crc32(name.encode()) & 0x7FFFFFFF
    tf.keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed + 1)
    model = build(name)
    randomize(model, rng)
    x = np.load(inp)["x"].astype(np.float32)
    model.save(os.path.join(outdir, "model.h5"), save_format="h5")
    pred = model.predict(x, batch_size=len(x), verbose=0)
    np.savez(os.path.join(outdir, "tf2_out.npz"), pred=pred.astype(np.float64))
    import keras as keras_pkg

    print(f"tf {tf.__version__} keras {keras_pkg.__version__}: wrote {name}")


if __name__ == "__main__":
    main()
