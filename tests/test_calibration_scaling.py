"""keras_drifa.calibration: temperature and vector scaling fitted by NLL (NumPy).

Checked against a closed form (the two-class temperature that makes the predicted
probability equal the observed accuracy), a fine grid search of the NLL, finite-difference
gradients, and a known distortion that vector scaling must undo.
"""

import numpy as np
import pytest

from keras_drifa import calibration
from keras_drifa.uncertainty import expected_calibration_error, negative_log_likelihood


def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def noisy_predictions(n=400, classes=5, seed=0):
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.full(classes, 0.3), size=n)
    labels = np.where(rng.random(n) < 0.6, probs.argmax(1), rng.integers(0, classes, n))
    return probs, labels


@pytest.mark.parametrize("tied", [True, False], ids=["temperature", "vector"])
def test_gradient_matches_finite_differences(tied):
    rng = np.random.default_rng(1)
    logs = np.log(rng.dirichlet(np.ones(4), size=(3, 50)))
    labels = rng.integers(0, 4, 50)
    theta = rng.normal(size=1 if tied else 8) * 0.3
    _, grad = calibration._objective(logs, labels, theta, tied)
    eps = 1e-6
    numeric = [
        (calibration._objective(logs, labels, theta + e, tied)[0]
         - calibration._objective(logs, labels, theta - e, tied)[0]) / (2 * eps)
        for e in np.eye(len(theta)) * eps
    ]
    np.testing.assert_allclose(grad, numeric, atol=1e-7)


def test_two_class_temperature_has_its_closed_form():
    # Every example predicts (q, 1 - q) and the first class is right in a share r of them:
    # NLL(T) is minimal where sigmoid(logit(q) / T) = r, so T = logit(q) / logit(r).
    q, r, n = 0.6, 0.9, 1000
    probs = np.tile([q, 1 - q], (n, 1))
    labels = (np.arange(n) >= r * n).astype(int)
    expected = np.log(q / (1 - q)) / np.log(r / (1 - r))
    assert calibration.fit_scaling(probs, labels).temperature == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("num_samples", [1, 3])
def test_temperature_minimises_the_nll_of_the_pooled_samples(num_samples):
    rng = np.random.default_rng(2)
    probs, labels = noisy_predictions()
    samples = softmax(np.log(probs) + rng.normal(0, 0.5, (num_samples,) + probs.shape))
    fitted = calibration.fit_scaling(samples, labels).temperature
    grid = np.exp(np.linspace(-2, 2, 4001))
    nll = [negative_log_likelihood(softmax(np.log(samples) / t).mean(0), labels) for t in grid]
    assert fitted == pytest.approx(grid[int(np.argmin(nll))], rel=2e-3)


def test_temperature_keeps_every_prediction_and_fixes_under_confidence():
    rng = np.random.default_rng(3)
    n, classes = 4000, 4
    calibrated = softmax(rng.normal(0, 3, (n, classes)))
    labels = np.array([rng.choice(classes, p=p) for p in calibrated])
    under = softmax(np.log(calibrated) / 4.0)   # what the demo's pair task looks like
    scaling = calibration.fit_scaling(under, labels)
    assert scaling.temperature == pytest.approx(0.25, rel=0.05)
    after = scaling(under)
    np.testing.assert_array_equal(after.argmax(1), under.argmax(1))
    assert expected_calibration_error(under, labels) > 0.2
    assert expected_calibration_error(after, labels) < 0.02


def test_vector_scaling_undoes_a_per_class_distortion():
    rng = np.random.default_rng(4)
    n, classes = 5000, 3
    truth = softmax(rng.normal(0, 2, (n, classes)))
    labels = np.array([rng.choice(classes, p=p) for p in truth])
    # log(distorted) differs from w * log(truth) + b by a per-example constant scaled by w,
    # so the exact inverse is not in the family; its NLL must come close to the truth's.
    distorted = softmax(np.array([0.5, 2.0, 1.0]) * np.log(truth) + np.array([1.0, -0.5, 0.0]))
    vector = calibration.fit_scaling(distorted, labels, "vector")
    temperature = calibration.fit_scaling(distorted, labels)
    best = negative_log_likelihood(truth, labels)
    assert negative_log_likelihood(vector(distorted), labels) == pytest.approx(best, abs=0.01)
    assert negative_log_likelihood(temperature(distorted), labels) > best + 0.02


def test_scaling_applies_per_sample_and_checks_its_classes():
    probs, labels = noisy_predictions(classes=3)
    scaling = calibration.fit_scaling(probs, labels, "vector")
    samples = np.stack([probs, probs[::-1]])
    np.testing.assert_allclose(scaling(samples)[1], scaling(probs[::-1]))
    with pytest.raises(ValueError, match="has 2 classes; this scaling was fitted on 3"):
        scaling(np.full((4, 2), 0.5))


def test_temperature_stays_within_its_bounds_on_data_it_gets_all_right():
    probs = np.array([[0.6, 0.4], [0.4, 0.6]] * 10)
    scaling = calibration.fit_scaling(probs, [0, 1] * 10)
    assert 1 / calibration.MAX_SCALE <= scaling.temperature < 0.05


def test_errors_name_the_argument():
    probs, labels = noisy_predictions(n=10, classes=3)
    with pytest.raises(ValueError, match="`method` must be one of"):
        calibration.fit_scaling(probs, labels, "platt")
    with pytest.raises(ValueError, match="expected integer class indices"):
        calibration.fit_scaling(probs, labels[:5])
    with pytest.raises(ValueError, match="pass softmax outputs, not logits"):
        calibration.fit_scaling(probs * 5, labels)
