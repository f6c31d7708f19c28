import glob
import importlib.util
import io
import os
import subprocess
import sys
import textwrap
import warnings

import keras
import numpy as np
import pytest
from drifa_testing import RUN_EAGERLY

pytest.importorskip("matplotlib", reason="GradCAMCallback draws with keras-drifa[viz]")
import matplotlib.image  # noqa: E402

from keras_drifa.callbacks import GradCAMCallback
from keras_drifa.callbacks import gradcam_callback
from keras_drifa.layers import MCDropout

BACKEND = keras.backend.backend()
HAS_TENSORFLOW = importlib.util.find_spec("tensorflow") is not None


def small_model():
    """Two modalities (grayscale and RGB), unseeded MC dropout in each branch (on PyTorch
    it draws from the global generator), concatenation fusion and two heads."""
    a, b = keras.Input((8, 8, 1), name="gray"), keras.Input((8, 8, 3), name="rgb")
    fa = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv_gray")(a)
    fb = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv_rgb")(b)
    fa, fb = MCDropout(0.3, name="drop_gray")(fa), MCDropout(0.3, name="drop_rgb")(fb)
    fused = keras.layers.Concatenate(name="fusion_concat")([fa, fb])
    pooled = keras.layers.GlobalAveragePooling2D(name="fusion_pool")(fused)
    outputs = [
        keras.layers.Dense(3, activation="softmax", name="task_0")(pooled),
        keras.layers.Dense(2, activation="softmax", name="task_1")(pooled),
    ]
    model = keras.Model([a, b], outputs)
    model.compile("adam", ["categorical_crossentropy"] * 2, run_eagerly=RUN_EAGERLY)
    return model


def data(n=12, seed=0):
    rng = np.random.default_rng(seed)
    x = [rng.random((n, 8, 8, 1), dtype=np.float32), rng.random((n, 8, 8, 3), dtype=np.float32)]
    labels = rng.integers(0, 3, n)
    y = [keras.utils.to_categorical(labels, 3), keras.utils.to_categorical(rng.integers(0, 2, n), 2)]
    return x, y, labels


def _train(callbacks):
    keras.utils.set_random_seed(42)
    model = small_model()
    x, y, _ = data()
    history = model.fit(x, y, epochs=2, batch_size=4, shuffle=True, verbose=0, callbacks=callbacks)
    return model, history.history


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    log_dir = str(tmp_path_factory.mktemp("gradcam"))
    x, _, labels = data()
    callback = GradCAMCallback([a[:3] for a in x], log_dir, labels=labels[:3])
    with_callback = _train([callback])
    without_callback = _train([])
    return log_dir, with_callback, without_callback


def test_writes_a_png_per_epoch(trained):
    log_dir, _, _ = trained
    pngs = sorted(os.path.basename(p) for p in glob.glob(os.path.join(log_dir, "*.png")))
    assert pngs == ["epoch_001.png", "epoch_002.png"]
    image = matplotlib.image.imread(os.path.join(log_dir, "epoch_002.png"))
    height, width = image.shape[:2]
    assert height > 200 and width > 200  # three rows of four panels
    assert not glob.glob(os.path.join(log_dir, ".tmp_*"))


def test_training_is_identical_with_and_without_the_callback(trained):
    _, (model_a, history_a), (model_b, history_b) = trained
    assert history_a == history_b
    for a, b in zip(model_a.get_weights(), model_b.get_weights()):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(model_a.optimizer.variables, model_b.optimizer.variables):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))


@pytest.mark.skipif(not HAS_TENSORFLOW, reason="TensorBoard summaries need TensorFlow")
def test_writes_tensorboard_image_summaries(trained):
    import tensorflow as tf

    log_dir, _, _ = trained
    (events,) = glob.glob(os.path.join(log_dir, "events.out.tfevents.*"))
    images = {}
    for event in tf.compat.v1.train.summary_iterator(events):
        for value in event.summary.value:
            assert value.tag == "gradcam"
            assert value.metadata.plugin_data.plugin_name == "images"
            images[event.step] = tf.make_ndarray(value.tensor)
    assert sorted(images) == [1, 2]
    with open(os.path.join(log_dir, "epoch_002.png"), "rb") as file:
        png = file.read()
    width, height, encoded = images[2]
    assert encoded == png
    decoded = matplotlib.image.imread(io.BytesIO(png))
    assert (int(height), int(width)) == decoded.shape[:2]


@pytest.fixture(scope="module")
def model():
    # Shared by the callbacks below, which then share its compiled sub-models (JAX).
    keras.utils.set_random_seed(1)
    return small_model()


def _bound(callback, model):
    callback.set_model(model)
    callback.on_train_begin()
    return callback


def test_every_n_epochs(tmp_path, model):
    x, _, _ = data(n=2)
    callback = _bound(
        GradCAMCallback(x, str(tmp_path), every_n_epochs=2, tensorboard=False), model
    )
    for epoch in range(5):
        callback.on_epoch_end(epoch)
    assert sorted(os.listdir(tmp_path)) == ["epoch_002.png", "epoch_004.png"]


def test_figure_shows_inputs_overlays_and_verdicts(tmp_path, model):
    x, _, labels = data(n=2)
    callback = _bound(
        GradCAMCallback(x, str(tmp_path), task="task_0", labels=labels[:2], tensorboard=False),
        model,
    )
    figure = callback.figure(epoch=3)
    probabilities = model.predict(x, verbose=0)[0]
    assert len(figure.axes) == 2 * 4
    assert "epoch 3" in figure._suptitle.get_text() and "task 'task_0'" in figure._suptitle.get_text()
    for row in range(2):
        predicted = probabilities[row].argmax()
        verdict = f"true {labels[row]}, pred {predicted} ({probabilities[row, predicted]:.2f})"
        titles = [ax.get_title() for ax in figure.axes[4 * row : 4 * row + 4]]
        assert titles == ["gray", verdict, "rgb", verdict]


def test_failed_writes_warn_and_training_goes_on(tmp_path, model):
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("")
    x, _, _ = data(n=2)
    callback = _bound(GradCAMCallback(x, str(not_a_directory / "logs")), model)
    with pytest.warns(UserWarning, match="GradCAMCallback: could not write .*training continues"):
        callback.on_epoch_end(0)
    assert not model.stop_training


def test_files_are_complete_or_absent(tmp_path, monkeypatch, model):
    x, _, _ = data(n=2)
    callback = _bound(GradCAMCallback(x, str(tmp_path), tensorboard=False), model)

    def interrupted(source, destination):
        raise OSError("disk full")

    monkeypatch.setattr(gradcam_callback.os, "replace", interrupted)
    with pytest.warns(UserWarning, match="disk full"):
        callback.on_epoch_end(0)
    assert os.listdir(tmp_path) == []


def test_a_failed_summary_still_leaves_the_png(tmp_path, monkeypatch, model):
    x, _, _ = data(n=2)
    callback = _bound(GradCAMCallback(x, str(tmp_path), tensorboard=False), model)
    callback._write_tensorboard = True

    def broken(png, epoch):
        raise RuntimeError("no event writer")

    monkeypatch.setattr(callback, "_summarise", broken)
    with pytest.warns(UserWarning, match="TensorBoard image summary .*no event writer"):
        callback.on_epoch_end(0)
    assert os.listdir(tmp_path) == ["epoch_001.png"]


@pytest.mark.skipif(BACKEND == "tensorflow", reason="TensorFlow is the backend: it is loaded")
def test_does_not_import_tensorflow_without_tensorboard(tmp_path):
    script = textwrap.dedent(
        f"""
        import sys
        sys.path[:0] = {[os.path.dirname(__file__)]!r}
        import numpy as np
        from test_gradcam_callback import data, small_model
        from keras_drifa.callbacks import GradCAMCallback
        x, _, _ = data(n=2)
        callback = GradCAMCallback(x, {str(tmp_path)!r}, tensorboard=False)
        callback.set_model(small_model())
        callback.on_train_begin()
        callback.on_epoch_end(0)
        assert "tensorflow" not in sys.modules, "TensorFlow was imported"
        print("ok")
        """
    )
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    tests = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([root, tests]))
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr[-3000:]
    assert os.listdir(tmp_path) == ["epoch_001.png"]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(every_n_epochs=0), r"`every_n_epochs` must be an integer >= 1; received .*=0"),
        (dict(every_n_epochs="2"), r"`every_n_epochs` must be an integer >= 1; received .*='2'"),
        (dict(method="cam"), r"`method` must be one of .*received method='cam'"),
        (dict(log_dir=None), r"`log_dir` must be a path; received log_dir=None"),
        (dict(labels=np.zeros((2, 2, 2))), r"labels must be integer classes"),
        (dict(labels=[0.5, 1.0]), r"labels must be integer classes"),
    ],
)
def test_rejects_bad_arguments(tmp_path, kwargs, match):
    x, _, _ = data(n=2)
    arguments = dict(inputs=x, log_dir=str(tmp_path))
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=match):
        GradCAMCallback(**arguments)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(task=2), r"`task` must be .*; received task=2"),
        (dict(labels=[0, 1, 2]), r"labels has 3 entries; expected 2"),
        (dict(labels=[0, 3]), r"labels \[0, 3\] include classes outside 0..2 of task 'task_0'"),
        (dict(inputs="one"), r"`inputs` has 1 array\(s\); expected 2"),
    ],
)
def test_rejects_a_configuration_that_does_not_fit_the_model_before_training(tmp_path, kwargs, match):
    x, y, _ = data(n=2)
    arguments = dict(inputs=x, log_dir=str(tmp_path))
    arguments.update(kwargs)
    if arguments["inputs"] == "one":
        arguments["inputs"] = [x[0]]
    model = small_model()
    weights = model.get_weights()
    with pytest.raises(ValueError, match=match):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[GradCAMCallback(**arguments)])
    for before, after in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(after, before)


def test_writes_figures_under_mixed_bfloat16(tmp_path):
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        model = small_model()
    finally:
        keras.config.set_dtype_policy(previous)
    x, y, _ = data(n=4)
    callback = GradCAMCallback([a[:2] for a in x], str(tmp_path), tensorboard=False)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="GradCAMCallback")
        model.fit(x, y, epochs=1, batch_size=4, verbose=0, callbacks=[callback])
    assert os.listdir(tmp_path) == ["epoch_001.png"]
