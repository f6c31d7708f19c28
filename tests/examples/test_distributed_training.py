"""examples/distributed_training.py runs with each backend's launcher.

- PyTorch: `torchrun` with two gloo ranks; a relaunch with more epochs resumes.
- JAX: one process over two virtual CPU devices (`--virtual-devices 2`, `DataParallel`).
- TensorFlow (`MirroredStrategy` over two logical devices): a run killed in the middle of
  its second epoch and relaunched ends with the backup of a run that was not interrupted.
  Its launches share the cores with the engine's own runs: tests/distributed/test_tensorflow.py.
Several processes and machines, and the JAX and PyTorch fault tests: tests/distributed/.

The runs start in the background with the first distributed test (`launch_early`,
tests/distributed/launch.py) and the tests here read what they printed and wrote.
"""

import pathlib
import sys

import h5py
import pytest
from drifa_testing import BACKEND, ONCE_ON_TORCH

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "distributed"))
import launch  # noqa: E402

SCRIPT, TINY = launch.EXAMPLE, launch.TINY_EXAMPLE


def torchrun(folder, epochs):
    process = launch.start(
        ["-m", "torch.distributed.run", "--nproc_per_node=2", "--master_addr=127.0.0.1",
         f"--master_port={launch.free_port()}", SCRIPT, "--epochs", epochs, *TINY,
         "--checkpoint-dir", folder / "backup"],
        launch.environment(KERAS_BACKEND="torch", OMP_NUM_THREADS=1),
    )
    return launch.wait_all([process])[0]


def _two_ranks_then_a_relaunch(folder):
    return folder, [torchrun(folder, 1), torchrun(folder, 2)]


def _two_virtual_devices(folder):
    (out,) = launch.wait_all([launch.start(
        [SCRIPT, "--epochs", 2, *TINY, "--virtual-devices", 2,
         "--checkpoint-dir", folder / "backup"],
        launch.environment(KERAS_BACKEND="jax"),
    )])
    return folder, [out]


RUNS = {"torch": _two_ranks_then_a_relaunch, "jax": _two_virtual_devices}


def launch_early():
    """Starts this backend's run in the background (tests/conftest.py calls this before
    the first distributed test)."""
    if BACKEND in RUNS:
        launch.launch_early(__name__, RUNS[BACKEND], "example_runs")


@pytest.fixture(scope="module")
def example_run():
    """`(folder, [output of each launch])` of this backend's run."""
    return launch.early_result(__name__, RUNS[BACKEND], "example_runs")


@ONCE_ON_TORCH
def test_two_ranks_train_and_a_relaunch_resumes(example_run):
    folder, (first, relaunch) = example_run
    assert "process 0 of 2, 2 replicas" in first
    assert first.count("trained epochs 1-1") == 1  # the chief alone prints
    assert (folder / "backup" / "latest.weights.h5").exists()
    assert "trained epochs 2-2" in relaunch  # resumed after the first run's epoch


@pytest.mark.skipif(
    BACKEND != "jax",
    reason="virtual CPU devices of one process are JAX's launch here; PyTorch's is torchrun "
    "(test above), TensorFlow's runs in tests/distributed/test_tensorflow.py",
)
def test_two_virtual_devices_train(example_run):
    folder, (out,) = example_run
    assert "process 0 of 1, 2 replicas" in out
    assert "trained epochs 1-2" in out
    with h5py.File(folder / "backup" / "latest.weights.h5", "r") as f:
        assert int(f.attrs["keras_drifa_backup_epoch"]) == 2
