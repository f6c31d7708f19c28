"""Initialisation of weights that stack several projections: Glorot uniform per projection,
and any Keras initializer applied to each projection's own shape."""

import math
import random

import keras
import numpy as np


def _fans(shape):
    """Keras's fans of one weight: `(in, out)` for a matrix, times the receptive field for a
    convolution kernel `(..., in, out)`; `(n, n)` for a vector `(n,)`."""
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[:-2]) if len(shape) > 2 else 1
    return shape[-2] * receptive, shape[-1] * receptive


@keras.saving.register_keras_serializable(package="keras_drifa")
class StackedGlorotUniform(keras.initializers.Initializer):
    """Glorot uniform, drawn per projection for weights that stack several of them.

    With `fans=None` it is `keras.initializers.GlorotUniform`'s distribution for the whole
    weight. With `fans=(fan_in, fan_out)`, every entry is drawn from `U(-l, l)`,
    `l = sqrt(6 / (fan_in + fan_out))`: the range `Dense` or `Conv2D` would use for one
    projection of those fans (Glorot on a stacked shape would count the stack in the fans).
    With `fans=[(fan_in, fan_out), ...]`, one pair per entry along the first axis, entry
    `i` gets the range of its own pair.

    The values are drawn on the host with NumPy, from a seed taken from Python's `random`
    (which `keras.utils.set_random_seed` seeds, so builds are reproducible). Drawing with
    the backend would compile a random-number kernel for every new weight shape on JAX,
    about 0.2 s each, which made building DRIFA-Net take 9 to 15 s.

    Args:
        fans: `None`, one `(fan_in, fan_out)` pair for the whole weight, or a list of
            pairs, one per entry along the first axis.
        seed: an integer for reproducible draws independent of the global seed.
    """

    def __init__(self, fans=None, seed=None):
        if fans is not None and all(isinstance(f, int) for f in fans):
            fans = tuple(fans)  # one pair for the whole weight
        elif fans is not None:
            fans = [tuple(int(f) for f in pair) for pair in fans]
        self.fans = fans
        self.seed = seed

    def __call__(self, shape, dtype=None):
        shape = tuple(int(s) for s in shape)
        if self.fans is None or isinstance(self.fans, tuple):
            limits = np.float64(math.sqrt(6.0 / sum(self.fans or _fans(shape))))
        else:
            if len(self.fans) != shape[0]:
                raise ValueError(
                    f"StackedGlorotUniform: {len(self.fans)} (fan_in, fan_out) pairs for a "
                    f"weight of shape {shape}; expected one per entry of its first axis "
                    f"({shape[0]})."
                )
            limits = np.array([math.sqrt(6.0 / (a + b)) for a, b in self.fans])
            limits = limits.reshape((-1,) + (1,) * (len(shape) - 1))
        seed = random.getrandbits(63) if self.seed is None else self.seed
        values = np.random.default_rng(seed).uniform(-1.0, 1.0, shape) * limits
        return keras.ops.convert_to_tensor(values, dtype=dtype or keras.config.floatx())

    def get_config(self):
        fans = self.fans if self.fans is None or isinstance(self.fans, tuple) else [
            list(pair) for pair in self.fans
        ]
        return {"fans": list(fans) if isinstance(fans, tuple) else fans, "seed": self.seed}


def get(identifier):
    """`keras.initializers.get(identifier)`, where `"glorot_uniform"` (the attention layers'
    default) is `StackedGlorotUniform()`: the same distribution, per projection, drawn on
    the host, and creating it draws no seed (so building a model consumes Python's random
    stream exactly as before these layers took initialisers)."""
    if identifier == "glorot_uniform":
        return StackedGlorotUniform()
    return keras.initializers.get(identifier)


def clone(initializer):
    """A fresh copy of `initializer`, as keras-hub's `clone_initializer`: an unseeded Keras
    initializer reused for several weights would give them all the same values."""
    if isinstance(initializer, keras.initializers.Initializer):
        return initializer.__class__.from_config(initializer.get_config())
    return initializer


_CONSTANT = (keras.initializers.Zeros, keras.initializers.Ones, keras.initializers.Constant)


def projections(initializer, shapes, axis=0):
    """An initializer for a weight that holds several projections, each initialised as a
    weight of its own shape would be (as a `Dense` or `Conv2D` of that shape).

    Args:
        initializer: a Keras initializer, from `get`.
        shapes: the projections' own shapes. With `axis=0` the weight stacks them along a
            new first axis; a projection whose first dimension is `k` times the entries'
            fills `k` consecutive entries (its rows, split). With `axis=-1` they are
            concatenated along the last axis.
        axis: `0` or `-1`, as above.

    A `StackedGlorotUniform` without fans draws the whole weight at once with each entry's
    Glorot range; constant initializers fill the whole weight; any other initializer is
    called once per projection (a fresh copy each time) and the values assembled.
    """
    shapes = [tuple(int(d) for d in s) for s in shapes]

    def initialize(shape, dtype=None):
        shape = tuple(int(s) for s in shape)
        if isinstance(initializer, StackedGlorotUniform) and initializer.fans is None:
            entry = math.prod(shape[1:]) if axis == 0 else None
            fans = [_fans(s) for s in shapes for _ in range(math.prod(s) // entry if entry else 1)]
            single = all(f == fans[0] for f in fans)
            if axis != 0 and not single:
                raise ValueError(
                    f"projections: StackedGlorotUniform concatenates only projections of "
                    f"equal fans along the last axis; received shapes {shapes}."
                )
            fans = fans[0] if single else fans
            return StackedGlorotUniform(fans, seed=initializer.seed)(shape, dtype)
        if isinstance(initializer, _CONSTANT):
            return initializer(shape, dtype)
        if shapes == [shape]:
            return clone(initializer)(shape, dtype)
        parts = [keras.ops.convert_to_numpy(clone(initializer)(s, dtype)) for s in shapes]
        if axis == 0:
            value = np.concatenate([p.reshape((-1,) + shape[1:]) for p in parts])
        else:
            value = np.concatenate(parts, axis=-1)
        return keras.ops.convert_to_tensor(value, dtype=dtype or keras.config.floatx())

    return initialize
