import warnings

import keras
import numpy as np
import pytest
from gradcam_testing import (
    closed_form,
    conv_bn_gap_dense,
    drifa_inputs,
    finite_difference_gradient,
    fusion_logits,
    fusion_model,
    tiny_drifa,
)

import keras_drifa
from keras_drifa.ensemble import MCDropoutEnsemble
from keras_drifa.explain import GradCAM, GradCAMResult
from keras_drifa.explain._methods import normalise
from keras_drifa.explain._resize import resize_bilinear
from keras_drifa.mc_sampling import mc_dropout_layers

METHODS = ("gradcam", "gradcam++", "hirescam")


@pytest.fixture(scope="module")
def drifa():
    keras.utils.set_random_seed(7)
    model = tiny_drifa()
    return model, drifa_inputs(model, n=4)


@pytest.fixture(scope="module")
def drifa_maps(drifa):
    model, x = drifa
    result = GradCAM(model)(x, task="task_1", verbose=0)
    return result, result.raw


def _image(n=3, seed=1):
    return np.random.default_rng(seed).normal(size=(n, 6, 5, 2)).astype("float32")


# --- closed form: conv -> batch norm -> dropout -> GAP -> Dense ---------------------------


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("class_index", [None, 2, [0, 3, 1]])
def test_matches_closed_form(method, class_index):
    model, x = conv_bn_gap_dense(), _image()
    maps = GradCAM(model, target_layers="conv", method=method)(
        x, class_index=class_index, verbose=0
    )
    raw = maps.raw
    expected, _ = closed_form(model, x, method, class_index)
    scale = expected.max()
    np.testing.assert_allclose(raw["image"], expected, rtol=1e-4, atol=1e-6 * scale)
    # Same size as the input, so resizing is the identity and only the division remains.
    np.testing.assert_allclose(maps["image"], normalise(expected), atol=1e-5)


def test_single_input_models_default_to_the_last_feature_map():
    assert GradCAM(conv_bn_gap_dense()).target_layers == {"image": "dropout"}


def test_predicted_class_is_the_argmax():
    model, x = conv_bn_gap_dense(), _image(n=5)
    predicted = np.argmax(model.predict(x, verbose=0), axis=-1)
    cam = GradCAM(model)
    np.testing.assert_allclose(
        cam(x, verbose=0)["image"], cam(x, class_index=predicted, verbose=0)["image"], atol=1e-6
    )


def test_predict_gives_the_probabilities_whose_argmax_is_explained():
    model, x = conv_bn_gap_dense(), _image(n=5)
    cam = GradCAM(model, batch_size=2)  # three batches
    probabilities = cam.predict(x, task="out")
    np.testing.assert_allclose(probabilities, model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        cam(x, verbose=0)["image"],
        cam(x, class_index=np.argmax(probabilities, axis=-1), verbose=0)["image"],
        atol=1e-6,
    )


def test_softmax_output_is_explained_by_its_logits_and_left_intact():
    softmax, linear = conv_bn_gap_dense("softmax"), conv_bn_gap_dense("linear")
    linear.set_weights(softmax.get_weights())
    x = _image()
    raw_softmax = GradCAM(softmax, "conv")(x, class_index=1, verbose=0).raw
    raw_linear = GradCAM(linear, "conv")(x, class_index=1, verbose=0).raw
    np.testing.assert_allclose(raw_softmax["image"], raw_linear["image"], rtol=1e-5)
    probabilities = softmax.predict(x, verbose=0)
    np.testing.assert_allclose(probabilities.sum(-1), 1.0, rtol=1e-5)
    assert softmax.get_layer("out").activation is keras.activations.softmax


def test_inference_mode_makes_maps_repeatable():
    model, x = conv_bn_gap_dense(), _image()
    cam = GradCAM(model)
    first, second = cam(x, verbose=0), cam(x, verbose=0)
    np.testing.assert_array_equal(first["image"], second["image"])
    # One result type whatever the arguments: one pass has no spread.
    assert isinstance(first, GradCAMResult) and first.passes == 1 and first.std is None
    assert list(first) == ["image"] and first["image"].shape == (3, 6, 5)
    assert first.raw["image"].shape == (3, 6, 5)


# --- fusion: layers after the targets read both branches ----------------------------------


@pytest.fixture(scope="module")
def fusion():
    model = fusion_model()
    rng = np.random.default_rng(3)
    return model, [rng.normal(size=(2, 6, 6, 2)).astype("float32"),
                   rng.normal(size=(2, 4, 4, 2)).astype("float32")]


@pytest.mark.parametrize(
    "targets, cuts",
    [
        (("conv_a", "conv_b"), 1),  # siblings: one cut for both
        (("conv_a", "conv_b2"), 2),  # conv_a feeds conv_b2 through the gate: a cut each
    ],
)
def test_fusion_model_matches_finite_differences(fusion, targets, cuts):
    model, (a, b) = fusion
    class_index = np.array([0, 2])
    features = {
        "conv_a": keras.ops.convert_to_numpy(model.get_layer("conv_a")(a)),
        "conv_b": keras.ops.convert_to_numpy(model.get_layer("conv_b")(b)),
    }
    features["conv_b2"] = keras.ops.convert_to_numpy(
        keras.Model(model.inputs, model.get_layer("conv_b2").output)([a, b])
    )
    gradients = {
        target: finite_difference_gradient(
            lambda f, copies, t=target: fusion_logits(
                model, np.tile(a, (copies, 1, 1, 1)), np.tile(b, (copies, 1, 1, 1)), **{t: f}
            ),
            features[target],
            class_index,
        )
        for target in targets
    }
    for method in ("gradcam", "hirescam"):
        cam = GradCAM(model, target_layers=list(targets), method=method)
        assert len(cam.graph.cuts) == cuts
        raw = cam([a, b], class_index=class_index, verbose=0).raw
        for modality, target in zip(("a", "b"), targets):
            feature, gradient = features[target].astype(np.float64), gradients[target]
            if method == "gradcam":
                expected = np.einsum("bhwk,bk->bhw", feature, gradient.mean(axis=(1, 2)))
            else:
                expected = (feature * gradient).sum(-1)
            expected = np.maximum(expected, 0)
            np.testing.assert_allclose(
                raw[modality], expected, rtol=2e-2, atol=2e-3 * expected.max(),
                err_msg=f"{method}, target {target}",
            )


def test_reports_an_output_that_does_not_read_the_target():
    a, b = keras.Input((6, 6, 2), name="a"), keras.Input((6, 6, 2), name="b")
    fa = keras.layers.Conv2D(2, 3, name="conv_a")(a)
    fb = keras.layers.Conv2D(2, 3, name="conv_b")(b)
    pa = keras.layers.GlobalAveragePooling2D()(fa)
    pb = keras.layers.GlobalAveragePooling2D()(fb)
    out_a = keras.layers.Dense(2, activation="softmax", name="out_a")(pa)
    out_ab = keras.layers.Dense(2, name="out_ab")(keras.layers.Concatenate()([pa, pb]))
    model = keras.Model([a, b], [out_a, out_ab])
    x = [np.ones((1, 6, 6, 2), "float32")] * 2
    cam = GradCAM(model, target_layers={"a": "conv_a", "b": "conv_b"})
    with pytest.raises(ValueError, match="'out_a' does not depend on target layer 'conv_b'"):
        cam(x, task="out_a", verbose=0)
    assert set(cam(x, task="out_ab", verbose=0)) == {"a", "b"}


# --- DRIFA-Net -------------------------------------------------------------------------------


def test_drifa_default_targets_are_the_branch_features(drifa):
    model, _ = drifa
    assert GradCAM(model).target_layers == {
        "modality_0": "modality_0_features",
        "modality_1": "modality_1_features",
    }
    cam = GradCAM(model)
    for target, m in zip(cam.graph.targets, model.modality_names):
        assert target is model.branch_features[m]


def test_a_plain_functional_copy_finds_the_same_targets_by_name(drifa):
    model, _ = drifa
    # A plain functional model over the same graph has no branch_features: the
    # "<modality>_features" layers are found by name, as for models users build.
    plain = keras.Model(model.inputs, model.outputs)
    assert not hasattr(plain, "branch_features")
    cam, plain_cam = GradCAM(model), GradCAM(plain)
    assert plain_cam.target_layers == cam.target_layers
    assert all(a is b for a, b in zip(plain_cam.graph.targets, cam.graph.targets))


def test_a_models_branch_features_attribute_comes_before_the_layer_names():
    image = keras.Input((6, 5, 2), name="image")
    conv = keras.layers.Conv2D(3, 1, name="conv")(image)
    marker = keras.layers.Identity(name="image_features")(keras.layers.ReLU()(conv))
    pooled = keras.layers.GlobalAveragePooling2D()(marker)
    model = keras.Model(image, keras.layers.Dense(2, activation="softmax", name="out")(pooled))
    assert GradCAM(model).target_layers == {"image": "image_features"}
    model = keras.Model(model.inputs, model.outputs)
    model.branch_features = {"image": conv}
    assert GradCAM(model).target_layers == {"image": "conv"}


def test_drifa_maps_have_input_sizes_and_unit_range(drifa, drifa_maps):
    model, x = drifa
    maps, raw = drifa_maps
    assert list(maps) == ["modality_0", "modality_1"]
    assert maps["modality_0"].shape == (4, 32, 32) and maps["modality_1"].shape == (4, 24, 24)
    assert raw["modality_0"].shape == (4, 4, 4) and raw["modality_1"].shape == (4, 3, 3)
    for m in maps:
        assert maps[m].dtype == np.float32
        peaks = maps[m].max(axis=(1, 2))
        # Each map peaks at 1, unless it is all zero: no positive evidence (possible in
        # an untrained model).
        assert maps[m].min() >= 0 and np.all(np.isclose(peaks, 1) | (peaks == 0))
        np.testing.assert_array_equal(peaks == 0, raw[m].max(axis=(1, 2)) == 0)
        np.testing.assert_allclose(
            maps[m], normalise(resize_bilinear(raw[m], maps[m].shape[1:])), atol=1e-6
        )
    assert raw["modality_0"].max() > 0


def test_drifa_mifa_layer_gives_each_modality_its_own_map(drifa):
    model, _ = drifa
    cam = GradCAM(model, target_layers=["mifa_block2", "mifa_block2"])
    for m, target in enumerate(cam.graph.targets):
        # The default targets are Identity markers of exactly these MIFA outputs.
        assert target is model.get_layer(f"modality_{m}_features").input


def test_task_name_index_and_input_dict_agree(drifa, drifa_maps):
    model, x = drifa
    maps = GradCAM(model)({"modality_1": x[1], "modality_0": x[0]}, task=1, verbose=0)
    for m in maps:
        np.testing.assert_allclose(maps[m], drifa_maps[0][m], atol=1e-6)


def test_batched_equals_one_by_one(drifa, drifa_maps):
    model, x = drifa
    one_by_one = GradCAM(model, batch_size=1)(x, task=1, verbose=0)
    third = GradCAM(model)([a[2:3] for a in x], task=1, verbose=0)
    for m in one_by_one:
        np.testing.assert_allclose(one_by_one[m], drifa_maps[0][m], atol=1e-5)
        np.testing.assert_allclose(third[m][0], drifa_maps[0][m][2], atol=1e-5)


def test_single_modality_default_target():
    keras.utils.set_random_seed(3)
    model = tiny_drifa(modalities=1, input_shape=(32, 32, 3), num_classes=3)
    cam = GradCAM(model)
    assert cam.target_layers == {"modality_0": "modality_0_features"}
    # Single-input calls are exercised by the closed-form tests above.
    assert cam.graph.targets[0].shape[1:] == (4, 4, 16)


def test_models_without_markers_use_the_fusion_concat_inputs():
    a, b = keras.Input((6, 6, 1), name="a"), keras.Input((6, 6, 1), name="b")
    fa = keras.layers.Conv2D(2, 3, padding="same", name="conv_a")(a)
    fb = keras.layers.Conv2D(2, 3, padding="same", name="conv_b")(b)
    fused = keras.layers.Concatenate(name="fusion_concat")([fa, fb])
    out = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(fused))
    model = keras.Model([a, b], out)
    assert GradCAM(model).target_layers == {"a": "conv_a", "b": "conv_b"}


# --- explanation uncertainty ------------------------------------------------------------------


def test_mc_samples_give_mean_and_std(drifa):
    model, x = drifa
    cam = GradCAM(model, num_samples=4)
    result = cam(x, task=0, verbose=0)
    assert isinstance(result, GradCAMResult) and result.passes == 4
    mean, std, raw = result, result.std, result.raw
    assert result.mean == result.maps == dict(result)
    for m, size in (("modality_0", 32), ("modality_1", 24)):
        assert mean[m].shape == std[m].shape == (4, size, size)
        assert raw[m].shape[:2] == (4, 4)
        samples = np.stack([normalise(resize_bilinear(r, (size, size))) for r in raw[m]])
        np.testing.assert_allclose(mean[m], samples.mean(0), atol=1e-5)
        np.testing.assert_allclose(std[m], samples.std(0), atol=1e-5)
        assert std[m].max() > 0.01  # dropout changes where the evidence is
        assert mean[m].min() >= 0 and mean[m].max() <= 1 + 1e-6
    # Sampling is switched off again afterwards: inference is deterministic.
    assert not any(layer.sampling for layer in mc_dropout_layers(model))


def test_mc_samples_of_an_ensemble_span_its_members():
    def member():
        inputs = keras.Input((6, 6, 2), name="image")
        features = keras.layers.Conv2D(3, 3, padding="same", name="conv")(inputs)
        dropped = keras_drifa.layers.MCDropout(0.5, name="mc")(features)
        pooled = keras.layers.GlobalAveragePooling2D()(dropped)
        return keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="out")(pooled))

    ensemble = MCDropoutEnsemble(member, num_members=2)
    x = np.random.default_rng(0).normal(size=(3, 6, 6, 2)).astype("float32")
    result = GradCAM(ensemble, num_samples=3)(x, verbose=0)
    mean, std, raw = result, result.std, result.raw
    assert raw["image"].shape == (6, 3, 6, 6) and mean["image"].shape == (3, 6, 6)
    per_pass = normalise(raw["image"].reshape(18, 6, 6)).reshape(6, 3, 6, 6)
    np.testing.assert_allclose(mean["image"], per_pass.mean(0), atol=1e-5)
    np.testing.assert_allclose(std["image"], per_pass.std(0), atol=1e-5)
    # Without sampling, each member contributes its deterministic map for the ensemble's
    # predicted class.
    predicted = np.argmax(ensemble.predict(x, verbose=0), -1)
    result = GradCAM(ensemble)(x, verbose=0)
    assert result.passes == 2
    mean, std = result, result.std
    members = [GradCAM(m)(x, class_index=predicted, verbose=0)["image"] for m in ensemble.members]
    np.testing.assert_allclose(mean["image"], np.mean(members, 0), atol=1e-5)
    np.testing.assert_allclose(std["image"], np.std(members, 0), atol=1e-5)


# --- warnings and the model is left as it was ---------------------------------------------


def test_warns_when_the_gradient_vanishes():
    inputs = keras.Input((4, 4, 1), name="image")
    features = keras.layers.Conv2D(
        2, 1, name="conv", bias_initializer=keras.initializers.Constant(-100.0)
    )(inputs)
    pooled = keras.layers.GlobalAveragePooling2D()(keras.layers.ReLU()(features))
    model = keras.Model(inputs, keras.layers.Dense(2)(pooled))
    with pytest.warns(UserWarning, match=r"zero everywhere .* samples \[0, 1\]"):
        maps = GradCAM(model, target_layers="conv")(np.zeros((2, 4, 4, 1), "float32"),
                                                    verbose=0)
    assert not maps["image"].any()


def _pool_to(size, spatial=(None, None)):
    inputs = keras.Input(spatial + (1,), name="image")
    features = keras.layers.Conv2D(2, 3, padding="same", name="conv")(inputs)
    pooled = keras.layers.AveragePooling2D(size, name="coarse")(features)
    outputs = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(pooled))
    return keras.Model(inputs, outputs)


@pytest.mark.parametrize("spatial", [(8, 8), (None, None)], ids=["static", "dynamic"])
def test_warns_when_the_target_map_is_two_by_two_or_smaller(spatial):
    model = _pool_to(4, spatial)
    x = np.random.default_rng(0).random((2, 8, 8, 1), dtype=np.float32)
    with pytest.warns(UserWarning, match=r"'coarse' of modality 'image' gives 2x2 maps"):
        GradCAM(model, target_layers="coarse")(x, verbose=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        GradCAM(model, target_layers="conv")(x, verbose=0)  # 8x8: no warning


def test_leaves_the_model_unchanged(drifa):
    model, x = drifa
    config, weights = model.get_config(), model.get_weights()
    GradCAM(model, method="gradcam++", num_samples=2)(x, verbose=0)
    assert model.get_config() == config
    for before, after in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(after, before)
    assert model.get_layer("task_0").activation is keras.activations.softmax
    assert not any(layer.sampling for layer in mc_dropout_layers(model))


# --- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(target_layers=["nope"]), r"target layer 'nope' for modality 'image' is not a layer"),
        (dict(target_layers=["pool"]), r"'pool' .* outputs shape \(None, 3\); expected a 4-D"),
        (dict(target_layers=["conv", "bn"]), r"gives 2 layers; expected 1"),
        (dict(target_layers={"other": "conv"}), r"keys \['other'\]; expected one entry"),
        (dict(target_layers=[3]), r"entries must be layer names or layers; received 3"),
        (dict(method="gradcam+"), r"`method` must be one of .*received method='gradcam\+'"),
        (dict(num_samples=1), r"`num_samples` must be an integer >= 2; received num_samples=1"),
        (dict(num_samples=3), r"num_samples=3 needs Monte Carlo dropout"),
        (dict(batch_size=0), r"`batch_size` must be an integer >= 1; received batch_size=0"),
    ],
)
def test_rejects_bad_construction(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GradCAM(conv_bn_gap_dense(), **kwargs)


def test_rejects_models_without_a_graph_or_default_target():
    class Subclassed(keras.Model):
        def call(self, x):
            return x

    with pytest.raises(ValueError, match="has no functional graph"):
        GradCAM(Subclassed())
    a, b = keras.Input((4, 4, 1), name="a"), keras.Input((4, 4, 1), name="b")
    out = keras.layers.Dense(2)(keras.layers.Flatten()(keras.layers.Add()([a, b])))
    with pytest.raises(ValueError, match="2 inputs but neither .* pass target_layers"):
        GradCAM(keras.Model([a, b], out))


def test_rejects_the_same_feature_map_twice(fusion):
    model, _ = fusion
    with pytest.raises(ValueError, match="the same feature map \\('conv_a'\\)"):
        GradCAM(model, target_layers=["conv_a", "conv_a"])


@pytest.mark.parametrize(
    "call, match",
    [
        (dict(task=1), r"`task` must be an output name in \['out'\] or an index from 0 to 0; received task=1"),
        (dict(task="task_0"), r"`task` must be one of the outputs \['out'\]; received task='task_0'"),
        (dict(task=True), r"`task` must be .*; received task=True"),
        (dict(class_index=4), r"class_index \[4, 4, 4\] is out of range for task 'out' with 4"),
        (dict(class_index=[0, -1, 2]), r"class_index \[-1\] is out of range"),
        (dict(class_index=[0, 1]), r"class_index must be None, an int or 3 ints"),
        (dict(class_index=1.0), r"class_index must be None, an int or 3 ints"),
        (dict(verbose=2), r"`verbose` must be 'auto', 0 or 1; received verbose=2"),
    ],
)
def test_rejects_bad_call_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        GradCAM(conv_bn_gap_dense())(_image(), **call)


@pytest.mark.parametrize(
    "inputs, match",
    [
        (lambda a, b: [a], r"`inputs` has 1 array\(s\); expected 2, one per input \['a', 'b'\]"),
        (lambda a, b: [a, b, b], r"`inputs` has 3 array\(s\); expected 2"),
        (lambda a, b: {"a": a}, r"`inputs` has the keys \['a'\]; expected one array per input"),
        (lambda a, b: [a, a], r"input 'b' has shape \(2, 6, 6, 2\); expected \('batch', 4, 4, 2\)"),
        (lambda a, b: [a, b[:1]], r"different batch sizes \{'a': 2, 'b': 1\}"),
        (lambda a, b: [a[:0], b[:0]], r"`inputs` is an empty batch"),
        (lambda a, b: [a.astype(str), b], r"input 'a' has dtype <U.*; expected numbers"),
        (lambda a, b: [np.where(a > 0, np.nan, a), b], r"input 'a' has \d+ NaN or infinite"),
    ],
)
def test_rejects_bad_inputs(fusion, inputs, match):
    model, (a, b) = fusion
    with pytest.raises(ValueError, match=match):
        GradCAM(model, target_layers=["conv_a", "conv_b"])(inputs(a, b))


def test_warns_about_0_255_images(fusion):
    model, (a, b) = fusion
    cam = GradCAM(model, target_layers=["conv_a", "conv_b"])
    with pytest.warns(UserWarning, match=r"input 'a' has values up to 255.*divide them by 255"):
        cam([np.abs(a) * 0 + 255.0, b], verbose=0)


def test_an_ensemble_of_reordered_members_is_refused():
    """The ensemble matches members by name; Grad-CAM reads them by position."""

    def member(names):
        inputs = {n: keras.Input((6, 6, 2), name=n) for n in names}
        features = [
            keras.layers.Conv2D(3, 3, padding="same", name=f"{n}_conv")(inputs[n])
            for n in ("a", "b")
        ]
        dropped = keras_drifa.layers.MCDropout(0.5)(keras.layers.Concatenate()(features))
        pooled = keras.layers.GlobalAveragePooling2D()(dropped)
        outputs = keras.layers.Dense(3, activation="softmax", name="out")(pooled)
        return keras.Model([inputs[n] for n in names], outputs)

    ensemble = MCDropoutEnsemble([member(["a", "b"]), member(["b", "a"])])
    with pytest.raises(ValueError, match="GradCAM: the members of ensemble .* list their "
                                         "inputs or outputs in different orders"):
        GradCAM(ensemble, target_layers=["a_conv", "b_conv"])
    in_order = MCDropoutEnsemble([member(["a", "b"]), member(["a", "b"])])
    assert GradCAM(in_order, target_layers=["a_conv", "b_conv"]).modalities == ["a", "b"]


# --- Issue 21: target layers in the wrong order, mixed bfloat16 -------------------------------


def test_refuses_target_layers_in_another_modality_order():
    model = fusion_model()
    with pytest.raises(
        ValueError,
        match=r"GradCAM: target layer 'conv_b' is given for modality 'a' but is computed from "
        r"input 'b' only; expected target_layers in input order \['a', 'b'\]",
    ):
        GradCAM(model, target_layers=["conv_b", "conv_a"])
    with pytest.raises(ValueError, match="target layer 'conv_b' is given for modality 'a'"):
        GradCAM(model, target_layers={"a": "conv_b", "b": "conv_a"})
    # Targets that read both inputs (after the gates) cannot be misassigned.
    assert GradCAM(model, target_layers=["conv_b2", "conv_a2"]).target_layers == {
        "a": "conv_b2", "b": "conv_a2"
    }


def test_maps_under_mixed_bfloat16():
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        model = conv_bn_gap_dense()
    finally:
        keras.config.set_dtype_policy(previous)
    x = np.random.default_rng(0).random((2, 6, 5, 2), dtype=np.float32)
    result = GradCAM(model, target_layers="conv")(x, verbose=0)
    maps = result["image"]
    assert maps.dtype == np.float32 and maps.shape == (2, 6, 5)
    assert np.all(np.isfinite(maps)) and maps.max() <= 1


def test_a_generator_is_refused_with_what_to_pass():
    model = fusion_model()
    x = [np.zeros((1, 6, 6, 2), "float32"), np.zeros((1, 4, 4, 2), "float32")]
    with pytest.raises(ValueError, match=r"GradCAM: `inputs` is a generator, a stream of batches"):
        GradCAM(model, target_layers=["conv_a", "conv_b"])((b for b in [x]), verbose=0)
