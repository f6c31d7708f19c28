"""Shape checks shared by the DRIFA layers, so every layer fails the same clear way."""

import keras


def check_channels_last(owner):
    """Raises `ValueError` unless Keras is set to channels-last images.

    DRIFA attention pools over axes 1 and 2 and projects the last axis, while Keras's
    convolutions and poolings follow `keras.config.image_data_format()`; under
    `"channels_first"` the two would silently disagree.
    """
    data_format = keras.config.image_data_format()
    if data_format != "channels_last":
        raise ValueError(
            f"{owner}: keras.config.image_data_format() is {data_format!r}; DRIFA-Net "
            "supports only 'channels_last' feature maps (batch, height, width, channels). "
            "Call keras.config.set_image_data_format('channels_last') and pass images as "
            "(height, width, channels)."
        )


def feature_map_channels(layer, input_shape, what="input"):
    """Returns the channel count of a `(batch, height, width, channels)` shape.

    Every DRIFA layer's `build` starts here. Raises a `ValueError` naming `layer` when
    Keras is set to channels-first images, or the shape is not 4-D or its channel axis is
    unknown.
    """
    check_channels_last(f"{layer.__class__.__name__} '{layer.name}'")
    shape = tuple(input_shape)
    if len(shape) != 4:
        raise ValueError(
            f"{layer.__class__.__name__} '{layer.name}': {what} has shape {shape} "
            f"({len(shape)} dimensions); expected a 4-D feature map "
            "(batch, height, width, channels)."
        )
    if shape[-1] is None:
        raise ValueError(
            f"{layer.__class__.__name__} '{layer.name}': {what} has shape {shape} with an "
            "unknown channel dimension; the channel axis must be defined."
        )
    return int(shape[-1])


def multimodal_channels(layer, input_shape):
    """Checks a list of M >= 1 feature-map shapes with one shared channel count.

    Returns `(num_modalities, channels)`.
    """
    if not isinstance(input_shape, (list, tuple)) or not input_shape or not all(
        isinstance(s, (list, tuple)) for s in input_shape
    ):
        raise ValueError(
            f"{layer.__class__.__name__} '{layer.name}': expected a list of M >= 1 feature "
            f"maps, one per modality; received input shape {input_shape!r}."
        )
    channels = [
        feature_map_channels(layer, s, what=f"modality {m} input")
        for m, s in enumerate(input_shape)
    ]
    if len(set(channels)) != 1:
        raise ValueError(
            f"{layer.__class__.__name__} '{layer.name}': all modalities must have the same "
            f"number of channels; received channels {channels} "
            f"(shapes {[tuple(s) for s in input_shape]})."
        )
    return len(channels), channels[0]


def feature_map_list(layer, input_shape, minimum=1):
    """Checks a list of at least `minimum` feature-map shapes; channels may differ.

    Returns one `(height, width, channels)` per modality (height and width may be `None`).
    """
    owner = f"{layer.__class__.__name__} '{layer.name}'"
    if not isinstance(input_shape, (list, tuple)) or not all(
        isinstance(s, (list, tuple)) for s in input_shape
    ):
        raise ValueError(
            f"{owner}: expected a list of feature maps, one per modality; received input "
            f"shape {input_shape!r}."
        )
    if len(input_shape) < minimum:
        raise ValueError(
            f"{owner}: received {len(input_shape)} feature map(s); expected at least "
            f"{minimum}, one per modality."
        )
    shapes = []
    for m, shape in enumerate(input_shape):
        channels = feature_map_channels(layer, shape, what=f"modality {m} input")
        shapes.append((shape[1], shape[2], channels))
    return shapes


def check_units_match_channels(layer, units, channels):
    """The attention vector multiplies the input, so `units` must broadcast over channels."""
    if units not in (channels, 1):
        raise ValueError(
            f"{layer.__class__.__name__} '{layer.name}': units={units} does not match the "
            f"{channels} input channels that the attention vector multiplies; expected "
            f"units == channels ({channels}), as in the paper (or 1, a single scalar gate)."
        )
