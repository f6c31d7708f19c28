"""Selective prediction: refer the least certain cases to a clinician, keep the rest.

NumPy in, NumPy out, for any classifier's probabilities. A score orders the cases from
most to least trustworthy; keeping the `k` most trustworthy of `n` gives the coverage
`k / n`, the selective risk (the error rate among the kept cases) and the generalised
risk (kept and wrong, as a share of all cases). Cases with equal scores are kept in a
random order, in expectation: within a tie the count of kept errors grows linearly, which
makes every measure here independent of how the input happens to be sorted.

- `aurc`: the area under the risk-coverage curve, the mean selective risk over
  `k = 1 .. n` (Geifman & El-Yaniv, 2017; Geifman et al., ICLR 2019).
- `augrc`: the area under the generalised risk-coverage curve (Traub et al., 2024,
  arXiv 2407.01032), by the trapezoidal rule from coverage 0. It equals
  `(1 - AUROC) * acc * (1 - acc) + (1 - acc)**2 / 2` exactly, where AUROC is the
  misclassification AUROC of the score (ties counted one half) and `acc` the accuracy.
- `accuracy_at_coverage`, `coverage_at_risk`, `referral_table`: the questions a clinic
  asks ("refer the 20% least certain cases: what accuracy remains?").
- `risk_coverage_band`: a bootstrap band for the curve (`keras_drifa.viz.risk_coverage_plot`
  draws both).

Scores (`SCORES`), higher meaning refer first: `max_softmax` (one minus the largest mean
probability, the softmax baseline every other score should beat; Bernhardt et al. 2022,
arXiv 2205.14094), `predictive_entropy`, `expected_entropy` and `mutual_information`
(the last two need Monte Carlo samples).

Example:

>>> import numpy as np
>>> from keras_drifa import referral
>>> probs = np.array([[0.9, 0.1], [0.6, 0.4], [0.8, 0.2], [0.7, 0.3]])
>>> referral.accuracy_at_coverage(probs, [0, 1, 0, 0], coverage=0.75)  # refer the 0.6
1.0
"""

import math

import numpy as np

from keras_drifa import _checks, _metric_cores, _table, uncertainty

SCORES = ("max_softmax", "predictive_entropy", "expected_entropy", "mutual_information")
DEFAULT_REFERRED = (0.0, 0.1, 0.2, 0.3, 0.5)


def score(probs, kind="max_softmax"):
    """One referral score per example, higher meaning less trustworthy.

    Args:
        probs: probabilities `(num_examples, num_classes)`, or Monte Carlo samples
            `(..., num_examples, num_classes)` (leading axes are samples; the scores use
            their mean where a mean is meant).
        kind: one of `SCORES`. `expected_entropy` and `mutual_information` need samples.

    Returns:
        A float64 array `(num_examples,)`.

    Example:

    >>> import numpy as np
    >>> score(np.array([[0.9, 0.1], [0.5, 0.5]])).round(2).tolist()
    [0.1, 0.5]
    """
    fn = "referral.score"
    _checks.choice(fn, "kind", kind, SCORES)
    probs = _checks.probabilities(fn, "probs", probs)
    if kind in ("expected_entropy", "mutual_information") and probs.ndim == 2:
        raise ValueError(
            f"{fn}: kind={kind!r} needs Monte Carlo samples (..., num_examples, num_classes); "
            f"`probs` has shape {probs.shape}, one prediction per example, for which it is "
            f"{'the predictive entropy' if kind == 'expected_entropy' else 'zero'}."
        )
    if kind == "max_softmax":
        mean = probs.reshape((-1,) + probs.shape[-2:]).mean(axis=0)
        return 1.0 - mean.max(axis=-1)
    return getattr(uncertainty, kind)(probs)


def _kept_errors(fn, probs, labels, scores):
    """`(wrong, expected)`: per example whether the arg-max is wrong, and the expected
    number of errors among the `k` most trustworthy cases for `k = 0 .. n`."""
    probs = _checks.probabilities(fn, "probs", probs)
    mean = probs.reshape((-1,) + probs.shape[-2:]).mean(axis=0)
    labels = _checks.class_labels(fn, labels, *mean.shape)
    if scores is None:
        scores = score(probs)
    scores = _checks.example_scores(fn, "scores", scores, len(labels))
    wrong = mean.argmax(axis=-1) != labels
    order = np.argsort(scores, kind="stable")
    sorted_scores, sorted_wrong = scores[order], wrong[order].astype(np.float64)
    # Tie groups: cumulative errors at each group's end, linear within the group.
    _, ends = _metric_cores.tie_groups(sorted_scores)
    at_ends = np.r_[0.0, np.cumsum(sorted_wrong)[ends - 1]]
    k = np.arange(len(scores) + 1)
    expected = np.interp(k, np.r_[0, ends], at_ends)
    return wrong, expected


def risk_coverage_curve(probs, labels, scores=None):
    """Coverage, selective risk and generalised risk when keeping the `k` most
    trustworthy cases, for `k = 1 .. n`.

    Args:
        probs: probabilities `(num_examples, num_classes)` or Monte Carlo samples
            `(..., num_examples, num_classes)`; their mean defines the predictions.
        labels: class indices `(num_examples,)` or one-hot labels.
        scores: `(num_examples,)`, higher meaning refer first (`score(probs, kind)`);
            defaults to the softmax baseline, `score(probs, "max_softmax")`.

    Returns:
        A dict of float64 arrays `(num_examples,)`: `coverage` (`k / n`),
        `selective_risk` (expected errors among the kept, over `k`) and
        `generalized_risk` (over `n`).

    Example:

    >>> import numpy as np
    >>> probs = np.array([[0.9, 0.1], [0.6, 0.4], [0.8, 0.2]])
    >>> risk_coverage_curve(probs, [0, 0, 1])["selective_risk"].round(3).tolist()
    [0.0, 0.5, 0.333]
    """
    _, expected = _kept_errors("risk_coverage_curve", probs, labels, scores)
    n = len(expected) - 1
    k = np.arange(1, n + 1)
    return {
        "coverage": k / n,
        "selective_risk": expected[1:] / k,
        "generalized_risk": expected[1:] / n,
    }


def aurc(probs, labels, scores=None):
    """Area under the risk-coverage curve: the mean selective risk over `k = 1 .. n`
    (Geifman et al., ICLR 2019). Lower is better; a perfect ordering of the errors gives
    the smallest value the accuracy allows.

    Args: as `risk_coverage_curve`.

    Example:

    >>> import numpy as np
    >>> probs = np.array([[0.9, 0.1], [0.6, 0.4], [0.8, 0.2]])
    >>> round(aurc(probs, [0, 0, 1]), 4)   # (0 + 1/2 + 1/3) / 3
    0.2778
    """
    return float(np.mean(risk_coverage_curve(probs, labels, scores)["selective_risk"]))


def augrc(probs, labels, scores=None):
    """Area under the generalised risk-coverage curve (Traub et al., 2024): the share of
    all cases that are kept and wrong, averaged over coverage from 0 to 1 (trapezoids).
    Lower is better; equals `(1 - AUROC) * acc * (1 - acc) + (1 - acc)**2 / 2`.

    Args: as `risk_coverage_curve`.

    Example:

    >>> import numpy as np
    >>> probs = np.array([[0.9, 0.1], [0.6, 0.4], [0.8, 0.2]])
    >>> round(augrc(probs, [0, 0, 1]), 4)   # trapezoids under 0, 1/3, 1/3 from coverage 0
    0.1667
    """
    _, expected = _kept_errors("augrc", probs, labels, scores)
    n = len(expected) - 1
    return float((expected[1:].sum() - expected[-1] / 2) / n**2)


def _kept_count(fn, coverage, n):
    coverage = _checks.number(fn, "coverage", coverage, 0, 1, open_low=True)
    # The most trustworthy floor(coverage * n) cases, at least one; the tolerance keeps
    # 0.7 * 10 at 7.
    return max(1, math.floor(coverage * n + 1e-9))


def accuracy_at_coverage(probs, labels, coverage, scores=None):
    """Accuracy on the `coverage` share of cases the score trusts most (the rest are
    referred): `floor(coverage * n)` cases, at least one.

    Args: as `risk_coverage_curve`, and `coverage` in (0, 1].

    Example:

    >>> import numpy as np
    >>> probs = np.array([[0.9, 0.1], [0.6, 0.4], [0.8, 0.2]])
    >>> accuracy_at_coverage(probs, [0, 1, 0], coverage=2 / 3)
    1.0
    """
    fn = "accuracy_at_coverage"
    _, expected = _kept_errors(fn, probs, labels, scores)
    k = _kept_count(fn, coverage, len(expected) - 1)
    return float(1.0 - expected[k] / k)


def coverage_at_risk(probs, labels, risk, scores=None):
    """The largest coverage whose selective risk is at most `risk` (0 when even the most
    trusted case alone is too risky).

    Args: as `risk_coverage_curve`, and `risk` in [0, 1].

    Example:

    >>> import numpy as np
    >>> probs = np.array([[0.9, 0.1], [0.6, 0.4], [0.8, 0.2], [0.7, 0.3]])
    >>> coverage_at_risk(probs, [0, 1, 0, 1], risk=0.0)   # the two most confident are right
    0.5
    """
    fn = "coverage_at_risk"
    risk = _checks.number(fn, "risk", risk, 0, 1)
    curve = risk_coverage_curve(probs, labels, scores)
    within = np.flatnonzero(curve["selective_risk"] <= risk + 1e-12)
    return float(curve["coverage"][within[-1]]) if len(within) else 0.0


def risk_coverage_band(probs, labels, scores=None, num_resamples=200, level=0.95, seed=0):
    """A bootstrap band for the risk-coverage curve: the `level` percentile interval of
    the selective risk at each coverage, over `num_resamples` resamples of the cases
    (with replacement, `n` each). One run's curve over a handful of errors is noisy;
    the band says how far another sample of the same size could land.

    Args: as `risk_coverage_curve`, and `num_resamples` (>= 1), `level` in (0, 1), `seed`
    (`None` or an integer >= 0).

    Returns:
        A dict of float64 arrays `(num_examples,)`: `coverage`, `low`, `high`.

    Example:

    >>> import numpy as np
    >>> probs = np.array([[0.9, 0.1], [0.6, 0.4], [0.8, 0.2], [0.7, 0.3]])
    >>> band = risk_coverage_band(probs, [0, 1, 0, 1], num_resamples=50)
    >>> bool(np.all(band["low"] <= band["high"]))
    True
    """
    fn = "risk_coverage_band"
    num_resamples = _checks.positive_int(fn, "num_resamples", num_resamples)
    level = _checks.number(fn, "level", level, 0, 1, open_low=True, open_high=True)
    probs = _checks.probabilities(fn, "probs", probs)
    mean = probs.reshape((-1,) + probs.shape[-2:]).mean(axis=0)
    labels = _checks.class_labels(fn, labels, *mean.shape)
    scores = score(probs) if scores is None else scores
    _kept_errors(fn, mean, labels, scores)  # checks the scores
    scores = np.asarray(scores, dtype=np.float64)
    rng = np.random.default_rng(_checks.seed(fn, seed))
    n = len(labels)
    k = np.arange(1, n + 1)
    risks = np.empty((num_resamples, n))
    for i in range(num_resamples):
        rows = rng.integers(0, n, n)
        risks[i] = _kept_errors(fn, mean[rows], labels[rows], scores[rows])[1][1:] / k
    low, high = np.quantile(risks, [(1 - level) / 2, (1 + level) / 2], axis=0)
    return {"coverage": k / n, "low": low, "high": high}


class ReferralTable(dict):
    """`{score: {column: value}}` for one task; prints as an aligned table.

    Columns: `aurc`, `augrc`, and `accuracy_if_referred_{p}%` for each referred share.
    """

    def to_string(self):
        columns = list(next(iter(self.values())))
        header = ["score"] + [c.replace("accuracy_if_referred_", "refer ") for c in columns]
        rows = [[name] + [f"{row[c]:.4f}" for c in columns] for name, row in self.items()]
        return _table.aligned(header, rows, first_left=True)

    def __str__(self):
        return self.to_string()

    __repr__ = __str__


def referral_table(probs, labels, referred=DEFAULT_REFERRED, scores=None):
    """"Refer the least certain X%: what accuracy remains?", for each score.

    Args:
        probs: probabilities `(num_examples, num_classes)` or Monte Carlo samples
            `(..., num_examples, num_classes)` (for example
            `ensemble.predict_uncertainty(x, return_samples=True)[task]["samples"]`).
        labels: class indices `(num_examples,)` or one-hot labels.
        referred: shares of cases referred, each in [0, 1).
        scores: names from `SCORES` (default: every score the input allows, the softmax
            baseline first) or a dict `{name: (num_examples,) scores}` of your own.

    Returns:
        A `ReferralTable`.

    Example:

    >>> import numpy as np
    >>> probs = np.array([[0.9, 0.1], [0.6, 0.4], [0.8, 0.2], [0.7, 0.3]])
    >>> table = referral_table(probs, [0, 1, 0, 0], referred=(0.0, 0.25))
    >>> table["max_softmax"]["accuracy_if_referred_25%"]
    1.0
    """
    fn = "referral_table"
    checked = _checks.probabilities(fn, "probs", probs)
    if not isinstance(referred, (str, bytes)) and hasattr(referred, "__iter__"):
        referred = list(referred)  # once: a generator would be empty the second time
    if not isinstance(referred, list) or not referred:
        raise ValueError(
            f"{fn}: `referred` must be a non-empty sequence of shares in [0, 1); received "
            f"referred={referred!r}."
        )
    referred = [_checks.number(fn, "referred", r, 0, 1, open_high=True) for r in referred]
    if scores is None:
        scores = SCORES if checked.ndim > 2 else ("max_softmax", "predictive_entropy")
    if not isinstance(scores, dict):
        scores = {kind: score(checked, kind) for kind in scores}
    table = ReferralTable()
    for name, values in scores.items():
        row = {"aurc": aurc(checked, labels, values), "augrc": augrc(checked, labels, values)}
        for share in referred:
            row[f"accuracy_if_referred_{100 * share:g}%"] = accuracy_at_coverage(
                checked, labels, 1.0 - share, values
            )
        table[name] = row
    return table
