"""The attention layers' `kernel_initializer`, `bias_initializer`, `kernel_regularizer` and
`bias_regularizer`: stored, serialised and applied the same way in every layer, as
keras-hub's layers do (`keras.initializers.get` / `serialize`)."""

import random

import keras

from keras_drifa.layers import _initializers

NAMES = ("kernel_initializer", "bias_initializer", "kernel_regularizer", "bias_regularizer")


def store(layer, kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer):
    """Sets the four attributes of `layer` from its arguments."""
    layer.kernel_initializer = _initializers.get(kernel_initializer)
    layer.bias_initializer = _initializers.get(bias_initializer)
    layer.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
    layer.bias_regularizer = keras.regularizers.get(bias_regularizer)


def config(layer):
    """The four, serialised for `get_config`."""
    return {
        "kernel_initializer": keras.initializers.serialize(layer.kernel_initializer),
        "bias_initializer": keras.initializers.serialize(layer.bias_initializer),
        "kernel_regularizer": keras.regularizers.serialize(layer.kernel_regularizer),
        "bias_regularizer": keras.regularizers.serialize(layer.bias_regularizer),
    }


def passed_on(layer):
    """The four as keyword arguments of a sublayer (each sublayer clones the initializers
    per weight)."""
    return {name: getattr(layer, name) for name in NAMES}


def add_kernel(layer, name, shape, projections=None, axis=0):
    """A kernel variable of `layer` holding `projections` (their own shapes; default one
    projection of `shape`), stacked along the first axis or concatenated along the last
    (`axis=-1`); see `_initializers.projections`."""
    return layer.add_weight(
        shape=shape,
        initializer=_initializers.projections(
            layer.kernel_initializer, projections or [shape], axis
        ),
        regularizer=layer.kernel_regularizer,
        name=name,
    )


def add_bias(layer, name, shape, projections=None):
    """A bias variable of `layer` holding `projections`, stacked along the first axis."""
    return layer.add_weight(
        shape=shape,
        initializer=_initializers.projections(layer.bias_initializer, projections or [shape]),
        regularizer=layer.bias_regularizer,
        name=name,
    )


# Layers built of Keras sublayers (`Dense`, `MultiHeadAttention`: the fusion baselines)
# give each sublayer a fresh copy of the initializer, made when the sublayer is, as the
# sublayer's own default would be: an unseeded Keras initializer takes its seed from
# Python's `random` when it is created, so an extra one created earlier would shift every
# later draw and change the default weights.


def store_for_sublayers(
    layer, kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer
):
    """Sets the four attributes of `layer` (Keras initializers and regularizers); creating
    the initializers here draws nothing from Python's `random`."""
    state = random.getstate()
    try:
        layer.kernel_initializer = keras.initializers.get(kernel_initializer)
        layer.bias_initializer = keras.initializers.get(bias_initializer)
    finally:
        random.setstate(state)
    layer.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
    layer.bias_regularizer = keras.regularizers.get(bias_regularizer)


def for_sublayer(layer):
    """The four as keyword arguments of one new sublayer of `layer` (a `Dense` or a
    `MultiHeadAttention`), with fresh copies of the initializers."""
    return {
        "kernel_initializer": _initializers.clone(layer.kernel_initializer),
        "bias_initializer": _initializers.clone(layer.bias_initializer),
        "kernel_regularizer": layer.kernel_regularizer,
        "bias_regularizer": layer.bias_regularizer,
    }
