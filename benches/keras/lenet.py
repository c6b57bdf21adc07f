"""The LeNet of ../shared/bench/lenet_train.dml in Keras 3 (JAX backend, float64), for
benches/keras_compare.sh: writes the untrained model and the data for `dml convert`, then times
Keras's own fit (cold: the first epoch, compilation included; warm: later epochs).

    KERAS_BACKEND=jax python lenet.py OUT_DIR [N] [BATCH] [EPOCHS] [DTYPE]
"""
import json
import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "jax")
out_dir = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 1024
batch = int(sys.argv[3]) if len(sys.argv) > 3 else 64
epochs = int(sys.argv[4]) if len(sys.argv) > 4 else 4
dtype = sys.argv[5] if len(sys.argv) > 5 else "float64"

import jax  # noqa: E402

if dtype == "float64":
    jax.config.update("jax_enable_x64", True)
import keras  # noqa: E402
import numpy as np  # noqa: E402

keras.config.set_floatx(dtype)
keras.config.set_dtype_policy(dtype)
keras.utils.set_random_seed(42)

rng = np.random.default_rng(42)
x = rng.random((n, 28, 28, 1))
labels = rng.integers(0, 10, n)
y = np.eye(10)[labels]

L = keras.layers
model = keras.Sequential(
    [
        keras.Input((28, 28, 1)),
        L.Conv2D(32, 5, padding="same", activation="relu"),
        L.MaxPooling2D(2),
        L.Conv2D(64, 5, padding="same", activation="relu"),
        L.MaxPooling2D(2),
        L.Flatten(),
        L.Dense(512, activation="relu"),
        L.Dense(10, activation="softmax"),
    ],
    name="lenet",
)
model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9), loss="categorical_crossentropy",
              metrics=["accuracy"])
os.makedirs(out_dir, exist_ok=True)
model.save(os.path.join(out_dir, "lenet.keras"))
np.savetxt(os.path.join(out_dir, "x.csv"), x.reshape(n, -1), delimiter=",", fmt="%.17g")
np.savetxt(os.path.join(out_dir, "y.csv"), y, delimiter=",", fmt="%.17g")

times = []
losses = []
for e in range(epochs):
    t0 = time.perf_counter()
    h = model.fit(x, y, batch_size=batch, epochs=1, shuffle=False, verbose=0)
    times.append(time.perf_counter() - t0)
    losses.append(float(h.history["loss"][0]))
warm = sorted(times[1:])[len(times[1:]) // 2] if len(times) > 1 else float("nan")
print(json.dumps({"dtype": dtype, "cold": times[0], "warm": warm, "epoch_times": times, "losses": losses}))
