import sys

import numpy as np
import pytest
from image_files import write_image

from keras_drifa.data import _image_io, load_image_folder


def test_missing_pillow_says_how_to_install_it(tmp_path, monkeypatch):
    write_image(tmp_path / "a" / "x.png")
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(ImportError, match=r"pip install keras-drifa\[data\]"):
        load_image_folder(tmp_path, verbose=0)


def test_float_images_are_rejected_as_unreadable(tmp_path):
    from PIL import Image

    Image.fromarray(np.ones((4, 4), np.float32)).save(tmp_path / "f.tif")
    with pytest.raises(ValueError, match="mode 'F'"):
        _image_io.read_image(tmp_path / "f.tif", None, 1, "bilinear", "test")


@pytest.mark.parametrize("interpolation", _image_io.INTERPOLATIONS)
def test_resize_keeps_the_unit_range_for_every_interpolation(interpolation):
    image = np.zeros((9, 9, 1), np.float32)
    image[::2, ::2] = 1.0  # sharp edges make bicubic and Lanczos overshoot
    out = _image_io.resize(image, (5, 7), 3, interpolation, "test")
    assert out.shape == (5, 7, 3) and out.dtype == np.float32
    assert 0 <= out.min() and out.max() <= 1 and out.max() > 0


def test_channel_conversion_round_trip():
    gray = np.random.default_rng(0).random((2, 3, 3, 1), dtype=np.float32)
    rgb = _image_io.convert_channels(gray, 3)
    np.testing.assert_array_equal(rgb[..., 2], gray[..., 0])
    np.testing.assert_allclose(_image_io.convert_channels(rgb, 1), gray, atol=1e-6)
