"""Feature-map tokens: each modality's last feature map as a sequence of embedded tokens."""

import keras
from keras import ops

from keras_drifa import _checks
from keras_drifa.layers import _weight_arguments as weight_arguments
from keras_drifa.layers._validation import feature_map_list


@keras.saving.register_keras_serializable(package="keras_drifa")
class FeatureMapTokens(keras.layers.Layer):
    """Turns M feature maps into M token sequences of one width, for attention fusion.

    Every pixel of modality m's map `(batch, height_m, width_m, channels_m)` becomes a
    token: a per-modality linear projection to `units`, plus a learned position embedding
    of that pixel (attention itself is blind to where a token came from), plus, with
    `modality_embedding=True`, a learned embedding of the modality (so that a transformer
    that mixes all tokens knows which image each came from):

        tokens_m = reshape(x_m, (batch, height_m * width_m, channels_m)) @ W_m + b_m
                   + position_m + modality_m

    Position embeddings need each map's height and width when the layer is built.

    Args:
        units: width of the tokens.
        modality_embedding: `True` adds one learned vector per modality to its tokens.
        kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer: of the
            projections (`Dense`), as Keras's layers take them (a fresh initializer per
            projection); the defaults are Keras's. The position and modality embeddings
            keep their normal initializer (stddev 0.02).
        **kwargs: standard layer arguments (`name`, `dtype`, ...).

    Input: a list of M >= 1 feature maps `(batch, height_m, width_m, channels_m)`; sizes
        and channels may differ between modalities.
    Output: a list of M token sequences `(batch, height_m * width_m, units)`.

    Example:

    >>> import numpy as np
    >>> tokens = FeatureMapTokens(units=16, modality_embedding=True)
    >>> a, b = tokens([np.ones((2, 4, 4, 8), "float32"), np.ones((2, 2, 3, 4), "float32")])
    >>> tuple(a.shape), tuple(b.shape)
    ((2, 16, 16), (2, 6, 16))
    """

    def __init__(
        self, units, modality_embedding=False,
        kernel_initializer="glorot_uniform", bias_initializer="zeros",
        kernel_regularizer=None, bias_regularizer=None, **kwargs,
    ):
        super().__init__(**kwargs)
        weight_arguments.store_for_sublayers(
            self, kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer
        )
        self.units = _checks.positive_int(self.__class__.__name__, "units", units)
        self.modality_embedding = _checks.boolean(
            self.__class__.__name__, "modality_embedding", modality_embedding
        )

    def build(self, input_shape):
        shapes = feature_map_list(self, input_shape)
        for m, (height, width, _) in enumerate(shapes):
            if height is None or width is None:
                raise ValueError(
                    f"{self.__class__.__name__} '{self.name}': modality {m} input has shape "
                    f"{tuple(input_shape[m])}, with an unknown height or width; position "
                    "embeddings need fixed sizes (build the model with a fixed input_shape)."
                )
        self.projections = [
            keras.layers.Dense(
                self.units, name=f"projection_{m}", dtype=self.dtype_policy,
                **weight_arguments.for_sublayer(self),
            )
            for m in range(len(shapes))
        ]
        for projection, (height, width, channels) in zip(self.projections, shapes):
            projection.build((None, height * width, channels))
        self.position_embeddings = [
            self.add_weight(
                shape=(height * width, self.units),
                initializer=keras.initializers.RandomNormal(stddev=0.02),
                name=f"position_embedding_{m}",
            )
            for m, (height, width, _) in enumerate(shapes)
        ]
        if self.modality_embedding:
            self.modality_embeddings = self.add_weight(
                shape=(len(shapes), self.units),
                initializer=keras.initializers.RandomNormal(stddev=0.02),
                name="modality_embeddings",
            )

    def call(self, inputs):
        tokens = []
        for m, (x, projection, position) in enumerate(
            zip(inputs, self.projections, self.position_embeddings)
        ):
            t = projection(ops.reshape(x, (-1, x.shape[1] * x.shape[2], x.shape[3])))
            t = t + ops.cast(position, t.dtype)
            if self.modality_embedding:
                t = t + ops.cast(self.modality_embeddings[m], t.dtype)
            tokens.append(t)
        return tokens

    def compute_output_shape(self, input_shape):
        return [
            (s[0], None if s[1] is None or s[2] is None else s[1] * s[2], self.units)
            for s in input_shape
        ]

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units, "modality_embedding": self.modality_embedding})
        config.update(weight_arguments.config(self))
        return config
