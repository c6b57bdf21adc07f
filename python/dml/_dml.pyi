"""Type stubs of the native module `dml._dml` (use the `dml` package, not this module)."""

from os import PathLike
from typing import Any, Mapping

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

class KerasModel:
    """A Keras model converted to DML, with its current weights."""

    @staticmethod
    def load(path: str | PathLike[str]) -> KerasModel: ...
    def info(self) -> dict[str, Any]: ...
    def summary(self) -> str: ...
    def training_script(
        self,
        epochs: int = 1,
        batch_size: int = 32,
        validation_split: float = 0.0,
        shuffle: bool = True,
        seed: int = -1,
        train_algo: str = "minibatch",
        early_stopping: Mapping[str, Any] | None = None,
        verbose: bool = True,
        weights_dir: str | None = None,
    ) -> str: ...
    def prediction_script(self, batch_size: int = 32, weights_dir: str | None = None) -> str: ...
    def fit(
        self,
        x: npt.NDArray[np.float64],
        y: npt.NDArray[np.float64],
        x_val: npt.NDArray[np.float64] | None = None,
        y_val: npt.NDArray[np.float64] | None = None,
        epochs: int = 1,
        batch_size: int = 32,
        validation_split: float = 0.0,
        shuffle: bool = True,
        seed: int = -1,
        train_algo: str = "minibatch",
        early_stopping: Mapping[str, Any] | None = None,
        verbose: bool = True,
    ) -> dict[str, list[float]]: ...
    def predict(self, x: npt.NDArray[np.float64], batch_size: int = 32) -> npt.NDArray[np.float64]: ...
    def evaluate(
        self, x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], batch_size: int = 32
    ) -> dict[str, float]: ...
    def weights(self) -> dict[str, npt.NDArray[np.float64]]: ...
    def read_weights(self, dir: str | PathLike[str]) -> None: ...
    def write_dir(
        self,
        dir: str | PathLike[str],
        epochs: int = 1,
        batch_size: int = 32,
        validation_split: float = 0.0,
        shuffle: bool = True,
        seed: int = -1,
        train_algo: str = "minibatch",
    ) -> None: ...
    def save_keras(self, path: str | PathLike[str]) -> None: ...
