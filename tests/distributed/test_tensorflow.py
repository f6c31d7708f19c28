"""TensorFlow engine of `keras_drifa.distributed`: `MirroredStrategy` over two logical CPUs.

Two processes of tests/distributed/tensorflow_worker.py run the same script, one on a
single device (the reference) and one under `setup()` with two logical CPU devices
(which must be configured before TensorFlow initialises, hence the processes); the tests
compare what they wrote. One run of each, since tracing dominates, started in the
background (`launch_early`, tests/distributed/launch.py).
The fault test launches the example itself (examples/distributed_training.py with
`--virtual-devices 2`): a run whose backup folder is copied in the middle of its second
epoch, as a kill there would leave it (interrupted_example.py), then trains on
uninterrupted, and a relaunch on the copy. The launches start together when the first
test of this module needs them, at the end of the session (tests/conftest.py).
"""

import json

import h5py
import keras
import numpy as np
import pytest

import launch

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="MirroredStrategy is TensorFlow's engine; these tests need KERAS_BACKEND=tensorflow "
    "(the JAX and PyTorch engines are tested in their own files).",
)

WORKER = launch.WORKER.with_name("tensorflow_worker.py")
INTERRUPTED = launch.WORKER.with_name("interrupted_example.py")
COPY_AT_EPOCH = 1  # 0-based: the second of 2, at its second batch, after the first's backup

# Sizes of the worker's run (tensorflow_worker.py).
STEPS = 3
GLOBAL_BATCH = 8
# Why synchronised steps agree: two replicas sum the batch statistics of the halves of a
# batch (SynchronizedBatchNormalization's all-reduce) and the halves' gradients (the
# strategy's), where one device sums the whole batch at once: the same numbers added in
# another order, so float32 round-off. Measured on the one-stage model of the worker,
# relative to the size of the update from the initial weights: 1.7e-6, 1.4e-6 and 1.4e-6
# after steps 1, 2 and 3; one device alone shows the same (plain against synchronised
# batch normalisation, the same statistics by two formulas: 1.4e-6, 1.1e-6, 1.0e-6).
# (The two-stage model used before reached 3.1e-2 at step 3, where round-off tipped a
# kink, a ReLU or a max-pooling, one way or the other.)
# Plain batch normalisation on two replicas differs by 0.17, 0.14 and 0.16 (moving
# statistics alone: 0.019 after step 1), a hundred times the bound and more.
STEPS_RTOL = 1e-4
PLAIN_MIN_DIFFERENCE = 100 * STEPS_RTOL
# Inference of the same weights: round-off only (measured 1.2e-7 for evaluate, 0 else).
INFERENCE_ATOL = 1e-5


def _orchestrate(folder):
    """`{devices: (folder, report)}` of the two worker runs, and `"example"`: the folder of
    the example's fault runs and `{run: output}`; all launched together."""
    env = launch.environment(KERAS_BACKEND="tensorflow")
    env.pop("TF_CONFIG", None)
    for devices in (1, 2):
        (folder / str(devices)).mkdir()
    workers = [
        launch.start(
            [WORKER, "--devices", devices, "--initial", folder, "--out", folder / str(devices)], env
        )
        for devices in (1, 2)
    ]
    options = ["--epochs", 2, *launch.TINY_EXAMPLE, "--virtual-devices", 2, "--checkpoint-dir"]
    copy = folder / "example" / "resumed"
    uninterrupted = launch.start(
        [INTERRUPTED, COPY_AT_EPOCH, copy, *options, folder / "example" / "uninterrupted"], env
    )
    processes = [*workers, uninterrupted]
    try:
        launch.wait_all([uninterrupted])
        relaunch = launch.start([launch.EXAMPLE, *options, copy], env)
        processes.append(relaunch)
        outputs = launch.wait_all([*workers, uninterrupted, relaunch])
    finally:
        launch.kill_all(processes)
    results = {"example": (folder / "example", {
        "uninterrupted": outputs[2], "resumed": outputs[3],
    })}
    for devices in (1, 2):
        with open(folder / str(devices) / "report.json") as file:
            results[devices] = (folder / str(devices), json.load(file))
    return results


def launch_early():
    """Starts the runs in the background (tests/conftest.py calls this before the first distributed test)."""
    if keras.backend.backend() == "tensorflow":
        launch.launch_early(__name__, _orchestrate, "tensorflow_runs")


@pytest.fixture(scope="module")
def runs():
    return launch.early_result(__name__, _orchestrate, "tensorflow_runs")


def _load(runs, devices, name):
    with np.load(runs[devices][0] / name) as data:
        return dict(data)


def _max_difference(a, b, keys=None):
    keys = sorted(a) if keys is None else keys
    assert sorted(a) == sorted(b)
    return max(float(np.max(np.abs(a[k] - b[k]))) for k in keys)


def test_two_replicas(runs):
    report = runs[2][1]
    assert report["num_replicas"] == 2
    assert "tf.distribute.MirroredStrategy" in report["cluster"]


def _steps(runs, devices, kind):
    """`[weights before the first step, after step 1, ...]`, each `{index:path: array}`."""
    flat = _load(runs, devices, f"sgd_{kind}.npz")
    names = sorted({k.split("/", 1)[1] for k in flat}, key=lambda k: int(k.split(":")[0]))
    with np.load(runs[1][0].parent / "initial.npz") as data:
        steps = [dict(zip(names, (data[f"arr_{i}"] for i in range(len(names)))))]
    for step in range(1, 1 + len(flat) // len(names)):
        steps.append({k: flat[f"{step}/{k}"] for k in names})
    return steps


def _relative_difference(one, two, start, keys=None):
    """|two - one| / |one - start| over `keys` (default all): how far the runs' updates
    from `start` differ, relative to the update."""
    keys = list(one) if keys is None else keys
    return _norm(two[k] - one[k] for k in keys) / _norm(one[k] - start[k] for k in keys)


def _norm(arrays):
    return np.sqrt(sum(float(np.sum(np.square(a))) for a in arrays))


def test_sync_batch_norm_steps_equal_one_device(runs):
    """SGD steps on two replicas equal the steps on one device with the same global
    batch, batch-norm statistics and gradients included: the sums over replicas (of the
    statistics in `SynchronizedBatchNormalization`, of the gradients in the strategy)
    give what one device computes, up to the order of the additions."""
    one, two = _steps(runs, 1, "sync"), _steps(runs, 2, "sync")
    assert len(one) == len(two) == STEPS + 1
    for step in range(1, STEPS + 1):
        assert _relative_difference(one[step], two[step], one[0]) < STEPS_RTOL, step
    # fit's loss: the mean over the steps.
    np.testing.assert_allclose(runs[2][1]["loss_sync"], runs[1][1]["loss_sync"], rtol=1e-3)


def test_plain_batch_norm_uses_per_replica_statistics(runs):
    """Plain `BatchNormalization` normalises each replica's half batch with its own
    statistics: from the first step, the moving statistics and, through the gradients,
    every weight differ from one device's."""
    one, two = _steps(runs, 1, "plain"), _steps(runs, 2, "plain")
    moving = [k for k in one[0] if "moving_" in k]
    kernels = [k for k in one[0] if "kernel" in k]
    assert moving and kernels
    assert _relative_difference(one[1], two[1], one[0], moving) > PLAIN_MIN_DIFFERENCE
    assert _relative_difference(one[1], two[1], one[0], kernels) > PLAIN_MIN_DIFFERENCE
    for step in range(1, STEPS + 1):
        assert _relative_difference(one[step], two[step], one[0]) > PLAIN_MIN_DIFFERENCE, step
    # On one device the two layers compute the same: the same steps, up to round-off.
    sync = _steps(runs, 1, "sync")
    for step in range(1, STEPS + 1):
        assert _relative_difference(one[step], sync[step], one[0]) < STEPS_RTOL, step


def test_plain_batch_norm_keeps_a_copy_of_the_statistics_per_replica(runs):
    """`BatchNormalization`'s moving statistics (aggregation "none") are updated on each
    replica from its own rows, so the replicas' copies differ after `fit`: `predict`
    under the strategy normalises the second replica's rows with other statistics than
    the saved ones (the first replica's), until the weights are written back."""
    for devices in (1, 2):
        report = runs[devices][1]
        difference = np.abs(
            np.array(report["plain_predict_replica_copies"])
            - np.array(report["plain_predict_first_copy"])
        ).max(axis=-1).reshape(STEPS, 2, GLOBAL_BATCH // 2)  # (batch, replica, row)
        # The first replica's rows of every batch: its own copy, the saved statistics.
        assert np.max(difference[:, 0]) < 1e-6
        # The second replica's: its copy, after three momentum-0.99 updates (7e-4).
        if devices == 2:
            assert np.min(difference[:, 1]) > 1e-4
        else:
            assert np.max(difference[:, 1]) < 1e-6


def test_evaluate_predict_saving_and_recalibration_under_the_strategy(runs):
    """The same weights in both runs: inference and recalibration agree to round-off."""
    two, one = _load(runs, 2, "model.npz"), _load(runs, 1, "model.npz")
    for loaded in ("load_in_scope", "load_outside", "load_weights"):
        np.testing.assert_allclose(two[loaded], two["predict"], atol=1e-6, err_msg=loaded)
    np.testing.assert_allclose(two["predict"], one["predict"], atol=INFERENCE_ATOL)
    np.testing.assert_allclose(two["evaluate"], one["evaluate"], atol=INFERENCE_ATOL)
    recalibrated = [k for k in one if k.startswith("recalibrated:")]
    assert recalibrated
    assert _max_difference(one, two, recalibrated) < INFERENCE_ATOL
    report = runs[2][1]
    for where in ("in_scope", "outside"):
        assert report[f"load_{where}_type"] == "DRIFANet"
        assert report[f"load_{where}_optimizer_built"]


def test_callbacks_inside_fit(runs):
    """`paper_schedule`'s callbacks and `GradCAMCallback` run inside `fit` under the
    strategy (the values are not compared: more steps amplify round-off too much)."""
    report = runs[2][1]
    history = report["callbacks_history"]
    assert len(history["val_loss"]) == 2 and np.all(np.isfinite(history["val_loss"]))
    assert len(history["learning_rate"]) == 2
    assert report["gradcam_pngs"] == ["epoch_001.png", "epoch_002.png"]


def test_ensemble_fit_predict_uncertainty_and_gradcam_equal_one_device(runs):
    assert np.isfinite(runs[2][1]["ensemble_loss"]).all()
    one, two = _load(runs, 1, "ensemble.npz"), _load(runs, 2, "ensemble.npz")
    assert any(k.startswith("uncertainty_") for k in one)
    assert any(k.startswith("gradcam_raw_") for k in one)
    assert any(k.startswith("gradcam_mc_raw_") for k in one)
    # Seeded MC sampling and Grad-CAM of the same weights. Both run models they build
    # outside the scope (sampling copies, Grad-CAM's split graphs), so on one device even
    # under the strategy: the same computation.
    deterministic = [k for k in one if not k.startswith("gradcam_mc_")]
    assert _max_difference(one, two, deterministic) < INFERENCE_ATOL
    assert min(float(np.max(one[k])) for k in deterministic if "gradcam_raw_" in k) > 0
    # Grad-CAM's MC samples draw unseeded masks: the same shapes and ranges.
    for key in set(one) - set(deterministic):
        assert two[key].shape == one[key].shape
        assert np.all(np.isfinite(two[key])) and np.min(two[key]) >= 0


def test_replicas_draw_dropout_masks_of_their_own(runs):
    """Keras advances a `SeedGenerator` on each replica alike, so every replica would
    drop the same units of its rows; `backend.dropout.dropout` folds the replica into the seed."""
    report = runs[2][1]
    assert report["replica_masks_equal_training"] is False
    assert report["replica_masks_equal_sampling"] is False


def backup_contents(folder):
    """Every array and attribute of a backup's weights file, by its HDF5 path."""
    found = {}
    with h5py.File(folder / "latest.weights.h5", "r") as f:
        f.visititems(lambda name, item: found.__setitem__(name, item[()])
                     if isinstance(item, h5py.Dataset) else None)
        found.update({f"attrs/{k}": np.asarray(v) for k, v in f.attrs.items()})
    return found


def test_the_example_interrupted_mid_epoch_resumes_to_the_uninterrupted_weights(runs):
    """The example under `MirroredStrategy`: its backup folder as a kill at the second
    batch of its second epoch leaves it (copied there), relaunched, ends with the backup
    of the run that was not interrupted, bit for bit: weights, batch-norm statistics,
    optimizer state and seed states (the same arithmetic replayed from the same state)."""
    folder, out = runs["example"]
    assert "process 0 of 1, 2 replicas" in out["uninterrupted"]
    assert "trained epochs 1-2" in out["uninterrupted"]
    assert "trained epochs 2-2" in out["resumed"]  # resumed from the backup of epoch 1
    last = [out[run].split("last val_loss")[1] for run in ("uninterrupted", "resumed")]
    assert last[0] == last[1]
    resumed, reference = (backup_contents(folder / d) for d in ("resumed", "uninterrupted"))
    assert resumed.keys() == reference.keys()
    assert int(reference["attrs/keras_drifa_backup_epoch"]) == 2
    assert any("batch_normalization" in k for k in reference)  # statistics compared too
    for key in reference:
        np.testing.assert_array_equal(resumed[key], reference[key], err_msg=key)


def test_setup_refuses_several_tensorflow_workers(monkeypatch):
    from keras_drifa.distributed import cluster

    monkeypatch.setenv(
        "TF_CONFIG",
        json.dumps({"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 0}}),
    )
    with pytest.raises(ValueError, match="TF_CONFIG names several TensorFlow workers"):
        cluster._setup_tensorflow(None, None, None, None)
    assert cluster.current() is None
