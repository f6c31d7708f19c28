"""`build_model(fusion=...)`: the baselines on plain branches, the ablation ladder, the counts."""

import copy

import keras
import numpy as np
import pytest
from drifa_reference import drifa_net_params, fusion_head_params
from drifa_testing import batch

import keras_drifa
from keras_drifa.layers import (
    MultiBranchFusionAttention,
    MultimodalInformationFusionAttention,
    MultimodalTransformerFusion,
)
from keras_drifa.models import ABLATIONS, FUSIONS, fusion_parameter_counts

# One stage of one block (few operations to compile on JAX): 16x16 images end in 4x4 maps
# of 8 channels.
SMALL = dict(input_shape=(16, 16, 3), num_classes=(2, 3), widths=(8,), blocks_per_stage=(1,))
LADDER = dict(SMALL, widths=(4, 8), blocks_per_stage=(1, 1))
BASELINES = [f for f in FUSIONS if f != "drifa"]
FUSION_LAYERS = {
    "gated": "gated_fusion",
    "cross_attention": "cross_attention_fusion",
    "transformer": "transformer_fusion",
    "mlp": "fusion_hidden",
    "concat": "task_0",
}


def _count(model, cls):
    return sum(isinstance(layer, cls) for layer in model._flatten_layers())


def _numpy(outputs):
    return [keras.ops.convert_to_numpy(o) for o in outputs]


# DRIFA-Net's own build, save, load and training are tested in test_drifa_net.py.
@pytest.mark.parametrize("fusion", BASELINES)
def test_every_fusion_builds_predicts_saves_and_loads(fusion, tmp_path):
    model = keras_drifa.build_model(fusion=fusion, **SMALL)
    assert isinstance(model, keras_drifa.models.DRIFANet)
    assert _count(model, MultiBranchFusionAttention) == 0
    assert _count(model, MultimodalInformationFusionAttention) == 0
    xs, _ = batch(model, 3)
    outputs = _numpy(model(xs, training=False))
    assert [o.shape for o in outputs] == [(3, 2), (3, 3)]
    for o in outputs:
        np.testing.assert_allclose(o.sum(axis=1), 1.0, rtol=1e-5)

    config = model.get_config()
    rebuilt = keras_drifa.models.DRIFANet.from_config(copy.deepcopy(config))
    assert rebuilt.get_config() == config and rebuilt.count_params() == model.count_params()
    path = tmp_path / f"{fusion}.keras"
    model.save(path)
    restored = keras.models.load_model(path)
    assert type(restored) is type(model)
    for a, b in zip(outputs, _numpy(restored(xs, training=False))):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("fusion", BASELINES)
def test_every_fusion_trains_one_step(fusion):
    """Eagerly, on every backend: compiling five models would dominate the test time; the
    compiled path is covered below and by test_drifa_net.py."""
    model = keras_drifa.build_model(fusion=fusion, **SMALL)
    model.compile(optimizer="adam", loss="categorical_crossentropy", run_eagerly=True)
    head = model.get_layer(FUSION_LAYERS[fusion])
    # The gated scorer's last bias is added to every modality's score, and the softmax over
    # the modalities ignores a shift shared by all scores: its gradient is zero up to
    # round-off, so whether a step moves it is round-off (on JAX it once stayed put).
    weights = [w for w in head.trainable_weights if not w.path.endswith("score/bias")]
    assert len(weights) == len(head.trainable_weights) - (fusion == "gated")
    before = [keras.ops.convert_to_numpy(w).copy() for w in weights]
    xs, ys = batch(model, 4)
    history = model.fit(xs, ys, epochs=1, batch_size=4, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    after = [keras.ops.convert_to_numpy(w) for w in weights]
    assert all(not np.allclose(b, a) for b, a in zip(before, after))


@pytest.mark.compiled
def test_compiled_transformer_fusion_trains_and_predicts():
    """The compiled train function of an attention baseline, on every backend."""
    model = keras_drifa.build_model(fusion="transformer", **SMALL)
    model.compile(optimizer="adam", loss="categorical_crossentropy", run_eagerly=False)
    xs, ys = batch(model, 8)
    history = model.fit(xs, ys, epochs=2, batch_size=8, verbose=0)
    assert np.isfinite(history.history["loss"]).all()


@pytest.mark.parametrize("fusion", BASELINES)
def test_modalities_whose_maps_differ_in_size(fusion):
    model = keras_drifa.build_model(
        fusion=fusion, **dict(SMALL, input_shape=[(16, 16, 3), (32, 24, 1)])
    )
    xs, _ = batch(model, 2)
    assert [o.shape for o in _numpy(model(xs, training=False))] == [(2, 2), (2, 3)]


# JAX compiles every eager operation once per new shape: there one fusion, the default.
@pytest.mark.parametrize(
    "fusion",
    ["drifa"] + [
        pytest.param(f, marks=pytest.mark.skipif(
            keras.backend.backend() == "jax", reason="new shapes compile each operation on JAX"
        ))
        for f in ("concat", "mlp", "gated")
    ],
)
def test_unknown_sizes_take_other_sizes_per_modality_at_every_call(fusion):
    """`input_shape=(None, None, channels)`: each call may bring other sizes per modality, so
    the head pools each branch before concatenating, and with equal sizes that is the
    computation of a fixed-size model (concatenated maps, pooled) with the same weights."""
    unknown = keras_drifa.build_model(
        fusion=fusion, **dict(SMALL, input_shape=(None, None, 3), widths=(4, 8), blocks_per_stage=(1, 1))
    )
    rng = np.random.default_rng(0)
    for sizes in ([(16, 16), (32, 24)], [(24, 8), (16, 16)]):
        xs = [rng.random((2, h, w, 3), dtype=np.float32) for h, w in sizes]
        assert [o.shape for o in _numpy(unknown(xs, training=False))] == [(2, 2), (2, 3)]
    fixed = keras_drifa.build_model(
        fusion=fusion, **dict(SMALL, widths=(4, 8), blocks_per_stage=(1, 1))
    )
    fixed.set_weights(unknown.get_weights())
    xs, _ = batch(fixed, 2)
    for a, b in zip(_numpy(unknown(xs, training=False)), _numpy(fixed(xs, training=False))):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("fusion", ["mlp", "gated", "cross_attention", "transformer"])
@pytest.mark.parametrize("units", [None, 6])
def test_parameter_counts_match_the_formulas(fusion, units):
    model = keras_drifa.build_model(fusion=fusion, fusion_units=units, **SMALL)
    branches = drifa_net_params(widths=(8,), blocks=(1,), classes=(), use_mfa=False,
                                use_mifa=False)
    head, fused = fusion_head_params(fusion, (8, 8), units or 8, (16, 16))
    assert model.count_params() == branches + head + sum(fused * n + n for n in (2, 3))


def test_one_modality():
    for fusion in ("mlp", "gated", "transformer"):
        model = keras_drifa.build_model(1, fusion=fusion, **dict(SMALL, num_classes=3))
        assert tuple(model.output.shape) == (None, 3)


def test_concat_is_drifa_net_without_mfa_and_mifa():
    concat = keras_drifa.build_model(fusion="concat", **SMALL)
    plain = keras_drifa.build_model(use_mfa=False, use_mifa=False, **SMALL)
    assert [layer.name for layer in concat.layers] == [layer.name for layer in plain.layers]
    assert concat.count_params() == plain.count_params()


def test_block_mfa_switch_removes_only_the_mfas_after_the_blocks():
    kwargs = dict(input_shape=(32, 32, 3), widths=(8, 8, 16, 16))
    model = keras_drifa.build_model(use_block_mfa=False, **kwargs)
    names = {layer.name for layer in model.layers}
    assert not any(name.endswith("_mfa") and "_block" in name for name in names)
    assert "modality_0_stem_mfa" in names and "mifa_block1" in names
    assert model.get_layer("modality_0_block1").use_mfa  # the MFAs inside the blocks stay
    assert model.count_params() == drifa_net_params(widths=(8, 8, 16, 16), use_block_mfa=False)


@pytest.mark.parametrize("rung", list(ABLATIONS))
def test_ablation_ladder(rung):
    model = keras_drifa.build_model(**ABLATIONS[rung], **LADDER)
    flags = {
        "DRIFA-Net": dict(),
        "without MIFA": dict(use_mifa=False),
        "without MFA": dict(use_mfa=False),
        "without block MFA": dict(use_block_mfa=False),
        "ResNet baseline": dict(use_mfa=False, use_mifa=False),
    }[rung]
    assert model.count_params() == drifa_net_params(widths=(4, 8), blocks=(1, 1),
                                                    classes=(2, 3), **flags)


def test_fusion_parameter_counts_side_by_side():
    counts = fusion_parameter_counts(fusion_units=6, **SMALL)
    assert list(counts) == list(FUSIONS)
    assert counts["transformer"] == keras_drifa.build_model(
        fusion="transformer", fusion_units=6, **SMALL
    ).count_params()
    assert counts["drifa"] == keras_drifa.build_model(**SMALL).count_params()
    assert fusion_parameter_counts("mlp", **SMALL) == {
        "mlp": keras_drifa.build_model(fusion="mlp", **SMALL).count_params()
    }
    with pytest.raises(ValueError, match=r"pass the fusion options as `fusions`"):
        fusion_parameter_counts(fusion="mlp")


def test_default_width_is_the_branches_channels():
    model = keras_drifa.build_model(fusion="transformer", **SMALL)
    layer = model.get_layer("transformer_fusion")
    assert isinstance(layer, MultimodalTransformerFusion) and layer.units == 8


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(fusion="attention"), r"fusion` must be one of \('drifa', 'concat', 'mlp', 'gated', "
         r"'cross_attention', 'transformer'\); received fusion='attention'"),
        (dict(fusion="mlp", use_mfa=True), r"use_mfa=True switches on DRIFA attention, which "
         r"only fusion='drifa' has; received it with fusion='mlp'"),
        (dict(fusion="concat", use_mifa=True), r"use_mifa=True .* fusion='concat'"),
        (dict(fusion="gated", use_block_mfa=True), r"use_block_mfa=True .* fusion='gated'"),
        (dict(use_mfa=False, use_block_mfa=True), r"use_block_mfa=True asks for the MFAs after "
         r"the RRA blocks, but use_mfa=False removes every MFA"),
        (dict(use_mfa="False"), r"`use_mfa` must be True, False or None .*received use_mfa='False'"),
        (dict(fusion_units=16), r"fusion_units sets the width .* received fusion_units=16 with "
         r"fusion='drifa'"),
        (dict(fusion="mlp", fusion_units=0), r"fusion_units` must be None or an integer >= 1; "
         r"received fusion_units=0"),
        (dict(fusion="cross_attention", modalities=1, num_classes=3),
         r"fusion='cross_attention' needs at least two modalities"),
        (dict(fusion="transformer", input_shape=(None, None, 3)),
         r"fusion='transformer' needs fixed image sizes .* received input_shape "
         r"\(None, None, 3\) for modality 'modality_0'"),
        (dict(backbone="resnet50", use_block_mfa=False), r"use_block_mfa=False shapes the "
         r"'drifa' backbone only"),
    ],
)
def test_bad_fusion_arguments_raise_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        keras_drifa.build_model(**dict(dict(SMALL), **kwargs))
