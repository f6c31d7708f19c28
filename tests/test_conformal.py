"""keras_drifa.conformal: the coverage guarantee, checked over repeated random splits."""

import numpy as np
import pytest

from keras_drifa import conformal

CLASSES = 5


def pool(n=2000, seed=0):
    """Cases of an over-confident model: labels drawn from softmax(z), the model reports
    softmax(2 z). Conformal sets keep their guarantee on any model."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 1.5, (n, CLASSES))
    truth = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    labels = np.array([rng.choice(CLASSES, p=p) for p in truth])
    sharp = np.exp(2 * logits)
    return sharp / sharp.sum(1, keepdims=True), labels


PREDICTORS = {
    "lac": dict(method="lac"),
    "aps": dict(method="aps"),
    "aps_randomized": dict(method="aps", randomized=True),
    "raps": dict(method="raps", penalty=0.05, k_reg=1),
}


@pytest.mark.parametrize("alpha", [0.05, 0.1, 0.2])
@pytest.mark.parametrize("name", list(PREDICTORS))
def test_coverage_over_random_splits_is_one_minus_alpha(name, alpha):
    # Split conformal guarantees 1 - alpha <= E[coverage] <= 1 - alpha + 1 / (n + 1) for
    # untied scores and exchangeable cases (Angelopoulos & Bates 2021, Theorem 1 and D.1);
    # random splits of one pool are exchangeable. The mean over 200 splits of 500
    # calibration and 1,500 test cases has a standard deviation of about 0.001, so 0.005
    # is five of them. The randomised scores' draws are part of the guarantee's randomness:
    # a seed per split (one seed for all reuses the same draws, off by 0.011 at alpha 0.2).
    probs, labels = pool()
    rng = np.random.default_rng(1)
    n = 500
    coverages, sizes = [], []
    for split in range(200):
        order = rng.permutation(len(labels))
        calibration, test = order[:n], order[n:]
        predictor = conformal.SplitConformal(alpha=alpha, seed=split, **PREDICTORS[name])
        result = predictor.fit(probs[calibration], labels[calibration]).evaluate(
            probs[test], labels[test]
        )
        coverages.append(result["coverage"])
        sizes.append(result["mean_set_size"])
    assert 1 - alpha - 0.005 <= np.mean(coverages) <= 1 - alpha + 1 / (n + 1) + 0.005
    assert 1 <= np.mean(sizes) < CLASSES  # informative sets, not every class


def test_smaller_alpha_gives_larger_sets_and_randomisation_smaller_ones():
    probs, labels = pool()
    sizes = {}
    for alpha in (0.05, 0.2):
        for randomized in (False, True):
            predictor = conformal.SplitConformal(alpha, "aps", randomized=randomized, seed=0)
            predictor.fit(probs[:1000], labels[:1000])
            sizes[alpha, randomized] = predictor.evaluate(probs[1000:], labels[1000:])[
                "mean_set_size"
            ]
    assert sizes[0.05, False] > sizes[0.2, False]
    assert sizes[0.05, True] < sizes[0.05, False] and sizes[0.2, True] < sizes[0.2, False]


def test_hand_worked_thresholds():
    probs = np.array([[0.5, 0.3, 0.2], [0.1, 0.6, 0.3], [0.2, 0.2, 0.6], [0.7, 0.1, 0.2]])
    labels = [1, 1, 0, 0]
    # LAC scores 1 - p_y: 0.7, 0.4, 0.8, 0.3; alpha 0.4: the ceil(5 * 0.6) = 3rd smallest.
    assert conformal.SplitConformal(0.4).fit(probs, labels).threshold == pytest.approx(0.7)
    # APS scores, the mass at or above the true class: 0.8, 0.6, 0.8 (0.6 + 0.2, the
    # tie broken by class order), 0.7.
    aps = conformal.SplitConformal(0.4, "aps").fit(probs, labels)
    assert aps.threshold == pytest.approx(0.8)
    np.testing.assert_array_equal(
        aps.predict(np.array([[0.5, 0.3, 0.2], [0.9, 0.05, 0.05]])),
        [[True, True, False], [False, False, False]],  # 0.9 > 0.8: APS sets may be empty
    )
    # RAPS adds 0.1 per rank beyond the first: 0.9, 0.7, 1.0, 0.7.
    raps = conformal.SplitConformal(0.4, "raps", penalty=0.1, k_reg=1).fit(probs, labels)
    assert raps.threshold == pytest.approx(0.9)


def test_samples_are_averaged_and_results_reported():
    probs, labels = pool(400)
    samples = np.stack([probs, probs[:, ::-1]])
    a = conformal.SplitConformal(0.1).fit(samples[:, :200], labels[:200])
    b = conformal.SplitConformal(0.1).fit(samples.mean(0)[:200], labels[:200])
    assert a.threshold == b.threshold
    result = a.evaluate(samples[:, 200:], labels[200:])
    assert set(result) == {"coverage", "mean_set_size", "empty", "singleton"}
    assert "threshold=" in repr(a) and "not fitted" in repr(conformal.SplitConformal())


@pytest.mark.parametrize("kwargs,message", [
    (dict(alpha=0), r"alpha.*\(0, 1\)"),
    (dict(alpha=True), r"alpha.*\(0, 1\)"),
    (dict(method="thr"), "must be one of"),
    (dict(randomized=True), "no randomised form"),
    (dict(method="raps", penalty=-1), "penalty"),
    (dict(method="raps", k_reg=-1), "k_reg"),
    (dict(seed=-1), "seed"),
])
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        conformal.SplitConformal(**kwargs)


def test_too_few_calibration_cases_and_use_before_fit():
    probs, labels = pool(20)
    with pytest.raises(ValueError, match="call fit"):
        conformal.SplitConformal().predict(probs)
    with pytest.raises(ValueError, match="8 calibration cases are too few for alpha=0.1.*least 9"):
        conformal.SplitConformal(0.1).fit(probs[:8], labels[:8])
    conformal.SplitConformal(0.1).fit(probs[:9], labels[:9])
    with pytest.raises(ValueError, match="out of range for 5 classes"):
        conformal.SplitConformal(0.1).fit(probs, labels + 5)
