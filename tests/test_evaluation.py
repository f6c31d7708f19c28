import numpy as np
import pytest

from keras_drifa.evaluation import METRIC_NAMES, classification_metrics, metrics_table

sklearn_metrics = pytest.importorskip(
    "sklearn.metrics", reason="scikit-learn is the reference implementation (test extra)"
)


def _random_case(seed, n=200, classes=4):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, classes))
    labels = rng.integers(0, classes, n)
    logits[np.arange(n), labels] += 1.0  # better than chance, not perfect
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return probs, labels


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_scikit_learn(seed):
    probs, labels = _random_case(seed)
    predicted = probs.argmax(axis=1)
    m = classification_metrics(probs, labels)
    assert m["accuracy"] == pytest.approx(sklearn_metrics.accuracy_score(labels, predicted))
    for name in ("precision", "recall", "f1"):
        fn = getattr(sklearn_metrics, f"{name}_score")
        assert m[name] == pytest.approx(fn(labels, predicted, average="macro", zero_division=0))
    assert m["roc_auc"] == pytest.approx(
        sklearn_metrics.roc_auc_score(labels, probs, multi_class="ovr", average="macro")
    )


def test_precision_and_recall_are_not_swapped():
    # Class 1 is predicted for everything: its recall is 1, its precision 1/3.
    probs = np.array([[0.2, 0.8]] * 3)
    m = classification_metrics(probs, [0, 0, 1])
    assert m["recall"] == pytest.approx((0.0 + 1.0) / 2)
    assert m["precision"] == pytest.approx((0.0 + 1 / 3) / 2)


def test_one_hot_labels_and_perfect_predictions():
    probs = np.eye(3)[[0, 1, 2, 1]]
    m = classification_metrics(probs, np.eye(3)[[0, 1, 2, 1]])
    assert all(m[n] == pytest.approx(1.0) for n in ("accuracy", "precision", "recall", "f1", "roc_auc"))
    assert m["ece"] == pytest.approx(0.0)


def test_rejects_probabilities_that_do_not_sum_to_one():
    with pytest.raises(ValueError, match="classification_metrics"):
        classification_metrics(np.array([[0.5, 0.6]]), [0])


def test_table_lists_every_metric_per_row():
    probs, labels = _random_case(3)
    table = metrics_table({"drifa": classification_metrics(probs, labels)}, title="task_0")
    lines = table.splitlines()
    assert lines[0] == "task_0" and all(n in lines[1] for n in METRIC_NAMES)
    assert lines[2].startswith("drifa") and len(lines[2].split()) == 1 + len(METRIC_NAMES)


# --- several seeds: compare_runs and runs_table ---------------------------------------------


def _runs(values, metric="accuracy"):
    return [{metric: v} for v in values]


def test_compare_runs_needs_the_difference_to_beat_its_noise():
    from keras_drifa.evaluation import compare_runs

    verdict, difference, error = compare_runs(_runs([0.95, 0.96, 0.94]), _runs([0.80, 0.82, 0.78]))
    assert verdict == "better" and difference == pytest.approx(0.15)
    assert error == pytest.approx(np.sqrt(0.01**2 / 3 + 0.02**2 / 3))
    assert compare_runs(_runs([0.80, 0.82, 0.78]), _runs([0.95, 0.96, 0.94]))[0] == "worse"
    # A large mean difference with a large spread is not a verdict...
    assert compare_runs(_runs([0.99, 0.50, 0.99]), _runs([0.70, 0.72, 0.71]))[0] == (
        "no clear difference"
    )
    # ... nor a tiny one with no spread (min_difference).
    assert compare_runs(_runs([0.901, 0.901]), _runs([0.900, 0.900]))[0] == "no clear difference"
    # Lower is better for the calibration error.
    ece = compare_runs(_runs([0.02, 0.03], "ece"), _runs([0.20, 0.21], "ece"), metric="ece")
    assert ece[0] == "better" and ece[1] < 0


def test_compare_runs_and_runs_table_errors_and_format():
    from keras_drifa.evaluation import compare_runs, runs_table

    with pytest.raises(ValueError, match="at least two runs per model; received 1 and 3"):
        compare_runs(_runs([0.9]), _runs([0.8, 0.8, 0.8]))
    with pytest.raises(ValueError, match="metric` must be one of"):
        compare_runs(_runs([0.9, 0.9]), _runs([0.8, 0.8]), metric="speed")
    runs = [{"accuracy": a, "f1": a - 0.1, "ece": 0.05} for a in (0.9, 0.8)]
    lines = runs_table({"DRIFA-Net": runs}, title="pair_class").splitlines()
    assert lines[0] == "pair_class" and lines[1].split() == ["accuracy", "f1", "ece"]
    assert lines[2].split() == ["DRIFA-Net", "0.850", "±", "0.071", "0.750", "±", "0.071",
                                "0.050", "±", "0.000"]


def test_compare_runs_gives_no_verdict_on_a_nan_run():
    from keras_drifa.evaluation import compare_runs

    good = [{"accuracy": 0.9}, {"accuracy": 0.91}]
    with pytest.raises(ValueError, match=r"compare_runs: runs_b\[1\] has accuracy=nan; expected a "
                       r"finite value from every run. No verdict is given"):
        compare_runs(good, [{"accuracy": 0.5}, {"accuracy": float("nan")}])
    with pytest.raises(ValueError, match=r"runs_a\[0\] has ece=inf"):
        compare_runs([{"ece": float("inf")}, {"ece": 0.1}], good and [{"ece": 0.1}] * 2,
                     metric="ece")
