"""keras_drifa.backend.compilation: forward passes without gradients, and values that can
be inspected only outside compiled functions."""

import keras
import numpy as np
import pytest

from keras_drifa.backend import compilation

BACKEND = keras.backend.backend()


def _model():
    inputs = keras.Input((3,))
    return keras.Model(inputs, [keras.layers.Dense(2)(inputs)])


def test_forward_returns_numpy_outputs_and_caches_compiled_functions():
    model = _model()
    x = np.random.default_rng(0).normal(size=(4, 3)).astype("float32")
    (out,) = compilation.forward(model, x)
    assert isinstance(out, np.ndarray)
    np.testing.assert_allclose(out, keras.ops.convert_to_numpy(model(x)), rtol=1e-6)
    made = []
    first = compilation.compiled(model, "key", lambda: made.append(1) or object())
    assert compilation.compiled(model, "key", lambda: made.append(1) or object()) is first
    assert made == [1]
    assert "_keras_drifa_compiled" not in model.get_config()


def test_concrete_value_eager_and_traced():
    x = keras.ops.ones((2,))
    np.testing.assert_array_equal(compilation.concrete_value(x), [1.0, 1.0])
    if BACKEND == "tensorflow":
        import tensorflow as tf

        seen = []
        tf.function(lambda t: seen.append(compilation.concrete_value(t)) or t)(x)
    elif BACKEND == "jax":
        import jax

        seen = []
        jax.jit(lambda t: seen.append(compilation.concrete_value(t)) or t)(x)
    elif BACKEND == "torch":
        import torch

        seen = [compilation.concrete_value(torch.ones(2, device="meta"))]
    else:
        pytest.skip(f"no compiled function on {BACKEND}")
    assert seen == [None]
