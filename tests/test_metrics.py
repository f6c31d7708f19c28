"""keras_drifa.metrics.ExpectedCalibrationError: agrees with the NumPy ECE, in and out of fit."""

import keras
import numpy as np
import pytest

from keras_drifa import uncertainty
from keras_drifa.metrics import ExpectedCalibrationError


def probabilities(n, num_classes, seed):
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=2.0, size=(n, num_classes))
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    probs = (e / e.sum(axis=-1, keepdims=True)).astype("float32")
    # Keep confidences away from bin edges, where float32 and float64 may disagree.
    confidence = probs.max(axis=-1)
    keep = np.abs(confidence * 15 - np.round(confidence * 15)) > 1e-3
    return probs[keep], rng.integers(0, num_classes, n)[keep]


def test_hand_worked_example_and_reset():
    ece = ExpectedCalibrationError(num_bins=5)
    probs = np.array([[0.9, 0.1], [0.05, 0.95], [0.7, 0.3], [0.35, 0.65], [0.5, 0.5]])
    ece.update_state(np.array([0, 0, 0, 1, 1]), probs)
    assert float(ece.result()) == pytest.approx(0.425 * 2 / 5 + 0.325 * 2 / 5 + 0.5 / 5, abs=1e-6)
    ece.reset_state()
    assert float(ece.result()) == 0.0


def test_accumulates_like_the_numpy_function_on_all_batches():
    probs, labels = probabilities(200, 4, seed=0)
    ece = ExpectedCalibrationError()
    for start in range(0, len(labels), 64):  # one-hot and integer labels alike
        y = labels[start : start + 64]
        ece.update_state(np.eye(4)[y] if start % 128 else y, probs[start : start + 64])
    assert float(ece.result()) == pytest.approx(
        uncertainty.expected_calibration_error(probs, labels), abs=1e-5
    )


def test_sample_weight_counts_examples():
    probs, labels = probabilities(50, 3, seed=1)
    weights = np.random.default_rng(2).integers(0, 3, len(labels))
    weighted = ExpectedCalibrationError(num_bins=10)
    weighted.update_state(labels, probs, sample_weight=weights.astype("float32"))
    repeated = np.repeat(np.arange(len(labels)), weights)
    assert float(weighted.result()) == pytest.approx(
        uncertainty.expected_calibration_error(probs[repeated], labels[repeated], num_bins=10),
        abs=1e-5,
    )


def test_config_round_trip():
    ece = ExpectedCalibrationError(num_bins=7, name="calibration")
    clone = ExpectedCalibrationError.from_config(ece.get_config())
    assert clone.num_bins == 7 and clone.name == "calibration"
    restored = keras.metrics.deserialize(keras.metrics.serialize(ece))
    assert isinstance(restored, ExpectedCalibrationError) and restored.num_bins == 7


def test_bad_arguments():
    with pytest.raises(ValueError, match="`num_bins` must be an integer >= 1; received num_bins=0"):
        ExpectedCalibrationError(num_bins=0)
    ece = ExpectedCalibrationError()
    with pytest.raises(ValueError, match=r"`y_true` has shape \(2, 3\); expected one-hot \(batch,"):
        ece.update_state(np.zeros((2, 3)), np.full((2, 2), 0.5))
    with pytest.raises(ValueError, match=r"`y_pred` has shape \(2, 2, 2\); expected"):
        ece.update_state(np.zeros((2,)), np.full((2, 2, 2), 0.5))


@pytest.mark.compiled
def test_in_compile_metrics_matches_numpy_on_predictions():
    """Compiled fit and evaluate on every backend (a Dense model compiles fast, also on TF)."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(96, 6)).astype("float32")
    y = rng.integers(0, 3, 96)
    inputs = keras.Input((6,))
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(inputs))
    model.compile(
        loss="sparse_categorical_crossentropy",
        metrics=[ExpectedCalibrationError(num_bins=10)],
    )
    model.fit(x, y, epochs=1, batch_size=32, verbose=0)
    logs = model.evaluate(x, y, batch_size=32, verbose=0, return_dict=True)
    probs = model.predict(x, verbose=0)
    assert logs["ece"] == pytest.approx(
        uncertainty.expected_calibration_error(probs, y, num_bins=10), abs=1e-4
    )


def test_numpy_num_bins_and_refused_logits_and_labels():
    assert ExpectedCalibrationError(num_bins=np.int64(4)).num_bins == 4
    ece = ExpectedCalibrationError()
    with pytest.raises(ValueError, match=r"ExpectedCalibrationError: `y_pred` has value -1 at index "
                       r"\(0, 1\); expected probabilities in \[0, 1\] \(pass softmax outputs, not logits\)"):
        ece.update_state(np.array([0, 1]), np.array([[2.0, -1.0], [0.0, 3.0]]))
    with pytest.raises(ValueError, match=r"the probabilities in `y_pred` must sum to one"):
        ece.update_state(np.array([0, 1]), np.array([[0.6, 0.6], [0.2, 0.8]]))
    for labels, shown in (([0, 5], "5 at index 1"), ([-1, 0], "-1 at index 0"), ([0.5, 1], "0.5")):
        with pytest.raises(ValueError, match=rf"`y_true` has the value {shown}.*expected class "
                           r"indices in \[0, 1\]"):
            ece.update_state(np.array(labels), np.array([[0.9, 0.1], [0.2, 0.8]]))
    # Nothing was counted from the refused batches; smoothed one-hot rows are fine.
    assert float(ece.result()) == 0.0
    ece.update_state(np.array([[0.95, 0.05], [0.05, 0.95]]), np.array([[0.9, 0.1], [0.2, 0.8]]))
    assert float(ece.result()) == pytest.approx(0.15, abs=1e-6)


@pytest.mark.compiled
def test_logits_in_a_compiled_evaluate_give_nan_or_an_error():
    """Compiled, values cannot be inspected: the metric turns NaN. PyTorch's evaluate runs
    eagerly (no jit_compile), so there the values are checked and refused."""
    x = np.random.default_rng(0).normal(size=(8, 3)).astype("float32")
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs))  # logits, no softmax
    model.compile(loss="mse", metrics=[ExpectedCalibrationError()])
    if keras.backend.backend() == "torch":
        with pytest.raises(ValueError, match="pass softmax outputs, not logits"):
            model.evaluate(x, np.eye(2)[[0, 1] * 4] * 10, verbose=0)
    else:
        logs = model.evaluate(x, np.eye(2)[[0, 1] * 4] * 10, verbose=0, return_dict=True)
        assert np.isnan(logs["ece"])
