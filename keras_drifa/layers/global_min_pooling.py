"""Global minimum pooling, the reduction that MGIFA adds to average and max pooling."""

import keras
from keras import ops

from keras_drifa import _checks


@keras.saving.register_keras_serializable(package="keras_drifa")
class GlobalMinPooling2D(keras.layers.Layer):
    """Global minimum pooling over the spatial axes of a 2-D feature map.

    The counterpart of `keras.layers.GlobalMaxPooling2D`; DRIFA-Net's MGIFA pools each
    modality with min, average and max pooling.

    Args:
        data_format: `"channels_last"` (default, `(batch, height, width, channels)`) or
            `"channels_first"`. `None` uses `keras.config.image_data_format()`.
        keepdims: keep the spatial axes with length 1.

    Input shape: 4-D `(batch, height, width, channels)` (channels last).
    Output shape: `(batch, channels)`, or `(batch, 1, 1, channels)` with `keepdims=True`.

    Example:

    >>> import numpy as np
    >>> x = np.arange(8, dtype="float32").reshape(1, 2, 2, 2)
    >>> np.asarray(GlobalMinPooling2D()(x)).tolist()
    [[0.0, 1.0]]
    """

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        data_format = data_format or keras.config.image_data_format()
        self.data_format = _checks.choice(
            "GlobalMinPooling2D", "data_format", data_format, ("channels_last", "channels_first")
        )
        self.keepdims = _checks.boolean("GlobalMinPooling2D", "keepdims", keepdims)
        self.input_spec = keras.layers.InputSpec(ndim=4)

    def call(self, inputs):
        axes = (1, 2) if self.data_format == "channels_last" else (2, 3)
        return ops.min(inputs, axis=axes, keepdims=self.keepdims)

    def compute_output_shape(self, input_shape):
        if self.data_format == "channels_last":
            batch, _, _, channels = input_shape
            return (batch, 1, 1, channels) if self.keepdims else (batch, channels)
        batch, channels, _, _ = input_shape
        return (batch, channels, 1, 1) if self.keepdims else (batch, channels)

    def get_config(self):
        config = super().get_config()
        config.update({"data_format": self.data_format, "keepdims": self.keepdims})
        return config
