"""keras_drifa.CalibratedModel and layers.ProbabilityCalibration: calibration inside a model.

A small Dense model with two inputs, MC dropout and two softmax heads (compiles in seconds
on every backend) stands for DRIFA-Net: calibration only reads a model's outputs. Every
result is checked against the NumPy core (`keras_drifa.calibration`) applied to the
wrapped model's own predictions.
"""

import keras
import numpy as np
import pytest

import keras_drifa
from keras_drifa import calibration
from keras_drifa.layers import MCDropout, ProbabilityCalibration

CLASSES = (3, 4)


def small_model(seed):
    keras.utils.set_random_seed(seed)
    inputs = [keras.Input((6,), name=f"modality_{i}") for i in range(2)]
    x = keras.layers.Concatenate()([keras.layers.Dense(16, activation="relu")(t) for t in inputs])
    x = MCDropout(0.3)(x)
    outputs = [
        keras.layers.Dense(n, activation="softmax", name=f"task_{t}",
                           kernel_initializer=keras.initializers.RandomNormal(stddev=2.0))(x)
        for t, n in enumerate(CLASSES)
    ]
    return keras.Model(inputs, outputs)


def data(n=96, seed=0):
    rng = np.random.default_rng(seed)
    xs = [rng.normal(size=(n, 6)).astype("float32") for _ in range(2)]
    return xs, [rng.integers(0, c, n) for c in CLASSES]


@pytest.fixture(scope="module")
def calibrated():
    model = small_model(0)
    xs, labels = data()
    wrapped = keras_drifa.CalibratedModel(model)
    report = wrapped.fit_calibration(xs, {"task_0": labels[0], "task_1": labels[1]}, verbose=0)
    return model, wrapped, report


def test_layer_equals_the_numpy_scaling():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(4), size=16).astype("float32")
    scaling = calibration.fit_scaling(probs, rng.integers(0, 4, 16), "vector")
    layer = ProbabilityCalibration(4, "vector")
    layer.set_scaling(scaling)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(probs)), scaling(probs),
                               atol=1e-5)
    assert len(layer.non_trainable_weights) == 2 and not layer.trainable_weights
    config = layer.get_config()
    assert ProbabilityCalibration.from_config(config).get_config() == config


def test_layer_errors():
    with pytest.raises(ValueError, match="`num_classes` must be an integer >= 1"):
        ProbabilityCalibration(0)
    with pytest.raises(ValueError, match="`method` must be one of"):
        ProbabilityCalibration(3, "isotonic")
    with pytest.raises(ValueError, match="does temperature scaling of 3 classes; received "
                                         "vector scaling of 3"):
        ProbabilityCalibration(3).set_scaling(
            calibration.Scaling("vector", np.ones(3), np.zeros(3)))
    with pytest.raises(ValueError, match="the input has 2 classes"):
        ProbabilityCalibration(3)(np.full((1, 2), 0.5, "float32"))


def test_fit_calibration_fits_each_task_on_the_models_predictions(calibrated):
    model, wrapped, report = calibrated
    xs, labels = data()
    raw = model.predict(xs, verbose=0)
    for t, task in enumerate(["task_0", "task_1"]):
        expected = calibration.fit_scaling(raw[t], labels[t])
        assert wrapped.scalings[task].temperature == pytest.approx(expected.temperature, rel=1e-4)
        row = report[task]
        assert row["temperature"] == pytest.approx(expected.temperature, rel=1e-4)
        assert row["nll_after"] < row["nll_before"]
        assert row["changed_predictions"] == 0.0
    assert "ece_after" in str(report) and "task_1" in str(report)


def test_predict_is_calibrated_and_keeps_the_classes(calibrated):
    model, wrapped, _ = calibrated
    xs, _ = data(n=20, seed=1)
    raw, out = model.predict(xs, verbose=0), wrapped.predict(xs, verbose=0)
    for task, r, o in zip(["task_0", "task_1"], raw, out):
        np.testing.assert_allclose(o, wrapped.scalings[task](r), atol=1e-5)
        np.testing.assert_array_equal(o.argmax(-1), r.argmax(-1))
        assert not np.allclose(o, r, atol=1e-3)


def test_saved_file_keeps_the_fitted_temperatures(calibrated, tmp_path):
    _, wrapped, _ = calibrated
    path = str(tmp_path / "calibrated.keras")
    wrapped.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, keras_drifa.CalibratedModel) and loaded.method == "temperature"
    for task in ["task_0", "task_1"]:
        assert loaded.scalings[task].temperature == pytest.approx(
            wrapped.scalings[task].temperature, rel=1e-6)
    xs, _ = data(n=8, seed=2)
    for a, b in zip(loaded.predict(xs, verbose=0), wrapped.predict(xs, verbose=0)):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_an_ensemble_is_calibrated_member_by_member_then_averaged():
    ensemble = keras_drifa.MCDropoutEnsemble([small_model(1), small_model(2)])
    xs, labels = data()
    wrapped = keras_drifa.CalibratedModel(ensemble, method="vector")
    report = wrapped.fit_calibration(xs, labels, verbose=0)
    members = ensemble.predict_members(xs)
    assert members["task_1"].shape == (2, 96, 4)
    for t, task in enumerate(["task_0", "task_1"]):
        expected = calibration.fit_scaling(members[task], labels[t], "vector")
        np.testing.assert_allclose(wrapped.scalings[task].scale, expected.scale, rtol=1e-3)
        assert report[task]["nll_after"] < report[task]["nll_before"]
    out = wrapped.predict(xs, verbose=0)
    np.testing.assert_allclose(
        out[1], wrapped.scalings["task_1"](members["task_1"]).mean(0), atol=1e-5)

    # Fitted on Monte Carlo samples, predict_uncertainty summarises the calibrated samples.
    wrapped.fit_calibration(xs, labels, num_samples=4, seed=0, verbose=0)
    raw = ensemble.predict_uncertainty(xs, num_samples=4, seed=1, return_samples=True, verbose=0)
    result = wrapped.predict_uncertainty(xs, num_samples=4, seed=1, verbose=0)
    for task in ["task_0", "task_1"]:
        samples = wrapped.scalings[task](raw[task]["samples"])
        np.testing.assert_allclose(result[task]["mean"], samples.reshape((-1, 96, samples.shape[-1])).mean(0), atol=1e-5)
        assert np.all(result[task]["mutual_information"] >= 0)
        assert "samples" not in result[task]


def test_errors():
    model = small_model(3)
    with pytest.raises(ValueError, match="`model` must be a keras.Model; received str"):
        keras_drifa.CalibratedModel("model.keras")
    with pytest.raises(ValueError, match="`method` must be one of"):
        keras_drifa.CalibratedModel(model, method="platt")
    wrapped = keras_drifa.CalibratedModel(model)
    xs, labels = data(n=8)
    with pytest.raises(ValueError, match="`num_samples` is for an MCDropoutEnsemble"):
        wrapped.fit_calibration(xs, labels, num_samples=5)
    with pytest.raises(ValueError, match="but `labels` has 1 entries"):
        wrapped.fit_calibration(xs, [labels[0]], verbose=0)
    with pytest.raises(ValueError, match="is a single model; Monte Carlo"):
        wrapped.predict_uncertainty(xs)

    class Subclassed(keras.Model):
        def call(self, x):
            return x

    with pytest.raises(ValueError, match="is not a functional model"):
        keras_drifa.CalibratedModel(Subclassed(name="sub"))
