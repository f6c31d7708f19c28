"""DRIFA-Net model builders, the backbones DRIFA attention can sit on, and the fusion
baselines and ablations it is compared with."""

from keras_drifa.models.backbones import APPLICATION_BACKBONES, default_feature_layers
from keras_drifa.models.calibrated_model import CalibratedModel, CalibrationReport
from keras_drifa.models.comparison import ABLATIONS, fusion_parameter_counts
from keras_drifa.models.drifa_net import DRIFANet, build_model
from keras_drifa.models.fusion import FUSIONS
from keras_drifa.models.image_preprocessing import ImageNetPreprocessing

__all__ = [
    "ABLATIONS",
    "APPLICATION_BACKBONES",
    "CalibratedModel",
    "CalibrationReport",
    "DRIFANet",
    "FUSIONS",
    "ImageNetPreprocessing",
    "build_model",
    "default_feature_layers",
    "fusion_parameter_counts",
]
