"""examples/distributed_training.py runs with torchrun on two gloo ranks, and a relaunch
resumes from its backup.

The script is the same on every backend; its JAX and TensorFlow launches are those of
tests/distributed/ (whose workers make the same calls), which compile for minutes here.
"""

import pathlib
import sys

import pytest
from drifa_testing import ONCE_ON_TORCH

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "distributed"))
import launch  # noqa: E402

SCRIPT = pathlib.Path(__file__).resolve().parents[2] / "examples" / "distributed_training.py"


def torchrun(tmp_path, epochs):
    process = launch.start(
        ["-m", "torch.distributed.run", "--nproc_per_node=2", "--master_addr=127.0.0.1",
         f"--master_port={launch.free_port()}", SCRIPT, "--epochs", epochs, "--samples", 32,
         "--image-size", 16, "--widths", 4, 8, "--global-batch-size", 16,
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
