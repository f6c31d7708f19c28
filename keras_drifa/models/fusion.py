"""The fusion heads `build_model` can end in: DRIFA-Net's and the baselines' it is compared with.

Every head takes the branches' last feature maps, one per modality, and returns the one
vector that all task heads read. DRIFA-Net fuses inside the branches (MIFA after every
block), so its head only concatenates and pools; the baselines keep plain branches and
fuse here.
"""

import keras

from keras_drifa.layers import (
    CrossModalAttentionFusion,
    GatedModalityFusion,
    MultimodalTransformerFusion,
)

FUSIONS = ("drifa", "concat", "mlp", "gated", "cross_attention", "transformer")
# Fusions whose head has a width (`fusion_units`); the others only concatenate and pool.
WIDE_FUSIONS = ("mlp", "gated", "cross_attention", "transformer")
# Fusions whose tokens carry position embeddings, so their maps need fixed sizes.
TOKEN_FUSIONS = ("cross_attention", "transformer")

FUSION_CONCAT = "fusion_concat"
FUSION_DROPOUT = "fusion_dropout"
FUSION_POOL = "fusion_pool"
FUSION_HIDDEN = "fusion_hidden"

ATTENTION_HEADS = 4
TRANSFORMER_LAYERS = 2


def fused_vector(fusion, features, modality_names, dropout, units=None):
    """The vector the task heads read, for the fusion method `fusion`.

    Args:
        fusion: one of `FUSIONS`.
        features: the branches' last feature maps, one symbolic tensor per modality.
        modality_names: the modality names, for layer names.
        dropout: `dropout(x, layer_name)`, the model's MC dropout (or the identity).
        units: the head's width for `WIDE_FUSIONS`; `None`: the branches' channels.
    """
    if fusion in ("drifa", "concat"):
        return concat_pool(features, modality_names, dropout)
    units = units or int(features[0].shape[-1])
    if fusion == "mlp":
        pooled = concat_pool(features, modality_names, dropout)
        hidden = keras.layers.Dense(units, activation="relu", name=FUSION_HIDDEN)(pooled)
        return dropout(hidden, f"{FUSION_HIDDEN}_dropout")
    if fusion == "gated":
        layer = GatedModalityFusion(units, name="gated_fusion")
    elif fusion == "cross_attention":
        layer = CrossModalAttentionFusion(units, ATTENTION_HEADS, name="cross_attention_fusion")
    else:
        layer = MultimodalTransformerFusion(
            units, ATTENTION_HEADS, TRANSFORMER_LAYERS, name="transformer_fusion"
        )
    return dropout(layer(list(features)), FUSION_DROPOUT)


def concat_pool(features, modality_names, dropout):
    """Concatenate the branches, MC dropout, global average pooling: the fused vector.

    When the branches' final maps differ in size (modalities of different resolutions),
    or their sizes are unknown until call time (`input_shape=(None, None, channels)`, where
    each call may bring other sizes per modality), they cannot be concatenated as maps;
    each is then dropped out and pooled on its own before concatenation, which is the same
    computation because dropout acts element-wise and the pooling per channel.
    """
    if len(features) == 1:
        return keras.layers.GlobalAveragePooling2D(name=FUSION_POOL)(
            dropout(features[0], FUSION_DROPOUT)
        )
    sizes = {_spatial_size(x) for x in features}
    if len(sizes) == 1 and None not in next(iter(sizes)):
        fused = keras.layers.Concatenate(name=FUSION_CONCAT)(features)
        return keras.layers.GlobalAveragePooling2D(name=FUSION_POOL)(dropout(fused, FUSION_DROPOUT))
    pooled = [
        keras.layers.GlobalAveragePooling2D(name=f"{m}_pool")(dropout(x, f"{m}_{FUSION_DROPOUT}"))
        for m, x in zip(modality_names, features)
    ]
    return keras.layers.Concatenate(name=FUSION_POOL)(pooled)


def _spatial_size(x):
    """A feature map's (height, width), `None` where unknown until call time."""
    shape = tuple(x.shape)
    return shape[2:4] if keras.config.image_data_format() == "channels_first" else shape[1:3]
