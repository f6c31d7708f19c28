"""`FusedAdam`: Keras's Adam, updating each weight in one pass on TensorFlow and PyTorch."""

import keras
from keras import ops

from keras_drifa import _checks
from keras_drifa.backend import optimizers as backend_optimizers


@keras.saving.register_keras_serializable(package="keras_drifa")
class FusedAdam(keras.optimizers.Optimizer):
    """Adam with Keras's formula and arguments, each weight updated in one fused kernel.

    `keras.optimizers.Adam` updates a weight in about ten element-wise operations. JAX's
    XLA fuses them into one pass; TensorFlow and PyTorch run them one by one, each a pass
    over the weight and its two moments. DRIFA-Net has 54M parameters at small feature
    maps, so on a CPU that update is a large share of a training step: 177 ms on
    TensorFlow and 510 ms on PyTorch, against 69 and 59 ms with the backends' fused
    kernels (`tf.raw_ops.ResourceApplyAdam`, whose formula Keras's is; PyTorch's
    `torch.optim.adam.adam(..., fused=True)`), measured on a 2-core CPU by
    `benchmarks/train_step.py --measure optimizer` (README, "Performance").

    Same numbers as `keras.optimizers.Adam` with the same arguments, up to float rounding
    (a test compares them step by step on every backend), and the same arguments,
    including the base optimizer's (`weight_decay`, `clipnorm`, `use_ema`,
    `gradient_accumulation_steps`, ...), which work as in any Keras optimizer. Where no
    fused kernel applies, the update is Keras's element-wise one: on JAX (XLA fuses it),
    under a TensorFlow distribution strategy, with `amsgrad=True` on TensorFlow, and for
    weights other than float32 and float64 on PyTorch. The gain is for large models: on
    PyTorch each weight tensor costs a fixed call, and a tiny model (27,498 parameters)
    trained slightly slower (0.94x) than with Keras's Adam.

    Args:
        learning_rate: a float, a `keras.optimizers.schedules.LearningRateSchedule`, or a
            callable returning the rate. Default 0.001.
        beta_1: decay rate of the first moment estimates, in [0, 1). Default 0.9.
        beta_2: decay rate of the second moment estimates, in [0, 1). Default 0.999.
        epsilon: added to the root of the second moment, >= 0. Default 1e-7.
        amsgrad: whether to use the AMSGrad variant. Default `False`.
        **kwargs: the base optimizer's arguments (`name`, `weight_decay`, `clipnorm`,
            `clipvalue`, `global_clipnorm`, `use_ema`, `ema_momentum`,
            `ema_overwrite_frequency`, `loss_scale_factor`,
            `gradient_accumulation_steps`).

    Example:

    ```python
    import keras_drifa
    from keras_drifa.optimizers import FusedAdam

    model = keras_drifa.build_model(modalities=2, num_classes=(5, 7),
                                    input_shape=(32, 32, 3), widths=(8, 16),
                                    blocks_per_stage=(1, 1))
    model.compile(optimizer=FusedAdam(1e-3), loss="categorical_crossentropy")
    ```
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, name="fused_adam", **kwargs):
        where = "FusedAdam"
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.beta_1 = _checks.number(where, "beta_1", beta_1, 0, 1, open_high=True)
        self.beta_2 = _checks.number(where, "beta_2", beta_2, 0, 1, open_high=True)
        self.epsilon = _checks.number(where, "epsilon", epsilon, 0)
        self.amsgrad = _checks.boolean(where, "amsgrad", amsgrad)
        # The step's scalars, per dtype, while `apply` runs (see `apply`).
        self._step_scalars = None

    def build(self, var_list):
        """Creates the moments of every weight in `var_list` (and the maxima of the
        second moments with AMSGrad)."""
        if self.built:
            return
        super().build(var_list)
        self._slots = {}
        for variable in var_list:
            moments = (
                self.add_variable_from_reference(variable, "momentum"),
                self.add_variable_from_reference(variable, "velocity"),
                self.add_variable_from_reference(variable, "velocity_hat")
                if self.amsgrad else None,
            )
            for key in backend_optimizers.variable_keys(variable):
                self._slots[key] = moments

    def apply(self, grads, trainable_variables=None):
        """Keras's `apply`, with the step's scalars (step size, the betas' powers) computed
        once for all weights of a dtype, rather than once per weight."""
        self._step_scalars = {}
        try:
            return super().apply(grads, trainable_variables)
        finally:
            self._step_scalars = None

    def update_step(self, gradient, variable, learning_rate):
        """Applies Adam's update to `variable` (Keras's `Adam.update_step`, fused where the
        backend has a kernel for it)."""
        m, v, v_hat = self._slots[id(variable)]
        if backend_optimizers.fused_adam_update(
            self, variable, gradient, m, v, v_hat, learning_rate,
            scalars=self._step_scalars,
        ):
            return
        dtype = variable.dtype
        lr = ops.cast(learning_rate, dtype)
        gradient = ops.cast(gradient, dtype)
        local_step = ops.cast(self.iterations + 1, dtype)
        beta_1_power = ops.power(ops.cast(self.beta_1, dtype), local_step)
        beta_2_power = ops.power(ops.cast(self.beta_2, dtype), local_step)
        alpha = lr * ops.sqrt(1 - beta_2_power) / (1 - beta_1_power)
        self.assign_add(m, ops.multiply(ops.subtract(gradient, m), 1 - self.beta_1))
        self.assign_add(v, ops.multiply(ops.subtract(ops.square(gradient), v), 1 - self.beta_2))
        if v_hat is not None:
            self.assign(v_hat, ops.maximum(v_hat, v))
            v = v_hat
        self.assign_sub(
            variable, ops.divide(ops.multiply(m, alpha), ops.add(ops.sqrt(v), self.epsilon))
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            beta_1=self.beta_1, beta_2=self.beta_2, epsilon=self.epsilon, amsgrad=self.amsgrad
        )
        return config
