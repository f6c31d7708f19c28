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


def test_sampling_switch_is_a_plain_seed_generator_and_round_trips():
    # The switch is held as the state of a public keras.random.SeedGenerator (see
    # MCDropout.__init__): its config round-trips and setting it changes only that state.
    layer = MCDropout(0.5)
    switch = layer.sampling_switch
    assert type(switch) is keras.random.SeedGenerator
    restored = keras.random.SeedGenerator.from_config(switch.get_config())
    assert restored.get_config() == switch.get_config()
    layer.set_sampling(True)
    assert layer.sampling and keras.ops.convert_to_numpy(switch.state)[0] == 1
    layer.set_sampling(False)
    assert not layer.sampling


def test_no_mask_is_drawn_when_sampling_is_off():
    # Deterministic inference does no random work: the dropout seed state stays put (on
    # JAX and TensorFlow the seed is drawn outside the conditional, which neither can
    # update state from, see keras_drifa.backend.dropout.dropout_if).
    layer = MCDropout(0.5, seed=3)
    state = keras.ops.convert_to_numpy(layer.seed_generator.state).copy()
    layer(_x())
    after = keras.ops.convert_to_numpy(layer.seed_generator.state)
    if keras.backend.backend() in ("jax", "tensorflow"):
        assert not np.array_equal(after, state)
    else:
        np.testing.assert_array_equal(after, state)
    with keras_drifa.mc_sampling(layer):
        layer(_x())
    assert not np.array_equal(keras.ops.convert_to_numpy(layer.seed_generator.state), after)


@pytest.mark.skipif(
    keras.backend.backend() != "torch",
    reason="only PyTorch draws unseeded dropout masks from a global generator",
)
def test_deterministic_inference_leaves_torch_global_generator_alone():
    import torch

    layer = MCDropout(0.5)  # unseeded: masks would come from torch's global generator
    before = torch.random.get_rng_state()
    layer(_x())
    assert torch.equal(torch.random.get_rng_state(), before)


@pytest.mark.skipif(keras.backend.backend() != "torch", reason="DDP ranks are PyTorch's")
def test_each_ddp_rank_draws_its_own_masks(monkeypatch):
    # Ranks hold the same seed state (DDP broadcasts it); inside a training step each
    # rank's masks differ, outside one (inference on a rank's rows) they are one device's.
    from keras_drifa.distributed import _torch_ddp

    x = np.ones((4, 64), "float32")

    def masks(rank):
        layer = MCDropout(0.5, seed=3)
        monkeypatch.setattr(_torch_ddp, "rank_in_step", lambda: rank)
        return keras.ops.convert_to_numpy(layer(x, training=True))

    assert np.array_equal(masks(0), masks(0))
    assert not np.array_equal(masks(0), masks(1))
    assert np.array_equal(masks(None), masks(None))


def test_numpy_rates_are_numbers():
    assert MCDropout(np.float32(0.25)).rate == pytest.approx(0.25)
    assert type(MCDropout(np.float64(0.5)).rate) is float
    for bad in (1.0, np.float32(1.5), True, "0.2", float("nan")):
        with pytest.raises(ValueError, match=r"MCDropout: `rate` must be a number in \[0, 1\); "
                           r"received rate="):
            MCDropout(bad)
