import keras
import numpy as np
import pytest
from drifa_reference import to_numpy

from keras_drifa.layers import _conv
from keras_drifa.layers._conv import SMALL_MAP, SmallMapConv2D

# (map size, kernel, strides, padding): every valid combination on maps around SMALL_MAP.
CASES = [
    (size, kernel, strides, padding)
    for size in (1, 2, 3, 4, 5)
    for kernel, strides, padding in [
        (3, 1, "same"), (3, 2, "same"), (1, 2, "valid"), (2, 1, "valid"), (3, 2, "valid")
    ]
    if padding == "same" or kernel <= size
]


@pytest.mark.parametrize("size,kernel,strides,padding", CASES)
def test_equals_keras_conv2d(size, kernel, strides, padding, monkeypatch):
    calls = []
    original = _conv._patch_product
    monkeypatch.setattr(
        _conv, "_patch_product", lambda *args: calls.append(1) or original(*args)
    )
    x = np.random.default_rng(size).normal(size=(2, size, size + (size > 1), 5)).astype("float32")
    ours = SmallMapConv2D(6, kernel, strides=strides, padding=padding)
    reference = keras.layers.Conv2D(6, kernel, strides=strides, padding=padding)
    ours.build(x.shape)
    reference.build(x.shape)
    rng = np.random.default_rng(0)
    for a, b in zip(ours.weights, reference.weights):
        value = rng.normal(size=a.shape).astype("float32")
        a.assign(value)
        b.assign(value)
    expected = to_numpy(reference(x))
    np.testing.assert_allclose(to_numpy(ours(x)), expected, rtol=1e-5, atol=1e-5)
    assert tuple(ours.compute_output_shape(x.shape)) == expected.shape
    # The matrix product serves maps up to SMALL_MAP (strided 1x1 kernels are a slice at
    # every size); larger ones use ops.conv.
    strided_1x1 = kernel == 1 and strides > 1
    assert bool(calls) == (max(x.shape[1:3]) <= SMALL_MAP and not strided_1x1)


@pytest.mark.parametrize("size", [4, 15, 16])
@pytest.mark.parametrize("padding", ["same", "valid"])
def test_strided_1x1_is_a_slice_and_a_product(size, padding):
    x = np.random.default_rng(size).normal(size=(3, size, size, 8)).astype("float32")
    ours = SmallMapConv2D(16, 1, strides=2, padding=padding)
    ours.build(x.shape)
    kernel, bias = [to_numpy(w) for w in ours.weights]
    expected = x[:, ::2, ::2, :] @ kernel[0, 0] + bias
    np.testing.assert_allclose(to_numpy(ours(x)), expected, rtol=1e-5, atol=1e-5)


def test_strided_1x1_trains_at_a_batch_size_that_crashes_pytorchs_conv():
    # PyTorch 2.13's CPU conv2d, 1x1 kernel, stride 2, channels-last input, batch 21:
    # its backward pass corrupts the heap and the process dies. The slice avoids it.
    inputs = keras.Input((16, 16, 8))
    features = SmallMapConv2D(16, 1, strides=2)(inputs)
    pooled = keras.layers.GlobalAveragePooling2D()(features)
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(pooled))
    model.compile("adam", "categorical_crossentropy", run_eagerly=True)
    x = np.random.default_rng(0).random((21, 16, 16, 8), dtype=np.float32)
    y = np.eye(3, dtype="float32")[np.arange(21) % 3]
    losses = [model.train_on_batch(x, y) for _ in range(5)]
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0]
