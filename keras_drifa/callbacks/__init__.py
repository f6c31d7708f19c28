"""Keras callbacks for DRIFA-Net training."""

from keras_drifa.callbacks.backup_and_restore import BackupAndRestore
from keras_drifa.callbacks.batch_norm_recalibration import BatchNormRecalibration
from keras_drifa.callbacks.gradcam_callback import GradCAMCallback

__all__ = ["BackupAndRestore", "BatchNormRecalibration", "GradCAMCallback"]
