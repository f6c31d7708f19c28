"""Sigmoid 1x1 convolution as `Dense` (a matrix product over channels) against `Conv2D`.

DRIFA's attention layers apply many sigmoid 1x1 convolutions to full feature maps. Both
forms have the same parameters and compute the same numbers; this prints the time of a
forward and backward pass of each, side by side in one run, and their ratio.

    KERAS_BACKEND=torch python benchmarks/pointwise_projection.py
"""

import time

import keras
import numpy as np


def time_train_steps(layer, x, steps=20):
    inputs = keras.Input(x.shape[1:])
    model = keras.Model(inputs, layer(inputs))
    model.compile(optimizer="sgd", loss="mse")
    y = np.zeros(x.shape[:-1] + (layer.get_config().get("units") or layer.filters,), "float32")
    model.train_on_batch(x, y)
    model.train_on_batch(x, y)
    start = time.perf_counter()
    for _ in range(steps):
        loss = model.train_on_batch(x, y)
    float(loss if not isinstance(loss, list) else loss[0])
    return (time.perf_counter() - start) / steps


def main():
    print(f"backend={keras.backend.backend()}")
    for shape in [(16, 32, 32, 64), (16, 16, 16, 128), (16, 8, 8, 256)]:
        x = np.random.default_rng(0).random(shape, dtype=np.float32)
        c = shape[-1]
        dense = time_train_steps(keras.layers.Dense(c, activation="sigmoid"), x)
        conv = time_train_steps(keras.layers.Conv2D(c, 1, activation="sigmoid"), x)
        print(
            f"map {shape}: Dense {dense * 1e3:7.2f} ms  Conv2D 1x1 {conv * 1e3:7.2f} ms  "
            f"Conv2D/Dense {conv / dense:5.2f}x"
        )


if __name__ == "__main__":
    main()
