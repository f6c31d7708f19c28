"""One process of a data-parallel test run: trains a tiny DRIFA-Net and saves its weights.

Run by tests/distributed/*.py in subprocesses (one per process or torchrun rank). The
process sets itself up with `keras_drifa.distributed.setup()`, feeds its own part of every
global batch (its `data_shard`), trains `--steps` SGD steps on fixed data and, on the
chief, writes every weight (trainable and batch-norm statistics) to `--out` (.npz).
Options (see --help): the model (--ensemble, --sync-batch-norm, --dropout-rate), the
training (--steps per epoch, --epochs, --learning-rate, --momentum), inference on each
process's rows afterwards (--inference-out), callbacks (--gradcam-log-dir, --backup) and a
process that kills itself mid-epoch (environment variable KERAS_DRIFA_TEST_KILL_AT_EPOCH)
for the fault tests.
"""

import argparse
import contextlib
import json
import os
import signal

parser = argparse.ArgumentParser()
parser.add_argument("--out", required=True)
parser.add_argument("--steps", type=int, default=2)
parser.add_argument("--global-batch", type=int, default=8)
parser.add_argument("--learning-rate", type=float, default=0.05)
parser.add_argument("--sync-batch-norm", action="store_true")
parser.add_argument("--dropout-rate", type=float, default=0.0)
parser.add_argument("--ensemble", action="store_true")
parser.add_argument("--virtual-devices", type=int, default=1)
parser.add_argument("--shuffle", action="store_true", help="fit(shuffle=True): per-process row order")
parser.add_argument("--inference-out", help="also save Grad-CAM maps and uncertainty of this process's rows")
parser.add_argument("--reference-shards", type=int, default=1, help="with --single: inference per shard's rows")
parser.add_argument("--gradcam-log-dir", help="fit with a GradCAMCallback writing here")
parser.add_argument("--epochs", type=int, default=1)
parser.add_argument("--momentum", type=float, default=0.0)
parser.add_argument("--backup", help="fit with keras_drifa.callbacks.BackupAndRestore here")
parser.add_argument("--single", action="store_true", help="no setup(): the one-device reference")
args = parser.parse_args()

if args.virtual_devices > 1 and os.environ.get("KERAS_BACKEND") == "tensorflow":
    import tensorflow as tf

    (cpu,) = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * args.virtual_devices
    )

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_drifa  # noqa: E402

cluster = None if args.single else keras_drifa.distributed.setup()
shard = cluster.data_shard if cluster is not None else None


def build():
    return keras_drifa.build_model(
        2, (16, 16, 3), (3, 4), widths=(4, 4, 8, 8), blocks_per_stage=(1, 1, 1, 1),
        dropout_rate=args.dropout_rate, sync_batch_norm=args.sync_batch_norm,
    )


rng = np.random.default_rng(0)
n = args.global_batch * args.steps
x = [rng.random((n, 16, 16, 3), dtype="float32") for _ in range(2)]
y = [np.eye(k, dtype="float32")[rng.integers(0, k, n)] for k in (3, 4)]
batch = args.global_batch


def shard_rows(index, count):
    """Shard `index`'s part of every global batch: rows [k*b/p, (k+1)*b/p) of each."""
    part = batch // count
    return np.concatenate(
        [np.arange(s * batch + index * part, s * batch + (index + 1) * part) for s in range(args.steps)]
    )


if shard is not None:
    rows = shard_rows(*shard)
    x, y, batch = [v[rows] for v in x], [v[rows] for v in y], batch // shard[1]

keras.utils.set_random_seed(1)
with cluster.scope() if cluster is not None else contextlib.nullcontext():
    model = (
        keras_drifa.MCDropoutEnsemble(build, num_members=2) if args.ensemble else build()
    )
    model.compile(optimizer=keras.optimizers.SGD(args.learning_rate, momentum=args.momentum), loss="categorical_crossentropy")
class KillMidEpoch(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_begin(self, step, logs=None):
        if (self.epoch, step) == (kill_at_epoch, 1):
            os.kill(os.getpid(), signal.SIGKILL)


callbacks = []
if args.backup:
    callbacks.append(keras_drifa.callbacks.BackupAndRestore(args.backup, delete_checkpoint=False))
# The fault tests: the last process kills itself in this epoch (0-based), mid-epoch.
kill_at_epoch = os.environ.get("KERAS_DRIFA_TEST_KILL_AT_EPOCH")
if kill_at_epoch is not None and (shard is None or shard[0] == shard[1] - 1):
    kill_at_epoch = int(kill_at_epoch)
    callbacks.append(KillMidEpoch())
if args.gradcam_log_dir:
    callbacks.append(keras_drifa.callbacks.GradCAMCallback(
        [v[:2] for v in x], args.gradcam_log_dir, tensorboard=False))
history = model.fit(x, y, batch_size=batch, epochs=args.epochs, shuffle=args.shuffle, verbose=0,
                    callbacks=callbacks)
if cluster is None or cluster.is_chief:
    with open(f"{args.out}.json", "w") as f:
        json.dump({"epochs": history.epoch}, f)
    np.savez(args.out, **{f"{i}:{v.path}": keras.ops.convert_to_numpy(v.value) for i, v in enumerate(model.weights)})

def inference(rows_x):
    """Grad-CAM of a member (or the model) and the ensemble's seeded MC uncertainty."""
    results = {}
    net = model.members[0] if args.ensemble else model
    cam = keras_drifa.explain.GradCAM(net)
    for modality, maps in cam(rows_x, task=0, verbose=0).raw.items():
        results[f"gradcam/{modality}"] = np.asarray(maps)
    if args.ensemble:
        u = model.predict_uncertainty(rows_x, num_samples=4, seed=0, verbose=0)
        for task, measures in u.items():
            for measure, value in measures.items():
                results[f"{task}/{measure}"] = np.asarray(value)
    return results


if args.inference_out:
    # Each process explains its own rows; the one-device reference explains each shard's
    # rows on their own (MC dropout masks depend on a row's batch, not on the devices).
    if cluster is None:
        for k in range(args.reference_shards):
            part = shard_rows(k, args.reference_shards)
            np.savez(f"{args.inference_out}.{k}.npz", **inference([v[part] for v in x]))
    else:
        np.savez(f"{args.inference_out}.{cluster.process_index}.npz", **inference(x))
