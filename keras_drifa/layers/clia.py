"""CLIA: channel-wise local information attention, the local branch of MFA."""

import keras
from keras import ops

from keras_drifa.layers._initializers import StackedGlorotUniform
from keras_drifa.layers._projection import sigmoid_projection, unstack
from keras_drifa.layers._validation import check_positive_int, feature_map_channels


def local_attention(c1, kernel, bias):
    """CLIA after its first projection `c1 = conv_1(x)`: `l1 + l2`, `(batch, 1, 1, units)`.

    `kernel` and `bias` are conv_2's.
    """
    l1 = ops.mean(c1, axis=(1, 2), keepdims=True)
    # conv_2 runs on the 1x1 map l1, so its spatial mean is the identity.
    return l1 + sigmoid_projection(l1, kernel, bias)


@keras.saving.register_keras_serializable(package="keras_drifa")
class ChannelwiseLocalInformationAttention(keras.layers.Layer):
    """Channel-wise local information attention (CLIA), Dhar et al., WACV 2025.

    Two sigmoid 1x1 convolutions, each followed by a spatial mean:

        l1 = mean_hw(conv_1(x))
        l2 = mean_hw(conv_2(l1))
        L  = l1 + l2

    Weights: `input_kernel` `(channels, units)` (conv_1), `kernel` `(units, units)`
    (conv_2), `biases` `(2, units)` (conv_1, conv_2).

    Args:
        units: size of the attention vector (the paper uses the input channel count).
        **kwargs: standard layer arguments (`name`, `dtype`, ...).

    Input shape: `(batch, height, width, channels)`.
    Output shape: `(batch, 1, 1, units)`.

    Example:

    >>> import numpy as np
    >>> layer = ChannelwiseLocalInformationAttention(units=8)
    >>> layer(np.ones((2, 16, 16, 8), "float32")).shape
    (2, 1, 1, 8)
    """

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = check_positive_int(self.__class__.__name__, "units", units)

    def build(self, input_shape):
        channels = feature_map_channels(self, input_shape)
        u = self.units
        self.input_kernel = self.add_weight(
            shape=(channels, u), initializer=StackedGlorotUniform(), name="input_kernel"
        )
        self.kernel = self.add_weight(
            shape=(u, u), initializer=StackedGlorotUniform(), name="kernel"
        )
        self.biases = self.add_weight(shape=(2, u), initializer="zeros", name="biases")

    def call(self, inputs):
        b1, b2 = unstack(self.biases)
        c1 = sigmoid_projection(inputs, self.input_kernel, b1)
        return local_attention(c1, self.kernel, b2)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1, 1, self.units)

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units})
        return config


CLIA = ChannelwiseLocalInformationAttention
