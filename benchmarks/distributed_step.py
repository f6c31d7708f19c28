"""One device against two, side by side in one run, on the current backend's own engine.

Each measure is a fresh process (or two, for two PyTorch ranks): a DRIFA-Net at
`--widths` and `--size`, a global batch of `--batch-size` image pairs, SGD steps through
`fit` on fixed data; it prints the time to the first step (compilation included) and the
steady time per step. Two devices are what the machine offers without accelerators:
two virtual CPU devices (JAX: `--xla_force_host_platform_device_count`, TensorFlow:
logical devices) or two gloo ranks (PyTorch, `torchrun`). They share the same cores as
one device does, so the ratio is the engine's overhead, never a speed-up; on GPUs the
same script measures the real thing.

    KERAS_BACKEND=jax python benchmarks/distributed_step.py [--paper] [--steps 10]
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import time

parser = argparse.ArgumentParser()
parser.add_argument("--size", type=int, default=32)
parser.add_argument("--batch-size", type=int, default=16)
parser.add_argument("--widths", type=int, nargs="+", default=[16, 32, 64, 128])
parser.add_argument("--paper", action="store_true", help="the paper's widths at 64x64")
parser.add_argument("--steps", type=int, default=10)
parser.add_argument("--sync-batch-norm", action="store_true")
parser.add_argument("--worker", type=int, default=0, help=argparse.SUPPRESS)
args = parser.parse_args()
BACKEND = os.environ.get("KERAS_BACKEND", "tensorflow")


def worker():
    if BACKEND == "tensorflow" and args.worker > 1:
        import tensorflow as tf

        (cpu,) = tf.config.list_physical_devices("CPU")
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * args.worker
        )
    import keras
    import numpy as np

    import keras_drifa

    cluster = keras_drifa.distributed.setup()
    size, widths = (64, (64, 128, 256, 512)) if args.paper else (args.size, tuple(args.widths))
    keras.utils.set_random_seed(0)
    with cluster.scope():
        model = keras_drifa.build_model(
            2, (size, size, 3), (5, 7), widths=widths, sync_batch_norm=args.sync_batch_norm,
            blocks_per_stage=(2,) * len(widths),
        )
        model.compile(optimizer=keras.optimizers.SGD(0.01), loss="categorical_crossentropy")
    batch = cluster.process_batch_size(args.batch_size)
    rng = np.random.default_rng(cluster.process_index)
    x = [rng.random((batch, size, size, 3), dtype="float32") for _ in range(2)]
    y = [np.eye(k, dtype="float32")[rng.integers(0, k, batch)] for k in (5, 7)]

    class Timer(keras.callbacks.Callback):
        def on_train_batch_begin(self, step, logs=None):
            self.times.append(time.perf_counter())

    timer = Timer()
    timer.times = []
    start = time.perf_counter()
    model.fit([np.tile(v, (args.steps + 1,) + (1,) * (v.ndim - 1)) for v in x],
              [np.tile(v, (args.steps + 1, 1)) for v in y], batch_size=batch, epochs=1,
              shuffle=False, verbose=0, callbacks=[timer])
    end = time.perf_counter()
    times = timer.times + [end]
    if cluster.is_chief:
        print(json.dumps({
            "replicas": cluster.num_replicas, "first_step_s": times[1] - start,
            "step_ms": 1000 * (times[-1] - times[1]) / args.steps,
        }))


def measure(devices):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("XLA_FLAGS", None)
    script = [os.path.abspath(__file__), *sys.argv[1:], "--worker", str(devices)]
    if BACKEND == "jax" and devices > 1:
        env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    if BACKEND == "torch" and devices > 1:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        command = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={devices}",
                   "--master_addr=127.0.0.1", f"--master_port={port}", *script]
    else:
        command = [sys.executable, *script]
    out = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1800)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode or not lines:
        sys.exit(f"measure with {devices} devices failed:\n{out.stdout[-3000:]}{out.stderr[-3000:]}")
    return json.loads(lines[-1])


if args.worker:
    worker()
else:
    print(f"backend {BACKEND}, load average {os.getloadavg()[0]:.2f} at the start")
    one, two = measure(1), measure(2)
    print(f"{'':22s}{'first step (s)':>16s}{'steady (ms/step)':>18s}")
    for name, result in (("one device", one), ("two devices", two)):
        print(f"{name:22s}{result['first_step_s']:16.1f}{result['step_ms']:18.1f}")
    print(f"two / one, steady step time: {two['step_ms'] / one['step_ms']:.2f} "
          f"(virtual devices share the same cores: overhead, not speed-up)")
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
