"""keras_drifa.training: the paper's schedule and SeededRuns."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from drifa_testing import BACKEND, RUN_EAGERLY

from keras_drifa.callbacks import BatchNormRecalibration
from keras_drifa.layers import MCDropout
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


def dropout_model():
    """Two kinds of dropout, each with a seed generator built unseeded (from Python's
    `random`, whose state differs from process to process)."""
    inputs = keras.Input((4,), name="x")
    hidden = keras.layers.Dense(16, activation="relu", name="dense")(inputs)
    hidden = MCDropout(0.5, name="mc_dropout")(hidden)
    hidden = keras.layers.Dropout(0.5, name="dropout")(hidden)
    return keras.Model(inputs, keras.layers.Dense(2, activation="softmax", name="out")(hidden))


def test_a_seeded_run_depends_on_its_seed_only():
    """The dropout masks of `start(1)` are those of a fresh build under seed 1, whatever
    ran before: the runs before it have advanced the seed generators' states, which
    `set_weights` leaves alone. MC dropout's sampling switch keeps its state."""
    model = dropout_model()
    model.compile(optimizer="adam", loss="categorical_crossentropy", run_eagerly=RUN_EAGERLY)
    runs = SeededRuns(model)
    x, y = _data(64)
    trained = []
    for seed in (1, 0, 1):
        runs.start(seed)
        model.fit(x, y, epochs=2, batch_size=8, verbose=0)
        trained.append([w.copy() for w in model.get_weights()])
    for a, b in zip(trained[0], trained[2]):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(trained[0], trained[1]))
    switch = model.get_layer("mc_dropout")
    switch.set_sampling(True)
    runs.start(0)
    assert switch.sampling


# A tiny DRIFA-Net built before any seed is set (as examples/quickstart.py does), then
# trained with SeededRuns: two processes must end with the same weights, bit for bit.
SAME_SEED_SCRIPT = """
import hashlib
import keras, numpy as np
import keras_drifa
from keras_drifa.training import SeededRuns
model = keras_drifa.build_model(input_shape=(8, 8, 3), num_classes=(2, 3), widths=(4,),
                                blocks_per_stage=(1,))
model.compile(optimizer="adam", loss="categorical_crossentropy",
              run_eagerly=keras.backend.backend() == "tensorflow")
rng = np.random.default_rng(0)
xs = [rng.random((32, 8, 8, 3), dtype=np.float32) for _ in range(2)]
ys = [np.eye(2, dtype="float32")[rng.integers(0, 2, 32)],
      np.eye(3, dtype="float32")[rng.integers(0, 3, 32)]]
SeededRuns(model).start(0)
model.fit(xs, ys, epochs=2, batch_size=8, shuffle=True, verbose=0)
digest = hashlib.sha256(b"".join(np.asarray(w).tobytes() for w in model.get_weights()))
print("weights", digest.hexdigest())
"""


def test_same_seed_gives_the_same_weights_in_two_processes():
    """Issue 21: two same-seed runs of the demo on JAX printed different numbers. The cause
    was the dropout seed generators' states, drawn from Python's unseeded `random` when
    the models were built; `SeededRuns.start` now resets them."""
    env = dict(os.environ, KERAS_BACKEND=BACKEND, TF_CPP_MIN_LOG_LEVEL="3")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))

    def run():
        result = subprocess.run([sys.executable, "-c", SAME_SEED_SCRIPT], env=env, timeout=300,
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stderr[-3000:]
        return [line for line in result.stdout.splitlines() if line.startswith("weights")]

    first = run()
    assert len(first) == 1 and first == run()
