"""Shared setup: Keras on JAX in float64 throughout (as the converter's test oracle)."""

import os

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

