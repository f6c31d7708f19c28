"""MIFA: multimodal information fusion attention, DRIFA's cross-modality attention."""

import keras
from keras import ops

from keras_drifa import _checks
from keras_drifa.layers import _weight_arguments as weight_arguments
from keras_drifa.layers._projection import unstack
from keras_drifa.layers._validation import (
    check_units_match_channels,
    multimodal_channels,
)
from keras_drifa.layers.mgifa import MultimodalGlobalInformationFusionAttention
from keras_drifa.layers.mlifa import MultimodalLocalInformationFusionAttention


@keras.saving.register_keras_serializable(package="keras_drifa")
class MultimodalInformationFusionAttention(keras.layers.Layer):
    """Multimodal information fusion attention (MIFA), Dhar et al., WACV 2025.

    Computes ONE attention vector from all modalities (MGIFA for global, MLIFA for local
    information) and re-weights every modality with it:

        A     = sigmoid(gamma_g * MGIFA(xs) + gamma_l * MLIFA(xs))
        out_m = x_m * A * alpha_m

    The authors' code has two modalities; sums over modalities generalise it to M >= 1 and
    equal the code for M = 2. With `units == channels` and M modalities a MIFA has
    `(C^2 + C) + M (C^2 + C) + 1 + C + M C` parameters. Its own weights are `gamma_g`
    `(1, 1, 1, 1)`, `gamma_l` `(1, 1, 1, units)` and `alphas` `(M, 1, 1, channels)`
    (`alphas[m]` is the spec's `alpha_m`); `mgifa` and `mlifa` hold the rest.

    Args:
        units: size of the attention vector; must equal the channels (or be 1).
        kernel_initializer, bias_initializer: initializers of the kernels, applied to each
            projection's own shape as in `Dense` (Glorot uniform by default), and of the
            biases (zeros).
        kernel_regularizer, bias_regularizer: regularizers of the kernel and bias
            variables (none by default).
        **kwargs: standard layer arguments (`name`, `dtype`, ...).

    Input: a list of M >= 1 feature maps `(batch, height_m, width_m, channels)`; spatial
        sizes may differ, channels may not.
    Output: a list of M feature maps with the input shapes.

    Example:

    >>> import numpy as np
    >>> mifa = MultimodalInformationFusionAttention(units=8)
    >>> a, b = mifa([np.ones((2, 16, 16, 8), "float32"), np.ones((2, 8, 8, 8), "float32")])
    >>> a.shape, b.shape
    ((2, 16, 16, 8), (2, 8, 8, 8))
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
        self.mgifa = MultimodalGlobalInformationFusionAttention(
            units, name="mgifa", dtype=self.dtype_policy, **weight_arguments.passed_on(self)
        )
        self.mlifa = MultimodalLocalInformationFusionAttention(
            units, name="mlifa", dtype=self.dtype_policy, **weight_arguments.passed_on(self)
        )

    def build(self, input_shape):
        num_modalities, channels = multimodal_channels(self, input_shape)
        check_units_match_channels(self, self.units, channels)
        self.mgifa.build(input_shape)
        self.mlifa.build(input_shape)
        self.gamma_g = self.add_weight(shape=(1, 1, 1, 1), initializer="ones", name="gamma_g")
        self.gamma_l = self.add_weight(
            shape=(1, 1, 1, self.units), initializer="ones", name="gamma_l"
        )
        # alpha_m of the spec is alphas[m], (1, 1, channels): it broadcasts like (1, 1, 1, C).
        self.alphas = self.add_weight(
            shape=(num_modalities, 1, 1, channels), initializer="ones", name="alphas"
        )

    def call(self, inputs):
        inputs = list(inputs)
        attention = ops.sigmoid(
            self.gamma_g * self.mgifa(inputs) + self.gamma_l * self.mlifa(inputs)
        )
        return [x * attention * alpha for x, alpha in zip(inputs, unstack(self.alphas))]

    def compute_output_shape(self, input_shape):
        return [tuple(shape) for shape in input_shape]

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units})
        config.update(weight_arguments.config(self))
        return config


MIFA = MultimodalInformationFusionAttention
