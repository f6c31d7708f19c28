"""The three ways of turning a feature map and its gradient into a class activation map.

Everything here is NumPy on the values the backend produced, so the three backends share
one implementation. `A` is a feature map `(batch, height, width, channels)` and `G` the
gradient of the class score with respect to it, of the same shape.
"""

import numpy as np

METHODS = ("gradcam", "gradcam++", "hirescam")


def _grad_cam(features, gradients):
    # Selvaraju et al. 2017: channel weights are the spatially averaged gradients.
    weights = gradients.mean(axis=(1, 2))
    return np.einsum("bhwk,bk->bhw", features, weights)


def _grad_cam_plus_plus(features, gradients):
    # Chattopadhay et al. 2018, eq. 19 with an exponential score: per-pixel weights
    # alpha = g^2 / (2 g^2 + sum_ab(A) g^3), channel weights sum_ij alpha relu(g).
    squared = gradients**2
    denominator = 2 * squared + features.sum(axis=(1, 2), keepdims=True) * gradients**3
    safe = np.where(denominator != 0, denominator, 1.0)
    alpha = np.where(denominator != 0, squared / safe, 0.0)
    weights = (alpha * np.maximum(gradients, 0)).sum(axis=(1, 2))
    return np.einsum("bhwk,bk->bhw", features, weights)


def _hires_cam(features, gradients):
    # Draelos and Carin 2020: the element-wise product summed over channels, which keeps
    # the gradient's spatial detail that Grad-CAM's averaging discards.
    return (features * gradients).sum(axis=-1)


_FUNCTIONS = {"gradcam": _grad_cam, "gradcam++": _grad_cam_plus_plus, "hirescam": _hires_cam}


def class_activation_maps(method, features, gradients):
    """Returns the ReLU'd `(batch, height, width)` maps of `method`, in float64."""
    features = np.asarray(features, dtype=np.float64)
    gradients = np.asarray(gradients, dtype=np.float64)
    return np.maximum(_FUNCTIONS[method](features, gradients), 0.0)


def normalise(maps):
    """Divides each non-negative map of a `(batch, ...)` array by its maximum.

    0 keeps its meaning (no positive evidence) and the strongest evidence becomes 1; an
    all-zero map stays zero.
    """
    maps = np.asarray(maps, dtype=np.float64)
    axes = tuple(range(1, maps.ndim))
    peak = maps.max(axis=axes, keepdims=True)
    return np.where(peak > 0, maps / np.where(peak > 0, peak, 1.0), 0.0).astype(np.float32)
