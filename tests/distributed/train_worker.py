"""One JAX process of test_jax.py: trains tiny DRIFA-Nets and saves their weights.

Run in subprocesses, one per process of a run. `--runs` lists what this process trains,
one after the other (importing Keras and compiling take most of a process's time on a
small CPU, so one process serves several tests):

- `one:model`, `one:ensemble`: the one-device references, without `setup()`: a
  `build_model` model, and an `MCDropoutEnsemble` of two; with `--inference-out`, the
  ensemble's uncertainty and Grad-CAM on each of `--reference-shards` shards' rows.
- `dp:model`, `dp:ensemble`: the same under `keras_drifa.distributed.setup()` (called
  before the first of them), each process feeding its own part of every global batch;
  with `--inference-out`, uncertainty and Grad-CAM of this process's rows.

Every run trains `--epochs` epochs of `--steps` momentum-SGD steps on fixed data
(`shuffle=False`) and writes every weight (trainable and batch-norm statistics) to
`--out/{run}.npz` (`:` replaced by `-`; the chief only) and the epochs it ran to a `.json`
beside it. `--gradcam-log-dir`: a `GradCAMCallback` inside `fit`; `--backup`:
`keras_drifa.callbacks.BackupAndRestore`; the environment variable
`KERAS_DRIFA_TEST_KILL_AT_EPOCH`: the last process kills itself (SIGKILL) at the second
batch of that epoch (0-based), for the fault test.
"""

import argparse
import contextlib
import json
import os
import signal
import sys
import time

STARTED = time.perf_counter()

parser = argparse.ArgumentParser()
parser.add_argument("--out", required=True)
parser.add_argument("--runs", required=True)
parser.add_argument("--steps", type=int, default=2)
parser.add_argument("--epochs", type=int, default=2)
parser.add_argument("--global-batch", type=int, default=8)
parser.add_argument("--learning-rate", type=float, default=0.05)
parser.add_argument("--momentum", type=float, default=0.9)
parser.add_argument("--dropout-rate", type=float, default=0.25)
parser.add_argument("--inference-out", action="store_true")
parser.add_argument("--reference-shards", type=int, default=2)
parser.add_argument("--gradcam-log-dir")
parser.add_argument("--backup")
parser.add_argument("--plain-members", action="store_true",
                    help="ensemble members without MFA and MIFA (half the compile time)")
args = parser.parse_args()

# Keras's set_random_seed also seeds TensorFlow where it is installed, importing it (2 s
# of CPU per process) for runs that never use it.
sys.modules.setdefault("tensorflow", None)

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_drifa  # noqa: E402

print(f"{time.perf_counter() - STARTED:.1f} s: imported", flush=True)

SHAPE = (16, 16, 3)
# One stage: every kind of layer of DRIFA-Net (stem MFA, an RRA block, MIFA, the head's
# MC dropout) at a quarter of the four-stage compile time.
WIDTHS = (8,)


def build(attention=True):
    return keras_drifa.build_model(
        2, SHAPE, (3, 4), widths=WIDTHS, blocks_per_stage=(1,) * len(WIDTHS),
        dropout_rate=args.dropout_rate, use_mfa=attention, use_mifa=attention,
    )


rng = np.random.default_rng(0)
n = args.global_batch * args.steps
data_x = [rng.random((n, *SHAPE), dtype="float32") for _ in range(2)]
data_y = [np.eye(k, dtype="float32")[rng.integers(0, k, n)] for k in (3, 4)]


def shard_rows(index, count):
    """Shard `index`'s part of every global batch: rows [k*b/p, (k+1)*b/p) of each."""
    part = args.global_batch // count
    return np.concatenate([
        np.arange(s * args.global_batch + index * part, s * args.global_batch + (index + 1) * part)
        for s in range(args.steps)
    ])


class KillMidEpoch(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.kill_at, self.epoch = epoch, None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_begin(self, step, logs=None):
        if (self.epoch, step) == (self.kill_at, 1):
            os.kill(os.getpid(), signal.SIGKILL)


def inference(model, rows_x):
    """Grad-CAM of the first member and the ensemble's seeded MC uncertainty."""
    cam = keras_drifa.explain.GradCAM(model.members[0])
    results = {f"gradcam/{m}": np.asarray(v) for m, v in cam(rows_x, task=0, verbose=0).raw.items()}
    u = model.predict_uncertainty(rows_x, num_samples=4, seed=0, verbose=0)
    results.update({f"{t}/{k}": np.asarray(v) for t, r in u.items() for k, v in r.items()})
    return results


def out(name):
    return os.path.join(args.out, name)


cluster = None
for run in args.runs.split(","):
    where, kind = run.split(":")
    if where == "one" and cluster is not None:
        raise SystemExit(f"{run}: the one-device runs come before the first dp: run")
    if cluster is None:
        keras.backend.clear_session()  # layer names of a fresh process: the same weight keys
    if where == "dp" and cluster is None:  # after clear_session, which forgets a distribution
        cluster = keras_drifa.distributed.setup()
    shard = cluster.data_shard if where == "dp" else None
    x, y, batch = data_x, data_y, args.global_batch
    if shard is not None:
        rows = shard_rows(*shard)
        x, y, batch = [v[rows] for v in x], [v[rows] for v in y], batch // shard[1]

    keras.utils.set_random_seed(1)
    with cluster.scope() if where == "dp" else contextlib.nullcontext():
        model = (
            keras_drifa.MCDropoutEnsemble(lambda: build(not args.plain_members), num_members=2)
            if kind == "ensemble" else build()
        )
        model.compile(optimizer=keras.optimizers.SGD(args.learning_rate, momentum=args.momentum),
                      loss="categorical_crossentropy")
    callbacks = []
    if args.backup:
        callbacks.append(keras_drifa.callbacks.BackupAndRestore(args.backup, delete_checkpoint=False))
    kill_at_epoch = os.environ.get("KERAS_DRIFA_TEST_KILL_AT_EPOCH")
    if kill_at_epoch is not None and shard is not None and shard[0] == shard[1] - 1:
        callbacks.append(KillMidEpoch(int(kill_at_epoch)))
    if args.gradcam_log_dir:
        callbacks.append(keras_drifa.callbacks.GradCAMCallback(
            [v[:2] for v in x], args.gradcam_log_dir, tensorboard=False))
    history = model.fit(x, y, batch_size=batch, epochs=args.epochs, shuffle=False, verbose=0,
                        callbacks=callbacks)
    print(f"{time.perf_counter() - STARTED:.1f} s: {run} trained", flush=True)
    # Reading a global array is a collective: every process takes part, the chief writes.
    weights = {f"{i}:{v.path}": keras.ops.convert_to_numpy(v.value) for i, v in enumerate(model.weights)}
    name = run.replace(":", "-")
    if cluster is None or where == "one" or cluster.is_chief:
        with open(out(f"{name}.json"), "w") as f:
            json.dump({"epochs": history.epoch}, f)
        np.savez(out(f"{name}.npz"), **weights)
    if args.inference_out and kind == "ensemble":
        # Each process explains its own rows; the one-device reference explains each
        # shard's rows on their own (MC dropout masks depend on a row's batch, not on the
        # devices).
        if shard is None:
            for k in range(args.reference_shards):
                part = shard_rows(k, args.reference_shards)
                np.savez(out(f"{name}.{k}.npz"), **inference(model, [v[part] for v in x]))
        else:
            np.savez(out(f"{name}.{shard[0]}.npz"), **inference(model, x))
        print(f"{time.perf_counter() - STARTED:.1f} s: {run} explained", flush=True)
