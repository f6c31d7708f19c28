"""keras_drifa._graph.split: the one cut of a functional graph, shared by Grad-CAM and the
ensemble's sampler."""

import keras
import numpy as np

from keras_drifa import _graph


def two_branch_model():
    """Branch `a` and branch `b` fused by an addition; input `b` also reaches the output by
    a skip that bypasses the fusion."""
    a, b = keras.Input((4,), name="a"), keras.Input((3,), name="b")
    fused = keras.layers.Add(name="add")(
        [keras.layers.Dense(5, name="dense_a")(a), keras.layers.Dense(5, name="dense_b")(b)]
    )
    mixed = keras.layers.Dense(2, name="mixed")(fused)
    skip = keras.layers.Dense(2, name="skip")(b)
    return keras.Model([a, b], keras.layers.Concatenate(name="out")([mixed, skip]))


def inputs():
    rng = np.random.default_rng(0)
    return [rng.normal(size=(3, 4)).astype("float32"), rng.normal(size=(3, 3)).astype("float32")]


def numpy(value):
    return keras.ops.convert_to_numpy(value)


def test_the_head_runs_what_the_cut_depends_on_and_the_tail_the_rest():
    model = two_branch_model()
    branch_a = model.get_layer("dense_a").output
    halves = _graph.split(model, [branch_a])
    assert sorted(layer.name for layer in halves.head.layers) == ["a", "b", "dense_a"]
    tail_layers = {layer.name for layer in halves.tail.layers}
    assert tail_layers >= {"dense_b", "add", "mixed", "skip", "out"}
    # The tail reads the cut first, then what else it needs from the head's part: input `b`
    # (passed through the head), read by branch b and by the skip.
    assert [tuple(t.shape) for t in halves.tail.inputs] == [(None, 5), (None, 3)]
    head_values = halves.head(inputs())
    np.testing.assert_allclose(numpy(head_values[1]), inputs()[1])
    np.testing.assert_allclose(
        numpy(halves.tail(head_values)), numpy(model(inputs())), rtol=1e-6, atol=1e-6
    )


def test_a_cut_after_the_fusion_and_chosen_outputs():
    model = two_branch_model()
    fused, mixed = model.get_layer("add").output, model.get_layer("mixed").output
    halves = _graph.split(model, [fused], outputs=[mixed])
    assert sorted(layer.name for layer in halves.head.layers) == [
        "a", "add", "b", "dense_a", "dense_b"
    ]
    assert [layer.name for layer in halves.tail.layers][-1] == "mixed"
    expected = keras.Model(model.inputs, mixed)(inputs())
    np.testing.assert_allclose(
        numpy(halves.tail(halves.head(inputs()))), numpy(expected), rtol=1e-6, atol=1e-6
    )


def test_a_cut_at_a_model_input_leaves_the_head_passing_inputs_through():
    model = two_branch_model()
    halves = _graph.split(model, [model.inputs[1]])
    values = [numpy(v) for v in halves.head(inputs())]
    np.testing.assert_array_equal(values[0], inputs()[1])  # the cut first, then input a
    np.testing.assert_array_equal(values[1], inputs()[0])
    np.testing.assert_allclose(
        numpy(halves.tail(values)), numpy(model(inputs())), rtol=1e-6, atol=1e-6
    )
