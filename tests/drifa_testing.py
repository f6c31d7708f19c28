"""Helpers shared by the tests: tiny configurations and synthetic batches."""

import keras
import numpy as np

import keras_drifa

BACKEND = keras.backend.backend()

# TensorFlow traces a graph per layer call, which dominates compile time for DRIFA-Net
# (74 s for a tiny model's fit versus 8 s eagerly), so most TensorFlow tests run eagerly;
# tests marked `compiled` keep the compiled path covered on purpose.
RUN_EAGERLY = BACKEND == "tensorflow"

# A DRIFA-Net with every kind of layer of the paper network but few, narrow blocks.
TINY = dict(input_shape=(32, 32, 3), widths=(8, 8, 16, 16), blocks_per_stage=(1, 1, 1, 1))


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
