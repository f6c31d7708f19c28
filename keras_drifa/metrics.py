"""Stateful Keras metrics for calibration, usable in `compile(metrics=...)` on every backend."""

import keras
from keras import ops

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
    `sample_weight` `(batch,)`.

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
        if isinstance(num_bins, bool) or not isinstance(num_bins, int) or num_bins < 1:
            raise ValueError(
                f"ExpectedCalibrationError: `num_bins` must be an integer >= 1; received "
                f"num_bins={num_bins!r}."
            )
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
        confidence = ops.max(y_pred, axis=-1)
        correct = ops.cast(
            ops.equal(ops.cast(ops.argmax(y_pred, axis=-1), "int32"), ops.cast(labels, "int32")),
            self.dtype,
        )
        inner_edges = ops.arange(1, self.num_bins, dtype=self.dtype) / self.num_bins
        bins = ops.sum(
            ops.cast(ops.expand_dims(confidence, -1) > inner_edges, "int32"), axis=-1
        )
        membership = ops.one_hot(bins, self.num_bins, dtype=self.dtype)  # (batch, bins)
        if sample_weight is not None:
            weight = ops.reshape(ops.convert_to_tensor(sample_weight, dtype=self.dtype), (-1, 1))
            membership = membership * weight
        self.bin_count.assign_add(ops.sum(membership, axis=0))
        self.bin_confidence.assign_add(
            ops.sum(membership * ops.expand_dims(confidence, -1), axis=0)
        )
        self.bin_correct.assign_add(ops.sum(membership * ops.expand_dims(correct, -1), axis=0))

    def result(self):
        total = ops.sum(self.bin_count)
        gap = ops.sum(ops.abs(self.bin_correct - self.bin_confidence))
        return ops.where(total > 0, gap / ops.maximum(total, 1e-12), 0.0)

    def reset_state(self):
        for variable in (self.bin_count, self.bin_confidence, self.bin_correct):
            variable.assign(ops.zeros(variable.shape, dtype=variable.dtype))

    def get_config(self):
        return {"num_bins": self.num_bins, "name": self.name, "dtype": self.dtype}
