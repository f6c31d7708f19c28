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
    `ops.conv` unchanged, except strided 1x1 convolutions, which are a slice and a product
    at every size.
    """

    def convolution_op(self, inputs, kernel):
        height, width = inputs.shape[1:3]
        plain = (
            self.data_format == "channels_last"
            and tuple(self.dilation_rate) == (1, 1)
            and self.groups == 1
        )
        if plain and tuple(self.kernel_size) == (1, 1) and tuple(self.strides) != (1, 1):
            # A strided 1x1 convolution (the RRA shortcut) reads every s-th pixel: slice,
            # then multiply; "same" and "valid" agree for a 1x1 kernel. Besides saving the
            # convolution, this avoids a PyTorch 2.13 CPU bug: the backward pass of a
            # strided 1x1 conv2d on a channels-last input corrupts the heap for some batch
            # sizes (21, for one), crashing the process (tests/layers/test_conv.py).
            s_h, s_w = self.strides
            return ops.matmul(inputs[:, ::s_h, ::s_w, :], ops.reshape(kernel, kernel.shape[2:]))
        if (
            not plain
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
