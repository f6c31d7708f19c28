import keras
import numpy as np
import pytest

from keras_drifa.explain._resize import resize_bilinear


def test_same_size_is_the_identity():
    maps = np.random.default_rng(0).random((2, 5, 7))
    np.testing.assert_allclose(resize_bilinear(maps, (5, 7)), maps, rtol=1e-6)


def test_half_pixel_centres():
    # Output pixel centres of 2 -> 4 fall at input coordinates -0.25, 0.25, 0.75, 1.25;
    # the outer ones repeat the edge.
    out = resize_bilinear(np.array([[[0.0, 1.0]]]), (1, 4))
    np.testing.assert_allclose(out, [[[0.0, 0.25, 0.75, 1.0]]])


@pytest.mark.parametrize("size", [(12, 9), (3, 2)])
def test_matches_keras_bilinear_resize(size):
    maps = np.random.default_rng(1).random((2, 6, 4)).astype("float32")
    expected = keras.ops.image.resize(
        maps[..., None], size, interpolation="bilinear", antialias=False
    )
    np.testing.assert_allclose(
        resize_bilinear(maps, size), keras.ops.convert_to_numpy(expected)[..., 0], atol=1e-5
    )


def test_never_widens_the_range():
    maps = np.random.default_rng(2).random((3, 4, 4))
    out = resize_bilinear(maps, (17, 11))
    assert out.min() >= maps.min() - 1e-7 and out.max() <= maps.max() + 1e-7
