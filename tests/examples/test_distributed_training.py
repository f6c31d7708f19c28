"""examples/distributed_training.py runs with each backend's launcher.

- PyTorch: `torchrun` with two gloo ranks; a relaunch with more epochs resumes.
- JAX: one process over two virtual CPU devices (`--virtual-devices 2`, `DataParallel`).
- TensorFlow (`MirroredStrategy` over two logical devices): a run killed in the middle of
  its second epoch and relaunched ends with the backup of a run that was not interrupted.
  Its launches share the cores with the engine's own runs: tests/distributed/test_tensorflow.py.
Several processes and machines, and the JAX and PyTorch fault tests: tests/distributed/.
"""

import pathlib
import sys

import h5py
import pytest
from drifa_testing import BACKEND, ONCE_ON_TORCH

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "distributed"))
import launch  # noqa: E402

SCRIPT, TINY = launch.EXAMPLE, launch.TINY_EXAMPLE


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


@pytest.mark.skipif(
    BACKEND != "jax",
    reason="virtual CPU devices of one process are JAX's launch here; PyTorch's is torchrun "
    "(test above), TensorFlow's runs in tests/distributed/test_tensorflow.py",
)
def test_two_virtual_devices_train(tmp_path):
    (out,) = launch.wait_all([launch.start(
        [SCRIPT, "--epochs", 2, *TINY, "--virtual-devices", 2,
         "--checkpoint-dir", tmp_path / "backup"],
        launch.environment(KERAS_BACKEND="jax"),
    )])
    assert "process 0 of 1, 2 replicas" in out
    assert "trained epochs 1-2" in out
    with h5py.File(tmp_path / "backup" / "latest.weights.h5", "r") as f:
        assert int(f.attrs["keras_drifa_backup_epoch"]) == 2
