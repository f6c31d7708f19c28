import numpy as np
import pytest
from drifa_reference import clia, to_numpy
from drifa_testing import check_layer_contract

from keras_drifa.layers import CLIA, ChannelwiseLocalInformationAttention


def _x(seed=0, shape=(2, 6, 5, 8)):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def test_contract():
    check_layer_contract(lambda **kw: ChannelwiseLocalInformationAttention(8, **kw), _x(), 3)


def test_acronym_alias():
    assert CLIA is ChannelwiseLocalInformationAttention


@pytest.mark.parametrize("units", [8, 3])
def test_matches_numpy_reference(units):
    layer = ChannelwiseLocalInformationAttention(units)
    layer.build((2, 6, 5, 8))
    for w in layer.weights:
        w.assign(np.random.default_rng(len(w.path)).normal(size=w.shape).astype("float32"))
    x = _x(1)
    np.testing.assert_allclose(to_numpy(layer(x)), clia(x.astype("float64"), layer), rtol=1e-4, atol=1e-5)


def test_parameter_count():
    layer = ChannelwiseLocalInformationAttention(8)
    layer.build((None, 6, 5, 8))
    assert layer.count_params() == 2 * (8 * 8 + 8)
