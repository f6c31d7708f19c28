"""Batch normalisation whose training statistics cover the global batch of every replica."""

import keras
from keras import ops

from keras_drifa.backend.collectives import cross_replica_sum


@keras.saving.register_keras_serializable(package="keras_drifa")
class SynchronizedBatchNormalization(keras.layers.BatchNormalization):
    """`keras.layers.BatchNormalization` with statistics of the global batch.

    Under data-parallel training each replica sees only its part of a batch, and
    `BatchNormalization` normalises with that part's mean and variance: with the small
    per-device batches of medical imaging these are noisy, and the model then trains
    differently from a one-device run of the same global batch. This layer sums the
    per-replica sums of `x` and `x**2` and the row counts over the replicas (one
    differentiable all-reduce each step, see `keras_drifa.distributed`) and normalises
    with the global mean and variance; the moving statistics follow them. On one device,
    and outside training, it computes exactly what `BatchNormalization` computes.

    On JAX with `keras.distribution` the jitted step already reduces over the global batch,
    so the two layers are the same there; on TensorFlow (`MirroredStrategy`) and PyTorch
    (`torch.distributed`) this layer adds the reduction. Channels-last inputs and the
    last axis only (`axis=-1`), as everywhere in DRIFA-Net.

    Args:
        **kwargs: the arguments of `keras.layers.BatchNormalization` (`momentum`,
            `epsilon`, `center`, `scale`, initialisers, ...), except `axis` (always -1),
            `synchronized` and `renorm`.

    Example:

    >>> import numpy as np
    >>> bn = SynchronizedBatchNormalization(momentum=0.9)
    >>> bn(np.ones((4, 8, 8, 3), "float32"), training=True).shape
    (4, 8, 8, 3)
    """

    def __init__(self, **kwargs):
        name = self.__class__.__name__
        for argument, allowed in (("axis", (-1,)), ("synchronized", (False,)), ("renorm", (False,))):
            if argument in kwargs and kwargs[argument] not in allowed:
                raise ValueError(
                    f"{name}: {argument}={kwargs[argument]!r} is not supported; this layer "
                    f"normalises the last axis over every replica (expected {argument}="
                    f"{allowed[0]!r} or no {argument} argument)."
                )
            kwargs.pop(argument, None)
        super().__init__(axis=-1, **kwargs)

    def call(self, inputs, training=None, mask=None):
        if not training or not self.trainable or mask is not None:
            return super().call(inputs, training=training, mask=mask)
        # Statistics in float32 whatever the compute dtype (as Keras does for float16).
        x = ops.cast(inputs, "float32")
        axes = tuple(range(len(inputs.shape) - 1))
        shape = ops.shape(x)
        count = ops.cast(shape[0], "float32")
        for size in shape[1:-1]:
            count = count * ops.cast(size, "float32")
        totals = cross_replica_sum(
            ops.concatenate(
                [ops.sum(x, axis=axes), ops.sum(ops.square(x), axis=axes), ops.reshape(count, (1,))]
            )
        )
        channels = inputs.shape[-1]
        total_count = totals[-1]
        mean = totals[:channels] / total_count
        variance = ops.maximum(
            totals[channels : 2 * channels] / total_count - ops.square(mean), 0.0
        )
        for moving, value in ((self.moving_mean, mean), (self.moving_variance, variance)):
            moving.assign(
                ops.cast(moving, "float32") * self.momentum + value * (1.0 - self.momentum)
            )
        outputs = (x - mean) * ops.rsqrt(variance + self.epsilon)
        if self.scale:
            outputs = outputs * ops.cast(self.gamma, "float32")
        if self.center:
            outputs = outputs + ops.cast(self.beta, "float32")
        return ops.cast(outputs, inputs.dtype)

    def get_config(self):
        config = super().get_config()
        for argument in ("axis", "synchronized", "renorm", "renorm_clipping", "renorm_momentum"):
            config.pop(argument, None)
        return config
