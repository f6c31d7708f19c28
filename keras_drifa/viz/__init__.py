"""Plots: reliability diagrams, uncertainty histograms, risk-coverage curves and embeddings
(needs `keras-drifa[viz]`)."""

from keras_drifa.viz.calibration import reliability_diagram, uncertainty_histogram
from keras_drifa.viz.embeddings import plot_embeddings
from keras_drifa.viz.referral import risk_coverage_plot

__all__ = ["plot_embeddings", "reliability_diagram", "risk_coverage_plot", "uncertainty_histogram"]
