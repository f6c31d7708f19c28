"""The attention and fusion layers' kernel_initializer, bias_initializer, kernel_regularizer
and bias_regularizer: defaults unchanged, applied per projection or sublayer, serialised, and
counted in the losses."""

import keras
import numpy as np
import pytest
from drifa_reference import to_numpy

from keras_drifa import layers

UNITS = 6
MAP = np.random.default_rng(0).random((2, 5, 5, UNITS)).astype("float32")
LAYERS = {
    "HIFA": (layers.HIFA, {"units": UNITS}, MAP),
    "CLIA": (layers.CLIA, {"units": UNITS}, MAP),
    "MFA": (layers.MFA, {"units": UNITS}, MAP),
    "MGIFA": (layers.MGIFA, {"units": UNITS}, [MAP, MAP[:, :3, :3]]),
    "MLIFA": (layers.MLIFA, {"units": UNITS}, [MAP, MAP[:, :3, :3]]),
    "MIFA": (layers.MIFA, {"units": UNITS}, [MAP, MAP[:, :3, :3]]),
    "RRABlock": (layers.RRABlock, {"filters": 8, "strides": 2}, MAP),
    "FeatureMapTokens": (layers.FeatureMapTokens, {"units": UNITS}, [MAP, MAP[:, :3, :3]]),
    "GatedModalityFusion": (layers.GatedModalityFusion, {"units": UNITS}, [MAP, MAP[:, :3, :3]]),
    "CrossModalAttentionFusion": (
        layers.CrossModalAttentionFusion, {"units": UNITS, "num_heads": 2}, [MAP, MAP[:, :3, :3]]
    ),
    "MultimodalTransformerFusion": (
        layers.MultimodalTransformerFusion, {"units": UNITS, "num_heads": 2, "num_layers": 1},
        [MAP, MAP[:, :3, :3]],
    ),
}
CUSTOM = {
    "kernel_initializer": "he_normal",
    "bias_initializer": keras.initializers.Constant(0.1),
    "kernel_regularizer": keras.regularizers.L2(0.01),
    "bias_regularizer": "l1",
}


def _weights(layer):
    return {w.path.split("/", 1)[-1]: to_numpy(w) for w in layer.weights}


@pytest.mark.parametrize("name", LAYERS)
def test_config_round_trips(name):
    cls, arguments, _ = LAYERS[name]
    for extra in ({}, CUSTOM):
        layer = cls(**arguments, **extra)
        config = layer.get_config()
        restored = cls.from_config(config)
        assert restored.get_config() == config
        again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
        assert again.get_config() == config
    assert isinstance(restored.kernel_regularizer, keras.regularizers.L2)
    assert restored.kernel_regularizer.l2 == pytest.approx(0.01)
    assert isinstance(restored.bias_initializer, keras.initializers.Constant)


@pytest.mark.parametrize("name", LAYERS)
def test_defaults_initialise_as_before_and_restored_layers_alike(name):
    """The defaults are the same numbers as explicit `glorot_uniform` and `zeros`, and a layer
    restored from its config initialises like the original under the same seed."""
    cls, arguments, inputs = LAYERS[name]
    keras.utils.set_random_seed(3)
    default = cls(**arguments)
    default(inputs)
    keras.utils.set_random_seed(3)
    explicit = cls(**arguments, kernel_initializer="glorot_uniform", bias_initializer="zeros")
    explicit(inputs)
    keras.utils.set_random_seed(3)
    restored = cls.from_config(default.get_config())
    restored(inputs)
    for other in (explicit, restored):
        for key, value in _weights(default).items():
            np.testing.assert_array_equal(_weights(other)[key], value, err_msg=key)
    assert not default.losses


@pytest.mark.parametrize("name", LAYERS)
def test_regularizers_add_losses_for_every_kernel_and_bias(name):
    cls, arguments, inputs = LAYERS[name]
    layer = cls(**arguments, kernel_regularizer=keras.regularizers.L2(0.01),
                bias_initializer="ones", bias_regularizer=keras.regularizers.L1(0.1))
    layer(inputs)
    kernels = [w for w in layer.weights if w.name.endswith("kernel") or w.name == "kernels"]
    biases = [w for w in layer.weights if w.name.endswith("bias") or w.name == "biases"]
    expected = sum(0.01 * np.sum(to_numpy(w) ** 2) for w in kernels) + sum(
        0.1 * np.sum(np.abs(to_numpy(w))) for w in biases
    )
    assert kernels and biases and len(layer.losses) == len(kernels) + len(biases)
    assert float(sum(to_numpy(loss) for loss in layer.losses)) == pytest.approx(expected, rel=1e-5)


def test_mfa_regularisation_loss_by_formula_in_a_model():
    """One MFA with L2 on the kernels: the model's loss term is 0.01 times the sum of
    squares of its six 1x1 convolution kernels and its dense kernel."""
    inputs = keras.Input((5, 5, UNITS))
    mfa = layers.MFA(UNITS, kernel_regularizer=keras.regularizers.L2(0.01))
    model = keras.Model(inputs, mfa(inputs))
    assert model.losses
    squares = np.sum(to_numpy(mfa.input_kernel) ** 2) + np.sum(to_numpy(mfa.kernels) ** 2)
    assert float(sum(to_numpy(loss) for loss in model.losses)) == pytest.approx(
        0.01 * squares, rel=1e-5
    )


def test_kernel_initializer_sees_each_projection_and_fills_its_place():
    """MFA's stacks: the input kernel concatenates HIFA's and CLIA's conv_1 on the last
    axis; `kernels` holds three (u, u) convolutions, the (2u, u) dense kernel as two
    halves, and CLIA's conv_2."""
    calls = []

    def numbered(shape, dtype=None):
        calls.append(tuple(shape))
        return np.full(shape, len(calls), "float32")

    u, c = UNITS, UNITS
    mfa = layers.MFA(u, kernel_initializer=numbered)
    mfa(MAP)
    assert calls == [(c, u), (c, u), (u, u), (u, u), (u, u), (2 * u, u), (u, u)]
    input_kernel, kernels = to_numpy(mfa.input_kernel), to_numpy(mfa.kernels)
    np.testing.assert_array_equal(input_kernel[:, :u], 1)
    np.testing.assert_array_equal(input_kernel[:, u:], 2)
    np.testing.assert_array_equal(kernels[:, 0, 0], [3, 4, 5, 6, 6, 7])


def test_rra_block_passes_them_to_its_convolutions_and_mfas():
    block = layers.RRABlock(8, strides=2, kernel_initializer="zeros")
    block(MAP)
    for layer in (block.conv_1, block.conv_2, block.shortcut_conv):
        assert not np.any(to_numpy(layer.kernel))
    assert not np.any(to_numpy(block.mfa_1.kernels)) and not np.any(to_numpy(block.mfa_2.kernels))
    mifa = layers.MIFA(UNITS, kernel_initializer="ones")
    mifa([MAP, MAP])
    np.testing.assert_array_equal(to_numpy(mifa.mgifa.dense_kernel), 1)
    np.testing.assert_array_equal(to_numpy(mifa.mlifa.kernels), 1)


def test_fusion_defaults_draw_what_keras_defaults_drew():
    """The fusion layers' default initializers give the numbers their sublayers gave with
    Keras's own defaults, before the layers took these arguments: `GatedModalityFusion`
    against plain `Dense` layers created in its order (scorer, then projections)."""
    maps = [MAP, MAP[:, :3, :3]]
    keras.utils.set_random_seed(3)
    gated = layers.GatedModalityFusion(UNITS)
    gated(maps)
    keras.utils.set_random_seed(3)
    reference = [keras.layers.Dense(UNITS), keras.layers.Dense(1)]
    reference += [keras.layers.Dense(UNITS) for _ in maps]
    for dense, inputs in zip(reference, (UNITS, UNITS, UNITS, UNITS)):
        dense.build((None, inputs))
    built = [gated.score_hidden, gated.score, *gated.projections]
    for dense, expected in zip(built, reference):
        np.testing.assert_array_equal(to_numpy(dense.kernel), to_numpy(expected.kernel))


def test_fusion_layers_pass_them_to_every_sublayer():
    fusion = layers.MultimodalTransformerFusion(
        UNITS, num_heads=2, num_layers=1, kernel_initializer="ones",
        kernel_regularizer=keras.regularizers.L2(0.01),
    )
    fusion([MAP, MAP[:, :3, :3]])
    kernels = [w for w in fusion.weights if w.name == "kernel"]
    # Two token projections, query/key/value/output of one attention, two MLP layers.
    assert len(kernels) == 8
    for kernel in kernels:
        np.testing.assert_array_equal(to_numpy(kernel), 1, err_msg=kernel.path)
    assert len(fusion.losses) == 8
