"""keras_drifa._saving: `.keras` files replaced only by complete ones; other paths unchanged."""

import os
import stat

import keras
import numpy as np
import pytest

from keras_drifa._saving import save_atomically


def _writes_half_then_fails(path, **kwargs):
    with open(path, "wb") as f:
        f.write(b"half a model")
    raise OSError("disk full")


def _writes(content):
    def save(path, **kwargs):
        assert kwargs == {"overwrite": True, "zipped": None}
        with open(path, "wb") as f:
            f.write(content)

    return save


def test_a_failing_save_leaves_the_old_file_and_no_temporary_file(tmp_path):
    path = tmp_path / "model.keras"
    path.write_bytes(b"the good model")
    with pytest.raises(OSError, match="disk full"):
        save_atomically(_writes_half_then_fails, path)
    assert path.read_bytes() == b"the good model"
    assert os.listdir(tmp_path) == ["model.keras"]


def test_the_temporary_file_sits_next_to_the_target_with_the_keras_suffix(tmp_path):
    seen = []

    def save(path, **kwargs):
        seen.append(path)
        _writes(b"new")(path, **kwargs)

    path = tmp_path / "model.keras"
    path.write_bytes(b"old")
    os.chmod(path, 0o640)
    save_atomically(save, str(path))
    folder, name = os.path.split(seen[0])
    assert folder == str(tmp_path) and name.startswith(".model.keras.tmp-")
    assert name.endswith(".keras")
    assert path.read_bytes() == b"new" and os.listdir(tmp_path) == ["model.keras"]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640  # as an in-place write keeps it


@pytest.mark.parametrize(
    "name, kwargs",
    [("model.h5", {}), ("model.weights.h5", {}), ("model_dir", {"zipped": False}),
     ("model.txt", {})],
)
def test_other_targets_go_to_save_unchanged(tmp_path, name, kwargs):
    calls = []
    target = tmp_path / name
    save_atomically(lambda path, **kw: calls.append((path, kw)), target, **kwargs)
    assert calls == [(target, dict({"overwrite": True, "zipped": None}, **kwargs))]


def test_keras_save_of_other_formats_behaves_as_before(tmp_path):
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    save_atomically(model.save, tmp_path / "model.h5")
    assert os.listdir(tmp_path) == ["model.h5"]
    x = np.ones((1, 3), "float32")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(keras.saving.load_model(tmp_path / "model.h5")(x)),
        keras.ops.convert_to_numpy(model(x)), rtol=1e-6,
    )
    with pytest.raises(ValueError, match="Invalid filepath extension for saving"):
        save_atomically(model.save, tmp_path / "model.txt")
    with pytest.raises(FileNotFoundError, match="missing"):
        save_atomically(model.save, tmp_path / "missing" / "model.keras")
    assert os.listdir(tmp_path) == ["model.h5"]
