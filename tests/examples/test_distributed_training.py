"""examples/distributed_training.py runs with each backend's launcher, and a relaunch
after a kill resumes from its backup.

- PyTorch: `torchrun` with two gloo ranks; a relaunch with more epochs resumes.
- JAX and TensorFlow: one process over two virtual CPU devices (`--virtual-devices 2`:
  `DataParallel`, `MirroredStrategy`). A run killed in the middle of its second epoch
  (tests/examples/killed_example.py) and relaunched ends with the backup of a run that was
  not interrupted, bit for bit: weights, batch-norm statistics, optimizer state and seed
  states. Several processes and machines are tested in tests/distributed/.
"""

import pathlib
import sys

import h5py
import numpy as np
import pytest
from drifa_testing import BACKEND, ONCE_ON_TORCH

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "distributed"))
import launch  # noqa: E402

SCRIPT = pathlib.Path(__file__).resolve().parents[2] / "examples" / "distributed_training.py"
KILLED = pathlib.Path(__file__).with_name("killed_example.py")
# Tiny runs: one stage of width 4, 32 synthetic pairs of 16x16 images (25 for training:
# two global batches of 16).
TINY = ["--samples", 32, "--image-size", 16, "--widths", 4, "--global-batch-size", 16]


def torchrun(tmp_path, epochs):
    process = launch.start(
        ["-m", "torch.distributed.run", "--nproc_per_node=2", "--master_addr=127.0.0.1",
         f"--master_port={launch.free_port()}", SCRIPT, "--epochs", epochs, *TINY,
         "--checkpoint-dir", tmp_path / "backup"],
        launch.environment(KERAS_BACKEND="torch"),
    )
    return launch.wait_all([process])[0]


@ONCE_ON_TORCH
def test_two_ranks_train_and_a_relaunch_resumes(tmp_path):
    out = torchrun(tmp_path, 1)
    assert "process 0 of 2, 2 replicas" in out
    assert out.count("trained epochs 1-1") == 1  # the chief alone prints
    assert (tmp_path / "backup" / "latest.weights.h5").exists()
    out = torchrun(tmp_path, 2)
    assert "trained epochs 2-2" in out  # resumed after the first run's epoch


def backup_contents(folder):
    """Every array and attribute of the backup's weights file, by its HDF5 path."""
    found = {}
    with h5py.File(folder / "latest.weights.h5", "r") as f:
        f.visititems(lambda name, item: found.__setitem__(name, item[()])
                     if isinstance(item, h5py.Dataset) else None)
        found.update({f"attrs/{k}": np.asarray(v) for k, v in f.attrs.items()})
    return found


@pytest.mark.skipif(
    BACKEND == "torch",
    reason="virtual devices are JAX's and TensorFlow's; on PyTorch the example runs under "
    "torchrun (test above), and killed ranks are tested in tests/distributed/test_torch.py",
)
def test_two_virtual_devices_train_and_a_killed_run_resumes_to_the_same_weights(tmp_path):
    env = launch.environment(
        KERAS_BACKEND=BACKEND, JAX_COMPILATION_CACHE_DIR=tmp_path / "jax_cache",
        JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS=0,
    )
    options = ["--epochs", 2, *TINY, "--virtual-devices", 2, "--checkpoint-dir"]
    processes = [launch.start([SCRIPT, *options, tmp_path / "uninterrupted"], env),
                 launch.start([KILLED, 1, *options, tmp_path / "resumed"], env)]
    try:
        rc = processes[1].wait(timeout=launch.TIMEOUT_S)
        assert rc == -9, launch.output(processes[1])[-3000:]  # killed itself in epoch 2
        assert "trained epochs" not in launch.output(processes[1])
        relaunch = launch.start([SCRIPT, *options, tmp_path / "resumed"], env)
        (out,) = launch.wait_all([relaunch])
        (uninterrupted,) = launch.wait_all([processes[0]])
    finally:
        launch.kill_all(processes)
    assert "process 0 of 1, 2 replicas" in uninterrupted
    assert "trained epochs 1-2" in uninterrupted
    assert "trained epochs 2-2" in out  # resumed from the backup of epoch 1
    assert uninterrupted.split("last val_loss")[1] == out.split("last val_loss")[1]
    resumed, reference = (backup_contents(tmp_path / d) for d in ("resumed", "uninterrupted"))
    assert resumed.keys() == reference.keys()
    assert int(reference["attrs/keras_drifa_backup_epoch"]) == 2
    assert any("batch_normalization" in k for k in reference)  # statistics compared too
    for key in reference:
        np.testing.assert_array_equal(resumed[key], reference[key], err_msg=key)
