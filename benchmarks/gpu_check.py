"""The paper configuration on a GPU: speed, memory, sampling and Grad-CAM, one backend.

Builds DRIFA-Net as in the paper (two modalities, 128x128x3, heads of 5 and 7 classes)
under the `mixed_float16` policy (the authors' setting) and prints: the time to the
first training step, steady training throughput (image pairs/s), the peak device memory,
and one `predict_uncertainty` (30 samples) and one `GradCAM` call with their times.
`scripts/gpu_check.sh` runs it for every backend.

    KERAS_BACKEND=jax python benchmarks/gpu_check.py
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_drifa  # noqa: E402
from keras_drifa.explain import GradCAM  # noqa: E402


def peak_device_memory_mib():
    """Peak memory allocated on the first accelerator by this process, or None."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        if not tf.config.list_physical_devices("GPU"):
            return None
        return tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20
    if backend == "jax":
        import jax

        device = jax.devices()[0]
        stats = device.memory_stats() if device.platform != "cpu" else None
        return stats["peak_bytes_in_use"] / 2**20 if stats else None
    import torch

    return torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None


def device_name():
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        return gpus[0].name if gpus else "CPU"
    if backend == "jax":
        import jax

        return str(jax.devices()[0])
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--policy", default="mixed_float16")
    args = parser.parse_args()
    keras.mixed_precision.set_global_policy(args.policy)
    print(f"backend={keras.backend.backend()} device={device_name()} policy={args.policy} "
          f"size={args.size} batch={args.batch_size}")

    rng = np.random.default_rng(0)
    xs = [rng.random((args.batch_size, args.size, args.size, 3), dtype=np.float32) for _ in range(2)]
    ys = [keras.utils.to_categorical(rng.integers(0, n, args.batch_size), n) for n in (5, 7)]
    model = keras_drifa.build_model(input_shape=(args.size, args.size, 3), num_classes=(5, 7))
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=["categorical_crossentropy"] * 2,
                  loss_weights=[0.5, 0.5])

    start = time.perf_counter()
    keras.ops.convert_to_numpy(model.train_on_batch(xs, ys)[0])
    print(f"first training step:     {time.perf_counter() - start:8.1f} s")
    model.train_on_batch(xs, ys)
    start = time.perf_counter()
    for _ in range(args.steps):
        loss = model.train_on_batch(xs, ys)
    keras.ops.convert_to_numpy(loss[0])
    print(f"steady training:         {args.steps * args.batch_size / (time.perf_counter() - start):8.1f} pairs/s")

    ensemble = keras_drifa.MCDropoutEnsemble([model])
    for label in ("first", "second"):
        start = time.perf_counter()
        ensemble.predict_uncertainty(xs, num_samples=30, seed=0, verbose=0)
        print(f"predict_uncertainty ({label}, 30 samples): {time.perf_counter() - start:6.1f} s")
    cam = GradCAM(model)
    for label in ("first", "second"):
        start = time.perf_counter()
        cam(xs, task=0, verbose=0)
        print(f"GradCAM ({label}):        {time.perf_counter() - start:8.1f} s")
    peak = peak_device_memory_mib()
    print("peak device memory:      " + ("no accelerator" if peak is None else f"{peak:8.0f} MiB"))


if __name__ == "__main__":
    main()
