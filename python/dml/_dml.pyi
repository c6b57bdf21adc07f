"""Type stubs of the native module `dml._dml` (use the `dml` package, not this module)."""

from os import PathLike
from typing import Any, Mapping, Sequence

import numpy as np
import numpy.typing as npt

__version__: str

class DMLError(Exception):
    """An error of a DML script (compile or run time); the message is the rendered diagnostic."""

class FrameData:
    """A frame between pandas and the engine: names, SystemDS schema types, one column each."""

    names: list[str]
    types: list[str]
    columns: list[Any]
    def __init__(self, names: list[str], types: list[str], columns: list[Any]) -> None: ...

class CsrData:
    """A sparse matrix in compressed sparse rows (sorted indices, no duplicates)."""

    def __init__(
        self,
        rows: int,
        cols: int,
        indptr: npt.NDArray[np.int64],
        indices: npt.NDArray[np.int64],
        data: npt.NDArray[np.float64],
    ) -> None: ...

class Script:
    """A DML script compiled once and executed many times."""

    def __init__(
        self,
        source: str,
        inputs: list[str],
        outputs: list[str],
        args: Mapping[str, int | float | bool | str] | None = None,
        name: str | None = None,
    ) -> None: ...
    def execute(self, inputs: Mapping[str, Any]) -> dict[str, Any]: ...
    @property
    def inputs(self) -> list[str]: ...
    @property
    def outputs(self) -> list[str]: ...

class ConvertedModel:
    """A model converted to DML (from Keras, ONNX or Caffe), with its current weights and optimizer state.

    ``settings`` dicts hold the training settings: ``epochs``, ``batch_size``, ``validation_split``,
    ``shuffle``, ``seed`` (-1: fresh), ``train_algo``, ``parallel_batches``, ``test_algo``,
    ``early_stopping`` and ``reduce_lr`` (dicts of the Keras callbacks' arguments), ``log``,
    ``checkpoint``, ``resume``, ``verbose``; Keras's defaults for those left out.
    """

    @staticmethod
    def load_keras(path: str | PathLike[str]) -> ConvertedModel: ...
    @staticmethod
    def load_onnx(
        path: str | PathLike[str],
        loss: str | None = None,
        optimizer: str | None = None,
        learning_rate: float | None = None,
    ) -> ConvertedModel:
        """An ONNX model; ``loss`` (a Keras loss name), ``optimizer`` (a Keras optimizer name,
        "sgd" by default) and ``learning_rate`` make it trainable (the file has no such settings)."""
    @staticmethod
    def load_caffe(
        network: str | PathLike[str],
        solver: str | PathLike[str] | None = None,
        weights: str | PathLike[str] | None = None,
        input_shape: Sequence[int] | None = None,
    ) -> ConvertedModel:
        """A Caffe network prototxt, with its solver prototxt and a ``.caffemodel`` when given;
        ``input_shape`` is a Data layer's ``(C, H, W)``."""
    def fit_caffe(
        self,
        x: npt.NDArray[np.float64],
        y: npt.NDArray[np.float64],
        x_val: npt.NDArray[np.float64] | None = None,
        y_val: npt.NDArray[np.float64] | None = None,
        max_iter: int | None = None,
        verbose: bool = False,
    ) -> dict[str, list[float]]:
        """Caffe's solver loop for ``max_iter`` iterations (the solver's when None), continuing
        its state: ``{"iteration", "loss", "lr"}`` per iteration."""
    def info(self) -> dict[str, Any]: ...
    def summary(self) -> str: ...
    def training_script(self, settings: Mapping[str, Any] | None = None, weights_dir: str | None = None) -> str: ...
    def prediction_script(
        self, batch_size: int = 32, test_algo: str = "minibatch", weights_dir: str | None = None
    ) -> str: ...
    def fit(
        self,
        x: npt.NDArray[np.float64],
        y: npt.NDArray[np.float64],
        x_val: npt.NDArray[np.float64] | None = None,
        y_val: npt.NDArray[np.float64] | None = None,
        settings: Mapping[str, Any] | None = None,
    ) -> dict[str, list[float]]: ...
    def predict(
        self, x: npt.NDArray[np.float64], batch_size: int = 32, test_algo: str = "minibatch"
    ) -> npt.NDArray[np.float64]: ...
    def evaluate(
        self, x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], batch_size: int = 32
    ) -> dict[str, float]: ...
    def weights(self) -> dict[str, npt.NDArray[np.float64]]: ...
    def read_weights(self, dir: str | PathLike[str]) -> None: ...
    def write_dir(self, dir: str | PathLike[str], settings: Mapping[str, Any] | None = None) -> None: ...
    def reset_optimizer(self) -> None: ...
    def optimizer_warning(self) -> str | None: ...
    def save_keras(self, path: str | PathLike[str]) -> None: ...
