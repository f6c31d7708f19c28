"""Cross-modal attention fusion: each modality's tokens attend to the other modalities'."""

import keras
from keras import ops

from keras_drifa import _checks
from keras_drifa.layers import _weight_arguments as weight_arguments
from keras_drifa.layers._validation import feature_map_list
from keras_drifa.layers.feature_map_tokens import FeatureMapTokens


@keras.saving.register_keras_serializable(package="keras_drifa")
class CrossModalAttentionFusion(keras.layers.Layer):
    """Fuses M >= 2 feature maps with multi-head cross-attention between modalities.

    A baseline of the cross-attention fusion family: every pixel of every modality's map
    becomes a token (`FeatureMapTokens`: a projection to `units` plus a learned position
    embedding); each modality's tokens then query the tokens of all other modalities
    with its own `keras.layers.MultiHeadAttention`, with a residual connection and layer
    normalisation, and are average-pooled:

        t_m   = FeatureMapTokens(x)_m                              # (batch, N_m, units)
        o_m   = concat of t_k over k != m                          # the other modalities
        y_m   = LayerNorm_m(t_m + MultiHeadAttention_m(t_m, o_m))
        out   = concat([mean_tokens(y_1), ..., mean_tokens(y_M)])  # (batch, M * units)

    Unlike pooled fusion, a token sees *where* in the other images the evidence is. The
    modalities may have different token counts (maps of different sizes).

    Args:
        units: width of the tokens and of each attention's output.
        num_heads: attention heads; each has key size `max(1, units // num_heads)`.
        kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer: of the
            token projections (`Dense`) and the attentions (`MultiHeadAttention`), as
            Keras's layers take them (a fresh initializer per sublayer); the defaults are
            Keras's.
        **kwargs: standard layer arguments (`name`, `dtype`, ...).

    Input: a list of M >= 2 feature maps `(batch, height_m, width_m, channels_m)` with
        known heights and widths; sizes and channels may differ between modalities.
    Output: `(batch, M * units)`.

    Example:

    >>> import numpy as np
    >>> fusion = CrossModalAttentionFusion(units=16, num_heads=2)
    >>> maps = [np.ones((2, 4, 4, 8), "float32"), np.ones((2, 2, 2, 8), "float32")]
    >>> tuple(fusion(maps).shape)
    (2, 32)
    """

    def __init__(
        self, units, num_heads=4,
        kernel_initializer="glorot_uniform", bias_initializer="zeros",
        kernel_regularizer=None, bias_regularizer=None, **kwargs,
    ):
        super().__init__(**kwargs)
        weight_arguments.store_for_sublayers(
            self, kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer
        )
        self.units = _checks.positive_int(self.__class__.__name__, "units", units)
        self.num_heads = _checks.positive_int(self.__class__.__name__, "num_heads", num_heads)
        self.tokens = FeatureMapTokens(
            units, name="tokens", dtype=self.dtype_policy,
            **weight_arguments.passed_on(self),
        )

    def build(self, input_shape):
        shapes = feature_map_list(self, input_shape, minimum=2)
        self.tokens.build(input_shape)
        counts = [height * width for height, width, _ in shapes]
        self.attentions, self.norms = [], []
        for m, count in enumerate(counts):
            attention = keras.layers.MultiHeadAttention(
                self.num_heads, max(1, self.units // self.num_heads),
                name=f"attention_{m}", dtype=self.dtype_policy,
                **weight_arguments.for_sublayer(self),
            )
            attention.build((None, count, self.units), (None, sum(counts) - count, self.units))
            norm = keras.layers.LayerNormalization(name=f"norm_{m}", dtype=self.dtype_policy)
            norm.build((None, count, self.units))
            self.attentions.append(attention)
            self.norms.append(norm)

    def call(self, inputs):
        tokens = self.tokens(list(inputs))
        pooled = []
        for m, (query, attention, norm) in enumerate(zip(tokens, self.attentions, self.norms)):
            others = ops.concatenate([t for k, t in enumerate(tokens) if k != m], axis=1)
            fused = norm(query + attention(query, others))
            pooled.append(ops.mean(fused, axis=1))
        return ops.concatenate(pooled, axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], len(input_shape) * self.units)

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units, "num_heads": self.num_heads})
        config.update(weight_arguments.config(self))
        return config
