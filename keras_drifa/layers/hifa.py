"""HIFA: hierarchical information fusion attention, the global branch of MFA."""

import keras
from keras import ops

from keras_drifa import _checks
from keras_drifa.layers import _weight_arguments as weight_arguments
from keras_drifa.layers._projection import sigmoid_projection, unstack
from keras_drifa.layers._validation import feature_map_channels


def hierarchical_pooling(g1, kernels, biases):
    """HIFA after its first projection `g1 = conv_1(x)`: the global attention vector.

    `kernels`: conv_2, conv_3, conv_4, then the dense layer's rows for `p1` and for `p2`
    (each `(units, units)`); `biases`: conv_2, conv_3, conv_4, dense. Returns
    `(batch, 1, 1, units)`.
    """
    k2, k3, k4, k_dense_p1, k_dense_p2 = kernels
    b2, b3, b4, b_dense = biases
    g2 = sigmoid_projection(g1, k2, b2)
    p1 = ops.mean(g1, axis=(1, 2)) + ops.max(g2, axis=(1, 2))
    g3 = sigmoid_projection(g1 + g2, k3, b3)
    g4 = sigmoid_projection(g3, k4, b4)
    p2 = ops.mean(g3, axis=(1, 2)) + ops.max(g4, axis=(1, 2))
    # dense(concat([p1, p2])), with the dense kernel held as its two (units, units) halves.
    attention = ops.sigmoid(ops.matmul(p1, k_dense_p1) + ops.matmul(p2, k_dense_p2) + b_dense)
    return ops.reshape(attention, (-1, 1, 1, attention.shape[-1]))


def hidden_projections(units):
    """The projections in HIFA's stacked kernels: three 1x1 convolutions `(units, units)`,
    then the dense kernel `(2 units, units)`, held as its two halves."""
    return [(units, units)] * 3 + [(2 * units, units)]


@keras.saving.register_keras_serializable(package="keras_drifa")
class HierarchicalInformationFusionAttention(keras.layers.Layer):
    """Hierarchical information fusion attention (HIFA), Dhar et al., WACV 2025.

    Four chained sigmoid 1x1 convolutions whose average- and max-pooled responses are fused
    hierarchically into one global channel-attention vector:

        g1 = conv_1(x);  g2 = conv_2(g1);  p1 = GAP(g1) + GMP(g2)
        g3 = conv_3(g1 + g2);  g4 = conv_4(g3);  p2 = GAP(g3) + GMP(g4)
        G  = dense(concat([p1, p2]))

    Every convolution and the dense layer have `units` outputs, a bias and a sigmoid.
    Weights: `input_kernel` `(channels, units)` (conv_1); `kernels` `(5, units, units)`:
    conv_2, conv_3, conv_4, then the dense kernel's rows for `p1` and for `p2`; `biases`
    `(5, units)`: conv_1, conv_2, conv_3, conv_4, dense.

    Args:
        units: size of the attention vector (the paper uses the input channel count).
        kernel_initializer, bias_initializer: initializers of the kernels, applied to each
            projection's own shape as in `Dense` (Glorot uniform by default), and of the
            biases (zeros).
        kernel_regularizer, bias_regularizer: regularizers of the kernel and bias
            variables (none by default).
        **kwargs: standard layer arguments (`name`, `dtype`, ...).

    Input shape: `(batch, height, width, channels)`.
    Output shape: `(batch, 1, 1, units)`, values in (0, 1).

    Example:

    >>> import numpy as np
    >>> layer = HierarchicalInformationFusionAttention(units=8)
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
        self.kernels = weight_arguments.add_kernel(
            self, "kernels", (5, u, u), hidden_projections(u)
        )
        self.biases = weight_arguments.add_bias(self, "biases", (5, u), [(u,)] * 5)

    def call(self, inputs):
        b1, *biases = unstack(self.biases)
        g1 = sigmoid_projection(inputs, self.input_kernel, b1)
        return hierarchical_pooling(g1, unstack(self.kernels), biases)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1, 1, self.units)

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units})
        config.update(weight_arguments.config(self))
        return config


HIFA = HierarchicalInformationFusionAttention
