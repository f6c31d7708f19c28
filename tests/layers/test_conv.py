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
    # The matrix product serves maps up to SMALL_MAP; larger ones use ops.conv.
    assert bool(calls) == (max(x.shape[1:3]) <= SMALL_MAP)
