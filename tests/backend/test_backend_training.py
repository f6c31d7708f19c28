"""keras_drifa.backend.training: the compiled functions of an ensemble's member loop."""

import keras
import numpy as np
import pytest

from keras_drifa.backend import training

BACKEND = keras.backend.backend()


@pytest.mark.skipif(BACKEND == "torch", reason="PyTorch compiles nothing by default, so the "
                    "member loop, the only user of compile_function, does not run there")
def test_compile_function_traces_once_for_any_batch_and_again_for_other_arguments():
    traces = []

    def scaled_sum(weights, x):
        traces.append(1)
        return keras.ops.sum(keras.ops.cast(x, "float32"), axis=0) * weights[0] + weights[1]

    compiled = training.compile_function(scaled_sum, batch_argnums=(1,))
    weights = [keras.Variable(2.0), keras.Variable(1.0)]
    others = [keras.Variable(3.0), keras.Variable(0.0)]
    weights, others = ([w.value for w in ws] for ws in (weights, others))
    rows = np.arange(12, dtype="float32").reshape(6, 2)
    for batch, ws, scale, shift in ((4, weights, 2, 1), (6, weights, 2, 1), (2, others, 3, 0)):
        # Batches as Keras's trainers hand them over (tensors).
        got = keras.ops.convert_to_numpy(
            compiled(ws, keras.ops.convert_to_tensor(rows[:batch])))
        np.testing.assert_allclose(got, rows[:batch].sum(0) * scale + shift)
    # TensorFlow traces once with the batch size unknown, and calls that trace with other
    # variables of the same shapes; JAX compiles once per batch shape.
    assert len(traces) == (1 if BACKEND == "tensorflow" else 3)
    # Arguments of another dtype do not bind to the first trace: they are traced anew.
    got = compiled(weights, keras.ops.convert_to_tensor(rows[:3], "float64"))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(got), rows[:3].sum(0) * 2 + 1)
    assert len(traces) == (2 if BACKEND == "tensorflow" else 4)
