"""keras_drifa.backend.rng: PyTorch's global generator seeded, saved and restored; a no-op
on the other backends."""

import keras
import numpy as np
import pytest

from keras_drifa.backend import rng

TORCH = keras.backend.backend() == "torch"


def _draw():
    import torch

    return torch.rand(4).numpy()


@pytest.mark.skipif(not TORCH, reason="the global generator is PyTorch's")
def test_preserved_global_rng_restores_the_generator():
    before = _draw()
    rng.seed_global_rng(5)
    expected = _draw()
    rng.seed_global_rng(5)
    with rng.preserved_global_rng():
        inside = _draw()
    np.testing.assert_array_equal(inside, expected)
    np.testing.assert_array_equal(_draw(), expected)  # the draw inside did not count
    assert not np.array_equal(before, expected)


@pytest.mark.skipif(not TORCH, reason="the global generator is PyTorch's")
def test_global_rng_state_round_trip():
    state = rng.global_rng_state()
    assert state.dtype == np.uint8
    first = _draw()
    rng.set_global_rng_state(state)
    np.testing.assert_array_equal(_draw(), first)
    with rng.isolated_rng():
        _draw()
    assert not np.array_equal(_draw(), first)


@pytest.mark.skipif(TORCH, reason="a no-op on the backends without a global generator")
def test_no_op_elsewhere():
    assert rng.global_rng_state() is None
    rng.set_global_rng_state(None)
    rng.seed_global_rng(1)
    with rng.preserved_global_rng(), rng.isolated_rng():
        pass
