"""keras_drifa.ensemble.training: the train step that compiles one member's step once (JAX,
TensorFlow).

Its result is checked against Keras's own train step for the same ensemble (the member
loop switched off), step by step, with what could go wrong in a member-by-member loop:
batch normalisation's moving statistics, regularisation losses, dropout masks, sample
weights and several steps per execution.
"""

import keras
import numpy as np
import pytest
from ensemble_testing import CLASSES, member_weights, small_data, small_member

from keras_drifa.ensemble import MCDropoutEnsemble, training
from keras_drifa.layers import MCDropout

LOOPED = keras.backend.backend() in ("jax", "tensorflow")
COMPILING_BACKENDS = pytest.mark.skipif(
    not LOOPED,
    reason="PyTorch compiles nothing by default, so the ensemble trains with Keras's own "
    "step there (test_model.py covers it); the member loop exists to compile once",
)


def regularised_member():
    """`small_member` with batch normalisation and an L2 kernel regulariser. (No bias before
    batch normalisation: its gradient is zero up to rounding, which Adam would amplify
    into updates that differ between two correct implementations.)"""
    inputs = [keras.Input((6,), name=f"modality_{i}") for i in range(2)]
    x = keras.layers.Concatenate()([keras.layers.Dense(16, use_bias=False)(t) for t in inputs])
    x = keras.layers.BatchNormalization()(x)
    x = MCDropout(0.5)(keras.layers.Activation("relu")(x))
    x = keras.layers.Dense(16, activation="relu", kernel_regularizer=keras.regularizers.L2(0.1))(x)
    outputs = [
        keras.layers.Dense(n, activation="softmax", name=f"task_{t}")(x)
        for t, n in enumerate(CLASSES)
    ]
    return keras.Model(inputs, outputs)


def fit(loop, member, num_members=3, steps_per_execution=1, batch_size=20, **fit_kwargs):
    """A seeded ensemble trained by the member loop (`loop=True`) or by Keras's step, for
    two epochs of 48 examples (by default in batches of 20, 20 and 8)."""
    keras.utils.set_random_seed(11)
    ensemble = MCDropoutEnsemble(member, num_members=num_members, member_loop=loop)
    ensemble.compile(
        optimizer=keras.optimizers.Adam(0.01),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
        steps_per_execution=steps_per_execution,
    )
    xs, ys, _ = small_data()
    history = ensemble.fit(xs, ys, epochs=2, batch_size=batch_size, shuffle=False, verbose=0,
                           **fit_kwargs)
    return ensemble, history.history


def assert_same_training(a, b):
    (ens_a, hist_a), (ens_b, hist_b) = a, b
    assert hist_a.keys() == hist_b.keys()
    for key in hist_a:
        np.testing.assert_allclose(hist_a[key], hist_b[key], rtol=1e-5, err_msg=key)
    for member_a, member_b in zip(ens_a.members, ens_b.members):
        for wa, wb in zip(member_a.get_weights(), member_b.get_weights()):
            np.testing.assert_allclose(wa, wb, atol=1e-5)


@COMPILING_BACKENDS
def test_matches_keras_train_step_with_batch_norm_and_regularisation():
    sample_weight = np.linspace(0.5, 1.5, 48).astype("float32")
    validation = small_data(n=24, seed=3)[:2]
    looped = fit(True, regularised_member, sample_weight=sample_weight,
                 validation_data=validation)
    assert isinstance(looped[0]._member_loop, training.MemberLoop)
    keras_step = fit(False, regularised_member, sample_weight=sample_weight,
                     validation_data=validation)
    assert keras_step[0]._member_loop is None
    assert_same_training(looped, keras_step)
    assert "val_task_0_accuracy" in looped[1]
    xs, ys = validation
    np.testing.assert_allclose(
        looped[0].evaluate(xs, ys, verbose=0), keras_step[0].evaluate(xs, ys, verbose=0),
        rtol=1e-5,
    )
    # The check can fail: the members trained, and differently from each other.
    members = looped[0].members
    assert not np.allclose(members[0].get_weights()[0], members[1].get_weights()[0])
    moving_mean = [w for w in members[0].weights if "moving_mean" in w.path][0]
    assert np.abs(keras.ops.convert_to_numpy(moving_mean)).max() > 0


@COMPILING_BACKENDS
def test_members_with_seeds_of_their_own_share_the_loop_and_match_keras_step():
    """Each member's dropout masks come from its own seed state, also in the one compiled
    member step (were they member 0's, the members' masks and updates would differ from
    Keras's step)."""

    def seeded_members():
        seeds = iter(range(100, 1000, 100))
        return lambda: small_member(seed=next(seeds))

    looped = fit(True, seeded_members())
    assert isinstance(looped[0]._member_loop, training.MemberLoop)
    keras_step = fit(False, seeded_members())
    assert_same_training(looped, keras_step)
    # The precondition: the members' first dropout layers hold three different seed states.
    states = [
        tuple(keras.ops.convert_to_numpy(first_dropout(member).seed_generator.state).tolist())
        for member in looped[0].members
    ]
    assert len(set(states)) == 3


def first_dropout(member):
    return next(layer for layer in member.layers if isinstance(layer, MCDropout))


@COMPILING_BACKENDS
def test_matches_keras_train_step_with_steps_per_execution():
    looped = fit(True, small_member, num_members=2, steps_per_execution=2)
    keras_step = fit(False, small_member, num_members=2, steps_per_execution=2)
    assert_same_training(looped, keras_step)


def count_calls(monkeypatch, methods):
    """Counts the calls of each `(owner, name)` method (for a traced one: its traces)."""
    calls = {name: 0 for _, name in methods}
    for owner, name in methods:
        original = getattr(owner, name)

        def counted(self, *args, name=name, original=original):
            calls[name] += 1
            return original(self, *args)

        monkeypatch.setattr(owner, name, counted)
    return calls


@COMPILING_BACKENDS
def test_one_member_step_is_traced_for_all_members(monkeypatch):
    traces = count_calls(monkeypatch, [(training.MemberLoop, "_member_loss"),
                                       (training.MemberLoop, "_forward")])
    # 48 training and 40 validation examples in batches of 16: the last validation batch
    # is smaller. JAX compiles once per batch shape, as Keras's own step does; TensorFlow
    # traces once, with the batch size unknown, as Keras's own step sees it.
    xs, ys, _ = small_data(n=40)
    ensemble, _ = fit(True, small_member, num_members=4, validation_data=(xs, ys),
                      batch_size=16)
    assert ensemble.num_members == 4
    forward_traces = 2 if keras.backend.backend() == "jax" else 1
    assert traces == {"_member_loss": 1, "_forward": forward_traces}


def test_falls_back_to_keras_step_where_it_does_not_apply():
    """Members of different architectures, and eager training, use Keras's train step
    (as PyTorch always does), and still train."""
    xs, ys, _ = small_data(n=16)
    mixed = MCDropoutEnsemble([small_member(), small_member(rate=0.3)], member_loop=True)
    eager = MCDropoutEnsemble(small_member, num_members=2, member_loop=True)
    for ensemble, run_eagerly in ((mixed, False), (eager, True)):
        ensemble.compile(optimizer="sgd", loss="categorical_crossentropy",
                         run_eagerly=run_eagerly)
        before = member_weights(ensemble.members[1])
        ensemble.fit(xs, ys, epochs=1, batch_size=8, verbose=0)
        assert ensemble._member_loop is None
        after = member_weights(ensemble.members[1])
        assert any(not np.allclose(b, a) for b, a in zip(before, after))


def test_member_loop_is_on_by_default_on_jax_and_on_request_on_tensorflow():
    xs, ys, _ = small_data(n=8)
    for setting in ("auto", True, False):
        ensemble = MCDropoutEnsemble(small_member, num_members=2, member_loop=setting)
        ensemble.compile(optimizer="sgd", loss="categorical_crossentropy")
        ensemble.train_on_batch(xs, ys)
        expected = {
            "auto": keras.backend.backend() == "jax", True: LOOPED, False: False
        }[setting]
        assert isinstance(ensemble._member_loop, training.MemberLoop) == expected, setting
        assert ensemble.get_config()["member_loop"] == setting
        assert MCDropoutEnsemble.from_config(ensemble.get_config()).member_loop == setting
    # compile() forgets it: the next training builds its step for the new settings.
    ensemble = MCDropoutEnsemble(small_member, num_members=2, member_loop=True)
    ensemble.compile(optimizer="sgd", loss="categorical_crossentropy")
    ensemble.train_on_batch(xs, ys)
    ensemble.compile(optimizer="sgd", loss="categorical_crossentropy", run_eagerly=True)
    assert ensemble._member_loop is None
    ensemble.train_on_batch(xs, ys)
    assert ensemble._member_loop is None


@pytest.mark.parametrize("setting", ["on", 1, None])
def test_member_loop_setting_must_be_auto_true_or_false(setting):
    with pytest.raises(ValueError, match=r"`member_loop` must be 'auto', True or False; "
                       r"received member_loop="):
        MCDropoutEnsemble(small_member, num_members=2, member_loop=setting)


@pytest.mark.parametrize("loop", [True, False], ids=["member_loop", "keras_step"])
def test_first_step_traces_once(loop, monkeypatch):
    """`compile` creates the optimizer's, metrics' and loss trackers' variables, so the
    first step traces once: TensorFlow traced Keras's step twice when the trace created
    them, which doubled an ensemble's first step. (PyTorch compiles nothing: its step runs
    once per batch.)"""
    calls = count_calls(monkeypatch, [(MCDropoutEnsemble, "train_step"),
                                      (training.MemberLoop, "_member_loss")])
    xs, ys, _ = small_data(n=8)
    ensemble = MCDropoutEnsemble(small_member, num_members=2, member_loop=loop)
    ensemble.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    ensemble.train_on_batch(xs, ys)
    looped = loop and LOOPED
    # The loop's train step runs eagerly, once per batch; its member step traces once.
    assert calls == {"train_step": 1, "_member_loss": 1 if looped else 0}
