"""The 2-layer LSTM of ../shared/bench/lstm_train.dml in Keras 3 (JAX backend), for
benches/lstm_compare.sh: LSTM(M, return_sequences=True) then LSTM(M) on N sequences of T steps of
D features, loss 0.5 * sum of squared errors / N (nn's l2_loss), plain SGD with rate 0.01, one
full-batch step per iteration. Prints JSON: cold (the first step, compilation included) and warm
(ITERS further steps, as the DML script times them) in seconds.

    KERAS_BACKEND=jax python lstm.py [N] [T] [D] [M] [ITERS] [DTYPE]
"""
import json
import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "jax")
args = sys.argv[1:] + [None] * 6
n, t, d, m, iters = (int(a) if a else dflt for a, dflt in zip(args[:5], (64, 32, 32, 64, 20)))
dtype = args[5] or "float64"

import jax  # noqa: E402

if dtype == "float64":
    jax.config.update("jax_enable_x64", True)
import keras  # noqa: E402
import numpy as np  # noqa: E402

keras.config.set_floatx(dtype)
keras.config.set_dtype_policy(dtype)
keras.utils.set_random_seed(7)

rng = np.random.default_rng(7)
x = rng.uniform(-1, 1, (n, t, d))
y = rng.uniform(-1, 1, (n, m))

L = keras.layers
model = keras.Sequential(
    [keras.Input((t, d)), L.LSTM(m, return_sequences=True), L.LSTM(m)],
    name="lstm2",
)


def l2_loss(y_true, y_pred):
    # per sample; Keras averages over the batch, which gives nn's 0.5 * sum(.) / N
    return 0.5 * keras.ops.sum(keras.ops.square(y_pred - y_true), axis=-1)


model.compile(optimizer=keras.optimizers.SGD(0.01), loss=l2_loss)
t0 = time.perf_counter()
model.fit(x, y, batch_size=n, epochs=1, shuffle=False, verbose=0)
cold = time.perf_counter() - t0
# ITERS full-batch steps in one epoch: the data repeated ITERS times.
xs, ys = np.tile(x, (iters, 1, 1)), np.tile(y, (iters, 1))
t0 = time.perf_counter()
h = model.fit(xs, ys, batch_size=n, epochs=1, shuffle=False, verbose=0)
warm = time.perf_counter() - t0
print(json.dumps({"dtype": dtype, "cold": cold, "warm": warm, "loss": float(h.history["loss"][0])}))
