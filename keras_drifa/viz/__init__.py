"""Plots: reliability diagrams, uncertainty histograms and embeddings (needs `keras-drifa[viz]`)."""

from keras_drifa.viz.calibration import reliability_diagram, uncertainty_histogram
from keras_drifa.viz.embeddings import plot_embeddings

__all__ = ["plot_embeddings", "reliability_diagram", "uncertainty_histogram"]
