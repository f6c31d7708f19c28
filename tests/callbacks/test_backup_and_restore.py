import json
import os

import keras
import numpy as np
import pytest
from drifa_testing import RUN_EAGERLY

import keras_drifa
from keras_drifa.callbacks import BackupAndRestore
from keras_drifa.callbacks.backup_and_restore import stored_epoch

X = np.random.default_rng(0).random((8, 3), dtype="float32")
Y = np.random.default_rng(1).random((8, 2), dtype="float32")


def small_model():
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    # Momentum: the optimizer has state beyond its iteration count that must be restored.
    model.compile(keras.optimizers.SGD(0.1, momentum=0.9), "mse", run_eagerly=RUN_EAGERLY)
    return model


def fit(model, epochs, callbacks):
    return model.fit(X, Y, batch_size=4, epochs=epochs, shuffle=False, verbose=0,
                     callbacks=callbacks)


class StopAtEpoch(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise RuntimeError("interrupted")


class RecordIterations(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.iterations = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))


def weights(model):
    return [keras.ops.convert_to_numpy(v) for v in model.weights + model.optimizer.variables]


def test_resume_restores_epoch_optimizer_and_weights(tmp_path):
    backup = str(tmp_path / "backup")
    with pytest.raises(RuntimeError, match="interrupted"):
        fit(small_model(), 4, [BackupAndRestore(backup), StopAtEpoch(2)])
    assert stored_epoch(backup) == 2
    resumed, record = small_model(), RecordIterations()
    history = fit(resumed, 4, [BackupAndRestore(backup), record])
    assert history.epoch == [2, 3]
    assert record.iterations == 4  # two epochs of two steps
    assert not os.path.exists(backup)  # deleted at the end, as in Keras
    uninterrupted = small_model()
    fit(uninterrupted, 4, [])
    for a, b in zip(weights(resumed), weights(uninterrupted)):
        np.testing.assert_array_equal(a, b)


def dropout_model():
    keras.utils.set_random_seed(3)
    model = keras.Sequential([
        keras.Input((3,)), keras.layers.Dense(16), keras_drifa.layers.MCDropout(0.5),
        keras.layers.Dense(2),
    ])
    model.compile(keras.optimizers.SGD(0.1, momentum=0.9), "mse", run_eagerly=RUN_EAGERLY)
    return model


def test_resumed_dropout_draws_the_masks_of_the_uninterrupted_run(tmp_path):
    # The seed generators' states (and PyTorch's global generator, which unseeded dropout
    # draws from) are backed up with the weights: a resumed run does not replay the
    # masks of its first epochs. Without them the weights below differ by 0.24-0.28.
    backup = str(tmp_path / "backup")
    with pytest.raises(RuntimeError, match="interrupted"):
        fit(dropout_model(), 4, [BackupAndRestore(backup), StopAtEpoch(2)])
    resumed = dropout_model()
    assert fit(resumed, 4, [BackupAndRestore(backup)]).epoch == [2, 3]
    uninterrupted = dropout_model()
    fit(uninterrupted, 4, [])
    for a, b in zip(weights(resumed), weights(uninterrupted)):
        np.testing.assert_array_equal(a, b)


def test_resumed_run_sees_the_batches_of_the_uninterrupted_run(tmp_path):
    # fit shuffles a PyDataset's batches with Python's `random`, whose state is backed up;
    # MultimodalDataset's row order follows its `epoch`, set from `resume_epoch`. Without
    # either, the resumed epochs see other batches than the uninterrupted run's.
    rows = np.arange(16, dtype="float32")[:, None]

    def run(epochs, callbacks, resume_from=None):
        keras.utils.set_random_seed(3)
        inputs = keras.Input((1,), name="m")
        model = keras.Model({"m": inputs}, {"t": keras.layers.Dense(1, name="t")(inputs)})
        model.compile(keras.optimizers.SGD(0.01), "mse", run_eagerly=RUN_EAGERLY)
        data = keras_drifa.data.MultimodalDataset(
            {"m": rows}, {"t": rows}, one_hot=False, batch_size=2, seed=0)
        if resume_from is not None:
            data.epoch = resume_from.resume_epoch
        model.fit(data, epochs=epochs, verbose=0, callbacks=callbacks)
        return model, data

    # The weights after SGD steps on rows with distinct targets tell which batches, in
    # which order, each epoch trained on.
    backup = BackupAndRestore(str(tmp_path / "backup"))
    with pytest.raises(RuntimeError, match="interrupted"):
        run(3, [backup, StopAtEpoch(2)])
    assert backup.resume_epoch == 2
    resumed, data = run(3, [BackupAndRestore(str(tmp_path / "backup"))], resume_from=backup)
    uninterrupted, uninterrupted_data = run(3, [])
    assert data.epoch == uninterrupted_data.epoch
    for a, b in zip(weights(resumed), weights(uninterrupted)):
        np.testing.assert_array_equal(a, b)


def test_resume_epoch_without_a_backup_is_zero(tmp_path):
    assert BackupAndRestore(str(tmp_path / "none")).resume_epoch == 0


def backed_up_once(tmp_path):
    model = small_model()
    fit(model, 1, [])
    callback = BackupAndRestore(str(tmp_path))
    callback.set_model(model)
    callback.on_epoch_end(0)
    return model, callback


def test_restore_includes_a_lowered_learning_rate(tmp_path):
    model = small_model()
    fit(model, 1, [])
    model.optimizer.learning_rate = 0.01  # as ReduceLROnPlateau lowers it
    callback = BackupAndRestore(str(tmp_path))
    callback.set_model(model)
    callback.on_epoch_end(0)
    restored = small_model()
    callback = BackupAndRestore(str(tmp_path))
    callback.set_model(restored)
    callback.on_train_begin()
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(restored.optimizer.learning_rate), 0.01, rtol=1e-6)


def test_failed_save_leaves_the_previous_backup(tmp_path, monkeypatch):
    model, callback = backed_up_once(tmp_path)
    before = {p: (tmp_path / p).read_bytes() for p in os.listdir(tmp_path)}
    original = model.save_weights

    def fails_half_way(filepath, overwrite=True):
        original(filepath, overwrite)
        with open(filepath, "r+b") as f:
            f.truncate(100)
        raise OSError("disk full")

    monkeypatch.setattr(model, "save_weights", fails_half_way)
    with pytest.raises(OSError, match="disk full"):
        callback.on_epoch_end(1)
    assert sorted(os.listdir(tmp_path)) == sorted(before)  # the partial file removed
    for path, content in before.items():
        assert (tmp_path / path).read_bytes() == content
    assert stored_epoch(str(tmp_path)) == 1
    restored = small_model()
    restored.optimizer.build(restored.trainable_variables)
    restored.load_weights(str(tmp_path / "latest.weights.h5"))
    for a, b in zip(weights(restored), weights(model)):
        np.testing.assert_array_equal(a, b)


def test_epoch_is_taken_from_the_weights_file(tmp_path, monkeypatch):
    # A process killed between moving the weights and the metadata into place: the
    # metadata is one backup behind; the resumed epoch is that of the weights loaded.
    model, callback = backed_up_once(tmp_path)
    monkeypatch.setattr(json, "dump", lambda *a, **k: (_ for _ in ()).throw(OSError("killed")))
    with pytest.raises(OSError, match="killed"):
        callback.on_epoch_end(1)
    monkeypatch.undo()
    assert json.loads((tmp_path / "training_metadata.json").read_text())["epoch"] == 1
    assert stored_epoch(str(tmp_path)) == 2
    history = fit(small_model(), 3, [BackupAndRestore(str(tmp_path), delete_checkpoint=False)])
    assert history.epoch == [2]


class NotChief:
    backend, num_processes, process_index, is_chief = "tensorflow", 2, 1, False

    def barrier(self):
        pass


def test_only_the_chief_writes_and_deletes(tmp_path, monkeypatch):
    monkeypatch.setattr(keras_drifa.distributed, "current", lambda: NotChief())
    callback = BackupAndRestore(str(tmp_path / "backup"))
    callback.set_model(small_model())
    callback.on_epoch_end(0)
    assert not os.path.exists(tmp_path / "backup")
    os.makedirs(tmp_path / "backup")
    callback.on_train_end()
    assert os.path.exists(tmp_path / "backup")


@pytest.mark.parametrize(
    "kwargs, message",
    [(dict(save_freq=10), "save_freq=10"), (dict(backup_dir="gs://bucket/b"), "is a URL")],
)
def test_rejected_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        BackupAndRestore(**{"backup_dir": "backup", **kwargs})


def test_processes_resuming_at_different_epochs_are_refused(tmp_path, monkeypatch):
    # A backup_dir that not every machine sees: the ranks would train different epochs.
    class TorchRank(NotChief):
        backend = "torch"

    from keras_drifa.distributed import _torch_ddp

    monkeypatch.setattr(keras_drifa.distributed, "current", lambda: TorchRank())
    monkeypatch.setattr(_torch_ddp, "all_reduce_mean",
                        lambda values: {"epoch": 1.0, "epoch_squared": 2.0})  # epochs 0 and 2
    callback = BackupAndRestore(str(tmp_path))
    callback.set_model(small_model())
    with pytest.raises(RuntimeError, match="do not all resume at the same epoch"):
        callback.on_train_begin()
