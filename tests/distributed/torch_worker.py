"""One `torchrun` rank (or, with --single, the one-process reference) of test_torch.py.

The tiny DRIFA-Net, data and optimizer of train_worker.py, several configurations
(`--runs`) trained one after the other in the same process: importing Keras and building
the model take most of a process's time on a small CPU, so one launch serves several
tests. Each process feeds its own part of every global batch and trains epochs of
`--steps` SGD (momentum) steps, `shuffle=False`. Runs:

- `sync`: `build_model(sync_batch_norm=True)`, 3 epochs; afterwards Grad-CAM maps of each
  shard.
- `local`: `build_model()` (per-rank batch-norm statistics), 1 epoch.
- `ensemble`: an `MCDropoutEnsemble` of two sync-BN members, 2 epochs; afterwards
  `predict_uncertainty` of each shard, with MC dropout.

For each run R this process (rank k; 0 with --single) writes into --out:
- `R-rank{k}.npz`: every weight of the model, then the optimizer's variables.
- `R-rank{k}.json`: `attempt` (torchrun's restart count), `epochs` (`history.epoch`),
  `history` (the logs `fit` reports, reduced over the ranks) and `local` (this rank's
  own logs at the end of each epoch, those of its last batch).
- `R-explain{s}-by-rank{k}.npz`: the Grad-CAM maps or uncertainty of shard s's rows, for
  every shard.
- `sync-rank{k}-epoch{e}.npz`: the weights after epoch e (1-based) of run `sync`.
With `--backup DIR`: run `sync` with `keras_drifa.callbacks.BackupAndRestore(DIR/sync)`,
and `sync-rank{k}-restored.npz`: the weights just after its restore.
With `--kill-at-epoch E` the last rank kills itself (SIGKILL) after the first batch of
epoch E (0-based) on torchrun's first attempt.
"""

import argparse
import json
import os
import signal
import sys

parser = argparse.ArgumentParser()
parser.add_argument("--out", required=True)
parser.add_argument("--runs", default="sync")
parser.add_argument("--single", action="store_true", help="no setup(): the one-process reference")
parser.add_argument("--shards", type=int, default=2, help="with --single: shards to explain")
parser.add_argument("--steps", type=int, default=2)
parser.add_argument("--global-batch", type=int, default=8)
parser.add_argument("--backup")
parser.add_argument("--kill-at-epoch", type=int)
args = parser.parse_args()

# Keras's set_random_seed also seeds TensorFlow where it is installed, importing it (2 s
# of CPU per process, ten processes per test run) for runs that never use it.
sys.modules.setdefault("tensorflow", None)

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_drifa  # noqa: E402

cluster = None if args.single else keras_drifa.distributed.setup()
rank, count = (0, args.shards) if cluster is None else cluster.data_shard
attempt = int(os.environ.get("TORCHELASTIC_RESTART_COUNT", 0))
DROPOUT = 0.25
# Two stages: stage 1 has MC dropout and an MFA after its block, and its 8x8 maps are
# Grad-CAM's target.
WIDTHS = (4, 8)
EPOCHS = {"sync": 3, "local": 1, "ensemble": 2}

rng = np.random.default_rng(0)
n = args.global_batch * args.steps
x = [rng.random((n, 16, 16, 3), dtype="float32") for _ in range(2)]
y = [np.eye(k, dtype="float32")[rng.integers(0, k, n)] for k in (3, 4)]


def shard_rows(index):
    """Rows of shard `index` in every global batch: [k*b/p, (k+1)*b/p) of each."""
    part = args.global_batch // count
    return np.concatenate([
        np.arange(s * args.global_batch + index * part, s * args.global_batch + (index + 1) * part)
        for s in range(args.steps)
    ])


def build(sync_batch_norm, dropout_rate=0.0):
    return keras_drifa.build_model(
        2, (16, 16, 3), (3, 4), widths=WIDTHS, blocks_per_stage=(1,) * len(WIDTHS),
        dropout_rate=dropout_rate, sync_batch_norm=sync_batch_norm,
    )


def mc_dropout(ensemble):
    return [layer for member in ensemble.members for layer in member.layers
            if isinstance(layer, keras_drifa.layers.MCDropout)]


def save(name, model):
    variables = model.weights + model.optimizer.variables
    arrays = {f"{i}:{v.path}": keras.ops.convert_to_numpy(v.value) for i, v in enumerate(variables)}
    np.savez(os.path.join(args.out, name), **arrays)


class Record(keras.callbacks.Callback):
    """This rank's own logs (batch logs are not reduced) and the snapshots named above."""

    def __init__(self, run):
        super().__init__()
        self.run, self.local, self.last = run, [], None

    def on_train_begin(self, logs=None):
        if args.backup and self.run == "sync":
            save(f"{self.run}-rank{rank}-restored.npz", self.model)

    def on_train_batch_begin(self, batch, logs=None):
        if (self.epoch, batch, attempt) == (args.kill_at_epoch, 1, 0) and rank == count - 1:
            os.kill(os.getpid(), signal.SIGKILL)

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        self.last = {k: float(v) for k, v in logs.items()}

    def on_epoch_end(self, epoch, logs=None):
        self.local.append(self.last)
        if self.run == "sync":
            save(f"{self.run}-rank{rank}-epoch{epoch + 1}.npz", self.model)


for run in args.runs.split(","):
    keras.utils.set_random_seed(1)  # the same initial weights in every process
    if run == "ensemble":
        model = keras_drifa.MCDropoutEnsemble(lambda: build(True, DROPOUT), num_members=2)
        # Each rank draws its own dropout masks for its rows, so no data-parallel run can
        # match one process's masks: train without dropout, sample with it afterwards.
        for layer in mc_dropout(model):
            layer.rate = 0.0
    else:
        model = build(run == "sync")
    model.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9),
                  loss="categorical_crossentropy")
    record = Record(run)
    callbacks = [record]
    if args.backup and run == "sync":
        callbacks.insert(0, keras_drifa.callbacks.BackupAndRestore(os.path.join(args.backup, run)))
    rows = shard_rows(rank) if cluster is not None else np.arange(n)
    history = model.fit([v[rows] for v in x], [v[rows] for v in y],
                        batch_size=len(rows) // args.steps, epochs=EPOCHS[run],
                        shuffle=False, verbose=0, callbacks=callbacks)
    save(f"{run}-rank{rank}.npz", model)
    with open(os.path.join(args.out, f"{run}-rank{rank}.json"), "w") as f:
        json.dump({"attempt": attempt, "epochs": history.epoch,
                   "history": history.history, "local": record.local}, f)
    # Every process explains every shard's rows, outside DDP: rank k's maps of shard j
    # must equal rank j's own.
    for s in range(count):
        inputs = [v[shard_rows(s)] for v in x]
        if run == "sync":
            # The stage-1 maps (4x4): the default, last ones are 1x1 at this input size.
            cam = keras_drifa.explain.GradCAM(model, [f"modality_{m}_block1" for m in (0, 1)])
            explained = cam(inputs, task=0, verbose=0)
        elif run == "ensemble":
            for layer in mc_dropout(model):
                layer.rate = DROPOUT
            u = model.predict_uncertainty(inputs, num_samples=3, batch_size=4, seed=7, verbose=0)
            explained = {f"{t}/{k}": v for t, r in u.items() for k, v in r.items()}
        else:
            continue
        np.savez(os.path.join(args.out, f"{run}-explain{s}-by-rank{rank}.npz"), **explained)
