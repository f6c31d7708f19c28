import numpy as np
import pytest
from drifa_reference import to_numpy
from drifa_testing import check_layer_contract

from keras_drifa.layers import CrossModalAttentionFusion


def _maps(seed=0, shapes=((2, 4, 4, 8), (2, 2, 3, 4))):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=s).astype("float32") for s in shapes]


def test_contract():
    # Tokens: 2 projections (2 each) and 2 position embeddings; per modality an attention
    # (query, key, value, output: kernel and bias each) and a layer norm (2).
    check_layer_contract(lambda **kw: CrossModalAttentionFusion(8, 2, **kw), _maps(), 26)


def test_each_modality_reads_the_others_and_where_their_evidence_is():
    maps = _maps(1, ((2, 4, 4, 8), (2, 2, 3, 4), (2, 3, 3, 8)))
    layer = CrossModalAttentionFusion(8, 2)
    out = to_numpy(layer(maps))
    assert out.shape == (2, 24)
    changed = to_numpy(layer([maps[0], maps[1] + 1.0, maps[2]]))
    assert not np.allclose(out[:, :8], changed[:, :8])  # modality 0 attends to modality 1
    moved = to_numpy(layer([maps[0], np.roll(maps[1], 1, axis=(1, 2)), maps[2]]))
    assert not np.allclose(out[:, :8], moved[:, :8])  # and knows where its pixels sit


def test_needs_two_modalities():
    with pytest.raises(ValueError, match=r"received 1 feature map\(s\); expected at least 2"):
        CrossModalAttentionFusion(8)([np.ones((1, 2, 2, 8), "float32")])
