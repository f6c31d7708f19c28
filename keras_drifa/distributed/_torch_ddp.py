"""PyTorch: `DistributedDataParallel` inside Keras's own `fit`.

Keras 3.15's PyTorch trainer has no data-parallel mode (upstream merged one in 2026-07,
keras-team/keras#23316, unreleased), and its guide wraps the model in
`torch.nn.parallel.DistributedDataParallel` in a hand-written loop. Here the wrapping
happens inside `fit` instead: the trainer's step calls `model(x, training=True)`, and for
a model with `DataParallelTraining` that call goes through a DDP wrapper created at the
first training step. DDP then broadcasts rank 0's weights (so every rank starts alike)
and averages the gradients over the ranks during `backward`, before Keras's optimizer
applies them. Every other call (inference, symbolic graph building, calls without
gradients) goes straight to the model.

Logs are per rank in Keras; `fit` on a model with `DataParallelTraining` therefore puts
`ReduceLogsAcrossRanks` first among the callbacks, so that every rank's callbacks
(`ReduceLROnPlateau`, `EarlyStopping`, checkpoints) see the same, global numbers and take
the same decisions.
"""

import keras

from keras_drifa.distributed import cluster as _cluster


def _active():
    """The torch `Cluster` of a run over several ranks, else `None`."""
    current = _cluster.current()
    if current is None or current.backend != "torch" or current.num_processes == 1:
        return None
    return current


_steps_inside = 0  # DDP training calls under way in this process (nested: 0 or 1)


def rank_in_step():
    """This process's rank while a DDP training step runs its forward pass, else `None`."""
    if _steps_inside == 0:
        return None
    import torch.distributed as dist

    return dist.get_rank()


class ReduceLogsAcrossRanks(keras.callbacks.Callback):
    """Replaces each epoch's logs by their mean over the ranks, in place, on every rank.

    With shards of equal size (`MultimodalDataset(shard=...)` makes them so) the mean of
    the ranks' epoch means of a loss or a mean metric is the mean over the global epoch.
    Metrics that are not means of per-example values (an AUC) are approximated.
    """

    def on_epoch_end(self, epoch, logs=None):
        if logs and _active() is not None:
            logs.update(all_reduce_mean(logs))

    def on_test_end(self, logs=None):
        if logs and _active() is not None:
            logs.update(all_reduce_mean(logs))


def all_reduce_mean(values):
    """`{name: float}` averaged over the ranks (the same names on every rank)."""
    import torch
    import torch.distributed as dist

    names = sorted(k for k, v in values.items() if isinstance(v, (int, float)) or hasattr(v, "item"))
    tensor = torch.tensor([float(values[k]) for k in names], dtype=torch.float64)
    if dist.get_backend() == "nccl":
        tensor = tensor.cuda()
    dist.all_reduce(tensor)
    tensor = (tensor / dist.get_world_size()).cpu()
    return dict(zip(names, tensor.tolist()))


class DataParallelTraining:
    """Mixin for `keras.Model` subclasses: DDP training steps under `torch.distributed`.

    Does nothing unless the backend is PyTorch and `keras_drifa.distributed.setup()` has
    joined a process group of several ranks; one rule holds on every engine: with several
    processes `fit` defaults to `shuffle=False` (see `fit`).
    """

    def __call__(self, *args, **kwargs):
        wrapper = self._data_parallel_wrapper(kwargs)
        if wrapper is None:
            return super().__call__(*args, **kwargs)
        global _steps_inside
        state = self.__dict__["_keras_drifa_ddp_state"]
        state["inside"] = True
        _steps_inside += 1
        try:
            return wrapper(*args, **kwargs)
        finally:
            state["inside"] = False
            _steps_inside -= 1

    def _data_parallel_wrapper(self, kwargs):
        if not kwargs.get("training") or _active() is None:
            return None
        import torch

        if not torch.is_grad_enabled():
            return None
        state = self.__dict__.get("_keras_drifa_ddp_state")
        if state is None:
            state = {"inside": False, "wrapper": None}
            # Past Keras's attribute tracking: not a sublayer, not saved.
            object.__setattr__(self, "_keras_drifa_ddp_state", state)
        if state["inside"]:
            return None
        if state["wrapper"] is None:
            from torch.nn.parallel import DistributedDataParallel

            # Buffers: Keras keeps batch-norm statistics as parameters without gradients,
            # which DDP does not touch after the first broadcast; each rank keeps its own
            # unless the model uses SynchronizedBatchNormalization.
            state["wrapper"] = DistributedDataParallel(self, broadcast_buffers=False)
        return state["wrapper"]

    def fit(self, *args, **kwargs):
        current = _cluster.current()
        if current is not None and current.num_processes > 1 and len(args) < 10:
            # Keras shuffles the batch order with each process's own random state, so the
            # processes would feed parts of different global batches (and the smaller last
            # batch at different steps, which JAX refuses). A sharded MultimodalDataset
            # reshuffles alike on every process; arrays keep their order.
            kwargs.setdefault("shuffle", False)
        if _active() is not None:
            if len(args) > 5:  # callbacks given by position
                args = list(args)
                args[5] = [ReduceLogsAcrossRanks(), *(args[5] or [])]
            else:
                kwargs["callbacks"] = [ReduceLogsAcrossRanks(), *(kwargs.get("callbacks") or [])]
        return super().fit(*args, **kwargs)

    def evaluate(self, *args, **kwargs):
        # Within `fit`, validation gets fit's CallbackList, which holds the reduction.
        if _active() is not None and not isinstance(
            kwargs.get("callbacks"), keras.callbacks.CallbackList
        ):
            kwargs["callbacks"] = [ReduceLogsAcrossRanks(), *(kwargs.get("callbacks") or [])]
        return super().evaluate(*args, **kwargs)
