import math

import keras
import numpy as np
import pytest
from drifa_reference import to_numpy

from keras_drifa.layers._initializers import StackedGlorotUniform


def test_each_stacked_entry_gets_its_own_glorot_range():
    fans = [(4, 4), (400, 400), (8, 4)]
    values = to_numpy(StackedGlorotUniform(fans)((3, 64, 64)))
    for entry, (fan_in, fan_out) in zip(values, fans):
        limit = math.sqrt(6.0 / (fan_in + fan_out))
        assert np.abs(entry).max() <= limit
        assert np.abs(entry).max() > 0.95 * limit  # 4096 draws span the range


def test_without_fans_it_is_keras_glorot_uniform_for_the_whole_weight():
    shape = (3, 3, 16, 32)  # a convolution kernel: fans count the receptive field
    limit = math.sqrt(6.0 / (9 * 16 + 9 * 32))
    values = to_numpy(StackedGlorotUniform()(shape))
    assert values.shape == shape
    assert limit * 0.95 < np.abs(values).max() <= limit


def test_one_pair_of_fans_applies_to_the_whole_weight():
    values = to_numpy(StackedGlorotUniform(fans=(16, 8))((16, 16)))
    limit = math.sqrt(6.0 / 24)
    assert limit * 0.9 < np.abs(values).max() <= limit


def test_reproducible_under_set_random_seed_and_seeded():
    keras.utils.set_random_seed(7)
    a = to_numpy(StackedGlorotUniform()((5, 6)))
    b = to_numpy(StackedGlorotUniform()((5, 6)))
    keras.utils.set_random_seed(7)
    np.testing.assert_array_equal(to_numpy(StackedGlorotUniform()((5, 6))), a)
    assert not np.array_equal(a, b)
    np.testing.assert_array_equal(
        to_numpy(StackedGlorotUniform(seed=3)((5, 6))), to_numpy(StackedGlorotUniform(seed=3)((5, 6)))
    )


def test_config_round_trip():
    for fans in (None, (3, 4), [(1, 2), (3, 4)]):
        initializer = StackedGlorotUniform(fans, seed=1)
        restored = keras.saving.deserialize_keras_object(
            keras.saving.serialize_keras_object(initializer)
        )
        assert restored.get_config() == initializer.get_config()
        np.testing.assert_array_equal(
            to_numpy(restored((2, 3, 4))), to_numpy(initializer((2, 3, 4)))
        )


def test_rejects_fans_that_do_not_match_the_stack():
    with pytest.raises(ValueError, match=r"2 \(fan_in, fan_out\) pairs for a weight of shape \(3, 4, 4\)"):
        StackedGlorotUniform([(4, 4), (4, 4)])((3, 4, 4))
