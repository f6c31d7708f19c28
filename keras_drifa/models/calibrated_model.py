"""`CalibratedModel`: a classifier or ensemble with post-hoc calibrated probabilities."""

import copy
import math

import keras
import numpy as np
from keras import ops, tree

from keras_drifa import _checks, _graph, _saving, _table, calibration, uncertainty
from keras_drifa.ensemble import MCDropoutEnsemble
from keras_drifa.layers.probability_calibration import ProbabilityCalibration


@keras.saving.register_keras_serializable(package="keras_drifa")
class CalibratedModel(keras.Model):
    """Wraps a trained model or `MCDropoutEnsemble` and calibrates every task's probabilities.

    One `keras_drifa.layers.ProbabilityCalibration` per softmax output (task), fitted by
    `fit_calibration` on held-out data (never the training data, on which the model is
    overconfident), by minimising the negative log-likelihood (see
    `keras_drifa.calibration`). The wrapped model is not changed or retrained.

    - `predict` (and calling the model) returns calibrated probabilities, in the wrapped
      model's output structure. An ensemble's members are calibrated one by one and then
      averaged ("calibrate, then pool").
    - `predict_uncertainty` (ensembles) calibrates every Monte Carlo sample, then
      summarises them as `MCDropoutEnsemble.predict_uncertainty` does.
    - Saving to `.keras` keeps the wrapped model and the fitted parameters; it loads with
      plain `keras.saving.load_model`.

    With `method="temperature"` (the default) a single model's predicted class never
    changes: only how confident the probabilities are. An ensemble's members (or Monte
    Carlo samples) are scaled before they are averaged, which can move the arg-max of
    the average where they disagree; `fit_calibration` reports the share that changed. `"vector"` scaling fits a scale and a bias per
    class; it can fix class-dependent miscalibration and can change predictions
    (`fit_calibration` reports the share that changed).

    Args:
        model: a functional model (e.g. from `keras_drifa.build_model`) whose outputs are
            softmax probabilities, or an `MCDropoutEnsemble` of such models.
        method: `"temperature"` or `"vector"`, for every task.
        **kwargs: standard model arguments (`name`, ...).

    Example:

    ```python
    model = keras_drifa.build_model(modalities=2, num_classes=(5, 7))
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    model.fit(x_train, y_train, validation_data=(x_val, y_val), epochs=20)
    calibrated = keras_drifa.CalibratedModel(model)
    print(calibrated.fit_calibration(x_val, y_val))   # NLL and ECE before and after
    probs = calibrated.predict(x_test)
    calibrated.save("calibrated.keras")
    ```
    """

    def __init__(self, model, method="temperature", **kwargs):
        if not isinstance(model, keras.Model):
            raise ValueError(
                f"CalibratedModel: `model` must be a keras.Model; received "
                f"{type(model).__name__}."
            )
        _checks.choice("CalibratedModel", "method", method, calibration.METHODS)
        kwargs.setdefault("name", f"{model.name}_calibrated")
        super().__init__(**kwargs)
        reference = model.members[0] if isinstance(model, MCDropoutEnsemble) else model
        graph = _graph.functional(reference)
        if graph is None:
            raise ValueError(
                f"CalibratedModel: '{model.name}' is not a functional model or an "
                "MCDropoutEnsemble of them; its outputs (one softmax per task) must be known "
                "to calibrate them."
            )
        self.model = model
        self.method = method
        # The output structure (one output, a list, or a dict in `tree.flatten` key order),
        # without keeping the symbolic outputs (tracked containers are not valid JAX outputs).
        structure = graph.output
        self._output_keys = sorted(structure) if isinstance(structure, dict) else None
        self._single_output = not isinstance(structure, (dict, list, tuple))
        outputs = tree.flatten(structure)
        self.output_names = (
            list(model.output_names)
            if getattr(model, "output_names", None)
            else [f"output_{i}" for i in range(len(outputs))]
        )
        self.calibrations = []
        for task, output in zip(self.output_names, outputs):
            layer = ProbabilityCalibration(
                int(output.shape[-1]), method, name=f"{task}_calibration"
            )
            layer.build((None, int(output.shape[-1])))
            self.calibrations.append(layer)
        self.built = True

    def call(self, inputs, training=False):
        if isinstance(self.model, MCDropoutEnsemble):
            per_member = [
                self._calibrate(outputs)
                for outputs in self.model.member_outputs(inputs, training=training)
            ]
            flat = [
                ops.mean(ops.stack(values, axis=0), axis=0) for values in zip(*per_member)
            ]
        else:
            flat = self._calibrate(self.model(inputs, training=training))
        if self._single_output:
            return flat[0]
        return dict(zip(self._output_keys, flat)) if self._output_keys else list(flat)

    def _calibrate(self, outputs):
        return [layer(p) for layer, p in zip(self.calibrations, tree.flatten(outputs))]

    @property
    def scalings(self):
        """`{task: keras_drifa.calibration.Scaling}`, the current parameters (NumPy)."""
        return {t: layer.scaling() for t, layer in zip(self.output_names, self.calibrations)}

    def fit_calibration(
        self, x, y, num_samples=None, batch_size=None, seed=None, *, verbose="auto"
    ):
        """Fits each task's calibration on held-out `x`, `y` and reports its effect.

        Args:
            x: held-out NumPy inputs (a validation split), structured as for `predict`.
            y: their labels, per task (a dict by task name, a list in output order, or
                one array for one task), as class indices or one-hot.
            num_samples: for an `MCDropoutEnsemble`, fit on this many Monte Carlo
                samples per member (what `predict_uncertainty` returns); `None` fits
                on the members' deterministic predictions (what `predict` returns).
            batch_size: examples per batch of the predictions.
            seed: seed of the Monte Carlo dropout masks (with `num_samples`).
            verbose: progress of the predictions (0, 1, 2 or `"auto"`).

        Returns:
            A `CalibrationReport`, `{task: {"temperature", "nll_before", "nll_after",
            "ece_before", "ece_after", "changed_predictions"}}`, printable as a table.
            Before and after are measured on `x`, `y` themselves; judge the calibration
            on a separate test split.
        """
        fn = "fit_calibration"
        samples = self._samples(fn, x, num_samples, batch_size, seed, verbose)
        labels = _checks.task_labels(fn, y, self.output_names)
        report = CalibrationReport()
        for task, layer in zip(self.output_names, self.calibrations):
            task_samples = samples[task]
            task_labels = _checks.class_labels(fn, labels[task], *task_samples.shape[-2:])
            scaling = calibration.fit_scaling(task_samples, task_labels, self.method)
            layer.set_scaling(scaling)
            before, after = task_samples.mean(axis=0), scaling(task_samples).mean(axis=0)
            report[task] = {
                "method": self.method,
                "temperature": scaling.temperature if self.method == "temperature" else math.nan,
                "nll_before": uncertainty.negative_log_likelihood(before, task_labels),
                "nll_after": uncertainty.negative_log_likelihood(after, task_labels),
                "ece_before": uncertainty.expected_calibration_error(before, task_labels),
                "ece_after": uncertainty.expected_calibration_error(after, task_labels),
                "changed_predictions": float(
                    np.mean(before.argmax(axis=-1) != after.argmax(axis=-1))
                ),
            }
        return report

    def _samples(self, fn, x, num_samples, batch_size, seed, verbose):
        """`{task: (samples, num_examples, num_classes)}` uncalibrated probabilities."""
        if num_samples is not None:
            if not isinstance(self.model, MCDropoutEnsemble):
                raise ValueError(
                    f"{fn}: `num_samples` is for an MCDropoutEnsemble; '{self.model.name}' is "
                    "a single model, calibrated on its `predict` output (omit num_samples)."
                )
            results = self.model.predict_uncertainty(
                x, num_samples=num_samples, batch_size=batch_size, return_samples=True,
                seed=seed, verbose=verbose,
            )
            return {
                t: r["samples"].reshape((-1,) + r["samples"].shape[-2:])
                for t, r in results.items()
            }
        if isinstance(self.model, MCDropoutEnsemble):
            return self.model.predict_members(x, batch_size=batch_size, verbose=_quiet(verbose))
        outputs = tree.flatten(self.model.predict(x, batch_size=batch_size, verbose=verbose))
        return {t: np.asarray(o)[None] for t, o in zip(self.output_names, outputs)}

    def predict_uncertainty(self, x, num_samples=30, batch_size=None, return_samples=False,
                            seed=None, **kwargs):
        """`MCDropoutEnsemble.predict_uncertainty` of the wrapped ensemble, every sample
        calibrated before the summary (same arguments and result keys)."""
        if not isinstance(self.model, MCDropoutEnsemble):
            raise ValueError(
                f"predict_uncertainty: '{self.model.name}' is a single model; Monte Carlo "
                "samples come from an MCDropoutEnsemble (wrap `MCDropoutEnsemble([model])`)."
            )
        results = self.model.predict_uncertainty(
            x, num_samples=num_samples, batch_size=batch_size, return_samples=True, seed=seed,
            **kwargs,
        )
        calibrated = {}
        for task, scaling in self.scalings.items():
            samples = scaling(results[task]["samples"]).astype("float32")
            calibrated[task] = uncertainty.summarize_samples(samples)
            if return_samples:
                calibrated[task]["samples"] = samples
        return calibrated

    def save(self, filepath, overwrite=True, zipped=None, **kwargs):
        """Saves as `keras.Model.save`, replacing a `.keras` file only by a complete one."""
        return _saving.save_atomically(
            super().save, filepath, overwrite=overwrite, zipped=zipped, **kwargs
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            {"model": keras.saving.serialize_keras_object(self.model), "method": self.method}
        )
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = copy.deepcopy(config)
        model = keras.saving.deserialize_keras_object(
            config.pop("model"), custom_objects=custom_objects
        )
        return cls(model, **config)


def _quiet(verbose):
    return 0 if verbose == "auto" else verbose


class CalibrationReport(dict):
    """`{task: {column: value}}` from `CalibratedModel.fit_calibration`; prints as a table."""

    COLUMNS = (
        "temperature", "nll_before", "nll_after", "ece_before", "ece_after",
        "changed_predictions",
    )

    def to_string(self):
        header = ["task", "method"] + list(self.COLUMNS)
        rows = [
            [task, row["method"]]
            + ["-" if math.isnan(row[c]) else f"{row[c]:.4f}" for c in self.COLUMNS]
            for task, row in self.items()
        ]
        return _table.aligned(header, rows)

    def __str__(self):
        return self.to_string()

    __repr__ = __str__
