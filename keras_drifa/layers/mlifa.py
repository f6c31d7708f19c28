"""MLIFA: multimodal local information fusion attention, the local branch of MIFA."""

import keras
from keras import ops

from keras_drifa import _checks
from keras_drifa.layers import _weight_arguments as weight_arguments
from keras_drifa.layers._projection import sigmoid_projection, unstack
from keras_drifa.layers._validation import multimodal_channels


@keras.saving.register_keras_serializable(package="keras_drifa")
class MultimodalLocalInformationFusionAttention(keras.layers.Layer):
    """Multimodal local information fusion attention (MLIFA), Dhar et al., WACV 2025.

    One sigmoid 1x1 convolution per modality; the min, mean and max of each response are
    summed over the modalities:

        c_m = conv_m(x_m)
        L   = sum_m (min_hw(c_m) + mean_hw(c_m) + max_hw(c_m))

    Weights: `kernels` `(modalities, channels, units)` and `biases` `(modalities, units)`,
    the convolutions of the modalities in input order.

    Args:
        units: size of the attention vector (the paper uses the channel count).
        kernel_initializer, bias_initializer: initializers of the kernels, applied to each
            projection's own shape as in `Dense` (Glorot uniform by default), and of the
            biases (zeros).
        kernel_regularizer, bias_regularizer: regularizers of the kernel and bias
            variables (none by default).
        **kwargs: standard layer arguments (`name`, `dtype`, ...).

    Input: a list of M >= 1 feature maps `(batch, height_m, width_m, channels)`.
    Output shape: `(batch, 1, 1, units)`.

    Example:

    >>> import numpy as np
    >>> layer = MultimodalLocalInformationFusionAttention(units=8)
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
        self.num_modalities = None

    def build(self, input_shape):
        # One convolution per modality: their number is only known from the input list.
        self.num_modalities, channels = multimodal_channels(self, input_shape)
        m, u = self.num_modalities, self.units
        self.kernels = weight_arguments.add_kernel(
            self, "kernels", (m, channels, u), [(channels, u)] * m
        )
        self.biases = weight_arguments.add_bias(self, "biases", (m, u), [(u,)] * m)

    def call(self, inputs):
        if len(inputs) != self.num_modalities:
            raise ValueError(
                f"{self.__class__.__name__} '{self.name}' was built for {self.num_modalities} "
                f"modalities; received {len(inputs)} feature maps."
            )
        attention = 0
        kernels, biases = unstack(self.kernels), unstack(self.biases)
        for m, x in enumerate(inputs):
            c = sigmoid_projection(x, kernels[m], biases[m])
            attention += (
                ops.min(c, axis=(1, 2), keepdims=True)
                + ops.mean(c, axis=(1, 2), keepdims=True)
                + ops.max(c, axis=(1, 2), keepdims=True)
            )
        return attention

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], 1, 1, self.units)

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units})
        config.update(weight_arguments.config(self))
        return config


MLIFA = MultimodalLocalInformationFusionAttention
