"""The cores of the metrics, in one place: ranks and the Mann-Whitney AUC, and ECE binning.

`evaluation`, `uncertainty`, `ood` and `referral` compute from NumPy arrays;
`metrics.ExpectedCalibrationError` bins with `keras.ops` inside compiled steps. The binning
is written once for both: `confidence_bins` takes the array namespace (`numpy` or
`keras.ops`), whose functions used here share their names and meaning.
"""

import numpy as np


def tie_groups(sorted_values):
    """`(starts, ends)` of the runs of equal values in the sorted 1-D `sorted_values`:
    run `i` is `sorted_values[starts[i]:ends[i]]`."""
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    return starts, np.r_[starts[1:], len(sorted_values)]


def average_ranks(values):
    """1-based ranks of the 1-D `values`, equal values sharing the mean of their ranks."""
    order = np.argsort(values, kind="mergesort")
    starts, ends = tie_groups(values[order])
    ranks = np.empty(len(values))
    ranks[order] = np.repeat((starts + ends + 1) / 2, ends - starts)
    return ranks


def mann_whitney_auc(scores, positives):
    """Area under the ROC curve of `scores` for the boolean `positives`: the probability
    that a positive scores higher than a negative, ties counting one half.

    `U / (n_pos * n_neg)` with the Mann-Whitney statistic `U = R_pos - n_pos (n_pos + 1) / 2`,
    `R_pos` the sum of the positives' ranks among all scores (Hanley & McNeil, 1982).
    `nan` when there are no positives or no negatives (the area is undefined).
    """
    positives = np.asarray(positives, dtype=bool)
    num_pos = int(positives.sum())
    num_neg = len(positives) - num_pos
    if num_pos == 0 or num_neg == 0:
        return float("nan")
    ranks = average_ranks(np.asarray(scores))
    return float((ranks[positives].sum() - num_pos * (num_pos + 1) / 2) / (num_pos * num_neg))


def confidence_bins(confidence, num_bins, xp=np, dtype="float64"):
    """Bin index of each confidence for `num_bins` right-closed equal-width bins.

    `(b/B, (b+1)/B]` is bin `b`; 0 falls into bin 0. The edges are computed in `dtype`.

    Args:
        confidence: top-class probabilities, a NumPy array (`xp=numpy`) or a backend
            tensor (`xp=keras.ops`).
        num_bins: the number of bins `B`.
        xp: `numpy` or `keras.ops`.
        dtype: the dtype of the edges: the confidences' dtype in a Keras metric.
    """
    inner_edges = xp.arange(1, num_bins, dtype=dtype) / num_bins
    if xp is np:
        # The number of inner edges below each confidence, without an (examples, bins) array.
        return np.searchsorted(inner_edges, np.asarray(confidence), side="left")
    above = xp.greater(xp.expand_dims(confidence, -1), inner_edges)
    return xp.sum(xp.where(above, 1, 0), axis=-1)


def bin_edges(num_bins):
    """The `num_bins + 1` edges of the bins of `confidence_bins`, from 0 to 1."""
    return np.linspace(0.0, 1.0, num_bins + 1)
