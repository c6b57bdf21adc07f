"""Channels-first Keras models, as SystemML's guides build them (``K.set_image_data_format(
'channels_first')`` with ``input_shape=(1, 28, 28)``).

The converter reads channels-last models (Keras's default). A channels-first Sequential model is
the same computation as its channels-last twin with the same weights, except where a ``Flatten``
turns a ``(C, H, W)`` tensor into a row: the twin's cells come in ``(H, W, C)`` order, so the rows
of the next ``Dense`` kernel are reordered to match. :func:`to_channels_last` builds that twin for
the converter; :func:`to_channels_first` puts trained weights back into the user's model's form
(``Keras2DML.to_keras``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

# Layers whose meaning does not depend on the cell order of a flattened row: allowed between a
# Flatten and the Dense whose kernel rows are reordered.
_ELEMENTWISE = {
    "Dropout",
    "Activation",
    "ReLU",
    "LeakyReLU",
    "ELU",
    "Softmax",
    "GaussianNoise",
    "GaussianDropout",
    "AlphaDropout",
    "ActivityRegularization",
}


def is_channels_first(model: Any) -> bool:
    """Whether any layer of a Keras model computes channels first."""
    return any(getattr(layer, "data_format", None) == "channels_first" for layer in model.layers)


def _flatten_order(shape: tuple[int, ...]) -> np.ndarray:
    """For a channels-first tensor shape ``(C, *spatial)``: the channels-first flat index of each
    cell of the channels-last flat row, in channels-last order."""
    n = int(np.prod(shape))
    k = len(shape)
    return np.arange(n).reshape(shape).transpose(*range(1, k), 0).reshape(-1)


def _layer_plan(model: Any) -> list[tuple[Any, np.ndarray | None]]:
    """Each layer of a channels-first Sequential model with the row order of its kernel in the
    channels-last twin (None: unchanged).

    In the twin every tensor of rank 3 or more is the original's with its channels moved last.
    Keras's ``Flatten(data_format='channels_first')`` moves the channels last itself before
    flattening, so it flattens as the twin does; a ``Flatten`` left channels-last flattens the
    ``(C, H, W)`` cells in that order, which the next Dense's kernel rows are reordered for.
    """
    import keras

    if not isinstance(model, keras.Sequential):
        raise NotImplementedError(
            "Keras2DML: a channels-first functional model cannot be converted (only Sequential ones "
            "are rebuilt channels-last); build it with data_format='channels_last' (Keras's default)"
        )
    plan: list[tuple[Any, np.ndarray | None]] = []
    pending: np.ndarray | None = None
    for layer in model.layers:
        kind = type(layer).__name__
        shape = tuple(int(d) for d in layer.input.shape[1:])
        order = None
        if kind == "Flatten":
            if len(shape) >= 2 and layer.data_format == "channels_last":
                pending = _flatten_order(shape)
        elif kind == "Dense" and pending is not None:
            order, pending = pending, None
        elif pending is not None and kind not in _ELEMENTWISE:
            raise NotImplementedError(
                f"Keras2DML: layer {layer.name!r} ({kind}) after a Flatten of a channels-first tensor: "
                "the row order cannot be carried through it; build the model channels_last (Keras's default)"
            )
        elif len(shape) >= 2 and kind not in _ELEMENTWISE and not _follows_channels(layer):
            raise NotImplementedError(
                f"Keras2DML: layer {layer.name!r} ({kind}) of a channels-first model works on an axis "
                "that moves in its channels-last form; build the model channels_last (Keras's default)"
            )
        plan.append((layer, order))
    return plan


def _follows_channels(layer: Any) -> bool:
    """Whether a layer on a tensor of rank 3 or more is rebuilt channels-last by its settings."""
    if hasattr(layer, "data_format"):
        return True
    axis = getattr(layer, "axis", None)
    return type(layer).__name__ == "BatchNormalization" and axis in (1, [1])


def _channels_last_config(layer: Any) -> dict[str, Any]:
    config = layer.get_config()
    if config.get("data_format") == "channels_first":
        config["data_format"] = "channels_last"
    if type(layer).__name__ == "BatchNormalization" and config.get("axis") in (1, [1]):
        config["axis"] = -1
    return config


def to_channels_last(model: Any) -> Any:
    """The channels-last twin of a channels-first Sequential model: same layers, names, weights
    (Dense kernels after a Flatten with their rows reordered) and compile settings."""
    import keras

    plan = _layer_plan(model)
    shape = tuple(int(d) for d in model.inputs[0].shape[1:])
    last = shape[1:] + shape[:1] if len(shape) >= 2 else shape
    twin = keras.Sequential(name=model.name)
    twin.add(keras.Input(shape=last, dtype=model.inputs[0].dtype))
    for layer, _ in plan:
        twin.add(type(layer).from_config(_channels_last_config(layer)))
    for (layer, order), new in zip(plan, twin.layers):
        weights = layer.get_weights()
        if order is not None:
            weights[0] = weights[0][order]
        new.set_weights(weights)
    compiled = model.get_compile_config() if getattr(model, "compiled", False) else None
    if compiled:
        twin.compile_from_config(compiled)
    return twin


def to_channels_first(original: Any, trained: Any) -> Any:
    """``original`` (a channels-first Sequential model) rebuilt with the weights of ``trained``
    (its channels-last twin after training)."""
    import keras

    plan = _layer_plan(original)
    back = keras.models.clone_model(original)
    for (layer, order), new, src in zip(plan, back.layers, trained.layers):
        weights = src.get_weights()
        if order is not None:
            weights[0] = weights[0][np.argsort(order)]
        new.set_weights(weights)
    compiled = original.get_compile_config() if getattr(original, "compiled", False) else None
    if compiled:
        back.compile_from_config(compiled)
    return back
