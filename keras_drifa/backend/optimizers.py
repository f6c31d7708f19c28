"""Adam's update as one kernel per weight tensor, where the backend has one.

Keras's Adam updates a weight in about ten element-wise operations, each a pass over the
weight, its moments and temporaries. XLA fuses them on JAX; TensorFlow (without XLA) and
PyTorch run them one by one: over DRIFA-Net's 54M parameters, 185 to 200 ms (TensorFlow)
and 290 to 540 ms (PyTorch, whose `_foreach` operations loop per tensor on a CPU) of a
training step of about a second. Both backends have a kernel doing the whole update in
one pass: `tf.raw_ops.ResourceApplyAdam` (Keras's formula, which came from it) and
PyTorch's functional `torch.optim.adam.adam(..., fused=True)` (60 and 42 ms;
`benchmarks/train_step.py --measure optimizer`).
"""

import keras

# Bias corrections `1 - beta ** step` are exactly 1 at this step count (the powers
# underflow), so PyTorch's fused Adam applies the step size it is given unchanged: the
# step size passed is Keras's, bias corrections included.
_NO_BIAS_CORRECTION_STEP = 1e9


def variable_keys(variable):
    """The ids under which an optimizer's `update_step` may receive `variable`: the Keras
    variable (PyTorch, JAX), its `tf.Variable` (TensorFlow), and each replica's copy of it
    under a TensorFlow distribution strategy."""
    keys = [id(variable)]
    if keras.backend.backend() == "tensorflow":
        value = variable.value
        keys.append(id(value))
        keys.extend(id(component) for component in getattr(value, "values", ()))
    return keys


def fused_adam_update(variable, gradient, m, v, v_hat, step_size, beta_1_power,
                      beta_2_power, beta_1, beta_2, epsilon, learning_rate):
    """Applies Keras's Adam update to `variable` in one kernel, if this backend has one.

    `variable -= step_size * m / (sqrt(v) + epsilon)` after the moments' updates, with
    `step_size = learning_rate * sqrt(1 - beta_2_power) / (1 - beta_1_power)`, as
    `keras.optimizers.Adam.update_step`; `v_hat` (AMSGrad) is `None` or the running
    maximum of `v`, used in its place.

    Args:
        variable: the weight as `update_step` receives it (a Keras variable, or its
            `tf.Variable` on TensorFlow).
        gradient: its gradient, in the weight's dtype.
        m, v, v_hat: the optimizer's Keras variables for it (`v_hat` may be `None`).
        step_size, beta_1_power, beta_2_power, learning_rate: tensors of the weight's
            dtype.
        beta_1, beta_2, epsilon: Python floats.

    Returns:
        Whether the update was applied: `False` on JAX (XLA fuses Keras's update itself),
        under a TensorFlow distribution strategy, with AMSGrad on TensorFlow (which has
        no fused kernel for it), and for dtypes the kernels do not take; the caller then
        applies Keras's element-wise update.
    """
    backend = keras.backend.backend()
    if backend == "torch":
        return _torch_fused_adam(variable, gradient, m, v, v_hat, step_size, beta_1,
                                 beta_2, epsilon)
    if backend == "tensorflow":
        return _tensorflow_apply_adam(variable, gradient, m, v, v_hat, beta_1_power,
                                      beta_2_power, beta_1, beta_2, epsilon, learning_rate)
    return False


def _torch_fused_adam(variable, gradient, m, v, v_hat, step_size, beta_1, beta_2, epsilon):
    import torch
    from torch.optim.adam import adam

    weight = variable.value
    slots = [m.value, v.value] + ([] if v_hat is None else [v_hat.value])
    tensors = [weight, gradient, *slots]
    if weight.dtype not in (torch.float32, torch.float64) or any(
        t.dtype != weight.dtype or t.device != weight.device for t in tensors
    ):
        return False
    step = torch.full((), _NO_BIAS_CORRECTION_STEP, dtype=torch.float32, device=weight.device)
    with torch.no_grad():
        adam(
            [weight], [gradient], [slots[0]], [slots[1]], slots[2:], [step], fused=True,
            lr=step_size.reshape(()), beta1=beta_1, beta2=beta_2, weight_decay=0.0,
            eps=epsilon, amsgrad=v_hat is not None, maximize=False,
        )
    return True


def _tensorflow_apply_adam(variable, gradient, m, v, v_hat, beta_1_power, beta_2_power,
                           beta_1, beta_2, epsilon, learning_rate):
    import tensorflow as tf

    if v_hat is not None or tf.distribute.has_strategy():
        return False
    weight = variable.value if isinstance(variable, keras.Variable) else variable
    if weight.dtype not in (tf.float16, tf.float32, tf.float64) or gradient.dtype != weight.dtype:
        return False
    dtype = weight.dtype
    tf.raw_ops.ResourceApplyAdam(
        var=weight.handle, m=m.value.handle, v=v.value.handle,
        beta1_power=beta_1_power, beta2_power=beta_2_power, lr=learning_rate,
        beta1=tf.constant(beta_1, dtype), beta2=tf.constant(beta_2, dtype),
        epsilon=tf.constant(epsilon, dtype), grad=gradient,
    )
    return True
