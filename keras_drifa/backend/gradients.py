"""Gradients of a model's class scores with respect to intermediate feature maps (Grad-CAM),
with each backend's own automatic differentiation."""

import keras
import numpy as np

from keras_drifa.backend.compilation import as_list, jax_function, jax_state, jax_write_back


def _tensorflow(tail, values, num_targets, task, choose_class):
    import tensorflow as tf

    values = [tf.convert_to_tensor(v) for v in values]
    features = values[:num_targets]
    with tf.GradientTape() as tape:
        tape.watch(features)
        scores = as_list(tail(values, training=False))[task]
        class_index = choose_class(scores.numpy())
        chosen = tf.reduce_sum(tf.gather(scores, class_index[:, None], batch_dims=1))
    gradients = tape.gradient(
        chosen, features, unconnected_gradients=tf.UnconnectedGradients.ZERO
    )
    return scores.numpy(), class_index, [g.numpy() for g in gradients]


def _jax(tail, values, num_targets, task, choose_class):
    import jax

    trainable, non_trainable = jax_state(tail)
    function = jax_function(tail)
    others = list(values[num_targets:])

    def task_scores(features):
        outputs, state = function(trainable, non_trainable, list(features) + others)
        return as_list(outputs)[task], state

    scores, pullback, state = jax.vjp(task_scores, list(values[:num_targets]), has_aux=True)
    class_index = choose_class(np.asarray(scores))
    (gradients,) = pullback(jax.nn.one_hot(class_index, scores.shape[-1], dtype=scores.dtype))
    jax_write_back(tail, state)
    return np.asarray(scores), class_index, [np.asarray(g) for g in gradients]


def _torch(tail, values, num_targets, task, choose_class):
    import torch

    values = [keras.ops.convert_to_tensor(v) for v in values]
    features = [v.detach().clone().requires_grad_(True) for v in values[:num_targets]]
    with torch.enable_grad():
        scores = as_list(tail(features + values[num_targets:], training=False))[task]
        class_index = choose_class(scores.detach().float().cpu().numpy())
        index = torch.as_tensor(class_index, device=scores.device)[:, None]
        chosen = scores.gather(1, index).sum()
        gradients = torch.autograd.grad(chosen, features, allow_unused=True)
    # NumPy has no bfloat16: under `mixed_bfloat16` torch's `.numpy()` raises, so values
    # leave torch as float32.
    gradients = [
        np.zeros(tuple(f.shape), np.float32) if g is None else g.detach().float().cpu().numpy()
        for f, g in zip(features, gradients)
    ]
    return scores.detach().float().cpu().numpy(), class_index, gradients


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
