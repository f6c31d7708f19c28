"""Running a model outside `fit`: compiled where op-by-op execution is slow, and whether a
value can be inspected or is traced inside a compiled function."""

import keras


def compiled(model, key, make):
    """A compiled function of `model`, made once by `make()` and cached on the model past
    Keras' attribute tracking (not part of the model's state, config or saved files)."""
    cache = model.__dict__.get("_keras_drifa_compiled")
    if cache is None:
        cache = {}
        object.__setattr__(model, "_keras_drifa_compiled", cache)
    if key not in cache:
        cache[key] = make()
    return cache[key]


def jax_function(model, training=False):
    """`model.stateless_call`, compiled with `jax.jit` once per model and mode."""
    import jax

    return compiled(
        model,
        ("jax", training),
        lambda: jax.jit(
            lambda trainable, non_trainable, inputs: model.stateless_call(
                trainable, non_trainable, inputs, training=training
            )
        ),
    )


def jax_state(model):
    """`(trainable, non_trainable)` values of `model`, the state `jax_function` takes."""
    return (
        [v.value for v in model.trainable_variables],
        [v.value for v in model.non_trainable_variables],
    )


def jax_write_back(model, non_trainable):
    """Assigns the non-trainable state returned by `jax_function` to `model`."""
    for variable, value in zip(model.non_trainable_variables, non_trainable):
        variable.assign(value)


def as_list(outputs):
    """A model's outputs as a list: a functional model built with a one-element output
    list returns a bare tensor."""
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
        trainable, non_trainable = jax_state(model)
        outputs, non_trainable = jax_function(model, training)(trainable, non_trainable, inputs)
        jax_write_back(model, non_trainable)
    elif backend == "torch":
        import torch

        with torch.no_grad():
            outputs = model(inputs, training=training)
    elif training:
        import tensorflow as tf

        function = compiled(
            model, ("tensorflow", True),
            lambda: tf.function(lambda values: model(values, training=True)),
        )
        outputs = function(inputs)
    else:
        outputs = model(inputs, training=False)
    return [keras.ops.convert_to_numpy(o) for o in as_list(outputs)]


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
