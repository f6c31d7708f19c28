import keras
import numpy as np
import pytest
from drifa_reference import mifa, mifa_params, to_numpy
from drifa_testing import check_layer_contract

from keras_drifa.layers import MIFA, MultimodalInformationFusionAttention


def _xs(seed=0, shapes=((2, 6, 5, 8), (2, 3, 4, 8))):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=s).astype("float32") for s in shapes]


def test_contract():
    # mgifa dense (2) + mlifa kernels and biases (2) + gamma_g, gamma_l, alphas.
    check_layer_contract(lambda **kw: MultimodalInformationFusionAttention(8, **kw), _xs(), 7)


def test_acronym_alias():
    assert MIFA is MultimodalInformationFusionAttention


@pytest.mark.parametrize(
    "shapes",
    [((2, 6, 5, 8),), ((2, 6, 5, 8), (2, 3, 4, 8)), ((2, 6, 5, 8), (2, 3, 4, 8), (2, 7, 7, 8))],
    ids=["M=1", "M=2", "M=3"],
)
def test_matches_numpy_reference(shapes):
    xs = _xs(1, shapes)
    layer = MultimodalInformationFusionAttention(8)
    layer.build([x.shape for x in xs])
    rng = np.random.default_rng(4)
    for w in layer.weights:
        w.assign(rng.normal(size=w.shape).astype("float32"))
    outputs = layer(xs)
    expected = mifa([x.astype("float64") for x in xs], layer)
    assert len(outputs) == len(xs)
    for out, ref in zip(outputs, expected):
        np.testing.assert_allclose(to_numpy(out), ref, rtol=1e-4, atol=1e-5)


def test_one_attention_vector_shared_by_all_modalities():
    # With alphas at one, out_m / x_m is the same vector A for every modality.
    xs = [np.ones((1, 3, 3, 4), "float32"), np.full((1, 5, 2, 4), 2.0, "float32")]
    a, b = (to_numpy(o) for o in MultimodalInformationFusionAttention(4)(xs))
    np.testing.assert_allclose(a[0, 0, 0], b[0, 0, 0] / 2.0, rtol=1e-6)


@pytest.mark.parametrize("channels,modalities", [(8, 2), (16, 3), (64, 2)])
def test_parameter_count_matches_spec_formula(channels, modalities):
    layer = MultimodalInformationFusionAttention(channels)
    layer.build([(None, 4, 4, channels)] * modalities)
    assert layer.count_params() == mifa_params(channels, modalities)


def test_rejects_modalities_with_different_channel_counts():
    with pytest.raises(ValueError, match=r"same number of channels; received channels \[8, 4\]"):
        MultimodalInformationFusionAttention(8).build([(None, 4, 4, 8), (None, 4, 4, 4)])


def test_rejects_units_that_do_not_match_channels():
    with pytest.raises(ValueError, match=r"units=4 does not match the 8 input channels"):
        MultimodalInformationFusionAttention(4).build([(None, 4, 4, 8), (None, 4, 4, 8)])


def test_rejects_a_single_tensor_instead_of_a_list():
    with pytest.raises(ValueError, match="expected a list of M >= 1 feature maps"):
        MultimodalInformationFusionAttention(8).build((None, 4, 4, 8))


def test_functional_model_returns_one_output_per_modality():
    inputs = [keras.Input((6, 5, 8)), keras.Input((3, 4, 8))]
    outputs = MultimodalInformationFusionAttention(8)(inputs)
    assert [tuple(o.shape) for o in outputs] == [(None, 6, 5, 8), (None, 3, 4, 8)]
