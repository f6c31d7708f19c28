import numpy as np
import pytest
from drifa_reference import mfa_params, rra_block, to_numpy
from drifa_testing import check_layer_contract

from keras_drifa.layers import RobustResidualAttentionBlock, RRABlock


def _x(seed=0, shape=(2, 8, 8, 4)):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def test_contract_identity_shortcut():
    # 2 convs (4) + 2 MFAs (12) + 2 BNs (4 trainable, 4 moving statistics).
    check_layer_contract(lambda **kw: RobustResidualAttentionBlock(4, **kw), _x(), 20, 4)


def test_contract_projection_shortcut():
    check_layer_contract(lambda **kw: RobustResidualAttentionBlock(8, 2, **kw), _x(), 24, 6)


def test_acronym_alias():
    assert RRABlock is RobustResidualAttentionBlock


@pytest.mark.parametrize(
    "filters,strides,use_mfa", [(4, 1, True), (8, 2, True), (8, 1, True), (8, 2, False)]
)
def test_matches_numpy_reference_in_inference_mode(filters, strides, use_mfa):
    layer = RobustResidualAttentionBlock(filters, strides, use_mfa=use_mfa)
    layer.build((2, 8, 8, 4))
    rng = np.random.default_rng(5)
    for w in layer.weights:
        values = rng.normal(size=w.shape)
        if "variance" in w.path:
            values = np.abs(values) + 0.5
        w.assign(values.astype("float32"))
    x = _x(1)
    out = to_numpy(layer(x, training=False))
    np.testing.assert_allclose(out, rra_block(x.astype("float64"), layer), rtol=1e-4, atol=1e-4)


def test_projection_only_when_stride_or_channels_change():
    for filters, strides, expected in [(4, 1, False), (8, 1, True), (4, 2, True)]:
        layer = RobustResidualAttentionBlock(filters, strides)
        layer.build((None, 8, 8, 4))
        assert (layer.shortcut_conv is not None) is expected


def test_parameter_count():
    layer = RobustResidualAttentionBlock(8, 2)
    layer.build((None, 8, 8, 4))
    convs = (9 * 4 * 8 + 8) + (9 * 8 * 8 + 8) + (4 * 8 + 8)
    assert layer.count_params() == convs + 2 * mfa_params(8) + 3 * 4 * 8


def test_matches_numpy_reference_on_small_maps():
    # Maps of at most 4x4 are convolved by matrix product (SmallMapConv2D).
    layer = RobustResidualAttentionBlock(8, 2)
    layer.build((2, 3, 3, 4))
    rng = np.random.default_rng(6)
    for w in layer.weights:
        values = rng.normal(size=w.shape)
        if "variance" in w.path:
            values = np.abs(values) + 0.5
        w.assign(values.astype("float32"))
    x = _x(2, shape=(2, 3, 3, 4))
    out = to_numpy(layer(x, training=False))
    np.testing.assert_allclose(out, rra_block(x.astype("float64"), layer), rtol=1e-4, atol=1e-4)


def test_output_shape_halves_with_stride_two():
    assert tuple(RobustResidualAttentionBlock(8, 2)(_x(shape=(2, 9, 9, 4))).shape) == (2, 5, 5, 8)


@pytest.mark.parametrize("filters", [0, -1, 1.5])
def test_rejects_non_positive_filters(filters):
    with pytest.raises(ValueError, match="filters"):
        RobustResidualAttentionBlock(filters)
