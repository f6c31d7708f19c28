import json
import os
import subprocess
import sys
import textwrap
import warnings
import zipfile

import keras
import numpy as np
import pytest
from drifa_reference import drifa_net_non_trainable, drifa_net_params
from drifa_testing import BACKEND, RUN_EAGERLY, TINY, batch, image_data_format, tiny_model

import keras_drifa
from keras_drifa.layers import (
    MCDropout,
    MultiBranchFusionAttention,
    MultimodalInformationFusionAttention,
    RobustResidualAttentionBlock,
)

BACKENDS = ("tensorflow", "jax", "torch")


def _non_trainable(model):
    return sum(int(np.prod(w.shape)) for w in model.non_trainable_weights)


def test_paper_configuration_has_the_published_parameter_count():
    model = keras_drifa.build_model()
    assert model.count_params() == 53_884_868
    assert _non_trainable(model) == 19_200
    assert model.count_params() == drifa_net_params()


def test_parameter_count_does_not_depend_on_image_size():
    small = keras_drifa.build_model(input_shape=(64, 64, 3), widths=(8, 8, 16, 16))
    large = keras_drifa.build_model(input_shape=(200, 160, 3), widths=(8, 8, 16, 16))
    assert small.count_params() == large.count_params()


@pytest.mark.parametrize(
    "kwargs,expected",
    [
        (dict(), dict()),
        (dict(use_mfa=False), dict(use_mfa=False)),
        (dict(use_mifa=False), dict(use_mifa=False)),
        (dict(use_mfa=False, use_mifa=False), dict(use_mfa=False, use_mifa=False)),
        (
            dict(modalities=3, input_shape=[(32, 32, 3), (24, 24, 1), (40, 32, 4)], num_classes=(2, 3, 4)),
            dict(channels=(3, 1, 4), classes=(2, 3, 4)),
        ),
        (dict(blocks_per_stage=(2, 1, 3, 1)), dict(blocks=(2, 1, 3, 1))),
    ],
    ids=["drifa", "no-mfa", "no-mifa", "resnet-baseline", "three-modalities", "blocks"],
)
def test_parameter_counts_match_the_spec_formulas(kwargs, expected):
    widths = (8, 8, 16, 16)
    model = keras_drifa.build_model(**dict(dict(input_shape=(32, 32, 3), widths=widths), **kwargs))
    expected = dict(dict(widths=widths), **expected)
    assert model.count_params() == drifa_net_params(**expected)
    m = len(expected.get("channels", (3, 3)))
    assert _non_trainable(model) == drifa_net_non_trainable(m, widths, expected.get("blocks", (2, 2, 2, 2)))


def test_ablations_remove_every_mfa_or_mifa():
    def count(model, cls):
        return sum(isinstance(layer, cls) for layer in model._flatten_layers())

    full = tiny_model()
    assert count(full, MultiBranchFusionAttention) > 0 and count(full, MultimodalInformationFusionAttention) == 4
    no_mfa = tiny_model(use_mfa=False)
    assert count(no_mfa, MultiBranchFusionAttention) == 0
    assert count(no_mfa, MultimodalInformationFusionAttention) == 4
    baseline = tiny_model(use_mfa=False, use_mifa=False)
    assert count(baseline, MultiBranchFusionAttention) == 0
    assert count(baseline, MultimodalInformationFusionAttention) == 0
    assert count(baseline, RobustResidualAttentionBlock) == 8


def test_layout_follows_the_architecture_table():
    model = keras_drifa.build_model(input_shape=(32, 32, 3), widths=(8, 8, 16, 16))
    names = {layer.name for layer in model.layers}
    for k in range(1, 9):
        assert f"mifa_block{k}" in names
        assert (f"modality_0_block{k}_dropout" in names) == (k <= 6)
        assert (f"modality_1_block{k}_mfa" in names) == (k <= 7)
    strides = [model.get_layer(f"modality_0_block{k}").strides for k in range(1, 9)]
    assert strides == [1, 1, 2, 1, 2, 1, 2, 1]
    assert isinstance(model.get_layer("fusion_dropout"), MCDropout)
    assert tuple(model.get_layer("fusion_concat").output.shape) == (None, 1, 1, 32)


def test_inputs_and_outputs_carry_modality_and_task_names():
    model = keras_drifa.build_model(
        ["pap_smear", "dermoscopy"], num_classes={"sipakmed": 5, "ham10000": 7}, **{
            k: v for k, v in TINY.items()
        }
    )
    assert [t.name for t in model.inputs] == ["pap_smear", "dermoscopy"]
    assert model.output_names == ["sipakmed", "ham10000"]
    assert [tuple(o.shape) for o in model.outputs] == [(None, 5), (None, 7)]


def test_single_modality_and_single_task_give_plain_tensors():
    model = keras_drifa.build_model(1, num_classes=3, **TINY)
    assert not isinstance(model.input, list) and tuple(model.output.shape) == (None, 3)
    out = model.predict(np.zeros((2, 32, 32, 3), "float32"), verbose=0)
    assert out.shape == (2, 3)


def test_modalities_may_differ_in_channels_and_size():
    model = keras_drifa.build_model(
        2, input_shape=[(32, 32, 1), (24, 40, 3)], num_classes=(3, 4), widths=(8, 8, 16, 16),
        blocks_per_stage=(1, 1, 1, 1),
    )
    xs, _ = batch(model, 2)
    a, b = model.predict(xs, verbose=0)
    assert a.shape == (2, 3) and b.shape == (2, 4)
    np.testing.assert_allclose(a.sum(axis=1), 1.0, rtol=1e-5)


@pytest.fixture(scope="module")
def trained_tiny():
    """A tiny DRIFA-Net trained on a task it can learn: which modality-0 half is brighter."""
    keras.utils.set_random_seed(7)
    rng = np.random.default_rng(7)
    n = 64
    labels_a = rng.integers(0, 3, n)
    x_a = rng.random((n, 32, 32, 3), dtype=np.float32) * 0.2
    for i, label in enumerate(labels_a):
        x_a[i, :, label * 10 : label * 10 + 10] += 0.8
    labels_b = rng.integers(0, 4, n)
    x_b = rng.random((n, 32, 32, 3), dtype=np.float32) * 0.2 + labels_b[:, None, None, None] * 0.2
    y = {"task_0": keras.utils.to_categorical(labels_a, 3), "task_1": keras.utils.to_categorical(labels_b, 4)}
    model = tiny_model()
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3), loss=["categorical_crossentropy"] * 2,
        loss_weights=[0.5, 0.5], run_eagerly=RUN_EAGERLY,
    )
    history = model.fit({"modality_0": x_a, "modality_1": x_b}, y, epochs=8, batch_size=32, verbose=0)
    return model, [x_a, x_b], history


def test_tiny_configuration_learns_a_tiny_task(trained_tiny):
    _, _, history = trained_tiny
    losses = history.history["loss"]
    assert losses[-1] < 0.7 * losses[0], losses


def test_predict_is_deterministic_by_default(trained_tiny):
    model, xs, _ = trained_tiny
    first, second = model.predict(xs, verbose=0), model.predict(xs, verbose=0)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


def test_mc_sampling_gives_different_samples_and_leaves_batch_norm_alone(trained_tiny):
    model, xs, _ = trained_tiny
    deterministic = model.predict(xs, verbose=0)
    stats = [keras.ops.convert_to_numpy(w).copy() for w in model.non_trainable_weights]
    with keras_drifa.mc_sampling(model):
        s1, s2 = model.predict(xs, verbose=0), model.predict(xs, verbose=0)
    assert not np.allclose(s1[0], s2[0])
    for before, w in zip(stats, model.non_trainable_weights):
        np.testing.assert_array_equal(before, keras.ops.convert_to_numpy(w))
    for a, b in zip(deterministic, model.predict(xs, verbose=0)):
        np.testing.assert_array_equal(a, b)


def test_keras_file_round_trip_without_custom_objects(trained_tiny, tmp_path):
    model, xs, _ = trained_tiny
    path = str(tmp_path / "drifa.keras")
    model.save(path)
    restored = keras.models.load_model(path)
    assert restored.count_params() == model.count_params()
    for a, b in zip(model.predict(xs, verbose=0), restored.predict(xs, verbose=0)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


_LOAD_AND_PREDICT = textwrap.dedent(
    """
    import sys, numpy as np, keras
    import keras_drifa  # noqa: F401  (registers nothing new: loading needs no custom_objects)
    data = np.load(sys.argv[1])
    outputs = []
    for path in sys.argv[3:]:
        model = keras.models.load_model(path)
        assert type(model).__name__ == "DRIFANet", type(model)
        outputs += model([data["x0"], data["x1"]], training=False)
    np.savez(sys.argv[2], *[keras.ops.convert_to_numpy(o) for o in outputs])
    """
)


def test_weights_saved_under_this_backend_load_under_the_others(trained_tiny, tmp_path):
    model, xs, _ = trained_tiny
    path = str(tmp_path / "drifa.keras")
    model.save(path)
    old_form = str(tmp_path / "drifa-0.1.0.keras")  # the whole graph, as 0.1.0 saved it
    _save_in_the_0_1_0_form(model, old_form)
    inputs = tmp_path / "inputs.npz"
    np.savez(inputs, x0=xs[0][:8], x1=xs[1][:8])
    expected = [keras.ops.convert_to_numpy(o) for o in model([xs[0][:8], xs[1][:8]], training=False)]
    for other in (b for b in BACKENDS if b != BACKEND):
        out = tmp_path / f"{other}.npz"
        env = dict(os.environ, KERAS_BACKEND=other, TF_CPP_MIN_LOG_LEVEL="3")
        result = subprocess.run(
            [sys.executable, "-c", _LOAD_AND_PREDICT, str(inputs), str(out), path, old_form],
            env=env, capture_output=True, text=True, timeout=600,
        )
        assert result.returncode == 0, f"{other}: {result.stderr[-3000:]}"
        got = np.load(out)
        for i, e in enumerate(expected + expected):
            np.testing.assert_allclose(got[f"arr_{i}"], e, rtol=1e-4, atol=1e-5, err_msg=other)


def test_always_mode_reproduces_the_authors_random_inference():
    model = tiny_model(mc_dropout="always")
    xs, _ = batch(model, 4)
    a, b = model(xs, training=False), model(xs, training=False)
    assert not np.allclose(keras.ops.convert_to_numpy(a[0]), keras.ops.convert_to_numpy(b[0]))


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_keeps_float32_variables_and_softmax(policy):
    keras.config.set_dtype_policy(policy)
    model = tiny_model()
    xs, _ = batch(model, 2)
    outputs = model(xs, training=False)
    assert all(keras.backend.standardize_dtype(o.dtype) == "float32" for o in outputs)
    assert all(o.dtype == "float32" for o in model.outputs)
    assert all(w.dtype == "float32" for w in model.weights)
    for o in outputs:
        np.testing.assert_allclose(keras.ops.convert_to_numpy(o).sum(axis=1), 1.0, rtol=1e-3)


@pytest.mark.compiled
def test_compiled_training_and_prediction():
    """The compiled (traced / jitted) train and predict functions, on every backend."""
    model = keras_drifa.build_model(
        input_shape=(16, 16, 3), num_classes=(2, 3), widths=(4, 8), blocks_per_stage=(1, 1)
    )
    model.compile(
        optimizer="adam", loss="categorical_crossentropy", metrics=[["accuracy"]] * 2,
        run_eagerly=False,
    )
    # compile creates the optimizer's and metrics' variables, so that the first trace of
    # the train step creates none and TensorFlow does not trace it a second time.
    traces = []
    train_step = model.train_step
    model.train_step = lambda *args: traces.append(1) or train_step(*args)
    xs, ys = batch(model, 8)
    history = model.fit(xs, ys, epochs=2, batch_size=8, verbose=0)
    assert len(traces) == (2 if BACKEND == "torch" else 1)  # PyTorch runs eagerly
    assert np.isfinite(history.history["loss"]).all()
    first = model.predict(xs, verbose=0)
    with keras_drifa.mc_sampling(model):
        sampled = model.predict(xs, verbose=0)
    assert not np.allclose(first[0], sampled[0])
    np.testing.assert_array_equal(model.predict(xs, verbose=0)[0], first[0])


def test_importing_does_not_import_other_backends():
    # Keras itself may import other installed frameworks (on torch it imports jax); the
    # package must add none beyond what `import keras` already loaded.
    others = tuple(b for b in BACKENDS if b != BACKEND)
    others += ("jaxlib",) if "jax" in others else ()
    code = textwrap.dedent(
        f"""
        import sys
        def loaded():
            return {{m for m in sys.modules if m.split(".")[0] in {others!r}}}
        import keras
        before = loaded()
        import keras_drifa
        keras_drifa.build_model(input_shape=(16, 16, 3), widths=(4, 4), blocks_per_stage=(1, 1))
        print(",".join(sorted(loaded() - before)))
        """
    )
    env = dict(os.environ, KERAS_BACKEND=BACKEND)
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == ""


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(modalities=0), r"modalities` must be an integer >= 1.*received modalities=0"),
        (dict(modalities=[]), r"at least one modality"),
        (dict(modalities=2.0), r"modalities` must be an integer >= 1.*received modalities=2.0"),
        (dict(input_shape=(1, 64, 64, 3)), r"`input_shape` must be \(height, width, channels\), 3 dimensions; received input_shape=\(1, 64, 64, 3\)"),
        (dict(input_shape=[(64, 64, 3), (1, 64, 64, 3)]), r"`input_shape\[1\]` must be \(height, width, channels\), 3 dimensions; received input_shape\[1\]=\(1, 64, 64, 3\)"),
        (dict(input_shape=[(64, 64, 3)] * 3), r"input_shape lists 3 shapes.*expected one shape for all modalities or 2"),
        (dict(input_shape=(64, 64, 0)), r"with channels an integer >= 1; received input_shape=\(64, 64, 0\)"),
        (dict(input_shape=(64, -1, 3)), r"with width an integer >= 1 or None; received input_shape=\(64, -1, 3\)"),
        (dict(modality_names=["a"]), r"modality_names has 1 entries \['a'\]; expected 2"),
        (dict(modality_names=["a", "a"]), r"modality names must be unique"),
        (dict(modalities=["a", "b"], modality_names=["c", "d"]), r"do not also pass modality_names"),
        (dict(task_names=["x", "y", "z"]), r"task_names has 3 entries.*expected 2"),
        (dict(num_classes=(5, 1)), r"`num_classes\['task_1'\]` must be an integer >= 2; received num_classes\['task_1'\]=1"),
        (dict(num_classes=1), r"`num_classes\['task_0'\]` must be .*=1"),
        (dict(num_classes={"a": 3, "b": 0}), r"`num_classes\['b'\]` must be .*=0"),
        (dict(num_classes={"a": 3}, task_names=["b"]), r"do not also pass task_names"),
        (dict(num_classes="5"), r"num_classes` must be an int"),
        (dict(widths=(64, 0, 256, 512)), r"widths` must be a non-empty sequence of positive integers; received widths=\(64, 0, 256, 512\)"),
        (dict(widths=(64, 128)), r"widths \(64, 128\) has 2 stages but blocks_per_stage \(2, 2, 2, 2\) has 4"),
        (dict(blocks_per_stage=(2, 2, -1, 2)), r"blocks_per_stage` must be a non-empty sequence of positive integers"),
        (dict(dropout_rate=1.0), r"`dropout_rate` must be a number in \[0, 1\); received dropout_rate=1.0"),
        (dict(dropout_rate=-0.1), r"`dropout_rate` must be a number in \[0, 1\)"),
        (dict(mc_dropout="sometimes"), r"mc_dropout` must be one of \('on_demand', 'always'\); received mc_dropout='sometimes'"),
        (dict(modality_names=["a/b", "c"]), r"modality names must start with a letter or digit"),
        (dict(modality_names=["pap smear", "c"]), r"received 'pap smear' in \['pap smear', 'c'\]"),
        (dict(modality_names=["a.b", "c"]), r"only letters, digits, '_' and '-'"),
        (dict(task_names=["_hidden", "t"]), r"task names must start with a letter or digit"),
    ],
)
def test_bad_arguments_raise_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        keras_drifa.build_model(**kwargs)


def test_batch_norm_momentum_reaches_every_batch_norm_layer():
    model = tiny_model(batch_norm_momentum=0.9)
    norms = [l for l in model._flatten_layers() if isinstance(l, keras.layers.BatchNormalization)]
    assert len(norms) == 2 + 2 * (4 * 2 + 3)  # stems, two per block, three projections
    assert {l.momentum for l in norms} == {0.9}
    assert {l.momentum for l in tiny_model()._flatten_layers()
            if isinstance(l, keras.layers.BatchNormalization)} == {0.99}


def test_numpy_numbers_are_accepted_as_rates():
    model = tiny_model(dropout_rate=np.float32(0.5), batch_norm_momentum=np.float64(0.9))
    rates = {l.rate for l in model._flatten_layers() if isinstance(l, MCDropout)}
    momenta = {l.momentum for l in model._flatten_layers()
               if isinstance(l, keras.layers.BatchNormalization)}
    assert rates == {0.5} and momenta == {0.9}


@pytest.mark.parametrize("momentum", [1.0, -0.5, "0.9"])
def test_rejects_batch_norm_momentum_outside_unit_interval(momentum):
    with pytest.raises(ValueError, match=r"`batch_norm_momentum` must be a number in \[0, 1\)"):
        keras_drifa.build_model(batch_norm_momentum=momentum)


@pytest.mark.parametrize(
    "kwargs",
    [dict(), dict(use_mfa=False, use_mifa=False), dict(modalities=1, num_classes=3)],
    ids=["drifa", "baseline_without_mfa_and_mifa", "one_modality"],
)
def test_channels_first_is_refused(kwargs):
    """Without MFA and MIFA the network used to build and normalise the wrong axis."""
    kwargs = dict(TINY, **kwargs)
    with image_data_format("channels_first"), pytest.raises(
        ValueError,
        match=r"build_model: keras.config.image_data_format\(\) is 'channels_first'; "
        r"DRIFA-Net supports only 'channels_last' feature maps \(batch, height, width, "
        r"channels\). Call keras.config.set_image_data_format\('channels_last'\)",
    ):
        keras_drifa.build_model(**kwargs)
    assert isinstance(keras_drifa.build_model(**kwargs), keras_drifa.models.DRIFANet)


# Atomic saving ---------------------------------------------------------------------------


def _small_drifa():
    """A one-modality DRIFA-Net with two narrow stages: cheap to build, save and fit."""
    return keras_drifa.build_model(
        modalities=1, input_shape=(16, 16, 3), num_classes=2, widths=(8, 16),
        blocks_per_stage=(1, 1),
    )


def _fail(*args, **kwargs):
    raise RuntimeError("serialisation failed half way")


def test_a_failed_save_keeps_the_previous_file(tmp_path, monkeypatch):
    model = _small_drifa()
    path = tmp_path / "drifa.keras"
    model.save(path)
    model.save(path)  # over an existing file
    saved = path.read_bytes()
    # Keras opens the target before it serialises the model: this used to truncate it.
    monkeypatch.setattr(model, "get_config", _fail)
    with pytest.raises(RuntimeError, match="serialisation failed half way"):
        model.save(path)
    assert path.read_bytes() == saved
    assert sorted(p.name for p in tmp_path.iterdir()) == ["drifa.keras"]
    monkeypatch.undo()
    restored = keras.saving.load_model(path)
    assert isinstance(restored, keras_drifa.models.DRIFANet)
    x = np.random.default_rng(0).random((2, 16, 16, 3), dtype=np.float32)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(restored(x)), keras.ops.convert_to_numpy(model(x)),
        rtol=1e-6, atol=1e-7,
    )


def test_model_checkpoint_saves_atomically(tmp_path, monkeypatch):
    """`ModelCheckpoint` calls `model.save`: a checkpoint that fails keeps the last one."""
    model = _small_drifa()
    model.compile(optimizer="sgd", loss="categorical_crossentropy", run_eagerly=RUN_EAGERLY)
    path = tmp_path / "best.keras"
    saved = {}

    class ScoreThenBreak(keras.callbacks.Callback):
        """Every epoch improves `score`; before the second checkpoint, saving breaks."""

        def on_epoch_end(self, epoch, logs=None):
            logs["score"] = float(epoch)
            if epoch == 1:
                saved["bytes"] = path.read_bytes()
                monkeypatch.setattr(model, "get_config", _fail)

    checkpoint = keras.callbacks.ModelCheckpoint(
        path, monitor="score", mode="max", save_best_only=True
    )
    x = np.random.default_rng(1).random((4, 16, 16, 3), dtype=np.float32)
    y = keras.utils.to_categorical([0, 1, 0, 1], 2)
    with pytest.raises(RuntimeError, match="serialisation failed half way"):
        model.fit(x, y, epochs=2, batch_size=4, verbose=0, callbacks=[ScoreThenBreak(), checkpoint])
    assert checkpoint.best == 1.0  # the second checkpoint was attempted
    assert path.read_bytes() == saved["bytes"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.keras"]
    monkeypatch.undo()
    assert keras.saving.load_model(path).count_params() == model.count_params()


# The model class: hyperparameters in, hyperparameters out ---------------------------------

HYPERPARAMETERS = (
    "modalities", "input_shape", "num_classes", "backbone", "backbone_weights", "feature_layers",
    "trainable_backbone", "widths", "blocks_per_stage", "dropout_rate", "fusion", "fusion_units",
    "use_mfa", "use_mifa", "use_block_mfa", "batch_norm_momentum", "sync_batch_norm",
    "mc_dropout", "modality_names", "task_names",
)


def _keras_file_config(path):
    """The model config a `.keras` archive holds."""
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("config.json"))


def _outputs(model, xs):
    return [keras.ops.convert_to_numpy(o) for o in model(xs, training=False)]


def test_constructor_takes_the_hyperparameters_and_config_returns_them():
    model = keras_drifa.DRIFANet(
        ["mri", "ct"], input_shape=[(32, 32, 1), (24, 24, 3)], num_classes={"grade": 3, "stage": 4},
        widths=tuple(np.int64(w) for w in (8, 8, 16, 16)), blocks_per_stage=(1, 1, 1, 1),
        dropout_rate=np.float32(0.5), use_block_mfa=np.bool_(False), name="net",
    )
    built = keras_drifa.build_model(
        ["mri", "ct"], input_shape=[(32, 32, 1), (24, 24, 3)], num_classes={"grade": 3, "stage": 4},
        widths=(8, 8, 16, 16), blocks_per_stage=(1, 1, 1, 1), dropout_rate=0.5,
        use_block_mfa=False, name="net",
    )
    assert type(built) is keras_drifa.DRIFANet is keras_drifa.models.DRIFANet
    assert [layer.name for layer in model.layers] == [layer.name for layer in built.layers]
    assert [w.path for w in model.weights] == [w.path for w in built.weights]

    config = model.get_config()
    assert set(config) == {"name", "trainable", *HYPERPARAMETERS}
    # Normalised: counts and names, plain Python numbers; the switches as given.
    assert config["modalities"] == 2 and config["modality_names"] == ["mri", "ct"]
    assert config["num_classes"] == (3, 4) and config["task_names"] == ["grade", "stage"]
    assert config["input_shape"] == [(32, 32, 1), (24, 24, 3)]
    assert config["widths"] == (8, 8, 16, 16) and config["dropout_rate"] == 0.5
    assert (config["use_mfa"], config["use_block_mfa"]) == (None, False)
    assert json.loads(json.dumps(config)) == json.loads(json.dumps(built.get_config()))
    assert (model.widths, model.image_shape, model.task_names) == (
        (8, 8, 16, 16), [(32, 32, 1), (24, 24, 3)], ["grade", "stage"]
    )

    # From the JSON a .keras file holds: the same layers, names and weight order.
    rebuilt = keras_drifa.DRIFANet.from_config(json.loads(json.dumps(config)))
    assert [layer.name for layer in rebuilt.layers] == [layer.name for layer in model.layers]
    assert [(w.path, w.shape) for w in rebuilt.weights] == [(w.path, w.shape) for w in model.weights]
    rebuilt.set_weights(model.get_weights())
    xs, _ = batch(model, 2)
    for a, b in zip(_outputs(model, xs), _outputs(rebuilt, xs)):
        np.testing.assert_array_equal(a, b)
    assert json.dumps(rebuilt.get_config()) == json.dumps(config)


def test_branch_features_are_the_last_feature_map_of_each_branch():
    model = tiny_model(modalities=["mri", "ct"])
    assert list(model.branch_features) == ["mri", "ct"]
    for m, tensor in model.branch_features.items():
        assert tensor is model.get_layer(f"{m}_features").output
        assert tuple(tensor.shape) == (None, 1, 1, 16)
    features = keras.Model(model.inputs, model.branch_features)
    xs, _ = batch(model, 2)
    assert {m: tuple(v.shape) for m, v in features(xs).items()} == {
        "mri": (2, 1, 1, 16), "ct": (2, 1, 1, 16)
    }


def test_keras_file_holds_the_hyperparameters_not_the_graph(tmp_path):
    model = _small_drifa()
    path = tmp_path / "drifa.keras"
    model.save(path)
    saved = _keras_file_config(path)
    assert saved["registered_name"] == "keras_drifa>DRIFANet"
    assert "layers" not in saved["config"] and saved["config"]["widths"] == [8, 16]
    restored = keras.saving.load_model(path)
    assert type(restored) is keras_drifa.DRIFANet and list(restored.branch_features) == ["modality_0"]
    assert [layer.name for layer in restored.layers] == [layer.name for layer in model.layers]
    x = np.random.default_rng(0).random((2, 16, 16, 3), dtype=np.float32)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(restored(x)), keras.ops.convert_to_numpy(model(x))
    )


def _save_in_the_0_1_0_form(model, path):
    """Saves `model` as keras-drifa 0.1.0 did.

    0.1.0's DRIFANet had no constructor or `get_config` of its own, so Keras saved it as
    any functional model: `Functional.get_config`, the whole layer graph (`layers`,
    `input_layers`, `output_layers`), under the registered name `keras_drifa>DRIFANet`. A
    plain `keras.Model` over the same tensors returns exactly that config; the weights are
    saved as before (the functional layers, in graph order).
    """
    whole_graph = keras.Model(model.input, model.output, name=model.name).get_config()
    model.get_config = lambda: whole_graph
    try:
        model.save(path)
    finally:
        del model.get_config
    saved = _keras_file_config(path)
    assert saved["registered_name"] == "keras_drifa>DRIFANet"
    assert {"layers", "input_layers", "output_layers"} <= set(saved["config"])


def test_keras_files_written_by_0_1_0_still_load(tmp_path):
    model = tiny_model()
    old = tmp_path / "drifa-0.1.0.keras"
    _save_in_the_0_1_0_form(model, old)
    restored = keras.saving.load_model(old)
    assert type(restored) is keras_drifa.DRIFANet
    assert [layer.name for layer in restored.layers] == [layer.name for layer in model.layers]
    xs, _ = batch(model, 3)
    for a, b in zip(_outputs(model, xs), _outputs(restored, xs)):
        np.testing.assert_array_equal(a, b)
    # What the graph says is known; the other hyperparameters are not.
    assert restored.modality_names == ["modality_0", "modality_1"]
    assert restored.task_names == ["task_0", "task_1"]
    for m, tensor in restored.branch_features.items():
        assert tensor is restored.get_layer(f"{m}_features").output
    assert restored.widths is None and restored.dropout_rate is None
    # Saved again, it keeps the whole-graph form and loads the same.
    again = tmp_path / "again.keras"
    restored.save(again)
    assert "layers" in _keras_file_config(again)["config"]
    for a, b in zip(_outputs(model, xs), _outputs(keras.saving.load_model(again), xs)):
        np.testing.assert_array_equal(a, b)
    assert _gradcam_targets(restored) == _gradcam_targets(model)


def _gradcam_targets(model):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 1x1 maps of a tiny model: too coarse, but cut alike
        return keras_drifa.explain.GradCAM(model).target_layers


def test_clone_model_gives_the_same_graph_with_fresh_weights():
    model = tiny_model()
    clone = keras.models.clone_model(model)
    # Keras clones a functional model whose constructor takes other arguments into a
    # plain functional model; `from_config` keeps the class.
    assert isinstance(clone, keras.Model)
    assert [layer.name for layer in clone.layers] == [layer.name for layer in model.layers]
    clone.set_weights(model.get_weights())
    xs, _ = batch(model, 2)
    for a, b in zip(_outputs(model, xs), _outputs(clone, xs)):
        np.testing.assert_array_equal(a, b)
    same_class = keras_drifa.DRIFANet.from_config(model.get_config())
    assert type(same_class) is keras_drifa.DRIFANet
    assert not np.allclose(
        keras.ops.convert_to_numpy(same_class.get_layer("task_0").kernel),
        keras.ops.convert_to_numpy(model.get_layer("task_0").kernel),
    )
