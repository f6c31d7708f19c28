"""3x3 convolutions over small feature maps: `ops.conv` against a patch product.

For each map size (batch 16, the channel counts of DRIFA-Net's stages), times the forward
pass and the gradients of `keras.layers.Conv2D` and of `SmallMapConv2D` (which multiplies
gathered patches on maps of at most 4x4), compiled on JAX and TensorFlow, eager on
PyTorch, median of 5 runs after a warm-up. XLA's CPU convolution is slow when the map is
smaller than the kernel; this shows by how much on the current backend.

    KERAS_BACKEND=jax python benchmarks/small_map_conv.py
"""

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_drifa.layers._conv import SmallMapConv2D  # noqa: E402


def step_function(layer):
    """Forward pass plus the gradients with respect to the input and the weights."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        def loss(weights, x):
            outputs, _ = layer.stateless_call(weights, [], x)
            return outputs.sum()

        gradient = jax.jit(jax.grad(loss, argnums=(0, 1)))
        weights = [w.value for w in layer.trainable_weights]
        return lambda x: jax.block_until_ready(gradient(weights, x))
    if backend == "tensorflow":
        import tensorflow as tf

        @tf.function
        def run(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                total = tf.reduce_sum(layer(x))
            return tape.gradient(total, [x] + layer.trainable_weights)

        return lambda x: [g.numpy() for g in run(tf.constant(x))]
    import torch

    def run(x):
        x = torch.tensor(x, requires_grad=True)
        layer(x).sum().backward()
        return x.grad

    return run


def median_ms(function, x, repeats=5):
    function(x)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function(x)
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def main():
    print(f"backend={keras.backend.backend()}, batch 16, forward + gradients, median of 5")
    print(f"{'map':>12s} {'Conv2D':>10s} {'SmallMapConv2D':>15s}")
    for size, channels in ((8, 128), (4, 256), (4, 512), (2, 512), (1, 512)):
        x = np.random.default_rng(0).random((16, size, size, channels), dtype=np.float32)
        times = []
        for cls in (keras.layers.Conv2D, SmallMapConv2D):
            layer = cls(channels, 3, padding="same")
            layer.build(x.shape)
            times.append(median_ms(step_function(layer), x))
        print(f"{size}x{size}x{channels:<5d} {times[0]:8.1f} ms {times[1]:12.1f} ms")


if __name__ == "__main__":
    main()
