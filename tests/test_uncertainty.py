"""keras_drifa.uncertainty: closed forms, hand-worked examples and input errors (NumPy only)."""

import math

import numpy as np
import pytest

from keras_drifa import uncertainty

RNG = np.random.default_rng(0)


def random_probs(shape, seed=0):
    logits = np.random.default_rng(seed).normal(size=shape)
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


# Closed forms ----------------------------------------------------------------------------


@pytest.mark.parametrize("num_classes", [2, 5, 7])
def test_uniform_probabilities_have_entropy_log_c(num_classes):
    uniform = np.full((3, num_classes), 1.0 / num_classes)
    np.testing.assert_allclose(uncertainty.predictive_entropy(uniform), np.log(num_classes))
    np.testing.assert_allclose(uncertainty.expected_entropy(uniform), np.log(num_classes))
    samples = np.stack([uniform] * 4)
    np.testing.assert_allclose(uncertainty.predictive_entropy(samples), np.log(num_classes))


def test_one_hot_probabilities_have_zero_entropy():
    one_hot = np.eye(4)[[0, 3, 1]]
    np.testing.assert_array_equal(uncertainty.predictive_entropy(one_hot), 0.0)


def test_identical_samples_have_zero_mutual_information():
    probs = random_probs((6, 5))
    samples = np.broadcast_to(probs, (3, 10, 6, 5))  # members x samples x examples x classes
    np.testing.assert_allclose(uncertainty.mutual_information(samples), 0.0, atol=1e-12)
    np.testing.assert_allclose(
        uncertainty.predictive_entropy(samples), uncertainty.expected_entropy(samples)
    )


def test_confident_disagreeing_samples_are_purely_epistemic():
    # Half the samples say class 0 for sure, half class 1: no aleatoric part, MI = log 2.
    samples = np.array([[[1.0, 0.0]], [[0.0, 1.0]]])
    np.testing.assert_allclose(uncertainty.expected_entropy(samples), 0.0)
    np.testing.assert_allclose(uncertainty.mutual_information(samples), np.log(2))


def test_decomposition_by_hand():
    samples = np.array([[[0.8, 0.2]], [[0.4, 0.6]]])
    h = lambda p: -sum(x * math.log(x) for x in p)  # noqa: E731
    predictive = h([0.6, 0.4])
    expected = (h([0.8, 0.2]) + h([0.4, 0.6])) / 2
    np.testing.assert_allclose(uncertainty.predictive_entropy(samples), [predictive])
    np.testing.assert_allclose(uncertainty.expected_entropy(samples), [expected])
    np.testing.assert_allclose(uncertainty.mutual_information(samples), [predictive - expected])


def test_summarize_samples_agrees_with_the_functions():
    samples = random_probs((2, 7, 5, 3), seed=1)
    summary = uncertainty.summarize_samples(samples)
    flat = samples.reshape(14, 5, 3)
    np.testing.assert_allclose(summary["mean"], flat.mean(axis=0))
    np.testing.assert_array_equal(summary["predicted_class"], flat.mean(axis=0).argmax(-1))
    np.testing.assert_allclose(summary["std"], flat.std(axis=0))
    for key in ("predictive_entropy", "expected_entropy", "mutual_information"):
        np.testing.assert_allclose(summary[key], getattr(uncertainty, key)(samples))
    assert np.all(summary["mutual_information"] > 0)


def test_correct_one_hot_predictions_are_perfect():
    labels = np.array([2, 0, 1, 1])
    probs = np.eye(3)[labels]
    assert uncertainty.expected_calibration_error(probs, labels) == 0.0
    assert uncertainty.negative_log_likelihood(probs, labels) == 0.0
    assert uncertainty.brier_score(probs, labels) == 0.0
    assert uncertainty.expected_calibration_error(probs, np.eye(3)[labels]) == 0.0


def test_expected_calibration_error_hand_worked():
    # 5 bins of width 0.2. Confidences 0.9, 0.95 -> bin (0.8, 1], one right one wrong:
    # |0.5 - 0.925| * 2/5. Confidences 0.7, 0.65 -> bin (0.6, 0.8], both right:
    # |1 - 0.675| * 2/5. Confidence 0.5 -> bin (0.4, 0.6], wrong: |0 - 0.5| * 1/5.
    probs = np.array(
        [[0.9, 0.1], [0.05, 0.95], [0.7, 0.3], [0.35, 0.65], [0.5, 0.5]]
    )
    labels = np.array([0, 0, 0, 1, 1])
    expected = 0.425 * 2 / 5 + 0.325 * 2 / 5 + 0.5 / 5
    assert uncertainty.expected_calibration_error(probs, labels, num_bins=5) == pytest.approx(
        expected
    )
    # With one bin the ECE is |accuracy - mean confidence|.
    assert uncertainty.expected_calibration_error(probs, labels, num_bins=1) == pytest.approx(
        abs(3 / 5 - np.mean([0.9, 0.95, 0.7, 0.65, 0.5]))
    )


def test_confidence_bins_are_right_closed():
    np.testing.assert_array_equal(
        uncertainty.confidence_bins(np.array([0.0, 0.1, 0.2, 0.25, 0.5, 1.0]), 4),
        [0, 0, 0, 0, 1, 3],
    )


def test_negative_log_likelihood_and_brier_by_hand():
    probs = np.array([[0.5, 0.25, 0.25], [0.1, 0.8, 0.1]])
    labels = np.array([0, 2])
    assert uncertainty.negative_log_likelihood(probs, labels) == pytest.approx(
        -(np.log(0.5) + np.log(0.1)) / 2
    )
    assert uncertainty.brier_score(probs, labels) == pytest.approx(
        ((0.25 + 0.0625 + 0.0625) + (0.01 + 0.64 + 0.81)) / 2
    )
    # A confidently wrong prediction is clipped, not infinite.
    assert uncertainty.negative_log_likelihood(np.array([[1.0, 0.0]]), [1]) == pytest.approx(
        -np.log(uncertainty.NLL_EPSILON)
    )


def test_misclassification_auroc_by_hand():
    probs = np.array([[0.9, 0.1], [0.6, 0.4], [0.8, 0.2], [0.3, 0.7]])
    labels = np.array([0, 1, 0, 1])  # example 1 is the only error
    # Scores: the error (0.5) against the correct ones (0.1, 0.4, 0.5): wins 2, ties 1.
    scores = np.array([0.1, 0.5, 0.4, 0.5])
    assert uncertainty.misclassification_auroc(probs, labels, scores) == pytest.approx(2.5 / 3)
    assert uncertainty.misclassification_auroc(probs, labels, -scores) == pytest.approx(0.5 / 3)
    # Default score: the entropy, highest for the 0.6/0.4 error.
    assert uncertainty.misclassification_auroc(probs, labels) == 1.0
    assert math.isnan(uncertainty.misclassification_auroc(np.eye(2), [0, 1]))


def test_uncertainty_report_on_samples_and_on_a_predict_uncertainty_result():
    samples = [random_probs((4, 20, 3), seed=2), random_probs((4, 20, 5), seed=3)]
    labels = [RNG.integers(0, 3, 20), RNG.integers(0, 5, 20)]
    report = uncertainty.uncertainty_report(samples, labels, num_bins=10)
    assert list(report) == ["task_0", "task_1"]
    assert set(report["task_0"]) == set(uncertainty.REPORT_COLUMNS)
    mean = samples[1].mean(axis=0)
    row = report["task_1"]
    assert row["examples"] == 20
    assert row["accuracy"] == pytest.approx(np.mean(mean.argmax(-1) == labels[1]))
    assert row["ece"] == pytest.approx(
        uncertainty.expected_calibration_error(mean, labels[1], num_bins=10)
    )
    assert row["mutual_information"] == pytest.approx(
        uncertainty.mutual_information(samples[1]).mean()
    )
    summaries = {
        "a": uncertainty.summarize_samples(samples[0]),
        "b": uncertainty.summarize_samples(samples[1]),
    }
    from_summaries = uncertainty.uncertainty_report(summaries, {"a": labels[0], "b": labels[1]})
    assert from_summaries["b"]["nll"] == pytest.approx(row["nll"])
    text = str(from_summaries)
    assert text.splitlines()[0].split()[:3] == ["task", "examples", "accuracy"]
    assert len(text.splitlines()) == 3
    assert f"{from_summaries['b']['brier']:.4f}" in text.splitlines()[2]


def test_uncertainty_report_without_samples_has_no_epistemic_columns():
    probs = random_probs((10, 3))
    report = uncertainty.uncertainty_report(probs, RNG.integers(0, 3, 10))
    assert math.isnan(report["task_0"]["mutual_information"])
    assert math.isnan(report["task_0"]["auroc_mutual_information"])
    assert report["task_0"]["expected_entropy"] == pytest.approx(
        report["task_0"]["predictive_entropy"]
    )
    assert "-" in str(report)


# Bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fn",
    [uncertainty.predictive_entropy, uncertainty.expected_entropy, uncertainty.mutual_information],
)
def test_sample_functions_reject_wrong_rank_and_non_probabilities(fn):
    with pytest.raises(ValueError, match=r"shape \(3,\) \(rank 1\); expected \(\.\.\., num_ex"):
        fn(np.array([0.2, 0.3, 0.5]))
    with pytest.raises(ValueError, match=r"the row at index \(1,\) sums to 1\.5"):
        fn(np.array([[0.5, 0.5], [0.5, 1.0]]))
    with pytest.raises(ValueError, match="has value -2 .* not logits"):
        fn(np.array([[-2.0, 3.0]]))
    with pytest.raises(ValueError, match="non-finite value nan"):
        fn(np.array([[np.nan, 1.0]]))


@pytest.mark.parametrize(
    "fn",
    [
        uncertainty.expected_calibration_error,
        uncertainty.negative_log_likelihood,
        uncertainty.brier_score,
        uncertainty.misclassification_auroc,
    ],
)
def test_calibration_functions_reject_bad_probabilities_and_labels(fn):
    probs = np.array([[0.7, 0.3], [0.2, 0.8]])
    with pytest.raises(ValueError, match="average Monte Carlo samples over their axes first"):
        fn(np.stack([probs, probs]), [0, 1])
    with pytest.raises(ValueError, match="sums to 0.9"):
        fn(np.array([[0.6, 0.3], [0.2, 0.8]]), [0, 1])
    with pytest.raises(ValueError, match=r"value 2 at index 1, out of range for 2 classes"):
        fn(probs, [0, 2])
    with pytest.raises(ValueError, match=r"value -1 at index 0, out of range"):
        fn(probs, [-1, 0])
    with pytest.raises(ValueError, match=r"labels` has shape \(3,\); expected integer"):
        fn(probs, [0, 1, 1])
    with pytest.raises(ValueError, match="non-integer value 0.5 at index 1"):
        fn(probs, np.array([1.0, 0.5]))
    with pytest.raises(ValueError, match=r"not one-hot \(row 1 is \[0.5, 0.5\]\)"):
        fn(probs, np.array([[1.0, 0.0], [0.5, 0.5]]))


def test_other_bad_arguments():
    probs = np.array([[0.7, 0.3], [0.2, 0.8]])
    with pytest.raises(ValueError, match="`num_bins` must be an integer >= 1; received num_bins=0"):
        uncertainty.expected_calibration_error(probs, [0, 1], num_bins=0)
    with pytest.raises(ValueError, match=r"`uncertainty` has shape \(3,\); expected \(2,\)"):
        uncertainty.misclassification_auroc(probs, [0, 1], np.ones(3))
    with pytest.raises(ValueError, match="2 tasks .* but `labels` has 3 entries"):
        uncertainty.uncertainty_report([probs, probs[:, :1]], [[0, 1]] * 3)
    # Two arrays of one shape: two tasks, or two MC samples of one task? Refused.
    with pytest.raises(ValueError, match=r"list of 2 arrays of one shape \(2, 2\).*np.stack"):
        uncertainty.uncertainty_report([probs, probs], [[0, 1]] * 2)
    stacked = uncertainty.uncertainty_report(np.stack([probs, probs]), [0, 1])
    assert list(stacked) == ["task_0"] and stacked["task_0"]["examples"] == 2
    with pytest.raises(ValueError, match=r"`labels` has the tasks \['x'\]; expected"):
        uncertainty.uncertainty_report({"a": probs}, {"x": [0, 1]})
