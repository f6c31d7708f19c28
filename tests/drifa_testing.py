"""Helpers shared by the tests: tiny configurations and synthetic batches."""

import contextlib

import keras
import numpy as np
import pytest

import keras_drifa

BACKEND = keras.backend.backend()

# TensorFlow traces a graph per layer call, which dominates compile time for DRIFA-Net
# (74 s for a tiny model's fit versus 8 s eagerly), so most TensorFlow tests run eagerly;
# tests marked `compiled` keep the compiled path covered on purpose.
RUN_EAGERLY = BACKEND == "tensorflow"
# Documentation and examples (README blocks, the notebook, the demo) are backend-independent
# code that trains models: they run once, on PyTorch, where nothing is compiled first.
ONCE_ON_TORCH = pytest.mark.skipif(
    BACKEND != "torch",
    reason="backend-independent example code that trains models; it runs once, on PyTorch "
    "(no compilation wait), and the library calls it makes are tested on every backend",
)

# A DRIFA-Net with every kind of layer of the paper network but few, narrow blocks.
TINY = dict(input_shape=(32, 32, 3), widths=(8, 8, 16, 16), blocks_per_stage=(1, 1, 1, 1))


@contextlib.contextmanager
def image_data_format(data_format):
    """Sets `keras.config.image_data_format()` for the `with` block, then restores it."""
    previous = keras.config.image_data_format()
    keras.config.set_image_data_format(data_format)
    try:
        yield
    finally:
        keras.config.set_image_data_format(previous)


def tiny_model(**overrides):
    kwargs = dict(TINY, num_classes=(3, 4))
    kwargs.update(overrides)
    return keras_drifa.build_model(**kwargs)


def batch(model, n=8, seed=0):
    """Random inputs and one-hot targets matching `model`'s inputs and outputs (as lists)."""
    rng = np.random.default_rng(seed)
    xs = [rng.random((n,) + tuple(t.shape[1:]), dtype=np.float32) for t in model.inputs]
    ys = [
        keras.utils.to_categorical(rng.integers(0, t.shape[-1], n), t.shape[-1])
        for t in model.outputs
    ]
    return xs, ys


def _shapes(x):
    if isinstance(x, (list, tuple)):
        return [tuple(v.shape) for v in x]
    return tuple(x.shape)


def _as_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def check_layer_contract(
    make_layer, inputs, expected_trainable, expected_non_trainable=0, train=True
):
    """The checks Keras applies to its own layers, for one of ours.

    `make_layer(**kwargs)` builds a fresh layer (kwargs go to the layer, e.g. `dtype`);
    `inputs` is a NumPy array or a list of arrays. Checks: config and serialization round
    trips, the weights `build` creates, symbolic against eager output shape and dtype and
    `compute_output_shape`, one training step that changes the trainable weights, and mixed
    precision (float32 variables, outputs in the compute dtype).
    """
    layer = make_layer()
    config = layer.get_config()
    assert type(layer).from_config(config).get_config() == config
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(restored) is type(layer) and restored.get_config() == config

    layer.build(_shapes(inputs) if isinstance(inputs, list) else tuple(inputs.shape))
    assert len(layer.trainable_weights) == expected_trainable
    assert len(layer.non_trainable_weights) == expected_non_trainable

    eager = _as_list(layer(inputs))
    symbolic_inputs = (
        [keras.Input(x.shape[1:], batch_size=x.shape[0]) for x in inputs]
        if isinstance(inputs, list)
        else keras.Input(inputs.shape[1:], batch_size=inputs.shape[0])
    )
    symbolic = _as_list(layer(symbolic_inputs))
    computed = layer.compute_output_shape(
        _shapes(inputs) if isinstance(inputs, list) else tuple(inputs.shape)
    )
    computed = computed if isinstance(computed, list) else [computed]
    assert [tuple(s.shape) for s in symbolic] == [tuple(e.shape) for e in eager]
    assert [tuple(c) for c in computed] == [tuple(e.shape) for e in eager]
    assert [s.dtype for s in symbolic] == [keras.backend.standardize_dtype(e.dtype) for e in eager]

    if train:
        fresh = make_layer()
        model_inputs = (
            [keras.Input(x.shape[1:]) for x in inputs]
            if isinstance(inputs, list)
            else keras.Input(inputs.shape[1:])
        )
        outputs = _as_list(fresh(model_inputs))
        model = keras.Model(model_inputs, keras.layers.Concatenate()(
            [keras.layers.Flatten()(o) for o in outputs]) if len(outputs) > 1 else outputs[0])
        model.compile(optimizer="sgd", loss="mse", run_eagerly=RUN_EAGERLY)
        before = [keras.ops.convert_to_numpy(w).copy() for w in fresh.trainable_weights]
        target = np.zeros((inputs[0] if isinstance(inputs, list) else inputs).shape[:1]
                          + tuple(model.output.shape[1:]), "float32")
        loss = model.train_on_batch(inputs, target)
        assert np.isfinite(loss)
        after = [keras.ops.convert_to_numpy(w) for w in fresh.trainable_weights]
        assert any(not np.allclose(b, a) for b, a in zip(before, after))

    for policy, compute in (("mixed_float16", "float16"), ("mixed_bfloat16", "bfloat16")):
        mixed = make_layer(dtype=policy)
        outputs = _as_list(mixed(inputs))
        assert all(keras.backend.standardize_dtype(o.dtype) == compute for o in outputs)
        assert all(w.dtype == "float32" for w in mixed.weights)
    return layer


def dropout_model(mode="on_demand", rate=0.5, batch_norm=False, width=64):
    """`Input -> [BatchNormalization "bn"] -> MCDropout "mc"`, the smallest MC model."""
    from keras_drifa.layers import MCDropout

    inputs = keras.Input((width,))
    x = keras.layers.BatchNormalization(name="bn")(inputs) if batch_norm else inputs
    return keras.Model(inputs, MCDropout(rate, mode=mode, seed=3, name="mc")(x))
