"""Multimodal transformer fusion: all modalities' tokens in one small transformer encoder."""

import keras
from keras import ops

from keras_drifa import _checks
from keras_drifa.layers import _weight_arguments as weight_arguments
from keras_drifa.layers._validation import feature_map_list
from keras_drifa.layers.feature_map_tokens import FeatureMapTokens


@keras.saving.register_keras_serializable(package="keras_drifa")
class MultimodalTransformerFusion(keras.layers.Layer):
    """Fuses M feature maps with a transformer encoder over all modalities' tokens.

    A baseline of the multimodal-transformer family: every pixel of every modality's map
    becomes a token (`FeatureMapTokens`: a projection to `units`, a learned position
    embedding and a learned modality embedding), the tokens of all modalities are joined
    into one sequence, and `num_layers` post-norm encoder layers mix them:

        x = concat(FeatureMapTokens(inputs), axis=tokens)           # (batch, sum N_m, units)
        x = LayerNorm(x + MultiHeadAttention(x, x))                 # per encoder layer
        x = LayerNorm(x + Dense_units(relu(Dense_{mlp_ratio * units}(x))))
        out = concat([mean over modality m's tokens of x, for every m])   # (batch, M * units)

    Args:
        units: width of the tokens (the model width of the encoder).
        num_heads: attention heads; each has key size `max(1, units // num_heads)`.
        num_layers: encoder layers.
        mlp_ratio: hidden width of each layer's MLP, in multiples of `units`.
        kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer: of the
            token projections, the attentions (`MultiHeadAttention`) and the MLPs
            (`Dense`), as Keras's layers take them (a fresh initializer per sublayer); the
            defaults are Keras's.
        **kwargs: standard layer arguments (`name`, `dtype`, ...).

    Input: a list of M >= 1 feature maps `(batch, height_m, width_m, channels_m)` with
        known heights and widths; sizes and channels may differ between modalities.
    Output: `(batch, M * units)`.

    Example:

    >>> import numpy as np
    >>> fusion = MultimodalTransformerFusion(units=16, num_heads=2, num_layers=1)
    >>> maps = [np.ones((2, 4, 4, 8), "float32"), np.ones((2, 2, 2, 8), "float32")]
    >>> tuple(fusion(maps).shape)
    (2, 32)
    """

    def __init__(
        self, units, num_heads=4, num_layers=2, mlp_ratio=2,
        kernel_initializer="glorot_uniform", bias_initializer="zeros",
        kernel_regularizer=None, bias_regularizer=None, **kwargs,
    ):
        super().__init__(**kwargs)
        weight_arguments.store_for_sublayers(
            self, kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer
        )
        owner = self.__class__.__name__
        self.units = _checks.positive_int(owner, "units", units)
        self.num_heads = _checks.positive_int(owner, "num_heads", num_heads)
        self.num_layers = _checks.positive_int(owner, "num_layers", num_layers)
        self.mlp_ratio = _checks.positive_int(owner, "mlp_ratio", mlp_ratio)
        self.tokens = FeatureMapTokens(
            units, modality_embedding=True, name="tokens", dtype=self.dtype_policy,
            **weight_arguments.passed_on(self),
        )
        policy = self.dtype_policy
        self.attentions = [
            keras.layers.MultiHeadAttention(
                num_heads, max(1, units // num_heads), name=f"attention_{i}", dtype=policy,
                **weight_arguments.for_sublayer(self),
            )
            for i in range(num_layers)
        ]
        self.attention_norms = [
            keras.layers.LayerNormalization(name=f"attention_norm_{i}", dtype=policy)
            for i in range(num_layers)
        ]
        self.mlp_hidden = [
            keras.layers.Dense(mlp_ratio * units, activation="relu", name=f"mlp_hidden_{i}",
                               dtype=policy, **weight_arguments.for_sublayer(self))
            for i in range(num_layers)
        ]
        self.mlp_outputs = [
            keras.layers.Dense(
                units, name=f"mlp_output_{i}", dtype=policy,
                **weight_arguments.for_sublayer(self),
            )
            for i in range(num_layers)
        ]
        self.mlp_norms = [
            keras.layers.LayerNormalization(name=f"mlp_norm_{i}", dtype=policy)
            for i in range(num_layers)
        ]

    def build(self, input_shape):
        shapes = feature_map_list(self, input_shape)
        self.tokens.build(input_shape)
        sequence = (None, sum(height * width for height, width, _ in shapes), self.units)
        for i in range(self.num_layers):
            self.attentions[i].build(sequence, sequence)
            self.attention_norms[i].build(sequence)
            self.mlp_hidden[i].build(sequence)
            self.mlp_outputs[i].build(sequence[:2] + (self.mlp_ratio * self.units,))
            self.mlp_norms[i].build(sequence)

    def call(self, inputs):
        tokens = self.tokens(list(inputs))
        x = ops.concatenate(tokens, axis=1)
        for i in range(self.num_layers):
            x = self.attention_norms[i](x + self.attentions[i](x, x))
            x = self.mlp_norms[i](x + self.mlp_outputs[i](self.mlp_hidden[i](x)))
        pooled, start = [], 0
        for t in tokens:
            count = t.shape[1]
            pooled.append(ops.mean(x[:, start : start + count], axis=1))
            start += count
        return ops.concatenate(pooled, axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], len(input_shape) * self.units)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "num_heads": self.num_heads,
                "num_layers": self.num_layers,
                "mlp_ratio": self.mlp_ratio,
            }
        )
        config.update(weight_arguments.config(self))
        return config
