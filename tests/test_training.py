"""keras_drifa.training: the paper's schedule and SeededRuns."""

import keras
import numpy as np
import pytest
from drifa_testing import RUN_EAGERLY

from keras_drifa.callbacks import BatchNormRecalibration
from keras_drifa.training import SeededRuns, paper_schedule


def small_model():
    inputs = keras.Input((4,), name="x")
    hidden = keras.layers.Dense(8, activation="relu", name="dense")(inputs)
    hidden = keras.layers.BatchNormalization(name="bn")(hidden)
    return keras.Model(inputs, keras.layers.Dense(2, activation="softmax", name="out")(hidden))


def _data(n=32, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 4), dtype=np.float32)
    return x, keras.utils.to_categorical((x[:, 0] > 0.5).astype(int), 2)


def test_paper_schedule_is_the_papers_callbacks_with_recalibration():
    x, _ = _data()
    recalibration, plateau, best, nan = paper_schedule(x, patience=3, min_learning_rate=1e-6)
    assert isinstance(recalibration, BatchNormRecalibration) and recalibration.x is x
    assert isinstance(plateau, keras.callbacks.ReduceLROnPlateau)
    assert (plateau.monitor, plateau.factor, plateau.patience, plateau.min_lr) == (
        "val_loss", 0.2, 3, 1e-6
    )
    assert isinstance(best, keras.callbacks.EarlyStopping)
    assert best.monitor == "val_loss" and best.restore_best_weights
    assert isinstance(nan, keras.callbacks.TerminateOnNaN)


def test_paper_schedule_stops_at_the_first_nan_loss():
    model = small_model()
    model.compile(optimizer="adam", loss="categorical_crossentropy", run_eagerly=RUN_EAGERLY)
    x, y = _data()
    y[5, 0] = np.nan
    history = model.fit(x, y, validation_data=_data(seed=1), epochs=3, batch_size=8, verbose=0,
                        callbacks=paper_schedule(x))
    assert len(history.history["loss"]) <= 1 and model.stop_training


def test_seeded_runs_reproduce_a_fresh_build_and_reset_the_optimizer():
    model = small_model()
    model.compile(optimizer="adam", loss="categorical_crossentropy", run_eagerly=RUN_EAGERLY)
    runs = SeededRuns(model)
    x, y = _data()
    first = [w.copy() for w in runs.start(0).get_weights()]
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    train_function = model.train_function
    assert int(model.optimizer.iterations) == 4
    again = runs.start(0).get_weights()
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert int(model.optimizer.iterations) == 0
    assert any(not np.array_equal(a, b) for a, b in zip(first, runs.start(1).get_weights()))
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert model.train_function is train_function  # compiled once, reused
    with pytest.raises(ValueError, match=r"SeededRuns.start: `seed` must be an integer >= 0; received seed=-1"):
        runs.start(-1)
    with pytest.raises(ValueError, match=r"received seed=None"):
        runs.start(None)
    with pytest.raises(ValueError, match="SeededRuns: model must be a compiled keras.Model"):
        SeededRuns(small_model())
