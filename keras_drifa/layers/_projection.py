"""The sigmoid 1x1 convolution used throughout DRIFA attention."""

import keras


def sigmoid_projection(units, name, dtype=None):
    """A 1x1 convolution with `units` filters, a bias and a sigmoid, as a `Dense` layer.

    A 1x1 convolution is a matrix product over the channel axis; `Dense` computes exactly
    that on a `(batch, height, width, channels)` input, with the same `channels * units +
    units` parameters and the same numbers; `benchmarks/pointwise_projection.py` times both
    forms side by side.
    """
    return keras.layers.Dense(units, activation="sigmoid", name=name, dtype=dtype)
