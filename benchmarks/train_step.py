"""Training speed of the paper configuration on the current Keras backend.

Prints, for DRIFA-Net with the paper's widths and blocks at 64x64 inputs, batch 16, two
modalities: time to build, time to the first training step (tracing/compilation included),
steady training throughput in image pairs per second, and the achieved GFLOP/s as a
fraction of a float32 matrix-multiply peak measured in the same run.

    KERAS_BACKEND=tensorflow python benchmarks/train_step.py
    KERAS_BACKEND=jax python benchmarks/train_step.py --steps 20
    KERAS_BACKEND=torch python benchmarks/train_step.py

Runs unchanged on a GPU: Keras places the model and data on the default device.
"""

import argparse
import time

import keras
import numpy as np

import keras_drifa


def matmul_peak_gflops(n=2048, repeats=10):
    """Float32 matrix-multiply throughput of this backend and device, in GFLOP/s."""
    a = keras.random.normal((n, n), seed=0)
    b = keras.random.normal((n, n), seed=1)
    keras.ops.convert_to_numpy(keras.ops.matmul(a, b))  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        keras.ops.convert_to_numpy(keras.ops.sum(keras.ops.matmul(a, b)))
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def drifa_forward_flops(size, channels=(3, 3), widths=(64, 128, 256, 512), blocks=(2, 2, 2, 2)):
    """Forward multiply-add FLOPs (2 per MAC) of one sample, counted from the architecture.

    Counts convolutions and the matrix products of the attention layers (the 1x1
    convolutions on full feature maps dominate those); pooling and element-wise work is
    left out, so the figure is a slight underestimate.
    """

    def conv(h, k, cin, cout):
        return 2 * h * h * k * k * cin * cout

    def mfa(h, c):  # 4 HIFA convolutions + 1 CLIA convolution on the map; tiny vector work
        return 5 * 2 * h * h * c * c + 2 * (2 * c * c + c * c + c * c)

    def mifa(hs, c):  # one convolution per modality on its map, plus the shared dense
        return sum(2 * h * h * c * c for h in hs) + 3 * 2 * c * c

    total = 0
    num_blocks = sum(blocks)
    h = size // 2
    for cin in channels:
        total += conv(h, 7, cin, widths[0]) + mfa(h, widths[0])
    h = h // 2
    c, k = widths[0], 0
    for stage, (f, n) in enumerate(zip(widths, blocks)):
        for b in range(n):
            k += 1
            stride = 2 if stage > 0 and b == 0 else 1
            h_out = -(-h // stride)
            per_branch = conv(h_out, 3, c, f) + conv(h_out, 3, f, f) + 2 * mfa(h_out, f)
            if stride != 1 or c != f:
                per_branch += conv(h_out, 1, c, f)
            if k < num_blocks:
                per_branch += mfa(h_out, f)
            total += len(channels) * per_branch + mifa([h_out] * len(channels), f)
            c, h = f, h_out
    return total


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64, help="input height and width")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--steps", type=int, default=10, help="timed steps after the first")
    args = parser.parse_args()
    backend = keras.backend.backend()
    print(f"backend={backend} keras={keras.__version__} size={args.size} batch={args.batch_size}")

    peak = matmul_peak_gflops()
    print(f"matmul peak (float32, 2048^3):     {peak:9.1f} GFLOP/s")

    start = time.perf_counter()
    model = keras_drifa.build_model(input_shape=(args.size, args.size, 3), num_classes=(5, 7))
    build_s = time.perf_counter() - start
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=["categorical_crossentropy"] * 2,
        loss_weights=[0.5, 0.5],
    )
    rng = np.random.default_rng(0)
    xs = [rng.random((args.batch_size, args.size, args.size, 3), dtype=np.float32) for _ in range(2)]
    ys = [keras.utils.to_categorical(rng.integers(0, n, args.batch_size), n) for n in (5, 7)]

    start = time.perf_counter()
    model.train_on_batch(xs, ys)
    first_step_s = time.perf_counter() - start
    model.train_on_batch(xs, ys)  # one more warm-up step (allocators, autotuning)

    start = time.perf_counter()
    for _ in range(args.steps):
        loss = model.train_on_batch(xs, ys)
    keras.ops.convert_to_numpy(loss if not isinstance(loss, list) else loss[0])
    steady_s = (time.perf_counter() - start) / args.steps

    pairs_per_s = args.batch_size / steady_s
    train_flops = 3 * drifa_forward_flops(args.size) * args.batch_size  # forward + backward
    achieved = train_flops / steady_s / 1e9
    print(f"parameters:                        {model.count_params():,}")
    print(f"build:                             {build_s:9.2f} s")
    print(f"first training step (compile):     {first_step_s:9.2f} s")
    print(f"steady training throughput:        {pairs_per_s:9.2f} image pairs/s")
    print(f"achieved:                          {achieved:9.1f} GFLOP/s")
    print(f"fraction of matmul peak:           {achieved / peak:9.1%}")


if __name__ == "__main__":
    main()
