"""`overlay`: a heatmap blended over its image, for display."""

import numpy as np

from keras_drifa import _checks
from keras_drifa.explain._resize import resize_bilinear


def _colormap(colormap):
    try:
        import matplotlib
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError(
            "overlay needs matplotlib for its colormaps: pip install 'keras-drifa[viz]'."
        ) from error
    if isinstance(colormap, matplotlib.colors.Colormap):
        return colormap
    if not isinstance(colormap, str) or colormap not in matplotlib.colormaps:
        raise ValueError(
            f"overlay: colormap must be a matplotlib colormap or its name (e.g. 'jet', "
            f"'inferno'); received {colormap!r}."
        )
    return matplotlib.colormaps[colormap]


def _as_rgb(image):
    """`image` as float RGB in [0, 1], from grayscale or RGB in [0, 1] or [0, 255]."""
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] != 3):
        raise ValueError(
            f"overlay: image has shape {array.shape}; expected (height, width), "
            "(height, width, 1) or (height, width, 3)."
        )
    if not np.issubdtype(array.dtype, np.number):
        raise ValueError(f"overlay: image has dtype {array.dtype}; expected numbers.")
    array = array.astype(np.float64)
    if not np.all(np.isfinite(array)):
        raise ValueError("overlay: image contains NaN or infinite values.")
    low, high = array.min(), array.max()
    if low < 0 or high > 255:
        raise ValueError(
            f"overlay: image values span [{low:g}, {high:g}]; expected [0, 1] or [0, 255]. "
            "Rescale standardised images for display first."
        )
    # Integer images and float images beyond 1 are on the 0-255 scale.
    if np.issubdtype(np.asarray(image).dtype, np.integer) or high > 1:
        array = array / 255.0
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=-1)
    return array


def overlay(image, heatmap, alpha=0.4, colormap="jet"):
    """Blends a colour-mapped heatmap over an image, as in Grad-CAM figures.

    Args:
        image: `(height, width)`, `(height, width, 1)` or `(height, width, 3)`, with values
            in [0, 1] or in [0, 255] (integer images and float images with values above 1
            are read on the 0-255 scale).
        heatmap: `(h, w)` with values in [0, 1], e.g. one map from `GradCAM`; resized
            bilinearly to the image when its size differs.
        alpha: opacity of the heatmap, in [0, 1].
        colormap: a matplotlib colormap or its name.

    Returns:
        A float32 RGB image `(height, width, 3)` in [0, 1]:
        `(1 - alpha) * image + alpha * colormap(heatmap)`.

    Example:

    >>> import numpy as np
    >>> image = np.zeros((8, 8))
    >>> heatmap = np.zeros((4, 4)); heatmap[0, 0] = 1.0
    >>> overlay(image, heatmap, alpha=0.5).shape
    (8, 8, 3)
    """
    alpha = _checks.number("overlay", "alpha", alpha, 0, 1)
    rgb = _as_rgb(image)
    heat = np.asarray(heatmap, dtype=np.float64)
    if heat.ndim == 3 and heat.shape[-1] == 1:
        heat = heat[..., 0]
    if heat.ndim != 2:
        raise ValueError(
            f"overlay: heatmap has shape {heat.shape}; expected (height, width)."
        )
    if not np.all(np.isfinite(heat)) or heat.min() < 0 or heat.max() > 1:
        raise ValueError(
            f"overlay: heatmap values span [{np.nanmin(heat):g}, {np.nanmax(heat):g}]; "
            "expected finite values in [0, 1] (GradCAM's maps are)."
        )
    cmap = _colormap(colormap)
    if heat.shape != rgb.shape[:2]:
        heat = np.clip(resize_bilinear(heat[None], rgb.shape[:2])[0], 0, 1)
    colour = np.asarray(cmap(heat))[..., :3]
    return ((1 - alpha) * rgb + alpha * colour).astype(np.float32)
