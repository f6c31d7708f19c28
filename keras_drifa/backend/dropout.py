"""Dropout masks on every backend: per replica in data-parallel steps, and drawn only when
MC dropout is on."""

import keras
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
        return _tensorflow_dropout(inputs, rate, seed_generator.next())
    if keras.backend.backend() == "torch":
        from keras_drifa.distributed import _torch_ddp

        rank = _torch_ddp.rank_in_step()
        if rank is not None:
            drawn = int(ops.convert_to_numpy(seed_generator.next())[0])
            return keras.random.dropout(inputs, rate, seed=(drawn + rank) % 2**31)
    return keras.random.dropout(inputs, rate, seed=seed_generator)


def _tensorflow_dropout(inputs, rate, seed):
    """Dropout with a seed drawn from a `SeedGenerator`, folded with the replica's index
    in a `MirroredStrategy` step of several replicas; on one replica the mask of
    `keras.random.dropout` with that generator (which casts the seed the same way, but
    takes no drawn seed)."""
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    if context is not None and context.num_replicas_in_sync > 1:
        seed = tf.random.experimental.stateless_fold_in(
            tf.cast(seed, "int32"), context.replica_id_in_sync_group
        )
    else:
        seed = tf.cast(tf.math.floormod(seed, tf.int32.max - 1), "int32")
    return tf.nn.experimental.stateless_dropout(inputs, rate=rate, seed=seed)


def dropout_if(condition, inputs, rate, seed_generator):
    """`keras.random.dropout(inputs, rate)` where the scalar `condition` holds, else `inputs`.

    The dropout mask is drawn only when `condition` holds (`ops.cond`), so deterministic
    inference does no random work and, on PyTorch, leaves the global generator (which
    unseeded dropout draws from) alone. A `SeedGenerator` advances its state when drawing;
    neither `jax.lax.cond` nor a TensorFlow `cond` branch under a `keras.StatelessScope`
    (as in a `stateless_call` inside a `tf.function`) can carry that state update out of a
    branch, so on JAX and TensorFlow the seed is drawn before the branch (the generator
    then advances on every call, which is invisible: its state is not saved).
    """
    if keras.backend.backend() == "jax":
        seed = seed_generator.next()
        draw = lambda: keras.random.dropout(inputs, rate, seed=seed)  # noqa: E731
    elif keras.backend.backend() == "tensorflow":
        seed = seed_generator.next()
        draw = lambda: _tensorflow_dropout(inputs, rate, seed)  # noqa: E731
    else:
        draw = lambda: dropout(inputs, rate, seed_generator)  # noqa: E731
    return ops.cond(condition, draw, lambda: inputs)
