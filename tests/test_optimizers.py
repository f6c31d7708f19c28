"""`FusedAdam`: Keras's Adam numbers, one fused kernel per weight on TensorFlow and PyTorch."""

import contextlib
import importlib
import os
import re
import textwrap

import keras
import numpy as np
import pytest

import keras_drifa
from keras_drifa.backend import optimizers as backend_optimizers
from keras_drifa.optimizers import FusedAdam

BACKEND = keras.backend.backend()
SHAPES = [(3, 4), (5,), (2, 2, 3)]


def _variables():
    return [
        keras.Variable(np.random.default_rng(i).normal(size=s).astype("float32"))
        for i, s in enumerate(SHAPES)
    ]


def _gradients(step):
    return [
        keras.ops.convert_to_tensor(
            np.random.default_rng(100 + 10 * step + i).normal(size=s).astype("float32"))
        for i, s in enumerate(SHAPES)
    ]


def _train(optimizer, steps=4):
    variables = _variables()
    for step in range(steps):
        optimizer.apply(_gradients(step), variables)
    return [keras.ops.convert_to_numpy(v) for v in variables]


@pytest.fixture
def fused_calls(monkeypatch):
    """Whether each `update_step` used a fused kernel (`True`) or Keras's element-wise
    update (`False`), and how often the backend's kernel itself ran."""
    record = {"fused": [], "kernel": 0}
    original = backend_optimizers.fused_adam_update

    def spy(*args, **kwargs):
        record["fused"].append(original(*args, **kwargs))
        return record["fused"][-1]

    monkeypatch.setattr(backend_optimizers, "fused_adam_update", spy)

    def count(kernel):
        def counted(*args, **kwargs):
            record["kernel"] += 1
            return kernel(*args, **kwargs)
        return counted

    if BACKEND == "torch":
        functional = importlib.import_module("torch.optim.adam")
        monkeypatch.setattr(functional, "adam", count(functional.adam))
    elif BACKEND == "tensorflow":
        import tensorflow as tf

        monkeypatch.setattr(tf.raw_ops, "ResourceApplyAdam",
                            count(tf.raw_ops.ResourceApplyAdam))
    return record


ARGUMENTS = {
    "defaults": {},
    "amsgrad": {"amsgrad": True},
    "weight_decay": {"weight_decay": 0.1},
    "clipnorm": {"clipnorm": 0.5},
    "betas_epsilon": {"beta_1": 0.5, "beta_2": 0.9, "epsilon": 1e-3},
    "schedule": {"learning_rate": keras.optimizers.schedules.ExponentialDecay(0.05, 2, 0.5)},
    "gradient_accumulation": {"gradient_accumulation_steps": 2},
    "ema": {"use_ema": True, "ema_momentum": 0.5, "ema_overwrite_frequency": 2},
}


@pytest.mark.parametrize("arguments", ARGUMENTS.values(), ids=ARGUMENTS)
def test_matches_keras_adam_step_by_step(arguments, fused_calls):
    arguments = {"learning_rate": 0.01, **arguments}
    expected = _train(keras.optimizers.Adam(**arguments))
    fused_calls["fused"].clear()
    received = _train(FusedAdam(**arguments))
    for want, got in zip(expected, received):
        # Values of order 1; the kernels round differently from Keras's ten operations.
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
    assert not np.allclose(received[0], _variables()[0].numpy(), atol=1e-3)  # it trained
    # Every update went through the backend check, fused where the backend has a kernel.
    assert fused_calls["fused"]
    with_kernel = BACKEND == "torch" or (BACKEND == "tensorflow" and not arguments.get("amsgrad"))
    assert all(fused_calls["fused"]) == with_kernel
    assert (fused_calls["kernel"] == len(fused_calls["fused"])) == with_kernel


@pytest.mark.skipif(BACKEND == "jax", reason="JAX has no fused kernel: FusedAdam runs "
                    "Keras's update there, which keeps no scalars between weights (and JAX "
                    "makes float64 weights float32 unless x64 is enabled)")
def test_weights_of_two_dtypes_each_get_their_own_step_scalars():
    """The step's scalars are computed once per dtype in an update (`apply`): a float64
    weight updated alongside float32 weights gets what it gets alone, not float32-rounded
    scalars (which would move it by about 2e-6 here)."""
    dtypes = ("float32", "float64", "float32")

    def train(indices):
        variables = [keras.Variable(np.full((3,), 0.5, dtypes[i]), dtype=dtypes[i])
                     for i in indices]
        optimizer = FusedAdam(0.1)
        for step in range(3):
            grads = [keras.ops.cast(np.linspace(-1, 1, 3) * (step + i + 1), dtypes[i])
                     for i in indices]
            optimizer.apply(grads, variables)
        return [keras.ops.convert_to_numpy(v) for v in variables]

    together = train(range(3))
    for i, got in enumerate(together):
        (alone,) = train([i])
        assert got.dtype == alone.dtype == np.dtype(dtypes[i])
        np.testing.assert_allclose(got, alone, rtol=1e-12, atol=0)
        assert not np.allclose(got, 0.5)


@pytest.mark.skipif(BACKEND == "jax", reason="JAX has no fused kernel: FusedAdam runs "
                    "Keras's update, whose per-weight scalars XLA folds itself")
def test_step_scalars_are_computed_once_per_update(monkeypatch):
    """One update computes Adam's step size and the betas' powers once, not per weight:
    on TensorFlow a traced update of 30 weights holds two `Pow` operations (not 60); on
    PyTorch the step size is computed once per update."""
    variables = [keras.Variable(np.ones((2,), "float32")) for _ in range(30)]
    grads = [keras.ops.ones((2,)) for _ in variables]
    optimizer = FusedAdam(0.01)
    optimizer.build(variables)
    if BACKEND == "tensorflow":
        import tensorflow as tf

        traced = tf.function(lambda g: optimizer.apply(g, variables))
        graph = traced.get_concrete_function(grads).graph
        kinds = [op.type for op in graph.get_operations()]
        assert kinds.count("ResourceApplyAdam") == 30
        assert kinds.count("Pow") == 2
    else:
        calls = []
        original = backend_optimizers.torch_step_size
        monkeypatch.setattr(backend_optimizers, "torch_step_size",
                            lambda *a, **k: calls.append(1) or original(*a, **k))
        for _ in range(2):
            optimizer.apply(grads, variables)
        assert len(calls) == 2
    # Outside an update (`apply`), `update_step` computes them for its weight alone.
    before = keras.ops.convert_to_numpy(variables[0])
    optimizer.update_step(grads[0], variables[0], optimizer.learning_rate)
    assert np.all(keras.ops.convert_to_numpy(variables[0]) < before)


def _fitted(optimizer, scope=None):
    """Weights and losses after two epochs of a small model's compiled `fit`."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 8, 8, 3)).astype("float32")
    y = keras.utils.to_categorical(rng.integers(0, 3, 32), 3)
    keras.utils.set_random_seed(7)
    with scope if scope is not None else contextlib.nullcontext():
        model = keras.Sequential([
            keras.Input((8, 8, 3)),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(3, activation="softmax"),
        ])
        model.compile(optimizer=optimizer(0.01), loss="categorical_crossentropy")
    history = model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    return model.get_weights(), history.history["loss"]


def _assert_same_training(got, want):
    np.testing.assert_allclose(got[1], want[1], rtol=1e-5)
    for w_got, w_want in zip(got[0], want[0]):
        np.testing.assert_allclose(w_got, w_want, rtol=0, atol=1e-5)


def test_compiled_fit_matches_keras_adam(fused_calls):
    """The compiled train step of each backend (`tf.function`, `jax.jit`, PyTorch's)."""
    want = _fitted(keras.optimizers.Adam)
    fused_calls["fused"].clear()
    _assert_same_training(_fitted(FusedAdam), want)
    assert fused_calls["fused"] and all(fused_calls["fused"]) == (BACKEND != "jax")


@pytest.mark.skipif(BACKEND != "tensorflow",
                    reason="tf.distribute strategies exist on TensorFlow only")
def test_tensorflow_strategy_uses_the_element_wise_update(fused_calls):
    import tensorflow as tf

    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    want = _fitted(keras.optimizers.Adam, strategy.scope())
    fused_calls["fused"].clear()
    _assert_same_training(_fitted(FusedAdam, strategy.scope()), want)
    assert fused_calls["fused"] and not any(fused_calls["fused"])


def test_config_round_trip_and_saved_model(tmp_path):
    optimizer = FusedAdam(learning_rate=0.02, beta_1=0.8, beta_2=0.99, epsilon=1e-6,
                          amsgrad=True, clipnorm=1.0, name="mine")
    config = optimizer.get_config()
    assert FusedAdam.from_config(config).get_config() == config
    restored = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert isinstance(restored, FusedAdam) and restored.get_config() == config

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model.compile(optimizer=FusedAdam(0.01, amsgrad=True), loss="mse")
    x = np.random.default_rng(0).normal(size=(8, 4)).astype("float32")
    model.fit(x, x[:, :2], epochs=2, verbose=0)
    path = os.path.join(tmp_path, "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded.optimizer, FusedAdam)
    assert len(loaded.optimizer.variables) == len(model.optimizer.variables)
    for want, got in zip(model.optimizer.variables, loaded.optimizer.variables):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(got),
                                      keras.ops.convert_to_numpy(want))
    # Training goes on from the restored moments as it would have from the originals.
    model.train_on_batch(x, x[:, :2])
    loaded.train_on_batch(x, x[:, :2])
    for want, got in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)


@pytest.mark.parametrize("name, value, expected", [
    ("beta_1", 1.0, "a number in [0, 1)"),
    ("beta_2", -0.1, "a number in [0, 1)"),
    ("epsilon", -1e-7, "a number >= 0"),
    ("amsgrad", "yes", "True or False"),
])
def test_bad_arguments_say_what_was_expected(name, value, expected):
    with pytest.raises(ValueError, match=re.escape(f"FusedAdam: `{name}` must be {expected}")):
        FusedAdam(**{name: value})


def test_docstring_example_runs():
    example = textwrap.dedent(
        re.search(r"```python\n(.*?)```", FusedAdam.__doc__, re.S).group(1))
    namespace = {}
    exec(compile(example, "FusedAdam docstring", "exec"), namespace)
    assert isinstance(namespace["model"].optimizer, FusedAdam)
    assert keras_drifa.optimizers.FusedAdam is FusedAdam
