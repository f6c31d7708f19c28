"""Monte Carlo dropout sampling speed: the authors' predict loop against `predict_uncertainty`.

Paper configuration of DRIFA-Net (two modalities, heads of 5 and 7 classes, widths
64-512, two RRA blocks per stage) at 64x64 inputs, one member, a batch of 16 and 30 MC
samples, on the backend chosen by KERAS_BACKEND:

  (a) the authors' way: 30 calls of `model.predict` inside `keras_drifa.mc_sampling`;
  (b) `MCDropoutEnsemble([model]).predict_uncertainty(x, num_samples=30)`, which also
      computes the uncertainty measures.

Both are warmed up first (compilation is not timed), then timed alternately; the median
of `--repeats` runs is reported as samples per second (samples x examples / second),
with the ratio b/a. Target: b/a >= 1.3 on every backend.

    KERAS_BACKEND=jax python benchmarks/mc_uncertainty.py
    for b in tensorflow jax torch; do KERAS_BACKEND=$b python benchmarks/mc_uncertainty.py; done

`--memory-check` instead runs `predict_uncertainty` once at 128x128, batch 32, 100
samples and prints the process's peak resident memory (Linux/macOS).
"""

import argparse
import os
import resource
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_drifa  # noqa: E402
from keras_drifa.ensemble import MCDropoutEnsemble  # noqa: E402


def paper_model(image_size):
    return keras_drifa.build_model(
        modalities=2, input_shape=(image_size, image_size, 3), num_classes=(5, 7)
    )


def inputs(image_size, batch_size, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.random((batch_size, image_size, image_size, 3), dtype=np.float32) for _ in range(2)]


def authors_loop(model, x, num_samples, batch_size):
    with keras_drifa.mc_sampling(model):
        return [model.predict(x, batch_size=batch_size, verbose=0) for _ in range(num_samples)]


def peak_memory_mib():
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def speed(args):
    model = paper_model(args.image_size)
    ensemble = MCDropoutEnsemble([model])
    x = inputs(args.image_size, args.batch_size)

    def run_a():
        authors_loop(model, x, args.num_samples, args.batch_size)

    def run_b():
        ensemble.predict_uncertainty(
            x, num_samples=args.num_samples, batch_size=args.batch_size, verbose=0
        )

    start = time.perf_counter()
    run_a()
    warm_a = time.perf_counter() - start
    start = time.perf_counter()
    run_b()
    warm_b = time.perf_counter() - start
    times = {"a": [], "b": []}
    for _ in range(args.repeats):
        for key, run in (("a", run_a), ("b", run_b)):
            start = time.perf_counter()
            run()
            times[key].append(time.perf_counter() - start)
    work = args.num_samples * args.batch_size
    rate = {k: work / float(np.median(v)) for k, v in times.items()}
    print(
        f"backend={keras.backend.backend()} image={args.image_size} batch={args.batch_size} "
        f"samples={args.num_samples} members=1 repeats={args.repeats} "
        f"params={model.count_params():,}"
    )
    print(f"first call (includes compilation): a {warm_a:.1f} s, b {warm_b:.1f} s")
    for key, label in (("a", "authors' loop of model.predict"), ("b", "predict_uncertainty")):
        runs = ", ".join(f"{t:.2f}" for t in times[key])
        print(f"({key}) {label:32s} {rate[key]:8.1f} samples/s  (runs: {runs} s)")
    print(f"ratio b/a = {rate['b'] / rate['a']:.2f}x  (target >= 1.3x)")


def memory(args):
    model = paper_model(128)
    ensemble = MCDropoutEnsemble([model])
    x = inputs(128, 32)
    before = peak_memory_mib()
    start = time.perf_counter()
    ensemble.predict_uncertainty(x, num_samples=100, batch_size=32, verbose=0)
    print(
        f"backend={keras.backend.backend()} 128x128 batch=32 samples=100: "
        f"{time.perf_counter() - start:.1f} s, peak RSS {peak_memory_mib():.0f} MiB "
        f"(before sampling {before:.0f} MiB)"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--num-samples", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--memory-check", action="store_true")
    args = parser.parse_args()
    keras.utils.set_random_seed(0)
    memory(args) if args.memory_check else speed(args)


if __name__ == "__main__":
    main()
