import numpy as np
import pytest
from drifa_reference import hifa, to_numpy
from drifa_testing import check_layer_contract

from keras_drifa.layers import HIFA, HierarchicalInformationFusionAttention


def _x(seed=0, shape=(2, 6, 5, 8)):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def test_contract():
    check_layer_contract(lambda **kw: HierarchicalInformationFusionAttention(8, **kw), _x(), 3)


def test_acronym_alias():
    assert HIFA is HierarchicalInformationFusionAttention


@pytest.mark.parametrize("units", [8, 3])
def test_matches_numpy_reference(units):
    layer = HierarchicalInformationFusionAttention(units)
    layer.build((2, 6, 5, 8))
    for w in layer.weights:
        w.assign(np.random.default_rng(len(w.path)).normal(size=w.shape).astype("float32"))
    x = _x(1)
    np.testing.assert_allclose(to_numpy(layer(x)), hifa(x.astype("float64"), layer), rtol=1e-4, atol=1e-5)


def test_output_is_an_attention_vector_in_unit_interval():
    out = to_numpy(HierarchicalInformationFusionAttention(4)(_x(2)))
    assert out.shape == (2, 1, 1, 4)
    assert (out > 0).all() and (out < 1).all()


@pytest.mark.parametrize("units", [0, -3, 2.5, True])
def test_rejects_bad_units(units):
    with pytest.raises(ValueError, match="units"):
        HierarchicalInformationFusionAttention(units)


def test_rejects_non_feature_maps():
    with pytest.raises(ValueError, match=r"3 dimensions.*\(batch, height, width, channels\)"):
        HierarchicalInformationFusionAttention(4).build((2, 5, 8))
