"""``Keras2DML``: a Keras model trained and run by the dml engine, with SystemML's estimator API.

::

    from dml import Keras2DML
    model = Keras2DML(keras_model)                  # or Keras2DML(spark, keras_model, input_shape=...)
    model.fit(X, y, epochs=5, batch_size=64, validation_split=0.1)
    model.history_["loss"], model.predict(X_test), model.score(X_test, y_test)
    keras_again = model.to_keras()                  # the Keras model with the trained weights

The model is converted to DML (``dml convert keras``): Keras's own loss, optimizer, learning-rate
schedule and metric formulas, so that a float64 model with shuffling off trains to the numbers
Keras's ``fit`` gives. ``X`` is taken as Keras takes it, ``(N, H, W, C)`` or already flattened
``(N, H*W*C)``; labels as class ids, one-hot rows, or any labels (strings included), mapped to the
model's classes and back.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import warnings
import zipfile
from typing import Any, Iterable, Sequence

import numpy as np

from . import _channels, _values
from ._dml import DMLError, ConvertedModel

__all__ = ["Keras2DML", "Caffe2DML", "ONNX2DML", "DistributedNotSupportedWarning"]

# Losses whose targets are classes (labels are mapped to class ids and back).
_CATEGORICAL = {"categorical_crossentropy", "categorical_hinge"}
_SPARSE = {"sparse_categorical_crossentropy"}
_BINARY = {"binary_crossentropy", "hinge", "squared_hinge"}

# SystemML's train_algo menu: Keras's fit, one update per epoch, and gradient accumulation over
# `parallel_batches` mini-batches (one after the other, or in a parfor).
_TRAIN_ALGOS = ("minibatch", "batch", "looped_minibatch", "allreduce_parallel_batches")

# SystemML options that are accepted (so its code runs) but change nothing here.
_IGNORED_OPTIONS = {
    "transferUsingDF": False,
    "lr_policy": "step",
    "weight_decay": 0,
    "regularization_type": "L2",
    "test_iter": None,
    "test_interval": None,
    "display": None,
}
_IGNORED_SET_OPTIONS = (
    "debug",
    "output_activations",
    "parfor_parameters",
    "inline_nn_library",
    "use_builtin_lstm_fn",
    "perform_fused_backward_update",
    "weight_parallel_batches",
)


class DistributedNotSupportedWarning(UserWarning):
    """A SparkSession was given: the dml engine runs on this machine, not on the cluster."""


def _is_spark(obj: Any) -> bool:
    t = type(obj)
    return t.__module__.startswith("pyspark") or t.__name__ in ("SparkSession", "SparkContext", "SQLContext")


def _is_keras_model(obj: Any) -> bool:
    return any(c.__module__.startswith("keras") and c.__name__ in ("Model", "Sequential", "Functional")
               for c in type(obj).__mro__)


class _hybridmethod:
    """A method that is a class method when called on the class and an instance method on an object."""

    def __init__(self, func: Any) -> None:
        self.func = func
        self.__doc__ = func.__doc__

    def __get__(self, obj: Any, cls: type) -> Any:
        target = cls if obj is None else obj

        def bound(*args: Any, **kwargs: Any) -> Any:
            return self.func(target, *args, **kwargs)

        bound.__doc__ = self.func.__doc__
        return bound


class Keras2DML:
    """A Keras model as a scikit-learn style estimator run by the dml engine.

    ``Keras2DML(model, input_shape=None, weights=None, labels=None, **options)``, also in
    SystemML's form ``Keras2DML(spark, model, input_shape=..., weights=...)``: a SparkSession (or
    None) first is accepted; training runs on this machine, and a real session gets a
    :class:`DistributedNotSupportedWarning` saying so.

    - ``model``: a compiled ``keras.Model`` (saved to a temporary ``.keras`` file, so Keras is
      needed only where the user has it anyway), or the path of a ``.keras`` / legacy ``.h5`` file.
    - ``input_shape``: optional; the model's own input shape is used. SystemML's channels-first
      ``(C, H, W)`` is accepted for a model whose input is ``(H, W, C)``: 2-D ``X`` is then read as
      rows of channels-first images (``input_layout="nchw"``).
    - ``weights``: a folder; the converted model (``train.dml``, ``predict.dml``, ``weights/``) is
      written there when converted and after each ``fit``. With ``load_keras_weights=False`` the
      starting weights are read from it instead of the Keras model.
    - ``labels``: the class labels in the order of the model's outputs (a sequence, or a file with
      one label per line or SystemML's ``index,label`` lines); by default taken from ``y`` at
      ``fit`` (class ids ``0..K-1`` when ``y`` holds such ids).
    - options (also via :meth:`set` / :meth:`set_params`): ``batch_size`` (32), ``epochs`` (1),
      ``max_iter`` (iterations; overrides ``epochs`` as in SystemML), ``validation_split``,
      ``shuffle`` (True), ``seed`` (None: a fresh one each fit), ``verbose`` (1),
      ``train_algo`` (SystemML's menu, see :meth:`set`), ``test_algo`` ('minibatch', 'batch' or 'allreduce'),
      ``parallel_batches``, ``perform_one_hot_encoding`` (True: labels are mapped to the model's
      targets), ``input_layout`` ('nhwc' or 'nchw' for 2-D ``X``).
    """

    # What subclasses for other frontends change: the name in messages, the arguments taken
    # positionally (after an optional spark), the parameters whose change converts afresh, the
    # settings file `save` writes.
    _name = "Keras2DML"
    _positional: tuple[str, ...] = ("model", "input_shape")
    _reconvert_keys: tuple[str, ...] = ("model", "weights", "load_keras_weights")
    _meta_file = "keras2dml.json"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        rest = list(args)
        spark = kwargs.pop("spark", None)
        first = self._positional[0]
        if rest and (rest[0] is None or _is_spark(rest[0])) and (len(rest) >= 2 or first in kwargs):
            spark = rest.pop(0)
        for name, value in zip(self._positional, rest):
            if name in kwargs:
                raise TypeError(f"{self._name} got `{name}` twice")
            kwargs[name] = value
        if len(rest) > len(self._positional):
            raise TypeError(
                f"{self._name} takes (spark, {', '.join(self._positional)}) positionally; pass the rest by name"
            )
        if spark is not None:
            warnings.warn(
                f"{self._name}: the SparkSession is not used: dml trains and predicts on this machine "
                "(distributed training over Spark is not available)",
                DistributedNotSupportedWarning,
                stacklevel=2,
            )
        self._native: ConvertedModel | None = None
        self._info: dict[str, Any] = {}
        self._nchw = False
        self._channels_first = False
        self._tmpdir: str | None = None
        self.classes_: np.ndarray | None = None
        self.history_: dict[str, list[float]] = {}
        self._params: dict[str, Any] = dict(self._defaults())
        self.set_params(**kwargs)

    # ----------------------------------------------------------------------------------------
    # Parameters (scikit-learn conventions)

    @staticmethod
    def _defaults() -> dict[str, Any]:
        return {
            "model": None,
            "input_shape": None,
            "weights": None,
            "labels": None,
            "load_keras_weights": True,
            "batch_size": 32,
            "epochs": 1,
            "max_iter": None,
            "validation_split": 0.0,
            "shuffle": True,
            "seed": None,
            "verbose": 1,
            "train_algo": "minibatch",
            "test_algo": "minibatch",
            "parallel_batches": None,
            "perform_one_hot_encoding": True,
            "input_layout": None,
            **_IGNORED_OPTIONS,
        }

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The estimator's parameters (scikit-learn's ``get_params``)."""
        return dict(self._params)

    def set_params(self, **params: Any) -> "Keras2DML":
        """Sets parameters (scikit-learn's ``set_params``); a new ``model`` is converted at once."""
        unknown = sorted(set(params) - set(self._params))
        if unknown:
            raise ValueError(f"{self._name} has no parameter {', '.join(map(repr, unknown))}")
        for k, v in params.items():
            if k in _IGNORED_OPTIONS and v != _IGNORED_OPTIONS[k]:
                warnings.warn(
                    f"Keras2DML: {k}={v!r} is SystemML's and has no effect here: the Keras model's own "
                    "optimizer, learning-rate schedule and regularizers are used",
                    stacklevel=3,
                )
        if "train_algo" in params and params["train_algo"] not in _TRAIN_ALGOS:
            raise ValueError(f"train_algo={params['train_algo']!r}: one of {', '.join(map(repr, _TRAIN_ALGOS))}")
        if "test_algo" in params and params["test_algo"] not in ("minibatch", "batch", "allreduce"):
            raise ValueError(f"test_algo={params['test_algo']!r}: 'minibatch', 'batch' or 'allreduce'")
        if "input_layout" in params and params["input_layout"] not in (None, "nhwc", "nchw"):
            raise ValueError("input_layout: 'nhwc' (Keras's) or 'nchw' (SystemML's channels first)")
        self._params.update(params)
        if "labels" in params:
            self.classes_ = None if params["labels"] is None else _read_labels(params["labels"])
        if any(k in params for k in self._reconvert_keys):
            if self._params[self._positional[0]] is not None:
                self._convert()
        elif "input_shape" in params and self._native is not None:
            self._check_input_shape()
        return self

    def __getattr__(self, name: str) -> Any:
        params = self.__dict__.get("_params")
        if params is not None and name in params:
            return params[name]
        raise AttributeError(name)

    def set(self, **options: Any) -> "Keras2DML":
        """SystemML's ``set(train_algo=, test_algo=, parallel_batches=, ...)``.

        ``train_algo``: 'minibatch' (Keras's fit), 'batch' (one update per epoch),
        'looped_minibatch' or 'allreduce_parallel_batches' (one update from the gradients of
        ``parallel_batches`` mini-batches, computed in turn or in parallel); ``test_algo``:
        'minibatch', 'batch' (all rows at once) or 'allreduce' (as minibatch); ``perform_one_hot_encoding=False`` passes
        ``y`` to the model as it is. SystemML's other options (debug, parfor_parameters, ...) are
        accepted and change nothing.
        """
        for k in list(options):
            if k in _IGNORED_SET_OPTIONS:
                options.pop(k)
        return self.set_params(**options)

    # SystemML's execution knobs: accepted so its code runs; the engine picks its own kernels.
    def setGPU(self, enable: bool) -> "Keras2DML":  # noqa: N802
        """Accepted for SystemML compatibility; this package runs on the CPU."""
        return self

    def setForceGPU(self, enable: bool) -> "Keras2DML":  # noqa: N802
        """Accepted for SystemML compatibility; this package runs on the CPU."""
        return self

    def setConfigProperty(self, key: str, value: Any) -> "Keras2DML":  # noqa: N802
        """Accepted for SystemML compatibility (no effect)."""
        return self

    def setStatistics(self, enable: bool) -> "Keras2DML":  # noqa: N802
        """Accepted for SystemML compatibility (no effect)."""
        return self

    def setStatisticsMaxHeavyHitters(self, n: int) -> "Keras2DML":  # noqa: N802
        """Accepted for SystemML compatibility (no effect)."""
        return self

    def setExplain(self, enable: bool) -> "Keras2DML":  # noqa: N802
        """Accepted for SystemML compatibility (no effect)."""
        return self

    # ----------------------------------------------------------------------------------------
    # Conversion

    def _convert(self) -> None:
        model = self._params["model"]
        self._channels_first = False
        if _is_keras_model(model) and _channels.is_channels_first(model):
            # SystemML's guides build channels-first models; the converter reads channels-last
            # ones, so the model's channels-last twin (same weights) is converted.
            self._channels_first = True
            model = _channels.to_channels_last(model)
        if isinstance(model, (str, os.PathLike)):
            path = os.fspath(model)
        elif _is_keras_model(model):
            self._tmpdir = self._tmpdir or tempfile.mkdtemp(prefix="dml_keras2dml_")
            path = os.path.join(self._tmpdir, "model.keras")
            if getattr(model, "optimizer", None) is None or getattr(model, "loss", None) is None:
                warnings.warn(
                    "Keras2DML: the Keras model is not compiled: predict works, fit needs compile(loss=, optimizer=)",
                    stacklevel=4,
                )
            model.save(path)
        else:
            raise TypeError(
                f"Keras2DML needs a keras.Model or the path of a .keras/.h5 file, not {type(model).__name__}"
            )
        self._native = ConvertedModel.load_keras(path)
        self._info = dict(self._native.info())
        problem = self._native.optimizer_warning()
        if problem:
            warnings.warn(f"Keras2DML: the saved optimizer state is not used ({problem}); training starts afresh", stacklevel=4)
        if len(self._info["output_shapes"]) != 1:
            raise DMLError("Keras2DML: only models with one output can be converted yet")
        self._check_input_shape()
        weights = self._params["weights"]
        if weights is not None:
            if not self._params["load_keras_weights"]:
                wdir = os.path.join(weights, "weights")
                self._native.read_weights(wdir if os.path.isdir(wdir) else weights)
            self._write_weights_dir()

    def _check_input_shape(self) -> None:
        shapes = [tuple(s) for s in self._info["input_shapes"]]
        given = self._params["input_shape"]
        layout = self._params["input_layout"]
        self._nchw = layout == "nchw" or (layout is None and self._channels_first)
        if given is None or len(shapes) != 1:
            return
        given = tuple(int(d) for d in given)
        own = shapes[0]
        if given == own:
            return
        if len(own) == 3 and given == (own[2], own[0], own[1]):
            # SystemML's (C, H, W) for a Keras (H, W, C) model.
            if self._params["input_layout"] is None and own[2] > 1:
                self._nchw = True
            return
        raise ValueError(f"input_shape={given} does not match the model's input {own} (or its channels-first form)")

    def _model(self) -> ConvertedModel:
        if self._native is None:
            raise ValueError("Keras2DML has no model: pass a keras.Model or a model file")
        return self._native

    def _write_weights_dir(self) -> None:
        weights = self._params["weights"]
        if weights is not None:
            self._model().write_dir(os.fspath(weights), self._script_options())

    def _script_options(self) -> dict[str, Any]:
        """The estimator's settings as the native training settings."""
        p = self._params
        seed = p["seed"]
        out = {
            "epochs": int(p["epochs"]),
            "batch_size": int(p["batch_size"]),
            "validation_split": float(p["validation_split"]),
            "shuffle": bool(p["shuffle"]),
            "seed": -1 if seed is None else int(seed),
            "train_algo": p["train_algo"],
            "test_algo": p["test_algo"],
            "verbose": bool(p["verbose"]),
        }
        if p["parallel_batches"] is not None:
            out["parallel_batches"] = int(p["parallel_batches"])
        return out

    # ----------------------------------------------------------------------------------------
    # Data

    @property
    def _outputs(self) -> tuple[int, int]:
        """(positions per example, classes or values per position) of the model's output."""
        shape = self._info["output_shapes"][0]
        last = shape[-1] if shape else 1
        return int(np.prod(shape)) // max(last, 1), int(last)

    def _x(self, X: Any, name: str = "X") -> np.ndarray:
        shapes = [tuple(s) for s in self._info["input_shapes"]]
        if len(shapes) > 1 and isinstance(X, (list, tuple)):
            if len(X) != len(shapes):
                raise ValueError(f"{name}: the model has {len(shapes)} inputs, got {len(X)} arrays")
            parts = [self._one_x(x, s, f"{name}[{i}]") for i, (x, s) in enumerate(zip(X, shapes))]
            return np.ascontiguousarray(np.hstack(parts))
        if len(shapes) > 1:
            widths = sum(int(np.prod(s)) for s in shapes)
            x = _as_array(X, name)
            if x.ndim != 2 or x.shape[1] != widths:
                raise ValueError(f"{name}: the model has {len(shapes)} inputs; pass a list of arrays")
            return _values.matrix(x, name)
        return self._one_x(X, shapes[0], name)

    def _one_x(self, X: Any, shape: tuple[int, ...], name: str) -> np.ndarray:
        x = _as_array(X, name)
        width = int(np.prod(shape))
        n = x.shape[0] if x.ndim else 0
        if x.ndim >= 2 and tuple(x.shape[1:]) == shape:
            x = x.reshape(n, width)
        elif x.ndim >= 2 and len(shape) == 3 and tuple(x.shape[1:]) == (shape[2], shape[0], shape[1]):
            x = np.transpose(x, (0, 2, 3, 1)).reshape(n, width)  # channels first (N, C, H, W)
        elif x.ndim == 2 and x.shape[1] == width:
            if self._nchw and len(shape) == 3:
                h, w, c = shape
                x = np.transpose(x.reshape(n, c, h, w), (0, 2, 3, 1)).reshape(n, width)
        elif x.ndim == 1 and width == 1:
            x = x.reshape(-1, 1)
        else:
            raise ValueError(
                f"{name}: shape {x.shape} does not fit the model's input {shape}: "
                f"pass (N, {', '.join(map(str, shape))}) or (N, {width})"
            )
        return _values.matrix(x, name)

    def _is_classifier(self) -> bool:
        loss = self._info.get("loss")
        lead, _ = self._outputs
        if lead != 1 or not self._params["perform_one_hot_encoding"]:
            return False
        return loss in _CATEGORICAL or loss in _SPARSE or (loss in _BINARY and self._outputs[1] == 1)

    def _n_classes(self) -> int:
        k = self._outputs[1]
        return 2 if k == 1 else k

    def _class_ids(self, y: np.ndarray, fitting: bool) -> np.ndarray:
        """Class ids 0..K-1 of labels `y` (1-D), fixing `classes_` at the first fit."""
        k = self._n_classes()
        if self.classes_ is None or (fitting and self._params["labels"] is None):
            if y.dtype.kind in "biuf" and np.all(np.mod(y, 1) == 0) and y.min() >= 0 and y.max() < k:
                self.classes_ = np.arange(k)
            else:
                classes = np.unique(y)
                if len(classes) > k:
                    raise ValueError(
                        f"y has {len(classes)} distinct labels but the model has {k} classes; "
                        "pass labels=[...] naming the model's classes in order"
                    )
                if len(classes) < k:
                    raise ValueError(
                        f"y has {len(classes)} distinct labels but the model has {k} classes: "
                        "pass labels=[...] naming all of them in the order of the model's outputs"
                    )
                self.classes_ = classes
        classes = np.asarray(self.classes_)
        if classes.dtype.kind in "biuf" and np.array_equal(classes, np.arange(len(classes))) and y.dtype.kind in "biuf":
            ids = y.astype(np.int64)
            if ids.min() < 0 or ids.max() >= len(classes):
                raise ValueError(f"class ids must lie in 0..{len(classes) - 1}")
            return ids
        lookup = {c: i for i, c in enumerate(classes.tolist())}
        try:
            return np.array([lookup[v] for v in y.tolist()], dtype=np.int64)
        except KeyError as e:
            raise ValueError(f"label {e.args[0]!r} is not one of the model's classes {classes.tolist()}") from None

    def _y(self, y: Any, fitting: bool, name: str = "y") -> np.ndarray:
        y = _as_array(y, name)
        n = y.shape[0]
        lead, last = self._outputs
        loss = self._info.get("loss")
        if loss is None:
            raise DMLError("the model was saved without compile settings (loss and optimizer); compile it first")
        if not self._is_classifier():
            return _values.matrix(y.reshape(n, -1), name)
        one_hot = y.ndim == 2 and y.shape[1] == last and last > 1
        if loss in _SPARSE:
            ids = np.argmax(y, axis=1) if one_hot else self._class_ids(y.reshape(-1), fitting)
            if one_hot and self.classes_ is None:
                self.classes_ = np.arange(last)
            return _values.matrix(ids.astype(np.float64).reshape(-1, 1), name)
        if loss in _BINARY:
            if y.ndim == 2 and y.shape[1] == 1 and y.dtype.kind == "f" and not np.all(np.isin(y, (0.0, 1.0))):
                return _values.matrix(y, name)  # soft targets
            ids = self._class_ids(y.reshape(-1), fitting)
            if loss != "binary_crossentropy":
                ids = 2 * ids - 1  # hinge losses take -1/1
            return _values.matrix(ids.astype(np.float64).reshape(-1, 1), name)
        if one_hot:
            if self.classes_ is None:
                self.classes_ = np.arange(last)
            return _values.matrix(y, name)
        ids = self._class_ids(y.reshape(-1), fitting)
        out = np.zeros((n, last))
        out[np.arange(n), ids] = 1.0
        return out

    # ----------------------------------------------------------------------------------------
    # Training

    def _callbacks(self, callbacks: Iterable[Any] | None) -> dict[str, Any]:
        """Keras callbacks as training settings; checkpoints under ``"_checkpoints"``."""
        out: dict[str, Any] = {"_checkpoints": []}
        for cb in callbacks or ():
            kind = type(cb).__name__
            if kind == "EarlyStopping":
                out["early_stopping"] = _early_stopping(cb)
            elif kind == "ReduceLROnPlateau":
                out["reduce_lr"] = _reduce_lr(cb)
            elif kind == "CSVLogger":
                if getattr(cb, "append", False):
                    raise NotImplementedError("CSVLogger(append=True) is not supported")
                out["log"] = os.fspath(cb.filename)
            elif kind == "ModelCheckpoint":
                out["_checkpoints"].append(_checkpoint(cb))
            elif kind in ("History", "ProgbarLogger"):
                continue
            else:
                raise NotImplementedError(
                    f"callback {kind} is not supported: Keras2DML runs EarlyStopping, ReduceLROnPlateau, "
                    "CSVLogger and ModelCheckpoint"
                )
        return out

    def fit(
        self,
        X: Any,
        y: Any = None,
        batch_size: int | None = None,
        epochs: int | None = None,
        verbose: int | None = None,
        callbacks: Sequence[Any] | None = None,
        validation_split: float | None = None,
        validation_data: tuple[Any, ...] | None = None,
        shuffle: bool | None = None,
        **unsupported: Any,
    ) -> "Keras2DML":
        """Trains the model as Keras's ``fit`` does and returns ``self``.

        Arguments left out take the estimator's settings (Keras's defaults: batch 32, 1 epoch,
        shuffled). ``validation_split`` takes the last rows, as Keras; ``validation_data`` is
        ``(X_val, y_val)``. ``callbacks``: ``keras.callbacks.EarlyStopping``, ``ReduceLROnPlateau``
        and ``CSVLogger`` as Keras 3 runs them, and ``ModelCheckpoint`` (one file, written after
        training with the final weights; ``save_best_only`` is not supported). The optimizer's
        state (step count, moments) carries over from one ``fit`` to the next, as in Keras. Each
        epoch prints Keras's progress line. The history is ``self.history_`` (``{"loss": [...],
        "val_loss": [...], ...}``); trained weights stay in the estimator (``predict``, ``save``,
        ``to_keras``). Ctrl-C stops training and leaves the weights as they were.
        """
        for k, v in unsupported.items():
            if v is not None and not (k == "initial_epoch" and v == 0):
                raise NotImplementedError(f"fit({k}=...) is not supported by Keras2DML")
        if y is None:
            raise ValueError("fit needs y")
        native = self._model()
        p = self._params
        batch_size = int(batch_size if batch_size is not None else p["batch_size"])
        validation_split = float(validation_split if validation_split is not None else p["validation_split"])
        shuffle = bool(shuffle if shuffle is not None else p["shuffle"])
        verbose = verbose if verbose is not None else p["verbose"]
        x = self._x(X)
        yy = self._y(y, fitting=True)
        if x.shape[0] != yy.shape[0]:
            raise ValueError(f"X has {x.shape[0]} rows and y {yy.shape[0]}")
        x_val = y_val = None
        if validation_data is not None:
            if len(validation_data) not in (2, 3) or (len(validation_data) == 3 and validation_data[2] is not None):
                raise NotImplementedError("validation_data is (X_val, y_val); sample weights are not supported")
            x_val = self._x(validation_data[0], "validation_data[0]")
            y_val = self._y(validation_data[1], fitting=False, name="validation_data[1]")
            validation_split = 0.0
        if epochs is None:
            epochs = p["epochs"]
            if p["max_iter"] is not None:
                n_train = x.shape[0] if x_val is not None else math.floor(x.shape[0] * (1 - validation_split))
                steps = max(1, math.ceil(n_train / batch_size))
                if p["train_algo"] == "batch":
                    steps = 1
                elif p["train_algo"] != "minibatch":
                    steps = max(1, math.ceil(steps / int(p["parallel_batches"] or 4)))
                epochs = max(1, math.ceil(int(p["max_iter"]) / steps))
        settings = self._script_options()
        settings.update(self._callbacks(callbacks))
        checkpoints = settings.pop("_checkpoints")
        settings.update(
            epochs=int(epochs),
            batch_size=batch_size,
            validation_split=validation_split,
            shuffle=shuffle,
            verbose=bool(verbose),
        )
        history = native.fit(x, yy, x_val, y_val, settings)
        self.history_ = {k: list(v) for k, v in history.items()}
        for path in checkpoints:
            self._checkpoint(path)
        self._write_weights_dir()
        return self

    def _checkpoint(self, cb: dict[str, Any]) -> None:
        epochs = len(self.history_.get("loss", [])) or 1
        logs = {k: v[-1] for k, v in self.history_.items() if v}
        path = os.fspath(cb["filepath"]).format(epoch=epochs, **logs)
        tmp = tempfile.mkdtemp(prefix="dml_ckpt_")
        try:
            full = os.path.join(tmp, "model.keras")
            self._model().save_keras(full)
            if cb["save_weights_only"]:
                with zipfile.ZipFile(full) as z, open(path, "wb") as f:
                    f.write(z.read("model.weights.h5"))
            else:
                shutil.move(full, path)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    # ----------------------------------------------------------------------------------------
    # Prediction

    def _test_batch(self, n: int, batch_size: int | None) -> int:
        if batch_size is not None:
            return int(batch_size)
        return max(1, n) if self._params["test_algo"] == "batch" else int(self._params["batch_size"])

    def predict_proba(self, X: Any, batch_size: int | None = None) -> np.ndarray:
        """The model's output for each example (Keras's ``model.predict``: probabilities for a
        softmax or sigmoid output), as an ``(N, outputs)`` float64 array."""
        x = self._x(X)
        algo = "batch" if self._params["test_algo"] == "batch" and batch_size is None else "minibatch"
        return self._model().predict(x, batch_size=self._test_batch(x.shape[0], batch_size), test_algo=algo)

    def predict(self, X: Any, batch_size: int | None = None) -> np.ndarray:
        """The predicted class label of each example for a classifier (mapped back to the labels
        of ``y`` or ``labels``), the model's output for a regression (1-D for one output)."""
        out = self.predict_proba(X, batch_size)
        if not self._is_classifier():
            return out.reshape(-1) if out.shape[1] == 1 else out
        if self._outputs[1] == 1:
            threshold = 0.0 if self._info.get("from_logits") or self._info["loss"] != "binary_crossentropy" else 0.5
            ids = (out[:, 0] > threshold).astype(np.int64)
        else:
            ids = np.argmax(out, axis=1)
        classes = self.classes_ if self.classes_ is not None else np.arange(self._n_classes())
        return np.asarray(classes)[ids]

    transform = predict

    def evaluate(
        self,
        X: Any,
        y: Any,
        batch_size: int | None = None,
        verbose: int | None = None,
        return_dict: bool = False,
    ) -> Any:
        """Keras's ``evaluate``: the loss (regularization included) and the compiled metrics, in
        inference mode: a float without metrics, else ``[loss, metric, ...]`` (a dict with
        ``return_dict=True``)."""
        x = self._x(X)
        yy = self._y(y, fitting=False)
        res = dict(self._model().evaluate(x, yy, batch_size=self._test_batch(x.shape[0], batch_size)))
        if return_dict:
            return res
        values = list(res.values())
        return values[0] if len(values) == 1 else values

    def score(self, X: Any, y: Any) -> float:
        """Accuracy for a classifier (SystemML's and scikit-learn's ``score``), R² for a regression."""
        pred = self.predict(X)
        if self._is_classifier():
            truth = _as_array(y, "y")
            lead, last = self._outputs
            if truth.ndim == 2 and truth.shape[1] == last and last > 1:
                truth = np.asarray(self.classes_ if self.classes_ is not None else np.arange(last))[
                    np.argmax(truth, axis=1)
                ]
            return float(np.mean(pred.reshape(-1) == truth.reshape(-1)))
        truth = _as_array(y, "y").reshape(pred.shape).astype(np.float64)
        ss_res = float(np.sum((truth - pred) ** 2))
        ss_tot = float(np.sum((truth - truth.mean(axis=0)) ** 2))
        return 1.0 - ss_res / ss_tot if ss_tot > 0 else 0.0

    # ----------------------------------------------------------------------------------------
    # Scripts, summary, files

    def summary(self) -> None:
        """Prints the layer table as Keras's ``summary()`` does."""
        print(self._model().summary())

    def get_training_script(self) -> str:
        """The DML training script (reads ``$X``, ``$y`` and the weights folder, writes the trained
        weights: runnable with ``dml run train.dml -nvargs X=... y=...``)."""
        return self._model().training_script(self._script_options(), weights_dir=self._scripts_weights_dir())

    def get_prediction_script(self) -> str:
        """The DML prediction script (reads ``$X`` and the weights folder, writes ``$out``)."""
        return self._model().prediction_script(
            batch_size=int(self._script_options()["batch_size"]),
            test_algo=self._params["test_algo"],
            weights_dir=self._scripts_weights_dir(),
        )

    def _scripts_weights_dir(self) -> str:
        """The weights folder the scripts read (and the training script writes)."""
        return os.fspath(self._params["weights"]) + "/weights" if self._params["weights"] else "weights"

    def save(self, dir: str | os.PathLike[str]) -> "Keras2DML":
        """Writes the model into the folder ``dir``: ``train.dml``, ``predict.dml`` and ``weights/``
        (as ``dml convert keras`` writes them), ``model.keras`` (the Keras model with the current
        weights), ``labels.txt`` and the estimator's settings."""
        dir = os.fspath(dir)
        native = self._model()
        os.makedirs(os.path.dirname(os.path.abspath(dir)), exist_ok=True)
        native.write_dir(dir, self._script_options())
        sources = self._save_sources(dir)
        if self.classes_ is not None:
            with open(os.path.join(dir, "labels.txt"), "w", encoding="utf-8") as f:
                for c in np.asarray(self.classes_).tolist():
                    f.write(f"{c}\n")
        settings = {
            k: v
            for k, v in self._params.items()
            if k not in ("weights", "labels", *sources) and isinstance(v, (int, float, str, bool, type(None), list, tuple))
        }
        settings["classes_dtype"] = None if self.classes_ is None else np.asarray(self.classes_).dtype.str
        if type(self) is not Keras2DML:
            settings["_sources"] = sources
        with open(os.path.join(dir, self._meta_file), "w", encoding="utf-8") as f:
            json.dump(settings, f, indent=1)
        return self

    def _save_sources(self, dir: str) -> dict[str, str]:
        """Writes the model's own files into ``dir``: ``{parameter: file name}``."""
        self._model().save_keras(os.path.join(dir, "model.keras"))
        return {"model": "model.keras"}

    @_hybridmethod
    def load(target: Any, dir: str | os.PathLike[str], **_: Any) -> Any:
        """``Keras2DML.load(dir)``: a new estimator from a folder ``save`` wrote.
        ``model.load(dir)``: reads the weights (and labels) in ``dir`` into this estimator (a
        folder ``save`` or the training script wrote, SystemML's ``load(weights=dir)``)."""
        dir = os.fspath(dir)
        if isinstance(target, type):
            settings: dict[str, Any] = {}
            meta = os.path.join(dir, target._meta_file)
            if os.path.exists(meta):
                with open(meta, encoding="utf-8") as f:
                    settings = json.load(f)
            dtype = settings.pop("classes_dtype", None)
            sources = settings.pop("_sources", None)
            if sources is None:
                est = target(os.path.join(dir, "model.keras"), **{k: v for k, v in settings.items() if k in target._defaults()})
            else:
                kwargs = {k: v for k, v in settings.items() if k in target._defaults()}
                kwargs.update({k: os.path.join(dir, v) for k, v in sources.items()})
                est = target(**kwargs)
                wdir = os.path.join(dir, "weights")
                est._model().read_weights(wdir if os.path.isdir(wdir) else dir)
            est._load_labels(dir, dtype)
            return est
        wdir = os.path.join(dir, "weights")
        target._model().read_weights(wdir if os.path.isdir(wdir) else dir)
        target._load_labels(dir, None)
        return target

    def _load_labels(self, dir: str, dtype: str | None) -> None:
        path = os.path.join(dir, "labels.txt")
        if os.path.exists(path):
            labels = _read_labels(path)
            if dtype is not None and np.dtype(dtype).kind in "biuf":
                labels = labels.astype(dtype)
            self.classes_ = labels

    def to_keras(self) -> Any:
        """The Keras model with the current (trained) weights (needs Keras). The optimizer comes
        back as compiled, without the state of dml's training (its moments, step count)."""
        import keras

        tmp = tempfile.mkdtemp(prefix="dml_to_keras_")
        try:
            path = os.path.join(tmp, "model.keras")
            self._model().save_keras(path)
            with warnings.catch_warnings():
                # The file holds the optimizer as compiled, not a trained one's variables.
                warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
                trained = keras.saving.load_model(path)
            if self._channels_first:
                return _channels.to_channels_first(self._params["model"], trained)
            return trained
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def get_weights(self) -> dict[str, np.ndarray]:
        """Every parameter by its DML name, in the DML layout (copies)."""
        return dict(self._model().weights())

    def __repr__(self) -> str:
        name = self._info.get("name", "?")
        return f"{self._name}(model={name!r}, loss={self._info.get('loss')!r})"

    def __del__(self) -> None:
        tmp = self.__dict__.get("_tmpdir")
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


def _as_array(v: Any, name: str) -> np.ndarray:
    if hasattr(v, "to_numpy") and type(v).__module__.startswith("pandas"):
        v = v.to_numpy()
    a = np.asarray(v)
    if a.ndim == 0:
        raise ValueError(f"{name}: expected an array, got a scalar")
    return a


def _read_labels(labels: Any) -> np.ndarray:
    """Labels from a sequence or a file (one label a line, or SystemML's ``index,label``)."""
    if isinstance(labels, (str, os.PathLike)):
        rows = []
        with open(labels, encoding="utf-8") as f:
            for line in f:
                line = line.rstrip("\n")
                if not line:
                    continue
                idx, sep, label = line.partition(",")
                rows.append((int(idx), label) if sep and idx.strip().isdigit() else (len(rows), line))
        rows.sort()
        values = [label for _, label in rows]
        try:
            return np.array([int(v) for v in values])
        except ValueError:
            return np.array(values, dtype=object)
    return np.asarray(list(labels))


def _early_stopping(cb: Any) -> dict[str, Any]:
    """Keras 3's EarlyStopping as the converter runs it (every argument Keras has but verbose)."""
    return {
        "monitor": cb.monitor,
        "min_delta": abs(float(cb.min_delta)),
        "patience": int(cb.patience),
        "mode": getattr(cb, "mode", "auto"),
        "baseline": None if cb.baseline is None else float(cb.baseline),
        "restore_best_weights": bool(cb.restore_best_weights),
        "start_from_epoch": int(getattr(cb, "start_from_epoch", 0)),
    }


def _reduce_lr(cb: Any) -> dict[str, Any]:
    """Keras 3's ReduceLROnPlateau as the converter runs it."""
    return {
        "monitor": cb.monitor,
        "factor": float(cb.factor),
        "patience": int(cb.patience),
        "mode": cb.mode,
        "min_delta": float(cb.min_delta),
        "cooldown": int(cb.cooldown),
        "min_lr": float(cb.min_lr),
    }


def _checkpoint(cb: Any) -> dict[str, Any]:
    if getattr(cb, "save_best_only", False):
        raise NotImplementedError("ModelCheckpoint(save_best_only=True) is not supported yet")
    if getattr(cb, "save_freq", "epoch") != "epoch":
        raise NotImplementedError("ModelCheckpoint(save_freq=...) other than 'epoch' is not supported")
    path = os.fspath(cb.filepath)
    weights_only = bool(getattr(cb, "save_weights_only", False))
    if not weights_only and not path.endswith(".keras"):
        raise NotImplementedError("ModelCheckpoint writes .keras files (or .weights.h5 with save_weights_only)")
    if "{" in path:
        warnings.warn(
            "Keras2DML: ModelCheckpoint writes one file, after the last epoch (not one per epoch)",
            stacklevel=4,
        )
    return {"filepath": path, "save_weights_only": weights_only}


class _ForeignModel(Keras2DML):
    """What ONNX2DML and Caffe2DML share: the model's own input layout (no Keras channel
    transposes: ``X`` as ``(N, C, H, W)`` or its flattened NCHW rows), no Keras file to give back."""

    @staticmethod
    def _own_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
        """The input shape in the model's own layout: the converter keeps images as (H, W, C)
        inside, and reads rows in the framework's (C, H, W) order."""
        return (shape[2], shape[0], shape[1]) if len(shape) == 3 else shape

    def _check_input_shape(self) -> None:
        self._nchw = False
        given = self._params["input_shape"]
        shapes = [self._own_shape(tuple(s)) for s in self._info["input_shapes"]]
        if given is None or len(shapes) != 1:
            return
        if tuple(int(d) for d in given) != shapes[0]:
            raise ValueError(f"input_shape={tuple(given)} does not match the model's input {shapes[0]}")

    def _one_x(self, X: Any, shape: tuple[int, ...], name: str) -> np.ndarray:
        x = _as_array(X, name)
        shape = self._own_shape(shape)
        width = int(np.prod(shape))
        n = x.shape[0] if x.ndim else 0
        if x.ndim >= 2 and tuple(x.shape[1:]) == shape:
            x = x.reshape(n, width)
        elif x.ndim == 1 and width == 1:
            x = x.reshape(-1, 1)
        elif not (x.ndim == 2 and x.shape[1] == width):
            raise ValueError(
                f"{name}: shape {x.shape} does not fit the model's input {shape}: "
                f"pass (N, {', '.join(map(str, shape))}) or (N, {width})"
            )
        return _values.matrix(x, name)

    def _copy_source(self, key: str, dir: str, file_name: str) -> str:
        src = os.fspath(self._params[key])
        dst = os.path.join(dir, file_name)
        if os.path.abspath(src) != os.path.abspath(dst):
            shutil.copyfile(src, dst)
        return file_name

    def to_keras(self) -> Any:
        raise NotImplementedError(
            f"{self._name}.to_keras: the model is not a Keras model; save(dir) writes its scripts and weights"
        )


class ONNX2DML(_ForeignModel):
    """An ONNX model as a scikit-learn style estimator run by the dml engine (``dml convert onnx``).

    ``ONNX2DML(model_path, loss=None, optimizer="sgd", learning_rate=None, input_shape=None,
    weights=None, labels=None, **options)``; a SparkSession (or None) first is accepted as in
    :class:`Keras2DML`. An ONNX file holds no training settings: ``loss`` (a Keras loss name,
    e.g. ``"categorical_crossentropy"``) and ``optimizer`` (a Keras optimizer name) with its
    ``learning_rate`` make it trainable (fine-tuning the exported weights with Keras's ``fit``
    loop); without ``loss`` it only predicts. ``X`` is in the model's own layout: ``(N, C, H, W)``
    or its flattened rows. ``weights``, ``labels`` and the options are :class:`Keras2DML`'s.
    """

    _name = "ONNX2DML"
    _reconvert_keys = ("model", "weights", "loss", "optimizer", "learning_rate")
    _meta_file = "onnx2dml.json"

    @staticmethod
    def _defaults() -> dict[str, Any]:
        d = Keras2DML._defaults()
        del d["load_keras_weights"]
        d.update(loss=None, optimizer=None, learning_rate=None)
        return d

    def _convert(self) -> None:
        p = self._params
        model = p["model"]
        if not isinstance(model, (str, os.PathLike)):
            raise TypeError(f"ONNX2DML needs the path of an .onnx file, not {type(model).__name__}")
        lr = p["learning_rate"]
        self._native = ConvertedModel.load_onnx(
            os.fspath(model), loss=p["loss"], optimizer=p["optimizer"], learning_rate=None if lr is None else float(lr)
        )
        self._info = dict(self._native.info())
        if len(self._info["output_shapes"]) != 1:
            raise DMLError("ONNX2DML: only models with one output can be converted yet")
        self._check_input_shape()
        weights = p["weights"]
        if weights is not None:
            self._write_weights_dir()

    def fit(self, X: Any, y: Any = None, *args: Any, **kwargs: Any) -> "ONNX2DML":
        """Fine-tunes the model as Keras's ``fit`` does (see :meth:`Keras2DML.fit`); needs ``loss``."""
        if self._info.get("loss") is None:
            raise DMLError("ONNX2DML: an ONNX file has no training settings: pass loss= (and optimizer=) to train")
        super().fit(X, y, *args, **kwargs)
        return self

    def _save_sources(self, dir: str) -> dict[str, str]:
        return {"model": self._copy_source("model", dir, "model.onnx")}


class Caffe2DML(_ForeignModel):
    """SystemML's Caffe2DML: a Caffe network trained with its solver by the dml engine
    (``dml convert caffe``).

    ``Caffe2DML(solver, network, input_shape=None, weights=None, labels=None, **options)``, also
    SystemML's ``Caffe2DML(spark, solver, network, input_shape, weights)``.

    - ``solver``: the solver prototxt (SGD, Nesterov, AdaGrad, RMSProp, AdaDelta, Adam; its
      ``base_lr``, ``lr_policy``, ``momentum``, ``weight_decay``, ``max_iter``); ``network``: the
      net prototxt.
    - ``input_shape``: a Data layer's ``(C, H, W)`` (a prototxt does not say it).
    - ``weights``: a ``.caffemodel`` to start from, or a weights folder (as ``save`` writes it).
    - options: ``max_iter`` (the solver's when None), ``batch_size`` (for prediction: the net's
      test batch when None), ``test_algo``, ``labels``, ``verbose``.

    ``X`` is in Caffe's layout: ``(N, C, H, W)`` or its flattened rows; ``y`` what the loss layer
    reads (class labels for SoftmaxWithLoss, mapped to ids ``0..K-1`` as in :class:`Keras2DML`).
    ``fit`` runs Caffe's solver loop; ``history_`` holds ``iteration``, ``loss`` (each
    iteration's batch loss, without weight decay, as Caffe shows it) and ``lr``.
    """

    _name = "Caffe2DML"
    _positional = ("solver", "network", "input_shape", "weights")
    _reconvert_keys = ("solver", "network", "input_shape", "weights")
    _meta_file = "caffe2dml.json"

    # The Caffe loss layer as the Keras loss whose targets it reads.
    _LOSSES = {
        "softmax_with_loss": "sparse_categorical_crossentropy",
        "euclidean": "mean_squared_error",
        "sigmoid_cross_entropy": "binary_crossentropy",
    }

    @staticmethod
    def _defaults() -> dict[str, Any]:
        return {
            "solver": None,
            "network": None,
            "input_shape": None,
            "weights": None,
            "labels": None,
            "batch_size": None,
            "max_iter": None,
            "verbose": 0,
            "test_algo": "minibatch",
            "train_algo": "minibatch",
            "parallel_batches": None,
            "perform_one_hot_encoding": True,
            **_IGNORED_OPTIONS,
        }

    def set_params(self, **params: Any) -> "Caffe2DML":
        """Sets parameters (scikit-learn's ``set_params``); a new solver, network, input shape or
        weights converts afresh. ``train_algo`` other than 'minibatch' is accepted with a warning:
        Caffe's solver loop takes one mini-batch per iteration."""
        algo = params.get("train_algo", "minibatch")
        if algo != "minibatch" and algo in _TRAIN_ALGOS:
            warnings.warn(
                f"Caffe2DML: train_algo={algo!r} has no effect: the solver's loop takes one mini-batch per iteration",
                stacklevel=3,
            )
        super().set_params(**params)
        return self

    def _convert(self) -> None:
        p = self._params
        if p["network"] is None:
            raise ValueError("Caffe2DML needs network= (the net prototxt)")
        weights = p["weights"]
        caffemodel = None
        if weights is not None and os.path.isfile(os.fspath(weights)):
            caffemodel = os.fspath(weights)
        shape = None if p["input_shape"] is None else [int(d) for d in p["input_shape"]]
        self._native = ConvertedModel.load_caffe(
            os.fspath(p["network"]), solver=os.fspath(p["solver"]), weights=caffemodel, input_shape=shape
        )
        self._info = dict(self._native.info())
        self._info["loss"] = self._LOSSES.get(self._info.get("caffe_loss") or "")
        if len(self._info["output_shapes"]) != 1:
            raise DMLError("Caffe2DML: only networks with one output can be converted yet")
        if weights is not None and caffemodel is None:
            wdir = os.path.join(os.fspath(weights), "weights")
            self._native.read_weights(wdir if os.path.isdir(wdir) else os.fspath(weights))

    def _check_input_shape(self) -> None:
        self._nchw = False  # the loader took input_shape

    def _write_weights_dir(self) -> None:
        pass  # `weights` is what Caffe2DML starts from, not a folder it writes

    def _scripts_weights_dir(self) -> str:
        return "weights"

    def _script_options(self) -> dict[str, Any]:
        return {"batch_size": self._predict_batch(), "test_algo": self._params["test_algo"]}

    def _predict_batch(self) -> int:
        b = self._params["batch_size"] or self._info.get("caffe_test_batch_size") or self._info.get("caffe_batch_size")
        return int(b or 64)

    def _test_batch(self, n: int, batch_size: int | None) -> int:
        if batch_size is not None:
            return int(batch_size)
        return max(1, n) if self._params["test_algo"] == "batch" else self._predict_batch()

    def fit(  # type: ignore[override]
        self,
        X: Any,
        y: Any = None,
        max_iter: int | None = None,
        validation_data: tuple[Any, Any] | None = None,
        verbose: int | None = None,
    ) -> "Caffe2DML":
        """Trains with Caffe's solver loop for ``max_iter`` iterations (the estimator's, else the
        solver's), continuing the solver state across calls; returns ``self``. Mini-batches are
        taken in order, wrapping around, as Caffe's data layer does; ``validation_data`` is
        ``(X_val, y_val)``, tested every ``test_interval`` iterations as the solver says."""
        if y is None:
            raise ValueError("fit needs y")
        if self._info.get("loss") is None:
            raise DMLError("Caffe2DML: the network has no loss layer to train")
        x = self._x(X)
        yy = self._y(y, fitting=True)
        if x.shape[0] != yy.shape[0]:
            raise ValueError(f"X has {x.shape[0]} rows and y {yy.shape[0]}")
        x_val = y_val = None
        if validation_data is not None:
            x_val = self._x(validation_data[0], "validation_data[0]")
            y_val = self._y(validation_data[1], fitting=False, name="validation_data[1]")
        iters = max_iter if max_iter is not None else self._params["max_iter"]
        verbose = verbose if verbose is not None else self._params["verbose"]
        history = self._model().fit_caffe(
            x, yy, x_val, y_val, max_iter=None if iters is None else int(iters), verbose=bool(verbose)
        )
        self.history_ = {k: list(v) for k, v in history.items()}
        return self

    def evaluate(self, X: Any, y: Any, batch_size: int | None = None, verbose: int | None = None,
                 return_dict: bool = False) -> Any:
        """The loss layer's value over all rows in inference mode (Caffe's test loss, without weight
        decay), with the accuracy for SoftmaxWithLoss: ``[loss, accuracy]`` (a dict with
        ``return_dict=True``), a float for Euclidean loss."""
        kind = self._info.get("caffe_loss")
        if kind not in ("softmax_with_loss", "euclidean"):
            raise NotImplementedError(f"Caffe2DML.evaluate: not for a {kind} loss layer")
        p = self.predict_proba(X, batch_size)
        yy = self._y(y, fitting=False)
        if kind == "softmax_with_loss":
            ids = yy.reshape(-1).astype(np.int64)
            chosen = p[np.arange(len(ids)), ids]
            res = {
                "loss": float(-np.mean(np.log(np.maximum(chosen, np.finfo(np.float64).tiny)))),
                "accuracy": float(np.mean(np.argmax(p, axis=1) == ids)),
            }
        else:
            res = {"loss": float(np.sum((p - yy.reshape(p.shape)) ** 2) / (2 * p.shape[0]))}
        if return_dict:
            return res
        values = list(res.values())
        return values[0] if len(values) == 1 else values

    def _save_sources(self, dir: str) -> dict[str, str]:
        return {
            "network": self._copy_source("network", dir, "network.prototxt"),
            "solver": self._copy_source("solver", dir, "solver.prototxt"),
        }
