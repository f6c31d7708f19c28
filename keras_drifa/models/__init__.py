"""DRIFA-Net model builders and the backbones DRIFA attention can sit on."""

from keras_drifa.models.backbones import APPLICATION_BACKBONES, default_feature_layers
from keras_drifa.models.calibrated_model import CalibratedModel, CalibrationReport
from keras_drifa.models.drifa_net import DRIFANet, build_model
from keras_drifa.models.image_preprocessing import ImageNetPreprocessing

__all__ = [
    "APPLICATION_BACKBONES",
    "CalibratedModel",
    "CalibrationReport",
    "DRIFANet",
    "ImageNetPreprocessing",
    "build_model",
    "default_feature_layers",
]
