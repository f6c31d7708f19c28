"""MFA: multi-branch fusion attention, DRIFA's single-modality attention."""

import keras
from keras import ops

from keras_drifa import _checks
from keras_drifa.layers import _weight_arguments as weight_arguments
from keras_drifa.layers._projection import unstack
from keras_drifa.layers._validation import (
    check_units_match_channels,
    feature_map_channels,
)
from keras_drifa.layers.clia import local_attention
from keras_drifa.layers.hifa import hidden_projections, hierarchical_pooling


@keras.saving.register_keras_serializable(package="keras_drifa")
class MultiBranchFusionAttention(keras.layers.Layer):
    """Multi-branch fusion attention (MFA), Dhar et al., WACV 2025.

    Combines a global branch (HIFA) and a local branch (CLIA) into one channel-attention
    vector and re-weights the input with it:

        A   = sigmoid(gamma_g * HIFA(x) + gamma_l * CLIA(x))
        out = x * A * alpha

    `gamma_g` `(1, 1, 1, 1)`, `gamma_l` `(1, 1, 1, units)` and `alpha` `(1, 1, 1, channels)`
    are trainable and start at one. With `units == channels` an MFA has
    `6 (C^2 + C) + 2 C^2 + C + 1 + 2 C` parameters.

    The branches' weights are stacked into three variables, so that a whole MFA has six
    (the optimizer's work and the traced graph grow with the number of variables):

    - `input_kernel` `(channels, 2 units)`: HIFA's conv_1 (first `units` columns) and
      CLIA's conv_1 (last `units`); both read the input, as one matrix product.
    - `kernels` `(6, units, units)`: HIFA's conv_2, conv_3, conv_4, the rows of HIFA's
      dense kernel for `p1` and for `p2`, and CLIA's conv_2.
    - `biases` `(7, units)`: HIFA's conv_1, CLIA's conv_1, HIFA's conv_2, conv_3, conv_4
      and dense, CLIA's conv_2.

    The numbers are those of `HierarchicalInformationFusionAttention` and
    `ChannelwiseLocalInformationAttention` holding the same weights.

    Args:
        units: size of the attention vector; must equal the input channels (the paper's
            setting) or be 1, because the attention vector multiplies the input.
        kernel_initializer, bias_initializer: initializers of the kernels, applied to each
            projection's own shape as in `Dense` (Glorot uniform by default), and of the
            biases (zeros).
        kernel_regularizer, bias_regularizer: regularizers of the kernel and bias
            variables (none by default).
        **kwargs: standard layer arguments (`name`, `dtype`, ...).

    Input shape: `(batch, height, width, channels)`.
    Output shape: same as the input.

    Example:

    >>> import numpy as np
    >>> mfa = MultiBranchFusionAttention(units=8)
    >>> mfa(np.ones((2, 16, 16, 8), "float32")).shape
    (2, 16, 16, 8)
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
        check_units_match_channels(self, self.units, channels)
        u = self.units
        self.input_kernel = weight_arguments.add_kernel(
            self, "input_kernel", (channels, 2 * u), [(channels, u)] * 2, axis=-1
        )
        self.kernels = weight_arguments.add_kernel(
            self, "kernels", (6, u, u), hidden_projections(u) + [(u, u)]
        )
        self.biases = weight_arguments.add_bias(self, "biases", (7, u), [(u,)] * 7)
        self.gamma_g = self.add_weight(shape=(1, 1, 1, 1), initializer="ones", name="gamma_g")
        self.gamma_l = self.add_weight(shape=(1, 1, 1, u), initializer="ones", name="gamma_l")
        self.alpha = self.add_weight(shape=(1, 1, 1, channels), initializer="ones", name="alpha")

    def call(self, inputs):
        kernels = unstack(self.kernels)
        b_hifa_1, b_clia_1, *b_hifa, b_clia_2 = unstack(self.biases)
        projected = ops.sigmoid(
            ops.matmul(inputs, self.input_kernel) + ops.concatenate([b_hifa_1, b_clia_1])
        )
        g1, c1 = ops.split(projected, 2, axis=-1)
        global_attention = hierarchical_pooling(g1, kernels[:5], b_hifa)
        local = local_attention(c1, kernels[5], b_clia_2)
        attention = ops.sigmoid(self.gamma_g * global_attention + self.gamma_l * local)
        return inputs * attention * self.alpha

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units})
        config.update(weight_arguments.config(self))
        return config


MFA = MultiBranchFusionAttention
