"""examples/quickstart.py (`make demo`), shortened: it runs end to end, prints its verdicts
and scores, writes every figure, and its Grad-CAM maps are not flat."""

import importlib.util
import pathlib
import re

import numpy as np
import pytest
from drifa_testing import ONCE_ON_TORCH

SCRIPT = pathlib.Path(__file__).resolve().parents[2] / "examples" / "quickstart.py"
FIGURES = ("gradcam.png", "validation_curves.png", "reliability.png", "referral.png",
           "embeddings.png")


@ONCE_ON_TORCH
def test_short_run_prints_verdicts_and_writes_every_figure(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("quickstart", SCRIPT)
    quickstart = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(quickstart)
    maps = []
    scores = quickstart.gradcam_scores

    def recording(*args, **kwargs):
        trained, random_maps, result = scores(*args, **kwargs)
        maps.append((trained, random_maps))
        return trained, random_maps, result

    quickstart.gradcam_scores = recording
    quickstart.main(["--samples", "240", "--epochs", "1", "--seeds", "2", "--mc-samples", "2",
                     "--output", str(tmp_path)])
    out = capsys.readouterr().out

    for task in ("cytology_class", "dermoscopy_class", "pair_class"):
        assert f"\n{task}" in out
    assert out.count("verdict: DRIFA-Net ") == 3
    assert ("Verdicts against the mlp fusion baseline (accuracy over seeds): cytology_class: "
            "DRIFA-Net ") in out
    assert len(re.findall(r"verdict: DRIFA-Net .+ against the mlp fusion baseline \(accuracy [+-]",
                          out)) == 3
    assert out.count("random weights") >= 4 and "a flat map" in out
    # Calibration: every model and task, before and after, and the ensemble's.
    assert out.count("predicted classes changed: ") == 2 * 3 + 3
    assert out.count("after temperature scaling (T = ") == 3
    assert "mutual information " in out and " the softmax baseline: AURC difference " in out
    assert out.count("LAC coverage ") == 3 and out.count("APS coverage ") == 3
    assert "Done in" in out
    for name in FIGURES:
        assert (tmp_path / name).stat().st_size > 10_000, name
    (trained, random_maps), = maps
    for modality, heatmaps in trained.items():
        assert heatmaps.shape[1:] == (64, 64)
        # Not a flat tint: every map varies over the image (4x4 feature maps, upsampled).
        spread = heatmaps.reshape(len(heatmaps), -1).std(axis=1)
        assert np.all(spread > 0.01), modality
        assert not np.allclose(heatmaps, random_maps[modality])
