"""JAX's engine, `keras.distribution.DataParallel`: two devices and two processes train,
sample and explain as one device does, and a killed process resumes from its backup.

Runs of tests/distributed/train_worker.py, shared by the tests of this module and started
in the background with the first distributed test (`launch_early`, tests/distributed/launch.py):
- one process with two virtual CPU devices (`--xla_force_host_platform_device_count=2`):
  the one-device references (a one-stage `build_model` model, an ensemble and its
  inference per shard), then the model under `DataParallel` over its two devices;
- meanwhile two processes on 127.0.0.1 joined by `keras.distribution.initialize` (gloo
  collectives), each feeding its half of every global batch of 8: the ensemble with
  `BackupAndRestore` and a `GradCAMCallback`, then inference on each process's rows;
- then the fault runs: two processes of the same training, the last of which kills itself
  mid-epoch, and their relaunch.
Every process uses one compilation cache, so the fault runs load the programs the first
two-process run compiled. The ensemble's two members leave out MFA and MIFA
(`use_mfa=False, use_mifa=False`), which halves their compile time; the `build_model`
model has them.

Tolerance 1e-5: the jitted step computes the same global sums as one device, in another
order (per-device partial sums, then an all-reduce), so float32 results agree to a few
ulps of the weights' scale; observed 1.2e-7 (the model, two devices) and 2.0e-7 (the
ensemble, two processes; 3.4e-7 for its inference) after 4 momentum-SGD steps at learning
rate 0.05. Batch normalisation needs nothing: the sharded step reduces over the global batch,
so the moving statistics (part of the compared weights) equal the one-device ones.
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
KILL_AT_EPOCH = 1  # of 2 (0-based), at its second batch: after the backup of epoch 0


def _orchestrate(out):
    started = []

    def start(folder, runs, *options, **env):
        (out / folder).mkdir(exist_ok=True)
        process = launch.start(
            [launch.WORKER, "--runs", runs, "--out", out / folder, *options],
            launch.environment(
                KERAS_BACKEND="jax", JAX_COMPILATION_CACHE_DIR=out / "jax_cache",
                JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS=0, **env,
            ),
        )
        started.append(process)
        return process

    def two_processes(folder, *options, **env):
        port = launch.free_port()
        return [
            start(folder, "dp:ensemble", "--plain-members", "--backup", out / folder / "backup",
                  *options,
                  KERAS_DISTRIBUTION_JOB_ADDRESSES=f"127.0.0.1:{port}",
                  KERAS_DISTRIBUTION_NUM_PROCESSES=2, KERAS_DISTRIBUTION_PROCESS_ID=i, **env)
            for i in range(2)
        ]

    try:
        devices = start("devices", "one:model,one:ensemble,dp:model", "--plain-members",
                        "--inference-out",
                        XLA_FLAGS="--xla_force_host_platform_device_count=2")
        launch.wait_all(two_processes(
            "processes", "--inference-out", "--gradcam-log-dir", out / "gradcam"))
        killed = two_processes("resumed", KERAS_DRIFA_TEST_KILL_AT_EPOCH=KILL_AT_EPOCH)
        rc = killed[1].wait(timeout=launch.TIMEOUT_S)
        assert rc == -9, launch.output(killed[1])[-3000:]  # killed itself
        launch.wait_all([killed[0]], timeout=0, kill=True)  # its peer cannot go on alone
        assert not (out / "resumed" / "dp-ensemble.npz").exists()
        launch.wait_all(two_processes("resumed"))
        launch.wait_all([devices])
    finally:
        launch.kill_all(started)
    return out


def launch_early():
    """Starts the runs in the background (tests/conftest.py calls this before the first distributed test)."""
    if keras.backend.backend() == "jax":
        launch.launch_early(__name__, _orchestrate, "jax_runs")


@pytest.fixture(scope="module")
def runs():
    return launch.early_result(__name__, _orchestrate, "jax_runs")


def max_difference(a, b):
    a, b = np.load(a), np.load(b)
    assert sorted(a) == sorted(b)
    return max(float(np.abs(a[k].astype("float64") - b[k]).max()) for k in a)


def test_two_devices_train_like_one(runs):
    weights = np.load(runs / "devices" / "one-model.npz")
    assert any("moving_mean" in k for k in weights), "batch-norm statistics are compared too"
    assert max_difference(runs / "devices" / "one-model.npz", runs / "devices" / "dp-model.npz") < TOLERANCE


def test_two_processes_train_the_ensemble_like_one_device(runs):
    assert max_difference(
        runs / "devices" / "one-ensemble.npz", runs / "processes" / "dp-ensemble.npz"
    ) < TOLERANCE


@pytest.mark.parametrize("process", [0, 1])
def test_each_process_samples_and_explains_its_rows_as_one_device(runs, process):
    # predict_uncertainty (seeded MC dropout) and Grad-CAM on each process's own rows
    # equal a one-device call on the same rows.
    reference = runs / "devices" / f"one-ensemble.{process}.npz"
    assert {"gradcam/modality_0", "task_0/mutual_information"} <= set(np.load(reference))
    assert np.load(reference)["gradcam/modality_0"].shape[0] == 8
    assert max_difference(reference, runs / "processes" / f"dp-ensemble.{process}.npz") < TOLERANCE


def test_gradcam_callback_writes_once_under_two_processes(runs):
    # Both processes compute the maps; the chief alone writes the figures.
    assert sorted(p.name for p in (runs / "gradcam").iterdir()) == ["epoch_001.png", "epoch_002.png"]


def test_a_killed_process_resumes_from_the_last_backup(runs):
    """Two processes train 2 epochs with BackupAndRestore; the last one kills itself
    (SIGKILL) in the middle of epoch 1 (0-based) and the other is then killed by the test,
    as a job scheduler would. The relaunch resumes at epoch 1 with the weights, momenta and
    iteration count of the backup taken after epoch 0, and ends with the weights of the
    uninterrupted two-process run: the same arithmetic and, with the seed states in the
    backup, the same dropout masks, replayed (observed: equal bit for bit)."""
    assert json.loads((runs / "resumed" / "dp-ensemble.json").read_text())["epochs"] == [1]
    assert max_difference(
        runs / "processes" / "dp-ensemble.npz", runs / "resumed" / "dp-ensemble.npz"
    ) < 1e-6
