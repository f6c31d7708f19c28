import numpy as np
import pytest
from drifa_reference import to_numpy
from drifa_testing import check_layer_contract

from keras_drifa.layers import FeatureMapTokens


def _maps(seed=0, shapes=((2, 4, 4, 8), (2, 2, 3, 4))):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=s).astype("float32") for s in shapes]


@pytest.mark.parametrize("modality_embedding,weights", [(False, 6), (True, 7)])
def test_contract(modality_embedding, weights):
    # Per modality a projection kernel and bias and a position embedding; one modality table.
    check_layer_contract(
        lambda **kw: FeatureMapTokens(8, modality_embedding=modality_embedding, **kw),
        _maps(), weights,
    )


def test_tokens_are_projected_pixels_plus_position_and_modality_embeddings():
    maps = _maps(1)
    layer = FeatureMapTokens(5, modality_embedding=True)
    tokens = [to_numpy(t) for t in layer(maps)]
    table = to_numpy(layer.modality_embeddings)
    for m, (x, t) in enumerate(zip(maps, tokens)):
        projection = layer.projections[m]
        pixels = x.reshape(x.shape[0], -1, x.shape[-1]).astype("float64")
        expected = (
            pixels @ to_numpy(projection.kernel) + to_numpy(projection.bias)
            + to_numpy(layer.position_embeddings[m]) + table[m]
        )
        np.testing.assert_allclose(t, expected, rtol=1e-5, atol=1e-5)


def test_rejects_unknown_spatial_sizes():
    with pytest.raises(ValueError, match=r"modality 1 input has shape \(None, None, None, 4\).*"
                       r"position embeddings need fixed sizes"):
        FeatureMapTokens(8).build([(None, 4, 4, 8), (None, None, None, 4)])


def test_rejects_a_bad_modality_embedding_switch():
    with pytest.raises(ValueError, match=r"modality_embedding` must be True or False; "
                       r"received modality_embedding='yes'"):
        FeatureMapTokens(8, modality_embedding="yes")
