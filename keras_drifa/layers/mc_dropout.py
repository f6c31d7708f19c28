"""Monte Carlo dropout whose sampling can be switched on at inference time."""

import keras
from keras import ops

from keras_drifa import _checks
from keras_drifa.backend import dropout as backend_dropout

MC_DROPOUT_MODES = ("on_demand", "always")


@keras.saving.register_keras_serializable(package="keras_drifa")
class MCDropout(keras.layers.Layer):
    """Dropout that stays available at inference, for Monte Carlo uncertainty.

    In training it is ordinary dropout. At inference it depends on `mode`:

    - `"on_demand"` (default): the identity, unless sampling is switched on with
      `keras_drifa.mc_sampling(model)`. The switch is layer state that compiled predict
      functions read at run time on every backend, so it reaches functions that were
      compiled before it was flipped. Batch normalisation stays in inference mode.
    - `"always"`: dropout at every call, as in the authors' code, where every `predict`
      and `evaluate` is a random sample.

    Args:
        rate: fraction of units to drop, in [0, 1).
        mode: `"on_demand"` or `"always"`.
        seed: optional integer seed for the dropout masks.
        **kwargs: standard layer arguments (`name`, `dtype`, ...).

    Input shape: any. Output shape: same as the input.

    Example:

    >>> import numpy as np
    >>> import keras, keras_drifa
    >>> inputs = keras.Input((4,))
    >>> model = keras.Model(inputs, MCDropout(0.5)(inputs))
    >>> x = np.ones((1, 4), "float32")
    >>> bool((model.predict(x, verbose=0) == x).all())   # deterministic by default
    True
    >>> with keras_drifa.mc_sampling(model):
    ...     sample = model.predict(x, verbose=0)          # entries are 0 or 2
    >>> sorted(set(sample.ravel().tolist())) in ([0.0], [0.0, 2.0], [2.0])
    True
    """

    def __init__(self, rate, mode="on_demand", seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = _checks.number("MCDropout", "rate", rate, 0, 1, open_high=True)
        self.mode = _checks.choice("MCDropout", "mode", mode, MC_DROPOUT_MODES)
        self.seed = _checks.seed("MCDropout", seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed)
        # The run-time switch: compiled train, test and predict functions take every
        # SeedGenerator's state as an input on all backends, and Keras keeps those states
        # out of `weights`, parameter counts and saved files. So the flag is held as the
        # first entry of a generator's state (1: sampling on) and never used as a seed.
        self.sampling_switch = keras.random.SeedGenerator(0, name="sampling_switch")
        self.supports_masking = True
        self.built = True

    @property
    def sampling(self):
        """Whether MC sampling is currently switched on for this layer."""
        return bool(ops.convert_to_numpy(self.sampling_switch.state)[0] > 0)

    def set_sampling(self, enabled):
        """Switches MC sampling at inference on or off (prefer `keras_drifa.mc_sampling`)."""
        state = self.sampling_switch.state
        state.assign(ops.convert_to_tensor([1 if enabled else 0, 0], dtype=state.dtype))

    def call(self, inputs, training=False):
        if self.rate == 0:
            return inputs
        if training or self.mode == "always":
            return backend_dropout.dropout(inputs, self.rate, self.seed_generator)
        return backend_dropout.dropout_if(
            self.sampling_switch.state[0] > 0, inputs, self.rate, self.seed_generator
        )

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"rate": self.rate, "mode": self.mode, "seed": self.seed})
        return config
