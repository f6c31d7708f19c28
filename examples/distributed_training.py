"""DRIFA-Net on several devices or machines: one script for JAX, TensorFlow and PyTorch.

The engine is the backend's own (see README, "Training on several devices or machines"):

    # JAX, every device of this host; TensorFlow (MirroredStrategy), every local device
    KERAS_BACKEND=jax python examples/distributed_training.py
    KERAS_BACKEND=tensorflow python examples/distributed_training.py
    # JAX, two hosts (run on each, PROCESS_ID 0 and 1)
    KERAS_BACKEND=jax KERAS_DISTRIBUTION_JOB_ADDRESSES=host0:1234 \\
        KERAS_DISTRIBUTION_NUM_PROCESSES=2 KERAS_DISTRIBUTION_PROCESS_ID=0 \\
        python examples/distributed_training.py
    # PyTorch, 4 GPUs of one machine; two machines (node_rank 0 and 1)
    KERAS_BACKEND=torch torchrun --nproc_per_node=4 examples/distributed_training.py
    KERAS_BACKEND=torch torchrun --nnodes=2 --node_rank=0 --nproc_per_node=4 \\
        --master_addr=host0 --master_port=29500 examples/distributed_training.py
    # PyTorch with restarts after a failure (see keras_drifa.callbacks.BackupAndRestore)
    TORCH_DISABLE_SHARE_RDZV_TCP_STORE=1 KERAS_BACKEND=torch torchrun --nproc_per_node=4 \\
        --rdzv-backend=c10d --rdzv-endpoint=localhost:29500 --max-restarts=3 \\
        examples/distributed_training.py

Without accelerators, `--virtual-devices 2` splits the CPU into two devices (JAX, TensorFlow)
to try the script; `torchrun --nproc_per_node=2` does the same for PyTorch (gloo). The
numbers on virtual devices show the overhead of the engine, not a speed-up.

What differs from one-device training is three lines: `setup()`, building under
`cluster.scope()`, and `shard=cluster.data_shard, replicas=cluster.local_replicas`.
Checkpoints are written by the chief only, atomically, and a relaunch (torchrun's
`--max-restarts`, or your own) resumes from the last one with the optimizer's state, the
epoch counter, the random states and the data order: it ends with the weights of a run
that was not interrupted.
"""

import argparse
import os
import sys
import time


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--samples", type=int, default=256, help="synthetic pairs")
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--global-batch-size", type=int, default=32)
    parser.add_argument("--widths", type=int, nargs="+", default=[8, 16, 16, 32],
                        help="stage widths (64 128 256 512 is the paper's)")
    parser.add_argument("--checkpoint-dir", default="outputs/distributed_checkpoint")
    parser.add_argument("--no-sync-batch-norm", action="store_true",
                        help="per-replica batch statistics instead of global ones")
    parser.add_argument("--virtual-devices", type=int, default=1,
                        help="JAX and TensorFlow: split the CPU into this many devices")
    return parser.parse_args(argv)


def virtual_cpu_devices(count):
    """Splits the CPU into `count` devices; must run before the backend initialises."""
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    if count == 1:
        return
    if backend == "jax":
        os.environ["XLA_FLAGS"] = (
            os.environ.get("XLA_FLAGS", "") + f" --xla_force_host_platform_device_count={count}"
        )
    elif backend == "tensorflow":
        import tensorflow as tf

        (cpu,) = tf.config.list_physical_devices("CPU")
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * count
        )
    else:
        sys.exit("--virtual-devices is for JAX and TensorFlow; on PyTorch use torchrun "
                 "--nproc_per_node=N")


def main(argv=None):
    args = parse_args(argv)
    virtual_cpu_devices(args.virtual_devices)
    import keras

    import keras_drifa
    from keras_drifa.training import paper_schedule
    from keras_drifa import data as drifa_data

    cluster = keras_drifa.distributed.setup()  # 1: join the run
    say = print if cluster.is_chief else (lambda *a, **k: None)
    say(f"{cluster}; global batch {args.global_batch_size}")

    data = drifa_data.make_synthetic(
        args.samples, modalities=["cytology", "dermoscopy"], image_size=args.image_size,
        num_classes=(5, 7), seed=0,
    )
    first_task = data.task_names[0]
    train_rows, val_rows, _ = drifa_data.stratified_split(data.labels[first_task], 0.2, 0.0, seed=0)
    images = lambda rows: {m: x[rows] for m, x in data.images.items()}  # noqa: E731
    labels = lambda rows: {t: y[rows] for t, y in data.labels.items()}  # noqa: E731
    batch_size = cluster.process_batch_size(args.global_batch_size)
    train, val = (
        drifa_data.MultimodalDataset(
            images(rows), labels(rows), num_classes=data.num_classes, batch_size=batch_size,
            shuffle=shuffle, seed=0,
            shard=cluster.data_shard, replicas=cluster.local_replicas,  # 2: this process's part
        )
        for rows, shuffle in ((train_rows, True), (val_rows, False))
    )

    keras.utils.set_random_seed(0)
    with cluster.scope():  # 3: variables placed by the engine
        model = keras_drifa.build_model(
            modalities=data.modality_names, input_shape=data.input_shapes,
            num_classes=data.num_classes, widths=tuple(args.widths),
            blocks_per_stage=(1,) * len(args.widths), batch_norm_momentum=0.9,
            sync_batch_norm=not args.no_sync_batch_norm,
        )
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="categorical_crossentropy",
                      metrics=["accuracy"] * len(data.task_names))

    # The same recalibration rows on every process (batch-norm statistics stay alike).
    recalibration = images(train_rows[:64])
    backup = keras_drifa.callbacks.BackupAndRestore(args.checkpoint_dir, delete_checkpoint=False)
    train.epoch = backup.resume_epoch  # a relaunch sees the rows in the uninterrupted order
    callbacks = [backup, *paper_schedule(recalibration)]
    start = time.perf_counter()
    history = model.fit(train, validation_data=val, epochs=args.epochs, callbacks=callbacks,
                        verbose=2 if cluster.is_chief else 0)
    if not history.epoch:
        say(f"nothing to train: the backup in {args.checkpoint_dir} is at epoch "
            f"{args.epochs} already (delete it, or raise --epochs)")
        return history
    accuracies = ", ".join(
        f"{t} {history.history[f'val_{t}_accuracy'][-1]:.3f}" for t in data.task_names
    )
    say(f"trained epochs {history.epoch[0] + 1}-{history.epoch[-1] + 1} in "
        f"{time.perf_counter() - start:.1f} s; last val_loss "
        f"{history.history['val_loss'][-1]:.4f}; validation accuracy {accuracies}")
    return history


if __name__ == "__main__":
    main()
