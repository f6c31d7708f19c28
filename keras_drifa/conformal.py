"""Split conformal prediction sets: a set of classes that holds the true one with a chosen
probability, from any classifier's probabilities. NumPy in, NumPy out.

Split conformal prediction (Vovk et al., 2005; Angelopoulos & Bates, 2021, arXiv
2107.07511): a non-conformity score `s(x, y)` is computed for the `n` labelled cases of a
calibration split that the model never trained on; `q` is their
`ceil((n + 1) * (1 - alpha))`-th smallest score; the set of a new case is every class `y`
with `s(x, y) <= q`. If calibration and test cases are exchangeable (drawn alike), the set
holds the true class with probability at least `1 - alpha`, and at most
`1 - alpha + 1 / (n + 1)` when scores do not tie, whatever the model: a badly
calibrated model gets larger sets, not a broken guarantee. The guarantee is marginal
(on average over cases), not per case or per class.

Scores (`METHODS`):
- `"lac"` (least ambiguous classifier, also THR; Sadinle et al., 2019): `1 - p_y`. The
  smallest sets on average; a set may be empty when no class is probable enough.
- `"aps"` (adaptive prediction sets; Romano et al., 2020): the total probability of the
  classes ranked at or above `y`. Sets grow with the model's own uncertainty.
- `"raps"` (regularised APS; Angelopoulos et al., ICLR 2021): APS plus
  `penalty * max(0, rank(y) - k_reg)`, which keeps unlikely classes out of the sets.

With `randomized=True`, APS and RAPS subtract `u * p_y` with `u` uniform in [0, 1)
(Romano et al.'s randomised sets: smaller sets, coverage closer to exactly `1 - alpha`).

Example:

>>> import numpy as np
>>> from keras_drifa import conformal
>>> rng = np.random.default_rng(0)
>>> probs = rng.dirichlet(np.ones(4), size=400)
>>> labels = np.array([rng.choice(4, p=p) for p in probs])   # a calibrated model
>>> predictor = conformal.SplitConformal(alpha=0.1).fit(probs[:200], labels[:200])
>>> sets = predictor.predict(probs[200:])                   # (200, 4) booleans
>>> 0.8 < predictor.evaluate(probs[200:], labels[200:])["coverage"] <= 1.0
True
"""

import math

import numpy as np

from keras_drifa import _checks

METHODS = ("lac", "aps", "raps")


def _mean_probabilities(fn, arg, probs):
    probs = _checks.probabilities(fn, arg, probs)
    return probs.reshape((-1,) + probs.shape[-2:]).mean(axis=0)


class SplitConformal:
    """Split conformal prediction sets for one task.

    Args:
        alpha: the share of cases whose set may miss the true class, in (0, 1).
        method: the non-conformity score, one of `METHODS` (see the module docstring).
        randomized: APS and RAPS only: randomised scores (smaller sets).
        penalty: RAPS only: the penalty per rank beyond `k_reg` (>= 0).
        k_reg: RAPS only: the number of top-ranked classes that go unpenalised (>= 0).
        seed: the random draws of `randomized` scores: `None` or an integer >= 0.

    After `fit`, `threshold` holds `q` and `num_calibration` the calibration cases.

    Example:

    >>> import numpy as np
    >>> calibration = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.7, 0.3]])
    >>> predictor = SplitConformal(alpha=0.25).fit(calibration, [0, 1, 1, 0])
    >>> float(predictor.threshold)     # scores 0.1, 0.2, 0.6, 0.3: the ceil(5 * 0.75) = 4th
    0.6
    >>> predictor.predict(np.array([[0.5, 0.5], [0.95, 0.05]])).tolist()
    [[True, True], [True, False]]
    """

    def __init__(self, alpha=0.1, method="lac", randomized=False, penalty=0.01, k_reg=1,
                 seed=None):
        fn = "SplitConformal"
        alpha = _checks.number(fn, "alpha", alpha, 0, 1, open_low=True, open_high=True)
        method = _checks.choice(fn, "method", method, METHODS)
        randomized = _checks.boolean(fn, "randomized", randomized)
        if randomized and method == "lac":
            raise ValueError(
                f"{fn}: randomized=True is for the 'aps' and 'raps' scores; 'lac' has no "
                "randomised form."
            )
        self.alpha = alpha
        self.method = method
        self.randomized = randomized
        self.penalty = _checks.number(fn, "penalty", penalty, 0)
        self.k_reg = _checks.positive_int(fn, "k_reg", k_reg, minimum=0)
        self.seed = _checks.seed(fn, seed)
        self._rng = np.random.default_rng(self.seed)
        self.threshold = None
        self.num_calibration = 0

    def _class_scores(self, probs):
        """`(num_examples, num_classes)`: the score of every class of every case."""
        if self.method == "lac":
            return 1.0 - probs
        num_examples, num_classes = probs.shape
        order = np.argsort(-probs, axis=1, kind="stable")
        ranks = np.empty_like(order)
        np.put_along_axis(ranks, order, np.broadcast_to(np.arange(num_classes), order.shape), 1)
        cumulative = np.cumsum(np.take_along_axis(probs, order, 1), axis=1)
        scores = np.take_along_axis(cumulative, ranks, 1)  # mass at or above each class
        if self.randomized:
            scores = scores - self._rng.random((num_examples, 1)) * probs
        if self.method == "raps":
            scores = scores + self.penalty * np.maximum(0, ranks + 1 - self.k_reg)
        return scores

    def fit(self, probs, labels):
        """Calibrates on held-out cases: probabilities `(num_examples, num_classes)` (or
        Monte Carlo samples `(..., num_examples, num_classes)`, averaged) and their
        labels (class indices or one-hot). Returns `self`."""
        fn = "SplitConformal.fit"
        probs = _mean_probabilities(fn, "probs", probs)
        labels = _checks.class_labels(fn, labels, *probs.shape)
        n = len(labels)
        rank = math.ceil((n + 1) * (1 - self.alpha))
        if rank > n:
            raise ValueError(
                f"{fn}: {n} calibration cases are too few for alpha={self.alpha:g}: the "
                f"threshold is the ceil((n + 1) * (1 - alpha)) = {rank}-th smallest score; "
                f"expected at least {math.ceil((1 - self.alpha) / self.alpha)} cases (or a "
                "larger alpha)."
            )
        scores = self._class_scores(probs)[np.arange(n), labels]
        self.threshold = float(np.sort(scores)[rank - 1])
        self.num_calibration = n
        return self

    def predict(self, probs):
        """Prediction sets `(num_examples, num_classes)` of booleans: `True` for the classes
        in each case's set."""
        fn = "SplitConformal.predict"
        if self.threshold is None:
            raise ValueError(f"{fn}: call fit(calibration_probs, calibration_labels) first.")
        return self._class_scores(_mean_probabilities(fn, "probs", probs)) <= self.threshold

    def evaluate(self, probs, labels):
        """On a test split: `coverage` (share of sets holding the true class),
        `mean_set_size`, `empty` and `singleton` (shares of sets of size 0 and 1)."""
        fn = "SplitConformal.evaluate"
        sets = self.predict(probs)
        labels = _checks.class_labels(fn, labels, *sets.shape)
        sizes = sets.sum(axis=1)
        return {
            "coverage": float(np.mean(sets[np.arange(len(labels)), labels])),
            "mean_set_size": float(np.mean(sizes)),
            "empty": float(np.mean(sizes == 0)),
            "singleton": float(np.mean(sizes == 1)),
        }

    def __repr__(self):
        fitted = (
            f", threshold={self.threshold:.4g} from {self.num_calibration} cases"
            if self.threshold is not None else ", not fitted"
        )
        return f"SplitConformal(alpha={self.alpha:g}, method={self.method!r}{fitted})"
