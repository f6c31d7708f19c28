"""examples/distributed_training.py, whose backup folder is copied mid-epoch, as a kill
would leave it, while the run itself goes on uninterrupted.

Usage: python interrupted_example.py EPOCH COPY [the example's arguments]. At the second
batch of `EPOCH` (0-based) the example's `BackupAndRestore` copies its folder to `COPY`:
what a worker killed at that batch leaves on disk, since the backup is written at epoch
ends only. The run then trains on to the end: it is the uninterrupted reference that
tests/distributed/test_tensorflow.py compares the relaunch on `COPY` with. One process
instead of two (a killed run and an uninterrupted one), for a `MirroredStrategy` run is
one process anyway; JAX's and PyTorch's fault tests kill one process of two for real
(SIGKILL).
"""

import importlib.util
import shutil
import sys

from launch import EXAMPLE


def copy_at(epoch, copy):
    """Swaps in a `BackupAndRestore` that copies its folder at (`epoch`, batch 1)."""
    import keras_drifa.callbacks

    class CopiedMidEpoch(keras_drifa.callbacks.BackupAndRestore):
        def on_epoch_begin(self, current, logs=None):
            super().on_epoch_begin(current, logs)
            self.current = current

        def on_train_batch_begin(self, batch, logs=None):
            super().on_train_batch_begin(batch, logs)
            if (self.current, batch) == (epoch, 1):
                shutil.copytree(self.backup_dir, copy)

    keras_drifa.callbacks.BackupAndRestore = CopiedMidEpoch


def main():
    epoch, copy, argv = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
    spec = importlib.util.spec_from_file_location("distributed_training", EXAMPLE)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    split = example.virtual_cpu_devices

    def split_then_swap(count):  # the backend initialises after the split, as in the example
        split(count)
        copy_at(epoch, copy)

    example.virtual_cpu_devices = split_then_swap
    example.main(argv)


if __name__ == "__main__":
    main()
