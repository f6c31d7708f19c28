"""Stateful Keras metrics for calibration, usable in `compile(metrics=...)` on every backend."""

import keras
from keras import ops

import numpy as np

from keras_drifa import _checks, _metric_cores
from keras_drifa.backend import compilation
from keras_drifa.uncertainty import DEFAULT_NUM_BINS


@keras.saving.register_keras_serializable(package="keras_drifa")
class ExpectedCalibrationError(keras.metrics.Metric):
    """Expected calibration error, accumulated over batches (Guo et al., 2017).

    The stateful counterpart of `keras_drifa.uncertainty.expected_calibration_error`, with
    the same equal-width bins `(0, 1/B], ..., ((B-1)/B, 1]` over the top-class confidence:

        ECE = sum_b |B_b| / N * |accuracy(B_b) - confidence(B_b)|

    It keeps, per bin, the (weighted) count, the sum of confidences and the number of
    correct predictions, so the result over an epoch equals the NumPy function on all the
    epoch's predictions at once (not an average of per-batch ECEs).

    Args:
        num_bins: number of equal-width confidence bins (15 by default).
        name: metric name (default `"ece"`).
        dtype: dtype of the accumulators.

    Inputs to `update_state`: `y_true`, one-hot `(batch, classes)` or class indices
    `(batch,)` / `(batch, 1)`; `y_pred`, probabilities `(batch, classes)`; optional
    `sample_weight` `(batch,)`. Where the values are known (eager execution: direct calls,
    `run_eagerly=True`, PyTorch's `fit` without `jit_compile`), logits (values outside
    [0, 1] or rows that do not sum to one), non-finite values and class indices outside
    `[0, classes)` raise a `ValueError`. Inside a compiled function the values cannot be
    inspected; there such a batch makes the metric NaN until `reset_state`, so a wrong
    input shows as `ece: nan` in the logs rather than as a plausible number.

    Example:

    >>> import numpy as np
    >>> ece = ExpectedCalibrationError(num_bins=10)
    >>> ece.update_state(np.array([0, 1, 1]), np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7]]))
    >>> round(float(ece.result()), 4)
    0.4

    In a model: `model.compile(loss="categorical_crossentropy",
    metrics=["accuracy", keras_drifa.metrics.ExpectedCalibrationError()])`.
    """

    def __init__(self, num_bins=DEFAULT_NUM_BINS, name="ece", dtype=None):
        super().__init__(name=name, dtype=dtype)
        num_bins = _checks.num_bins("ExpectedCalibrationError", num_bins)
        self.num_bins = num_bins
        self.bin_count = self.add_variable(
            shape=(num_bins,), initializer="zeros", dtype=self.dtype, name="bin_count"
        )
        self.bin_confidence = self.add_variable(
            shape=(num_bins,), initializer="zeros", dtype=self.dtype, name="bin_confidence"
        )
        self.bin_correct = self.add_variable(
            shape=(num_bins,), initializer="zeros", dtype=self.dtype, name="bin_correct"
        )

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = ops.convert_to_tensor(y_pred, dtype=self.dtype)
        y_true = ops.convert_to_tensor(y_true)
        if len(y_pred.shape) != 2:
            raise ValueError(
                f"ExpectedCalibrationError: `y_pred` has shape {tuple(y_pred.shape)}; expected "
                "probabilities (batch, classes)."
            )
        num_classes = y_pred.shape[-1]
        if len(y_true.shape) == 2 and y_true.shape[-1] == num_classes and num_classes != 1:
            labels = ops.argmax(y_true, axis=-1)
        elif len(y_true.shape) == 1 or (len(y_true.shape) == 2 and y_true.shape[-1] == 1):
            labels = ops.reshape(y_true, (-1,))
        else:
            raise ValueError(
                f"ExpectedCalibrationError: `y_true` has shape {tuple(y_true.shape)}; expected "
                f"one-hot (batch, {y_pred.shape[-1]}) or class indices (batch,) to match "
                f"`y_pred` {tuple(y_pred.shape)}."
            )
        self._check_values(y_true, y_pred, labels, num_classes)
        confidence = ops.max(y_pred, axis=-1)
        correct = ops.cast(
            ops.equal(ops.cast(ops.argmax(y_pred, axis=-1), "int32"), ops.cast(labels, "int32")),
            self.dtype,
        )
        bins = _metric_cores.confidence_bins(confidence, self.num_bins, xp=ops, dtype=self.dtype)
        membership = ops.one_hot(bins, self.num_bins, dtype=self.dtype)  # (batch, bins)
        if sample_weight is not None:
            weight = ops.reshape(ops.convert_to_tensor(sample_weight, dtype=self.dtype), (-1, 1))
            membership = membership * weight
        self.bin_count.assign_add(ops.sum(membership, axis=0))
        self.bin_confidence.assign_add(
            ops.sum(membership * ops.expand_dims(confidence, -1), axis=0)
        )
        self.bin_correct.assign_add(ops.sum(membership * ops.expand_dims(correct, -1), axis=0))
        # Compiled: an invalid batch poisons the confidences, so the result is NaN.
        self.bin_confidence.assign_add(
            ops.where(self._invalid(y_pred, labels, num_classes), np.nan, 0.0)
            * ops.ones((self.num_bins,), self.dtype)
        )

    @staticmethod
    def _invalid(y_pred, labels, num_classes):
        tolerance = _checks.PROBABILITY_SUM_TOLERANCE
        labels = ops.cast(labels, "float32")
        return ops.logical_not(
            ops.all(ops.isfinite(y_pred))
            & ops.all(y_pred >= -tolerance)
            & ops.all(y_pred <= 1 + tolerance)
            & ops.all(ops.abs(ops.sum(y_pred, axis=-1) - 1) <= tolerance)
            & ops.all(labels >= 0)
            & ops.all(labels < num_classes)
            & ops.all(labels == ops.round(labels))
        )

    def _check_values(self, y_true, y_pred, labels, num_classes):
        """Eager execution: a clear error for logits and labels outside the classes."""
        probs = compilation.concrete_value(y_pred)
        indices = compilation.concrete_value(labels)
        if probs is None or indices is None:
            return
        _checks.probabilities("ExpectedCalibrationError", "y_pred", probs, max_rank=2)
        if len(ops.shape(y_true)) == 2 and ops.shape(y_true)[-1] == num_classes > 1:
            # One-hot (or smoothed) rows: their arg-max is a class, unless a value is NaN.
            rows = compilation.concrete_value(y_true)
            if rows is not None and not np.all(np.isfinite(np.asarray(rows, np.float64))):
                index = tuple(int(i) for i in np.argwhere(~np.isfinite(np.asarray(rows, np.float64)))[0])
                raise ValueError(
                    f"ExpectedCalibrationError: `y_true` has the non-finite value "
                    f"{np.asarray(rows)[index]} at index {index}; expected one-hot rows or "
                    "class indices."
                )
            return
        indices = np.asarray(indices, np.float64)
        bad = ~np.isfinite(indices) | (indices != np.round(indices)) | (indices < 0) | (
            indices >= num_classes
        )
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(
                f"ExpectedCalibrationError: `y_true` has the value {indices[i]:g} at index {i}; "
                f"expected class indices in [0, {num_classes - 1}] for `y_pred` with "
                f"{num_classes} classes, or one-hot rows."
            )

    def result(self):
        total = ops.sum(self.bin_count)
        gap = ops.sum(ops.abs(self.bin_correct - self.bin_confidence))
        return ops.where(total > 0, gap / ops.maximum(total, 1e-12), 0.0)

    def reset_state(self):
        for variable in (self.bin_count, self.bin_confidence, self.bin_correct):
            variable.assign(ops.zeros(variable.shape, dtype=variable.dtype))

    def get_config(self):
        return {"num_bins": self.num_bins, "name": self.name, "dtype": self.dtype}
