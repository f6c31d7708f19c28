"""keras_drifa.referral: risk-coverage measures against hand-worked cases and closed forms."""

import itertools

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from keras_drifa import referral, uncertainty


def cases(n=300, classes=4, seed=0):
    """Probabilities and labels of a model that is right about 70% of the time."""
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.full(classes, 0.7), size=n)
    labels = np.where(rng.random(n) < 0.7, probs.argmax(1), rng.integers(0, classes, n))
    return probs, labels


def brute_force_aurc(wrong, scores):
    """The mean over every order of the tied cases of Geifman's AURC: by enumeration."""
    groups = [np.flatnonzero(scores == v) for v in np.unique(scores)]
    values = []
    for orders in itertools.product(*(itertools.permutations(g) for g in groups)):
        kept = wrong[np.concatenate(orders)]
        values.append(np.mean(np.cumsum(kept) / np.arange(1, len(kept) + 1)))
    return np.mean(values)


def test_hand_worked_curve():
    # Predictions 0, 0, 0, 0; the second and fourth are wrong. Kept in the order of
    # confidence 0.9, 0.8, 0.7, 0.6: errors 0, 0, 1, 2.
    probs = np.array([[0.9, 0.1], [0.6, 0.4], [0.8, 0.2], [0.7, 0.3]])
    labels = [0, 1, 0, 1]
    curve = referral.risk_coverage_curve(probs, labels)
    np.testing.assert_allclose(curve["coverage"], [0.25, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(curve["selective_risk"], [0, 0, 1 / 3, 1 / 2])
    np.testing.assert_allclose(curve["generalized_risk"], [0, 0, 1 / 4, 1 / 2])
    assert referral.aurc(probs, labels) == pytest.approx((0 + 0 + 1 / 3 + 1 / 2) / 4)
    # Trapezoids under 0, 0, 0, 1/4, 1/2 at coverages 0, 1/4, ..., 1.
    assert referral.augrc(probs, labels) == pytest.approx((0 + 0 + 1 / 8 + 3 / 8) / 4)
    assert referral.accuracy_at_coverage(probs, labels, 0.5) == 1.0
    assert referral.accuracy_at_coverage(probs, labels, 1.0) == 0.5
    assert referral.coverage_at_risk(probs, labels, 0.4) == 0.75
    assert referral.coverage_at_risk(probs, labels, 0.0) == 0.5


def test_ties_count_as_a_random_order_in_expectation():
    probs = np.array([[0.8, 0.2]] * 3 + [[0.6, 0.4]] * 2 + [[0.9, 0.1]])
    labels = np.array([0, 1, 0, 1, 0, 0])
    scores = referral.score(probs)
    wrong = probs.argmax(1) != labels
    assert referral.aurc(probs, labels) == pytest.approx(brute_force_aurc(wrong, scores))
    # Reordering the rows changes nothing.
    order = np.random.default_rng(0).permutation(len(labels))
    assert referral.aurc(probs[order], labels[order]) == pytest.approx(referral.aurc(probs, labels))


@pytest.mark.parametrize("kind", ["max_softmax", "predictive_entropy"])
@pytest.mark.parametrize("rounding", [None, 1])  # 1 decimal: many ties
def test_augrc_equals_its_closed_form_in_the_auroc(kind, rounding):
    # Traub et al. 2024: AUGRC = (1 - AUROC) * acc * (1 - acc) + (1 - acc)^2 / 2, with the
    # misclassification AUROC of the score (scikit-learn's, ties counted one half).
    probs, labels = cases()
    scores = referral.score(probs, kind)
    if rounding is not None:
        scores = np.round(scores, rounding)
    wrong = probs.argmax(1) != labels
    acc = 1 - wrong.mean()
    auroc = roc_auc_score(wrong, scores)
    expected = (1 - auroc) * acc * (1 - acc) + (1 - acc) ** 2 / 2
    assert referral.augrc(probs, labels, scores) == pytest.approx(expected, rel=1e-12)


def test_a_score_that_orders_every_error_last_reaches_the_best_aurc():
    probs, labels = cases()
    wrong = probs.argmax(1) != labels
    oracle = referral.aurc(probs, labels, scores=wrong.astype(float))
    # The errors come after all right cases: risk 0 up to the accuracy, then (k - R) / k.
    n, right = len(labels), int((~wrong).sum())
    k = np.arange(right + 1, n + 1)
    assert oracle == pytest.approx(np.sum((k - right) / k) / n)
    assert referral.aurc(probs, labels) > oracle
    assert referral.aurc(probs, labels, scores=-wrong.astype(float)) > referral.aurc(probs, labels)


def test_scores_of_samples():
    samples = np.stack([cases(seed=0)[0], cases(seed=1)[0]])  # 2 samples of 300 cases
    mean = samples.mean(0)
    np.testing.assert_allclose(referral.score(samples), 1 - mean.max(1))
    np.testing.assert_allclose(
        referral.score(samples, "mutual_information"), uncertainty.mutual_information(samples)
    )
    np.testing.assert_allclose(
        referral.score(samples, "expected_entropy"), uncertainty.expected_entropy(samples)
    )
    with pytest.raises(ValueError, match="needs Monte Carlo samples"):
        referral.score(mean, "mutual_information")
    with pytest.raises(ValueError, match="must be one of"):
        referral.score(mean, "energy")


def test_referral_table():
    probs, labels = cases()
    table = referral.referral_table(probs, labels, referred=(0.0, 0.2))
    assert list(table) == ["max_softmax", "predictive_entropy"]
    row = table["max_softmax"]
    assert row["accuracy_if_referred_0%"] == pytest.approx(np.mean(probs.argmax(1) == labels))
    assert row["accuracy_if_referred_20%"] == referral.accuracy_at_coverage(probs, labels, 0.8)
    assert row["accuracy_if_referred_20%"] > row["accuracy_if_referred_0%"]
    assert row["aurc"] == referral.aurc(probs, labels)
    text = str(table)
    assert "refer 20%" in text.splitlines()[0] and "max_softmax" in text
    samples = np.stack([probs, probs[::-1]])
    assert list(referral.referral_table(samples, labels)) == list(referral.SCORES)
    custom = referral.referral_table(probs, labels, scores={"mine": np.arange(300.0)})
    assert list(custom) == ["mine"]


@pytest.mark.parametrize("call,message", [
    (lambda p, y: referral.accuracy_at_coverage(p, y, 0), r"coverage.*\(0, 1\]"),
    (lambda p, y: referral.coverage_at_risk(p, y, 1.5), r"risk.*\[0, 1\]"),
    (lambda p, y: referral.aurc(p, y, scores=np.ones(3)), r"expected \(4,\)"),
    (lambda p, y: referral.aurc(p, y, scores=[0, 1, np.nan, 2]), "non-finite value nan"),
    (lambda p, y: referral.referral_table(p, y, referred=(1.0,)), r"\[0, 1\)"),
    (lambda p, y: referral.aurc(p * 3, y), "expected probabilities in"),
    (lambda p, y: referral.aurc(p, [0, 1, 2, 0]), "out of range for 2 classes"),
])
def test_bad_input_is_named(call, message):
    probs = np.array([[0.9, 0.1], [0.6, 0.4], [0.8, 0.2], [0.7, 0.3]])
    with pytest.raises(ValueError, match=message):
        call(probs, [0, 1, 0, 1])


def test_referred_shares_may_come_from_a_generator():
    probs, labels = cases()
    table = referral.referral_table(probs, labels, referred=(r for r in (0.0, 0.2)))
    assert list(table["max_softmax"]) == ["aurc", "augrc", "accuracy_if_referred_0%",
                                          "accuracy_if_referred_20%"]
