"""Gated modality fusion: learned per-sample weights over modalities (modality attention)."""

import keras
from keras import ops

from keras_drifa import _checks
from keras_drifa.layers import _weight_arguments as weight_arguments
from keras_drifa.layers._validation import feature_map_list


@keras.saving.register_keras_serializable(package="keras_drifa")
class GatedModalityFusion(keras.layers.Layer):
    """Fuses M feature maps by weighting their pooled vectors with a softmax over modalities.

    A baseline of the modality-attention family: each modality's map is average-pooled
    and projected, a shared scorer gives every modality a score per sample, and a softmax
    over the modalities turns the scores into weights that scale each modality's vector
    before they are concatenated:

        h_m = relu(GAP(x_m) @ W_m + b_m)                  # (batch, units)
        s_m = tanh(h_m @ V + c) @ v + d                   # (batch, 1), V, v shared
        a   = softmax([s_1, ..., s_M])                    # over the modalities
        out = concat([a_1 * h_1, ..., a_M * h_M])         # (batch, M * units)

    The weights depend on the sample, so the model can lean on whichever modality is
    informative; they see pooled vectors only, not where in an image the evidence is.

    Args:
        units: width of each modality's projected vector and of the scorer.
        kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer: of the
            projections and the scorer (`Dense`), as Keras's layers take them (a fresh
            initializer per sublayer); the defaults are Keras's.
        **kwargs: standard layer arguments (`name`, `dtype`, ...).

    Input: a list of M >= 1 feature maps `(batch, height_m, width_m, channels_m)`; sizes
        and channels may differ between modalities.
    Output: `(batch, M * units)`.

    Example:

    >>> import numpy as np
    >>> fusion = GatedModalityFusion(units=16)
    >>> maps = [np.ones((2, 4, 4, 8), "float32"), np.ones((2, 2, 2, 8), "float32")]
    >>> tuple(fusion(maps).shape)
    (2, 32)
    """

    def __init__(
        self, units,
        kernel_initializer="glorot_uniform", bias_initializer="zeros",
        kernel_regularizer=None, bias_regularizer=None, **kwargs,
    ):
        super().__init__(**kwargs)
        weight_arguments.store_for_sublayers(
            self, kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer
        )
        self.units = _checks.positive_int(self.__class__.__name__, "units", units)
        self.score_hidden = keras.layers.Dense(
            units, activation="tanh", name="score_hidden", dtype=self.dtype_policy,
            **weight_arguments.for_sublayer(self),
        )
        self.score = keras.layers.Dense(
            1, name="score", dtype=self.dtype_policy, **weight_arguments.for_sublayer(self)
        )

    def build(self, input_shape):
        shapes = feature_map_list(self, input_shape)
        self.projections = [
            keras.layers.Dense(
                self.units, activation="relu", name=f"projection_{m}",
                dtype=self.dtype_policy, **weight_arguments.for_sublayer(self),
            )
            for m in range(len(shapes))
        ]
        for projection, (_, _, channels) in zip(self.projections, shapes):
            projection.build((None, channels))
        self.score_hidden.build((None, self.units))
        self.score.build((None, self.units))

    def call(self, inputs):
        vectors = self._vectors(inputs)
        weights = self._weights(vectors)
        return ops.concatenate(
            [weights[:, m : m + 1] * h for m, h in enumerate(vectors)], axis=-1
        )

    def modality_weights(self, inputs):
        """The softmax weights `(batch, M)` the layer gives each modality for `inputs`."""
        return self._weights(self._vectors(inputs))

    def _vectors(self, inputs):
        return [
            projection(ops.mean(x, axis=(1, 2)))
            for x, projection in zip(inputs, self.projections)
        ]

    def _weights(self, vectors):
        scores = ops.concatenate([self.score(self.score_hidden(h)) for h in vectors], axis=-1)
        return ops.softmax(scores, axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], len(input_shape) * self.units)

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units})
        config.update(weight_arguments.config(self))
        return config
