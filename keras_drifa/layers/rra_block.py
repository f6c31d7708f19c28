"""RRA: the robust residual attention block, a ResNet basic block with MFA."""

import keras
from keras import ops

from keras_drifa import _checks
from keras_drifa.layers import _weight_arguments as weight_arguments
from keras_drifa.layers._conv import SmallMapConv2D
from keras_drifa.layers._initializers import clone
from keras_drifa.layers._validation import feature_map_channels
from keras_drifa.layers.mfa import MultiBranchFusionAttention
from keras_drifa.layers.synchronized_batch_norm import SynchronizedBatchNormalization


@keras.saving.register_keras_serializable(package="keras_drifa")
class RobustResidualAttentionBlock(keras.layers.Layer):
    """Robust residual attention (RRA) block, Dhar et al., WACV 2025.

    A ResNet basic block with an MFA after each 3x3 convolution:

        y = ReLU(BN(MFA(conv3x3(x, stride))))
        y = BN(MFA(conv3x3(y)))
        out = ReLU(y + shortcut(x))

    The shortcut is the identity when the stride is 1 and the channels already equal
    `filters`; otherwise it is a strided 1x1 convolution followed by batch normalisation.

    Args:
        filters: output channels.
        strides: stride of the first convolution and the shortcut (1 or 2 in DRIFA-Net).
        use_mfa: `False` removes both MFAs, leaving a plain ResNet basic block (the
            paper's ablation).
        batch_norm_momentum: momentum of the batch normalisation moving statistics.
        sync_batch_norm: `True` normalises with statistics of the global batch of every
            replica (`keras_drifa.layers.SynchronizedBatchNormalization`) when training on
            several devices; the same as `False` on one device.
        kernel_initializer, bias_initializer: initializers of the convolutions' and the
            MFAs' kernels (Glorot uniform by default, per projection) and biases (zeros).
        kernel_regularizer, bias_regularizer: regularizers of those kernels and biases
            (none by default; batch normalisation and the MFAs' gammas and alpha have none).
        **kwargs: standard layer arguments (`name`, `dtype`, ...).

    Input shape: `(batch, height, width, channels)`.
    Output shape: `(batch, ceil(height / strides), ceil(width / strides), filters)`.

    Example:

    >>> import numpy as np
    >>> block = RobustResidualAttentionBlock(filters=16, strides=2)
    >>> block(np.ones((2, 16, 16, 8), "float32")).shape
    (2, 8, 8, 16)
    """

    def __init__(
        self, filters, strides=1, use_mfa=True, batch_norm_momentum=0.99, sync_batch_norm=False,
        kernel_initializer="glorot_uniform", bias_initializer="zeros", kernel_regularizer=None,
        bias_regularizer=None, **kwargs,
    ):
        super().__init__(**kwargs)
        name = self.__class__.__name__
        self.filters = _checks.positive_int(name, "filters", filters)
        self.strides = _checks.positive_int(name, "strides", strides)
        self.use_mfa = _checks.boolean(name, "use_mfa", use_mfa)
        self.batch_norm_momentum = _checks.number(
            name, "batch_norm_momentum", batch_norm_momentum, 0, 1, open_high=True
        )
        self.sync_batch_norm = _checks.boolean(name, "sync_batch_norm", sync_batch_norm)
        weight_arguments.store(
            self, kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer
        )
        dtype = self.dtype_policy
        # Channels last whatever the global setting when the block is created: `build`
        # refuses channels-first, and the attention only works on channels-last maps.
        self.conv_1 = SmallMapConv2D(
            self.filters, 3, strides=self.strides, padding="same", data_format="channels_last",
            name="conv_1", dtype=dtype, **self._conv_weight_arguments(),
        )
        self.conv_2 = SmallMapConv2D(
            self.filters, 3, padding="same", data_format="channels_last",
            name="conv_2", dtype=dtype, **self._conv_weight_arguments(),
        )
        self.bn_1 = self._batch_norm("bn_1")
        self.bn_2 = self._batch_norm("bn_2")
        if self.use_mfa:
            self.mfa_1 = MultiBranchFusionAttention(
                self.filters, name="mfa_1", dtype=dtype, **weight_arguments.passed_on(self)
            )
            self.mfa_2 = MultiBranchFusionAttention(
                self.filters, name="mfa_2", dtype=dtype, **weight_arguments.passed_on(self)
            )
        self.shortcut_conv = None
        self.shortcut_bn = None

    def _conv_weight_arguments(self):
        # Each convolution its own copy of the initializers (one kernel each).
        return {
            "kernel_initializer": clone(self.kernel_initializer),
            "bias_initializer": clone(self.bias_initializer),
            "kernel_regularizer": self.kernel_regularizer,
            "bias_regularizer": self.bias_regularizer,
        }

    def _batch_norm(self, name):
        kind = (
            SynchronizedBatchNormalization if self.sync_batch_norm
            else keras.layers.BatchNormalization
        )
        return kind(momentum=self.batch_norm_momentum, name=name, dtype=self.dtype_policy)

    def build(self, input_shape):
        channels = feature_map_channels(self, input_shape)
        self.conv_1.build(input_shape)
        hidden_shape = self.conv_1.compute_output_shape(input_shape)
        self.conv_2.build(hidden_shape)
        for layer in (self.bn_1, self.bn_2) + ((self.mfa_1, self.mfa_2) if self.use_mfa else ()):
            layer.build(hidden_shape)
        # Whether a projection is needed depends on the input channels, known only here.
        if self.strides != 1 or channels != self.filters:
            self.shortcut_conv = SmallMapConv2D(
                self.filters, 1, strides=self.strides, data_format="channels_last",
                name="shortcut_conv", dtype=self.dtype_policy, **self._conv_weight_arguments(),
            )
            self.shortcut_bn = self._batch_norm("shortcut_bn")
            self.shortcut_conv.build(input_shape)
            self.shortcut_bn.build(hidden_shape)

    def call(self, inputs, training=None):
        y = self.conv_1(inputs)
        if self.use_mfa:
            y = self.mfa_1(y)
        y = ops.relu(self.bn_1(y, training=training))
        y = self.conv_2(y)
        if self.use_mfa:
            y = self.mfa_2(y)
        y = self.bn_2(y, training=training)
        shortcut = inputs
        if self.shortcut_conv is not None:
            shortcut = self.shortcut_bn(self.shortcut_conv(inputs), training=training)
        return ops.relu(y + shortcut)

    def compute_output_shape(self, input_shape):
        return self.conv_1.compute_output_shape(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "strides": self.strides,
                "use_mfa": self.use_mfa,
                "batch_norm_momentum": self.batch_norm_momentum,
                "sync_batch_norm": self.sync_batch_norm,
                **weight_arguments.config(self),
            }
        )
        return config


RRABlock = RobustResidualAttentionBlock
