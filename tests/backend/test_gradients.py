"""keras_drifa.backend.gradients: the gradient of a chosen class score, on every backend."""

import keras
import numpy as np

from keras_drifa.backend import gradients


def test_class_score_gradients_of_a_linear_model_are_its_kernel_columns():
    features = keras.Input((3,))
    other = keras.Input((2,))
    dense = keras.layers.Dense(4, use_bias=False)
    scores = keras.layers.Add()([dense(features), keras.layers.Dense(4)(other)])
    tail = keras.Model([features, other], [scores])
    rng = np.random.default_rng(0)
    values = [rng.normal(size=(5, 3)).astype("float32"), rng.normal(size=(5, 2)).astype("float32")]
    chosen = np.array([0, 3, 1, 2, 3])
    out, class_index, (grad,) = gradients.class_score_gradients(
        tail, values, num_targets=1, task=0, choose_class=lambda s: chosen
    )
    np.testing.assert_array_equal(class_index, chosen)
    np.testing.assert_allclose(out, keras.ops.convert_to_numpy(tail(values)), rtol=1e-5)
    kernel = keras.ops.convert_to_numpy(dense.kernel)
    np.testing.assert_allclose(grad, kernel[:, chosen].T, rtol=1e-6)
