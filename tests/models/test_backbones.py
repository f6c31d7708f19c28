"""DRIFA attention on other backbones: keras.applications names, KerasHub and KerasCV
backbones, own models.

Everything runs with random weights (no downloads). Models are small (32x32 inputs, the
smallest applications) and shared between tests; TensorFlow trains eagerly (RUN_EAGERLY).
"""

import json
import os
import urllib.error

import keras
import numpy as np
import pytest
from drifa_reference import to_numpy
from drifa_testing import BACKEND, RUN_EAGERLY, batch

import keras_drifa
from keras_drifa.layers import MultiBranchFusionAttention, MultimodalInformationFusionAttention
from keras_drifa.models import backbones
from keras_drifa.models.image_preprocessing import ImageNetPreprocessing

SMALL = dict(input_shape=(32, 32, 3), num_classes=(3, 4))
MODALITIES = ("modality_0", "modality_1")


# Feature levels of 16 and 24 channels in every kind of backbone below, so that JAX compiles
# the attention layers' weight initialisers once (one XLA program per weight shape).


def hand_built(input_shape=(None, None, 3), name="hand_built"):
    """Three stride-2 stages (16, 24, 24 channels), a residual connection and a 2-D tail."""
    x = keras.Input(input_shape)
    y = keras.layers.Conv2D(16, 3, strides=2, padding="same", name="s1")(x)
    z = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="s1_conv")(y)
    y = keras.layers.Add(name="s1_out")([y, z])
    y = keras.layers.Conv2D(24, 3, strides=2, padding="same", name="s2_out")(y)
    y = keras.layers.BatchNormalization(name="s3_bn")(y)
    y = keras.layers.Conv2D(24, 3, strides=2, padding="same", name="s3_out")(y)
    return keras.Model(x, keras.layers.Flatten(name="flatten")(y), name=name)


HAND_LEVELS = ["s1_out", "s3_out"]


def _weights(model):
    return [to_numpy(w).copy() for w in model.weights]


def _features(model, modality):
    """The model's last feature map of one modality (the `{m}_features` marker)."""
    return keras.Model(model.inputs, model.get_layer(f"{modality}_features").output)


def _train_one_step_and_round_trip(model, tmp_path):
    """Trains one step (weights change, loss finite), then saves and reloads as .keras."""
    xs, ys = batch(model, n=4, seed=1)
    model.compile(optimizer="adam", loss="categorical_crossentropy", run_eagerly=RUN_EAGERLY)
    before = _weights(model)
    losses = model.train_on_batch(xs, ys)
    assert np.all(np.isfinite(losses))
    changed = [not np.allclose(b, a) for b, a in zip(before, _weights(model))]
    assert sum(changed) > len(changed) // 4

    path = os.path.join(tmp_path, "model.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    assert loaded.count_params() == model.count_params()
    for expected, actual in zip(model(xs, training=False), loaded(xs, training=False)):
        np.testing.assert_allclose(to_numpy(actual), to_numpy(expected), rtol=1e-5, atol=1e-6)
    return loaded


def _mifa_units(model):
    return [
        layer.units
        for layer in model.layers
        if isinstance(layer, MultimodalInformationFusionAttention)
    ]


# --- the default backbone -----------------------------------------------------------------


def test_drifa_backbone_by_name_is_the_paper_network():
    model = keras_drifa.build_model(backbone="DRIFA")
    assert model.count_params() == 53_884_868
    assert model.get_layer("modality_1_block8").filters == 512
    assert [layer.name for layer in model.layers if "level" in layer.name] == []


# --- keras.applications -------------------------------------------------------------------


# Every keras.applications test uses MobileNetV3Small, so that JAX compiles its weight
# initialisers (one XLA program per weight shape) once.
APPLICATION = "mobilenetv3small"
# Tapped early (strides 4 and 8): only the first blocks are copied, cheap to run.
EARLY_LEVELS = ["expanded_conv_project_bn", "expanded_conv_2_add"]


@pytest.fixture(scope="module")
def application_model():
    keras.utils.set_random_seed(7)
    return keras_drifa.build_model(backbone=APPLICATION, **SMALL)


def test_application_backbone_has_attention_at_its_default_levels(application_model):
    model = application_model
    # MobileNetV3Small: expanded_conv_2_add (24), expanded_conv_7_add (48), final map (576).
    assert _mifa_units(model) == [24, 48, 576]
    for m in MODALITIES:
        assert model.get_layer(f"{m}_preprocessing").mode == "pixels"
        assert [model.get_layer(f"{m}_level{k}_mfa").units for k in (1, 2, 3)] == [24, 48, 576]
    # The fused maps flow on: the block after level 1 reads MIFA's output.
    consumer = model.get_layer("modality_1_expanded_conv_3_expand")
    assert consumer.input._keras_history.operation.name == "mifa_level1"


def test_application_copies_are_independent_per_modality(application_model):
    first = application_model.get_layer("modality_0_conv")
    second = application_model.get_layer("modality_1_conv")
    assert first.kernel is not second.kernel
    # backbone_weights=None: each branch has its own random initialisation, as in the paper.
    assert not np.allclose(to_numpy(first.kernel), to_numpy(second.kernel))


def test_application_backbone_trains_and_survives_a_keras_round_trip(tmp_path):
    # One early level keeps JAX's compilation of the training step short.
    model = keras_drifa.build_model(backbone=APPLICATION, feature_layers=EARLY_LEVELS[:1], **SMALL)
    assert _mifa_units(model) == [16]
    loaded = _train_one_step_and_round_trip(model, tmp_path)
    assert isinstance(loaded.get_layer("modality_0_preprocessing"), ImageNetPreprocessing)


def test_local_weights_file_is_loaded_with_preprocessing_inside(tmp_path):
    reference = keras.applications.MobileNetV3Small(
        include_top=False, weights=None, input_shape=(32, 32, 3)
    )
    path = os.path.join(tmp_path, "mobilenet_v3_small.weights.h5")
    reference.save_weights(path)
    model = keras_drifa.build_model(
        modalities=1, backbone=APPLICATION, backbone_weights=path, feature_layers=EARLY_LEVELS,
        use_mfa=False, use_mifa=False, **SMALL,
    )
    images = np.random.default_rng(0).random((2, 32, 32, 3), dtype=np.float32)
    # The model takes [0, 1]; MobileNetV3 rescales [0, 255] itself (its preprocess_input
    # is the identity), so the copy must see 255 x.
    level = keras.Model(reference.inputs, reference.get_layer(EARLY_LEVELS[-1]).output)
    expected = level([keras.applications.mobilenet_v3.preprocess_input(images * 255.0)])
    np.testing.assert_allclose(
        to_numpy(_features(model, "modality_0")([images])), to_numpy(expected), rtol=1e-4, atol=1e-4
    )
    # The .keras file brings the weights: loading it reads no backbone_weights file.
    saved = os.path.join(tmp_path, "model.keras")
    model.save(saved)
    os.remove(path)
    loaded = keras.models.load_model(saved)
    assert loaded.backbone_weights == path == loaded.get_config()["backbone_weights"]
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    for a, b in zip(loaded(images), model(images)):
        np.testing.assert_array_equal(to_numpy(a), to_numpy(b))


# One member per family at 32x32: the documented defaults (strides 8, 16, then the end).
FAMILY_DEFAULTS = {
    "resnet50": ["conv3_block4_out", "conv4_block6_out", "conv5_block3_out"],
    "resnet50v2": ["conv3_block3_out", "conv4_block5_out", "post_relu"],
    "efficientnetb0": ["block3b_add", "block5c_add", "top_activation"],
    "densenet121": ["conv3_block12_concat", "conv4_block24_concat", "relu"],
    "mobilenet": ["conv_pw_5_relu", "conv_pw_11_relu", "conv_pw_13_relu"],
    "mobilenetv2": ["block_5_add", "block_12_add", "out_relu"],
    "mobilenetv3small": ["expanded_conv_2_add", "expanded_conv_7_add", None],
    "convnexttiny": [
        "convnext_tiny_stage_1_block_2_identity",
        "convnext_tiny_stage_2_block_8_identity",
        None,
    ],
}


@pytest.mark.skipif(
    BACKEND != "torch",
    reason="layer names and shapes of keras.applications graphs are the same on every "
    "backend (the default-level code runs on all three via application_model); building "
    "eight applications costs minutes of initializer compilation on JAX and TensorFlow",
)
@pytest.mark.parametrize("name", sorted(FAMILY_DEFAULTS))
def test_default_feature_layers_per_family(name):
    levels = backbones.default_feature_layers(name, input_shape=(32, 32, 3))
    expected = FAMILY_DEFAULTS[name]
    # None: the final layer has an automatic (session-dependent) name.
    assert [e or got for e, got in zip(expected, levels)] == levels


def test_every_application_name_is_a_keras_application():
    names = backbones.APPLICATION_BACKBONES
    assert {"resnet50", "efficientnetb0", "densenet121", "mobilenetv2"} <= set(names)
    for constructor, mode, _ in names.values():
        assert callable(getattr(keras.applications, constructor))
        assert mode in ("caffe", "tf", "torch", "pixels")


def test_trainable_backbone_false_freezes_only_the_backbone():
    model = keras_drifa.build_model(
        backbone=hand_built(), feature_layers=["s3_out"], trainable_backbone=False, **SMALL
    )
    backbone_layers = [
        model.get_layer(f"{m}_{name}")
        for m in MODALITIES
        for name in ("s1", "s1_conv", "s2_out", "s3_bn", "s3_out")
    ]
    assert not any(layer.trainable for layer in backbone_layers)
    frozen = {id(w) for layer in backbone_layers for w in layer.weights}
    trainable = {id(w) for w in model.trainable_weights}
    assert not frozen & trainable
    for name in ("modality_0_level1_mfa", "modality_1_level1_mfa", "mifa_level1", "task_0"):
        assert {id(w) for w in model.get_layer(name).weights} <= trainable


# --- your own functional model ------------------------------------------------------------


@pytest.fixture(scope="module")
def tapped():
    keras.utils.set_random_seed(3)
    backbone = hand_built()
    model = keras_drifa.build_model(backbone=backbone, feature_layers=HAND_LEVELS, **SMALL)
    return backbone, model


def test_feature_layers_are_tapped_and_fused(tapped):
    backbone, model = tapped
    assert _mifa_units(model) == [16, 24]
    for m in MODALITIES:
        # Every layer up to the last feature layer is copied, nothing after it.
        for name in ("s1", "s1_conv", "s1_out", "s2_out", "s3_bn", "s3_out"):
            assert model.get_layer(f"{m}_{name}")
        with pytest.raises(ValueError):
            model.get_layer(f"{m}_flatten")
        # The next stage reads the fused level, not the backbone's own tensor.
        s2 = model.get_layer(f"{m}_s2_out")
        assert s2.input._keras_history.operation.name == "mifa_level1"
        assert model.get_layer(f"{m}_features").input._keras_history.operation.name == "mifa_level2"


def test_copies_carry_the_backbone_weights_in_their_own_variables(tapped):
    backbone, model = tapped
    original = backbone.get_layer("s2_out")
    for m in MODALITIES:
        copy = model.get_layer(f"{m}_s2_out")
        assert copy.kernel is not original.kernel
        np.testing.assert_array_equal(to_numpy(copy.kernel), to_numpy(original.kernel))
    # Building the DRIFA model did not touch the user's backbone.
    assert all(len(layer._inbound_nodes) == 1 for layer in backbone.layers)
    assert len(backbone.layers) == 8


def test_copies_compute_the_backbone_when_attention_is_off():
    backbone = hand_built(input_shape=(32, 32, 3))
    model = keras_drifa.build_model(
        backbone=backbone, feature_layers=HAND_LEVELS, use_mfa=False, use_mifa=False, **SMALL
    )
    xs, _ = batch(model, n=2)
    expected = keras.Model(backbone.inputs, backbone.get_layer("s3_out").output)([xs[1]])
    assert tuple(expected.shape) == (2, 4, 4, 24)
    actual = _features(model, "modality_1")(xs)
    np.testing.assert_allclose(to_numpy(actual), to_numpy(expected), rtol=1e-5, atol=1e-5)


def test_own_backbone_trains_and_survives_a_keras_round_trip(tapped, tmp_path):
    _train_one_step_and_round_trip(tapped[1], tmp_path)


def test_own_backbone_is_kept_serialised_in_the_config(tapped):
    backbone, model = tapped
    config = model.get_config()
    assert config["backbone"] == keras.saving.serialize_keras_object(backbone)
    assert config["feature_layers"] == HAND_LEVELS
    # The original is not part of the model: its weights are not the model's.
    assert not {id(w) for w in backbone.weights} & {id(w) for w in model.weights}
    rebuilt = keras_drifa.DRIFANet.from_config(json.loads(json.dumps(config)))
    assert [layer.name for layer in rebuilt.layers] == [layer.name for layer in model.layers]
    assert [w.path for w in rebuilt.weights] == [w.path for w in model.weights]
    assert json.dumps(rebuilt.get_config()) == json.dumps(config)


def test_sequential_backbone_can_be_tapped():
    backbone = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            keras.layers.Conv2D(8, 3, strides=2, name="a"),
            keras.layers.Conv2D(8, 3, strides=2, name="b"),
        ]
    )
    model = keras_drifa.build_model(backbone=backbone, feature_layers=["a", "b"], **SMALL)
    assert _mifa_units(model) == [8, 8]
    assert model.get_layer("modality_0_b").input._keras_history.operation.name == "mifa_level1"


# --- KerasHub -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def keras_hub():
    return pytest.importorskip(
        "keras_hub", reason="KerasHub is the optional extra keras-drifa[hub] (make test installs it)"
    )


def _keras_hub_resnet(keras_hub):
    """Four stages of one basic block (KerasHub wants 64 filters first): P2 to P5 of 64, 16,
    16 and 24 channels, built from the constructor with random weights (no preset)."""
    return keras_hub.models.ResNetBackbone(
        input_conv_filters=[64],
        input_conv_kernel_sizes=[3],
        stackwise_num_filters=[64, 16, 16, 24],
        stackwise_num_blocks=[1, 1, 1, 1],
        stackwise_num_strides=[1, 2, 2, 2],
        block_type="basic_block",
        use_pre_activation=False,
        image_shape=(32, 32, 3),
    )


@pytest.fixture(scope="module")
def keras_hub_backbone(keras_hub):
    keras.utils.set_random_seed(6)
    return _keras_hub_resnet(keras_hub)


def test_keras_hub_backbone_trains_at_its_last_three_pyramid_outputs(keras_hub_backbone, tmp_path):
    model = keras_drifa.build_model(backbone=keras_hub_backbone, **SMALL)
    assert _mifa_units(model) == [16, 16, 24]  # P3, P4, P5; P2 (64 channels) is left out
    _train_one_step_and_round_trip(model, tmp_path)


def test_keras_hub_backbone_receives_the_images_unchanged(keras_hub_backbone):
    model = keras_drifa.build_model(
        modalities=1, backbone=keras_hub_backbone, use_mfa=False, use_mifa=False, **SMALL
    )
    images = np.random.default_rng(0).random((2, 32, 32, 3), dtype=np.float32)
    p5 = keras_hub_backbone.pyramid_outputs["P5"]
    np.testing.assert_allclose(
        to_numpy(_features(model, "modality_0")([images])),
        to_numpy(keras.Model(keras_hub_backbone.inputs, p5)([images])),
        rtol=1e-4,
        atol=1e-5,
    )


# --- KerasCV ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def keras_cv():
    return pytest.importorskip(
        "keras_cv", reason="KerasCV is the optional extra keras-drifa[cv] (make test installs it)"
    )


def _keras_cv_resnet(keras_cv, include_rescaling=False):
    """Two stages of two bottleneck blocks: pyramid levels P2 (stride 4) and P3 (stride 8)."""
    return keras_cv.models.ResNetV2Backbone(
        stackwise_filters=[4, 6],
        stackwise_blocks=[2, 2],  # KerasCV 0.9 names two layers alike with 1 block
        stackwise_strides=[1, 2],
        input_shape=(None, None, 3),
        include_rescaling=include_rescaling,
    )


@pytest.fixture(scope="module")
def keras_cv_model(keras_cv):
    keras.utils.set_random_seed(5)
    return keras_drifa.build_model(backbone=_keras_cv_resnet(keras_cv), **SMALL)


def test_keras_cv_backbone_uses_its_pyramid_levels(keras_cv_model):
    # Bottleneck blocks: 4x the filters at P2 (4) and P3 (6); at most the last three levels.
    assert _mifa_units(keras_cv_model) == [16, 24]
    with pytest.raises(ValueError):
        keras_cv_model.get_layer("modality_0_preprocessing")


def test_keras_cv_backbone_trains_and_survives_a_keras_round_trip(keras_cv_model, tmp_path):
    _train_one_step_and_round_trip(keras_cv_model, tmp_path)


def test_keras_cv_rescaling_backbone_takes_images_in_unit_range(keras_cv):
    backbone = _keras_cv_resnet(keras_cv, include_rescaling=True)
    model = keras_drifa.build_model(
        modalities=1, backbone=backbone, use_mfa=False, use_mifa=False, **SMALL
    )
    images = np.random.default_rng(0).random((2, 32, 32, 3), dtype=np.float32)
    # The backbone divides by 255 itself; the DRIFA model takes [0, 1] like every other.
    p3 = backbone.get_layer(backbone.pyramid_level_inputs["P3"]).output
    np.testing.assert_allclose(
        to_numpy(_features(model, "modality_0")([images])),
        to_numpy(keras.Model(backbone.inputs, p3)([images * 255.0])),
        rtol=1e-4,
        atol=1e-5,
    )


# --- errors -------------------------------------------------------------------------------


class Subclassed(keras.Model):
    def __init__(self):
        super().__init__()
        self.conv = keras.layers.Conv2D(8, 3)

    def call(self, x):
        return self.conv(x)


class Transform(keras.layers.Layer):
    """A layer whose constructor argument (a function) has no config to rebuild it from."""

    def __init__(self, function, **kwargs):
        super().__init__(**kwargs)
        self.function = function

    def call(self, x):
        return self.function(x)


def _two_inputs():
    a, b = keras.Input((32, 32, 3)), keras.Input((32, 32, 3))
    return keras.Model([a, b], keras.layers.Add(name="s1_out")([a, b]))


def _uncopyable():
    x = keras.Input((32, 32, 3))
    return keras.Model(x, Transform(keras.ops.relu, name="relu")(x))


def _hand(**kwargs):
    return dict(SMALL, backbone=hand_built(), feature_layers=HAND_LEVELS) | kwargs


def _named(**kwargs):
    return dict(SMALL) | kwargs


# (id, keyword arguments of build_model, made when the test runs; the expected message)
BAD_ARGUMENTS = [
    ("unknown-name", lambda: _named(backbone="resnet51"),
     r"unknown backbone 'resnet51'.*'efficientnetb0'.*'resnet50'"),
    ("not-a-model", lambda: _named(backbone=3), r"backbone must be 'drifa'.*received int"),
    ("subclassed", lambda: _named(backbone=Subclassed()),
     r"no layer graph .*subclassed keras.Model.*functional API"),
    ("two-inputs", lambda: _hand(backbone=_two_inputs(), feature_layers=["s1_out"]),
     r"has 2 inputs"),
    ("no-feature-layers",
     lambda: _hand(backbone=hand_built(input_shape=(32, 32, 3)), feature_layers=None),
     r"feature_layers is required.*last resolutions are \['s1_out', 's3_bn', 's3_out'\]"),
    ("missing-layer", lambda: _hand(feature_layers=["s2out"]),
     r"'s2out' is not a layer of backbone 'hand_built'. Close names: \['s2_out'"),
    ("not-4d", lambda: _hand(feature_layers=["s1_out", "flatten"]),
     r"'flatten'.*outputs \(None, .*\).*4-D"),
    ("out-of-order", lambda: _hand(feature_layers=["s2_out", "s1_out"]),
     r"'s1_out'.*is not computed from 's2_out'"),
    ("duplicate", lambda: _hand(feature_layers=["s1_out", "s1_out"]), r"more than once"),
    ("string", lambda: _hand(feature_layers="s1_out"), r"feature_layers must be a non-empty list"),
    ("empty", lambda: _hand(feature_layers=[]), r"feature_layers must be a non-empty list"),
    ("weights-for-model", lambda: _hand(backbone_weights="imagenet"),
     r"backbone_weights='imagenet' applies to keras.applications names only"),
    ("trainable-not-bool", lambda: _hand(trainable_backbone="no"),
     r"build_model: `trainable_backbone` must be True or False; received trainable_backbone='no'"),
    ("widths", lambda: _hand(widths=(8, 8, 16, 16)),
     r"widths=\(8, 8, 16, 16\).*'drifa' backbone only"),
    ("drifa-feature-layers", lambda: _named(backbone="drifa", feature_layers=["s1_out"]),
     r"feature_layers=\['s1_out'\] applies only to other backbones"),
    ("drifa-weights", lambda: _named(backbone_weights="imagenet"),
     r"backbone_weights='imagenet' applies only to other backbones"),
    ("drifa-frozen", lambda: _named(trainable_backbone=False),
     r"trainable_backbone=False applies only to other backbones"),
    ("missing-weights-file", lambda: _named(backbone="efficientnetb0", backbone_weights="/no/w.h5"),
     r"existing weights file; received '/no/w.h5'"),
    ("gray-for-application", lambda: _named(backbone="resnet50", input_shape=(32, 32, 1)),
     r"RGB.*\(32, 32, 1\).*np.repeat\(x, 3, axis=-1\).*\(32, 32, 3\)"),
    ("too-small-for-application", lambda: _named(backbone="resnet50", input_shape=(16, 16, 3)),
     r"at least 32x32.*\(16, 16, 3\)"),
    ("gray-for-own-model", lambda: _hand(input_shape=(32, 32, 1)),
     r"takes 3-channel images.*\(32, 32, 1\).*np.repeat"),
    ("wrong-size-for-own-model",
     lambda: _hand(backbone=hand_built(input_shape=(32, 32, 3)), input_shape=(64, 64, 3)),
     r"height 32.*\(64, 64, 3\).*Resize"),
    ("uncopyable-layer", lambda: _hand(backbone=_uncopyable(), feature_layers=["relu"]),
     r"cannot copy backbone layer 'relu' \(Transform\).*get_config"),
]


@pytest.mark.parametrize(
    "make_kwargs, match", [pytest.param(make, match, id=id_) for id_, make, match in BAD_ARGUMENTS]
)
def test_bad_backbone_arguments_raise_clear_errors(make_kwargs, match):
    with pytest.raises(ValueError, match=match):
        keras_drifa.build_model(**make_kwargs())


@pytest.mark.filterwarnings("ignore:`input_shape` is undefined:UserWarning")
def test_imagenet_weights_offline_name_where_keras_looks(tmp_path, monkeypatch):
    # Keras reads KERAS_HOME when it is imported: set it, and point the home Keras resolved
    # at import at the same temp folder (what starting with KERAS_HOME=tmp_path would
    # do), and make every download fail as it does offline.
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(keras.src.backend.config, "_KERAS_DIR", str(tmp_path))
    targets = []

    def offline(url, target, *args, **kwargs):
        targets.append(target)
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(keras.src.utils.file_utils, "urlretrieve", offline)
    with pytest.raises(FileNotFoundError) as raised:
        keras_drifa.build_model(backbone="mobilenetv3small", backbone_weights="imagenet", **SMALL)
    message = str(raised.value)
    # The path in the message is the very file Keras tried to download into.
    assert len(targets) == 1 and os.path.dirname(targets[0]) == os.path.join(tmp_path, "models")
    assert targets[0] in message
    assert "KERAS_HOME" in message and "backbone_weights=None" in message
    assert "Temporary failure in name resolution" in message
    assert raised.value.__cause__ is None and raised.value.__suppress_context__
    assert not os.path.exists(targets[0])
