"""`BackupAndRestore`: Keras's fault-tolerance callback, safe with several processes."""

import contextlib
import json
import os
import random
import shutil
import tempfile

import h5py
import keras
import numpy as np

from keras_drifa import _graph, distributed
from keras_drifa.backend import rng as backend_rng

# Keras's own file names in `backup_dir` (keras.callbacks.BackupAndRestore keeps them in
# private attributes): the same names, so that either callback resumes from the other's
# folder and Keras's restore code, which this class keeps, finds the files.
WEIGHTS_FILE = "latest.weights.h5"
METADATA_FILE = "training_metadata.json"
# The epoch to resume at, stored inside the weights file as well (an HDF5 attribute of
# its root group, which `load_weights` ignores): the weights and their epoch are then
# replaced in one step.
EPOCH_ATTRIBUTE = "keras_drifa_backup_epoch"
# The states of the model's random seed generators (MC dropout's masks), which
# `save_weights` leaves out: without them a resumed run would draw the masks of its first
# epochs again. Stored beside the epoch, in the order of `model.variables` (their paths
# carry process-wide counters, `seed_generator_7`, which differ between processes).
SEED_STATES_ATTRIBUTE = "keras_drifa_seed_states"
# On PyTorch, unseeded dropout outside a DDP step draws from torch's global generator.
GLOBAL_RNG_ATTRIBUTE = "keras_drifa_global_rng_state"
# Python's `random` state: `fit` shuffles the batches of a `keras.utils.PyDataset` (such as
# `MultimodalDataset`) with `random.shuffle` at the start of every epoch.
PYTHON_RANDOM_ATTRIBUTE = "keras_drifa_python_random_state"


class BackupAndRestore(keras.callbacks.BackupAndRestore):
    """`keras.callbacks.BackupAndRestore` for data-parallel runs: one writer, atomic files.

    Restores as Keras does: at the start of `fit`, every process loads
    `backup_dir/latest.weights.h5` (the model's weights and the optimizer's variables:
    its iteration count, its slots such as momenta, and its learning rate, including one
    lowered by `ReduceLROnPlateau`) and resumes at the epoch after the last one backed
    up. It also restores the states of the model's random seed generators (MC dropout's
    masks), of Python's `random` (with which `fit` shuffles the batches of a
    `keras.utils.PyDataset`) and, on PyTorch, of torch's global generator (which unseeded
    dropout draws from), which Keras's does not back up: the resumed epochs draw the masks
    and the batch order that the interrupted run would have drawn, and end with its
    weights. A `MultimodalDataset` computes its row order from its `epoch`, which starts at
    0 in a new process: set it to `resume_epoch` before `fit` (see the example). Saving
    differs from Keras's in three ways:

    - Only the chief process (`keras_drifa.distributed.current()` is `None` or
      `.is_chief`) writes; after a data-parallel step every process holds the same
      weights. Batch-norm statistics are the exception without
      `SynchronizedBatchNormalization`: each process keeps its own, and after a restore
      every process continues with the chief's.
    - Every file is written under a temporary name in `backup_dir` and moved into place
      with `os.replace`, the weights first and `training_metadata.json` last. The epoch is
      also stored inside the weights file, and the restore takes it from there, so the
      weights and their epoch always belong together.
    - With several processes, deleting the folder at the end of training
      (`delete_checkpoint=True`) waits until every process has finished `fit`, and the
      chief deletes it. On PyTorch the restore checks that every process resumes at the
      same epoch.

    Guarantee: a process killed at any moment (by a signal, an out-of-memory kill, a
    failing peer) leaves in `backup_dir` either the previous backup or the new one, both
    complete, and the run resumes at the epoch that belongs to the weights it loads.
    Files are flushed to disk (`fsync`) before they are moved, but a machine that loses
    power may still lose the last move on file systems that do not order metadata. A
    process killed while writing leaves a `partial.*` file, overwritten by the next save.

    Limits:
    - Backups are taken at the end of epochs only (`save_freq="epoch"`): Keras resumes at
      the start of an epoch, so a backup taken mid-epoch would replay that epoch's first
      batches on weights that have already seen them.
    - `backup_dir` must be on a local or mounted file system (for `os.replace`), and with
      several machines the same folder must be visible to all of them (a shared file
      system); on PyTorch, processes that do not all find the same backup raise.
    - State kept by other callbacks is not backed up: `ReduceLROnPlateau`'s learning rate
      is (it is the optimizer's), but its `wait`, `best` and `cooldown` counters start
      afresh, as do `EarlyStopping`'s.
    - With `double_checkpoint=True`, Keras's restore falls back to the previous backup
      when the latest cannot be read, copying files in place on every process; with
      atomic saves the latest can only be unreadable after a storage fault.

    Args:
        backup_dir: folder of the backup, used by this callback only.
        save_freq: `"epoch"` (the only value supported; see above).
        double_checkpoint: also keep the previous backup, as in Keras.
        delete_checkpoint: delete `backup_dir` when `fit` completes (default, as in Keras).
            Use `False` if a failure after `fit` (while saving results, say) must not
            restart training from scratch.

    Example:

    ```python
    cluster = keras_drifa.distributed.setup()
    model.fit(train, epochs=20, callbacks=[
        keras_drifa.callbacks.BackupAndRestore("/shared/run-42/backup")])
    ```

    On PyTorch, `torchrun --max-restarts=3` restarts every rank when one fails, and they
    resume here. Launch it with `--rdzv-backend=c10d --rdzv-endpoint=HOST:PORT` and the
    environment variable `TORCH_DISABLE_SHARE_RDZV_TCP_STORE=1`: otherwise (and with the
    default static rendezvous) the restarted ranks share the first attempt's store, read
    the dead ranks' addresses from it and fail to connect (pytorch/pytorch#135712; seen
    with torch 2.13 and gloo).
    """

    def __init__(self, backup_dir, save_freq="epoch", double_checkpoint=False,
                 delete_checkpoint=True):
        if save_freq != "epoch":
            raise ValueError(
                f"BackupAndRestore: save_freq={save_freq!r} is not supported; expected "
                "'epoch'. Keras resumes at the start of an epoch, so a backup taken within an "
                "epoch would train that epoch's first batches twice."
            )
        if backup_dir and "://" in str(backup_dir):
            raise ValueError(
                f"BackupAndRestore: backup_dir={backup_dir!r} is a URL; expected a folder on a "
                "local or mounted file system (files are moved into place with os.replace). "
                "Use keras.callbacks.BackupAndRestore for remote storage."
            )
        super().__init__(backup_dir, save_freq, double_checkpoint, delete_checkpoint)

    @property
    def resume_epoch(self):
        """The epoch (0-based) at which the next `fit` starts: the one after the last epoch
        backed up in `backup_dir`, or 0 without a backup."""
        return stored_epoch(self.backup_dir) or 0

    def _path(self, name):
        return os.path.join(self.backup_dir, name)

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)  # Keras's restore: weights, optimizer, epoch
        epoch = stored_epoch(self.backup_dir)
        if epoch is not None:
            # Keras's own callback resumes through this attribute, read by `fit` right
            # after `on_train_begin`; the epoch stored with the weights overrides the one
            # in training_metadata.json, which may be one backup behind.
            _graph.set_initial_epoch(self.model, epoch)
            _restore_seed_states(self.model, self._path(WEIGHTS_FILE))
        cluster = distributed.current()
        if cluster is not None and cluster.backend == "torch" and cluster.num_processes > 1:
            from keras_drifa.distributed._torch_ddp import all_reduce_mean

            e = float(epoch or 0)
            mean = all_reduce_mean({"epoch": e, "epoch_squared": e * e})
            if mean["epoch_squared"] != mean["epoch"] ** 2:  # not every process alike
                raise RuntimeError(
                    f"BackupAndRestore: process {cluster.process_index} resumes at epoch "
                    f"{epoch or 0} from backup_dir={self.backup_dir!r}, but the processes do "
                    "not all resume at the same epoch; expected a backup_dir on a file system "
                    "that every machine shares."
                )

    def on_epoch_end(self, epoch, logs=None):
        cluster = distributed.current()
        if cluster is None or cluster.is_chief:
            self._backup(epoch + 1)
        elif cluster.backend == "jax":
            # Reading variables that span several processes' devices is a collective on
            # JAX (every process must take part, or the next step's data no longer
            # matches): the other processes save too, and throw their copy away.
            with tempfile.TemporaryDirectory() as folder:
                self.model.save_weights(os.path.join(folder, WEIGHTS_FILE))
            _seed_states(self.model)

    def on_train_end(self, logs=None):
        if not self.delete_checkpoint:
            return
        cluster = distributed.current()
        if cluster is not None:
            # A process that failed after the chief had deleted the backup would restart
            # the whole run from scratch.
            cluster.barrier()
        if (cluster is None or cluster.is_chief) and os.path.exists(self.backup_dir):
            shutil.rmtree(self.backup_dir)

    def _backup(self, epoch):
        os.makedirs(self.backup_dir, exist_ok=True)
        weights, metadata = self._path(WEIGHTS_FILE), self._path(METADATA_FILE)
        if self.double_checkpoint:
            for path in (weights, metadata):
                if os.path.exists(path):
                    _replace_with_copy(path, path + ".bkp")
        partial = self._path("partial." + WEIGHTS_FILE)  # save_weights wants .weights.h5
        with _removed_on_error(partial):
            self.model.save_weights(partial, overwrite=True)
            states = _seed_states(self.model)
            with h5py.File(partial, "r+") as f:
                f.attrs[EPOCH_ATTRIBUTE] = epoch
                f.attrs[SEED_STATES_ATTRIBUTE] = np.stack(states) if states else np.zeros((0, 2))
                rng = backend_rng.global_rng_state()
                if rng is not None:
                    f.attrs[GLOBAL_RNG_ATTRIBUTE] = rng
                f.attrs[PYTHON_RANDOM_ATTRIBUTE] = _python_random_state()
            _move_into_place(partial, weights)
        partial = self._path("partial." + METADATA_FILE)
        with _removed_on_error(partial):
            with open(partial, "w") as f:
                json.dump({"epoch": epoch, "batch": 0}, f)
            _move_into_place(partial, metadata)


def _seed_states(model):
    """The states of the model's seed generators (a collective read on JAX)."""
    return [keras.ops.convert_to_numpy(v.value) for v in _graph.seed_variables(model)]


def _restore_seed_states(model, weights_file):
    with h5py.File(weights_file, "r") as f:
        if SEED_STATES_ATTRIBUTE not in f.attrs:  # a backup of Keras's own callback
            return
        states = np.asarray(f.attrs[SEED_STATES_ATTRIBUTE])
        rng = f.attrs.get(GLOBAL_RNG_ATTRIBUTE)
        python_random = f.attrs.get(PYTHON_RANDOM_ATTRIBUTE)
    variables = _graph.seed_variables(model)
    if len(states) != len(variables):
        raise ValueError(
            f"BackupAndRestore: the backup in {os.path.dirname(weights_file)!r} holds the "
            f"states of {len(states)} random seed generators, but the model has "
            f"{len(variables)}; expected the model that wrote the backup."
        )
    for variable, state in zip(variables, states):
        variable.assign(state)
    backend_rng.set_global_rng_state(rng)
    if python_random is not None:
        _set_python_random_state(python_random)


def _python_random_state():
    """`random.getstate()` as an int64 array: the version, then the Mersenne Twister's
    words and position (Python's state has no Gaussian left over unless `random.gauss` ran:
    then the array ends with the spare value's bits)."""
    version, internal, gauss_next = random.getstate()
    spare = [] if gauss_next is None else [np.float64(gauss_next).view(np.int64)]
    return np.array([version, *internal, *spare], dtype=np.int64)


def _set_python_random_state(array):
    values = [int(v) for v in np.asarray(array, dtype=np.int64)]
    internal = tuple(values[1:626])  # 624 words and the position
    spare = np.int64(values[626]).view(np.float64).item() if len(values) > 626 else None
    random.setstate((values[0], internal, spare))


def stored_epoch(backup_dir):
    """The epoch a run resumes at from `backup_dir`: the one stored with the weights, else
    (a folder written by `keras.callbacks.BackupAndRestore`) that of
    `training_metadata.json`; `None` without a backup."""
    weights = os.path.join(backup_dir, WEIGHTS_FILE)
    if os.path.exists(weights):
        with h5py.File(weights, "r") as f:
            if EPOCH_ATTRIBUTE in f.attrs:
                return int(f.attrs[EPOCH_ATTRIBUTE])
    metadata = os.path.join(backup_dir, METADATA_FILE)
    if os.path.exists(metadata):
        with open(metadata) as f:
            return int(json.load(f)["epoch"])
    return None


def _move_into_place(partial, path):
    """Flushes `partial` to disk, then renames it to `path` in one step."""
    with open(partial, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(partial, path)
    if hasattr(os, "O_DIRECTORY"):  # POSIX: make the rename itself durable
        folder = os.open(os.path.dirname(path) or ".", os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


def _replace_with_copy(source, path):
    partial = path + ".partial"
    with _removed_on_error(partial):
        shutil.copyfile(source, partial)
        _move_into_place(partial, path)


@contextlib.contextmanager
def _removed_on_error(partial):
    try:
        yield
    except BaseException:
        if os.path.exists(partial):
            os.remove(partial)
        raise
