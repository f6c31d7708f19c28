import keras
import numpy as np
import pytest
from drifa_testing import dropout_model

import keras_drifa
from keras_drifa.layers import MCDropout
from keras_drifa.mc_sampling import mc_dropout_layers


def _x(shape=(4, 64)):
    return np.ones(shape, "float32")


def test_finds_mc_dropout_layers_in_nested_models():
    inner = dropout_model()
    inputs = keras.Input((64,))
    outer = keras.Model(inputs, MCDropout(0.1, name="outer_mc")(inner(inputs)))
    assert sorted(layer.name for layer in mc_dropout_layers(outer)) == ["mc", "outer_mc"]


@pytest.mark.compiled
def test_switch_reaches_an_already_compiled_predict_function():
    model = dropout_model(batch_norm=True)
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
    model = dropout_model()
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
    model = dropout_model()
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




def test_enabled_must_be_a_real_bool():
    model = dropout_model()
    layer = model.get_layer("mc")
    for bad in ("False", "no", 0, None):
        with pytest.raises(ValueError, match=rf"mc_sampling: `enabled` must be True or False; "
                           rf"received enabled={bad!r}"):
            with keras_drifa.mc_sampling(model, enabled=bad):
                pass
        assert layer.sampling is False
    with keras_drifa.mc_sampling(model, enabled=np.bool_(False)):
        assert layer.sampling is False
    with keras_drifa.mc_sampling(model, enabled=np.bool_(True)):
        assert layer.sampling is True
