import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib", reason="overlay's colormaps need keras-drifa[viz]")

from keras_drifa.explain import overlay
from keras_drifa.explain._resize import resize_bilinear


def _heatmap(size=(8, 6), seed=0):
    return np.random.default_rng(seed).random(size)


def test_is_the_documented_blend():
    image = np.random.default_rng(1).random((8, 6, 3))
    heat = _heatmap()
    expected = 0.7 * image + 0.3 * matplotlib.colormaps["viridis"](heat)[..., :3]
    out = overlay(image, heat, alpha=0.3, colormap="viridis")
    assert out.shape == (8, 6, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out, expected, atol=1e-6)


def test_grayscale_and_value_scales_agree():
    gray = np.random.default_rng(2).integers(0, 256, (8, 6)).astype(np.uint8)
    heat = _heatmap()
    reference = overlay(gray / 255.0, heat)
    np.testing.assert_allclose(overlay(gray, heat), reference, atol=1e-6)
    np.testing.assert_allclose(overlay(gray[..., None], heat), reference, atol=1e-6)
    np.testing.assert_allclose(overlay(gray.astype(np.float32), heat), reference, atol=1e-6)
    rgb = np.repeat(gray[..., None], 3, axis=-1)
    np.testing.assert_allclose(overlay(rgb, heat), reference, atol=1e-6)


def test_alpha_extremes():
    image, heat = np.random.default_rng(3).random((8, 6, 3)), _heatmap()
    np.testing.assert_allclose(overlay(image, heat, alpha=0), image, atol=1e-6)
    jet = matplotlib.colormaps["jet"](heat)[..., :3]
    np.testing.assert_allclose(overlay(image, heat, alpha=1), jet, atol=1e-6)


def test_resizes_a_smaller_heatmap():
    image, small = np.zeros((8, 6)), _heatmap((4, 3))
    np.testing.assert_allclose(
        overlay(image, small), overlay(image, resize_bilinear(small[None], (8, 6))[0]), atol=1e-6
    )


def test_accepts_a_colormap_object():
    image, heat = np.zeros((8, 6)), _heatmap()
    cmap = matplotlib.colormaps["inferno"]
    np.testing.assert_allclose(
        overlay(image, heat, colormap=cmap), overlay(image, heat, colormap="inferno")
    )


GRAY = np.zeros((8, 6))


@pytest.mark.parametrize(
    "image, heatmap, kwargs, match",
    [
        (np.zeros((8, 6, 4)), _heatmap(), {}, r"image has shape \(8, 6, 4\); expected"),
        (np.zeros((2, 8, 6, 3)), _heatmap(), {}, r"image has shape \(2, 8, 6, 3\)"),
        (-np.ones((8, 6)), _heatmap(), {}, r"image values span \[-1, -1\]; expected \[0, 1\]"),
        (np.full((8, 6), 300.0), _heatmap(), {}, r"image values span \[300, 300\]"),
        (np.full((8, 6), np.nan), _heatmap(), {}, r"image contains NaN"),
        (GRAY, _heatmap() * 2, {}, r"heatmap values span .*expected finite values in \[0, 1\]"),
        (GRAY, np.zeros((2, 8, 6)), {}, r"heatmap has shape \(2, 8, 6\); expected"),
        (GRAY, _heatmap(), {"alpha": 1.5}, r"`alpha` must be a number in \[0, 1\]; received alpha=1.5"),
        (GRAY, _heatmap(), {"colormap": "no_such_map"}, r"colormap must be .*'no_such_map'"),
    ],
)
def test_rejects_bad_input(image, heatmap, kwargs, match):
    with pytest.raises(ValueError, match=match):
        overlay(image, heatmap, **kwargs)


def test_numpy_alpha_is_a_number():
    image, heat = np.zeros((4, 4)), np.ones((4, 4))
    np.testing.assert_allclose(overlay(image, heat, alpha=np.float32(0.5)),
                               overlay(image, heat, alpha=0.5))
    assert overlay(image, heat, alpha=np.int64(1)).shape == (4, 4, 3)
    with pytest.raises(ValueError, match=r"overlay: `alpha` must be a number in \[0, 1\]; "
                       r"received alpha=np.float32\(1.5\)"):
        overlay(image, heat, alpha=np.float32(1.5))
