"""Keras callbacks for DRIFA-Net training."""

from keras_drifa.callbacks.gradcam_callback import GradCAMCallback

__all__ = ["GradCAMCallback"]
