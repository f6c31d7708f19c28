"""keras-drifa: DRIFA-Net dual attention multimodal fusion (Dhar et al., WACV 2025) for Keras 3.

Runs unchanged on TensorFlow, JAX and PyTorch; pick one with `KERAS_BACKEND`.
`keras_drifa.viz` (plots) is imported on first use, since it needs matplotlib.
"""

import importlib

from keras_drifa import (
    calibration,
    callbacks,
    conformal,
    data,
    distributed,
    evaluation,
    explain,
    layers,
    metrics,
    ood,
    optimizers,
    referral,
    uncertainty,
)
from keras_drifa.batch_norm import recalibrate_batch_norm
from keras_drifa.ensemble import MCDropoutEnsemble
from keras_drifa.mc_sampling import mc_sampling
from keras_drifa.models import CalibratedModel, DRIFANet, build_model
from keras_drifa.version import __version__

__all__ = [
    "CalibratedModel",
    "DRIFANet",
    "MCDropoutEnsemble",
    "__version__",
    "build_model",
    "calibration",
    "callbacks",
    "conformal",
    "data",
    "distributed",
    "evaluation",
    "explain",
    "layers",
    "mc_sampling",
    "metrics",
    "ood",
    "optimizers",
    "recalibrate_batch_norm",
    "referral",
    "uncertainty",
    "viz",
]


def __getattr__(name):
    if name == "viz":
        return importlib.import_module("keras_drifa.viz")
    raise AttributeError(f"module 'keras_drifa' has no attribute {name!r}")
