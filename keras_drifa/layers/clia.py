"""CLIA: channel-wise local information attention, the local branch of MFA."""

import keras
from keras import ops

from keras_drifa import _checks
from keras_drifa.layers import _weight_arguments as weight_arguments
from keras_drifa.layers._projection import sigmoid_projection, unstack
from keras_drifa.layers._validation import feature_map_channels


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
        kernel_initializer, bias_initializer: initializers of the kernels, applied to each
            projection's own shape as in `Dense` (Glorot uniform by default), and of the
            biases (zeros).
        kernel_regularizer, bias_regularizer: regularizers of the kernel and bias
            variables (none by default).
        **kwargs: standard layer arguments (`name`, `dtype`, ...).

    Input shape: `(batch, height, width, channels)`.
    Output shape: `(batch, 1, 1, units)`.

    Example:

    >>> import numpy as np
    >>> layer = ChannelwiseLocalInformationAttention(units=8)
    >>> layer(np.ones((2, 16, 16, 8), "float32")).shape
    (2, 1, 1, 8)
    """

    def __init__(
        self, units, kernel_initializer="glorot_uniform", bias_initializer="zeros",
        kernel_regularizer=None, bias_regularizer=None, **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = _checks.positive_int(self.__class__.__name__, "units", units)
        weight_arguments.store(
            self, kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer
        )

    def build(self, input_shape):
        channels = feature_map_channels(self, input_shape)
        u = self.units
        self.input_kernel = weight_arguments.add_kernel(self, "input_kernel", (channels, u))
        self.kernel = weight_arguments.add_kernel(self, "kernel", (u, u))
        self.biases = weight_arguments.add_bias(self, "biases", (2, u), [(u,)] * 2)

    def call(self, inputs):
        b1, b2 = unstack(self.biases)
        c1 = sigmoid_projection(inputs, self.input_kernel, b1)
        return local_attention(c1, self.kernel, b2)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1, 1, self.units)

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units})
        config.update(weight_arguments.config(self))
        return config


CLIA = ChannelwiseLocalInformationAttention
