"""Adam's update as one kernel per weight tensor, where the backend has one
(`keras_drifa.optimizers.FusedAdam`, whose docstring says why and how much).

TensorFlow: `tf.raw_ops.ResourceApplyAdam`, whose formula Keras's Adam is. PyTorch: the
functional `torch.optim.adam.adam(..., fused=True)`. JAX has none to add: XLA fuses Keras's
element-wise update.
"""

import keras
import numpy as np

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


def fused_adam_update(optimizer, variable, gradient, m, v, v_hat, learning_rate, scalars=None):
    """Applies `optimizer`'s Adam update to `variable` in one kernel, if the backend has one.

    The update of `keras.optimizers.Adam.update_step`: the moments' updates, then
    `variable -= alpha * m / (sqrt(v) + epsilon)` with `alpha = learning_rate *
    sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t)` at step `t = iterations + 1`; `v_hat`
    (AMSGrad) is `None` or the running maximum of `v`, used in its place.

    Args:
        optimizer: the optimizer (its `iterations`, `beta_1`, `beta_2`, `epsilon`; the
            betas and epsilon are Python floats).
        variable: the weight as `update_step` receives it (a Keras variable, or its
            `tf.Variable` on TensorFlow).
        gradient: its gradient.
        m, v, v_hat: the optimizer's Keras variables for it (`v_hat` may be `None`).
        learning_rate: the current learning rate (a tensor).
        scalars: a dict that holds the step's scalars (the step size, the betas' powers)
            for the other weights of one update, or `None`. They are the same for every
            weight of a dtype, so one update computes them once per dtype: on TensorFlow
            a traced update is then one kernel call per weight instead of 19 graph
            operations, which halves the optimizer's share of the first step.

    Returns:
        Whether the update was applied: `False` on JAX (XLA fuses Keras's update itself),
        under a TensorFlow distribution strategy, with AMSGrad on TensorFlow (which has
        no fused kernel for it), and for dtypes the kernels do not take; the caller then
        applies Keras's element-wise update.
    """
    backend = keras.backend.backend()
    scalars = {} if scalars is None else scalars
    if backend == "torch":
        return _torch_fused_adam(optimizer, variable, gradient, m, v, v_hat, learning_rate,
                                 scalars)
    if backend == "tensorflow":
        return _tensorflow_apply_adam(optimizer, variable, gradient, m, v, v_hat,
                                      learning_rate, scalars)
    return False


def _torch_fused_adam(optimizer, variable, gradient, m, v, v_hat, learning_rate, scalars):
    import torch
    from torch.optim.adam import adam

    weight = variable.value
    slots = [m.value, v.value] + ([] if v_hat is None else [v_hat.value])
    if weight.dtype not in (torch.float32, torch.float64) or any(
        t.dtype != weight.dtype or t.device != weight.device for t in (gradient, *slots)
    ):
        return False
    on_host = weight.device.type == "cpu"
    key = (weight.dtype, weight.device)
    if key not in scalars:
        scalars[key] = (
            torch_step_size(optimizer, learning_rate, weight, on_host=on_host),
            torch.full((), _NO_BIAS_CORRECTION_STEP, dtype=torch.float32,
                       device=weight.device),
        )
    alpha, state_step = scalars[key]
    with torch.no_grad():
        adam(
            [weight], [gradient], [slots[0]], [slots[1]], slots[2:], [state_step],
            fused=True, lr=alpha, beta1=optimizer.beta_1, beta2=optimizer.beta_2,
            weight_decay=0.0, eps=optimizer.epsilon, amsgrad=v_hat is not None,
            maximize=False,
        )
    return True


def torch_step_size(optimizer, learning_rate, weight, on_host):
    """PyTorch: Adam's `alpha = learning_rate * sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t)` at
    step `t = iterations + 1`, as a Python float (`on_host`) or a scalar tensor on the
    weight's device. On a CPU, reading the step and the rate costs nothing, where a dozen
    small tensor operations per weight (Keras's way) cost 50 ms per DRIFA-Net step; on an
    accelerator, reading them would wait for the device."""
    import torch

    iterations = keras.ops.convert_to_tensor(optimizer.iterations)
    if on_host:
        # In the weight's precision, as Keras computes it (float32 rounds beta_2 = 0.999
        # by 1.3e-5 relative in 1 - beta_2).
        real = np.dtype(str(weight.dtype).removeprefix("torch."))
        step = real.type(float(iterations) + 1)
        beta_1, beta_2 = real.type(optimizer.beta_1), real.type(optimizer.beta_2)
        rate = real.type(float(learning_rate))
        return float(rate * np.sqrt(1 - beta_2**step) / (1 - beta_1**step))
    step = iterations.to(weight.dtype) + 1
    beta_1, beta_2 = (torch.tensor(b, dtype=weight.dtype, device=weight.device)
                      for b in (optimizer.beta_1, optimizer.beta_2))
    rate = torch.as_tensor(learning_rate, dtype=weight.dtype, device=weight.device)
    return (rate * torch.sqrt(1 - beta_2**step) / (1 - beta_1**step)).reshape(())


def _tensorflow_apply_adam(optimizer, variable, gradient, m, v, v_hat, learning_rate, scalars):
    import tensorflow as tf

    if v_hat is not None or tf.distribute.has_strategy():
        return False
    weight = variable.value if isinstance(variable, keras.Variable) else variable
    dtype = weight.dtype
    if dtype not in (tf.float16, tf.float32, tf.float64) or gradient.dtype != dtype:
        return False
    # Tensors of one graph serve that graph only (a branch of a `cond` is a graph of its
    # own).
    key = (dtype, tf.compat.v1.get_default_graph())
    if key not in scalars:
        step = tf.cast(optimizer.iterations + 1, dtype)
        scalars[key] = dict(
            beta1_power=tf.pow(tf.constant(optimizer.beta_1, dtype), step),
            beta2_power=tf.pow(tf.constant(optimizer.beta_2, dtype), step),
            lr=tf.cast(learning_rate, dtype), beta1=tf.constant(optimizer.beta_1, dtype),
            beta2=tf.constant(optimizer.beta_2, dtype),
            epsilon=tf.constant(optimizer.epsilon, dtype),
        )
    tf.raw_ops.ResourceApplyAdam(
        var=weight.handle, m=m.value.handle, v=v.value.handle, grad=gradient,
        **scalars[key],
    )
    return True
