"""What training a compiled model needs on one backend: TensorFlow's training state before
the first trace, PyTorch's parameters of sub-models, and the compiled functions and
gradients of an ensemble's member-loop train step (JAX, TensorFlow)."""

import keras
import numpy as np


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
    from keras import tree

    # One example of zeros per output: only the structure and the shapes matter.
    y = tree.map_structure(
        lambda t: np.zeros((1,) + tuple(t.shape[1:]), keras.backend.standardize_dtype(t.dtype)),
        outputs,
    )
    if model.loss is not None:
        # Its per-output loss trackers (a model compiled without a loss has none).
        model.compute_loss(x=None, y=y, y_pred=y)
    model.compute_metrics(x=None, y=y, y_pred=y, sample_weight=None)
    if model.optimizer is not None and not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    model.reset_metrics()


def track_submodels(model, submodels):
    """PyTorch: makes every variable of `submodels` a parameter of `model`.

    Keras's PyTorch layers keep their variables in one `torch.nn.ParameterDict` keyed by
    variable path. Models built by the same function (an ensemble's members) share their
    paths, so only the last one's variables would be parameters of `model`: the others
    would miss `zero_grad()` (their gradients would add up from step to step) and
    `DistributedDataParallel`'s gradient averaging. Registering each as a submodule of
    its own reaches them all (`parameters()` drops the duplicates). A no-op elsewhere.
    """
    if keras.backend.backend() != "torch":
        return
    import torch

    for index, submodel in enumerate(submodels):
        torch.nn.Module.add_module(model, f"keras_drifa_submodel_{index}", submodel)


def member_loop_supported(model):
    """Whether an ensemble's train step may be a Python loop over compiled member steps
    (`keras_drifa.ensemble.training`) for `model`'s compile settings: compiled training on
    JAX (XLA) or TensorFlow (a graph), without a distribution. PyTorch compiles nothing by
    default, so it has nothing to save."""
    if model.run_eagerly or keras.distribution.distribution() is not None:
        return False
    if keras.backend.backend() == "jax":
        return bool(model.jit_compile)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return not tf.distribute.has_strategy() and (
            model.distribute_strategy is tf.distribute.get_strategy()
        )
    return False


def member_loop_by_default():
    """Whether the member loop trains ensembles unless told not to: on JAX, where it
    trained the paper model's ensembles as fast as Keras's step. On TensorFlow it trained
    at 0.79x to 0.93x, so it is there on request."""
    return keras.backend.backend() == "jax"


def functional_training_state():
    """Whether the train step takes and returns the training state as values (JAX), rather
    than updating the variables in place (TensorFlow)."""
    return keras.backend.backend() == "jax"


def compile_function(function, donate_argnums=(), jit_compile=False, batch_argnums=()):
    """`function` compiled on first call: `jax.jit` (donating `donate_argnums`; compiled
    once per argument shapes), or a `tf.function` (with XLA if `jit_compile`).

    TensorFlow traces it once, with the first dimension of every tensor in the arguments
    `batch_argnums` unknown, as Keras's own steps see a batch from a `tf.data` iterator:
    the last, smaller batch of an epoch then needs no second trace, and what Keras
    computes from a batch's static size (such as the weights of its per-output loss
    trackers, which it leaves out when the size is unknown) is what Keras's step
    computes. Later calls go to that trace directly (its concrete function): a
    `tf.function` call matches every argument against its traces first, which for a
    member's 500 weights cost 9 to 12 ms a call, against 2 ms. Arguments the trace does
    not take (another structure or dtype) go through the `tf.function`, which traces
    them anew."""
    if keras.backend.backend() == "jax":
        import jax

        return jax.jit(function, donate_argnums=donate_argnums)
    import tensorflow as tf

    traced = tf.function(function, reduce_retracing=True, jit_compile=bool(jit_compile))

    def any_batch(value):
        if isinstance(value, tf.Tensor) and value.shape.rank:
            return tf.TensorSpec([None] + value.shape.as_list()[1:], value.dtype)
        return value

    def call(*args):
        if call.concrete is None:
            call.concrete = traced.get_concrete_function(*[
                tf.nest.map_structure(any_batch, arg) if i in batch_argnums else arg
                for i, arg in enumerate(args)
            ])
        try:
            return call.concrete(*args)
        except TypeError:
            # The arguments do not bind to the first trace's signature.
            return traced(*args)

    call.concrete = None
    return call


def value_and_grad(function):
    """`function(trainable, *args) -> (value, aux)` made to return `((value, aux), grads)`,
    the gradients of `value` with respect to the list `trainable` (`jax.value_and_grad`
    with `has_aux`, or a `tf.GradientTape` watching `trainable`)."""
    if keras.backend.backend() == "jax":
        import jax

        return jax.value_and_grad(function, has_aux=True)
    import tensorflow as tf

    def value_and_grad(trainable, *args):
        with tf.GradientTape() as tape:
            tape.watch(trainable)
            value, aux = function(trainable, *args)
        return (value, aux), tape.gradient(value, trainable)

    return value_and_grad
