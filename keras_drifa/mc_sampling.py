"""Switching Monte Carlo dropout sampling on at inference."""

import contextlib

from keras_drifa import _checks, _graph
from keras_drifa.layers.mc_dropout import MCDropout


def mc_dropout_layers(model):
    """Returns every `MCDropout` layer inside `model`, nested models and layers included."""
    return [layer for layer in _graph.all_layers(model) if isinstance(layer, MCDropout)]


@contextlib.contextmanager
def mc_sampling(model, enabled=True):
    """Context manager that turns Monte Carlo dropout sampling on for inference.

    Inside the block, every `MCDropout` layer of `model` (mode `"on_demand"`) drops units in
    `predict`, `evaluate` and direct calls, while batch normalisation stays in inference
    mode. The switch is state that compiled functions read at run time, so predict
    functions compiled before the block see it too, on every backend. The previous state is
    restored on exit, also after an exception.

    Args:
        model: a model or layer containing `MCDropout` layers.
        enabled: `False` forces deterministic inference inside the block. `True`, `False`
            or a NumPy bool; a string such as `"False"` is an error, not a truthy value.

    Raises:
        ValueError: if `model` has no `MCDropout` layer (sampling would be deterministic).

    Example:

    ```python
    model = keras_drifa.build_model(modalities=2, input_shape=(32, 32, 3), widths=(8, 8, 8, 8))
    with keras_drifa.mc_sampling(model):
        samples = [model.predict([x_a, x_b]) for _ in range(30)]
    ```
    """
    enabled = _checks.boolean("mc_sampling", "enabled", enabled)
    layers = mc_dropout_layers(model)
    if not layers:
        raise ValueError(
            f"mc_sampling: model '{model.name}' has no MCDropout layer, so Monte Carlo "
            "sampling would be deterministic; build it with dropout_rate > 0 or add "
            "keras_drifa.layers.MCDropout layers."
        )
    previous = [layer.sampling for layer in layers]
    for layer in layers:
        layer.set_sampling(enabled)
    try:
        yield model
    finally:
        for layer, state in zip(layers, previous):
            layer.set_sampling(state)
