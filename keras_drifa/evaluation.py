"""Classification metrics for softmax outputs, computed the way the paper reports them.

NumPy in and out, usable on any model's probabilities. Unlike the authors' evaluation,
predictions are the arg-max class (not softmax outputs thresholded at 0.5), and precision
and recall are not swapped.
"""

import numpy as np

from keras_drifa import uncertainty

METRIC_NAMES = ("accuracy", "precision", "recall", "f1", "roc_auc", "ece")


def _binary_auc(scores, positives):
    """Area under the ROC curve (Mann-Whitney statistic, ties count one half)."""
    num_pos = int(positives.sum())
    num_neg = len(positives) - num_pos
    if num_pos == 0 or num_neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = scores[order]
    ranks = np.empty(len(scores))
    start = 0
    while start < len(scores):
        end = start
        while end + 1 < len(scores) and sorted_scores[end + 1] == sorted_scores[start]:
            end += 1
        ranks[order[start : end + 1]] = (start + end) / 2 + 1
        start = end + 1
    return float((ranks[positives].sum() - num_pos * (num_pos + 1) / 2) / (num_pos * num_neg))


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
    probs, labels = uncertainty._probs_and_labels("classification_metrics", probs, labels)
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
    aucs = [_binary_auc(probs[:, c], labels == c) for c in range(probs.shape[-1])]
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
