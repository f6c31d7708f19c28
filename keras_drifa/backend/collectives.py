"""Sums across replicas, the three engines side by side.

The only collective the layers need: a differentiable sum of a tensor over every replica
of a data-parallel step (for synchronised batch-norm statistics). Each engine has its own:

- JAX (`keras.distribution`): nothing to do. A jitted step over a batch sharded across
  devices and processes computes `ops.sum` and `ops.mean` over the global batch already.
- TensorFlow (`tf.distribute`): `all_reduce` of the replica context, when one with
  several replicas is active.
- PyTorch (`torch.distributed`): the autograd-aware `all_reduce` of
  `torch.distributed.nn`, when a process group of several ranks is initialised.
"""

import keras


def _tensorflow(x):
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return x
    return context.all_reduce(tf.distribute.ReduceOp.SUM, x)


def _torch(x):
    import torch.distributed as dist

    if not dist.is_available() or not dist.is_initialized() or dist.get_world_size() == 1:
        return x
    from torch.distributed.nn.functional import all_reduce

    return all_reduce(x, op=dist.ReduceOp.SUM)


def cross_replica_sum(x):
    """`x` summed over the replicas of the current data-parallel step; `x` on one replica.

    Differentiable: the gradient of the sum flows back to every replica's `x`.
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        return _tensorflow(x)
    if backend == "torch":
        return _torch(x)
    return x
