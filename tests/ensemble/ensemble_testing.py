"""Small members and data shared by the ensemble tests: a Dense model with two inputs, two MC
dropout layers and two softmax heads, which compiles in seconds on every backend."""

import keras
import numpy as np

from keras_drifa.layers import MCDropout

CLASSES = (3, 4)


def small_member(rate=0.5, classes=CLASSES, input_dim=6, head_activation="softmax", seed=None):
    """Two inputs, Dense + MC dropout, one softmax head per task (named task_0, task_1).
    With an integer `seed`, every dropout layer and hidden kernel initializer has a seed of
    its own derived from it."""

    def seeded(offset):
        return None if seed is None else seed + offset

    def kernel(offset):
        return "glorot_uniform" if seed is None else keras.initializers.GlorotUniform(seed + offset)

    inputs = [keras.Input((input_dim,), name=f"modality_{i}") for i in range(2)]
    x = keras.layers.Concatenate()([
        keras.layers.Dense(16, activation="relu", kernel_initializer=kernel(i))(t)
        for i, t in enumerate(inputs)
    ])
    x = MCDropout(rate, seed=seeded(2))(x)
    x = MCDropout(rate, seed=seeded(3))(
        keras.layers.Dense(16, activation="relu", kernel_initializer=kernel(4))(x)
    )
    outputs = [
        keras.layers.Dense(n, activation=head_activation, dtype="float32", name=f"task_{t}")(x)
        for t, n in enumerate(classes)
    ]
    return keras.Model(inputs, outputs)


def view(member, input_order=(0, 1), output_order=(0, 1), input_names=None, output_names=None):
    """A model sharing `small_member` `member`'s layers whose input `k` is the member's input
    `input_order[k]` and output `k` its output `output_order[k]`, under the same names
    (`modality_i`, `task_t`) unless `input_names` or `output_names` are given."""
    input_names = input_names or [f"modality_{i}" for i in input_order]
    output_names = output_names or [f"task_{t}" for t in output_order]
    inputs = [keras.Input((6,), name=name) for name in input_names]
    outputs = member([inputs[list(input_order).index(i)] for i in range(2)])
    return keras.Model(inputs, [
        keras.layers.Identity(name=name)(outputs[t]) for name, t in zip(output_names, output_order)
    ])


def small_data(n=48, seed=0):
    rng = np.random.default_rng(seed)
    xs = [rng.normal(size=(n, 6)).astype("float32") for _ in range(2)]
    labels = [rng.integers(0, c, n) for c in CLASSES]
    return xs, [np.eye(c, dtype="float32")[y] for c, y in zip(CLASSES, labels)], labels


def member_weights(member):
    return [keras.ops.convert_to_numpy(w).copy() for w in member.trainable_weights]
