"""Glorot-uniform initialisation for weights that stack several projections."""

import math
import random

import keras
import numpy as np


def _fans(shape):
    """Keras's fans of one weight: `(in, out)` for a matrix, times the receptive field for a
    convolution kernel `(..., in, out)`."""
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
