import numpy as np
import pytest
from drifa_testing import check_layer_contract, image_data_format

from keras_drifa.layers import GlobalMinPooling2D


def test_contract():
    x = np.random.default_rng(0).random((2, 5, 6, 3), dtype=np.float32)
    check_layer_contract(lambda **kw: GlobalMinPooling2D(**kw), x, 0, train=False)


@pytest.mark.parametrize("keepdims", [False, True])
def test_matches_numpy_min(keepdims):
    x = np.random.default_rng(1).normal(size=(2, 5, 6, 3)).astype("float32")
    out = np.asarray(GlobalMinPooling2D(keepdims=keepdims)(x))
    np.testing.assert_allclose(out, x.min(axis=(1, 2), keepdims=keepdims), rtol=0, atol=0)


def test_channels_first():
    x = np.random.default_rng(2).normal(size=(2, 3, 5, 6)).astype("float32")
    out = np.asarray(GlobalMinPooling2D(data_format="channels_first")(x))
    np.testing.assert_allclose(out, x.min(axis=(2, 3)))


def test_rejects_unknown_data_format():
    with pytest.raises(ValueError, match="data_format.*'channels_middle'"):
        GlobalMinPooling2D(data_format="channels_middle")


def test_follows_the_channels_first_setting():
    """Unlike the attention layers, this pooling supports both layouts: it pools the
    spatial axes of whichever format it was created under."""
    x = np.random.default_rng(3).normal(size=(2, 3, 5, 6)).astype("float32")
    with image_data_format("channels_first"):
        layer = GlobalMinPooling2D()
        out = np.asarray(layer(x))
    assert layer.data_format == "channels_first"
    np.testing.assert_allclose(out, x.min(axis=(2, 3)))
