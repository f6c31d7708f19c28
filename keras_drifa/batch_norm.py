"""Batch normalisation statistics that match the weights: `recalibrate_batch_norm`."""

import keras
import numpy as np

from keras_drifa import _checks, _graph
from keras_drifa.backend import compilation
from keras_drifa.ensemble import MCDropoutEnsemble


def _batch_norm_layers(model):
    # Frozen batch normalisation runs in inference mode and keeps its statistics.
    return [
        layer
        for layer in _graph.all_layers(model)
        if isinstance(layer, keras.layers.BatchNormalization) and layer.trainable
    ]


def recalibrate_batch_norm(model, x, batch_size=32):
    """Re-estimates every batch normalisation layer's moving mean and variance from `x`.

    Keras's `BatchNormalization` keeps exponential moving averages of the batch
    statistics it saw during training, and uses them at inference (`predict`,
    `evaluate`, validation). While the weights still change quickly, those averages lag
    behind them: in a short training at a high learning rate, deterministic inference
    of DRIFA-Net (and of its baseline without attention) can drop from 98% to 56%
    accuracy between two epochs while the same weights with fresh statistics keep 100%
    (README, "Training recipe"). This
    function runs `model` over `x` in training mode, without changing any weight, and sets
    each layer's moving mean and variance to the average of its batch means and
    variances, as `torch.optim.swa_utils.update_bn` does. Frozen layers
    (`trainable=False`) are left alone.

    Args:
        model: a `keras.Model`, or a `keras_drifa.MCDropoutEnsemble` (every member is
            recalibrated).
        x: inputs as for `model.predict` (an array, a list, or a dict keyed by input
            name), e.g. a few hundred training examples. Only whole batches are used
            (all of `x` if it is smaller than one batch), so nothing recompiles.
        batch_size: examples per batch; the statistics are per batch, as in training.

    Returns:
        The number of layers recalibrated.

    Example:

    ```python
    model.fit(x_train, y_train, epochs=10)
    keras_drifa.recalibrate_batch_norm(model, [x_a[:512], x_b[:512]])
    probs = model.predict([x_a_test, x_b_test])
    ```
    """
    caller = "recalibrate_batch_norm"
    if not isinstance(model, keras.Model):
        raise ValueError(f"{caller}: model must be a keras.Model; received {type(model).__name__}.")
    batch_size = _checks.positive_int(caller, "batch_size", batch_size)
    if isinstance(model, MCDropoutEnsemble):
        members = model.members
        # An ensemble has no functional inputs of its own: each member is recalibrated on
        # `x`, given as to the ensemble (member 0's inputs), fed to it by input name.
        reference = _graph.functional(members[0]).inputs
        arrays = _model_arrays(caller, x, reference)
        by_name = dict(zip([t.name for t in reference], arrays))
        return sum(
            _recalibrate(
                member,
                arrays if len(arrays) == 1
                else [by_name[t.name] for t in _graph.functional(member).inputs],
                batch_size,
            )
            for member in members
        )
    return _recalibrate(model, _model_arrays(caller, x, model.inputs), batch_size)


def _model_arrays(caller, x, inputs):
    return _checks.input_arrays(
        caller,
        x,
        [t.name for t in inputs],
        [tuple(t.shape[1:]) for t in inputs],
        [keras.backend.standardize_dtype(t.dtype) for t in inputs],
    )


def _recalibrate(model, arrays, batch_size):
    layers = _batch_norm_layers(model)
    if not layers:
        return 0
    count = len(arrays[0])
    size = min(batch_size, count)
    starts = range(0, count - size + 1, size)

    def statistics():
        return [
            (keras.ops.convert_to_numpy(layer.moving_mean).astype(np.float64),
             keras.ops.convert_to_numpy(layer.moving_variance).astype(np.float64))
            for layer in layers
        ]

    sums = [[0.0, 0.0] for _ in layers]
    for start in starts:
        before = statistics()
        batch = [a[start : start + size] for a in arrays]
        compilation.forward(model, batch if len(batch) > 1 else batch[0], training=True)
        for total, layer, (mean_0, var_0), (mean_1, var_1) in zip(
            sums, layers, before, statistics()
        ):
            # moving = momentum * moving + (1 - momentum) * batch statistic
            keep = layer.momentum
            total[0] += (mean_1 - keep * mean_0) / (1 - keep)
            total[1] += (var_1 - keep * var_0) / (1 - keep)
    for (mean, var), layer in zip(sums, layers):
        layer.moving_mean.assign((mean / len(starts)).astype(layer.moving_mean.dtype))
        layer.moving_variance.assign(
            np.maximum(var / len(starts), 0).astype(layer.moving_variance.dtype)
        )
    return len(layers)
