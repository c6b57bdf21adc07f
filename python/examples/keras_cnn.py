"""A Keras CNN trained by dml, next to Keras's own fit (notebook-style: run it, or paste the cells).

    pip install ./python keras jax            # once
    KERAS_BACKEND=jax python python/examples/keras_cnn.py [--epochs 3] [--rows 2048]

1. build a small LeNet-style CNN in Keras (float64) on MNIST-shaped synthetic data;
2. convert it with ``dml.Keras2DML`` *before* Keras trains it, so both start from the same weights;
3. train it with Keras's ``fit`` and with ``Keras2DML.fit`` (same epochs, batch, no shuffling);
4. compare the loss per epoch and the time per epoch;
5. hand the trained model back to Keras (``to_keras()``) and check it predicts what dml predicts.
"""

# %% Setup: Keras on JAX, float64 throughout
import argparse
import os
import time

os.environ.setdefault("KERAS_BACKEND", "jax")

import jax  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402

import dml  # noqa: E402

jax.config.update("jax_enable_x64", True)
keras.config.set_floatx("float64")
# Keras 3 computes some float64 ops in float32 (its own type promotion); keep float64 as float64.
from keras.src.backend.common import dtypes as _kdtypes  # noqa: E402

_kdtypes.BIT64_TO_BIT32_DTYPE["float64"] = "float64"

parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=3)
parser.add_argument("--rows", type=int, default=2048)
parser.add_argument("--batch", type=int, default=64)
args, _ = parser.parse_known_args()

# %% MNIST-shaped synthetic data: 28x28x1 images, 10 classes, each class a brighter band
rng = np.random.default_rng(0)
y = rng.integers(0, 10, size=args.rows)
X = rng.uniform(0, 0.3, size=(args.rows, 28, 28, 1))
for d in range(10):
    X[y == d, 2 * d + 3 : 2 * d + 6, :, 0] += 0.7
X_test, y_test = X[-256:], y[-256:]

# %% The model
keras.utils.set_random_seed(42)
L = keras.layers
model = keras.Sequential(
    [
        keras.Input((28, 28, 1)),
        L.Conv2D(8, 5, padding="same", activation="relu"),
        L.MaxPooling2D(2),
        L.Conv2D(16, 5, padding="same", activation="relu"),
        L.MaxPooling2D(2),
        L.Flatten(),
        L.Dense(64, activation="relu"),
        L.Dense(10, activation="softmax"),
    ],
    name="lenet",
)
model.compile(
    loss="categorical_crossentropy",
    optimizer=keras.optimizers.SGD(learning_rate=0.01, momentum=0.9),
    metrics=["accuracy"],
)

# %% Convert first (the initial weights), then train both
est = dml.Keras2DML(model, batch_size=args.batch, epochs=args.epochs, shuffle=False)
est.summary()


class EpochTimer(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.t = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.perf_counter() - self.t)


timer = EpochTimer()
timer.times = []
t0 = time.perf_counter()
keras_hist = model.fit(
    X, keras.utils.to_categorical(y, 10), epochs=args.epochs, batch_size=args.batch, shuffle=False,
    verbose=0, callbacks=[timer],
).history
keras_total = time.perf_counter() - t0

t0 = time.perf_counter()
est.fit(X, y)  # labels as class ids; prints Keras's progress line per epoch
dml_total = time.perf_counter() - t0

# %% Loss per epoch and time
print(f"\n{'epoch':>5} {'Keras loss':>22} {'dml loss':>22} {'rel. diff':>10} {'Keras s':>8}")
for e in range(args.epochs):
    k, d = keras_hist["loss"][e], est.history_["loss"][e]
    print(f"{e + 1:>5} {k:>22.15f} {d:>22.15f} {abs(k - d) / abs(k):>10.1e} {timer.times[e]:>8.2f}")
print(f"whole fit: Keras {keras_total:.2f} s (first epoch includes XLA compilation), dml {dml_total:.2f} s")
print(f"(dml's own time per epoch is in its progress lines above)")

# %% Back to Keras
back = est.to_keras()
p_dml = est.predict_proba(X_test)
p_keras = back.predict(X_test, verbose=0)
print(f"\nto_keras(): max |Keras - dml| prediction difference {np.max(np.abs(p_dml - p_keras)):.1e}")
print(f"accuracy on the last 256 rows: dml {est.score(X_test, y_test):.3f}, "
      f"Keras-trained {np.mean(np.argmax(model.predict(X_test, verbose=0), axis=1) == y_test):.3f}")
