"""JAX's engine, `keras.distribution.DataParallel`: two devices and two processes train,
sample and explain as one device does.

Three kinds of run of tests/distributed/train_worker.py, launched together:
- the one-device reference (no `setup()`), for a `build_model` model and an ensemble;
- one process with two virtual CPU devices (`--xla_force_host_platform_device_count=2`);
- two processes on 127.0.0.1 joined by `keras.distribution.initialize` (gloo collectives),
  each feeding its half of every global batch of 8.

Tolerance 1e-5: the jitted step computes the same global sums as one device, in another
order (per-device partial sums, then an all-reduce), so float32 results agree to a few
ulps of the weights' scale; observed 1.5e-6 after 2 SGD steps at learning rate 0.05.
Batch normalisation needs nothing: the sharded step reduces over the global batch, so the
moving statistics (part of the compared weights) equal the one-device ones.
"""

import json

import keras
import numpy as np
import pytest

import launch

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "jax",
    reason="keras.distribution is JAX's engine; TensorFlow and PyTorch have their own tests "
    "in this folder (test_tensorflow.py, test_torch.py)",
)

TOLERANCE = 1e-5
ENSEMBLE = ["--ensemble", "--dropout-rate", "0.25"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("jax_runs")
    env = launch.environment(KERAS_BACKEND="jax")
    port = launch.free_port()
    two_processes = [
        launch.start(
            [launch.WORKER, *ENSEMBLE, "--out", out / "processes.npz",
             "--inference-out", out / "processes", "--gradcam-log-dir", out / "gradcam"],
            launch.environment(
                KERAS_BACKEND="jax", KERAS_DISTRIBUTION_JOB_ADDRESSES=f"127.0.0.1:{port}",
                KERAS_DISTRIBUTION_NUM_PROCESSES=2, KERAS_DISTRIBUTION_PROCESS_ID=i,
            ),
        )
        for i in range(2)
    ]
    others = [
        launch.start([launch.WORKER, "--single", "--out", out / "one.npz"], env),
        launch.start(
            [launch.WORKER, "--single", *ENSEMBLE, "--out", out / "one_ensemble.npz",
             "--inference-out", out / "one", "--reference-shards", 2],
            env,
        ),
        launch.start(
            [launch.WORKER, "--out", out / "devices.npz"],
            launch.environment(
                KERAS_BACKEND="jax", XLA_FLAGS="--xla_force_host_platform_device_count=2"
            ),
        ),
    ]
    launch.wait_all(two_processes + others)
    return out


def max_difference(a, b):
    a, b = np.load(a), np.load(b)
    assert sorted(a) == sorted(b)
    return max(float(np.abs(a[k].astype("float64") - b[k]).max()) for k in a)


def test_two_devices_train_like_one(runs):
    weights = np.load(runs / "one.npz")
    assert any("moving_mean" in k for k in weights), "batch-norm statistics are compared too"
    assert max_difference(runs / "one.npz", runs / "devices.npz") < TOLERANCE


def test_two_processes_train_the_ensemble_like_one_device(runs):
    assert max_difference(runs / "one_ensemble.npz", runs / "processes.npz") < TOLERANCE


@pytest.mark.parametrize("process", [0, 1])
def test_each_process_samples_and_explains_its_rows_as_one_device(runs, process):
    # predict_uncertainty (seeded MC dropout) and Grad-CAM on each process's own rows
    # equal a one-device call on the same rows.
    reference = np.load(runs / f"one.{process}.npz")
    assert {"gradcam/modality_0", "task_0/mutual_information"} <= set(reference)
    assert reference["gradcam/modality_0"].shape[0] == 8
    assert max_difference(runs / f"one.{process}.npz", runs / f"processes.{process}.npz") < TOLERANCE


def test_gradcam_callback_writes_once_under_two_processes(runs):
    # Both processes compute the maps; the chief alone writes the figure.
    assert sorted(p.name for p in (runs / "gradcam").iterdir()) == ["epoch_001.png"]


FAULT = ["--epochs", 3, "--momentum", 0.9, "--sync-batch-norm"]


def test_a_killed_process_resumes_from_the_last_backup(tmp_path):
    """Two processes train 3 epochs with BackupAndRestore; the last one kills itself
    (SIGKILL) in the middle of epoch 2 (0-based) and the other is then killed by the test,
    as a job scheduler would. The relaunch resumes at epoch 2 with the weights, momenta and
    iteration count of the backup taken after epoch 1, and ends with the weights of an
    uninterrupted two-process run: the same arithmetic, replayed (observed: equal to
    float32 rounding). All three runs share one compilation cache, so only the first
    compiles."""
    cache = tmp_path / "jax_cache"

    def two_processes(name, **extra):
        port = launch.free_port()
        return [
            launch.start(
                [launch.WORKER, *FAULT, "--backup", tmp_path / f"{name}_backup",
                 "--out", tmp_path / f"{name}.npz"],
                launch.environment(
                    KERAS_BACKEND="jax", KERAS_DISTRIBUTION_JOB_ADDRESSES=f"127.0.0.1:{port}",
                    KERAS_DISTRIBUTION_NUM_PROCESSES=2, KERAS_DISTRIBUTION_PROCESS_ID=i,
                    JAX_COMPILATION_CACHE_DIR=cache, **extra,
                ),
            )
            for i in range(2)
        ]

    launch.wait_all(two_processes("uninterrupted"))
    first = two_processes("resumed", KERAS_DRIFA_TEST_KILL_AT_EPOCH=2)
    rc = first[1].wait(timeout=launch.TIMEOUT_S)
    assert rc == -9, first[1].stdout.read()[-3000:]  # killed itself
    launch.wait_all([first[0]], timeout=0, kill=True)  # its peer cannot go on alone
    assert not (tmp_path / "resumed.npz").exists()
    launch.wait_all(two_processes("resumed"))
    assert json.loads((tmp_path / "resumed.npz.json").read_text())["epochs"] == [2]
    assert max_difference(tmp_path / "uninterrupted.npz", tmp_path / "resumed.npz") < 1e-6
