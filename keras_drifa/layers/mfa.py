"""MFA: multi-branch fusion attention, DRIFA's single-modality attention."""

import keras
from keras import ops

from keras_drifa.layers._validation import (
    check_positive_int,
    check_units_match_channels,
    feature_map_channels,
)
from keras_drifa.layers.clia import ChannelwiseLocalInformationAttention
from keras_drifa.layers.hifa import HierarchicalInformationFusionAttention


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

    Args:
        units: size of the attention vector; must equal the input channels (the paper's
            setting) or be 1, because the attention vector multiplies the input.
        **kwargs: standard layer arguments (`name`, `dtype`, ...).

    Input shape: `(batch, height, width, channels)`.
    Output shape: same as the input.

    Example:

    >>> import numpy as np
    >>> mfa = MultiBranchFusionAttention(units=8)
    >>> mfa(np.ones((2, 16, 16, 8), "float32")).shape
    (2, 16, 16, 8)
    """

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = check_positive_int(self.__class__.__name__, "units", units)
        self.hifa = HierarchicalInformationFusionAttention(
            units, name="hifa", dtype=self.dtype_policy
        )
        self.clia = ChannelwiseLocalInformationAttention(
            units, name="clia", dtype=self.dtype_policy
        )

    def build(self, input_shape):
        channels = feature_map_channels(self, input_shape)
        check_units_match_channels(self, self.units, channels)
        self.hifa.build(input_shape)
        self.clia.build(input_shape)
        self.gamma_g = self.add_weight(shape=(1, 1, 1, 1), initializer="ones", name="gamma_g")
        self.gamma_l = self.add_weight(
            shape=(1, 1, 1, self.units), initializer="ones", name="gamma_l"
        )
        self.alpha = self.add_weight(shape=(1, 1, 1, channels), initializer="ones", name="alpha")

    def call(self, inputs):
        attention = ops.sigmoid(
            self.gamma_g * self.hifa(inputs) + self.gamma_l * self.clia(inputs)
        )
        return inputs * attention * self.alpha

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units})
        return config


MFA = MultiBranchFusionAttention
