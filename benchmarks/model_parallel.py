"""Does `keras.distribution.ModelParallel` pay for DRIFA-Net? (JAX)

Shards the kernels of the last stage (the paper's 512-channel attention and convolution
kernels: 41 of DRIFA-Net's 54 million parameters) over a `model` axis of the devices, trains
a few SGD steps, and compares weights and step time with data parallelism over the same
devices, side by side in one process. Without GPUs: two virtual CPU devices
(`--devices 2` sets `--xla_force_host_platform_device_count`).

    KERAS_BACKEND=jax python benchmarks/model_parallel.py [--paper] [--steps 3]
"""

import argparse
import os
import time

parser = argparse.ArgumentParser()
parser.add_argument("--devices", type=int, default=2)
parser.add_argument("--steps", type=int, default=3)
parser.add_argument("--batch", type=int, default=8)
parser.add_argument("--paper", action="store_true", help="the paper's widths at 64x64")
args = parser.parse_args()
os.environ["XLA_FLAGS"] = (
    os.environ.get("XLA_FLAGS", "") + f" --xla_force_host_platform_device_count={args.devices}"
)

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_drifa  # noqa: E402

assert keras.backend.backend() == "jax", "ModelParallel is JAX's (set KERAS_BACKEND=jax)"
size, widths = (64, (64, 128, 256, 512)) if args.paper else (16, (4, 4, 8, 16))
blocks_per_stage = (2, 2, 2, 2) if args.paper else (1, 1, 1, 1)


def run(distribution):
    keras.utils.set_random_seed(0)
    with distribution.scope():
        model = keras_drifa.build_model(
            2, (size, size, 3), (3, 4), widths=widths,
            blocks_per_stage=blocks_per_stage, dropout_rate=0.0,
        )
        model.compile(optimizer=keras.optimizers.SGD(0.05), loss="categorical_crossentropy")
    rng = np.random.default_rng(0)
    n = args.batch * (args.steps + 1)
    x = [rng.random((n, size, size, 3), dtype="float32") for _ in range(2)]
    y = [np.eye(k, dtype="float32")[rng.integers(0, k, n)] for k in (3, 4)]
    start = time.perf_counter()
    model.train_on_batch([v[: args.batch] for v in x], [v[: args.batch] for v in y])
    first = time.perf_counter() - start
    start = time.perf_counter()
    for s in range(1, args.steps + 1):
        rows = slice(s * args.batch, (s + 1) * args.batch)
        model.train_on_batch([v[rows] for v in x], [v[rows] for v in y])
    steady = (time.perf_counter() - start) / args.steps
    sharded = sum(
        1 for v in model.trainable_variables if len(v.value.sharding.device_set) > 1
        and not v.value.sharding.is_fully_replicated
    )
    return [keras.ops.convert_to_numpy(v) for v in model.weights], first, steady, sharded


devices = keras.distribution.list_devices()
data = run(keras.distribution.DataParallel(devices=devices))
mesh = keras.distribution.DeviceMesh((1, len(devices)), ["batch", "model"], devices)
layouts = keras_drifa.distributed.last_stage_layout_map(mesh, blocks_per_stage)
model = run(keras.distribution.ModelParallel(layout_map=layouts, batch_dim_name="batch"))
difference = max(float(np.abs(a - b).max()) for a, b in zip(data[0], model[0]))
print(f"{len(devices)} devices, widths {widths}, {size}x{size}, batch {args.batch}")
print(f"ModelParallel: {model[3]} sharded kernels; max weight difference to DataParallel "
      f"after {args.steps + 1} steps: {difference:.2e}")
for name, (_, first, steady, _) in (("DataParallel", data), ("ModelParallel", model)):
    print(f"{name:14s} first step {first:6.1f} s, then {steady * 1000:7.1f} ms/step")
print(f"ModelParallel / DataParallel steady step time: {model[2] / data[2]:.2f}")
