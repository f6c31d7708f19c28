import numpy as np
import pytest
from drifa_reference import to_numpy
from drifa_testing import check_layer_contract

from keras_drifa.layers import MultimodalTransformerFusion


def _maps(seed=0, shapes=((2, 4, 4, 8), (2, 2, 3, 4))):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=s).astype("float32") for s in shapes]


def test_contract():
    # Tokens: 2 projections (2 each), 2 position embeddings, the modality table; per
    # encoder layer an attention (8), two layer norms (4) and the MLP's two dense layers (4).
    check_layer_contract(
        lambda **kw: MultimodalTransformerFusion(8, 2, num_layers=2, **kw), _maps(), 7 + 2 * 16
    )


def test_tokens_of_all_modalities_mix_and_keep_their_positions():
    maps = _maps(1)
    layer = MultimodalTransformerFusion(8, 2, num_layers=1)
    out = to_numpy(layer(maps))
    assert out.shape == (2, 16)
    changed = to_numpy(layer([maps[0], maps[1] + 1.0]))
    assert not np.allclose(out[:, :8], changed[:, :8])
    moved = to_numpy(layer([maps[0], np.roll(maps[1], 1, axis=(1, 2))]))
    assert not np.allclose(out, moved)


def test_one_modality_works():
    out = MultimodalTransformerFusion(8, 2, num_layers=1)([_maps()[0]])
    assert tuple(out.shape) == (2, 8)


@pytest.mark.parametrize("arg", ["num_heads", "num_layers", "mlp_ratio"])
def test_rejects_bad_sizes(arg):
    with pytest.raises(ValueError, match=rf"`{arg}` must be an integer >= 1; received {arg}=0"):
        MultimodalTransformerFusion(8, **{arg: 0})
