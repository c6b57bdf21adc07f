"""DML from Python: run Apache SystemDS's R-like machine-learning language on NumPy and pandas data.

The engine is the Rust ``dml`` engine, built into this package (no JVM, no Spark)::

    import numpy as np
    import dml

    X = np.random.rand(1000, 10)
    res = dml.run("s = sum(X); Y = t(X) %*% X", inputs={"X": X}, outputs=["s", "Y"])
    res["s"], res["Y"].shape                      # (float, (10, 10))

    script = dml.Script("Y = X * a", inputs=["X", "a"], outputs=["Y"])   # compiled once
    for a in (1.0, 2.0):
        print(script.execute(X=X, a=a)["Y"].sum())

- Matrices are NumPy arrays: a C-ordered float64 array goes in without a copy, everything else
  (Fortran order, strided views, other dtypes, 1-D arrays as columns) is converted with one copy;
  results come back as float64 arrays whose buffer is handed over (no copy).
- Frames are pandas DataFrames (with their schema: FP64, FP32, INT64, INT32, BOOLEAN, STRING), when
  pandas is installed; scalars are int, float, bool, str; DML lists are Python lists (dicts for
  named lists).
- ``print`` output goes to ``sys.stdout`` as the script runs; errors raise :class:`DMLError` with
  the rendered diagnostic; the interpreter lock is released while a script runs, and Ctrl-C stops
  it (``KeyboardInterrupt``).
- ``%load_ext dml`` adds the ``%%dml`` cell magic to IPython and Jupyter.
- :class:`Keras2DML` trains and runs Keras models through the converter (SystemML's estimator API).
"""

from __future__ import annotations

import os
from typing import Any, Iterable, Mapping, Sequence

from . import _values
from ._dml import DMLError, __version__
from ._dml import Script as _NativeScript
from .keras2dml import Caffe2DML, Keras2DML, ONNX2DML

__all__ = [
    "DMLError",
    "Script",
    "run",
    "Keras2DML",
    "Caffe2DML",
    "ONNX2DML",
    "load_ipython_extension",
    "__version__",
]


def _source_of(source_or_path: str | os.PathLike[str]) -> tuple[str, str | None]:
    """The script text and the file it came from (None for inline source)."""
    if isinstance(source_or_path, os.PathLike):
        path = os.fspath(source_or_path)
        with open(path, encoding="utf-8") as f:
            return f.read(), path
    if not isinstance(source_or_path, str):
        raise TypeError(f"a DML script is source text or a path, not {type(source_or_path).__name__}")
    text = source_or_path
    one_line = "\n" not in text
    if one_line and (text.endswith(".dml") or os.path.isfile(text)):
        if not os.path.isfile(text):
            raise FileNotFoundError(f"no DML script at {text!r}")
        with open(text, encoding="utf-8") as f:
            return f.read(), text
    return text, None


def _cmd_args(args: Sequence[Any] | None, nvargs: Mapping[str, Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i, a in enumerate(args or (), start=1):
        out[str(i)] = _values.arg(a)
    for k, v in (nvargs or {}).items():
        out[str(k)] = _values.arg(v)
    return out


class Script:
    """A DML script compiled once and executed many times (SystemDS JMLC's prepared script).

    ``Script(source_or_path, inputs=["X", "y"], outputs=["B"], args=None, nvargs=None)``.
    ``inputs`` are the variables each execution binds, ``outputs`` the ones it returns. ``args``
    (a list: ``$1``, ``$2``, ...) and ``nvargs`` (a dict: ``$name``) are fixed at compilation, as
    on the command line. Compile errors raise :class:`DMLError`.

    ``execute(**inputs)`` (or calling the script) runs it and returns ``{output: value}``.
    """

    def __init__(
        self,
        source: str | os.PathLike[str],
        inputs: Iterable[str] = (),
        outputs: Iterable[str] = (),
        args: Sequence[Any] | None = None,
        nvargs: Mapping[str, Any] | None = None,
    ) -> None:
        text, path = _source_of(source)
        self.source = text
        self._native = _NativeScript(
            text, list(inputs), _names(outputs), _cmd_args(args, nvargs), path or "<script>"
        )

    @property
    def inputs(self) -> list[str]:
        """The input variables, in declaration order."""
        return self._native.inputs

    @property
    def outputs(self) -> list[str]:
        """The output variables, in declaration order."""
        return self._native.outputs

    def execute(self, **inputs: Any) -> dict[str, Any]:
        """Runs the script with every declared input given by name; returns the outputs.

        Matrices come back as float64 NumPy arrays, frames as pandas DataFrames, scalars as
        Python scalars, lists as lists (named lists as dicts). Raises :class:`DMLError` when the
        script fails and ``KeyboardInterrupt`` when Ctrl-C stopped it.
        """
        engine_inputs = {k: _values.to_engine(v, k) for k, v in inputs.items()}
        return _values.from_engine(self._native.execute(engine_inputs))

    __call__ = execute

    def __repr__(self) -> str:
        return f"Script(inputs={self.inputs}, outputs={self.outputs})"


def _names(outputs: Iterable[str] | str | None) -> list[str]:
    if outputs is None:
        return []
    if isinstance(outputs, str):
        return [outputs]
    return list(outputs)


def run(
    source_or_path: str | os.PathLike[str],
    inputs: Mapping[str, Any] | None = None,
    outputs: Iterable[str] | str | None = None,
    args: Sequence[Any] | None = None,
    nvargs: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Runs a DML script once and returns the outputs it was asked for.

    ``source_or_path``: the script's text, or a path to a ``.dml`` file (``source()`` then also
    looks next to it). ``inputs``: ``{name: value}`` bound before the run (NumPy arrays, pandas
    DataFrames, scalars, lists). ``outputs``: names of the variables to return. ``args`` /
    ``nvargs``: the script's ``$1 ...`` / ``$name`` parameters, as ``-args`` / ``-nvargs`` on the
    command line.

    >>> import numpy as np, dml
    >>> dml.run("Y = X + 1", inputs={"X": np.zeros((2, 2))}, outputs=["Y"])["Y"]
    array([[1., 1.],
           [1., 1.]])
    """
    inputs = dict(inputs or {})
    script = Script(source_or_path, inputs=list(inputs), outputs=_names(outputs), args=args, nvargs=nvargs)
    return script.execute(**inputs)


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext dml``: registers the ``%%dml`` cell magic."""
    from .magic import load_ipython_extension as _load

    _load(ipython)
