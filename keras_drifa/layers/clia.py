"""CLIA: channel-wise local information attention, the local branch of MFA."""

import keras
from keras import ops

from keras_drifa.layers._projection import sigmoid_projection
from keras_drifa.layers._validation import check_positive_int, feature_map_channels


@keras.saving.register_keras_serializable(package="keras_drifa")
class ChannelwiseLocalInformationAttention(keras.layers.Layer):
    """Channel-wise local information attention (CLIA), Dhar et al., WACV 2025.

    Two sigmoid 1x1 convolutions, each followed by a spatial mean:

        l1 = mean_hw(conv_1(x))
        l2 = mean_hw(conv_2(l1))
        L  = l1 + l2

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
        self.conv_1 = sigmoid_projection(units, "conv_1", dtype=self.dtype_policy)
        self.conv_2 = sigmoid_projection(units, "conv_2", dtype=self.dtype_policy)

    def build(self, input_shape):
        feature_map_channels(self, input_shape)
        self.conv_1.build(input_shape)
        self.conv_2.build((input_shape[0], 1, 1, self.units))

    def call(self, inputs):
        l1 = ops.mean(self.conv_1(inputs), axis=(1, 2), keepdims=True)
        # conv_2 runs on the 1x1 map l1, so its spatial mean is the identity.
        l2 = self.conv_2(l1)
        return l1 + l2

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1, 1, self.units)

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units})
        return config


CLIA = ChannelwiseLocalInformationAttention
