"""Uncertainty and calibration measures for classifier probabilities: NumPy in, NumPy out.

Every function works on the output of any classifier, not only DRIFA-Net. Probability arrays
have classes on the last axis. Functions that summarise Monte Carlo samples accept
`(..., num_examples, num_classes)`: the leading axes (members, samples, or both) are the
samples, the last two are examples and classes. Calibration functions take the
sample-averaged `(num_examples, num_classes)` probabilities and labels as integers
`(num_examples,)` or one-hot `(num_examples, num_classes)`. Entropies are in nats.

The decomposition used throughout (Depeweg et al., 2018; Gal, 2016):

    predictive_entropy  = H[ E_samples p ]          total uncertainty
    expected_entropy    = E_samples H[ p ]          aleatoric: noise no model removes
    mutual_information  = predictive - expected     epistemic: disagreement between samples

Example:

>>> import numpy as np
>>> from keras_drifa import uncertainty
>>> samples = np.array([[[0.9, 0.1]], [[0.1, 0.9]]])      # 2 samples, 1 example, 2 classes
>>> float(uncertainty.mutual_information(samples)[0]) > 0.3   # the samples disagree
True
"""

import math
from collections.abc import Mapping

import numpy as np

from keras_drifa import _checks, _metric_cores, _table

SUM_TOLERANCE = _checks.PROBABILITY_SUM_TOLERANCE
DEFAULT_NUM_BINS = 15
# Probabilities are clipped to this before taking logs in the NLL.
NLL_EPSILON = 1e-12
MAX_NUM_BINS = _checks.MAX_NUM_BINS


def _entropy(probs):
    """Shannon entropy (nats) over the last axis, with 0 log 0 = 0."""
    return -np.sum(probs * np.log(np.where(probs > 0, probs, 1.0)), axis=-1)


def _sample_mean(probs):
    """Mean over every leading (sample) axis: `(..., N, C)` -> `(N, C)`."""
    return probs.reshape((-1,) + probs.shape[-2:]).mean(axis=0)


def predictive_entropy(probs):
    """Entropy of the sample-averaged prediction: total uncertainty, in nats.

    Args:
        probs: probabilities `(..., num_examples, num_classes)`; leading axes, if any, are
            Monte Carlo samples (or members) and are averaged first.

    Returns:
        `(num_examples,)`: between 0 (one class certain) and `log(num_classes)` (uniform).

    Example:

    >>> import numpy as np
    >>> predictive_entropy(np.full((1, 4), 0.25)).round(4)   # log(4) = 1.3863
    array([1.3863])
    """
    probs = _checks.probabilities("predictive_entropy", "probs", probs)
    return _entropy(_sample_mean(probs))


def expected_entropy(probs):
    """Mean entropy of the individual samples: aleatoric uncertainty, in nats.

    High when every sample is itself unsure (noisy or ambiguous inputs), whatever the
    agreement between samples. Without sample axes it equals the predictive entropy.

    Args:
        probs: probabilities `(..., num_examples, num_classes)`, leading axes samples.

    Returns:
        `(num_examples,)`.

    Example:

    >>> import numpy as np
    >>> samples = np.array([[[1.0, 0.0]], [[0.0, 1.0]]])   # confident, disagreeing samples
    >>> float(expected_entropy(samples)[0])
    0.0
    """
    probs = _checks.probabilities("expected_entropy", "probs", probs)
    per_sample = _entropy(probs)
    return per_sample.reshape((-1, per_sample.shape[-1])).mean(axis=0)


def mutual_information(probs):
    """Mutual information between prediction and model: epistemic uncertainty, in nats.

    The predictive entropy minus the expected entropy: how much the samples (dropout masks,
    ensemble members) disagree. Zero when all samples agree; large for inputs unlike the
    training data. Rounding below zero is clipped to zero.

    Args:
        probs: probabilities `(..., num_examples, num_classes)`, leading axes samples.

    Returns:
        `(num_examples,)`, between 0 and `log(num_classes)`.

    Example:

    >>> import numpy as np
    >>> same = np.tile(np.array([[0.7, 0.3]]), (5, 1, 1))   # 5 identical samples
    >>> float(mutual_information(same)[0])
    0.0
    """
    probs = _checks.probabilities("mutual_information", "probs", probs)
    predictive = _entropy(_sample_mean(probs))
    per_sample = _entropy(probs)
    expected = per_sample.reshape((-1, per_sample.shape[-1])).mean(axis=0)
    return np.maximum(predictive - expected, 0.0)


def summarize_samples(samples):
    """Mean prediction and uncertainty measures of Monte Carlo samples, per example.

    Args:
        samples: probabilities `(..., num_examples, num_classes)`; the leading axes
            (members, samples, or both) are the Monte Carlo samples.

    Returns:
        A dict of NumPy arrays:
        `"mean"` `(num_examples, num_classes)`, the average over samples;
        `"predicted_class"` `(num_examples,)`, its arg-max;
        `"predictive_entropy"`, `"expected_entropy"`, `"mutual_information"`
        `(num_examples,)`, as the functions of the same names;
        `"std"` `(num_examples, num_classes)`, the standard deviation of each class
        probability over all samples (population, `ddof=0`).

    Example:

    >>> import numpy as np
    >>> summary = summarize_samples(np.array([[[0.9, 0.1]], [[0.5, 0.5]]]))
    >>> summary["mean"], summary["predicted_class"]
    (array([[0.7, 0.3]]), array([0]))
    """
    probs = _checks.probabilities("summarize_samples", "samples", samples)
    flat = probs.reshape((-1,) + probs.shape[-2:])
    mean = flat.mean(axis=0)
    predictive = _entropy(mean)
    expected = _entropy(flat).mean(axis=0)
    return {
        "mean": mean,
        "predicted_class": mean.argmax(axis=-1),
        "predictive_entropy": predictive,
        "expected_entropy": expected,
        "mutual_information": np.maximum(predictive - expected, 0.0),
        "std": flat.std(axis=0),
    }


def expected_calibration_error(probs, labels, num_bins=DEFAULT_NUM_BINS):
    """Expected calibration error (Guo et al., 2017) with equal-width confidence bins.

    The confidence of a prediction is its top probability. Predictions are grouped into
    `num_bins` bins `(0, 1/B], (1/B, 2/B], ..., ((B-1)/B, 1]`; the ECE is the
    example-weighted mean gap between accuracy and confidence:

        ECE = sum_b |B_b| / N * |accuracy(B_b) - confidence(B_b)|

    Args:
        probs: probabilities `(num_examples, num_classes)`.
        labels: class indices `(num_examples,)` or one-hot `(num_examples, num_classes)`.
        num_bins: number of equal-width bins (15 by default).

    Returns:
        A float in [0, 1]; 0 for a perfectly calibrated classifier.

    Example:

    >>> import numpy as np
    >>> probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7]])
    >>> round(expected_calibration_error(probs, [0, 1, 1], num_bins=10), 4)
    0.4
    """
    bins = _reliability_bins("expected_calibration_error", probs, labels, num_bins)
    filled = bins["count"] > 0
    gap = np.abs(bins["accuracy"][filled] - bins["confidence"][filled])
    return float(np.sum(bins["count"][filled] * gap) / bins["count"].sum())


def reliability_bins(probs, labels, num_bins=DEFAULT_NUM_BINS):
    """Per-bin counts, mean confidence and accuracy: the data of a reliability diagram.

    Args:
        probs: probabilities `(num_examples, num_classes)`.
        labels: class indices `(num_examples,)` or one-hot `(num_examples, num_classes)`.
        num_bins: number of equal-width confidence bins, as in
            `expected_calibration_error`.

    Returns:
        A dict: `"edges"` `(num_bins + 1,)`; `"count"` `(num_bins,)` examples per bin;
        `"confidence"` and `"accuracy"` `(num_bins,)`, the mean top probability and the
        fraction of correct predictions in each bin (`nan` for empty bins).

    Example:

    >>> import numpy as np
    >>> bins = reliability_bins(np.array([[0.9, 0.1], [0.3, 0.7]]), [0, 0], num_bins=2)
    >>> bins["count"].tolist(), bins["accuracy"].tolist()
    ([0, 2], [nan, 0.5])
    """
    return _reliability_bins("reliability_bins", probs, labels, num_bins)


def _reliability_bins(fn, probs, labels, num_bins):
    num_bins = _checks.num_bins(fn, num_bins)
    probs, labels = _checks.probabilities_and_labels(fn, probs, labels)
    confidence = probs.max(axis=-1)
    correct = (probs.argmax(axis=-1) == labels).astype(np.float64)
    index = confidence_bins(confidence, num_bins)
    count = np.bincount(index, minlength=num_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "edges": _metric_cores.bin_edges(num_bins),
            "count": count,
            "confidence": np.bincount(index, weights=confidence, minlength=num_bins) / count,
            "accuracy": np.bincount(index, weights=correct, minlength=num_bins) / count,
        }


def confidence_bins(confidence, num_bins):
    """Bin index of each confidence for `num_bins` right-closed equal-width bins.

    `(b/B, (b+1)/B]` is bin `b`; 0 falls into bin 0. The rule of
    `keras_drifa._metric_cores.confidence_bins`, which
    `keras_drifa.metrics.ExpectedCalibrationError` bins with too.
    """
    return _metric_cores.confidence_bins(confidence, num_bins)


def negative_log_likelihood(probs, labels):
    """Mean negative log-likelihood of the true class (the cross-entropy), in nats.

    Probabilities are clipped to at least `1e-12` before the log, so a confident wrong
    prediction costs at most `-log(1e-12) ~ 27.6` instead of infinity.

    Args:
        probs: probabilities `(num_examples, num_classes)`.
        labels: class indices `(num_examples,)` or one-hot `(num_examples, num_classes)`.

    Returns:
        A float >= 0; 0 when the true class always has probability 1.

    Example:

    >>> import numpy as np
    >>> round(negative_log_likelihood(np.array([[0.5, 0.5]]), [1]), 4)   # log(2)
    0.6931
    """
    probs, labels = _checks.probabilities_and_labels("negative_log_likelihood", probs, labels)
    true_class = probs[np.arange(len(labels)), labels]
    return float(-np.mean(np.log(np.clip(true_class, NLL_EPSILON, 1.0))))


def brier_score(probs, labels):
    """Multi-class Brier score: mean squared distance to the one-hot label.

    `mean_n sum_c (p_nc - y_nc)^2`, between 0 (perfect) and 2 (confidently wrong).

    Args:
        probs: probabilities `(num_examples, num_classes)`.
        labels: class indices `(num_examples,)` or one-hot `(num_examples, num_classes)`.

    Returns:
        A float in [0, 2].

    Example:

    >>> import numpy as np
    >>> brier_score(np.array([[0.0, 1.0]]), [0])
    2.0
    """
    probs, labels = _checks.probabilities_and_labels("brier_score", probs, labels)
    one_hot = np.eye(probs.shape[-1])[labels]
    return float(np.mean(np.sum((probs - one_hot) ** 2, axis=-1)))


def misclassification_auroc(probs, labels, uncertainty=None):
    """How well an uncertainty score flags wrong predictions: area under the ROC curve.

    Treats "the arg-max prediction is wrong" as the positive class and `uncertainty` as the
    score. 1.0: every wrong prediction is more uncertain than every right one (refer the
    most uncertain cases and catch all errors first); 0.5: the score is no better than
    chance. Ties count one half (the Mann-Whitney statistic).

    Args:
        probs: probabilities `(num_examples, num_classes)`, which define the predictions.
        labels: class indices `(num_examples,)` or one-hot `(num_examples, num_classes)`.
        uncertainty: scores `(num_examples,)`, higher meaning less trustworthy, e.g. the
            mutual information from `MCDropoutEnsemble.predict_uncertainty`. Defaults to
            the entropy of `probs`.

    Returns:
        A float in [0, 1], or `nan` when the predictions are all right or all wrong (the
        area is undefined).

    Example:

    >>> import numpy as np
    >>> probs = np.array([[0.9, 0.1], [0.6, 0.4], [0.8, 0.2]])
    >>> misclassification_auroc(probs, [0, 1, 0])   # the one error is the least confident
    1.0
    """
    fn = "misclassification_auroc"
    probs, labels = _checks.probabilities_and_labels(fn, probs, labels)
    if uncertainty is None:
        uncertainty = _entropy(probs)
    scores = _checks.example_scores(fn, "uncertainty", uncertainty, len(labels))
    return _metric_cores.mann_whitney_auc(scores, probs.argmax(axis=-1) != labels)


REPORT_COLUMNS = (
    "examples",
    "accuracy",
    "nll",
    "brier",
    "ece",
    "predictive_entropy",
    "expected_entropy",
    "mutual_information",
    "auroc_entropy",
    "auroc_mutual_information",
)


class UncertaintyReport(dict):
    """Per-task measures: `{task: {column: value}}`; prints as an aligned table.

    Columns: `examples`; `accuracy` of the arg-max prediction; `nll`, `brier`, `ece` of
    the mean probabilities; the mean over examples of `predictive_entropy`,
    `expected_entropy` and `mutual_information`; and the misclassification AUROC when the
    predictive entropy (`auroc_entropy`) or the mutual information
    (`auroc_mutual_information`) is the score. Without Monte Carlo samples the mutual
    information is undefined and its columns are `nan`.
    """

    def to_string(self):
        header = ["task"] + list(REPORT_COLUMNS)
        rows = [
            [task]
            + [
                str(row[c]) if c == "examples" else ("-" if math.isnan(row[c]) else f"{row[c]:.4f}")
                for c in REPORT_COLUMNS
            ]
            for task, row in self.items()
        ]
        return _table.aligned(header, rows)

    def __str__(self):
        return self.to_string()

    __repr__ = __str__


def _is_task_result(value):
    return isinstance(value, Mapping) and "mean" in value and "predictive_entropy" in value


def uncertainty_report(predictions, labels, num_bins=DEFAULT_NUM_BINS):
    """A per-task table of accuracy, calibration and uncertainty measures.

    Args:
        predictions: the dict returned by `MCDropoutEnsemble.predict_uncertainty`, or,
            for any model, probabilities: one array `(..., num_examples, num_classes)`
            (leading axes are Monte Carlo samples), a dict `{task: array}`, or a list
            with one array per task when the tasks' arrays differ in shape (a list of
            arrays of one shape is refused: it could also be samples of one task).
        labels: for each task, class indices `(num_examples,)` or one-hot labels, in the
            same structure as `predictions` (one array, a list in task order, or a dict).
        num_bins: equal-width bins for the ECE.

    Returns:
        An `UncertaintyReport`: a dict `{task: {column: value}}` that prints as a table
        (columns in `keras_drifa.uncertainty.REPORT_COLUMNS`).

    Example:

    >>> import numpy as np
    >>> samples = np.array([[[0.9, 0.1], [0.4, 0.6]], [[0.8, 0.2], [0.7, 0.3]]])
    >>> report = uncertainty_report(samples, labels=[0, 1])
    >>> report["task_0"]["accuracy"]
    0.5
    """
    fn = "uncertainty_report"
    num_bins = _checks.num_bins(fn, num_bins)
    tasks = _tasks(fn, predictions)
    labels = _checks.task_labels(fn, labels, list(tasks))
    report = UncertaintyReport()
    for task, prediction in tasks.items():
        report[task] = _report_row(prediction, labels[task], num_bins)
    return report


def _tasks(fn, predictions):
    """`{task: prediction}` from one prediction, a list of them or a dict of them."""
    if isinstance(predictions, Mapping) and not _is_task_result(predictions):
        if not predictions:
            raise ValueError(f"{fn}: `predictions` is an empty dict; expected one entry per task.")
        return dict(predictions)
    if (
        isinstance(predictions, (list, tuple))
        and predictions
        and all(isinstance(p, np.ndarray) or _is_task_result(p) for p in predictions)
    ):
        shapes = {p.shape if isinstance(p, np.ndarray) else None for p in predictions}
        if len(predictions) > 1 and len(shapes) == 1 and None not in shapes:
            raise ValueError(
                f"{fn}: `predictions` is a list of {len(predictions)} arrays of one shape "
                f"{shapes.pop()}, which could be one array per task or Monte Carlo samples "
                "of one task. Pass a dict `{task: probabilities}` for several tasks (e.g. "
                "`dict(zip(model.output_names, model.predict(x)))`), or one array "
                "`np.stack(samples)` for samples of one task."
            )
        return {f"task_{t}": p for t, p in enumerate(predictions)}
    return {"task_0": predictions}


def _report_row(prediction, labels, num_bins):
    fn = "uncertainty_report"
    if _is_task_result(prediction):
        mean = _checks.probabilities(fn, "predictions['mean']", prediction["mean"], max_rank=2)
        predictive = np.asarray(prediction["predictive_entropy"], dtype=np.float64)
        expected = np.asarray(prediction["expected_entropy"], dtype=np.float64)
        mutual = np.asarray(prediction["mutual_information"], dtype=np.float64)
    else:
        probs = _checks.probabilities(fn, "predictions", prediction)
        mean = _sample_mean(probs)
        predictive = _entropy(mean)
        per_sample = _entropy(probs)
        expected = per_sample.reshape((-1, per_sample.shape[-1])).mean(axis=0)
        # With no sample axes there is nothing to disagree: no epistemic estimate.
        mutual = np.maximum(predictive - expected, 0.0) if probs.ndim > 2 else None
    labels = _checks.class_labels(fn, labels, *mean.shape)
    return {
        "examples": int(mean.shape[0]),
        "accuracy": float(np.mean(mean.argmax(axis=-1) == labels)),
        "nll": negative_log_likelihood(mean, labels),
        "brier": brier_score(mean, labels),
        "ece": expected_calibration_error(mean, labels, num_bins),
        "predictive_entropy": float(predictive.mean()),
        "expected_entropy": float(expected.mean()),
        "mutual_information": math.nan if mutual is None else float(mutual.mean()),
        "auroc_entropy": misclassification_auroc(mean, labels, predictive),
        "auroc_mutual_information": (
            math.nan if mutual is None else misclassification_auroc(mean, labels, mutual)
        ),
    }
