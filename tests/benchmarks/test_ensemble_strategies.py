"""benchmarks/ensemble_strategies.py: its traced-once strategies compute what calling the
members in turn computes (outputs, dropout masks and updated batch-norm and seed state)."""

import importlib.util
import pathlib
import sys

import keras
import numpy as np
import pytest

from keras_drifa.layers import MCDropout

BENCHMARKS = pathlib.Path(__file__).resolve().parents[2] / "benchmarks"


def load_script():
    sys.path.insert(0, str(BENCHMARKS))  # it imports train_step's helpers
    try:
        spec = importlib.util.spec_from_file_location(
            "ensemble_strategies", BENCHMARKS / "ensemble_strategies.py"
        )
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCHMARKS))
    return module


def member(seed):
    """Seeded dropout: PyTorch draws the masks of unseeded layers from its global generator,
    which restoring the members' variables does not rewind."""
    inputs = [keras.Input((6,)) for _ in range(2)]
    x = keras.layers.Dense(8, activation="relu")(keras.layers.Concatenate()(inputs))
    x = MCDropout(0.5, seed=seed)(keras.layers.BatchNormalization()(x))
    return keras.Model(inputs, [keras.layers.Dense(n, activation="softmax")(x) for n in (3, 4)])


def numpy_state(models):
    return [[keras.ops.convert_to_numpy(v).copy() for v in m.variables] for m in models]


@pytest.mark.parametrize("mapper", ["map", "vectorized_map"])
def test_traced_once_equals_calling_the_members_in_turn(mapper):
    if mapper == "vectorized_map" and keras.backend.backend() == "torch":
        pytest.skip("torch.vmap refuses random operations (dropout) inside the mapped "
                    "function; the benchmark's `vectorized` strategy is for JAX and TensorFlow")
    script = load_script()
    keras.utils.set_random_seed(5)
    members = [member(seed) for seed in (1, 2, 3)]
    rng = np.random.default_rng(0)
    xs = [rng.normal(size=(8, 6)).astype("float32") for _ in range(2)]
    start = numpy_state(members)
    got = script.traced_once(members, xs, True, getattr(keras.ops, mapper))
    state = numpy_state(members)
    for model, values in zip(members, start):
        for variable, value in zip(model.variables, values):
            variable.assign(value)
    expected = [model(xs, training=True) for model in members]
    for per_got, per_expected in zip(got, expected):
        for a, b in zip(per_got, per_expected):
            np.testing.assert_allclose(keras.ops.convert_to_numpy(a),
                                       keras.ops.convert_to_numpy(b), rtol=1e-5, atol=1e-6)
    for a, b in zip(state, numpy_state(members)):
        for u, v in zip(a, b):
            np.testing.assert_allclose(u, v, rtol=1e-5, atol=1e-6)
    # Members differ: different weights, masks and batch-norm statistics.
    assert not np.allclose(keras.ops.convert_to_numpy(got[0][0]),
                           keras.ops.convert_to_numpy(got[1][0]))
