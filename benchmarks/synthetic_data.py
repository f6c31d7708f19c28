"""Generation speed of `keras_drifa.data.make_synthetic` on one CPU core.

Prints, at 64x64 (or --size), the images per second of each modality kind and of the
default two-modality data set, as wall-clock and as CPU time (CPU time is steadier on a
shared machine), and the ratio to the target of 2,000 images per second. A two-modality
sample is two images. Each figure is the best of --repeats runs.

    python benchmarks/synthetic_data.py
    python benchmarks/synthetic_data.py --samples 8000 --size 128

Uses one core: the generator is plain NumPy, and the thread pools of the BLAS libraries
are limited to one thread before NumPy is imported.
"""

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_variable] = "1"

import argparse  # noqa: E402
import time  # noqa: E402

from keras_drifa.data import make_synthetic  # noqa: E402

TARGET = 2000  # images per second at 64x64 on one core


def measure(repeats, **kwargs):
    """Best (wall, cpu) seconds over `repeats` calls of make_synthetic(**kwargs)."""
    make_synthetic(**{**kwargs, "num_samples": 128})  # warm-up
    wall = cpu = float("inf")
    for _ in range(repeats):
        start_wall, start_cpu = time.perf_counter(), time.process_time()
        make_synthetic(**kwargs)
        wall = min(wall, time.perf_counter() - start_wall)
        cpu = min(cpu, time.process_time() - start_cpu)
    return wall, cpu


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--samples", type=int, default=4000, help="samples per run (default: %(default)s)"
    )
    parser.add_argument(
        "--size", type=int, default=64, help="image height and width (default: %(default)s)"
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="runs per configuration (default: %(default)s)"
    )
    args = parser.parse_args()

    cases = [
        ("cytology", dict(modalities=["cytology"], num_classes=5)),
        ("dermoscopy", dict(modalities=["dermoscopy"], num_classes=7)),
        ("mri", dict(modalities=["mri"], num_classes=4)),
        ("default: cytology + dermoscopy, multitask", dict()),
        ("cytology + dermoscopy, paired", dict(label_mode="paired", num_classes=5)),
    ]
    print(
        f"make_synthetic, {args.samples} samples of {args.size}x{args.size}, "
        f"best of {args.repeats}, one core"
    )
    print(
        f"{'configuration':44s} {'images/s wall':>13s} {'images/s CPU':>12s} "
        f"{'wall/target':>11s} {'CPU/target':>10s}"
    )
    for name, kwargs in cases:
        images = args.samples * len(kwargs.get("modalities", [None, None]))
        wall, cpu = measure(args.repeats, num_samples=args.samples, image_size=args.size, **kwargs)
        print(
            f"{name:44s} {images / wall:13,.0f} {images / cpu:12,.0f} "
            f"{images / wall / TARGET:10.2f}x "
            f"{images / cpu / TARGET:9.2f}x"
        )
    print(f"target: {TARGET:,} images/s at 64x64 on one core")


if __name__ == "__main__":
    main()
