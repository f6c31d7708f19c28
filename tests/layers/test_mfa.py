import numpy as np
import pytest
from drifa_reference import mfa, mfa_params, to_numpy
from drifa_testing import check_layer_contract

from keras_drifa.layers import MFA, MultiBranchFusionAttention


def _x(seed=0, shape=(2, 6, 5, 8)):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def _randomize(layer, seed=0):
    rng = np.random.default_rng(seed)
    for w in layer.weights:
        w.assign(rng.normal(size=w.shape).astype("float32"))


def test_contract():
    check_layer_contract(lambda **kw: MultiBranchFusionAttention(8, **kw), _x(), 6)


def test_acronym_alias():
    assert MFA is MultiBranchFusionAttention


def test_matches_numpy_reference():
    layer = MultiBranchFusionAttention(8)
    layer.build((2, 6, 5, 8))
    _randomize(layer)
    x = _x(1)
    np.testing.assert_allclose(to_numpy(layer(x)), mfa(x.astype("float64"), layer), rtol=1e-4, atol=1e-5)


def test_gammas_and_alpha_start_at_one_with_spec_shapes():
    layer = MultiBranchFusionAttention(8)
    layer.build((None, 6, 5, 8))
    assert tuple(layer.gamma_g.shape) == (1, 1, 1, 1)
    assert tuple(layer.gamma_l.shape) == (1, 1, 1, 8)
    assert tuple(layer.alpha.shape) == (1, 1, 1, 8)
    for w in (layer.gamma_g, layer.gamma_l, layer.alpha):
        np.testing.assert_array_equal(to_numpy(w), 1.0)


@pytest.mark.parametrize("channels", [1, 8, 64])
def test_parameter_count_matches_spec_formula(channels):
    layer = MultiBranchFusionAttention(channels)
    layer.build((None, 4, 4, channels))
    assert layer.count_params() == mfa_params(channels)


def test_rejects_units_that_do_not_match_channels():
    with pytest.raises(ValueError, match=r"units=4 does not match the 8 input channels"):
        MultiBranchFusionAttention(4).build((None, 6, 5, 8))


def test_single_scalar_gate_broadcasts():
    out = MultiBranchFusionAttention(1)(_x())
    assert tuple(out.shape) == (2, 6, 5, 8)
