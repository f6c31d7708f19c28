"""Out-of-distribution detection: is this case unlike the training data, and which input broke?

NumPy in, NumPy out. A score gives one number per example, higher meaning more likely
shifted or out of distribution (OOD); a detector flags the examples whose score reaches a
threshold. Scores (`SCORES`):

- `msp`: `1 - max_k p_k`, one minus the maximum softmax probability, the baseline every
  other score should beat (Hendrycks & Gimpel, ICLR 2017).
- `entropy`: the predictive entropy `-sum_k p_k log p_k` (nats) of the mean prediction.
- `mutual_information`: predictive minus expected entropy of Monte Carlo samples, the
  disagreement between samples (Gal, 2016; Depeweg et al., 2018); needs samples.
- `max_logit`: `-max_k z_k`, minus the largest logit (Hendrycks et al., ICML 2022).
- `energy`: `-T log sum_k exp(z_k / T)`, the free energy of the logits (Liu et al.,
  NeurIPS 2020), `T = 1`.

How well a score tells shifted from in-distribution examples:

- `detection_auroc`: the probability that a shifted example scores higher than an
  in-distribution one, ties counting one half: the Mann-Whitney statistic
  `U / (n_in * n_out)` (Hanley & McNeil, Radiology 1982). 0.5 is chance, 1 perfect.
- `fpr_at_tpr`: the share of in-distribution examples flagged at the threshold that flags
  95% of the shifted ones (FPR95; Hendrycks & Gimpel 2017, Liang et al. 2018). Lower is
  better.
- `detection_table`: both, per score, with each score's difference from the `msp` row.

For a Keras model: `predict_logits` recovers the logits of its softmax heads exactly, and
`modality_attribution` says how much each prediction leans on each input modality.

Example:

>>> import numpy as np
>>> from keras_drifa import ood
>>> probs_in = np.array([[0.9, 0.1], [0.8, 0.2], [0.95, 0.05]])
>>> probs_out = np.array([[0.6, 0.4], [0.5, 0.5]])
>>> ood.detection_auroc(ood.msp(probs_in), ood.msp(probs_out))
1.0
"""

import math

import keras
import numpy as np

from keras_drifa import _checks, _graph, _metric_cores, _table, uncertainty

SCORES = ("msp", "entropy", "mutual_information", "max_logit", "energy")
BASELINE = "msp"
DEFAULT_TPR = 0.95
# ceil(tpr * n) with tpr * n a whole number up to rounding (0.95 * 20 = 19.000000000000004).
_COUNT_TOLERANCE = 1e-9


# --- scores ---------------------------------------------------------------------------


def msp(probs):
    """One minus the maximum softmax probability (Hendrycks & Gimpel, 2017).

    Args:
        probs: probabilities `(num_examples, num_classes)`, or Monte Carlo samples
            `(..., num_examples, num_classes)`, whose mean is scored.

    Returns:
        `(num_examples,)` in `[0, 1 - 1/num_classes]`.

    Example:

    >>> import numpy as np
    >>> msp(np.array([[0.9, 0.1], [0.5, 0.5]])).round(2).tolist()
    [0.1, 0.5]
    """
    probs = _checks.probabilities("msp", "probs", probs)
    return 1.0 - probs.reshape((-1,) + probs.shape[-2:]).mean(axis=0).max(axis=-1)


def entropy(probs):
    """Predictive entropy (nats) of the prediction, or of the mean of Monte Carlo samples:
    `keras_drifa.uncertainty.predictive_entropy`.

    Example:

    >>> import numpy as np
    >>> entropy(np.array([[0.5, 0.5]])).round(4).tolist()   # log 2
    [0.6931]
    """
    return uncertainty.predictive_entropy(probs)


def mutual_information(samples):
    """Mutual information (nats) between prediction and model over Monte Carlo samples
    `(..., num_examples, num_classes)`: `keras_drifa.uncertainty.mutual_information`.

    Example:

    >>> import numpy as np
    >>> samples = np.array([[[0.9, 0.1]], [[0.1, 0.9]]])   # 2 samples that disagree
    >>> mutual_information(samples).round(3).tolist()
    [0.368]
    """
    samples = _checks.probabilities("mutual_information", "samples", samples)
    if samples.ndim < 3:
        raise ValueError(
            f"mutual_information: `samples` has shape {samples.shape}; expected Monte Carlo "
            "samples (..., num_examples, num_classes), with at least one sample axis "
            "(for one prediction per example the mutual information is zero)."
        )
    return uncertainty.mutual_information(samples)


def max_logit(logits):
    """Minus the largest logit (Hendrycks et al., 2022): a confident class has a large one.

    Args:
        logits: `(num_examples, num_classes)`, the scores before the softmax
            (`predict_logits`).

    Returns:
        `(num_examples,)`.

    Example:

    >>> max_logit([[2.0, -1.0], [0.5, 0.0]]).tolist()
    [-2.0, -0.5]
    """
    return -_checks.logits("max_logit", logits).max(axis=-1)


def energy(logits, temperature=1.0):
    """The free energy `-T log sum_k exp(z_k / T)` of the logits (Liu et al., 2020).

    Unlike the softmax it keeps the logits' scale: inputs the network knows tend to get
    large logits, hence a low energy.

    Args:
        logits: `(num_examples, num_classes)`.
        temperature: `T > 0`; 1 in the paper's tests.

    Returns:
        `(num_examples,)`, computed stably (the largest logit is subtracted first).

    Example:

    >>> import numpy as np
    >>> energy([[0.0, 0.0]]).round(4).tolist()   # -log 2
    [-0.6931]
    """
    fn = "energy"
    logits = _checks.logits(fn, logits)
    temperature = _checks.number(fn, "temperature", temperature, 0, open_low=True)
    scaled = logits / temperature
    top = scaled.max(axis=-1)
    return -temperature * (top + np.log(np.exp(scaled - top[:, None]).sum(axis=-1)))


def ood_scores(probs=None, logits=None, samples=None):
    """Every score of `SCORES` that the given predictions allow.

    Args:
        probs: probabilities `(num_examples, num_classes)`.
        logits: `(num_examples, num_classes)`, giving `max_logit` and `energy`.
        samples: Monte Carlo samples `(..., num_examples, num_classes)` (e.g.
            `ensemble.predict_uncertainty(x, return_samples=True)[task]["samples"]`),
            giving `mutual_information`.

        `msp` and `entropy` are computed from `probs` when given, else from the mean of
        `samples`, else from the softmax of `logits`.

    Returns:
        `{score: (num_examples,) float64}`, in the order of `SCORES`.

    Example:

    >>> import numpy as np
    >>> sorted(ood_scores(logits=np.zeros((3, 2))))
    ['energy', 'entropy', 'max_logit', 'msp']
    """
    fn = "ood_scores"
    if probs is None and logits is None and samples is None:
        raise ValueError(f"{fn}: expected at least one of `probs`, `logits` and `samples`.")
    checked = {}
    if probs is not None:
        checked["probs"] = _checks.probabilities(fn, "probs", probs, max_rank=2)
    if samples is not None:
        checked["samples"] = _checks.probabilities(fn, "samples", samples, min_rank=3)
    if logits is not None:
        checked["logits"] = _checks.logits(fn, logits)
    shapes = {name: a.shape[-2:] for name, a in checked.items()}
    if len(set(shapes.values())) != 1:
        raise ValueError(
            f"{fn}: the predictions have different (num_examples, num_classes) "
            f"{ {name: tuple(s) for name, s in shapes.items()} }; expected one."
        )
    if "probs" in checked:
        mean = checked["probs"]
    elif "samples" in checked:
        mean = checked["samples"]
    else:
        mean = _softmax(checked["logits"])
    scores = {"msp": msp(mean), "entropy": entropy(mean)}
    if "samples" in checked:
        scores["mutual_information"] = uncertainty.mutual_information(checked["samples"])
    if "logits" in checked:
        scores["max_logit"] = max_logit(checked["logits"])
        scores["energy"] = energy(checked["logits"])
    return scores


# --- detection measures ---------------------------------------------------------------


def detection_auroc(scores_in, scores_out):
    """Area under the ROC curve of telling shifted from in-distribution examples.

    The probability that a shifted example scores higher than an in-distribution one,
    ties counting one half: `U / (n_in * n_out)` with the Mann-Whitney statistic
    `U = R_out - n_out (n_out + 1) / 2`, `R_out` the sum of the shifted examples' ranks
    among all scores (equal scores sharing their mean rank; Hanley & McNeil, 1982).

    Args:
        scores_in: `(n_in,)` scores of in-distribution examples.
        scores_out: `(n_out,)` scores of shifted examples; higher meaning more likely
            shifted.

    Returns:
        A float in [0, 1]: 0.5 is chance, 1 separates perfectly, below 0.5 ranks the
        wrong way round.

    Example:

    >>> detection_auroc([0.1, 0.2, 0.4], [0.3, 0.4])   # (2 + 2.5) / 6: the 0.4s tie
    0.75
    """
    fn = "detection_auroc"
    scores_in = _scores(fn, "scores_in", scores_in)
    scores_out = _scores(fn, "scores_out", scores_out)
    shifted = np.r_[np.zeros(len(scores_in), bool), np.ones(len(scores_out), bool)]
    return _metric_cores.mann_whitney_auc(np.concatenate([scores_in, scores_out]), shifted)


def fpr_at_tpr(scores_in, scores_out, tpr=DEFAULT_TPR):
    """The share of in-distribution examples flagged when `tpr` of the shifted ones are
    (FPR95 for `tpr=0.95`; Hendrycks & Gimpel, 2017).

    An example is flagged when its score is at least the threshold `t`, the
    `ceil(tpr * n_out)`-th largest shifted score: the highest threshold that flags at least
    `tpr` of the shifted examples. The result is the share of in-distribution scores
    `>= t`, so in-distribution examples tied with `t` count as flagged. This is the first
    point of the ROC curve (`sklearn.metrics.roc_curve`) whose true positive rate reaches
    `tpr`.

    Args:
        scores_in: `(n_in,)` scores of in-distribution examples.
        scores_out: `(n_out,)` scores of shifted examples.
        tpr: the share of shifted examples to flag, in (0, 1].

    Returns:
        A float in [0, 1], lower is better.

    Example:

    >>> fpr_at_tpr([0.1, 0.2, 0.3, 0.4, 0.5], [0.35, 0.45, 0.6, 0.7], tpr=0.75)  # t = 0.45
    0.2
    """
    fn = "fpr_at_tpr"
    scores_in = _scores(fn, "scores_in", scores_in)
    scores_out = _scores(fn, "scores_out", scores_out)
    tpr = _checks.number(fn, "tpr", tpr, 0, 1, open_low=True)
    flagged = math.ceil(tpr * len(scores_out) - _COUNT_TOLERANCE)
    threshold = np.sort(scores_out)[::-1][max(flagged, 1) - 1]
    return float(np.mean(scores_in >= threshold))


class DetectionTable(dict):
    """`{score: {"auroc", "fpr_at_tpr", "auroc_change", "fpr_change"}}`; prints as an
    aligned table. The changes are each score's value minus the baseline's (`None` when
    there is no baseline)."""

    def __init__(self, rows, tpr, baseline):
        super().__init__(rows)
        self.tpr = tpr
        self.baseline = baseline

    def to_string(self):
        fpr = "FPR95" if self.tpr == DEFAULT_TPR else f"FPR@{100 * self.tpr:g}%TPR"
        header = ["score", "AUROC", fpr]
        if self.baseline is not None:
            header += [f"AUROC vs {self.baseline}", f"{fpr} vs {self.baseline}"]
        rows = []
        for name, row in self.items():
            cells = [name, f"{row['auroc']:.4f}", f"{row['fpr_at_tpr']:.4f}"]
            if self.baseline is not None:
                cells += (
                    ["baseline", "baseline"]
                    if name == self.baseline
                    else [f"{row['auroc_change']:+.4f}", f"{row['fpr_change']:+.4f}"]
                )
            rows.append(cells)
        return _table.aligned(header, rows, first_left=True)

    def __str__(self):
        return self.to_string()

    __repr__ = __str__


def detection_table(scores_in, scores_out, tpr=DEFAULT_TPR, baseline=BASELINE):
    """AUROC and FPR at `tpr` of every score, and each one's change from the baseline.

    Args:
        scores_in: `{score: (n_in,)}` on in-distribution examples (e.g. `ood_scores(...)`).
        scores_out: `{score: (n_out,)}` on shifted examples, the same score names.
        tpr: for `fpr_at_tpr`, in (0, 1].
        baseline: the row the others are compared with (`"msp"`), or `None`.

    Returns:
        A `DetectionTable`, rows in the order of `scores_in`.

    Example:

    >>> import numpy as np
    >>> table = detection_table({"msp": [0.1, 0.3], "energy": [0.0, 0.1]},
    ...                         {"msp": [0.2, 0.4], "energy": [0.5, 0.6]})
    >>> table["energy"]["auroc_change"]
    0.25
    >>> print(table)
    score   AUROC   FPR95  AUROC vs msp  FPR95 vs msp
    msp     0.7500  0.5000      baseline      baseline
    energy  1.0000  0.0000       +0.2500       -0.5000
    """
    fn = "detection_table"
    for arg, scores in (("scores_in", scores_in), ("scores_out", scores_out)):
        if not isinstance(scores, dict) or not scores:
            raise ValueError(
                f"{fn}: `{arg}` must be a non-empty dict {{score name: scores}}; received "
                f"{type(scores).__name__}."
            )
    if set(scores_in) != set(scores_out):
        raise ValueError(
            f"{fn}: `scores_in` has the scores {list(scores_in)} and `scores_out` "
            f"{list(scores_out)}; expected the same names."
        )
    if baseline is not None and baseline not in scores_in:
        raise ValueError(
            f"{fn}: the baseline {baseline!r} is not among the scores {list(scores_in)}; "
            "add it or pass baseline=None."
        )
    tpr = _checks.number(fn, "tpr", tpr, 0, 1, open_low=True)
    rows = {
        name: {
            "auroc": detection_auroc(scores_in[name], scores_out[name]),
            "fpr_at_tpr": fpr_at_tpr(scores_in[name], scores_out[name], tpr),
        }
        for name in scores_in
    }
    for row in rows.values():
        base = rows.get(baseline)
        row["auroc_change"] = None if base is None else row["auroc"] - base["auroc"]
        row["fpr_change"] = None if base is None else row["fpr_at_tpr"] - base["fpr_at_tpr"]
    return DetectionTable(rows, tpr, baseline)


# --- Keras models ---------------------------------------------------------------------


def predict_logits(model, x, batch_size=None):
    """The logits of a functional model's softmax heads, exactly.

    Every output must be computed by a `Dense(..., activation="softmax")` layer, as the
    heads of `keras_drifa.build_model`. A sub-model `keras.Model(model.inputs, features)`
    predicts each head's input features; the logits are then `features @ kernel + bias`
    in float64, so `softmax(logits)` is `model.predict(x)` up to float32 rounding. With
    MC dropout `"always"` on, the features are one dropout draw, as `predict` is.

    Args:
        model: a functional `keras.Model`.
        x: its inputs: one array, a list in input order or a dict by input name.
        batch_size: examples per batch for `predict` (Keras's default 32).

    Returns:
        `{task: (num_examples, num_classes) float64}`, by output name.
    """
    fn = "predict_logits"
    names, tasks, arrays = _model_inputs(fn, model, x)
    heads = []
    for task, output in zip(tasks, _graph.functional(model).outputs):
        node = _graph.producer(output)
        layer = node.operation
        if not (
            isinstance(layer, keras.layers.Dense)
            and getattr(layer, "activation", None) is keras.activations.softmax
            and len(node.input_tensors) == 1
        ):
            raise ValueError(
                f"{fn}: output {task!r} of model '{model.name}' is computed by "
                f"{type(layer).__name__} layer '{layer.name}'; expected a "
                "Dense(..., activation='softmax') head, whose logits are its input times "
                "its kernel plus its bias."
            )
        heads.append((task, layer, node.input_tensors[0]))
    # One sub-model output per distinct feature tensor (the heads of build_model share one).
    features, position = [], {}
    for _, _, tensor in heads:
        if id(tensor) not in position:
            position[id(tensor)] = len(features)
            features.append(tensor)
    values = keras.Model(model.inputs, features).predict(
        _unlist(arrays), batch_size=batch_size, verbose=0
    )
    values = [values] if len(features) == 1 else list(values)
    logits = {}
    for task, layer, tensor in heads:
        kernel = keras.ops.convert_to_numpy(layer.kernel).astype(np.float64)
        out = np.asarray(values[position[id(tensor)]], np.float64) @ kernel
        if layer.use_bias:
            out += keras.ops.convert_to_numpy(layer.bias).astype(np.float64)
        logits[task] = out
    return logits


def modality_attribution(model, x, fill="mean", batch_size=None):
    """How much each prediction leans on each input modality.

    For every modality the model predicts again with that modality replaced by an
    uninformative input, the others unchanged. The attribution of the modality is the
    total variation distance between the two predictions,
    `0.5 * sum_k |p_k(x) - p_k(x without the modality)|`: 0 when the prediction ignores
    the modality, 1 when it moves all its probability. Under a failing modality (see
    `keras_drifa.data.make_shifted(..., "noise_modality")`) compare the attributions with
    those of clean data: the modality whose attribution changes most is the suspect.

    Args:
        model: a `keras.Model` with one input per modality.
        x: its inputs: one array, a list in input order or a dict by input name.
        fill: the uninformative input: `"mean"` (each modality's per-pixel mean over
            `x`), a number (a constant image, e.g. 0.0), or `{modality: image}` with
            images broadcastable to `(height, width, channels)` (e.g. the per-pixel mean
            of the training images, which a shifted `x` does not move).
        batch_size: examples per batch for `predict`.

    Returns:
        `{task: {modality: (num_examples,) float64}}`, each in [0, 1]; one `predict` of
        `x` plus one per modality.
    """
    fn = "modality_attribution"
    names, tasks, arrays = _model_inputs(fn, model, x)
    fills = _fills(fn, fill, names, arrays)
    full = _predict(model, arrays, tasks, batch_size)
    scores = {task: {} for task in tasks}
    for m, name in enumerate(names):
        dropped = list(arrays)
        dropped[m] = np.broadcast_to(fills[name], arrays[m].shape).astype(arrays[m].dtype)
        predicted = _predict(model, dropped, tasks, batch_size)
        for task in tasks:
            scores[task][name] = 0.5 * np.abs(full[task] - predicted[task]).sum(axis=-1)
    return scores


# --- helpers --------------------------------------------------------------------------


def _softmax(logits):
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def _scores(fn, arg, scores):
    if np.ndim(scores) != 1 or np.size(scores) == 0:
        raise ValueError(
            f"{fn}: `{arg}` has shape {np.shape(scores)}; expected (num_examples,), one "
            "score per example, at least one."
        )
    return _checks.example_scores(fn, arg, scores, np.shape(scores)[0])


def _model_inputs(fn, model, x):
    """`(modality names, task names, input arrays in order)` of a functional model."""
    functional = _graph.functional(model) if isinstance(model, keras.Model) else None
    if functional is None:
        raise ValueError(
            f"{fn}: `model` must be a functional keras.Model (inputs and outputs made with "
            f"keras.Input, e.g. from keras_drifa.build_model); received "
            f"{type(model).__name__}."
        )
    names = [_graph.producer_name(t) for t in functional.inputs]
    tasks = [_graph.producer_name(t) for t in keras.tree.flatten(functional.outputs)]
    arrays = _checks.input_arrays(
        fn, x, names, [tuple(t.shape[1:]) for t in functional.inputs],
        [t.dtype for t in functional.inputs],
    )
    return names, tasks, arrays


def _predict(model, arrays, tasks, batch_size):
    predicted = model.predict(_unlist(arrays), batch_size=batch_size, verbose=0)
    if isinstance(predicted, dict):
        return {task: np.asarray(predicted[task], np.float64) for task in tasks}
    predicted = [predicted] if len(tasks) == 1 else list(predicted)
    return {task: np.asarray(p, np.float64) for task, p in zip(tasks, predicted)}


def _unlist(arrays):
    return arrays if len(arrays) > 1 else arrays[0]


def _fills(fn, fill, names, arrays):
    expected = "'mean', a finite number or {modality: image}"
    if isinstance(fill, str):
        if fill != "mean":
            _checks.fail(fn, "fill", expected, fill)
        return {name: a.mean(axis=0) for name, a in zip(names, arrays)}
    if isinstance(fill, dict):
        if set(fill) != set(names):
            raise ValueError(
                f"{fn}: `fill` has the keys {sorted(fill)}; expected one image per modality "
                f"{names}."
            )
        fills = {}
        for name, a in zip(names, arrays):
            image = np.asarray(fill[name], np.float32)
            try:
                np.broadcast_shapes(image.shape, a.shape[1:])
            except ValueError:
                raise ValueError(
                    f"{fn}: `fill` for modality {name!r} has shape {image.shape}; expected "
                    f"an image broadcastable to {a.shape[1:]}."
                ) from None
            fills[name] = image
        return fills
    if not _checks.is_number(fill) or not math.isfinite(fill):
        _checks.fail(fn, "fill", expected, fill)
    return {name: np.float32(fill) for name in names}
