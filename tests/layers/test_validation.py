"""keras_drifa.layers._validation: the checks every DRIFA layer's `build` starts with."""

import keras
import numpy as np
import pytest
from drifa_testing import image_data_format

from keras_drifa.layers import CLIA, HIFA, MFA, MGIFA, MIFA, MLIFA, RRABlock

MAP = np.ones((1, 4, 4, 8), "float32")


@pytest.mark.parametrize(
    "layer_class, inputs",
    [(HIFA, MAP), (CLIA, MAP), (MFA, MAP), (RRABlock, MAP), (MGIFA, [MAP, MAP]),
     (MLIFA, [MAP, MAP]), (MIFA, [MAP, MAP])],
    ids=lambda value: getattr(value, "__name__", ""),
)
def test_layers_refuse_to_build_under_channels_first(layer_class, inputs):
    """The layers pool over axes 1 and 2; channels-first maps would be misread silently."""
    layer = layer_class(8, name="drifa_layer")
    with image_data_format("channels_first"), pytest.raises(
        ValueError,
        match=rf"{layer_class.__name__} 'drifa_layer': keras.config.image_data_format\(\) is "
        r"'channels_first'; DRIFA-Net supports only 'channels_last' .* Call "
        r"keras.config.set_image_data_format\('channels_last'\) and pass images as "
        r"\(height, width, channels\)",
    ):
        layer(inputs)
    assert not layer.built
    # Back in channels last, the same layer builds and runs.
    outputs = keras.tree.flatten(layer(inputs))
    assert layer.built and all(tuple(o.shape)[-1] == 8 for o in outputs)
