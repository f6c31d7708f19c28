import keras
import numpy as np
import pytest
from drifa_reference import to_numpy

from keras_drifa.models.image_preprocessing import PREPROCESSING_MODES, ImageNetPreprocessing

# For images in [0, 1], each mode equals keras.applications' own preprocess_input on 255 x.
KERAS_PREPROCESSING = [
    ("caffe", keras.applications.resnet.preprocess_input),
    ("tf", keras.applications.resnet_v2.preprocess_input),
    ("tf", keras.applications.mobilenet_v2.preprocess_input),
    ("torch", keras.applications.densenet.preprocess_input),
    ("pixels", keras.applications.efficientnet.preprocess_input),
    ("pixels", keras.applications.mobilenet_v3.preprocess_input),
    ("pixels", keras.applications.convnext.preprocess_input),
]


def _images(channels=3):
    return np.random.default_rng(0).random((2, 5, 4, channels), dtype=np.float32)


@pytest.mark.parametrize(
    "mode, preprocess_input",
    KERAS_PREPROCESSING,
    ids=[f"{mode}-{fn.__module__.split('.')[-1]}" for mode, fn in KERAS_PREPROCESSING],
)
def test_matches_keras_applications_preprocess_input(mode, preprocess_input):
    x = _images()
    expected = preprocess_input(x.copy() * 255.0)
    actual = ImageNetPreprocessing(mode)(x)
    np.testing.assert_allclose(to_numpy(actual), to_numpy(expected), rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("mode", PREPROCESSING_MODES)
def test_config_round_trip_and_shape(mode):
    layer = ImageNetPreprocessing(mode, name="prep")
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert isinstance(restored, ImageNetPreprocessing)
    assert restored.get_config() == layer.get_config()
    assert layer.compute_output_shape((None, 8, 8, 3)) == (None, 8, 8, 3)
    assert tuple(layer(keras.Input((8, 8, 3))).shape) == (None, 8, 8, 3)


def test_mixed_precision_computes_in_float16():
    layer = ImageNetPreprocessing("caffe", dtype="mixed_float16")
    assert keras.backend.standardize_dtype(layer(_images()).dtype) == "float16"


def test_unknown_mode_is_rejected():
    with pytest.raises(ValueError, match=r"one of .*'pixels'.*received mode='imagenet'"):
        ImageNetPreprocessing("imagenet")


@pytest.mark.parametrize("mode", ["caffe", "torch"])
def test_rgb_statistics_need_three_channels(mode):
    with pytest.raises(ValueError, match=r"needs 3 channels; received input shape \(None, 8, 8, 1"):
        ImageNetPreprocessing(mode)(keras.Input((8, 8, 1)))


@pytest.mark.parametrize("mode", ["tf", "pixels"])
def test_channel_free_modes_take_any_channels(mode):
    assert ImageNetPreprocessing(mode)(_images(channels=1)).shape == (2, 5, 4, 1)
