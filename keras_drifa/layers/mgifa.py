"""MGIFA: multimodal global information fusion attention, the global branch of MIFA."""

import keras
from keras import ops

from keras_drifa import _checks
from keras_drifa.layers import _weight_arguments as weight_arguments
from keras_drifa.layers._projection import sigmoid_projection
from keras_drifa.layers._validation import multimodal_channels


@keras.saving.register_keras_serializable(package="keras_drifa")
class MultimodalGlobalInformationFusionAttention(keras.layers.Layer):
    """Multimodal global information fusion attention (MGIFA), Dhar et al., WACV 2025.

    Pools every modality globally with min, average and max pooling, sums each pooling over
    the modalities, and passes the three vectors through one shared sigmoid dense layer
    (weights `dense_kernel` `(channels, units)` and `dense_bias`):

        v_min = sum_m GMinP(x_m);  v_avg = sum_m GAP(x_m);  v_max = sum_m GMP(x_m)
        G = dense(v_min) + dense(v_avg) + dense(v_max)

    Args:
        units: size of the attention vector (the paper uses the channel count).
        kernel_initializer, bias_initializer: initializers of the kernels, applied to each
            projection's own shape as in `Dense` (Glorot uniform by default), and of the
            biases (zeros).
        kernel_regularizer, bias_regularizer: regularizers of the kernel and bias
            variables (none by default).
        **kwargs: standard layer arguments (`name`, `dtype`, ...).

    Input: a list of M >= 1 feature maps `(batch, height_m, width_m, channels)`; spatial
        sizes may differ between modalities, channels may not.
    Output shape: `(batch, 1, 1, units)`.

    Example:

    >>> import numpy as np
    >>> layer = MultimodalGlobalInformationFusionAttention(units=8)
    >>> layer([np.ones((2, 16, 16, 8), "float32"), np.ones((2, 8, 8, 8), "float32")]).shape
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
        _, channels = multimodal_channels(self, input_shape)
        self.dense_kernel = weight_arguments.add_kernel(
            self, "dense_kernel", (channels, self.units)
        )
        self.dense_bias = weight_arguments.add_bias(self, "dense_bias", (self.units,))

    def call(self, inputs):
        v_min = sum(ops.min(x, axis=(1, 2)) for x in inputs)
        v_avg = sum(ops.mean(x, axis=(1, 2)) for x in inputs)
        v_max = sum(ops.max(x, axis=(1, 2)) for x in inputs)
        # One product on the stacked poolings computes dense(v) for each of the three.
        pooled = ops.stack([v_min, v_avg, v_max], axis=1)
        attention = ops.sum(sigmoid_projection(pooled, self.dense_kernel, self.dense_bias), axis=1)
        return ops.reshape(attention, (-1, 1, 1, self.units))

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], 1, 1, self.units)

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units})
        config.update(weight_arguments.config(self))
        return config


MGIFA = MultimodalGlobalInformationFusionAttention
