"""HIFA: hierarchical information fusion attention, the global branch of MFA."""

import keras
from keras import ops

from keras_drifa.layers._projection import sigmoid_projection
from keras_drifa.layers._validation import check_positive_int, feature_map_channels


@keras.saving.register_keras_serializable(package="keras_drifa")
class HierarchicalInformationFusionAttention(keras.layers.Layer):
    """Hierarchical information fusion attention (HIFA), Dhar et al., WACV 2025.

    Four chained sigmoid 1x1 convolutions whose average- and max-pooled responses are fused
    hierarchically into one global channel-attention vector:

        g1 = conv_1(x);  g2 = conv_2(g1);  p1 = GAP(g1) + GMP(g2)
        g3 = conv_3(g1 + g2);  g4 = conv_4(g3);  p2 = GAP(g3) + GMP(g4)
        G  = dense(concat([p1, p2]))

    Every convolution and the dense layer have `units` outputs, a bias and a sigmoid.

    Args:
        units: size of the attention vector (the paper uses the input channel count).
        **kwargs: standard layer arguments (`name`, `dtype`, ...).

    Input shape: `(batch, height, width, channels)`.
    Output shape: `(batch, 1, 1, units)`, values in (0, 1).

    Example:

    >>> import numpy as np
    >>> layer = HierarchicalInformationFusionAttention(units=8)
    >>> layer(np.ones((2, 16, 16, 8), "float32")).shape
    (2, 1, 1, 8)
    """

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = check_positive_int(self.__class__.__name__, "units", units)
        self.conv_1 = sigmoid_projection(units, "conv_1", dtype=self.dtype_policy)
        self.conv_2 = sigmoid_projection(units, "conv_2", dtype=self.dtype_policy)
        self.conv_3 = sigmoid_projection(units, "conv_3", dtype=self.dtype_policy)
        self.conv_4 = sigmoid_projection(units, "conv_4", dtype=self.dtype_policy)
        self.dense = sigmoid_projection(units, "dense", dtype=self.dtype_policy)

    def build(self, input_shape):
        feature_map_channels(self, input_shape)
        hidden_shape = tuple(input_shape[:-1]) + (self.units,)
        self.conv_1.build(input_shape)
        for conv in (self.conv_2, self.conv_3, self.conv_4):
            conv.build(hidden_shape)
        self.dense.build((input_shape[0], 2 * self.units))

    def call(self, inputs):
        g1 = self.conv_1(inputs)
        g2 = self.conv_2(g1)
        p1 = ops.mean(g1, axis=(1, 2)) + ops.max(g2, axis=(1, 2))
        g3 = self.conv_3(g1 + g2)
        g4 = self.conv_4(g3)
        p2 = ops.mean(g3, axis=(1, 2)) + ops.max(g4, axis=(1, 2))
        attention = self.dense(ops.concatenate([p1, p2], axis=-1))
        return ops.expand_dims(ops.expand_dims(attention, 1), 1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1, 1, self.units)

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units})
        return config


HIFA = HierarchicalInformationFusionAttention
