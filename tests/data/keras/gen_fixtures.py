#!/usr/bin/env python3
"""Keras test oracle for `dml convert keras`.

Builds small Keras 3 models with every variable randomized, and writes per case
(`cases/<case>/`) the model file(s) and Keras's own numbers (inference output,
training-mode loss and per-variable gradients, weights/history/optimizer state
after `fit`).  The Rust tests read the committed outputs; no Python in CI.

Usage (from the repository root):

    KERAS_BACKEND=jax /work/venvs/keras/bin/python tests/data/keras/gen_fixtures.py [--only CASE ...] [--jobs 2]
    KERAS_BACKEND=jax /work/venvs/keras/bin/python tests/data/keras/gen_fixtures.py --list
    KERAS_BACKEND=jax /work/venvs/keras/bin/python tests/data/keras/gen_fixtures.py \
        check-writeback MODEL.keras ORACLE.npz [--key pred] [--rtol 1e-9] [--atol 1e-12]

See README.md beside this file for the file formats and key conventions.
"""

import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")
if os.environ["KERAS_BACKEND"] != "jax":
    sys.exit("gen_fixtures.py needs KERAS_BACKEND=jax")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import argparse  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
import zipfile  # noqa: E402
import zlib  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Callable, Optional  # noqa: E402

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)
# Persistent XLA compilation cache (outside the repository): identical jitted functions (the same architecture's
# predict/grad/train step in many cases, and every rerun) compile once.  It only stores compiled executables.
_JAX_CACHE = os.environ.get("DML_KERAS_JAX_CACHE", "/tmp/dml_keras_fixtures_jax_cache")
if _JAX_CACHE:
    jax.config.update("jax_compilation_cache_dir", _JAX_CACHE)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)

import h5py  # noqa: E402
import numpy as np  # noqa: E402

import keras  # noqa: E402
from keras import layers as L  # noqa: E402
from keras.src.backend.common import dtypes as _kdtypes  # noqa: E402

# Keras 3 on the JAX backend maps float64 -> float32 in its own type promotion
# (keras/src/backend/common/dtypes.py BIT64_TO_BIT32_DTYPE, "aligned with JAX's
# default", ignoring jax_enable_x64).  Any op that promotes through
# backend.result_type (BatchNormalization's `result_type(x.dtype, "float32")`,
# ops mixing a float64 tensor with a Python float, ...) then silently computes in
# float32 inside a float64 model.  The oracle must be float64 throughout, so keep
# float64 as float64.  STOCK_BIT64 restores the stock behaviour (used only to
# report how far stock Keras is from the float64 reference).
STOCK_BIT64 = dict(_kdtypes.BIT64_TO_BIT32_DTYPE)
F64_BIT64 = {**STOCK_BIT64, "float64": "float64"}


def keras_float64_promotion(on=True):
    _kdtypes.BIT64_TO_BIT32_DTYPE.clear()
    _kdtypes.BIT64_TO_BIT32_DTYPE.update(F64_BIT64 if on else STOCK_BIT64)


keras_float64_promotion(True)
from keras import optimizers as O  # noqa: E402

warnings.filterwarnings("ignore")

HERE = Path(__file__).resolve().parent
CASES_DIR = HERE / "cases"
TF2_PYTHON_DEFAULT = "/work/venvs/tf2/bin/python"
KERAS2_HELPER = HERE / "gen_keras2_h5.py"
EXPECTED_KERAS = "3.15.1"


# ----------------------------------------------------------------------------
# Case description
# ----------------------------------------------------------------------------


@dataclass
class Case:
    name: str
    model: Callable[[], keras.Model]  # builds an (uncompiled) model
    data: Callable[[np.random.Generator], dict]  # -> {"x": arr|[arr], "y": arr, ...}
    compile: Optional[dict] = None  # factories: optimizer(), loss(), metrics()
    fit: dict = field(default_factory=lambda: dict(epochs=2, batch_size=4, validation_split=0.0))
    checks: tuple = ("pred", "grad", "fit")
    dtype: str = "float64"
    legacy_h5: bool = False
    callbacks: Optional[Callable[[], tuple]] = None  # -> (list, description)
    randomize: Optional[Callable] = None  # custom randomizer(model, rng)
    notes: str = ""
    keras2: bool = False  # model.h5 written by tf.keras 2 (helper script)
    pretrain: Optional[dict] = None  # fit kwargs run BEFORE saving: the file then holds a trained optimizer state


CASES: dict = {}


def case(name, model, data, **kw):
    assert name not in CASES, name
    CASES[name] = Case(name, model, data, **kw)


def seed_of(name):
    return zlib.crc32(name.encode()) & 0x7FFFFFFF


# ----------------------------------------------------------------------------
# Data helpers
# ----------------------------------------------------------------------------


def classes_cycle(rng, n, k):
    """Labels covering every class (for n >= k), in random order."""
    lab = np.arange(n) % k
    rng.shuffle(lab)
    return lab


def y_of(kind, rng, n, k):
    if kind == "onehot":
        return np.eye(k)[classes_cycle(rng, n, k)]
    if kind == "sparse":
        return classes_cycle(rng, n, k).astype(np.float64).reshape(n, 1)
    if kind == "binary":  # multi-label 0/1 (k columns)
        b = (rng.random((n, k)) < 0.5).astype(np.float64)
        b[0, :] = 1.0
        b[1, :] = 0.0
        return b
    if kind == "reg":
        return rng.uniform(-1.5, 1.5, (n, k))
    if kind == "positive":  # strictly positive (mape)
        return rng.uniform(0.5, 2.0, (n, k))
    if kind == "nonneg":  # msle
        return rng.uniform(0.0, 3.0, (n, k))
    if kind == "pm1":  # hinge labels
        return np.where(rng.random((n, k)) < 0.5, -1.0, 1.0)
    if kind == "dist":  # probability rows (kld)
        return rng.dirichlet(np.ones(k), n)
    if kind == "counts":  # poisson
        return rng.integers(0, 5, (n, k)).astype(np.float64)
    raise ValueError(kind)


def D(xshape, y="onehot", k=3, n=10, scale=1.0, vocab=None, val=0):
    """Data factory: x of shape (n,)+xshape (int ids if vocab), y of kind `y`."""

    def f(rng):
        def mk(m):
            if vocab is not None:
                x = rng.integers(0, vocab, (m,) + tuple(xshape)).astype(np.float64)
            else:
                x = rng.uniform(-scale, scale, (m,) + tuple(xshape))
            return x

        d = {"x": mk(n), "y": y_of(y, rng, n, k)}
        if val:
            d["x_val"] = mk(val)
            d["y_val"] = y_of(y, rng, val, k)
        return d

    return f


def D2(shapes, y="onehot", k=3, n=10, scale=1.0):
    def f(rng):
        return {
            "x": [rng.uniform(-scale, scale, (n,) + tuple(s)) for s in shapes],
            "y": y_of(y, rng, n, k),
        }

    return f


# ----------------------------------------------------------------------------
# Model helpers
# ----------------------------------------------------------------------------


def S(input_shape, layer_fn, dtype=None, name=None):
    """Sequential factory."""

    def f():
        inp = keras.Input(input_shape, dtype=dtype) if dtype else keras.Input(input_shape)
        kw = {"name": name} if name else {}
        return keras.Sequential([inp] + list(layer_fn()), **kw)

    return f


def head(k=3, flat=False):
    return ([L.Flatten()] if flat else []) + [L.Dense(k, activation="softmax")]


def CC(opt=lambda: O.Adam(0.01), loss="categorical_crossentropy", metrics=("accuracy",)):
    """Compile spec from factories (fresh objects per build)."""
    return dict(
        optimizer=opt,
        loss=loss if callable(loss) else (lambda: loss),
        metrics=metrics if callable(metrics) else (lambda: list(metrics)),
    )


CLS = CC()
FIT = dict(epochs=2, batch_size=4, validation_split=0.0)

IMG = (6, 6, 2)
SEQ = (5, 3)

# ---------------------------------------------------------------- dense acts
for act in [
    "relu", "sigmoid", "tanh", "softmax", "linear", "elu", "selu", "gelu",
    "softplus", "softsign", "hard_sigmoid", "swish", "silu", "leaky_relu", "relu6",
]:
    scale = 5.0 if act in ("relu6", "hard_sigmoid") else 1.5
    case(
        f"dense_{act}",
        S((5,), lambda act=act: [L.Dense(4, activation=act)] + head()),
        D((5,), scale=scale),
        compile=CLS,
        notes=f"Dense(4, activation='{act}') -> Dense(3, softmax); CCE + Adam(0.01)."
        + (" Inputs scaled to +-5 so the clipped/saturated regions are hit." if scale > 2 else "")
        + (" 'gelu' as a string is the exact erf form (approximate=False)." if act == "gelu" else "")
        + (" 'leaky_relu' as a string uses negative_slope=0.2 (activations.leaky_relu default)." if act == "leaky_relu" else ""),
    )


@keras.saving.register_keras_serializable(package="dmltest", name="gelu_tanh")
def gelu_tanh(x):
    return keras.activations.gelu(x, approximate=True)


case(
    "dense_gelu_approximate_custom",
    S((5,), lambda: [L.Dense(4, activation=gelu_tanh)] + head()),
    D((5,), scale=1.5),
    compile=CLS,
    notes="gelu(approximate=True) cannot be expressed by a built-in activation string in Keras 3.15.1 "
    "(Dense/Activation only store a name); this model uses a registered custom function "
    "'dmltest>gelu_tanh' = gelu(x, approximate=True). Its config holds a custom-object dict, so a converter "
    "may reject it (error path) or recognise it. Numbers are the tanh-approximate gelu.",
)
case(
    "dense_3d_input",
    S((4, 5), lambda: [L.Dense(3, activation="tanh"), L.Flatten(), L.Dense(3, activation="softmax")]),
    D((4, 5)),
    compile=CLS,
    notes="Dense on (N,T,D): applied to the last axis per time step.",
)
case(
    "dense_no_bias",
    S((5,), lambda: [L.Dense(4, activation="tanh", use_bias=False)] + head()),
    D((5,)),
    compile=CLS,
)
case(
    "dense_l2",
    S((5,), lambda: [L.Dense(4, activation="tanh", kernel_regularizer=keras.regularizers.L2(0.05))] + head()),
    D((5,)),
    compile=CLS,
    notes="kernel_regularizer L2(0.05): penalty 0.05*sum(W^2) added to the batch loss (not divided by N).",
)
case(
    "dense_l1",
    S((5,), lambda: [L.Dense(4, activation="tanh", kernel_regularizer=keras.regularizers.L1(0.02))] + head()),
    D((5,)),
    compile=CLS,
    notes="kernel_regularizer L1(0.02): penalty 0.02*sum|W|.",
)
case(
    "dense_l1l2_bias",
    S((5,), lambda: [
        L.Dense(4, activation="tanh", kernel_regularizer=keras.regularizers.L1L2(l1=0.01, l2=0.03),
                bias_regularizer=keras.regularizers.L2(0.1)),
        L.Dense(3, activation="softmax", kernel_regularizer=keras.regularizers.L2(0.02)),
    ]),
    D((5,)),
    compile=CLS,
    notes="L1L2 kernel regularizer + L2 bias regularizer on the first Dense, L2 on the second.",
)

# ----------------------------------------------------------- activation layers
case(
    "act_relu_params",
    S((5,), lambda: [L.Dense(6), L.ReLU(negative_slope=0.1, threshold=0.2, max_value=1.5)] + head()),
    D((5,), scale=2.0),
    compile=CLS,
    notes="ReLU(negative_slope=0.1, threshold=0.2, max_value=1.5). Keras: x>thr ? min(x,max) : 0, "
    "then minus slope*relu(thr-x), i.e. slope*(x-thr) below the threshold.",
)
case(
    "act_relu_threshold",
    S((5,), lambda: [L.Dense(6), L.ReLU(threshold=0.3)] + head()),
    D((5,), scale=2.0),
    compile=CLS,
    notes="ReLU(threshold=0.3): x if x>0.3 else 0 (no shift).",
)
case(
    "act_relu6_layer",
    S((5,), lambda: [L.Dense(6), L.ReLU(max_value=6.0)] + head()),
    D((5,), scale=8.0),
    compile=CLS,
    notes="ReLU(max_value=6) (relu6). Inputs scaled so some values exceed 6.",
)
case("act_leaky_relu_default", S((5,), lambda: [L.Dense(6), L.LeakyReLU()] + head()), D((5,)), compile=CLS,
     notes="LeakyReLU() layer default negative_slope=0.3 (the function default is 0.2).")
case("act_leaky_relu_custom", S((5,), lambda: [L.Dense(6), L.LeakyReLU(negative_slope=0.05)] + head()), D((5,)),
     compile=CLS)
case("act_prelu", S((5,), lambda: [L.Dense(6), L.PReLU()] + head()), D((5,)), compile=CLS,
     notes="PReLU: alpha shape (6,), randomized in [0.05,0.5]. f = x>=0 ? x : alpha*x.")
case("act_prelu_conv_shared", S(IMG, lambda: [L.Conv2D(3, 3), L.PReLU(shared_axes=[1, 2])] + head(flat=True)),
     D(IMG), compile=CLS, notes="PReLU on 4-D with shared_axes=[1,2]: alpha shape (1,1,3), one per channel.")
case("act_elu_layer", S((5,), lambda: [L.Dense(6), L.ELU(alpha=0.7)] + head()), D((5,)), compile=CLS)
case("act_softmax_layer", S((5,), lambda: [L.Dense(6), L.Softmax()] + head()), D((5,)), compile=CLS)
case("act_activation_layer", S((5,), lambda: [L.Dense(6), L.Activation("tanh")] + head()), D((5,)), compile=CLS)

# ------------------------------------------------------------------------ conv
case("conv1d_valid", S((10, 3), lambda: [L.Conv1D(4, 3, activation="relu")] + head(flat=True)), D((10, 3)),
     compile=CLS)
case("conv1d_same", S((10, 3), lambda: [L.Conv1D(4, 4, padding="same")] + head(flat=True)), D((10, 3)),
     compile=CLS, notes="k=4 s=1 same: pad total 3 -> left 1, right 2.")
case("conv1d_stride2", S((10, 3), lambda: [L.Conv1D(4, 3, strides=2, padding="same")] + head(flat=True)),
     D((10, 3)), compile=CLS, notes="k=3 s=2 same on T=10: out 5, pad total 1 -> left 0, right 1.")
case("conv2d_valid", S(IMG, lambda: [L.Conv2D(3, 3, activation="relu")] + head(flat=True)), D(IMG), compile=CLS)
case("conv2d_same_sym", S(IMG, lambda: [L.Conv2D(3, 3, padding="same")] + head(flat=True)), D(IMG), compile=CLS,
     notes="k=3 s=1 same: symmetric pad 1.")
case("conv2d_same_asym_k3s2", S((8, 8, 2), lambda: [L.Conv2D(3, 3, strides=2, padding="same")] + head(flat=True)),
     D((8, 8, 2)), compile=CLS, notes="k=3 s=2 same on 8x8: out 4x4, pad (top 0, bottom 1), (left 0, right 1).")
case("conv2d_same_asym_k2s1", S(IMG, lambda: [L.Conv2D(3, 2, padding="same")] + head(flat=True)), D(IMG),
     compile=CLS, notes="k=2 s=1 same: pad (0,1) on each spatial axis.")
case("conv2d_strides", S((7, 6, 2), lambda: [L.Conv2D(3, (3, 2), strides=(2, 1))] + head(flat=True)),
     D((7, 6, 2)), compile=CLS, notes="non-square kernel (3,2), strides (2,1), valid, non-square 7x6 input.")
case("conv2d_transpose_valid", S((4, 4, 2), lambda: [L.Conv2DTranspose(3, 3, strides=2)] + head(flat=True)),
     D((4, 4, 2)), compile=CLS, notes="Conv2DTranspose k=3 s=2 valid: 4x4 -> 9x9. kernel (kh,kw,F_out,C_in).")
case("conv2d_transpose_same",
     S((4, 4, 2), lambda: [L.Conv2DTranspose(3, 3, strides=2, padding="same")] + head(flat=True)),
     D((4, 4, 2)), compile=CLS, notes="Conv2DTranspose k=3 s=2 same: 4x4 -> 8x8.")
case("depthwise_conv2d_dm1", S(IMG, lambda: [L.DepthwiseConv2D(3)] + head(flat=True)), D(IMG), compile=CLS)
case("depthwise_conv2d_dm2", S(IMG, lambda: [L.DepthwiseConv2D(3, depth_multiplier=2, padding="same")] + head(flat=True)),
     D(IMG), compile=CLS, notes="depth_multiplier=2: output channel c*2+m.")
case("separable_conv2d", S(IMG, lambda: [L.SeparableConv2D(4, 3, depth_multiplier=2, activation="relu")] + head(flat=True)),
     D(IMG), compile=CLS)
# The same convolutions after a 1x1 conv, so that their input gradient (through the explicit
# uneven 'same' padding, or the transposed convolution's output window) is exercised too.
C1 = lambda: L.Conv2D(2, 1)  # noqa: E731
case("conv2d_same_asym_inner", S((8, 8, 2), lambda: [C1(), L.Conv2D(3, 3, strides=2, padding="same")] + head(flat=True)),
     D((8, 8, 2)), compile=CLS, notes="1x1 conv, then k=3 s=2 same on 8x8 (pad (0,1) per axis): its input gradient.")
case("conv1d_causal", S((8, 3), lambda: [L.Conv1D(2, 1), L.Conv1D(3, 3, padding="causal", activation="tanh")]
                        + head(flat=True)), D((8, 3)), compile=CLS,
     notes="Conv1D padding='causal' (k-1 = 2 steps on the left) after a 1x1 Conv1D.")
case("conv2d_transpose_outpad_same",
     S((4, 4, 2), lambda: [C1(), L.Conv2DTranspose(3, 3, strides=2, padding="same", output_padding=(0, 1))]
       + head(flat=True)), D((4, 4, 2)), compile=CLS,
     notes="Conv2DTranspose k=3 s=2 same, output_padding (0,1): 4x4 -> 7x8.")
case("conv2d_transpose_outpad_valid",
     S((3, 4, 2), lambda: [C1(), L.Conv2DTranspose(2, (2, 3), strides=(3, 2), output_padding=(2, 1))]
       + head(flat=True)), D((3, 4, 2)), compile=CLS,
     notes="Conv2DTranspose valid, kernel (2,3), strides (3,2), output_padding (2,1): 3x4 -> 10x10; output rows and "
     "columns no input reaches (bias only).")
case("conv2d_transpose_k4s2_same",
     S((3, 3, 2), lambda: [C1(), L.Conv2DTranspose(2, 4, strides=2, padding="same", activation="relu")]
       + head(flat=True)), D((3, 3, 2)), compile=CLS, notes="Conv2DTranspose k=4 s=2 same: 3x3 -> 6x6.")
case("depthwise_conv2d_s2_same",
     S((8, 8, 2), lambda: [C1(), L.DepthwiseConv2D(3, strides=2, depth_multiplier=2, padding="same")]
       + head(flat=True)), D((8, 8, 2)), compile=CLS,
     notes="DepthwiseConv2D k=3 s=2 same on 8x8 (pad (0,1)) after a 1x1 conv.")
case("separable_conv2d_same",
     S(IMG, lambda: [C1(), L.SeparableConv2D(3, 2, depth_multiplier=2, padding="same")] + head(flat=True)),
     D(IMG), compile=CLS, notes="SeparableConv2D k=2 same (pad (0,1)) after a 1x1 conv.")

# --------------------------------------------------------------------- pooling
PRE = lambda: L.Conv2D(3, 1)  # noqa: E731  (1x1 conv so the pool's backward is exercised)
PRE1 = lambda: L.Conv1D(3, 1)  # noqa: E731
case("maxpool2d_valid", S((7, 7, 2), lambda: [PRE(), L.MaxPooling2D(2)] + head(flat=True)), D((7, 7, 2)),
     compile=CLS, notes="pool 2 valid on 7x7: floor -> 3x3.")
case("maxpool2d_same", S((7, 7, 2), lambda: [PRE(), L.MaxPooling2D(3, strides=2, padding="same")] + head(flat=True)),
     D((7, 7, 2)), compile=CLS, notes="pool 3 s2 same on 7x7: out 4x4, pad 1 each side.")
case("maxpool2d_same_asym", S((8, 8, 2), lambda: [PRE(), L.MaxPooling2D(3, strides=2, padding="same")] + head(flat=True)),
     D((8, 8, 2)), compile=CLS, notes="pool 3 s2 same on 8x8: out 4x4, pad (0,1) asymmetric.")
case("avgpool2d_valid", S((7, 7, 2), lambda: [PRE(), L.AveragePooling2D(2)] + head(flat=True)), D((7, 7, 2)),
     compile=CLS)
case("avgpool2d_same", S((8, 8, 2), lambda: [PRE(), L.AveragePooling2D(3, strides=2, padding="same")] + head(flat=True)),
     D((8, 8, 2)), compile=CLS, notes="avg pool 3 s2 same on 8x8 (pad (0,1)); Keras divides by the count of real cells.")
case("avgpool2d_same_s1", S((5, 5, 2), lambda: [PRE(), L.AveragePooling2D(3, strides=1, padding="same")] + head(flat=True)),
     D((5, 5, 2)), compile=CLS, notes="avg pool 3 s1 same (pad 1 all sides): border windows have 4 or 6 real cells.")
case("maxpool1d_valid", S((9, 3), lambda: [PRE1(), L.MaxPooling1D(2)] + head(flat=True)), D((9, 3)), compile=CLS)
case("maxpool1d_same", S((9, 3), lambda: [PRE1(), L.MaxPooling1D(3, strides=2, padding="same")] + head(flat=True)),
     D((9, 3)), compile=CLS)
case("avgpool1d_valid", S((9, 3), lambda: [PRE1(), L.AveragePooling1D(2)] + head(flat=True)), D((9, 3)), compile=CLS)
case("avgpool1d_same", S((8, 3), lambda: [PRE1(), L.AveragePooling1D(3, strides=2, padding="same")] + head(flat=True)),
     D((8, 3)), compile=CLS, notes="pad (0,1); divides by real-cell count.")
case("global_avgpool2d", S(IMG, lambda: [PRE(), L.GlobalAveragePooling2D()] + head()), D(IMG), compile=CLS)
case("global_maxpool2d", S(IMG, lambda: [PRE(), L.GlobalMaxPooling2D()] + head()), D(IMG), compile=CLS)
case("global_avgpool1d", S((7, 3), lambda: [PRE1(), L.GlobalAveragePooling1D()] + head()), D((7, 3)), compile=CLS)
case("global_maxpool1d", S((7, 3), lambda: [PRE1(), L.GlobalMaxPooling1D()] + head()), D((7, 3)), compile=CLS)

# ------------------------------------------------------------------- reshaping
case("flatten_after_conv", S((6, 5, 2), lambda: [L.Conv2D(3, 2), L.Flatten(), L.Dense(4, activation="tanh"),
                                                  L.Dense(3, activation="softmax")]),
     D((6, 5, 2)), compile=CLS,
     notes="Conv (5x4x3 out, H!=W, C!=H) -> Flatten (H,W,C order, C fastest) -> Dense: the row permutation.")
case("reshape", S((5,), lambda: [L.Dense(12, activation="tanh"), L.Reshape((3, 4)), L.Dense(2), L.Flatten(),
                                 L.Dense(3, activation="softmax")]),
     D((5,)), compile=CLS, notes="Dense(12) -> Reshape((3,4)) -> Dense on 3-D -> Flatten.")
case("reshape_from_image", S(IMG, lambda: [PRE(), L.Reshape((36, 3)), L.Conv1D(2, 3), L.Flatten(),
                                           L.Dense(3, activation="softmax")]),
     D(IMG), compile=CLS, notes="(6,6,3) -> Reshape((36,3)): row-major keeps channels fastest.")
case("permute_2d", S((4, 5), lambda: [L.Permute((2, 1)), L.Dense(3, activation="tanh"), L.Flatten(),
                                      L.Dense(3, activation="softmax")]),
     D((4, 5)), compile=CLS, notes="Permute((2,1)) on (N,4,5) -> (N,5,4).")
case("permute_4d", S((4, 5, 2), lambda: [PRE(), L.Permute((3, 1, 2))] + head(flat=True)), D((4, 5, 2)),
     compile=CLS, notes="Permute((3,1,2)) on (N,4,5,3) -> (N,3,4,5) (channels first), then Flatten.")
case("repeat_vector", S((5,), lambda: [L.Dense(3, activation="tanh"), L.RepeatVector(4), L.Dense(2), L.Flatten(),
                                       L.Dense(3, activation="softmax")]),
     D((5,)), compile=CLS)
case("zero_padding2d_sym", S(IMG, lambda: [PRE(), L.ZeroPadding2D(1), L.Conv2D(2, 3)] + head(flat=True)), D(IMG),
     compile=CLS)
case("zero_padding2d_asym", S(IMG, lambda: [PRE(), L.ZeroPadding2D(((1, 2), (0, 1))), L.Conv2D(2, 3)] + head(flat=True)),
     D(IMG), compile=CLS, notes="ZeroPadding2D(((top 1, bottom 2), (left 0, right 1))).")
case("cropping2d", S((7, 7, 2), lambda: [PRE(), L.Cropping2D(((1, 0), (2, 1)))] + head(flat=True)), D((7, 7, 2)),
     compile=CLS, notes="Cropping2D(((top 1, bottom 0), (left 2, right 1))).")
case("upsampling2d", S((3, 3, 2), lambda: [PRE(), L.UpSampling2D(2), L.Conv2D(2, 3)] + head(flat=True)),
     D((3, 3, 2)), compile=CLS, notes="UpSampling2D(2), nearest.")
case("upsampling2d_rect", S((3, 2, 2), lambda: [PRE(), L.UpSampling2D((2, 3))] + head(flat=True)),
     D((3, 2, 2)), compile=CLS, notes="UpSampling2D((2,3)), nearest, non-square factors.")
case("upsampling2d_width", S((3, 2, 2), lambda: [PRE(), L.UpSampling2D((1, 2))] + head(flat=True)),
     D((3, 2, 2)), compile=CLS, notes="UpSampling2D((1,2)): the width only.")

# --------------------------------------------------------------------- dropout
case("dropout_rate0", S((5,), lambda: [L.Dense(6, activation="relu"), L.Dropout(0.0)] + head()), D((5,)),
     compile=CLS, notes="Dropout(0.0): identity in training too, so grad/fit are deterministic.")
case("dropout_rate05", S((5,), lambda: [L.Dense(6, activation="relu"), L.Dropout(0.5)] + head()), D((5,)),
     compile=CLS, checks=("pred",), notes="Dropout(0.5): pred only (inference = identity).")
case("spatial_dropout1d", S((6, 3), lambda: [PRE1(), L.SpatialDropout1D(0.3)] + head(flat=True)), D((6, 3)),
     compile=CLS, checks=("pred",), notes="SpatialDropout1D(0.3): pred only.")
case("spatial_dropout2d", S(IMG, lambda: [PRE(), L.SpatialDropout2D(0.3)] + head(flat=True)), D(IMG),
     compile=CLS, checks=("pred",), notes="SpatialDropout2D(0.3): pred only.")
case("gaussian_noise", S((5,), lambda: [L.Dense(6), L.GaussianNoise(0.5)] + head()), D((5,)),
     compile=CLS, checks=("pred",), notes="GaussianNoise(0.5): pred only (identity at inference).")

# --------------------------------------------------------------- normalization
case("bn_dense", S((5,), lambda: [L.Dense(6), L.BatchNormalization(), L.Activation("relu")] + head()), D((5,)),
     compile=CLS, notes="BN 1d after Dense; train mode uses batch stats (biased var); bn_<j> = updated moving stats.")
case("bn_conv", S(IMG, lambda: [L.Conv2D(3, 3), L.BatchNormalization(), L.ReLU()] + head(flat=True)), D(IMG),
     compile=CLS, notes="BN 2d (axis=-1, channels) after Conv2D.")
case("bn_3d", S((4, 5), lambda: [L.Dense(3), L.BatchNormalization(momentum=0.9, epsilon=1e-5)] + head(flat=True)),
     D((4, 5)), compile=CLS, notes="BN on (N,T,D): stats over N and T. momentum 0.9, epsilon 1e-5.")


def _frozen_bn():
    bn = L.BatchNormalization()
    bn.trainable = False
    return bn


case("bn_frozen", S((5,), lambda: [L.Dense(6), _frozen_bn(), L.Activation("tanh")] + head()), D((5,)),
     compile=CLS,
     notes="BatchNormalization with trainable=False: runs in inference mode during fit (moving stats used and not "
     "updated); gamma/beta are non-trainable variables.")
case("bn_no_center", S((5,), lambda: [L.Dense(6), L.BatchNormalization(center=False)] + head()), D((5,)),
     compile=CLS, notes="center=False: no beta variable.")
case("bn_no_scale", S(IMG, lambda: [L.Conv2D(3, 3), L.BatchNormalization(scale=False)] + head(flat=True)), D(IMG),
     compile=CLS, notes="scale=False: no gamma variable.")
case("layer_norm", S((5,), lambda: [L.Dense(6), L.LayerNormalization()] + head()), D((5,)), compile=CLS,
     notes="LayerNormalization(axis=-1, epsilon=1e-3).")
case("layer_norm_3d", S((4, 5), lambda: [L.Dense(3), L.LayerNormalization(epsilon=1e-5)] + head(flat=True)),
     D((4, 5)), compile=CLS, notes="LayerNormalization on (N,T,D) over the last axis.")

# ------------------------------------------------------------------- recurrent
case("embedding_flatten", S((6,), lambda: [L.Embedding(12, 3), L.Flatten(), L.Dense(3, activation="softmax")],
                            dtype="int32"),
     D((6,), vocab=12), compile=CLS, notes="Embedding(12,3) on int32 token ids (0-based; x stored as float64).")
case("embedding_dense3d", S((6,), lambda: [L.Embedding(12, 4), L.Dense(2, activation="tanh"), L.Flatten(),
                                           L.Dense(3, activation="softmax")], dtype="int32"),
     D((6,), vocab=12), compile=CLS)
case("simple_rnn_last", S(SEQ, lambda: [L.SimpleRNN(4)] + head()), D(SEQ), compile=CLS)
case("simple_rnn_seq", S(SEQ, lambda: [L.SimpleRNN(4, return_sequences=True)] + head(flat=True)), D(SEQ), compile=CLS)
case("lstm_last", S(SEQ, lambda: [L.LSTM(4)] + head()), D(SEQ), compile=CLS,
     notes="LSTM gates [i,f,c,o] in kernel columns.")
case("lstm_seq", S(SEQ, lambda: [L.LSTM(4, return_sequences=True)] + head(flat=True)), D(SEQ), compile=CLS)
case("lstm_stacked", S(SEQ, lambda: [L.LSTM(4, return_sequences=True), L.LSTM(3)] + head()), D(SEQ), compile=CLS)
case("gru_reset_after", S(SEQ, lambda: [L.GRU(4)] + head()), D(SEQ), compile=CLS,
     notes="GRU reset_after=True (default): bias (2, 3M), gates [z,r,h].")
case("gru_reset_before", S(SEQ, lambda: [L.GRU(4, reset_after=False)] + head()), D(SEQ), compile=CLS,
     notes="GRU reset_after=False: bias (3M,).")
case("gru_seq", S(SEQ, lambda: [L.GRU(4, return_sequences=True)] + head(flat=True)), D(SEQ), compile=CLS)
case("bidirectional_lstm_concat", S(SEQ, lambda: [L.Bidirectional(L.LSTM(3))] + head()), D(SEQ), compile=CLS,
     notes="Bidirectional(LSTM(3), merge_mode='concat'): forward then backward variables.")
case("bidirectional_lstm_sum", S(SEQ, lambda: [L.Bidirectional(L.LSTM(3, return_sequences=True), merge_mode="sum")]
                                  + head(flat=True)),
     D(SEQ), compile=CLS, notes="merge_mode='sum', return_sequences=True (backward outputs re-reversed in time).")
case("bidirectional_gru", S(SEQ, lambda: [L.Bidirectional(L.GRU(3))] + head()), D(SEQ), compile=CLS)
case("time_distributed_dense", S(SEQ, lambda: [L.TimeDistributed(L.Dense(4, activation="tanh"))] + head(flat=True)),
     D(SEQ), compile=CLS)
case("time_distributed_conv2d", S((3, 5, 5, 2), lambda: [L.TimeDistributed(L.Conv2D(2, 3))] + head(flat=True)),
     D((3, 5, 5, 2)), compile=CLS, notes="TimeDistributed(Conv2D(2,3)) on (N,3,5,5,2).")
case("rnn_go_backwards_nobias", S(SEQ, lambda: [
    L.LSTM(4, go_backwards=True, return_sequences=True, use_bias=False),
    L.GRU(3, reset_after=False, go_backwards=True, use_bias=False, return_sequences=True),
    L.SimpleRNN(3, activation="sigmoid", go_backwards=True)] + head()), D(SEQ), compile=CLS,
     notes="go_backwards on LSTM, GRU (reset_after=False) and SimpleRNN(sigmoid), stacked: each reads its input "
     "last step first and returns its sequence in that processing order; LSTM and GRU without bias.")
case("simple_rnn_relu_linear", S(SEQ, lambda: [
    L.SimpleRNN(4, activation="relu", return_sequences=True),
    L.SimpleRNN(3, activation="linear", use_bias=False)] + head()), D(SEQ), compile=CLS,
     notes="SimpleRNN with relu, then linear without bias.")
case("bidirectional_stack_merges", S(SEQ, lambda: [
    L.Bidirectional(L.GRU(3, return_sequences=True), merge_mode="mul"),
    L.Bidirectional(L.SimpleRNN(2, return_sequences=True), merge_mode="ave"),
    L.Bidirectional(L.LSTM(2))] + head()), D(SEQ), compile=CLS,
     notes="Bidirectional merge modes mul (GRU), ave (SimpleRNN), concat (LSTM), stacked: gradients flow through "
     "both directions of each.")


def _frozen(layer):
    layer.trainable = False
    return layer


case("rnn_frozen", S((6,), lambda: [
    L.Embedding(15, 4), _frozen(L.Bidirectional(L.LSTM(3, return_sequences=True))), L.GRU(3, use_bias=False)]
    + head(), dtype="int32"), D((6,), vocab=15), compile=CLS,
     notes="A Bidirectional frozen with the trainable setter (which freezes the wrapped layers; the constructor "
     "argument trainable=False would not) between a trained Embedding and a GRU: gradients pass through it.")
case("time_distributed_lstm_reg", S((2, 5, 3), lambda: [
    L.TimeDistributed(L.LSTM(3, kernel_regularizer=keras.regularizers.L2(0.05),
                             recurrent_regularizer=keras.regularizers.L1(0.02),
                             bias_regularizer=keras.regularizers.L2(0.03)))] + head(flat=True)),
     D((2, 5, 3)), compile=CLS, notes="TimeDistributed(LSTM) over (N,2,5,3), the LSTM with L2/L1/L2 regularizers.")
case("lstm_time_distributed_dense", S(SEQ, lambda: [
    L.LSTM(4, return_sequences=True), L.TimeDistributed(L.Dense(2, activation="relu"))] + head(flat=True)),
     D(SEQ), compile=CLS, notes="TimeDistributed(Dense) after an LSTM: its input gradient feeds the LSTM.")


# ------------------------------------------------------------------ functional
def F_merge(kind):
    def f():
        inp = keras.Input((5,))
        a = L.Dense(4, activation="tanh", name="branch_a")(inp)
        b = L.Dense(4, activation="sigmoid", name="branch_b")(inp)
        m = {"add": L.Add, "multiply": L.Multiply, "average": L.Average, "subtract": L.Subtract,
             "maximum": L.Maximum, "minimum": L.Minimum}[kind]()([a, b])
        out = L.Dense(3, activation="softmax", name="out")(m)
        return keras.Model(inp, out, name=f"merge_{kind}")

    return f


for kind in ["add", "multiply", "average", "subtract", "maximum", "minimum"]:
    case(f"merge_{kind}", F_merge(kind), D((5,)), compile=CLS, notes=f"Functional {kind} of two Dense branches (fan-out of the input).")


def F_concat_channels():
    inp = keras.Input(IMG)
    a = L.Conv2D(2, 3, padding="same", name="conv_a")(inp)
    b = L.Conv2D(3, 1, name="conv_b")(inp)
    c = L.Concatenate(axis=-1)([a, b])
    x = L.Flatten()(c)
    return keras.Model(inp, L.Dense(3, activation="softmax")(x), name="concat_channels")


def F_concat_features():
    inp = keras.Input((5,))
    a = L.Dense(4, activation="relu")(inp)
    b = L.Dense(2, activation="tanh")(inp)
    c = L.Concatenate()([a, b, inp])
    return keras.Model(inp, L.Dense(3, activation="softmax")(c), name="concat_features")


def F_fanout():
    inp = keras.Input((5,))
    h = L.Dense(6, activation="tanh", name="shared_h")(inp)
    a = L.Dense(4, activation="relu")(h)
    b = L.Dense(4)(h)
    c = L.Dense(4)(h)
    s = L.Add()([a, b, c])
    return keras.Model(inp, L.Dense(3, activation="softmax")(s), name="fanout")


def F_two_inputs():
    i1 = keras.Input((5,), name="in_a")
    i2 = keras.Input((3,), name="in_b")
    a = L.Dense(4, activation="tanh")(i1)
    b = L.Dense(4, activation="relu")(i2)
    c = L.Concatenate()([a, b])
    return keras.Model([i1, i2], L.Dense(3, activation="softmax")(c), name="two_inputs")


def F_nested_sequential():
    block = keras.Sequential([L.Dense(6, activation="tanh"), L.Dense(4, activation="relu")], name="block")
    inp = keras.Input((5,))
    h = L.Dense(5, activation="tanh")(inp)
    h = block(h)
    return keras.Model(inp, L.Dense(3, activation="softmax")(h), name="nested")


def F_frozen_dense():
    inp = keras.Input((5,))
    fr = L.Dense(6, activation="tanh", name="frozen")
    fr.trainable = False
    h = fr(inp)
    h = L.Dense(4, activation="relu")(h)
    return keras.Model(inp, L.Dense(3, activation="softmax")(h), name="frozen_dense")


def F_shared_layer():
    i1 = keras.Input((5,), name="in_a")
    i2 = keras.Input((5,), name="in_b")
    sh = L.Dense(4, activation="tanh", name="shared")
    c = L.Concatenate()([sh(i1), sh(i2)])
    return keras.Model([i1, i2], L.Dense(3, activation="softmax")(c), name="shared_layer")


case("merge_concat_channels", F_concat_channels, D(IMG), compile=CLS,
     notes="Concatenate(axis=-1) of two conv branches on 4-D (channel concat).")
case("merge_concat_features", F_concat_features, D((5,)), compile=CLS,
     notes="Concatenate of two Dense branches and the raw input on 2-D.")
case("fanout", F_fanout, D((5,)), compile=CLS, notes="One Dense output consumed by three branches, re-joined by Add.")
case("two_inputs", F_two_inputs, D2([(5,), (3,)]), compile=CLS, notes="Two inputs x0 (5,) and x1 (3,).")
case("nested_sequential", F_nested_sequential, D((5,)), compile=CLS,
     notes="A Sequential block (name 'block') used as a layer inside a Functional model.")
case("frozen_dense", F_frozen_dense, D((5,)), compile=CLS,
     notes="Dense with trainable=False: its kernel/bias are non-trainable, unchanged by fit.")
case("shared_layer", F_shared_layer, D2([(5,), (5,)]), compile=CLS,
     notes="One Dense applied to two inputs (two inbound nodes; gradient sums both uses).")

# ---------------------------------------------------------------------- losses
LOSS_NET = lambda k, act: S((6,), lambda: [L.Dense(8, activation="tanh"), L.Dense(k, activation=act)])  # noqa: E731
LFIT = dict(epochs=2, batch_size=5, validation_split=0.0)
LC = keras.losses


def loss_case(name, k, act, y, loss, metrics=(), opt=lambda: O.Adam(0.01), notes="", scale=1.0):
    case(name, LOSS_NET(k, act), D((6,), y=y, k=k, n=12, scale=scale),
         compile=CC(opt=opt, loss=loss, metrics=metrics), fit=dict(LFIT), notes=notes)


loss_case("loss_cce", 4, "softmax", "onehot", "categorical_crossentropy",
          metrics=("accuracy", "categorical_accuracy", lambda: keras.metrics.TopKCategoricalAccuracy(k=2)),
          notes="CCE on softmax probabilities; metrics accuracy (-> categorical), categorical_accuracy, top-2.")
loss_case("loss_cce_logits", 4, "linear", "onehot", lambda: LC.CategoricalCrossentropy(from_logits=True),
          metrics=("categorical_accuracy",), opt=lambda: O.SGD(0.1))
loss_case("loss_cce_label_smoothing", 4, "softmax", "onehot", lambda: LC.CategoricalCrossentropy(label_smoothing=0.1),
          metrics=("accuracy",), notes="label_smoothing=0.1: y = y*(1-0.1) + 0.1/K.")
loss_case("loss_scce", 4, "softmax", "sparse", "sparse_categorical_crossentropy",
          metrics=("accuracy", "sparse_categorical_accuracy", lambda: keras.metrics.SparseTopKCategoricalAccuracy(k=2)),
          notes="y: 0-based class ids, shape (N,1), float64. 'accuracy' resolves to sparse_categorical_accuracy.")
loss_case("loss_scce_logits", 4, "linear", "sparse", lambda: LC.SparseCategoricalCrossentropy(from_logits=True),
          metrics=("sparse_categorical_accuracy",), opt=lambda: O.SGD(0.1))
loss_case("loss_bce", 3, "sigmoid", "binary", "binary_crossentropy", metrics=("accuracy", "binary_accuracy"),
          notes="Multi-label BCE with 3 sigmoid outputs. NOTE: 'accuracy' resolves by shape only, so with 3 outputs it is "
          "CategoricalAccuracy (argmax), not binary accuracy; 'binary_accuracy' is the thresholded one.")
loss_case("loss_bce_single", 1, "sigmoid", "binary", "binary_crossentropy", metrics=("accuracy",),
          notes="One sigmoid output: 'accuracy' resolves to BinaryAccuracy (threshold 0.5).")
loss_case("loss_bce_logits", 3, "linear", "binary", lambda: LC.BinaryCrossentropy(from_logits=True),
          metrics=("binary_accuracy",), opt=lambda: O.SGD(0.1),
          notes="binary_accuracy on logits still thresholds at 0.5 (it does not know about from_logits).")
loss_case("loss_bce_label_smoothing", 3, "sigmoid", "binary", lambda: LC.BinaryCrossentropy(label_smoothing=0.2),
          metrics=("binary_accuracy",), notes="label_smoothing=0.2: y = y*(1-0.2) + 0.5*0.2.")
loss_case("loss_mse", 2, "linear", "reg", "mse", metrics=("mae",), opt=lambda: O.SGD(0.05),
          notes="metrics 'mae' -> MeanAbsoluteError, history key 'mae'.")
loss_case("loss_mae", 2, "linear", "reg", "mae", opt=lambda: O.SGD(0.05))
loss_case("loss_mape", 2, "linear", "positive", "mape", opt=lambda: O.SGD(0.01),
          notes="MAPE = 100*mean(|y-p|/max(|y|,eps)); y in [0.5,2].")
loss_case("loss_msle", 2, "softplus", "nonneg", "msle",
          notes="MSLE = mean((log(max(p,eps)+1) - log(max(y,eps)+1))^2); softplus output so p > 0.")
loss_case("loss_huber", 2, "linear", "reg", lambda: LC.Huber(), opt=lambda: O.SGD(0.05), scale=2.0,
          notes="Huber() (delta=1.0); errors both below and above delta. Keras 3.15.1's Huber.get_config drops "
          "`delta`: a Huber(delta=0.7) saved in a .keras file reloads as delta=1.0, so only the default survives a "
          "file (an in-memory 0.7 model's loss/grad would disagree with its own reloaded fit).")
loss_case("loss_log_cosh", 2, "linear", "reg", "log_cosh", opt=lambda: O.SGD(0.05))
loss_case("loss_hinge", 3, "linear", "pm1", "hinge", opt=lambda: O.SGD(0.05),
          notes="y in {-1,+1} (Keras also maps {0,1} -> {-1,1}).")
loss_case("loss_squared_hinge", 3, "linear", "pm1", "squared_hinge", opt=lambda: O.SGD(0.05))
loss_case("loss_kl_divergence", 4, "softmax", "dist", "kl_divergence",
          notes="y rows are probability distributions; KLD clips both to [eps,1].")
loss_case("loss_poisson", 2, "softplus", "counts", "poisson",
          notes="Poisson = mean(p - y*log(p+eps)); y counts 0..4.")
loss_case("metrics_topk", 5, "softmax", "onehot", "categorical_crossentropy",
          metrics=(lambda: keras.metrics.TopKCategoricalAccuracy(k=2, name="top2"),
                   lambda: keras.metrics.TopKCategoricalAccuracy(k=3)),
          notes="TopKCategoricalAccuracy k=2 (named 'top2') and k=3 (default name) with 5 classes.")
loss_case("metrics_sparse_topk", 5, "softmax", "sparse", "sparse_categorical_crossentropy",
          metrics=(lambda: keras.metrics.SparseTopKCategoricalAccuracy(k=2), "sparse_categorical_accuracy"))

# ------------------------------------------------------------------ optimizers
OPT_NET = S((5,), lambda: [L.Dense(6, activation="tanh"), L.Dense(3, activation="softmax")])
OFIT = dict(epochs=2, batch_size=4, validation_split=0.0)


def opt_case(name, opt, notes="", model=OPT_NET, data=D((5,))):
    case(name, model, data, compile=CC(opt=opt), fit=dict(OFIT),
         notes=(notes + " " if notes else "") + "2 epochs x 3 batches (4,4,2).")


opt_case("opt_sgd", lambda: O.SGD(0.1))
opt_case("opt_sgd_momentum", lambda: O.SGD(0.1, momentum=0.9))
opt_case("opt_sgd_nesterov", lambda: O.SGD(0.1, momentum=0.9, nesterov=True))
opt_case("opt_rmsprop", lambda: O.RMSprop(0.01))
opt_case("opt_rmsprop_centered", lambda: O.RMSprop(0.01, centered=True))
opt_case("opt_rmsprop_momentum", lambda: O.RMSprop(0.01, momentum=0.5))
opt_case("opt_adagrad", lambda: O.Adagrad(0.1), notes="accumulator starts at initial_accumulator_value=0.1.")
opt_case("opt_adadelta", lambda: O.Adadelta(1.0, rho=0.9))
opt_case("opt_adam", lambda: O.Adam(0.01))
opt_case("opt_adam_amsgrad", lambda: O.Adam(0.01, amsgrad=True))
opt_case("opt_adamax", lambda: O.Adamax(0.02))
opt_case("opt_nadam", lambda: O.Nadam(0.01))
opt_case("opt_adamw", lambda: O.AdamW(0.01, weight_decay=0.1))
opt_case("opt_adam_clipnorm", lambda: O.Adam(0.01, clipnorm=0.1), notes="clipnorm=0.1 per variable (active).")
opt_case("opt_sgd_clipvalue", lambda: O.SGD(0.1, momentum=0.9, clipvalue=0.05), notes="clipvalue=0.05 (active).")
opt_case("opt_rmsprop_global_clipnorm", lambda: O.RMSprop(0.01, global_clipnorm=0.2),
         notes="global_clipnorm=0.2 over all gradients (active).")
opt_case("opt_sgd_weight_decay", lambda: O.SGD(0.1, momentum=0.5, weight_decay=0.05),
         notes="weight_decay=0.05 decoupled: w -= lr*wd*w before the step, on every trainable variable.")
opt_case("opt_adam_weight_decay", lambda: O.Adam(0.01, weight_decay=0.05))
opt_case("opt_adam_conv", lambda: O.Adam(0.01),
         model=S(IMG, lambda: [L.Conv2D(3, 3, activation="relu"), L.BatchNormalization(), L.Flatten(),
                               L.Dense(3, activation="softmax")]),
         data=D(IMG), notes="Adam on a Conv+BN model (BN moving stats updated per step).")

# ------------------------------------------------------------------- schedules
SCH = keras.optimizers.schedules


def sched_case(name, sched, notes="", opt=O.SGD):
    opt_case(name, lambda: opt(learning_rate=sched()),
             notes=(notes + " " if notes else "") + "Schedules count optimizer iterations (0-based at the first step).")


sched_case("sched_exponential", lambda: SCH.ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5))
sched_case("sched_exponential_staircase", lambda: SCH.ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5, staircase=True))
sched_case("sched_exponential_adam", lambda: SCH.ExponentialDecay(0.02, decay_steps=3, decay_rate=0.7), opt=O.Adam)
sched_case("sched_piecewise", lambda: SCH.PiecewiseConstantDecay(boundaries=[2, 4], values=[0.1, 0.05, 0.01]),
           notes="lr = 0.1 for step<=2, 0.05 for 2<step<=4, 0.01 after.")
sched_case("sched_inverse_time", lambda: SCH.InverseTimeDecay(0.1, decay_steps=2, decay_rate=0.5))
sched_case("sched_inverse_time_staircase", lambda: SCH.InverseTimeDecay(0.1, decay_steps=2, decay_rate=0.5, staircase=True))
sched_case("sched_polynomial", lambda: SCH.PolynomialDecay(0.1, decay_steps=4, end_learning_rate=0.01, power=2.0),
           notes="decay_steps=4 < 6 iterations: clamps at end_learning_rate.")
sched_case("sched_polynomial_cycle", lambda: SCH.PolynomialDecay(0.1, decay_steps=2, end_learning_rate=0.01, power=1.0,
                                                                  cycle=True))
sched_case("sched_cosine", lambda: SCH.CosineDecay(0.1, decay_steps=5, alpha=0.1))
sched_case("sched_cosine_warmup", lambda: SCH.CosineDecay(0.05, decay_steps=4, alpha=0.0, warmup_target=0.1,
                                                          warmup_steps=2),
           notes="Linear warmup 0.05 -> 0.1 over 2 steps, then cosine decay over 4 steps.")
sched_case("sched_cosine_restarts", lambda: SCH.CosineDecayRestarts(0.1, first_decay_steps=2, t_mul=2.0, m_mul=0.5,
                                                                    alpha=0.1))


# ----------------------------------------------------------------- fit features
def es_callbacks():
    cb = keras.callbacks.EarlyStopping(monitor="val_loss", patience=1, restore_best_weights=True)
    return [cb], [{"class_name": "EarlyStopping", "config": {
        "monitor": "val_loss", "patience": 1, "restore_best_weights": True, "min_delta": 0, "mode": "auto",
        "baseline": None, "start_from_epoch": 0}}]


def rlr_callbacks():
    cb = keras.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, min_delta=10.0, min_lr=0.005)
    return [cb], [{"class_name": "ReduceLROnPlateau", "config": {
        "monitor": "loss", "factor": 0.5, "patience": 1, "min_delta": 10.0, "min_lr": 0.005, "cooldown": 0,
        "mode": "auto"}}]


def es_no_stop_callbacks():
    cb = keras.callbacks.EarlyStopping(monitor="val_loss", patience=10, restore_best_weights=True)
    return [cb], [{"class_name": "EarlyStopping", "config": {
        "monitor": "val_loss", "patience": 10, "restore_best_weights": True, "min_delta": 0, "mode": "auto",
        "baseline": None, "start_from_epoch": 0}}]


def es_max_callbacks():
    cfg = dict(monitor="accuracy", patience=1, min_delta=0.05, baseline=0.6, start_from_epoch=1,
               restore_best_weights=True, mode="auto")
    return [keras.callbacks.EarlyStopping(**cfg)], [{"class_name": "EarlyStopping", "config": cfg}]


def rlr_cooldown_callbacks():
    cfg = dict(monitor="val_loss", factor=0.5, patience=1, min_delta=0.0, cooldown=1, min_lr=0.02, mode="auto")
    return [keras.callbacks.ReduceLROnPlateau(**cfg)], [{"class_name": "ReduceLROnPlateau", "config": cfg}]


def es_data(rng):
    # training labels a function of x; validation labels the opposite rule, so val_loss rises once
    # training starts to fit (stops early).
    n, nv = 12, 6
    x = rng.uniform(-1, 1, (n, 5))
    xv = rng.uniform(-1, 1, (nv, 5))
    lab = lambda a: (a[:, 0] + a[:, 1] > 0).astype(int) + (a[:, 2] > 0.3).astype(int)  # noqa: E731
    y = np.eye(3)[lab(x)]
    yv = np.eye(3)[2 - lab(xv)]
    return {"x": x, "y": y, "x_val": xv, "y_val": yv}


case("fit_validation_split", OPT_NET, D((5,), n=12), compile=CC(metrics=("accuracy",)),
     fit=dict(epochs=3, batch_size=4, validation_split=0.25),
     notes="validation_split=0.25 on 12 rows: the LAST 3 rows validate (split_at=floor(12*0.75)=9), the first 9 train "
     "in batches (4,4,1). val_* computed in inference mode at epoch end.")
case("fit_validation_data", OPT_NET, D((5,), n=10, val=6), compile=CC(metrics=("accuracy",)),
     fit=dict(epochs=3, batch_size=4, validation_split=0.0, validation_data=True),
     notes="validation_data=(x_val, y_val) given explicitly (npz keys x_val, y_val).")
case("fit_partial_batch", OPT_NET, D((5,), n=11), compile=CC(opt=lambda: O.SGD(0.1, momentum=0.9)),
     fit=dict(epochs=2, batch_size=4, validation_split=0.0),
     notes="11 rows, batch 4: batches (4,4,3); loss averaged per batch, epoch loss = batch-size weighted mean.")
case("fit_single_batch", OPT_NET, D((5,), n=10), compile=CC(opt=lambda: O.SGD(0.1)),
     fit=dict(epochs=3, batch_size=32, validation_split=0.0),
     notes="batch_size 32 > N=10: one batch per epoch; fit weights after step 1 = w - lr*grad (grad_ keys).")
case("fit_early_stopping", OPT_NET, es_data, compile=CC(opt=lambda: O.Adam(0.05), metrics=("accuracy",)),
     fit=dict(epochs=20, batch_size=4, validation_split=0.0, validation_data=True),
     callbacks=es_callbacks,
     notes="EarlyStopping(monitor='val_loss', patience=1, restore_best_weights=True); validation labels follow the "
     "opposite rule so val_loss rises and training stops early. fit_* are the RESTORED best weights (Keras 3 "
     "restores at on_train_end); opt_* is the optimizer state at the stop (not restored). fit.epochs_run in manifest.")
case("fit_reduce_lr", OPT_NET, D((5,), n=10), compile=CC(opt=lambda: O.SGD(0.1, momentum=0.5)),
     fit=dict(epochs=4, batch_size=4, validation_split=0.0), callbacks=rlr_callbacks,
     notes="ReduceLROnPlateau(monitor='loss', factor=0.5, patience=1, min_delta=10, min_lr=0.005): with min_delta=10 only "
     "the first epoch counts as an improvement, so the lr halves at the end of epochs 2,3,4 (0.1->0.05->0.025->0.0125). "
     "hist_learning_rate is logged BEFORE that epoch's reduction.")

case("fit_early_stopping_no_stop", OPT_NET, es_data, compile=CC(opt=lambda: O.Adam(0.05), metrics=("accuracy",)),
     fit=dict(epochs=4, batch_size=4, validation_split=0.0, validation_data=True),
     callbacks=es_no_stop_callbacks,
     notes="EarlyStopping(monitor='val_loss', patience=10, restore_best_weights=True) that never stops in 4 epochs: "
     "Keras 3 still restores the best epoch's weights at the end of training (fit_* are those, opt_* the state "
     "after epoch 4).")
case("fit_early_stopping_max", OPT_NET, D((5,), n=12), compile=CC(opt=lambda: O.Adam(0.05), metrics=("accuracy",)),
     fit=dict(epochs=8, batch_size=4, validation_split=0.0), callbacks=es_max_callbacks,
     notes="EarlyStopping(monitor='accuracy', mode='auto' -> max, min_delta=0.05, baseline=0.6, start_from_epoch=1, "
     "patience=1, restore_best_weights=True): epoch 0 unmonitored; an improvement resets the wait only when it "
     "also beats the baseline.")
case("fit_reduce_lr_cooldown", OPT_NET, es_data, compile=CC(opt=lambda: O.SGD(0.1, momentum=0.5)),
     fit=dict(epochs=7, batch_size=4, validation_split=0.0, validation_data=True),
     callbacks=rlr_cooldown_callbacks,
     notes="ReduceLROnPlateau(monitor='val_loss', factor=0.5, patience=1, cooldown=1, min_lr=0.02, min_delta=0) with a "
     "rising val_loss: reductions 0.1 -> 0.05 -> 0.025 -> 0.02 with a cooldown epoch after each; at 0.02 Keras "
     "still 'reduces' (lr > float32(min_lr)), which restarts the cooldown.")

for _name, _opt, _what in [
        ("rmsprop", lambda: O.RMSprop(0.01, momentum=0.5, centered=True),
         "RMSprop(momentum=0.5, centered=True): slot blocks velocities, momentums, average gradients"),
        ("amsgrad", lambda: O.Adam(0.01, amsgrad=True), "Adam(amsgrad=True): m,v interleaved, then velocity_hat"),
        ("nadam", lambda: O.Nadam(0.01), "Nadam: m,v interleaved, then u_product ('variable')")]:
    case(f"fit_saved_optimizer_{_name}", OPT_NET, D((5,), n=10), compile=CC(opt=_opt),
         fit=dict(epochs=2, batch_size=4, validation_split=0.0), pretrain=dict(epochs=1, batch_size=4),
         notes=f"Trained for one epoch (3 steps) BEFORE saving, so model.keras holds the weights and the optimizer "
         f"state after it ({_what}); pred/grad/fit start from there and fit continues that state.")

# ---------------------------------------------------------------- whole models
case("lenet", S((28, 28, 1), lambda: [
    L.Conv2D(4, 5, activation="relu"), L.MaxPooling2D(2),
    L.Conv2D(6, 5, activation="relu"), L.MaxPooling2D(2),
    L.Flatten(), L.Dense(16, activation="relu"), L.Dense(10, activation="softmax")], name="lenet"),
    D((28, 28, 1), k=10, n=8), compile=CC(opt=lambda: O.SGD(0.05, momentum=0.9), metrics=("accuracy",)),
    fit=dict(epochs=2, batch_size=3, validation_split=0.25),
    notes="LeNet-style CNN, 28x28x1, 8 rows (6 train in batches 3,3; last 2 validate).")


def F_resnet():
    def block(x, f, name):
        y = L.Conv2D(f, 3, padding="same", name=f"{name}_c1")(x)
        y = L.BatchNormalization(name=f"{name}_bn1")(y)
        y = L.ReLU(name=f"{name}_r1")(y)
        y = L.Conv2D(f, 3, padding="same", name=f"{name}_c2")(y)
        y = L.BatchNormalization(name=f"{name}_bn2")(y)
        y = L.Add(name=f"{name}_add")([x, y])
        return L.ReLU(name=f"{name}_out")(y)

    inp = keras.Input((8, 8, 3))
    x = L.Conv2D(4, 3, padding="same", name="stem")(inp)
    x = L.BatchNormalization(name="stem_bn")(x)
    x = L.ReLU(name="stem_relu")(x)
    x = block(x, 4, "b1")
    x = block(x, 4, "b2")
    x = L.GlobalAveragePooling2D()(x)
    return keras.Model(inp, L.Dense(3, activation="softmax")(x), name="resnet_block")


case("resnet_block", F_resnet, D((8, 8, 3), n=8), compile=CC(opt=lambda: O.SGD(0.05, momentum=0.9)),
     fit=dict(epochs=2, batch_size=4, validation_split=0.0),
     notes="Functional ResNet-style: stem conv-BN-relu, two residual blocks (conv-BN-relu-conv-BN + skip, relu), GAP, Dense.")
case("text_lstm", S((7,), lambda: [L.Embedding(20, 4), L.LSTM(5), L.Dense(3, activation="softmax")], dtype="int32",
                    name="text_lstm"),
     D((7,), vocab=20, n=10), compile=CC(opt=lambda: O.Adam(0.02), metrics=("accuracy",)))
case("text_gru", S((7,), lambda: [L.Embedding(20, 4), L.GRU(5), L.Dense(3, activation="softmax")], dtype="int32",
                   name="text_gru"),
     D((7,), vocab=20, n=10), compile=CC(opt=lambda: O.RMSprop(0.01), metrics=("accuracy",)))
case("mlp_bn_dropout", S((6,), lambda: [
    L.Dense(8), L.BatchNormalization(), L.Activation("relu"), L.Dropout(0.0),
    L.Dense(8), L.BatchNormalization(), L.Activation("relu"), L.Dropout(0.0),
    L.Dense(3, activation="softmax")], name="mlp"),
    D((6,), n=12), compile=CC(opt=lambda: O.Adam(0.01), metrics=("accuracy",)),
    fit=dict(epochs=2, batch_size=5, validation_split=0.25),
    notes="MLP with BN and Dropout(0.0) x2 (rate 0 so fit is deterministic).")
case("mlp_bn_dropout_pred", S((6,), lambda: [
    L.Dense(8), L.BatchNormalization(), L.Activation("relu"), L.Dropout(0.3),
    L.Dense(8), L.BatchNormalization(), L.Activation("relu"), L.Dropout(0.3),
    L.Dense(3, activation="softmax")], name="mlp"),
    D((6,), n=12), compile=CC(opt=lambda: O.Adam(0.01), metrics=("accuracy",)), checks=("pred",),
    notes="Same MLP with Dropout(0.3): pred only.")


def deep_randomize(model, rng):
    for layer in model.layers:
        k, b = layer.kernel, layer.bias
        q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
        k.assign(q * rng.uniform(0.95, 1.05))
        b.assign(rng.uniform(-0.1, 0.1, (3,)))


case("deep_200", S((3,), lambda: [L.Dense(3, activation=("tanh" if i % 2 else "linear")) for i in range(199)]
                   + [L.Dense(3, activation="softmax")], name="deep"),
     D((3,), n=8), compile=CC(opt=lambda: O.SGD(0.01)), checks=("pred", "grad"), randomize=deep_randomize,
     notes="200 Dense(3) layers (alternating linear/tanh, orthogonal kernels): 200 children of /layers in "
     "model.weights.h5 (multi-level v1 B-tree). pred + grad only.")
case("float32_cnn", S((6, 6, 2), lambda: [L.Conv2D(3, 3, activation="relu"), L.BatchNormalization(), L.MaxPooling2D(2),
                                          L.Flatten(), L.Dense(3, activation="softmax")], name="f32"),
     D((6, 6, 2)), compile=CC(opt=lambda: O.Adam(0.01), metrics=("accuracy",)), dtype="float32",
     notes="float32 model (weights stored float32). All references (pred, loss, grad, fit, opt) are computed in float64 "
     "by a float64 copy of the model loaded with the float32-stored weights; pred_float32 is Keras's own float32 predict.")
case("legacy_h5_keras3", S((6, 6, 2), lambda: [L.Conv2D(3, 3, activation="relu", name="conv"), L.MaxPooling2D(2),
                                               L.Flatten(), L.Dense(4, activation="relu", name="fc"),
                                               L.Dense(3, activation="softmax", name="out")], name="seqcnn"),
     D((6, 6, 2)), compile=CC(opt=lambda: O.SGD(0.05, momentum=0.9), metrics=("accuracy",)), legacy_h5=True,
     notes="Small CNN also saved as model.h5 by Keras 3 (legacy HDF5 format, float64 datasets).")


def F_legacy_fun():
    inp = keras.Input((5, 3), name="seq_in")
    h = L.LSTM(4, return_sequences=True, name="lstm1")(inp)
    h = L.GRU(3, name="gru1")(h)
    d = L.Dense(3, activation="tanh", name="fc")(h)
    c = L.Concatenate(name="cat")([h, d])
    return keras.Model(inp, L.Dense(3, activation="softmax", name="out")(c), name="legacy_fun")


case("legacy_h5_keras3_functional", F_legacy_fun, D(SEQ), compile=CC(opt=lambda: O.Adam(0.01), metrics=("accuracy",)),
     legacy_h5=True, notes="Functional LSTM+GRU+Concatenate also saved as model.h5 by Keras 3.")

# Keras 2 (tf.keras 2.15) written files: models are built by gen_keras2_h5.py in the tf2 venv.
for k2name, k2shape in [("legacy_h5_keras2_seq", (6, 6, 2)), ("legacy_h5_keras2_functional", (5, 3)),
                        ("legacy_h5_keras2_fixedlen", (5, 3))]:
    case(k2name, None, D(k2shape), compile=None, legacy_h5=True, keras2=True, dtype="float32",
         notes="model.h5 written by tf.keras 2.15.0 (TensorFlow 2.15.1, the real Keras 2 HDF5 writer; see "
         "gen_keras2_h5.py): 'kernel:0' weight names, list-style inbound_nodes, batch_input_shape, vlen strings "
         "(h5py 3), a 'top_level_model_weights' group. Keras 3.15.1 cannot load it as is (RNN 'time_major' key; "
         "'Custom>SGD'/'Custom>Adam' optimizer_config silently replaced by defaults), so the generator strips "
         "'time_major', compiles with the file's optimizer_config, and passes the MeanMetricWrapper metrics by name "
         "(Keras 3 cannot call their string 'fn'); model.keras is Keras 3's re-save of that model. "
         "float32 weights; references computed in float64 as for float32 cases; pred_tf2 is TensorFlow's own float32 "
         "predict."
         + (" FIXEDLEN: after writing, every string attribute was rewritten with h5py as FIXED-length byte strings "
            "(numpy 'S', as Keras 2 + h5py 2.x wrote them) and model_config class_name 'Functional' -> 'Model' "
            "(Keras < 2.4 spelling); datasets untouched." if k2name.endswith("fixedlen") else ""))

case("uncompiled", S((5,), lambda: [L.Dense(4, activation="relu"), L.Dense(3, activation="softmax")]), D((5,)),
     compile=None, checks=("pred",),
     notes="Saved without compile: config.json has no compile_config; the converter must ask for loss/optimizer.")


# ----------------------------------------------------------------------------
# Randomization
# ----------------------------------------------------------------------------


def randomize_model(model, rng):
    for v in model.weights:
        shape = tuple(v.shape)
        nm = v.name
        path = v.path
        if nm in ("gamma", "moving_variance"):
            val = rng.uniform(0.5, 1.5, shape)
        elif nm in ("beta", "moving_mean"):
            val = rng.uniform(-0.5, 0.5, shape)
        elif "bias" in nm:
            val = rng.uniform(-0.3, 0.3, shape)
        elif nm == "embeddings":
            val = rng.uniform(-1.0, 1.0, shape)
        elif nm == "alpha":
            val = rng.uniform(0.05, 0.5, shape)
        elif nm == "recurrent_kernel":
            val = rng.uniform(-1, 1, shape) * math.sqrt(3.0 / shape[0]) * 0.9
        elif len(shape) >= 2:
            if "depthwise" in path and nm in ("kernel", "depthwise_kernel"):
                fan_in = shape[0] * shape[1]
            elif "conv2d_transpose" in path:
                fan_in = shape[0] * shape[1] * shape[3] / 4.0
            else:
                fan_in = int(np.prod(shape[:-1]))
            val = rng.uniform(-1, 1, shape) * math.sqrt(3.0 / max(fan_in, 1))
        else:
            val = rng.uniform(-0.5, 0.5, shape)
        v.assign(np.asarray(val, dtype=v.dtype))


# ----------------------------------------------------------------------------
# Keras plumbing
# ----------------------------------------------------------------------------


def as_list(x):
    return x if isinstance(x, list) else [x]


def keras_inputs(model, xs):
    """The arrays as handed to Keras: int for int inputs, floatx otherwise."""
    out = []
    for inp, a in zip(model.inputs, as_list(xs)):
        dt = keras.backend.standardize_dtype(inp.dtype)
        out.append(np.asarray(a, dtype=np.int32 if dt.startswith("int") else dt))
    return out if len(out) > 1 else out[0]


def do_compile(model, spec):
    model.compile(optimizer=spec["optimizer"](), loss=spec["loss"](),
                  metrics=[m() if callable(m) else m for m in spec["metrics"]()])


def build_case_model(c):
    model = c.model()
    if c.compile is not None:
        do_compile(model, c.compile)
    return model


def _retype_config(obj, dtype):
    if isinstance(obj, dict):
        if obj.get("class_name") == "DTypePolicy" and isinstance(obj.get("config"), dict):
            return {**obj, "config": {**obj["config"], "name": dtype}}
        return {k: (dtype if (k == "dtype" and v in ("float32", "float64")) else _retype_config(v, dtype))
                for k, v in obj.items()}
    if isinstance(obj, list):
        return [_retype_config(v, dtype) for v in obj]
    return obj


def float64_copy(model):
    """A float64 twin of a (float32) model holding the same weight values."""
    keras.config.set_floatx("float64")
    cfg = _retype_config(model.get_config(), "float64")
    cls = model.__class__
    twin = cls.from_config(cfg)
    twin.set_weights([np.asarray(w, dtype=np.float64) for w in model.get_weights()])
    if model.compiled:
        twin.compile_from_config(_retype_config(model.get_compile_config(), "float64"))
    for a, b in zip(model.weights, twin.weights):
        assert a.path.split("/")[-1] == b.path.split("/")[-1] and tuple(a.shape) == tuple(b.shape)
    return twin


def loss_grads(model, xs, y):
    """Loss (training-mode forward on the whole batch, + regularization) and grads, as Keras's train step."""
    xk = keras_inputs(model, xs)
    yk = np.asarray(y, dtype=keras.config.floatx())
    model._symbolic_build(data_batch=(xk, yk))
    if model.optimizer is not None and not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    tv = [v.value for v in model.trainable_variables]
    ntv = [v.value for v in model.non_trainable_variables]
    mv = [v.value for v in model.metrics_variables]
    ov = [v.value for v in model.optimizer.variables]
    xj = jax.tree_util.tree_map(jax.numpy.asarray, xk)
    yj = jax.numpy.asarray(yk)

    def f(tv_):
        return model.compute_loss_and_updates(tv_, ntv, mv, xj, yj, None, training=True, optimizer_variables=ov)

    traced = jax.jit(jax.value_and_grad(f, has_aux=True)).trace(tv)
    f32 = count_f32(traced.jaxpr)
    (loss, aux), grads = traced.lower().compile()(tv)
    unscaled, _ypred, ntv_new, _mv = aux
    ntv_new = [v for v, ref in zip(ntv_new, model.non_trainable_variables) if id(ref) in weight_ids(model)]
    return float(unscaled), [np.asarray(g) for g in grads], [np.asarray(v) for v in ntv_new], f32


def weight_ids(model):
    return {id(v) for v in model.weights}


def non_trainable_weights(model):
    """model.non_trainable_variables minus RNG seed states (which are not in model.weights)."""
    ids = weight_ids(model)
    return [v for v in model.non_trainable_variables if id(v) in ids]


def f64(a):
    return np.asarray(a, dtype=np.float64)


def count_f32(closed):
    """Primitive names that produce float32 values anywhere in a (closed) jaxpr, with counts."""
    cnt = {}

    def walk(j):
        for e in j.eqns:
            for v in e.outvars:
                if getattr(getattr(v, "aval", None), "dtype", None) == np.float32:
                    cnt[e.primitive.name] = cnt.get(e.primitive.name, 0) + 1
            for p in e.params.values():
                for sub in (p if isinstance(p, (list, tuple)) else [p]):
                    if hasattr(sub, "eqns"):
                        walk(sub)
                    elif hasattr(sub, "jaxpr") and hasattr(sub.jaxpr, "eqns"):
                        walk(sub.jaxpr)

    walk(closed.jaxpr)
    return cnt


def train_step_f32(model, xs, y):
    """float32 ops in Keras's own jitted train step (forward, loss, backward, optimizer, metrics)."""
    xk = keras_inputs(model, xs)
    yk = np.asarray(y, dtype=keras.config.floatx())
    model._symbolic_build(data_batch=(xk, yk))
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    state = model._get_jax_state(trainable_variables=True, non_trainable_variables=True,
                                 optimizer_variables=True, metrics_variables=True)
    xj = jax.tree_util.tree_map(jax.numpy.asarray, xk)
    return count_f32(jax.make_jaxpr(model.train_step)(state, (xj, jax.numpy.asarray(yk))))


def layer_of(model):
    """id(variable) -> top-level layer name (model.layers)."""
    m = {}
    for layer in model.layers:
        for v in layer.weights:
            m.setdefault(id(v), layer.name)
    return m


def h5_paths(blob_or_file, root=""):
    """{(shape, bytes): [paths]} for every dataset of an HDF5 file."""
    index = {}
    with h5py.File(blob_or_file, "r") as f:
        base = f[root] if root else f

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                a = obj[()]
                a = np.asarray(a)
                index.setdefault((a.shape, a.dtype.str, a.tobytes()), []).append(
                    (root + "/" + name) if root else name)

        base.visititems(visit)
    return index


def dump_manifest(m):
    """JSON, one top-level key per line; list entries that are objects one per line (compact, diff-friendly)."""
    def compact(v):
        return json.dumps(v, separators=(",", ":"))

    def block(v, ind):
        if isinstance(v, list) and v and all(isinstance(e, dict) for e in v):
            return "[\n" + ",\n".join(ind + "  " + compact(e) for e in v) + "\n" + ind + "]"
        if isinstance(v, dict) and any(isinstance(e, list) and e and all(isinstance(x, dict) for x in e)
                                       for e in v.values()):
            return "{\n" + ",\n".join(f"{ind}  {json.dumps(k)}: {block(e, ind + '  ')}" for k, e in v.items()) \
                + "\n" + ind + "}"
        return compact(v)

    return "{\n" + ",\n".join(f" {json.dumps(k)}: {block(v, ' ')}" for k, v in m.items()) + "\n}\n"


def jsonable(o):
    if isinstance(o, dict):
        return {str(k): jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [jsonable(v) for v in o]
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    return o


# ----------------------------------------------------------------------------
# Case runner
# ----------------------------------------------------------------------------


def run_keras2_helper(c, out, tf2_python):
    """Have tf.keras 2 (separate venv) write model.h5; returns path. Keeps a committed file if tf2 is absent."""
    target = out / "model.h5"
    if tf2_python and Path(tf2_python).exists():
        env = dict(os.environ)
        env.pop("KERAS_BACKEND", None)
        env["TF_CPP_MIN_LOG_LEVEL"] = "3"
        env["CUDA_VISIBLE_DEVICES"] = ""
        r = subprocess.run([tf2_python, str(KERAS2_HELPER), c.name, str(out / "oracle_in.npz"), str(out)],
                           env=env, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"tf2 helper failed for {c.name}:\n{r.stdout}\n{r.stderr}")
        return target
    raise RuntimeError(f"{c.name}: tf.keras 2 python ({tf2_python}) not found; cannot regenerate this case "
                       "(leave the committed files or pass --tf2-python)")


KERAS2_ONLY_KEYS = {"time_major"}  # layer config keys Keras 3 rejects ("Unrecognized keyword arguments")
KERAS2_OPT_ONLY_KEYS = {"jit_compile", "is_legacy_optimizer"}


def _strip_keys(obj, keys):
    if isinstance(obj, dict):
        return {k: _strip_keys(v, keys) for k, v in obj.items() if k not in keys}
    if isinstance(obj, list):
        return [_strip_keys(v, keys) for v in obj]
    return obj


def _attr_str(v):
    return v.decode("utf-8") if isinstance(v, (bytes, np.bytes_)) else str(v)


def load_keras2_h5(path):
    """Load a tf.keras 2 .h5 in Keras 3 the way the file means it.

    Keras 3.15.1's own load_model() (a) fails on RNN configs with 'time_major'
    and (b) turns the Keras 2.11+ optimizer_config {"class_name": "Custom>SGD", ...}
    into a default SGD() (lr 0.01, momentum 0), silently dropping the file's
    hyperparameters.  Here: strip 'time_major', load weights, and compile with
    the optimizer of training_config (class 'Custom>X' -> 'X', Keras-2-only keys
    dropped)."""
    from keras.src.legacy.saving import saving_utils

    tmp = path.parent / "_keras3_load.h5"
    shutil.copy(path, tmp)
    try:
        with h5py.File(tmp, "r+") as f:
            cfg = json.loads(_attr_str(f.attrs["model_config"]))
            tc = json.loads(_attr_str(f.attrs["training_config"]))
            del f.attrs["model_config"]
            f.attrs["model_config"] = json.dumps(_strip_keys(cfg, KERAS2_ONLY_KEYS))
        model = keras.saving.load_model(tmp, compile=False)
    finally:
        tmp.unlink()
    oc = tc["optimizer_config"]
    cls = oc["class_name"].split(">")[-1]
    conf = {k: v for k, v in oc["config"].items() if k not in KERAS2_OPT_ONLY_KEYS}
    tc = {**tc, "optimizer_config": {"class_name": cls, "config": conf}}

    # Keras 2 stores compiled metrics as MeanMetricWrapper{name, fn: "categorical_accuracy"}; Keras 3 deserializes
    # that with fn as a *string* and fails at the first update ("'str' object is not callable").  Use the name.
    def fix_metric(m):
        if isinstance(m, dict) and m.get("class_name") == "MeanMetricWrapper":
            return m["config"]["name"]
        if isinstance(m, list):
            return [fix_metric(e) for e in m]
        return m

    if tc.get("metrics") is not None:
        tc["metrics"] = fix_metric(tc["metrics"])
        while isinstance(tc["metrics"], list) and len(tc["metrics"]) == 1 and isinstance(tc["metrics"][0], list):
            tc["metrics"] = tc["metrics"][0]
    args = saving_utils.compile_args_from_training_config(tc)
    model.compile(**args)
    return model


def to_fixed_length_strings(path):
    """Rewrite every string attribute of a legacy .h5 as FIXED-length byte strings (numpy 'S'), as Keras 2 with
    h5py 2.x wrote them, and the functional class name 'Functional' as 'Model' (Keras < 2.4 spelling)."""
    with h5py.File(path, "r+") as f:
        def fix(obj):
            for k in list(obj.attrs):
                v = obj.attrs[k]
                if isinstance(v, np.ndarray) and v.dtype.kind in "OSU" and v.size > 0:
                    arr = np.array([_attr_str(e).encode("utf-8") for e in v.ravel()]).reshape(v.shape)
                    del obj.attrs[k]
                    obj.attrs.create(k, arr)
                elif isinstance(v, (str, bytes, np.bytes_)):
                    sv = _attr_str(v)
                    if k == "model_config":
                        j = json.loads(sv)
                        if j.get("class_name") == "Functional":
                            j["class_name"] = "Model"
                        sv = json.dumps(j)
                    del obj.attrs[k]
                    obj.attrs.create(k, np.bytes_(sv.encode("utf-8")))

        fix(f)
        f.visititems(lambda n, o: fix(o))


def run_case(c, tf2_python=TF2_PYTHON_DEFAULT):
    t0 = time.time()
    out = CASES_DIR / c.name
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    seed = seed_of(c.name)
    keras.backend.clear_session(free_memory=False)
    keras.config.set_floatx(c.dtype if not c.keras2 else "float32")
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    data = c.data(rng)
    x, y = data["x"], data["y"]
    multi = isinstance(x, list)

    if c.keras2:
        np.savez(out / "oracle_in.npz", x=x)
        run_keras2_helper(c, out, tf2_python)
        tf2 = np.load(out / "tf2_out.npz")
        pred_tf2 = tf2["pred"]
        (out / "oracle_in.npz").unlink()
        (out / "tf2_out.npz").unlink()
        if c.name.endswith("_fixedlen"):
            to_fixed_length_strings(out / "model.h5")
        keras.backend.clear_session(free_memory=False)
        model = load_keras2_h5(out / "model.h5")
        model.save(out / "model.keras")
    else:
        model = build_case_model(c)
        (c.randomize or randomize_model)(model, rng)
        if c.pretrain:
            model.fit(keras_inputs(model, x), np.asarray(y, dtype="float64"), shuffle=False, verbose=0, **c.pretrain)
        model.save(out / "model.keras")
        if c.legacy_h5:
            model.save(out / "model.h5")

    lowp = c.dtype == "float32"
    ref = float64_copy(model) if lowp else model
    xk = keras_inputs(ref, x)
    n = len(y)

    npz = {}
    if multi:
        for i, a in enumerate(x):
            npz[f"x{i}"] = f64(a)
    else:
        npz["x"] = f64(x)
    npz["y"] = f64(y)
    for k in ("x_val", "y_val"):
        if k in data:
            npz[k] = f64(data[k])

    # ---- pred
    pred = ref.predict(xk, batch_size=n, verbose=0)
    npz["pred"] = f64(pred)
    eager = np.asarray(ref(xk, training=False))
    pred_eager_diff = float(np.max(np.abs(eager - pred)))
    tref = [v.value for v in ref.trainable_variables]
    ntref = [v.value for v in ref.non_trainable_variables]
    f32_infer = count_f32(jax.make_jaxpr(lambda t, nt, xx: ref.stateless_call(t, nt, xx, training=False)[0])(
        tref, ntref, jax.tree_util.tree_map(jax.numpy.asarray, xk)))
    # how far stock Keras (float64->float32 promotion) is from the float64 reference
    keras_float64_promotion(False)
    stock_err = None
    try:
        stock = f64(ref(xk, training=False))
        f32_stock = count_f32(jax.make_jaxpr(lambda t, nt, xx: ref.stateless_call(t, nt, xx, training=False)[0])(
            tref, ntref, jax.tree_util.tree_map(jax.numpy.asarray, xk)))
        stock_rel = float(np.max(np.abs(stock - f64(pred)) / np.maximum(np.abs(f64(pred)), 1e-300)))
    except Exception as e:  # stock Keras may fail outright in float64 (e.g. SimpleRNN: scan carry f64 vs f32)
        stock_err = f"{type(e).__name__}: {str(e).strip().splitlines()[0][:300]}"
        f32_stock, stock_rel = None, None
    finally:
        keras_float64_promotion(True)
    if lowp:
        npz["pred_float32"] = f64(model.predict(keras_inputs(model, x), batch_size=n, verbose=0))
    if c.keras2:
        npz["pred_tf2"] = f64(pred_tf2)

    f32 = {"infer": f32_infer}
    checks = list(c.checks)
    compiled = ref.compiled and ref.optimizer is not None
    if not compiled:
        checks = [ch for ch in checks if ch == "pred"]

    # ---- loss + grads (training-mode forward, whole data as one batch)
    if "grad" in checks:
        loss, grads, ntv_new, f32_grad = loss_grads(ref, x, y)
        f32["grad"] = f32_grad
        npz["loss"] = np.float64(loss)
        for i, g in enumerate(grads):
            npz[f"grad_{i}"] = f64(g)
        for j, v in enumerate(ntv_new):
            npz[f"bn_{j}"] = f64(v)

    # ---- fit (from a reloaded model: initial weights)
    fit_info = None
    if "fit" in checks:
        keras.backend.clear_session(free_memory=False)
        if lowp:
            keras.config.set_floatx("float32")
            src = keras.saving.load_model(out / "model.keras")
            fm = float64_copy(src)
        else:
            fm = keras.saving.load_model(out / "model.keras")
        f32["train_step"] = train_step_f32(fm, x, y)
        keras.utils.set_random_seed(seed)
        fkw = dict(c.fit)
        use_vd = fkw.pop("validation_data", False)
        cbs, cb_desc = (c.callbacks() if c.callbacks else ([], []))
        kw = dict(epochs=fkw["epochs"], batch_size=fkw["batch_size"], shuffle=False,
                  validation_split=fkw.get("validation_split", 0.0), verbose=0, callbacks=cbs)
        if use_vd:
            kw["validation_data"] = (keras_inputs(fm, data["x_val"]), np.asarray(data["y_val"], dtype="float64"))
        h = fm.fit(keras_inputs(fm, x), np.asarray(y, dtype="float64"), **kw)
        for i, v in enumerate(fm.weights):
            npz[f"fit_{i}"] = f64(v.numpy())
        for key, vals in h.history.items():
            npz[f"hist_{key}"] = f64(vals)
        for k, v in enumerate(fm.optimizer.variables):
            npz[f"opt_{k}"] = f64(v.numpy())
        npz["pred_fit"] = f64(fm.predict(keras_inputs(fm, x), batch_size=n, verbose=0))
        fit_info = {"epochs": fkw["epochs"], "batch_size": fkw["batch_size"],
                    "validation_split": fkw.get("validation_split", 0.0), "shuffle": False,
                    "validation_data": bool(use_vd), "callbacks": cb_desc,
                    "epochs_run": len(next(iter(h.history.values()))),
                    "history_keys": sorted(h.history.keys()),
                    "optimizer_variables": [{"index": k, "path": v.path, "shape": list(v.shape)}
                                            for k, v in enumerate(fm.optimizer.variables)]}
        for key in list(npz):
            if not np.all(np.isfinite(npz[key])):
                raise RuntimeError(f"{c.name}: non-finite values in {key}")

    np.savez(out / "oracle.npz", **npz)

    # ---- manifest
    lay = layer_of(model)
    with zipfile.ZipFile(out / "model.keras") as z:
        wblob = io.BytesIO(z.read("model.weights.h5"))
        cfg = json.loads(z.read("config.json"))
    idx = h5_paths(wblob)
    lidx = h5_paths(out / "model.h5", "model_weights") if (out / "model.h5").exists() else None
    tv_ids = {id(v): i for i, v in enumerate(model.weights)}
    variables = []
    for i, v in enumerate(model.weights):
        a = np.asarray(v.numpy())
        key = (a.shape, a.dtype.str, a.tobytes())
        ent = {"index": i, "path": v.path, "name": v.name, "layer": lay.get(id(v)), "shape": list(v.shape),
               "trainable": bool(v.trainable), "h5_path": (idx.get(key) or [None])[0]}
        if lidx is not None:
            ent["legacy_h5_path"] = (lidx.get(key) or [None])[0]
        variables.append(ent)
    # compile settings as stored in model.keras (model.get_compile_config() is unreliable: Keras 3's legacy .h5
    # save pops "optimizer" out of the model's own compile config)
    comp = cfg.get("compile_config")
    opt_desc = None
    if comp:
        opt_desc = comp.get("optimizer")
    manifest = {
        "case": c.name,
        "keras_version": keras.__version__,
        "dtype": c.dtype,
        "legacy_h5": bool(c.legacy_h5),
        "legacy_h5_writer": ("tf.keras 2.15.1" if c.keras2 else ("keras " + keras.__version__)) if c.legacy_h5 else None,
        "model_class": cfg.get("class_name"),
        "inputs": [{"name": t.name, "shape": list(t.shape[1:]),
                    "dtype": keras.backend.standardize_dtype(t.dtype)} for t in model.inputs],
        "output_shape": list(np.shape(pred)[1:]),
        "variables": variables,
        "trainable": [tv_ids[id(v)] for v in model.trainable_variables],
        "non_trainable": [tv_ids[id(v)] for v in non_trainable_weights(model)],
        "fit": fit_info,
        "loss": comp.get("loss") if comp else None,
        "optimizer": opt_desc,
        "metrics": comp.get("metrics") if comp else None,
        "checks": checks,
        "npz_keys": sorted(npz.keys()),
        "seed": seed,
        "float32_ops": f32,
        "stock_keras_pred_max_rel_diff": stock_rel,
        "stock_keras_float32_ops_infer": f32_stock,
        "stock_keras_error": stock_err,
        "notes": c.notes + ("" if compiled or c.compile is None else " (not compiled)"),
    }
    if "grad" in checks:
        manifest["grad_paths"] = [v.path for v in ref.trainable_variables]
    (out / "manifest.json").write_text(dump_manifest(jsonable(manifest)))

    # ---- sanity: reload and predict
    keras.backend.clear_session(free_memory=False)
    keras.config.set_floatx("float32" if lowp else "float64")
    again = keras.saving.load_model(out / "model.keras")
    p2 = again.predict(keras_inputs(again, x), batch_size=n, verbose=0)
    if lowp:
        same = np.array_equal(f64(p2), npz["pred_float32"])
        diff64 = float(np.max(np.abs(f64(p2) - npz["pred"])))
    else:
        same = np.array_equal(f64(p2), npz["pred"])
        diff64 = 0.0
    if not same:
        raise RuntimeError(f"{c.name}: reloaded predict differs from stored pred")
    missing = [v["path"] for v in variables if v["h5_path"] is None]
    if missing:
        raise RuntimeError(f"{c.name}: variables not found in model.weights.h5: {missing}")
    if lidx is not None:
        lmissing = [v["path"] for v in variables if v.get("legacy_h5_path") is None]
        if lmissing:
            raise RuntimeError(f"{c.name}: variables not found in model.h5: {lmissing}")
    size = sum(p.stat().st_size for p in out.iterdir())
    extra = ""
    if "fit" in checks:
        extra += f" epochs_run={fit_info['epochs_run']}"
    if lowp:
        extra += f" |pred64-pred32|={diff64:.1e}"
    nf32 = {k: sum(v.values()) for k, v in f32.items() if v}
    if nf32:
        raise RuntimeError(f"{c.name}: float32 operations in the float64 reference computation: {f32}")
    if stock_rel is not None and stock_rel > 1e-13:
        extra += f" stock_rel={stock_rel:.1e}"
    if stock_err:
        extra += " STOCK-KERAS-FAILS"
    print(f"{c.name:36s} checks={','.join(checks):14s} vars={len(variables):3d} "
          f"size={size / 1024:6.1f}KB eager-vs-predict={pred_eager_diff:.1e}{extra} t={time.time() - t0:.1f}s",
          flush=True)
    return size


# ----------------------------------------------------------------------------
# check-writeback
# ----------------------------------------------------------------------------


def check_writeback(argv):
    ap = argparse.ArgumentParser(prog="gen_fixtures.py check-writeback")
    ap.add_argument("model")
    ap.add_argument("oracle")
    ap.add_argument("--key", default="pred", help="array in the npz to compare with model.predict(x)")
    ap.add_argument("--rtol", type=float, default=1e-9)
    ap.add_argument("--atol", type=float, default=1e-12)
    a = ap.parse_args(argv)
    o = np.load(a.oracle)
    model = keras.saving.load_model(a.model)
    # predict()'s data adapter casts float inputs to floatx: make floatx the model's dtype, else a float64
    # model is silently fed float32 inputs.
    fdt = [keras.backend.standardize_dtype(v.dtype) for v in model.weights if "float" in str(v.dtype)]
    keras.config.set_floatx(fdt[0] if fdt else "float64")
    if "x" in o:
        xs = o["x"]
    else:
        xs = [o[f"x{i}"] for i in range(len([k for k in o.files if k[1:].isdigit() and k[0] == "x"]))]
    xk = keras_inputs(model, xs)
    p = f64(model.predict(xk, batch_size=len(o[a.key]), verbose=0))
    ref = f64(o[a.key])
    if p.shape != ref.shape:
        print(f"shape mismatch: predict {p.shape} vs {a.key} {ref.shape}")
        return 1
    d = np.abs(p - ref)
    rel = float(np.max(d / np.maximum(np.abs(ref), 1e-300))) if d.size else 0.0
    bad = bool(np.any(d > a.atol + a.rtol * np.abs(ref)))
    print(f"max_abs_diff={float(d.max()):.3e} max_rel_diff={rel:.3e} "
          f"(rtol={a.rtol:g} atol={a.atol:g}) -> {'FAIL' if bad else 'ok'}")
    return 1 if bad else 0


# ----------------------------------------------------------------------------
# main
# ----------------------------------------------------------------------------


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "check-writeback":
        sys.exit(check_writeback(sys.argv[2:]))
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", nargs="*", help="case names (or prefixes ending in *)")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--jobs", type=int, default=2, help="parallel worker processes")
    ap.add_argument("--tf2-python", default=TF2_PYTHON_DEFAULT,
                    help="python of a venv with tensorflow-cpu 2.15 (for the legacy_h5_keras2_* cases)")
    ap.add_argument("--skip-keras2", action="store_true", help="do not regenerate the tf.keras 2 cases")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if keras.__version__ != EXPECTED_KERAS:
        print(f"warning: keras {keras.__version__} != pinned {EXPECTED_KERAS}", file=sys.stderr)
    names = list(CASES)
    if a.only:
        sel = []
        for pat in a.only:
            if pat.endswith("*"):
                sel += [n for n in names if n.startswith(pat[:-1])]
            elif pat in CASES:
                sel.append(pat)
            else:
                sys.exit(f"unknown case {pat}")
        names = list(dict.fromkeys(sel))
    if a.skip_keras2:
        names = [n for n in names if not CASES[n].keras2]
    if a.list:
        for n in names:
            print(n, ",".join(CASES[n].checks))
        return
    t0 = time.time()
    if a.jobs > 1 and len(names) > 1:
        chunks = [names[i::a.jobs] for i in range(a.jobs)]
        procs = [subprocess.Popen([sys.executable, __file__, "--worker", "--jobs", "1", "--tf2-python", a.tf2_python,
                                   "--only", *ch])
                 for ch in chunks if ch]
        rc = [p.wait() for p in procs]
        if any(rc):
            sys.exit(1)
    else:
        failed = []
        for n in names:
            try:
                run_case(CASES[n], a.tf2_python)
            except Exception as e:  # keep going; report at the end
                import traceback

                traceback.print_exc()
                print(f"FAILED {n}: {type(e).__name__}: {e}", flush=True)
                failed.append(n)
        if failed:
            print("FAILED cases: " + " ".join(failed), flush=True)
            sys.exit(1)
    if a.worker:
        return
    total = sum(p.stat().st_size for p in CASES_DIR.rglob("*") if p.is_file())
    ncases = len([d for d in CASES_DIR.iterdir() if d.is_dir()])
    print(f"{len(names)} case(s) generated in {time.time() - t0:.0f}s; cases/ holds {ncases} cases, "
          f"{total / 1024 / 1024:.2f} MB total")


if __name__ == "__main__":
    main()
