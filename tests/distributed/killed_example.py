"""examples/distributed_training.py, killed (SIGKILL) at the second batch of one epoch.

Usage: python killed_example.py EPOCH [the example's arguments]. EPOCH is 0-based. The
example runs unchanged but for its `BackupAndRestore`, which kills the process at that
batch, as a failing machine would; tests/distributed/test_tensorflow.py then relaunches
the plain example on the same backup folder.
"""

import importlib.util
import os
import signal
import sys

from launch import EXAMPLE


def kill_at(epoch):
    """Swaps in a `BackupAndRestore` that kills the process at (`epoch`, batch 1)."""
    import keras_drifa.callbacks

    class KilledMidEpoch(keras_drifa.callbacks.BackupAndRestore):
        def on_epoch_begin(self, current, logs=None):
            super().on_epoch_begin(current, logs)
            self.current = current

        def on_train_batch_begin(self, batch, logs=None):
            super().on_train_batch_begin(batch, logs)
            if (self.current, batch) == (epoch, 1):
                os.kill(os.getpid(), signal.SIGKILL)

    keras_drifa.callbacks.BackupAndRestore = KilledMidEpoch


def main():
    epoch, argv = int(sys.argv[1]), sys.argv[2:]
    spec = importlib.util.spec_from_file_location("distributed_training", EXAMPLE)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    split = example.virtual_cpu_devices

    def split_then_swap(count):  # the backend initialises after the split, as in the example
        split(count)
        kill_at(epoch)

    example.virtual_cpu_devices = split_then_swap
    example.main(argv)


if __name__ == "__main__":
    main()
