"""keras-drifa: DRIFA-Net dual attention multimodal fusion (Dhar et al., WACV 2025) for Keras 3.

Runs unchanged on TensorFlow, JAX and PyTorch; pick one with `KERAS_BACKEND`.
"""

from keras_drifa import layers
from keras_drifa.mc_sampling import mc_sampling
from keras_drifa.models import build_model
from keras_drifa.version import __version__

__all__ = ["__version__", "build_model", "layers", "mc_sampling"]
