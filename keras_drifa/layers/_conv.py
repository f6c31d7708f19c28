"""`Conv2D` that computes convolutions over small feature maps as one matrix product."""

import keras
from keras import ops

# Maps up to this height and width are convolved by matrix product (see SmallMapConv2D).
SMALL_MAP = 4


@keras.saving.register_keras_serializable(package="keras_drifa")
class SmallMapConv2D(keras.layers.Conv2D):
    """`keras.layers.Conv2D` (channels last) that multiplies patches on small feature maps.

    On maps of at most `SMALL_MAP` x `SMALL_MAP` pixels, the convolution is computed by
    gathering the `k x k` shifted copies of the padded input into one `(batch, h, w,
    k*k*channels)` tensor and multiplying it with the kernel reshaped to `(k*k*channels,
    filters)`: the same weights and numbers as `ops.conv`. XLA's CPU convolution is
    pathologically slow when the map is smaller than the kernel (a 3x3 convolution over a
    2x2x512 map: 140 ms against 2.4 ms as a product, `benchmarks/small_map_conv.py`), and
    DRIFA-Net's last stage works on 2x2 maps at 64x64 inputs. Larger maps use
    `ops.conv` unchanged.
    """

    def convolution_op(self, inputs, kernel):
        height, width = inputs.shape[1:3]
        if (
            self.data_format != "channels_last"
            or tuple(self.dilation_rate) != (1, 1)
            or self.groups != 1
            or height is None
            or width is None
            or max(height, width) > SMALL_MAP
        ):
            return super().convolution_op(inputs, kernel)
        return _patch_product(inputs, kernel, tuple(self.strides), self.padding)


def _patch_product(inputs, kernel, strides, padding):
    """`ops.conv(inputs, kernel, strides, padding)` as one matrix product (channels last)."""
    k_h, k_w, channels, filters = kernel.shape
    height, width = inputs.shape[1:3]
    (s_h, s_w) = strides
    if padding == "same":
        out_h, out_w = -(-height // s_h), -(-width // s_w)
        pad_h = max((out_h - 1) * s_h + k_h - height, 0)
        pad_w = max((out_w - 1) * s_w + k_w - width, 0)
        # Keras (and TensorFlow) put the odd pixel of "same" padding after the map.
        inputs = ops.pad(
            inputs,
            ((0, 0), (pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2), (0, 0)),
        )
    else:
        out_h, out_w = (height - k_h) // s_h + 1, (width - k_w) // s_w + 1
    patches = [
        inputs[:, i : i + s_h * (out_h - 1) + 1 : s_h, j : j + s_w * (out_w - 1) + 1 : s_w, :]
        for i in range(k_h)
        for j in range(k_w)
    ]
    patches = patches[0] if len(patches) == 1 else ops.concatenate(patches, axis=-1)
    return ops.matmul(patches, ops.reshape(kernel, (k_h * k_w * channels, filters)))
