import numpy as np
import pytest
from drifa_reference import to_numpy
from drifa_testing import check_layer_contract

from keras_drifa.layers import GatedModalityFusion


def _maps(seed=0, shapes=((2, 4, 4, 8), (2, 2, 3, 4))):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=s).astype("float32") for s in shapes]


def test_contract():
    # Two projections, the scorer's hidden and output layers: kernel and bias each.
    check_layer_contract(lambda **kw: GatedModalityFusion(6, **kw), _maps(), 8)


def test_output_is_the_weighted_concatenation_of_the_projected_vectors():
    maps = _maps(1, ((3, 4, 4, 8), (3, 2, 3, 4), (3, 5, 5, 2)))
    layer = GatedModalityFusion(6)
    out = to_numpy(layer(maps))
    weights = to_numpy(layer.modality_weights(maps))
    assert out.shape == (3, 18) and weights.shape == (3, 3)
    np.testing.assert_allclose(weights.sum(-1), 1.0, rtol=1e-6)
    for m, (x, projection) in enumerate(zip(maps, layer.projections)):
        pooled = x.mean(axis=(1, 2)).astype("float64")
        h = np.maximum(pooled @ to_numpy(projection.kernel) + to_numpy(projection.bias), 0)
        np.testing.assert_allclose(out[:, 6 * m : 6 * m + 6], weights[:, m : m + 1] * h,
                                   rtol=1e-5, atol=1e-6)


def test_sees_pooled_vectors_only():
    """Moving the content of a map around leaves the output unchanged."""
    maps = _maps(2)
    layer = GatedModalityFusion(6)
    rolled = [maps[0], np.roll(maps[1], 1, axis=(1, 2))]
    np.testing.assert_allclose(to_numpy(layer(maps)), to_numpy(layer(rolled)), rtol=1e-5)


def test_rejects_bad_units():
    with pytest.raises(ValueError, match=r"`units` must be an integer >= 1; received units=0"):
        GatedModalityFusion(0)
