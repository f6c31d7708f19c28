"""Ensembles shared by the tests of `keras_drifa.ensemble` (built once per session)."""

import keras
import pytest
from drifa_testing import tiny_model
from ensemble_testing import member_weights, small_data, small_member

from keras_drifa.ensemble import MCDropoutEnsemble


@pytest.fixture(scope="session")
def trained():
    """A compiled 3-member ensemble, its weights before training, and one fit's history."""
    keras.utils.set_random_seed(7)
    ensemble = MCDropoutEnsemble(small_member, num_members=3)
    before = [member_weights(m) for m in ensemble.members]
    xs, ys, _ = small_data()
    # Compiled on every backend, TensorFlow included: the small model traces quickly.
    ensemble.compile(optimizer=keras.optimizers.Adam(0.01), loss="categorical_crossentropy",
                     metrics=["accuracy"])
    history = ensemble.fit(xs, ys, validation_data=(xs, ys), epochs=2, batch_size=16, verbose=0)
    return ensemble, before, history


@pytest.fixture(scope="session")
def drifa_ensemble():
    """One tiny DRIFA-Net member; batches of 2 and 2 samples keep JAX's eager op cache warm."""
    keras.utils.set_random_seed(3)
    ensemble = MCDropoutEnsemble([tiny_model()])
    # Eager sampling functions: compiling a DRIFA-Net costs minutes on TensorFlow and JAX.
    ensemble.compile(run_eagerly=keras.backend.backend() != "torch")
    return ensemble
