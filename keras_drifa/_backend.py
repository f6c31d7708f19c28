"""The backend-specific part of keras-drifa, the three backends side by side.

Everything else in the package is written with `keras.ops` and runs unchanged on
TensorFlow, JAX and PyTorch. What is here has no portable Keras API: a state update that
must happen outside `jax.lax.cond`, dropout masks of their own on each replica of a
TensorFlow `MirroredStrategy` step, TensorFlow's retracing, running a model without
recording gradients (compiled where op-by-op execution is slow), differentiating a model
output with respect to an intermediate tensor (Grad-CAM), and PyTorch's global random
generator, which unseeded dropout draws from.
"""

import keras
import numpy as np
from keras import ops


def dropout(inputs, rate, seed_generator):
    """`keras.random.dropout(inputs, rate, seed=seed_generator)`, with masks of its own on
    every replica of a TensorFlow `MirroredStrategy` step and every rank of a PyTorch
    `DistributedDataParallel` step.

    Keras keeps a `SeedGenerator`'s state in a variable without aggregation, which
    `tf.distribute` advances on each replica separately and alike: every replica would
    draw the same seed, and so the same mask for its part of the global batch. The
    replica's index is folded into the seed instead (`stateless_fold_in`). PyTorch ranks
    hold the same state too (DDP broadcasts it with the weights); inside a DDP training
    step the rank is added to the drawn seed. On one replica, on JAX (whose sharded step
    draws one mask for the global batch) and outside training steps (so inference on a
    rank's rows equals inference on one device), this is `keras.random.dropout`.
    """
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        context = tf.distribute.get_replica_context()
        if context is not None and context.num_replicas_in_sync > 1:
            seed = tf.random.experimental.stateless_fold_in(
                tf.cast(seed_generator.next(), "int32"), context.replica_id_in_sync_group
            )
            return tf.nn.experimental.stateless_dropout(inputs, rate=rate, seed=seed)
    elif keras.backend.backend() == "torch":
        from keras_drifa.distributed import _torch_ddp

        rank = _torch_ddp.rank_in_step()
        if rank is not None:
            drawn = int(ops.convert_to_numpy(seed_generator.next())[0])
            return keras.random.dropout(inputs, rate, seed=(drawn + rank) % 2**31)
    return keras.random.dropout(inputs, rate, seed=seed_generator)


def dropout_if(condition, inputs, rate, seed_generator):
    """`keras.random.dropout(inputs, rate)` where the scalar `condition` holds, else `inputs`.

    The dropout mask is drawn only when `condition` holds (`ops.cond`), so deterministic
    inference does no random work and, on PyTorch, leaves the global generator (which
    unseeded dropout draws from) alone. A `SeedGenerator` advances its state when drawing;
    `jax.lax.cond` cannot carry that state update out of a branch, so on JAX the seed is
    drawn before the branch (the generator then advances on every call, which is invisible:
    its state is not saved).
    """
    if keras.backend.backend() == "jax":
        seed = seed_generator.next()
        draw = lambda: keras.random.dropout(inputs, rate, seed=seed)  # noqa: E731
    else:
        draw = lambda: dropout(inputs, rate, seed_generator)  # noqa: E731
    return ops.cond(condition, draw, lambda: inputs)


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
    model.compute_loss(x=None, y=y, y_pred=y)
    model.compute_metrics(x=None, y=y, y_pred=y, sample_weight=None)
    if model.optimizer is not None and not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    model.reset_metrics()


def _compiled(model, key, make):
    """A compiled function of `model`, made once by `make()` and cached on the model past
    Keras' attribute tracking (not part of the model's state, config or saved files)."""
    cache = model.__dict__.get("_keras_drifa_compiled")
    if cache is None:
        cache = {}
        object.__setattr__(model, "_keras_drifa_compiled", cache)
    if key not in cache:
        cache[key] = make()
    return cache[key]


def _jax_function(model, training=False):
    """`model.stateless_call`, compiled with `jax.jit` once per model and mode."""
    import jax

    return _compiled(
        model,
        ("jax", training),
        lambda: jax.jit(
            lambda trainable, non_trainable, inputs: model.stateless_call(
                trainable, non_trainable, inputs, training=training
            )
        ),
    )


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


def forward(model, inputs, training=False):
    """`model(inputs)` without gradients, as a list of NumPy arrays.

    Compiled on JAX (`jax.jit`, once per model, mode and input shape) and on TensorFlow in
    training mode (`tf.function`), where op-by-op execution of a DRIFA-Net is slow; in
    training mode, batch normalisation updates its moving statistics as in `fit`.

    Args:
        model: a `keras.Model`.
        inputs: a list of input values, or a single value for a single-input model.
        training: run layers in training mode (batch statistics, dropout).
    """
    backend = keras.backend.backend()
    if backend == "jax":
        trainable, non_trainable = _jax_state(model)
        outputs, non_trainable = _jax_function(model, training)(trainable, non_trainable, inputs)
        _jax_write_back(model, non_trainable)
    elif backend == "torch":
        import torch

        with torch.no_grad():
            outputs = model(inputs, training=training)
    elif training:
        import tensorflow as tf

        function = _compiled(
            model, ("tensorflow", True),
            lambda: tf.function(lambda values: model(values, training=True)),
        )
        outputs = function(inputs)
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


def seed_global_rng(seed):
    """Seeds the generator that unseeded dropout draws from: PyTorch's global one (the other
    backends draw unseeded masks from Keras seed states)."""
    if keras.backend.backend() == "torch":
        import torch

        torch.manual_seed(seed)


def isolated_rng():
    """A context that restores PyTorch's global generator afterwards (a no-op elsewhere)."""
    if keras.backend.backend() == "torch":
        import torch

        return torch.random.fork_rng()
    import contextlib

    return contextlib.nullcontext()


def global_rng_state():
    """The state of the generator that unseeded dropout draws from, as a uint8 array:
    PyTorch's global CPU generator (and, where CUDA is in use, the current device's);
    `None` on the other backends, whose masks come from Keras seed states."""
    if keras.backend.backend() != "torch":
        return None
    import torch

    states = [torch.get_rng_state()]
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states.append(torch.cuda.get_rng_state())
    return np.concatenate([s.numpy() for s in states])


def set_global_rng_state(state):
    """Restores a `global_rng_state()` (a no-op for `None` or on other backends)."""
    if state is None or keras.backend.backend() != "torch":
        return
    import torch

    cpu = torch.get_rng_state().numel()
    torch.set_rng_state(torch.from_numpy(np.asarray(state[:cpu], dtype=np.uint8)))
    if len(state) > cpu and torch.cuda.is_available():
        torch.cuda.set_rng_state(torch.from_numpy(np.asarray(state[cpu:], dtype=np.uint8)))


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


def concrete_value(tensor):
    """`tensor` as a NumPy array when its value is known (eager execution), `None` while it
    is traced inside a compiled function (`tf.function`, `jax.jit`, `torch.compile`),
    where a value cannot be inspected."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        if not tf.executing_eagerly() or tf.is_symbolic_tensor(tensor):
            return None
    elif backend == "jax":
        import jax

        if isinstance(tensor, jax.core.Tracer):
            return None
    elif backend == "torch":
        import torch

        # Keras infers shapes by running on the "meta" device, which holds no values.
        if torch.compiler.is_compiling() or (
            isinstance(tensor, torch.Tensor) and tensor.device.type == "meta"
        ):
            return None
    return keras.ops.convert_to_numpy(tensor)
