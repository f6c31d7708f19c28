"""Bilinear resizing of heatmaps in NumPy, identical on every backend."""

import numpy as np


def _interpolation_matrix(size_in, size_out):
    """`(size_out, size_in)` weights of half-pixel-centred bilinear interpolation.

    The sampling grid is the one of `cv2.resize`, `tf.image.resize` and
    `torch.nn.functional.interpolate(align_corners=False)`; samples beyond the border
    repeat the edge value.
    """
    position = (np.arange(size_out) + 0.5) * (size_in / size_out) - 0.5
    position = np.clip(position, 0, size_in - 1)
    lower = np.floor(position).astype(int)
    upper = np.minimum(lower + 1, size_in - 1)
    fraction = position - lower
    matrix = np.zeros((size_out, size_in))
    rows = np.arange(size_out)
    np.add.at(matrix, (rows, lower), 1 - fraction)
    np.add.at(matrix, (rows, upper), fraction)
    return matrix


def resize_bilinear(maps, size):
    """Resizes `(batch, height, width)` maps to `size = (new_height, new_width)`.

    Each output value is a convex combination of input values, so the range never grows.
    Returns float32.
    """
    maps = np.asarray(maps, dtype=np.float64)
    rows = _interpolation_matrix(maps.shape[1], size[0])
    cols = _interpolation_matrix(maps.shape[2], size[1])
    return np.einsum("oh,bhw,pw->bop", rows, maps, cols).astype(np.float32)
