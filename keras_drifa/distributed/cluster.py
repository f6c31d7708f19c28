"""`setup()` and `Cluster`: the data-parallel engine of the current backend, ready to train.

One call per process, before any model is built, picks the engine that Keras supports on
the current backend and reports where this process stands:

- JAX: `keras.distribution.DataParallel` over every device of every process; several
  processes (hosts) join through `keras.distribution.initialize`, whose coordinator
  address, process count and index come from the arguments or from Keras's environment
  variables `KERAS_DISTRIBUTION_JOB_ADDRESSES`, `KERAS_DISTRIBUTION_NUM_PROCESSES` and
  `KERAS_DISTRIBUTION_PROCESS_ID`.
- TensorFlow: `tf.distribute.MirroredStrategy` over the local devices (one machine).
  Keras 3 does not support several TensorFlow machines (`MultiWorkerMirroredStrategy`,
  keras-team/keras#20585): a `TF_CONFIG` naming several workers is refused.
- PyTorch: `torch.distributed` (NCCL on GPUs, gloo on CPUs) with the rank and world
  size that `torchrun` exports; training steps of `build_model` models and
  `MCDropoutEnsemble`s then run through `DistributedDataParallel` inside `fit`.

Process-level facts the backend-specific modules below need are kept on the `Cluster`;
everything engine-specific is chosen here, the three engines side by side.
"""

import contextlib
import os

import keras

from keras_drifa import _checks

ENGINES = {
    "jax": "keras.distribution.DataParallel",
    "tensorflow": "tf.distribute.MirroredStrategy",
    "torch": "torch.distributed + DistributedDataParallel",
}

_current = None


class Cluster:
    """Where this process stands in a data-parallel run; made by `keras_drifa.distributed.setup`.

    Attributes:
        backend: the Keras backend (`"jax"`, `"tensorflow"` or `"torch"`).
        engine: the data-parallel engine in use (see `ENGINES`).
        num_processes: processes in the run (hosts, or `torchrun` ranks).
        process_index: this process, `0 <= process_index < num_processes`.
        num_replicas: model replicas of one step in total: devices on JAX and
            TensorFlow, ranks on PyTorch. A global batch is split into this many parts.
        is_chief: `process_index == 0`: the process that writes checkpoints and prints.
        data_shard: `(process_index, num_processes)` when each process must feed its own
            part of every global batch (several processes), else `None`; pass it to
            `MultimodalDataset(..., shard=cluster.data_shard)`.
        local_replicas: the replicas this process feeds (its devices on JAX and
            TensorFlow, 1 on PyTorch): `MultimodalDataset(..., replicas=...)` makes every
            batch divisible among them.
        distribution: the engine object (a `keras.distribution.DataParallel`, a
            `tf.distribute.MirroredStrategy`) or `None` where there is none.
    """

    def __init__(self, backend, num_processes, process_index, num_replicas, distribution):
        self.backend = backend
        self.engine = ENGINES[backend]
        self.num_processes = num_processes
        self.process_index = process_index
        self.num_replicas = num_replicas
        self.distribution = distribution

    @property
    def is_chief(self):
        return self.process_index == 0

    @property
    def data_shard(self):
        return (self.process_index, self.num_processes) if self.num_processes > 1 else None

    @property
    def local_replicas(self):
        return self.num_replicas // self.num_processes

    def process_batch_size(self, global_batch_size):
        """Rows this process feeds per step for a `global_batch_size`, which every
        replica must divide (Keras's JAX engine raises `ZeroDivisionError` otherwise)."""
        global_batch_size = _checks.positive_int(
            "Cluster.process_batch_size", "global_batch_size", global_batch_size
        )
        if global_batch_size % self.num_replicas:
            raise ValueError(
                f"Cluster.process_batch_size: global_batch_size={global_batch_size} is not a "
                f"multiple of the {self.num_replicas} replicas; choose a multiple of "
                f"{self.num_replicas} so that every replica gets the same number of rows."
            )
        return global_batch_size // self.num_processes

    def scope(self):
        """A context to build and compile models in: their variables are then placed and
        replicated by the engine (JAX, TensorFlow). PyTorch needs none (DDP wraps a model
        at its first training step); the context is then empty."""
        if self.distribution is None or self.backend == "torch":
            return contextlib.nullcontext()
        return self.distribution.scope()

    def barrier(self):
        """Waits until every process has reached this point (nothing on one process)."""
        if self.num_processes == 1:
            return
        if self.backend == "torch":
            import torch.distributed as dist

            dist.barrier()
        elif self.backend == "jax":
            from jax.experimental import multihost_utils

            multihost_utils.sync_global_devices("keras_drifa.distributed.barrier")

    def __repr__(self):
        return (
            f"Cluster(backend={self.backend!r}, engine={self.engine!r}, "
            f"process {self.process_index} of {self.num_processes}, "
            f"{self.num_replicas} replicas)"
        )


def current():
    """The `Cluster` of this process's `setup()` call, or `None` before it."""
    return _current


def is_chief():
    """Whether this process writes files and prints: process 0, or any process before
    `setup()` (one process alone is its own chief)."""
    return _current is None or _current.is_chief


def setup(devices=None, *, coordinator_address=None, num_processes=None, process_index=None):
    """Prepares this process for data-parallel training on the backend's own engine.

    Call it once per process, first thing, before any model is built; build and compile
    under `cluster.scope()`, give `MultimodalDataset` the `cluster.data_shard`, and call
    `fit` as on one device. On one device of one process it changes nothing.

    Args:
        devices: JAX and TensorFlow: the local devices to use (`keras.distribution`
            device names such as `"gpu:0"`, or TensorFlow device strings); default all.
            Not used on PyTorch (one device per rank: `cuda:LOCAL_RANK`, or the CPU).
        coordinator_address: JAX with several processes: `"host:port"` of process 0;
            default `KERAS_DISTRIBUTION_JOB_ADDRESSES`.
        num_processes: JAX: the number of processes; default
            `KERAS_DISTRIBUTION_NUM_PROCESSES`, else 1. PyTorch reads `WORLD_SIZE`.
        process_index: JAX: this process's index; default
            `KERAS_DISTRIBUTION_PROCESS_ID`. PyTorch reads `RANK`.

    Returns:
        The `Cluster`, also available as `keras_drifa.distributed.current()`.

    Example:

    ```python
    cluster = keras_drifa.distributed.setup()
    with cluster.scope():
        model = keras_drifa.build_model(modalities=2, sync_batch_norm=True)
        model.compile(optimizer="adam", loss="categorical_crossentropy")
    train = keras_drifa.data.MultimodalDataset(
        inputs, targets, batch_size=cluster.process_batch_size(64), shard=cluster.data_shard,
        replicas=cluster.local_replicas)
    model.fit(train, epochs=10, verbose=2 if cluster.is_chief else 0)
    ```
    """
    global _current
    backend = keras.backend.backend()
    if backend not in _SETUP:
        raise ValueError(
            f"keras_drifa.distributed.setup: the Keras backend is {backend!r}; expected one "
            f"of {sorted(_SETUP)}."
        )
    if _current is not None:
        raise RuntimeError(
            f"keras_drifa.distributed.setup: this process is already set up ({_current}); "
            "call setup() once per process."
        )
    if backend != "jax" and (coordinator_address, num_processes, process_index) != (None,) * 3:
        raise ValueError(
            "keras_drifa.distributed.setup: coordinator_address, num_processes and "
            f"process_index are for JAX; on {backend} "
            + ("torchrun sets RANK and WORLD_SIZE." if backend == "torch" else
               "Keras 3 supports one machine only (MirroredStrategy).")
        )
    _current = _SETUP[backend](devices, coordinator_address, num_processes, process_index)
    return _current


def _env_int(name, value, minimum):
    if value is None and name in os.environ:
        try:
            value = int(os.environ[name])
        except ValueError:
            raise ValueError(
                f"keras_drifa.distributed.setup: environment variable {name}="
                f"{os.environ[name]!r} is not an integer."
            ) from None
    return None if value is None else _checks.positive_int(
        "keras_drifa.distributed.setup", name.lower(), value, minimum=minimum
    )


def _setup_jax(devices, coordinator_address, num_processes, process_index):
    import jax

    num_processes = _env_int("KERAS_DISTRIBUTION_NUM_PROCESSES", num_processes, 1) or 1
    if num_processes > 1:
        process_index = _env_int("KERAS_DISTRIBUTION_PROCESS_ID", process_index, 0)
        if process_index is None or process_index >= num_processes:
            raise ValueError(
                f"keras_drifa.distributed.setup: process_index={process_index!r}; expected "
                f"an integer in [0, {num_processes}) (or KERAS_DISTRIBUTION_PROCESS_ID)."
            )
        # CPU processes need a collectives implementation to talk to each other; GPUs
        # and TPUs use their own (NCCL, ICI) and ignore this setting.
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        keras.distribution.initialize(coordinator_address, num_processes, process_index)
    if devices is None:
        devices = keras.distribution.list_devices()
    num_replicas = len(devices)
    distribution = None
    if num_replicas > 1:
        # Each process feeds its own part of every global batch (`data_shard`).
        distribution = keras.distribution.DataParallel(devices=devices, auto_shard_dataset=False)
        keras.distribution.set_distribution(distribution)
    return Cluster("jax", num_processes, jax.process_index(), num_replicas, distribution)


def _setup_tensorflow(devices, coordinator_address, num_processes, process_index):
    import json

    import tensorflow as tf

    workers = json.loads(os.environ.get("TF_CONFIG", "{}") or "{}").get("cluster", {})
    if sum(len(v) for k, v in workers.items() if k in ("chief", "worker")) > 1:
        raise ValueError(
            "keras_drifa.distributed.setup: TF_CONFIG names several TensorFlow workers, but "
            "Keras 3 does not train on several TensorFlow machines "
            "(MultiWorkerMirroredStrategy, keras-team/keras#20585). Use the JAX backend "
            "(keras.distribution) or PyTorch (torchrun) for several machines."
        )
    if devices is None:
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
    distribution = tf.distribute.MirroredStrategy(devices=list(devices))
    return Cluster("tensorflow", 1, 0, distribution.num_replicas_in_sync, distribution)


def _setup_torch(devices, coordinator_address, num_processes, process_index):
    import torch
    import torch.distributed as dist

    if devices is not None:
        raise ValueError(
            "keras_drifa.distributed.setup: devices is for JAX and TensorFlow; on PyTorch "
            "each rank uses one device (cuda:LOCAL_RANK or the CPU), set by torchrun."
        )
    world_size = _env_int("WORLD_SIZE", None, 1) or 1
    if world_size > 1 and not dist.is_initialized():
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    rank = dist.get_rank() if dist.is_initialized() else 0
    return Cluster("torch", world_size, rank, world_size, None)


_SETUP = {"jax": _setup_jax, "tensorflow": _setup_tensorflow, "torch": _setup_torch}
