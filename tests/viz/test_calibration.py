"""keras_drifa.viz.calibration: the plots show the right numbers and save PNGs."""

import numpy as np
import pytest

from keras_drifa import uncertainty
from keras_drifa.viz.calibration import reliability_diagram, uncertainty_histogram

pytest.importorskip("matplotlib", reason="the calibration plots need keras-drifa[viz]")

PROBS = np.array([[0.9, 0.1], [0.05, 0.95], [0.7, 0.3], [0.35, 0.65], [0.5, 0.5], [0.2, 0.8]])
LABELS = np.array([0, 0, 0, 1, 1, 1])
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_reliability_diagram_bars_are_the_bin_accuracies(tmp_path):
    path = tmp_path / "reliability.png"
    figure = reliability_diagram(PROBS, LABELS, num_bins=5, save_path=str(path))
    ax = figure.axes[0]
    accuracy_bars, gap_bars = ax.containers[0], ax.containers[1]
    bins = uncertainty.reliability_bins(PROBS, LABELS, num_bins=5)
    filled = bins["count"] > 0
    np.testing.assert_allclose([b.get_height() for b in accuracy_bars], bins["accuracy"][filled])
    np.testing.assert_allclose([b.get_x() for b in accuracy_bars], bins["edges"][:-1][filled])
    np.testing.assert_allclose(
        [b.get_height() for b in gap_bars], (bins["confidence"] - bins["accuracy"])[filled]
    )
    ece = uncertainty.expected_calibration_error(PROBS, LABELS, num_bins=5)
    assert ax.get_legend().get_title().get_text() == f"ECE = {ece:.3f}"
    assert path.read_bytes()[:8] == PNG_SIGNATURE


def test_uncertainty_histogram_splits_right_and_wrong(tmp_path):
    import matplotlib.figure

    scores = np.array([0.1, 0.9, 0.2, 0.35, 0.8, 0.4])  # examples 1 and 4 are wrong
    host = matplotlib.figure.Figure()
    ax = host.add_subplot()
    figure = uncertainty_histogram(
        PROBS, np.eye(2)[LABELS], scores, measure="mutual information", num_bins=4, ax=ax,
        save_path=str(tmp_path / "hist.png"),
    )
    assert figure is host
    right, wrong = ax.containers
    width = (0.9 - 0.1) / 4
    # Unit-area densities: right scores 0.1, 0.2, 0.35, 0.4 fall in bins 0, 0, 1, 1.
    half = 2 / 4 / width
    np.testing.assert_allclose([b.get_height() for b in right], [half, half, 0, 0])
    np.testing.assert_allclose([b.get_height() for b in wrong], [0, 0, 0, 2 / 2 / width])
    assert ax.get_xlabel() == "mutual information"
    assert ax.get_legend().get_title().get_text() == "error AUROC = 1.000"
    assert (tmp_path / "hist.png").read_bytes()[:8] == PNG_SIGNATURE


def test_bad_input():
    with pytest.raises(ValueError, match="save_path must end in '.png'"):
        reliability_diagram(PROBS, LABELS, save_path="out.pdf")
    with pytest.raises(ValueError, match="out of range for 2 classes"):
        reliability_diagram(PROBS, LABELS + 1)
    with pytest.raises(ValueError, match=r"`uncertainty` has shape \(2,\); expected \(6,\)"):
        uncertainty_histogram(PROBS, LABELS, np.ones(2))
    with pytest.raises(ValueError, match="`num_bins` must be an integer >= 1"):
        uncertainty_histogram(PROBS, LABELS, np.ones(6), num_bins=0)
