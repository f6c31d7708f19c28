"""Training on several devices or machines, on each backend's own data-parallel engine.

- JAX: `keras.distribution.DataParallel` (one host or several).
- TensorFlow: `tf.distribute.MirroredStrategy` (one machine).
- PyTorch: `torch.distributed` with `DistributedDataParallel` inside `fit`, launched by
  `torchrun` (one machine or several).

The training script is the same on every engine: `cluster = setup()` first, models built
and compiled under `cluster.scope()`, data sharded by `cluster.data_shard`. See README,
"Training on several devices or machines", and `examples/distributed_training.py`.
"""

from keras_drifa.distributed.cluster import ENGINES, Cluster, current, is_chief, setup
from keras_drifa.distributed.layouts import last_stage_layout_map

__all__ = ["ENGINES", "Cluster", "current", "is_chief", "last_stage_layout_map", "setup"]
