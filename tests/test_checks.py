"""keras_drifa/_checks.py: one rule per kind of argument, used across the public API."""

import functools
import importlib
import json
import os
import re

import keras
import numpy as np
import pytest

import keras_drifa
from keras_drifa import _checks
from keras_drifa.layers import MFA


@pytest.mark.parametrize(
    "value, expected",
    [(3, True), (np.int64(3), True), (np.uint8(3), True), (True, False), (np.bool_(True), False),
     (3.0, False), ("3", False), (None, False)],
)
def test_is_int(value, expected):
    assert _checks.is_int(value) is expected


def test_positive_int_and_seed():
    assert _checks.positive_int("f", "n", np.int64(4)) == 4
    assert type(_checks.positive_int("f", "n", np.int64(4))) is int
    for bad in (0, -1, True, 2.0, "2"):
        with pytest.raises(ValueError, match=rf"f: `n` must be an integer >= 1; received n={bad!r}"):
            _checks.positive_int("f", "n", bad)
    assert _checks.seed("f", None) is None and _checks.seed("f", np.int32(7)) == 7
    with pytest.raises(ValueError, match=r"f: `seed` must be None or an integer >= 0; received seed=-1"):
        _checks.seed("f", -1)


def test_task_index():
    tasks = ["a", "b"]
    assert _checks.task_index("f", "b", tasks) == 1 and _checks.task_index("f", np.int64(0), tasks) == 0
    with pytest.raises(ValueError, match=r"f: `task` must be one of the outputs \['a', 'b'\]; received task='c'"):
        _checks.task_index("f", "c", tasks)
    with pytest.raises(ValueError, match=r"f: `task` must be an output name in .* or an index from 0 to 1; received task=2"):
        _checks.task_index("f", 2, tasks)


def test_input_arrays_accepts_lists_dicts_and_one_array():
    a, b = np.zeros((2, 4, 4, 1)), np.ones((2, 3, 3, 2))
    shapes, dtypes = [(4, 4, 1), (None, None, 2)], ["float32", "float32"]
    from_list = _checks.input_arrays("f", [a, b], ["a", "b"], shapes, dtypes)
    from_dict = _checks.input_arrays("f", {"b": b, "a": a}, ["a", "b"], shapes, dtypes)
    for x, y in zip(from_list, from_dict):
        np.testing.assert_array_equal(x, y)
        assert x.dtype == np.float32
    (single,) = _checks.input_arrays("f", a, ["a"], shapes[:1], dtypes[:1])
    assert single.shape == (2, 4, 4, 1)


def test_input_arrays_refuses_what_would_give_wrong_numbers():
    a = np.zeros((2, 4, 4, 1), "float32")
    check = lambda x: _checks.input_arrays("f", x, ["a"], [(4, 4, 1)], ["float32"])  # noqa: E731
    with pytest.raises(ValueError, match=r"input 'a' has 1 NaN or infinite"):
        check(np.where(np.arange(32).reshape(a.shape) == 5, np.inf, a))
    with pytest.raises(ValueError, match=r"`x` is an empty batch"):
        check(a[:0])
    with pytest.raises(ValueError, match=r"input 'a' has shape \(2, 4, 4\); expected \('batch', 4, 4, 1\)"):
        check(a[..., 0])
    with pytest.warns(UserWarning, match=r"values up to 255.*divide them by 255"):
        check(a + 255)


def test_numpy_integers_are_accepted_and_stored_as_ints():
    layer = MFA(units=np.int64(8))
    assert layer.get_config()["units"] == 8 and type(layer.units) is int
    model = keras_drifa.build_model(
        np.int64(2), (np.int64(16), 16, 3), np.int64(3),
        widths=(np.int64(8), 16), blocks_per_stage=(1, np.int32(1)),
    )
    json.dumps(model.get_config())  # NumPy integers would not serialise
    assert model.output_shape == (None, 3)


def test_switches_take_booleans_only():
    assert _checks.boolean("f", "flag", np.bool_(False)) is False
    for bad in ("False", "no", 0, 1, None):
        with pytest.raises(ValueError, match=rf"f: `flag` must be True or False; received flag={bad!r}"):
            _checks.boolean("f", "flag", bad)
    # A string is truthy: "False" used to build the model *with* MFA.
    with pytest.raises(ValueError, match=r"build_model: `use_mfa` must be True, False or None \(the fusion's default\); received use_mfa='False'"):
        keras_drifa.build_model(2, (16, 16, 3), 3, widths=(8, 16), blocks_per_stage=(1, 1),
                                use_mfa="False")


@pytest.mark.parametrize("value,kwargs,message", [
    (0.0, dict(low=0, high=1, open_low=True), r"`x` must be a number in \(0, 1\]; received x=0.0"),
    (True, dict(low=0, high=1), r"in \[0, 1\]; received x=True"),
    ("0.5", dict(low=0, high=1), "received x='0.5'"),
    (float("nan"), dict(low=0), "must be a number >= 0"),
    (2, dict(high=1, open_high=True), "must be a number < 1"),
])
def test_number_names_the_interval(value, kwargs, message):
    with pytest.raises(ValueError, match=message):
        _checks.number("f", "x", value, **kwargs)


def test_number_accepts_numpy_numbers_and_returns_floats():
    assert _checks.number("f", "x", np.float32(0.5), 0, 1) == 0.5
    assert isinstance(_checks.number("f", "x", np.int64(1), 0, 1), float)


def test_input_arrays_refuse_data_sets_and_generators_saying_what_to_pass():
    from keras_drifa.data import MultimodalDataset

    x = np.zeros((4, 2, 2, 1), "float32")
    dataset = MultimodalDataset({"a": x}, {"t": np.eye(2)[[0, 1, 0, 1]]}, batch_size=2)
    for stream, kind in ((dataset, "MultimodalDataset"), ((b for b in [x]), "generator"),
                         (iter([x]), "list_iterator")):
        with pytest.raises(ValueError, match=rf"f: `x` is a {kind}, a stream of batches; expected "
                           r"the input arrays themselves, one per input \['a'\]"):
            _checks.input_arrays("f", stream, ["a"], [(2, 2, 1)], ["float32"])
    # Arrays, lists, dicts and backend tensors still pass.
    tensor = keras.ops.convert_to_tensor(x)
    for ok in (x, [x], {"a": x}, tensor):
        assert _checks.input_arrays("f", ok, ["a"], [(2, 2, 1)], ["float32"])[0].shape == x.shape


# --- Every public entry point: one bad argument, one message format ---------------------
# "{where}: `{name}` must be {expected}; received {name}={value!r}." Each row calls an entry
# point with one bad value; nothing is trained and no model larger than a Dense layer is
# built (the checks run before the graph).

_HERE = os.path.dirname(os.path.abspath(__file__))
_PROBS = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
_LABELS = np.array([0, 1, 0, 1])
_IMAGES = np.zeros((4, 16, 16, 3), "float32")


def unified(where, name, value):
    """The one message format, as a regex matching the whole message."""
    return (
        "^" + re.escape(f"{where}: `{name}` must be ") + ".+"
        + re.escape(f"; received {name}={value!r}.") + "$"
    )


@functools.cache
def _dense_model():
    inputs = keras.Input((16, 16, 3), name="image")
    x = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(2, activation="softmax", name="task")(x))


def _dataset(**kwargs):
    from keras_drifa.data import MultimodalDataset

    return MultimodalDataset({"a": _IMAGES}, {"t": np.eye(2)[_LABELS]}, **kwargs)


def _viz(name):
    pytest.importorskip("matplotlib")
    return getattr(importlib.import_module("keras_drifa.viz"), name)


def _ensemble():
    from keras_drifa.layers import MCDropout

    inputs = keras.Input((16, 16, 3), name="image")
    x = MCDropout(0.5)(keras.layers.GlobalAveragePooling2D()(inputs))
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax", name="task")(x))
    return keras_drifa.MCDropoutEnsemble([model])


def _gradcam_callback(**kwargs):
    pytest.importorskip("matplotlib")
    from keras_drifa.callbacks import GradCAMCallback

    return GradCAMCallback(**dict(dict(inputs=_IMAGES[:1], log_dir="unused"), **kwargs))


def _gradcam(**kwargs):
    from keras_drifa.explain import GradCAM

    return GradCAM(_dense_model(), **kwargs)


def _row(call, where, name, value, *marks):
    return pytest.param(call, unified(where, name, value), marks=marks, id=f"{where}-{name}")


def _data_rows():
    from keras_drifa import data

    return [
        _row(lambda: data.make_synthetic(0), "make_synthetic", "num_samples", 0),
        _row(lambda: data.make_synthetic(4, modalities=0), "make_synthetic", "modalities", 0),
        _row(lambda: data.make_synthetic(4, image_size=8), "make_synthetic", "image_size", 8),
        _row(lambda: data.make_synthetic(4, label_mode="joint"), "make_synthetic", "label_mode",
             "joint"),
        _row(lambda: data.make_synthetic(4, noise=True), "make_synthetic", "noise", True),
        _row(lambda: data.make_synthetic(4, channels=2), "make_synthetic", "channels", 2),
        _row(lambda: data.make_synthetic(4, seed=None), "make_synthetic", "seed", None),
        _row(lambda: data.make_synthetic(4, unseen_class=1), "make_synthetic", "unseen_class", 1),
        _row(lambda: data.stratified_split(_LABELS, val_fraction=1.0), "stratified_split",
             "val_fraction", 1.0),
        pytest.param(lambda: data.stratified_split(_LABELS, 0.5, 0.5),
                     re.escape("stratified_split: `val_fraction + test_fraction` must be below 1 "
                               "to leave training data; received val_fraction + test_fraction="
                               "0.5 + 0.5."),
                     id="stratified_split-sum"),
        _row(lambda: data.stratified_split(_LABELS, seed=-1), "stratified_split", "seed", -1),
        _row(lambda: _dataset(batch_size=0), "MultimodalDataset", "batch_size", 0),
        _row(lambda: _dataset(shuffle="no"), "MultimodalDataset", "shuffle", "no"),
        _row(lambda: _dataset(one_hot=1), "MultimodalDataset", "one_hot", 1),
        _row(lambda: _dataset(seed=-1), "MultimodalDataset", "seed", -1),
        _row(lambda: _dataset(mode="aligned"), "MultimodalDataset", "mode", "aligned"),
        _row(lambda: _dataset(shard=(2, 2)), "MultimodalDataset", "shard", (2, 2)),
        _row(lambda: _dataset(replicas=0), "MultimodalDataset", "replicas", 0),
        _row(lambda: data.make_shifted({"a": _IMAGES}, "rotate"), "make_shifted", "shift",
             "rotate"),
        _row(lambda: data.make_shifted({"a": _IMAGES}, "noise", severity=0), "make_shifted",
             "severity", 0),
        _row(lambda: data.make_shifted({"a": _IMAGES}, "noise", seed=-1), "make_shifted", "seed",
             -1),
        _row(lambda: data.load_image_folder(_HERE, channels=2), "load_image_folder",
             "channels", 2),
        _row(lambda: data.load_image_folder(_HERE, image_size=(8, 0)), "load_image_folder",
             "image_size", (8, 0)),
        _row(lambda: data.load_image_folder(_HERE, on_error="ignore"), "load_image_folder",
             "on_error", "ignore"),
        _row(lambda: data.load_image_folder(_HERE, verbose=2), "load_image_folder",
             "verbose", 2),
        _row(lambda: data.load_csv_manifest("m.csv", "d", id_column=""), "load_csv_manifest",
             "id_column", ""),
        _row(lambda: data.load_csv_manifest("m.csv", "d", encoding="utf-9"),
             "load_csv_manifest", "encoding", "utf-9"),
        _row(lambda: data.load_csv_manifest("m.csv", "d", class_names=["a", "a"]),
             "load_csv_manifest", "class_names", ["a", "a"]),
        _row(lambda: data.load_medmnist("m.npz", seed=1.5), "load_medmnist", "seed", 1.5),
        _row(lambda: data.load_medmnist(3), "load_medmnist", "path", 3),
    ]


def _layer_rows():
    from keras_drifa import layers

    rows = [
        _row(lambda cls=cls: cls(units=0), cls.__name__, "units", 0)
        for cls in (layers.MFA, layers.CLIA, layers.HIFA, layers.MGIFA, layers.MLIFA,
                    layers.MIFA, layers.FeatureMapTokens, layers.GatedModalityFusion,
                    layers.CrossModalAttentionFusion, layers.MultimodalTransformerFusion)
    ]
    return rows + [
        _row(lambda: layers.MultimodalTransformerFusion(8, num_layers=0),
             "MultimodalTransformerFusion", "num_layers", 0),
        _row(lambda: layers.CrossModalAttentionFusion(8, num_heads=True),
             "CrossModalAttentionFusion", "num_heads", True),
        _row(lambda: layers.FeatureMapTokens(8, modality_embedding=1), "FeatureMapTokens",
             "modality_embedding", 1),
        _row(lambda: layers.RRABlock(8, strides=0), "RobustResidualAttentionBlock", "strides", 0),
        _row(lambda: layers.RRABlock(8, use_mfa="no"), "RobustResidualAttentionBlock", "use_mfa",
             "no"),
        _row(lambda: layers.RRABlock(8, batch_norm_momentum=1.0), "RobustResidualAttentionBlock",
             "batch_norm_momentum", 1.0),
        _row(lambda: layers.MCDropout(1.0), "MCDropout", "rate", 1.0),
        _row(lambda: layers.MCDropout(0.5, mode="never"), "MCDropout", "mode", "never"),
        _row(lambda: layers.MCDropout(0.5, seed=-1), "MCDropout", "seed", -1),
        _row(lambda: layers.GlobalMinPooling2D(data_format="nhwc"), "GlobalMinPooling2D",
             "data_format", "nhwc"),
        _row(lambda: layers.GlobalMinPooling2D(keepdims="yes"), "GlobalMinPooling2D", "keepdims",
             "yes"),
        _row(lambda: layers.ProbabilityCalibration(0), "ProbabilityCalibration", "num_classes", 0),
        _row(lambda: layers.ProbabilityCalibration(2, method="platt"), "ProbabilityCalibration",
             "method", "platt"),
    ]


def _model_rows():
    from keras_drifa.models import CalibratedModel, ImageNetPreprocessing

    rows = []
    for entry in (keras_drifa.build_model, keras_drifa.DRIFANet):
        where = entry.__name__

        def call(entry=entry, **kwargs):
            small = dict(dict(widths=(8, 16), blocks_per_stage=(1, 1)), **kwargs)
            return lambda: entry(2, (16, 16, 3), 3, **small)

        rows += [
            _row(call(dropout_rate=1.0), where, "dropout_rate", 1.0),
            _row(call(batch_norm_momentum="0.9"), where, "batch_norm_momentum", "0.9"),
            _row(call(mc_dropout="sometimes"), where, "mc_dropout", "sometimes"),
            _row(call(fusion="attention"), where, "fusion", "attention"),
            _row(call(use_mfa="False"), where, "use_mfa", "False"),
            _row(call(trainable_backbone="no"), where, "trainable_backbone", "no"),
            _row(call(sync_batch_norm=1), where, "sync_batch_norm", 1),
            _row(call(fusion="mlp", fusion_units=0), where, "fusion_units", 0),
            _row(lambda entry=entry: entry(0), where, "modalities", 0),
            _row(lambda entry=entry: entry(2, (16, 16, 0)), where, "input_shape", (16, 16, 0)),
            _row(lambda entry=entry: entry(2, (16, 16, 3), (3, 1)), where,
                 "num_classes['task_1']", 1),
            _row(call(widths=(8, 0)), where, "widths", (8, 0)),
        ]
    return rows + [
        _row(lambda: ImageNetPreprocessing("none"), "ImageNetPreprocessing", "mode", "none"),
        _row(lambda: CalibratedModel(_dense_model(), method="platt"), "CalibratedModel",
             "method", "platt"),
    ]


def _evaluation_rows():
    from keras_drifa import calibration, conformal, evaluation, metrics, ood, referral
    from keras_drifa import training, uncertainty

    runs = [{"accuracy": 0.9}, {"accuracy": 0.8}]
    return [
        _row(lambda: metrics.ExpectedCalibrationError(num_bins=0), "ExpectedCalibrationError",
             "num_bins", 0),
        _row(lambda: metrics.ExpectedCalibrationError(num_bins=10**6),
             "ExpectedCalibrationError", "num_bins", 10**6),
        _row(lambda: uncertainty.expected_calibration_error(_PROBS, _LABELS, num_bins=True),
             "expected_calibration_error", "num_bins", True),
        _row(lambda: uncertainty.reliability_bins(_PROBS, _LABELS, num_bins=2.0),
             "reliability_bins", "num_bins", 2.0),
        _row(lambda: uncertainty.uncertainty_report(_PROBS, _LABELS, num_bins=0),
             "uncertainty_report", "num_bins", 0),
        _row(lambda: _viz("reliability_diagram")(_PROBS, _LABELS, num_bins=0),
             "reliability_diagram", "num_bins", 0),
        _row(lambda: _viz("uncertainty_histogram")(_PROBS, _LABELS, np.ones(4), num_bins=0),
             "uncertainty_histogram", "num_bins", 0),
        _row(lambda: _viz("plot_embeddings")(None, _IMAGES, _LABELS, method="umap"),
             "plot_embeddings", "method", "umap"),
        _row(lambda: calibration.fit_scaling(_PROBS, _LABELS, method="platt"), "fit_scaling",
             "method", "platt"),
        _row(lambda: conformal.SplitConformal(alpha=1.0), "SplitConformal", "alpha", 1.0),
        _row(lambda: conformal.SplitConformal(method="thr"), "SplitConformal", "method", "thr"),
        _row(lambda: conformal.SplitConformal(randomized="yes"), "SplitConformal", "randomized",
             "yes"),
        _row(lambda: conformal.SplitConformal(seed=-1), "SplitConformal", "seed", -1),
        _row(lambda: referral.score(_PROBS, kind="margin"), "referral.score", "kind", "margin"),
        _row(lambda: referral.risk_coverage_band(_PROBS, _LABELS, num_resamples=0),
             "risk_coverage_band", "num_resamples", 0),
        _row(lambda: referral.risk_coverage_band(_PROBS, _LABELS, level=1.0),
             "risk_coverage_band", "level", 1.0),
        _row(lambda: ood.energy(np.zeros((2, 2)), temperature=0), "energy", "temperature", 0),
        _row(lambda: ood.fpr_at_tpr([0.1], [0.3], tpr=1.5), "fpr_at_tpr", "tpr", 1.5),
        _row(lambda: evaluation.compare_runs(runs, runs, metric="auc"), "compare_runs", "metric",
             "auc"),
        _row(lambda: training.paper_schedule(_IMAGES, patience=-1), "paper_schedule", "patience",
             -1),
        # mc_sampling is a context manager: the check runs on entering it.
        _row(lambda: keras_drifa.mc_sampling(_dense_model(), enabled="on").__enter__(),
             "mc_sampling", "enabled", "on"),
        _row(lambda: keras_drifa.recalibrate_batch_norm(_dense_model(), _IMAGES, batch_size=0),
             "recalibrate_batch_norm", "batch_size", 0),
    ]


def _parallel_rows():
    """MCDropoutEnsemble, GradCAM and GradCAMCallback."""
    return [
        _row(lambda: keras_drifa.MCDropoutEnsemble(_dense_model, num_members=0),
             "MCDropoutEnsemble", "num_members", 0),
        _row(lambda: keras_drifa.MCDropoutEnsemble([]), "MCDropoutEnsemble", "members", []),
        _row(lambda: _ensemble().predict_uncertainty(_IMAGES, num_samples=0),
             "predict_uncertainty", "num_samples", 0),
        _row(lambda: _ensemble().predict_uncertainty(_IMAGES, seed=-1), "predict_uncertainty",
             "seed", -1),
        _row(lambda: _ensemble().predict_uncertainty(_IMAGES, verbose=3), "predict_uncertainty",
             "verbose", 3),
        _row(lambda: _ensemble().predict_uncertainty(_IMAGES, allow_large="yes"),
             "predict_uncertainty", "allow_large", "yes"),
        _row(lambda: _gradcam(method="cam"), "GradCAM", "method", "cam"),
        _row(lambda: _gradcam(num_samples=1), "GradCAM", "num_samples", 1),
        _row(lambda: _gradcam(batch_size=0), "GradCAM", "batch_size", 0),
        _row(lambda: _gradcam()(_IMAGES, task=5), "GradCAM", "task", 5),
        _row(lambda: _gradcam()(_IMAGES, verbose=3), "GradCAM", "verbose", 3),
        _row(lambda: _gradcam_callback(log_dir=3), "GradCAMCallback", "log_dir", 3),
        _row(lambda: _gradcam_callback(every_n_epochs=0), "GradCAMCallback", "every_n_epochs", 0),
        _row(lambda: _gradcam_callback(tensorboard="yes"), "GradCAMCallback", "tensorboard",
             "yes"),
        _row(lambda: _gradcam_callback(method="cam"), "GradCAMCallback", "method", "cam"),
    ]


@pytest.mark.parametrize(
    "call, message",
    _data_rows() + _layer_rows() + _model_rows() + _evaluation_rows() + _parallel_rows(),
)
def test_every_entry_point_names_a_bad_argument_the_same_way(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda: keras_drifa.layers.MFA(units=np.int64(8)), id="MFA-units"),
        pytest.param(lambda: keras_drifa.layers.RRABlock(np.int32(8), strides=np.int64(2),
                                                         use_mfa=np.bool_(False)), id="RRABlock"),
        pytest.param(lambda: keras_drifa.layers.GlobalMinPooling2D(keepdims=np.bool_(True)),
                     id="GlobalMinPooling2D-keepdims"),
        pytest.param(lambda: keras_drifa.layers.MCDropout(np.float32(0.5), seed=np.int64(1)),
                     id="MCDropout"),
        pytest.param(lambda: keras_drifa.data.make_synthetic(
            np.int64(4), modalities=np.int64(2), image_size=np.int64(16), seed=np.uint8(1),
            noise=np.float32(0.1), unseen_class=np.bool_(False)), id="make_synthetic"),
        pytest.param(lambda: keras_drifa.data.stratified_split(
            np.repeat(_LABELS, 5), np.float64(0.25), np.float32(0.25), seed=np.int64(0)),
            id="stratified_split"),
        pytest.param(lambda: _dataset(batch_size=np.int64(2), shuffle=np.bool_(True),
                                      seed=np.int32(3), shard=(np.int64(0), np.int64(2))),
                     id="MultimodalDataset"),
        pytest.param(lambda: keras_drifa.metrics.ExpectedCalibrationError(num_bins=np.int64(4)),
                     id="ExpectedCalibrationError"),
        pytest.param(lambda: keras_drifa.uncertainty.expected_calibration_error(
            _PROBS, _LABELS, num_bins=np.int16(3)), id="expected_calibration_error"),
        pytest.param(lambda: keras_drifa.conformal.SplitConformal(
            alpha=np.float32(0.1), randomized=np.bool_(False), seed=np.int64(0)),
            id="SplitConformal"),
        pytest.param(lambda: keras_drifa.build_model(
            np.int64(2), (16, 16, np.int64(3)), np.int64(3), widths=(8, 16),
            blocks_per_stage=(1, 1), dropout_rate=np.float32(0.5), use_mfa=np.bool_(True),
            sync_batch_norm=np.bool_(False), batch_norm_momentum=np.float64(0.9)),
            id="build_model"),
        pytest.param(lambda: keras_drifa.build_model(
            2, (16, 16, 3), 3, widths=(8, 16), blocks_per_stage=(1, 1), fusion="mlp",
            fusion_units=np.int64(8)), id="build_model-fusion_units"),
    ],
)
def test_numpy_numbers_and_bools_are_accepted_where_python_ones_are(call):
    call()


@pytest.mark.parametrize(
    "call, message",
    [
        _row(lambda: keras_drifa.layers.MFA(units=np.bool_(True)), "MultiBranchFusionAttention",
             "units", np.bool_(True)),
        _row(lambda: keras_drifa.metrics.ExpectedCalibrationError(num_bins=True),
             "ExpectedCalibrationError", "num_bins", True),
        _row(lambda: keras_drifa.layers.MCDropout(np.bool_(False)), "MCDropout", "rate",
             np.bool_(False)),
        _row(lambda: keras_drifa.data.make_synthetic(4, unseen_class=np.int64(1)),
             "make_synthetic", "unseen_class", np.int64(1)),
        _row(lambda: keras_drifa.layers.MCDropout(np.float64("nan")), "MCDropout", "rate",
             np.float64("nan")),
    ],
)
def test_bools_are_never_numbers_nor_numbers_bools(call, message):
    with pytest.raises(ValueError, match=message):
        call()
