"""Explaining multimodal predictions: Grad-CAM maps per modality and their overlays."""

from keras_drifa.explain.gradcam import GradCAM, GradCAMResult
from keras_drifa.explain.overlay import overlay

__all__ = ["GradCAM", "GradCAMResult", "overlay"]
