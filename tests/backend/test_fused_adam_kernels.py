"""keras_drifa/backend/optimizers.py: PyTorch's step size, on the host and on the device, in
the weight's precision as Keras computes it."""

import keras
import numpy as np
import pytest

from keras_drifa.backend import optimizers as backend_optimizers
from keras_drifa.optimizers import FusedAdam


@pytest.mark.skipif(keras.backend.backend() != "torch",
                    reason="the step size is computed apart on PyTorch only (fused kernel)")
@pytest.mark.parametrize("iterations", [0, 1, 9])
def test_torch_step_size_on_host_and_device_is_adams(iterations):
    optimizer = FusedAdam(learning_rate=0.01, beta_1=0.8, beta_2=0.99)
    weight = keras.Variable(np.zeros(3, "float32"))
    optimizer.build([weight])
    optimizer.iterations.assign(iterations)
    rate = keras.ops.convert_to_tensor(0.01)
    t = iterations + 1
    b1, b2, t = np.float32(0.8), np.float32(0.99), np.float32(t)
    expected = float(np.float32(0.01) * np.sqrt(1 - b2**t) / (1 - b1**t))
    on_host = backend_optimizers.torch_step_size(optimizer, rate, weight.value, on_host=True)
    on_device = backend_optimizers.torch_step_size(optimizer, rate, weight.value, on_host=False)
    assert isinstance(on_host, float)
    assert tuple(on_device.shape) == () and on_device.device == weight.value.device
    np.testing.assert_allclose(on_host, expected, rtol=1e-7)
    np.testing.assert_allclose(float(on_device), expected, rtol=1e-6)
