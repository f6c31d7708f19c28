"""keras_drifa._metric_cores: the rank AUC and the ECE binning that the reports and the
Keras metric share."""

import numpy as np
import pytest
from keras import ops
from sklearn.metrics import roc_auc_score

from keras_drifa import _metric_cores
from keras_drifa.metrics import ExpectedCalibrationError


def test_average_ranks_share_ties():
    np.testing.assert_array_equal(
        _metric_cores.average_ranks(np.array([0.3, 0.1, 0.3, 0.2, 0.3])), [4, 1, 4, 2, 4]
    )


def test_tie_groups():
    starts, ends = _metric_cores.tie_groups(np.array([1, 1, 2, 3, 3, 3]))
    assert starts.tolist() == [0, 2, 3] and ends.tolist() == [2, 3, 6]


@pytest.mark.parametrize("seed", range(3))
def test_mann_whitney_auc_matches_sklearn_with_ties(seed):
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 6, 80) / 5.0  # many ties
    positives = rng.random(80) < 0.3
    assert _metric_cores.mann_whitney_auc(scores, positives) == pytest.approx(
        roc_auc_score(positives, scores), abs=1e-12
    )


def test_mann_whitney_auc_is_nan_with_one_class():
    assert np.isnan(_metric_cores.mann_whitney_auc(np.array([0.1, 0.2]), [True, True]))
    assert np.isnan(_metric_cores.mann_whitney_auc(np.array([0.1, 0.2]), [False, False]))


def test_confidence_bins_agree_in_numpy_and_keras_ops():
    confidence = np.random.default_rng(0).random(500).astype("float32")
    confidence[:5] = [0.0, 0.2, 0.4, 0.6, 1.0]  # on the edges of 5 bins
    for num_bins in (1, 5, 15):
        in_numpy = _metric_cores.confidence_bins(confidence, num_bins, dtype="float32")
        in_keras = _metric_cores.confidence_bins(
            ops.convert_to_tensor(confidence), num_bins, xp=ops, dtype="float32"
        )
        np.testing.assert_array_equal(ops.convert_to_numpy(in_keras), in_numpy)
    np.testing.assert_array_equal(
        _metric_cores.confidence_bins(confidence[:5], 5, dtype="float32"), [0, 0, 1, 2, 4]
    )


def test_keras_metric_state_equals_the_numpy_core_on_random_data():
    rng = np.random.default_rng(7)
    logits = rng.normal(scale=2.0, size=(300, 4))
    probs = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
    probs = probs.astype("float32")
    labels = rng.integers(0, 4, 300)
    ece = ExpectedCalibrationError(num_bins=10)
    ece.update_state(labels, probs)
    confidence = probs.max(axis=-1)
    index = _metric_cores.confidence_bins(confidence, 10, dtype="float32")
    correct = (probs.argmax(axis=-1) == labels).astype(np.float64)
    np.testing.assert_array_equal(
        ops.convert_to_numpy(ece.bin_count), np.bincount(index, minlength=10)
    )
    np.testing.assert_array_equal(
        ops.convert_to_numpy(ece.bin_correct), np.bincount(index, weights=correct, minlength=10)
    )
    np.testing.assert_allclose(
        ops.convert_to_numpy(ece.bin_confidence),
        np.bincount(index, weights=confidence, minlength=10),
        rtol=1e-5,
    )
