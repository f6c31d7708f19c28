import numpy as np
from drifa_reference import mlifa, to_numpy
from drifa_testing import check_layer_contract

from keras_drifa.layers import MLIFA, MultimodalLocalInformationFusionAttention


def _xs(seed=0, shapes=((2, 6, 5, 8), (2, 3, 4, 8))):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=s).astype("float32") for s in shapes]


def test_contract():
    check_layer_contract(lambda **kw: MultimodalLocalInformationFusionAttention(8, **kw), _xs(), 2)


def test_acronym_alias():
    assert MLIFA is MultimodalLocalInformationFusionAttention


def test_matches_numpy_reference():
    xs = _xs(1, shapes=((2, 6, 5, 8), (2, 3, 4, 8), (2, 7, 7, 8)))
    layer = MultimodalLocalInformationFusionAttention(6)
    layer.build([x.shape for x in xs])
    rng = np.random.default_rng(3)
    for w in layer.weights:
        w.assign(rng.normal(size=w.shape).astype("float32"))
    expected = mlifa([x.astype("float64") for x in xs], layer)
    np.testing.assert_allclose(to_numpy(layer(xs)), expected, rtol=1e-4, atol=1e-5)


def test_one_convolution_per_modality():
    layer = MultimodalLocalInformationFusionAttention(8)
    layer.build([(None, 4, 4, 8)] * 3)
    assert tuple(layer.kernels.shape) == (3, 8, 8)
    assert layer.count_params() == 3 * (8 * 8 + 8)
