"""keras_drifa.viz.referral: the risk-coverage plot draws the curves it is given (the file
is named for the plot: tests/test_referral.py tests keras_drifa.referral)."""

import numpy as np
import pytest

from keras_drifa import referral
from keras_drifa.viz import risk_coverage_plot

pytest.importorskip("matplotlib", reason="the referral plot needs keras-drifa[viz]")


def test_curves_are_the_risk_coverage_curves_and_the_png_is_written(tmp_path):
    rng = np.random.default_rng(0)
    samples = rng.dirichlet(np.ones(3), size=(2, 60))
    labels = rng.integers(0, 3, 60)
    path = tmp_path / "referral.png"
    figure = risk_coverage_plot(samples, labels, num_resamples=20, save_path=str(path))
    ax = figure.axes[0]
    assert len(ax.lines) == len(referral.SCORES)
    for line, kind in zip(ax.lines, referral.SCORES):
        curve = referral.risk_coverage_curve(samples, labels, referral.score(samples, kind))
        np.testing.assert_allclose(line.get_ydata(), curve["selective_risk"])
        assert line.get_label().startswith(kind.replace("_", " "))
    assert len(ax.collections) == len(referral.SCORES)  # one band per curve
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="must end in '.png'"):
        risk_coverage_plot(samples.mean(0), labels, band=False, save_path=str(tmp_path / "x.pdf"))


def test_band_holds_the_curve_of_its_sample_mostly():
    rng = np.random.default_rng(1)
    probs = rng.dirichlet(np.ones(3), size=400)
    labels = np.where(rng.random(400) < 0.8, probs.argmax(1), rng.integers(0, 3, 400))
    band = referral.risk_coverage_band(probs, labels, num_resamples=100, seed=0)
    curve = referral.risk_coverage_curve(probs, labels)
    inside = (band["low"] <= curve["selective_risk"]) & (curve["selective_risk"] <= band["high"])
    assert inside[40:].mean() > 0.9  # past the first tenth, where a few cases decide
    assert np.all(band["high"][-1] - band["low"][-1] < 0.1)  # the full error rate, +-0.04
    with pytest.raises(ValueError, match="level"):
        referral.risk_coverage_band(probs, labels, level=95)
