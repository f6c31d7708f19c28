"""Post-hoc calibration of class probabilities, as a layer a saved model keeps."""

import keras
import numpy as np
from keras import ops

from keras_drifa import _checks, calibration


@keras.saving.register_keras_serializable(package="keras_drifa")
class ProbabilityCalibration(keras.layers.Layer):
    """Rescales class probabilities: `softmax(scale * log(p) + bias)`.

    The Keras form of `keras_drifa.calibration.Scaling`: temperature scaling (one scale,
    `1 / T`, for all classes; keeps the predicted class) or vector scaling (a scale and
    a bias per class). The parameters are non-trainable weights, so a `.keras` file keeps
    them; they start as the identity (scale 1, bias 0) and are set by
    `set_scaling(keras_drifa.calibration.fit_scaling(...))`, usually through
    `keras_drifa.CalibratedModel.fit_calibration`. Computed in float32, with `p` clipped
    to float32's smallest normal number before the log.

    Args:
        num_classes: classes of the probabilities it calibrates.
        method: `"temperature"` or `"vector"`.
        **kwargs: standard layer arguments (`name`, ...).

    Input shape: `(..., num_classes)` probabilities. Output shape: the same.

    Example:

    >>> import numpy as np
    >>> from keras_drifa import calibration
    >>> layer = ProbabilityCalibration(2)
    >>> layer.set_scaling(calibration.Scaling("temperature", np.array([2.0, 2.0]), np.zeros(2)))
    >>> np.asarray(layer(np.array([[0.75, 0.25]], "float32")), "float64").round(2).tolist()   # T = 0.5
    [[0.9, 0.1]]
    """

    def __init__(self, num_classes, method="temperature", **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        where = "ProbabilityCalibration"
        self.num_classes = _checks.positive_int(where, "num_classes", num_classes)
        self.method = _checks.choice(where, "method", method, calibration.METHODS)

    def build(self, input_shape):
        if input_shape[-1] != self.num_classes:
            raise ValueError(
                f"ProbabilityCalibration: the input has {input_shape[-1]} classes (shape "
                f"{tuple(input_shape)}); expected {self.num_classes}."
            )
        self.scale = self.add_weight(
            shape=(self.num_classes,), initializer="ones", trainable=False, name="scale"
        )
        self.bias = self.add_weight(
            shape=(self.num_classes,), initializer="zeros", trainable=False, name="bias"
        )

    def call(self, inputs):
        probs = ops.cast(inputs, "float32")
        tiny = float(np.finfo(np.float32).tiny)
        return ops.softmax(self.scale * ops.log(ops.maximum(probs, tiny)) + self.bias, axis=-1)

    def compute_output_shape(self, input_shape):
        return input_shape

    def scaling(self):
        """The current parameters as a `keras_drifa.calibration.Scaling` (NumPy)."""
        return calibration.Scaling(
            self.method,
            np.asarray(ops.convert_to_numpy(self.scale), "float64"),
            np.asarray(ops.convert_to_numpy(self.bias), "float64"),
        )

    def set_scaling(self, scaling):
        """Sets the parameters from a fitted `keras_drifa.calibration.Scaling`."""
        if not isinstance(scaling, calibration.Scaling):
            raise ValueError(
                "ProbabilityCalibration.set_scaling: expected a keras_drifa.calibration."
                f"Scaling (from fit_scaling); received {type(scaling).__name__}."
            )
        if scaling.method != self.method or len(scaling.scale) != self.num_classes:
            raise ValueError(
                f"ProbabilityCalibration.set_scaling: this layer does {self.method} scaling "
                f"of {self.num_classes} classes; received {scaling.method} scaling of "
                f"{len(scaling.scale)}."
            )
        if not self.built:
            self.build((None, self.num_classes))
        self.scale.assign(np.asarray(scaling.scale, "float32"))
        self.bias.assign(np.asarray(scaling.bias, "float32"))

    def get_config(self):
        config = super().get_config()
        config.update({"num_classes": self.num_classes, "method": self.method})
        return config
