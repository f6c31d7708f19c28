"""DRIFA-Net model builders."""

from keras_drifa.models.drifa_net import build_model

__all__ = ["build_model"]
