import keras
import numpy as np
import pytest
from drifa_testing import check_layer_contract

import keras_drifa
from keras_drifa.layers import MCDropout


def _x(shape=(4, 64)):
    return np.ones(shape, "float32")


def _dropout_model(mode="on_demand", rate=0.5, batch_norm=False):
    inputs = keras.Input((64,))
    x = keras.layers.BatchNormalization(name="bn")(inputs) if batch_norm else inputs
    return keras.Model(inputs, MCDropout(rate, mode=mode, seed=3, name="mc")(x))


def test_contract():
    check_layer_contract(lambda **kw: MCDropout(0.25, **kw), _x(), 0, train=False)


def test_has_no_weights_and_changes_no_parameter_count():
    model = _dropout_model()
    assert model.weights == [] and model.count_params() == 0


def test_drops_and_rescales_in_training():
    out = keras.ops.convert_to_numpy(MCDropout(0.5, seed=1)(_x(), training=True))
    assert set(np.unique(out).tolist()) == {0.0, 2.0}


def test_identity_at_inference_by_default():
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(MCDropout(0.5)(_x())), _x())


def test_mc_sampling_switches_direct_calls():
    layer = MCDropout(0.5, seed=1)
    with keras_drifa.mc_sampling(layer):
        out = keras.ops.convert_to_numpy(layer(_x()))
    assert set(np.unique(out).tolist()) == {0.0, 2.0}
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(_x())), _x())


def test_always_mode_samples_at_inference():
    model = _dropout_model(mode="always")
    a, b = model.predict(_x(), verbose=0), model.predict(_x(), verbose=0)
    assert set(np.unique(a).tolist()) == {0.0, 2.0}
    assert not np.array_equal(a, b)


@pytest.mark.compiled
def test_switch_reaches_an_already_compiled_predict_function():
    model = _dropout_model(batch_norm=True)
    model.compile(loss="mse")  # compiled on every backend, TensorFlow included
    x = np.random.default_rng(0).normal(size=(8, 64)).astype("float32")
    deterministic = model.predict(x, verbose=0)
    compiled = model.predict_function
    stats = [keras.ops.convert_to_numpy(w).copy() for w in model.get_layer("bn").weights]
    with keras_drifa.mc_sampling(model):
        first, second = model.predict(x, verbose=0), model.predict(x, verbose=0)
    assert model.predict_function is compiled  # no retracing: the switch is runtime state
    assert not np.array_equal(first, second)
    # Batch norm stays in inference mode: kept units equal the deterministic output x 2.
    kept = first != 0
    np.testing.assert_allclose(first[kept], 2 * deterministic[kept], rtol=1e-5, atol=1e-6)
    for before, w in zip(stats, model.get_layer("bn").weights):
        np.testing.assert_array_equal(before, keras.ops.convert_to_numpy(w))
    np.testing.assert_array_equal(model.predict(x, verbose=0), deterministic)


def test_sampling_state_is_restored_after_an_exception_and_nesting():
    model = _dropout_model()
    layer = model.get_layer("mc")
    with pytest.raises(RuntimeError):
        with keras_drifa.mc_sampling(model):
            assert layer.sampling
            raise RuntimeError("boom")
    assert not layer.sampling
    with keras_drifa.mc_sampling(model):
        with keras_drifa.mc_sampling(model, enabled=False):
            assert not layer.sampling
        assert layer.sampling
    assert not layer.sampling


def test_sampling_state_is_not_saved(tmp_path):
    model = _dropout_model()
    path = str(tmp_path / "m.keras")
    with keras_drifa.mc_sampling(model):
        model.save(path)
    restored = keras.models.load_model(path)
    np.testing.assert_array_equal(restored.predict(_x(), verbose=0), _x())


def test_mc_sampling_rejects_models_without_mc_dropout():
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs), name="plain")
    with pytest.raises(ValueError, match="'plain' has no MCDropout layer.*deterministic"):
        with keras_drifa.mc_sampling(model):
            pass


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5, "0.5", True])
def test_rejects_rate_outside_unit_interval(rate):
    with pytest.raises(ValueError, match=r"rate.*\[0, 1\)"):
        MCDropout(rate)


def test_rejects_unknown_mode():
    with pytest.raises(ValueError, match="mode.*'sometimes'"):
        MCDropout(0.5, mode="sometimes")
