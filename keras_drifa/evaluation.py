"""Classification metrics for softmax outputs, computed the way the paper reports them.

NumPy in and out, usable on any model's probabilities. Unlike the authors' evaluation,
predictions are the arg-max class (not softmax outputs thresholded at 0.5), and precision
and recall are not swapped.
"""

import numpy as np

from keras_drifa import _checks, _metric_cores, uncertainty

METRIC_NAMES = ("accuracy", "precision", "recall", "f1", "roc_auc", "ece")


def classification_metrics(probs, labels, num_bins=uncertainty.DEFAULT_NUM_BINS):
    """Accuracy, macro precision, recall and F1, macro one-vs-rest ROC AUC, and ECE.

    Args:
        probs: probabilities `(num_examples, num_classes)`, rows summing to one.
        labels: class indices `(num_examples,)` or one-hot `(num_examples, num_classes)`.
        num_bins: bins of the expected calibration error.

    Returns:
        `{"accuracy", "precision", "recall", "f1", "roc_auc", "ece"}` as floats. Macro
        averages run over the classes present in `labels` or predicted; a class's
        precision is 0 when it is never predicted. `roc_auc` averages the classes that
        have both positive and negative examples (`nan` if none has).

    Example:

    >>> import numpy as np
    >>> m = classification_metrics(np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]]), [0, 1, 1])
    >>> round(m["accuracy"], 3), round(m["recall"], 3), m["roc_auc"]
    (0.667, 0.75, 1.0)
    """
    probs, labels = _checks.probabilities_and_labels("classification_metrics", probs, labels)
    predicted = probs.argmax(axis=-1)
    classes = np.union1d(labels, predicted)
    precision, recall, f1 = [], [], []
    for c in classes:
        true_pos = np.sum((predicted == c) & (labels == c))
        p = true_pos / max(np.sum(predicted == c), 1)
        r = true_pos / max(np.sum(labels == c), 1)
        precision.append(p)
        recall.append(r)
        f1.append(0.0 if p + r == 0 else 2 * p * r / (p + r))
    aucs = [_metric_cores.mann_whitney_auc(probs[:, c], labels == c) for c in range(probs.shape[-1])]
    aucs = [a for a in aucs if not np.isnan(a)]
    return {
        "accuracy": float(np.mean(predicted == labels)),
        "precision": float(np.mean(precision)),
        "recall": float(np.mean(recall)),
        "f1": float(np.mean(f1)),
        "roc_auc": float(np.mean(aucs)) if aucs else float("nan"),
        "ece": uncertainty.expected_calibration_error(probs, labels, num_bins=num_bins),
    }


def metrics_table(rows, title=None):
    """Formats `{row_name: classification_metrics(...)}` as a fixed-width text table.

    Example:

    ```python
    print(metrics_table({"DRIFA-Net": classification_metrics(probs, labels),
                         "baseline": classification_metrics(baseline_probs, labels)},
                        title="task_0"))
    ```
    """
    width = max([len(name) for name in rows] + [5]) + 2
    header = "".ljust(width) + "  ".join(f"{n:>9}" for n in METRIC_NAMES)
    lines = ([title] if title else []) + [header]
    for name, metrics in rows.items():
        lines.append(name.ljust(width) + "  ".join(f"{metrics[n]:9.3f}" for n in METRIC_NAMES))
    return "\n".join(lines)


# Metrics where a lower value is better; every other metric of METRIC_NAMES is higher-better.
LOWER_IS_BETTER = ("ece",)


def _runs_array(runs, metric, argument):
    if not isinstance(runs, (list, tuple)) or not runs:
        raise ValueError(
            f"{argument} must be a non-empty list of classification_metrics(...) dicts, one "
            f"per seed; received {runs!r:.80}."
        )
    for i, run in enumerate(runs):
        if not isinstance(run, dict) or metric not in run:
            raise ValueError(
                f"{argument}[{i}] has no '{metric}'; expected dicts from "
                f"classification_metrics with keys {METRIC_NAMES}."
            )
    return np.array([float(run[metric]) for run in runs])


def _finite_runs(values, metric, argument):
    if not np.all(np.isfinite(values)):
        i = int(np.argmax(~np.isfinite(values)))
        raise ValueError(
            f"{argument}[{i}] has {metric}={values[i]}; expected a finite value from every "
            "run. No verdict is given: a NaN means the run diverged or had no examples, so "
            "rerun it or leave it out."
        )
    return values


def compare_runs(runs_a, runs_b, metric="accuracy", min_difference=0.01):
    """Says whether model A beats model B on `metric`, from runs with different seeds.

    The difference of the means counts only when it exceeds both twice its standard error
    (`sqrt(var_a / n_a + var_b / n_b)`, sample variances over the seeds) and
    `min_difference`: with three seeds per model that is a deliberately simple, visible
    rule, not a significance test.

    Args:
        runs_a, runs_b: lists of `classification_metrics(...)` dicts, one per seed (at
            least two each for a standard error). A NaN or infinite value in any run is
            an error: no verdict is given on a diverged run.
        metric: one of `METRIC_NAMES`; for `"ece"` lower is better.
        min_difference: the smallest difference that counts, in the metric's units.

    Returns:
        `(verdict, difference, standard_error)`: the verdict is `"better"`,
        `"no clear difference"` or `"worse"` (A against B), the difference is
        `mean_a - mean_b`.

    Example:

    >>> a = [{"accuracy": 0.95}, {"accuracy": 0.96}, {"accuracy": 0.94}]
    >>> b = [{"accuracy": 0.80}, {"accuracy": 0.82}, {"accuracy": 0.78}]
    >>> compare_runs(a, b)[0]
    'better'
    """
    _checks.choice("compare_runs", "metric", metric, METRIC_NAMES)
    a = _finite_runs(_runs_array(runs_a, metric, "compare_runs: runs_a"), metric,
                     "compare_runs: runs_a")
    b = _finite_runs(_runs_array(runs_b, metric, "compare_runs: runs_b"), metric,
                     "compare_runs: runs_b")
    if len(a) < 2 or len(b) < 2:
        raise ValueError(
            f"compare_runs: a standard error needs at least two runs per model; received "
            f"{len(a)} and {len(b)}."
        )
    difference = float(a.mean() - b.mean())
    standard_error = float(np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b)))
    gain = -difference if metric in LOWER_IS_BETTER else difference
    if abs(gain) <= max(2 * standard_error, min_difference):
        verdict = "no clear difference"
    else:
        verdict = "better" if gain > 0 else "worse"
    return verdict, difference, standard_error


def runs_table(rows, metrics=("accuracy", "f1", "ece"), title=None):
    """Formats `{row_name: [classification_metrics(...) per seed]}` as mean ± std per metric.

    Example:

    ```python
    print(runs_table({"DRIFA-Net": drifa_runs, "baseline": baseline_runs}, title="task_0"))
    ```
    """
    width = max([len(name) for name in rows] + [5]) + 2
    header = "".ljust(width) + "  ".join(f"{n:>15}" for n in metrics)
    lines = ([title] if title else []) + [header]
    for name, runs in rows.items():
        cells = []
        for metric in metrics:
            values = _runs_array(runs, metric, f"runs_table: rows[{name!r}]")
            cells.append(f"{values.mean():7.3f} ± {values.std(ddof=1) if len(values) > 1 else 0:5.3f}")
        lines.append(name.ljust(width) + "  ".join(f"{c:>15}" for c in cells))
    return "\n".join(lines)
