"""`MCDropoutEnsemble`: Monte Carlo dropout models trained together and sampled fast.

- `model`: the `MCDropoutEnsemble` model (training, prediction, saving).
- `members`: building the members, checking them and matching them by name.
- `sampling`: the fast Monte Carlo sampler (a deterministic prefix run once per batch, the
  rest run on it for many samples per call).
- `training`: the JAX train step that compiles one member's forward and backward pass
  once for all members.
"""

from keras_drifa.ensemble.model import DEFAULT_BATCH_SIZE, MCDropoutEnsemble
from keras_drifa.ensemble.sampling import (
    FEATURE_BYTES_PER_CALL,
    sampling_model,
    split_at_mc_dropout,
)

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "FEATURE_BYTES_PER_CALL",
    "MCDropoutEnsemble",
    "sampling_model",
    "split_at_mc_dropout",
]
