"""`ImageNetPreprocessing`: images in [0, 1] to what an ImageNet-trained backbone expects."""

import keras
from keras import ops

from keras_drifa import _checks

# keras.applications' preprocess_input conventions, restated for images in [0, 1] rather than
# [0, 255]: "caffe" (ResNet), "tf" (ResNetV2, MobileNet v1/v2), "torch" (DenseNet); "pixels"
# is for networks that normalise inside themselves and want raw [0, 255] pixels (EfficientNet,
# EfficientNetV2, MobileNetV3, ConvNeXt).
PREPROCESSING_MODES = ("caffe", "tf", "torch", "pixels")

_CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)
_TORCH_RGB_MEAN = (0.485, 0.456, 0.406)
_TORCH_RGB_STD = (0.229, 0.224, 0.225)


@keras.saving.register_keras_serializable(package="keras_drifa")
class ImageNetPreprocessing(keras.layers.Layer):
    """Maps RGB images in [0, 1] to the input range of an ImageNet-trained backbone.

    `build_model` puts one in front of each `keras.applications` backbone so that every
    DRIFA model takes images scaled to [0, 1], whichever backbone it uses. For an image
    `x` in [0, 1] it computes the same as `keras.applications.<family>.preprocess_input(255 * x)`:

    - `"caffe"` (ResNet): RGB to BGR, `255 x` minus the ImageNet mean pixel.
    - `"tf"` (ResNetV2, MobileNet, MobileNetV2): `2 x - 1`, in [-1, 1].
    - `"torch"` (DenseNet): `(x - mean) / std` with the ImageNet RGB statistics.
    - `"pixels"` (EfficientNet, EfficientNetV2, MobileNetV3, ConvNeXt, which normalise
      internally): `255 x`.

    Args:
        mode: one of `"caffe"`, `"tf"`, `"torch"`, `"pixels"`.
        **kwargs: standard layer arguments (`name`, `dtype`, ...).

    Input shape: `(batch, height, width, channels)` with values in [0, 1]; `"caffe"` and
        `"torch"` need 3 (RGB) channels.
    Output shape: same as the input.

    Example:

    >>> import numpy as np
    >>> layer = ImageNetPreprocessing("tf")
    >>> keras.ops.convert_to_numpy(layer(np.array([[[[0.0, 0.5, 1.0]]]], "float32"))).tolist()
    [[[[-1.0, 0.0, 1.0]]]]
    """

    def __init__(self, mode, **kwargs):
        super().__init__(**kwargs)
        self.mode = _checks.choice("ImageNetPreprocessing", "mode", mode, PREPROCESSING_MODES)

    def build(self, input_shape):
        channels = input_shape[-1]
        if self.mode in ("caffe", "torch") and channels != 3:
            raise ValueError(
                f"ImageNetPreprocessing '{self.name}': mode {self.mode!r} normalises with "
                f"per-channel ImageNet RGB statistics and needs 3 channels; received input "
                f"shape {tuple(input_shape)}."
            )

    def call(self, inputs):
        if self.mode == "caffe":
            bgr = ops.flip(inputs, axis=-1) * 255.0
            return bgr - ops.convert_to_tensor(_CAFFE_BGR_MEAN, dtype=self.compute_dtype)
        if self.mode == "tf":
            return inputs * 2.0 - 1.0
        if self.mode == "torch":
            mean = ops.convert_to_tensor(_TORCH_RGB_MEAN, dtype=self.compute_dtype)
            std = ops.convert_to_tensor(_TORCH_RGB_STD, dtype=self.compute_dtype)
            return (inputs - mean) / std
        return inputs * 255.0

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"mode": self.mode})
        return config
