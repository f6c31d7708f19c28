"""Running sub-models and differentiating class scores: the backend-specific part.

Keras has no portable API for "differentiate this model output with respect to that
tensor", so each backend's autodiff is used directly, side by side, here and nowhere else.
Everything else of `keras_drifa.explain` (which class, the CAM formulas, resizing) is
shared NumPy. Models always run in inference mode. On JAX both functions are compiled with
`jax.jit` (once per model and input shape; op-by-op execution of a DRIFA-Net is slower
than compiling it) and written in the stateless form, with the random-generator states
written back as a stateful call would.
"""

import keras
import numpy as np

def _jax_function(model):
    """`model.stateless_call` in inference mode, compiled; cached on the model (set past
    Keras' attribute tracking, so it is not part of the model's state or saved files)."""
    function = model.__dict__.get("_keras_drifa_jit")
    if function is None:
        import jax

        function = jax.jit(
            lambda trainable, non_trainable, inputs: model.stateless_call(
                trainable, non_trainable, inputs, training=False
            )
        )
        object.__setattr__(model, "_keras_drifa_jit", function)
    return function


def _jax_state(model):
    return (
        [v.value for v in model.trainable_variables],
        [v.value for v in model.non_trainable_variables],
    )


def _jax_write_back(model, non_trainable):
    for variable, value in zip(model.non_trainable_variables, non_trainable):
        variable.assign(value)


def _as_list(outputs):
    # A functional model built with a one-element output list returns a bare tensor.
    return list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]


def forward(model, inputs):
    """`model(inputs)` in inference mode, as a list of NumPy arrays.

    Args:
        model: a `keras.Model`.
        inputs: a list of input values, or a single value for a single-input model.
    """
    backend = keras.backend.backend()
    if backend == "jax":
        trainable, non_trainable = _jax_state(model)
        outputs, non_trainable = _jax_function(model)(trainable, non_trainable, inputs)
        _jax_write_back(model, non_trainable)
    elif backend == "torch":
        import torch

        with torch.no_grad():
            outputs = model(inputs, training=False)
    else:
        outputs = model(inputs, training=False)
    return [keras.ops.convert_to_numpy(o) for o in _as_list(outputs)]


def _tensorflow(tail, values, num_targets, task, choose_class):
    import tensorflow as tf

    values = [tf.convert_to_tensor(v) for v in values]
    features = values[:num_targets]
    with tf.GradientTape() as tape:
        tape.watch(features)
        scores = _as_list(tail(values, training=False))[task]
        class_index = choose_class(scores.numpy())
        chosen = tf.reduce_sum(tf.gather(scores, class_index[:, None], batch_dims=1))
    gradients = tape.gradient(
        chosen, features, unconnected_gradients=tf.UnconnectedGradients.ZERO
    )
    return scores.numpy(), class_index, [g.numpy() for g in gradients]


def _jax(tail, values, num_targets, task, choose_class):
    import jax

    trainable, non_trainable = _jax_state(tail)
    function = _jax_function(tail)
    others = list(values[num_targets:])

    def task_scores(features):
        outputs, state = function(trainable, non_trainable, list(features) + others)
        return _as_list(outputs)[task], state

    scores, pullback, state = jax.vjp(task_scores, list(values[:num_targets]), has_aux=True)
    class_index = choose_class(np.asarray(scores))
    (gradients,) = pullback(jax.nn.one_hot(class_index, scores.shape[-1], dtype=scores.dtype))
    _jax_write_back(tail, state)
    return np.asarray(scores), class_index, [np.asarray(g) for g in gradients]


def _torch(tail, values, num_targets, task, choose_class):
    import torch

    values = [keras.ops.convert_to_tensor(v) for v in values]
    features = [v.detach().clone().requires_grad_(True) for v in values[:num_targets]]
    with torch.enable_grad():
        scores = _as_list(tail(features + values[num_targets:], training=False))[task]
        class_index = choose_class(scores.detach().cpu().numpy())
        index = torch.as_tensor(class_index, device=scores.device)[:, None]
        chosen = scores.gather(1, index).sum()
        gradients = torch.autograd.grad(chosen, features, allow_unused=True)
    gradients = [
        np.zeros(tuple(f.shape), np.float32) if g is None else g.detach().cpu().numpy()
        for f, g in zip(features, gradients)
    ]
    return scores.detach().cpu().numpy(), class_index, gradients


_GRADIENTS = {"tensorflow": _tensorflow, "jax": _jax, "torch": _torch}


def class_score_gradients(tail, values, num_targets, task, choose_class):
    """Runs `tail` on `values` and differentiates one class score per sample.

    `choose_class` picks the class of each sample from the scores; the sum of the chosen
    scores is differentiated, which gives every sample its own gradient because samples
    are independent at inference.

    Args:
        tail: a `keras.Model` whose first `num_targets` inputs are the feature maps and
            whose outputs are a list of `(batch, classes)` tensors.
        values: the tail's input values, in order.
        num_targets: how many leading values to differentiate with respect to.
        task: index of the output whose scores are differentiated.
        choose_class: maps the scores (NumPy) to one class index per sample.

    Returns:
        `(scores, class_index, gradients)`: NumPy scores `(batch, classes)`, the chosen
        classes `(batch,)`, and one gradient per feature map, shaped like it.
    """
    backend = keras.backend.backend()
    if backend not in _GRADIENTS:
        raise ValueError(
            f"keras_drifa.explain: gradients are implemented for {sorted(_GRADIENTS)}; the "
            f"Keras backend is '{backend}'."
        )
    return _GRADIENTS[backend](tail, values, num_targets, task, choose_class)
