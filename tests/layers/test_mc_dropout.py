import keras
import numpy as np
import pytest
from drifa_testing import check_layer_contract, dropout_model

import keras_drifa
from keras_drifa.layers import MCDropout


def _x(shape=(4, 64)):
    return np.ones(shape, "float32")


def test_contract():
    check_layer_contract(lambda **kw: MCDropout(0.25, **kw), _x(), 0, train=False)


def test_has_no_weights_and_changes_no_parameter_count():
    model = dropout_model()
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
    model = dropout_model(mode="always")
    a, b = model.predict(_x(), verbose=0), model.predict(_x(), verbose=0)
    assert set(np.unique(a).tolist()) == {0.0, 2.0}
    assert not np.array_equal(a, b)


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5, "0.5", True])
def test_rejects_rate_outside_unit_interval(rate):
    with pytest.raises(ValueError, match=r"rate.*\[0, 1\)"):
        MCDropout(rate)


def test_rejects_unknown_mode():
    with pytest.raises(ValueError, match="mode.*'sometimes'"):
        MCDropout(0.5, mode="sometimes")
