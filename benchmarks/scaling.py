"""How DRIFA-Net's cost grows: input size, modalities, batch and ensemble members.

One factor at a time moves away from a base row (the paper widths, `--base-size` inputs,
two modalities, batch 16, one member); every row is a fresh process on the current
backend and prints the time per image pair of a steady training step, the time to the
first training step (tracing and compilation included), the peak memory and the ratio of
the time per pair to the base row's next to the ratio that the FLOP count predicts.

The FLOP count grows with height x width (every convolution runs on maps that shrink by
the same strides), with the number of modalities (one branch each) and with the number of
members, and it does not change with the batch: the "FLOPs" column is that product of
ratios. Where the measured ratio departs from it, something other than arithmetic grows
(memory traffic, per-op overhead, compilation).

Peak memory is the process's peak resident set size on a CPU (the framework's own
libraries included, so compare rows, not absolute values) and the peak device memory on a
GPU.

    KERAS_BACKEND=jax python benchmarks/scaling.py                  # every row, 64x64 base
    KERAS_BACKEND=torch python benchmarks/scaling.py --base-size 128  # the 128x128 rows
    KERAS_BACKEND=jax python benchmarks/scaling.py --factor size members --steps 3
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time

from gpu_check import device_name, peak_device_memory_mib
from train_step import RESULT, _setup, _sync

FACTORS = {
    "size": ("size", (64, 128, 224)),
    "modalities": ("modalities", (1, 2, 3)),
    "batch": ("batch", (8, 16, 32)),
    "members": ("members", (1, 3, 5)),
}
HEADS = (5, 7)


def measure(config, steps, policy):
    """One row: build, first step, steady steps; runs in its own process."""
    keras, np, keras_drifa = _setup()
    keras.mixed_precision.set_global_policy(policy)
    size, modalities, batch, members = (
        config["size"], config["modalities"], config["batch"], config["members"]
    )
    rng = np.random.default_rng(0)
    xs = [rng.random((batch, size, size, 3), dtype=np.float32) for _ in range(modalities)]
    ys = [keras.utils.to_categorical(rng.integers(0, n, batch), n) for n in HEADS]

    def build():
        return keras_drifa.build_model(modalities, (size, size, 3), HEADS)

    xs = xs[0] if modalities == 1 else xs
    model = build() if members == 1 else keras_drifa.MCDropoutEnsemble(build, num_members=members)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=["categorical_crossentropy"] * 2,
                  loss_weights=[0.5, 0.5])
    start = time.perf_counter()
    _sync(keras, model.train_on_batch(xs, ys))
    first_s = time.perf_counter() - start
    _sync(keras, model.train_on_batch(xs, ys))
    start = time.perf_counter()
    for _ in range(steps):
        loss = model.train_on_batch(xs, ys)
    _sync(keras, loss)
    step_s = (time.perf_counter() - start) / steps
    device_peak = peak_device_memory_mib()
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "ms per pair": 1000 * step_s / batch,
        "first step s": first_s,
        "peak MiB": device_peak if device_peak is not None else rss_mib,
        "memory": "device" if device_peak is not None else "RSS",
        "device": device_name(),
    }


def rows(args):
    base = {"size": args.base_size, "modalities": 2, "batch": 16, "members": 1}
    seen, out = {tuple(sorted(base.items()))}, [("base", base)]
    for factor in args.factor:
        key, values = FACTORS[factor]
        if factor == "size" and args.base_size not in values:
            values = tuple(sorted({*values, args.base_size}))
        for value in values:
            config = dict(base, **{key: value})
            frozen = tuple(sorted(config.items()))
            if frozen not in seen:
                seen.add(frozen)
                out.append((factor, config))
    return base, out


def flop_ratio(config, base):
    return (
        (config["size"] / base["size"]) ** 2
        * config["modalities"] / base["modalities"]
        * config["members"] / base["members"]
    )


def run_child(config, args):
    argv = [sys.executable, os.path.abspath(__file__), "--child", json.dumps(config),
            "--steps", str(args.steps), "--policy", args.policy]
    proc = subprocess.run(argv, capture_output=True, text=True, check=False,
                          timeout=args.row_timeout)
    lines = [line for line in proc.stdout.splitlines() if line.startswith(RESULT)]
    if proc.returncode != 0 or not lines:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
        return None
    return json.loads(lines[-1][len(RESULT):])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-size", type=int, default=64)
    parser.add_argument("--factor", nargs="+", choices=FACTORS, default=list(FACTORS))
    parser.add_argument("--steps", type=int, default=3, help="timed steps per row")
    parser.add_argument("--policy", default="float32", help="dtype policy, e.g. mixed_float16")
    parser.add_argument("--row-timeout", type=float, default=900, help="seconds per row")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(RESULT + json.dumps(measure(json.loads(args.child), args.steps, args.policy)),
              flush=True)
        return

    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    base, plan = rows(args)
    print(f"backend={backend} policy={args.policy} steps={args.steps} "
          f"load average before: {os.getloadavg()[0]:.2f}", flush=True)
    header = (f"{'row':18s}{'size':>6s}{'mod':>5s}{'batch':>7s}{'memb':>6s}"
              f"{'ms/pair':>10s}{'first s':>9s}{'peak MiB':>10s}{'time x':>8s}{'FLOPs x':>9s}")
    print(header, flush=True)
    base_ms, device = None, None
    for factor, config in plan:
        start = time.perf_counter()
        try:
            result = run_child(config, args)
        except subprocess.TimeoutExpired:
            result = None
        label = "base" if factor == "base" else f"{factor}={config[FACTORS[factor][0]]}"
        cells = (f"{label:18s}{config['size']:6d}{config['modalities']:5d}"
                 f"{config['batch']:7d}{config['members']:6d}")
        if result is None:
            print(f"{cells}  failed or timed out after {time.perf_counter() - start:.0f} s",
                  flush=True)
            continue
        device = result["device"], result["memory"]
        if config == base:
            base_ms = result["ms per pair"]
        ratio = f"{result['ms per pair'] / base_ms:7.2f}x" if base_ms else f"{'-':>8s}"
        print(f"{cells}{result['ms per pair']:10.1f}{result['first step s']:9.1f}"
              f"{result['peak MiB']:10.0f}{ratio}{flop_ratio(config, base):8.2f}x", flush=True)
    if device:
        print(f"device: {device[0]}; peak memory is the {device[1]} peak")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
