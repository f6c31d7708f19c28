"""keras_drifa.ensemble.model: MCDropoutEnsemble training, prediction and saving.

Most behaviour is tested on the small members of `ensemble_testing`; DRIFA-Net itself (the
tiny configuration) where its config matters.
"""

import json
import zipfile

import keras
import numpy as np
import pytest
from drifa_testing import RUN_EAGERLY
from ensemble_testing import member_weights, small_data, small_member

from keras_drifa.ensemble import MCDropoutEnsemble
from keras_drifa.mc_sampling import mc_dropout_layers

# Training and prediction -----------------------------------------------------------------


def test_loss_is_the_sum_of_member_losses():
    """In training, `compute_loss` sums each member's loss on its own predictions."""
    ensemble = MCDropoutEnsemble(small_member, num_members=2)
    ensemble.compile(loss=["categorical_crossentropy"] * 2, loss_weights=[0.5, 0.5])
    xs, ys, _ = small_data(n=8)
    crossentropy = keras.losses.CategoricalCrossentropy()
    # A training call returns the mean (one structure always); within `fit`'s train step
    # it returns every member's outputs, as `member_outputs` does, for the loss of this step.
    mean = ensemble(xs, training=True)
    assert [tuple(p.shape) for p in mean] == [(8, 3), (8, 4)]
    outputs = ensemble.member_outputs(xs, training=True)
    per_member = [[keras.ops.convert_to_numpy(p) for p in m] for m in outputs]
    assert len(per_member) == 2
    expected = sum(
        0.5 * float(crossentropy(y, p)) for preds in per_member for y, p in zip(ys, preds)
    )
    total = ensemble.compute_loss(xs, ys, outputs, training=True)
    assert float(total) == pytest.approx(expected, rel=1e-5)
    # The members' predictions are used once: on the mean prediction (evaluation), the
    # loss is the ensemble's own.
    mean = [keras.ops.convert_to_numpy(p) for p in ensemble(xs)]
    expected_mean = sum(0.5 * float(crossentropy(y, p)) for y, p in zip(ys, mean))
    assert expected_mean != pytest.approx(expected, rel=1e-3)
    assert float(ensemble.compute_loss(xs, ys, mean, training=False)) == pytest.approx(
        expected_mean, rel=1e-5
    )


def test_sgd_steps_update_each_member_as_training_it_alone():
    """The ensemble's loss is a sum over members, so each member's gradient is its own.
    Three SGD steps with momentum must give every member the weights it gets trained
    alone. On PyTorch this failed for all members but the last (0.1.0): members
    share variable paths, Keras's torch layers keep one parameter per path, and the
    others' gradients were never zeroed, adding up from step to step."""
    members = [small_member() for _ in range(2)]
    ensemble = MCDropoutEnsemble(members)
    alone = [small_member() for _ in range(2)]
    for model, twin in zip(members, alone):
        twin.set_weights(model.get_weights())
        for layer in mc_dropout_layers(model) + mc_dropout_layers(twin):
            layer.rate = 0.0  # the same computation with and without the ensemble
    xs, ys, _ = small_data(n=24)

    def train(model):
        model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
                      loss="categorical_crossentropy", run_eagerly=RUN_EAGERLY)
        model.fit(xs, ys, batch_size=8, epochs=1, shuffle=False, verbose=0)

    train(ensemble)
    for model, twin in zip(members, alone):
        train(twin)
        for w, expected in zip(member_weights(model), member_weights(twin)):
            np.testing.assert_allclose(w, expected, atol=1e-5)


@pytest.mark.compiled
def test_fit_trains_every_member_with_readable_metrics(trained):
    ensemble, before, history = trained
    assert sorted(history.history) == sorted(
        ["loss", "task_0_loss", "task_1_loss", "task_0_accuracy", "task_1_accuracy"]
        + ["val_loss", "val_task_0_loss", "val_task_1_loss", "val_task_0_accuracy",
           "val_task_1_accuracy"]
    )
    for member, initial in zip(ensemble.members, before):
        assert any(not np.allclose(w0, w1) for w0, w1 in zip(initial, member_weights(member)))
    # The training loss sums the 3 members' losses; per-task losses average over members.
    # Validation measures the ensemble's mean prediction.
    last = {k: v[-1] for k, v in history.history.items()}
    assert last["loss"] == pytest.approx(3 * (last["task_0_loss"] + last["task_1_loss"]),
                                         rel=1e-4)
    assert last["val_loss"] == pytest.approx(last["val_task_0_loss"] + last["val_task_1_loss"],
                                             rel=1e-4)


@pytest.mark.compiled
def test_members_differ_and_predict_is_their_deterministic_mean(trained):
    ensemble, _, _ = trained
    xs, ys, labels = small_data(n=20, seed=1)
    member_preds = [m.predict(xs, verbose=0) for m in ensemble.members]
    assert not np.allclose(member_preds[0][0], member_preds[1][0], atol=1e-3)
    mean = ensemble.predict(xs, verbose=0)
    assert isinstance(mean, list) and [p.shape for p in mean] == [(20, 3), (20, 4)]
    for t in range(2):
        np.testing.assert_allclose(
            mean[t], np.mean([p[t] for p in member_preds], axis=0), rtol=1e-5, atol=1e-6
        )
    np.testing.assert_array_equal(ensemble.predict(xs, verbose=0)[0], mean[0])
    # evaluate measures the mean prediction.
    logs = ensemble.evaluate(xs, ys, verbose=0, return_dict=True)
    assert logs["task_1_accuracy"] == pytest.approx(np.mean(mean[1].argmax(-1) == labels[1]))


# Saving ----------------------------------------------------------------------------------


@pytest.mark.compiled
def test_save_and_load_preserve_every_member(trained, tmp_path):
    ensemble, _, _ = trained
    path = tmp_path / "ensemble.keras"
    ensemble.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, MCDropoutEnsemble) and loaded.num_members == 3
    xs, ys, _ = small_data(n=20, seed=1)  # the shapes evaluated before: no new compilation
    for original, restored in zip(ensemble.members, loaded.members):
        for a, b in zip(original(xs), restored(xs)):
            np.testing.assert_allclose(
                keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b), rtol=1e-6, atol=1e-7
            )
    iterations = [
        int(keras.ops.convert_to_numpy(e.optimizer.iterations)) for e in (ensemble, loaded)
    ]
    assert loaded.compiled and iterations[0] == iterations[1] > 0
    np.testing.assert_allclose(
        loaded.evaluate(xs, ys, verbose=0), ensemble.evaluate(xs, ys, verbose=0), rtol=1e-5
    )


def test_a_failed_save_keeps_the_previous_file(tmp_path, monkeypatch):
    ensemble = MCDropoutEnsemble(small_member, num_members=2)
    path = tmp_path / "ensemble.keras"
    ensemble.save(path)
    saved = path.read_bytes()

    def fail():
        raise RuntimeError("member 1 cannot be serialised")

    monkeypatch.setattr(ensemble.members[1], "get_config", fail)
    with pytest.raises(RuntimeError, match="member 1 cannot be serialised"):
        ensemble.save(path)
    assert path.read_bytes() == saved
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ensemble.keras"]
    assert keras.saving.load_model(path).num_members == 2


def test_a_file_written_before_the_ensemble_became_a_package_loads(tmp_path):
    """Saved files name the class by its registered name, `keras_drifa>MCDropoutEnsemble`,
    which did not change when `keras_drifa/ensemble.py` became a package; a file whose
    config still records the old module loads."""
    ensemble = MCDropoutEnsemble(small_member, num_members=2)
    path = tmp_path / "ensemble.keras"
    ensemble.save(path)
    with zipfile.ZipFile(path) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(files["config.json"])
    assert config["registered_name"] == "keras_drifa>MCDropoutEnsemble"
    config["module"] = "keras_drifa.ensemble"
    files["config.json"] = json.dumps(config).encode()
    old = tmp_path / "old.keras"
    with zipfile.ZipFile(old, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    loaded = keras.models.load_model(old)
    assert isinstance(loaded, MCDropoutEnsemble) and loaded.num_members == 2
    xs, _, _ = small_data(n=4)
    for a, b in zip(ensemble(xs), loaded(xs)):
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b), rtol=1e-6, atol=1e-7
        )


def test_get_config_round_trips(drifa_ensemble):
    config = drifa_ensemble.get_config()
    clone = MCDropoutEnsemble.from_config(config)
    assert clone.num_members == 1
    assert clone.get_config() == config
    assert clone.members[0].get_config() == drifa_ensemble.members[0].get_config()
