"""The backend-specific part of keras-drifa, the three backends side by side.

Everything else in the package is written with `keras.ops` and runs unchanged on
TensorFlow, JAX and PyTorch. What is here has no portable Keras API.
"""

import keras
from keras import ops


def dropout_if(condition, inputs, rate, seed_generator):
    """`keras.random.dropout(inputs, rate)` where the scalar `condition` holds, else `inputs`.

    The dropout mask is drawn only when `condition` holds (`ops.cond`), so deterministic
    inference does no random work and, on PyTorch, leaves the global generator (which
    unseeded dropout draws from) alone. A `SeedGenerator` advances its state when drawing;
    `jax.lax.cond` cannot carry that state update out of a branch, so on JAX the seed is
    drawn before the branch (the generator then advances on every call, which is invisible:
    its state is not saved).
    """
    seed = seed_generator.next() if keras.backend.backend() == "jax" else seed_generator
    return ops.cond(
        condition, lambda: keras.random.dropout(inputs, rate, seed=seed), lambda: inputs
    )


def build_training_state(model, outputs):
    """Creates the variables a compiled model's train function would create on first use.

    TensorFlow's `tf.function` traces a function twice when its first trace creates
    variables, and Keras (without a distribution strategy) defers creating the optimizer's,
    the loss trackers' and the metrics' variables to the first trace of the train
    function: for DRIFA-Net that doubles the time to the first training step. Creating
    them here, once, right after `compile`, gives one trace. The JAX and PyTorch trainers
    create them before tracing already, so this is TensorFlow only.

    Args:
        model: a compiled `keras.Model`.
        outputs: the structure of the model's outputs (symbolic tensors), as `fit` sees
            them.
    """
    if keras.backend.backend() != "tensorflow":
        return
    import numpy as np

    from keras import tree

    # One example of zeros per output: only the structure and the shapes matter.
    y = tree.map_structure(
        lambda t: np.zeros((1,) + tuple(t.shape[1:]), keras.backend.standardize_dtype(t.dtype)),
        outputs,
    )
    model.compute_loss(x=None, y=y, y_pred=y)
    model.compute_metrics(x=None, y=y, y_pred=y, sample_weight=None)
    if model.optimizer is not None and not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    model.reset_metrics()
