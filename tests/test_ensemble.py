"""keras_drifa.ensemble: MCDropoutEnsemble training, prediction, sampling, saving and errors.

Most behaviour is tested on a small Dense model with two inputs, two MC dropout layers and
two softmax heads, which compiles in seconds on every backend; DRIFA-Net itself (the tiny
configuration) is used where its graph matters: where the deterministic prefix ends and
whether the reused-prefix samples equal the full model's. Those run eagerly on TensorFlow
and JAX (`run_eagerly=True`), because compiling a DRIFA-Net takes minutes there.
"""

import keras
import numpy as np
import pytest
from drifa_testing import RUN_EAGERLY, batch, tiny_model

import keras_drifa
from keras_drifa import ensemble as ensemble_module
from keras_drifa import uncertainty
from keras_drifa.ensemble import MCDropoutEnsemble, _reseed, split_at_mc_dropout
from keras_drifa.layers import MCDropout
from keras_drifa.mc_sampling import mc_dropout_layers

CLASSES = (3, 4)


def small_member(rate=0.5, classes=CLASSES, input_dim=6, head_activation="softmax"):
    """Two inputs, Dense + MC dropout, one softmax head per task (named task_0, task_1)."""
    inputs = [keras.Input((input_dim,), name=f"modality_{i}") for i in range(2)]
    x = keras.layers.Concatenate()([keras.layers.Dense(16, activation="relu")(t) for t in inputs])
    x = MCDropout(rate)(x)
    x = MCDropout(rate)(keras.layers.Dense(16, activation="relu")(x))
    outputs = [
        keras.layers.Dense(n, activation=head_activation, dtype="float32", name=f"task_{t}")(x)
        for t, n in enumerate(classes)
    ]
    return keras.Model(inputs, outputs)


def view(member, input_order=(0, 1), output_order=(0, 1), input_names=None, output_names=None):
    """A model sharing `small_member` `member`'s layers whose input `k` is the member's input
    `input_order[k]` and output `k` its output `output_order[k]`, under the same names
    (`modality_i`, `task_t`) unless `input_names` or `output_names` are given."""
    input_names = input_names or [f"modality_{i}" for i in input_order]
    output_names = output_names or [f"task_{t}" for t in output_order]
    inputs = [keras.Input((6,), name=name) for name in input_names]
    outputs = member([inputs[list(input_order).index(i)] for i in range(2)])
    return keras.Model(inputs, [
        keras.layers.Identity(name=name)(outputs[t]) for name, t in zip(output_names, output_order)
    ])


def small_data(n=48, seed=0):
    rng = np.random.default_rng(seed)
    xs = [rng.normal(size=(n, 6)).astype("float32") for _ in range(2)]
    labels = [rng.integers(0, c, n) for c in CLASSES]
    return xs, [np.eye(c, dtype="float32")[y] for c, y in zip(CLASSES, labels)], labels


def member_weights(member):
    return [keras.ops.convert_to_numpy(w).copy() for w in member.trainable_weights]


@pytest.fixture(scope="module")
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


# Construction ----------------------------------------------------------------------------


def test_builder_makes_independent_members_and_a_list_is_kept():
    ensemble = MCDropoutEnsemble(small_member, num_members=3)
    assert ensemble.num_members == 3 and len({id(m) for m in ensemble.members}) == 3
    assert all(isinstance(m, keras.Model) for m in ensemble.members)
    first = [member_weights(m)[0] for m in ensemble.members]
    assert not np.allclose(first[0], first[1]) and not np.allclose(first[1], first[2])
    a, b = small_member(), small_member()
    assert MCDropoutEnsemble([a, b]).members[1] is b
    assert MCDropoutEnsemble([a, b]).output_names == ["task_0", "task_1"]


def test_loss_is_the_sum_of_member_losses():
    """In training, `compute_loss` sums each member's loss on its own predictions."""
    ensemble = MCDropoutEnsemble(small_member, num_members=2)
    ensemble.compile(loss=["categorical_crossentropy"] * 2, loss_weights=[0.5, 0.5])
    xs, ys, _ = small_data(n=8)
    crossentropy = keras.losses.CategoricalCrossentropy()
    # A training call returns the mean (one structure always) and keeps the members' own
    # predictions for the loss of this step.
    mean = ensemble(xs, training=True)
    per_member = [[keras.ops.convert_to_numpy(p) for p in m] for m in ensemble._member_outputs]
    assert len(per_member) == 2
    expected = sum(
        0.5 * float(crossentropy(y, p)) for preds in per_member for y, p in zip(ys, preds)
    )
    total = ensemble.compute_loss(xs, ys, mean, training=True)
    assert float(total) == pytest.approx(expected, rel=1e-5)
    # The members' predictions are used once: on the mean prediction (evaluation), the
    # loss is the ensemble's own.
    mean = [keras.ops.convert_to_numpy(p) for p in ensemble(xs)]
    expected_mean = sum(0.5 * float(crossentropy(y, p)) for y, p in zip(ys, mean))
    assert expected_mean != pytest.approx(expected, rel=1e-3)
    assert float(ensemble.compute_loss(xs, ys, mean, training=False)) == pytest.approx(
        expected_mean, rel=1e-5
    )


# Training and prediction -----------------------------------------------------------------


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


# predict_uncertainty ---------------------------------------------------------------------


@pytest.mark.compiled
def test_predict_uncertainty_shapes_and_summaries(trained):
    ensemble, _, _ = trained
    xs, _, labels = small_data(n=7, seed=2)
    result = ensemble.predict_uncertainty(
        xs, num_samples=5, batch_size=3, samples_per_call=2, return_samples=True, seed=0,
        verbose=0,
    )
    assert list(result) == ["task_0", "task_1"]
    for task, classes in zip(result, CLASSES):
        r = result[task]
        samples = r["samples"]
        assert samples.shape == (3, 5, 7, classes) and samples.dtype == np.float32
        np.testing.assert_allclose(samples.sum(-1), 1.0, atol=1e-5)
        summary = uncertainty.summarize_samples(samples)
        for key, value in summary.items():
            np.testing.assert_allclose(r[key], value)
        assert r["mean"].shape == (7, classes) and r["predicted_class"].shape == (7,)
        # Dropout is on: samples of one member differ, within a call and across calls.
        assert not np.allclose(samples[0, 0], samples[0, 1])
        assert not np.allclose(samples[0, 0], samples[0, 4])
        assert np.all(r["mutual_information"] > 0) and np.all(r["std"].max(-1) > 0)
    report = uncertainty.uncertainty_report(result, labels)
    assert report["task_0"]["examples"] == 7


@pytest.mark.compiled
def test_predict_uncertainty_is_reproducible_with_a_seed_and_varies_without(trained):
    ensemble, _, _ = trained
    xs, _, _ = small_data(n=5, seed=3)
    member = ensemble.members[0]
    states = [keras.ops.convert_to_numpy(l.seed_generator.state) for l in mc_dropout_layers(member)]

    def draw(seed):
        return ensemble.predict_uncertainty(
            xs, num_samples=4, seed=seed, return_samples=True, verbose=0
        )["task_1"]["samples"]

    np.testing.assert_array_equal(draw(11), draw(11))
    assert not np.allclose(draw(11), draw(12))
    assert not np.allclose(draw(None), draw(None))
    # Sampling leaves the members as it found them: seeds restored, dropout off again.
    for layer, state in zip(mc_dropout_layers(member), states):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer.seed_generator.state), state)
        assert not layer.sampling
    first, second = member.predict(xs, verbose=0), member.predict(xs, verbose=0)
    np.testing.assert_array_equal(first[0], second[0])


def test_members_of_one_architecture_share_one_compiled_copy(trained, monkeypatch):
    ensemble, _, _ = trained
    xs, _, _ = small_data(n=5, seed=4)
    cache = ensemble._sampling_cache
    cache.clear()
    shared = ensemble.predict_uncertainty(xs, num_samples=3, seed=5, return_samples=True, verbose=0)
    assert len(cache._splits) == 1  # one prefix (and sampler) for the three members
    # Sampling every member through its own prefix and sampler gives the same samples.
    monkeypatch.setattr(ensemble_module, "_architecture_key", id)
    cache.clear()
    separate = ensemble.predict_uncertainty(
        xs, num_samples=3, seed=5, return_samples=True, verbose=0
    )
    assert len(cache._splits) == 3
    for task in shared:
        np.testing.assert_allclose(
            shared[task]["samples"], separate[task]["samples"], rtol=1e-5, atol=1e-6
        )
    cache.clear()


def test_architecture_key_ignores_layer_names_only():
    a, b = small_member(), small_member()  # Keras numbers the layer names of the second
    assert [l.name for l in a.layers] != [l.name for l in b.layers]
    assert ensemble_module._architecture_key(a) == ensemble_module._architecture_key(b)
    assert ensemble_module._architecture_key(a) != ensemble_module._architecture_key(
        small_member(rate=0.3)
    )


def test_predict_uncertainty_accepts_dicts_and_mixed_precision():
    keras.config.set_dtype_policy("mixed_float16")
    ensemble = MCDropoutEnsemble(small_member, num_members=2)
    ensemble.compile(run_eagerly=RUN_EAGERLY)
    xs, _, _ = small_data(n=4)
    result = ensemble.predict_uncertainty(
        {"modality_0": xs[0], "modality_1": xs[1]}, num_samples=3, seed=1, verbose=0,
        return_samples=True,
    )
    np.testing.assert_allclose(result["task_0"]["samples"].sum(-1), 1.0, atol=1e-3)
    listed = ensemble.predict_uncertainty(xs, num_samples=3, seed=1, verbose=0)
    np.testing.assert_array_equal(listed["task_0"]["mean"], result["task_0"]["mean"])


# DRIFA-Net: the reused prefix ------------------------------------------------------------


@pytest.fixture(scope="module")
def drifa_ensemble():
    """One tiny DRIFA-Net member; batches of 2 and 2 samples keep JAX's eager op cache warm."""
    keras.utils.set_random_seed(3)
    ensemble = MCDropoutEnsemble([tiny_model()])
    # Eager sampling functions: compiling a DRIFA-Net costs minutes on TensorFlow and JAX.
    ensemble.compile(run_eagerly=keras.backend.backend() != "torch")
    return ensemble


def test_drifa_prefix_ends_before_the_first_mc_dropout(drifa_ensemble):
    member = drifa_ensemble.members[0]
    prefix, suffix = split_at_mc_dropout(member)
    # The boundary: each branch's first RRA block, whose output feeds the first MC dropout.
    assert sorted(t._keras_history.operation.name for t in prefix.outputs) == [
        "modality_0_block1", "modality_1_block1"
    ]
    stem = ("stem_conv", "stem_mfa", "stem_bn", "stem_relu", "stem_pool", "block1")
    assert sorted(layer.name for layer in prefix.layers) == sorted(
        [f"modality_{m}" for m in range(2)] + [f"modality_{m}_{n}" for m in range(2) for n in stem]
    )
    assert not mc_dropout_layers(prefix)
    assert {layer.name for layer in mc_dropout_layers(suffix)} == {
        layer.name for layer in mc_dropout_layers(member)
    }
    # Prefix then suffix is the member (deterministic inference).
    xs, _ = batch(member, 2)
    for a, b in zip(suffix(prefix(xs)), member(xs)):
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b), rtol=1e-5, atol=1e-6
        )


def test_reused_prefix_samples_equal_the_full_member_with_the_same_masks(drifa_ensemble):
    """Exact equivalence, not a distributional one.

    `predict_uncertainty` seeds every call from `np.random.default_rng(seed)` and runs the
    suffix on the prefix features repeated `samples_per_call` times. Running the whole
    member, under `mc_sampling`, on the inputs repeated the same way with the same seeds
    draws the same dropout masks (same layers, same shapes, same seed states; on PyTorch
    the same global generator seed), so every sample must match up to float rounding.
    """
    member = drifa_ensemble.members[0]
    xs, _ = batch(member, 2)
    num_samples = 2
    fast = drifa_ensemble.predict_uncertainty(
        xs, num_samples=num_samples, samples_per_call=num_samples, seed=21,
        return_samples=True, verbose=0,
    )
    _reseed(mc_dropout_layers(member), np.random.default_rng(21))
    with keras_drifa.mc_sampling(member):
        full = member([np.tile(x, (num_samples, 1, 1, 1)) for x in xs])
    deterministic = member(xs)
    for task, expected, plain in zip(fast, full, deterministic):
        samples = fast[task]["samples"]
        assert samples.shape == (1, num_samples, 2, int(plain.shape[-1]))
        expected = keras.ops.convert_to_numpy(expected).reshape(samples.shape[1:])
        np.testing.assert_allclose(samples[0], expected, rtol=1e-5, atol=1e-6)
        # The masks really drop units: samples differ from inference and from each other.
        assert not np.allclose(samples[0, 0], keras.ops.convert_to_numpy(plain), atol=1e-4)
        assert not np.allclose(samples[0, 0], samples[0, 1], atol=1e-4)


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


def test_get_config_round_trips(drifa_ensemble):
    config = drifa_ensemble.get_config()
    clone = MCDropoutEnsemble.from_config(config)
    assert clone.num_members == 1
    assert clone.get_config() == config
    assert clone.members[0].get_config() == drifa_ensemble.members[0].get_config()


# Bad input -------------------------------------------------------------------------------


def test_construction_errors():
    member = small_member()
    with pytest.raises(ValueError, match="`num_members` must be an integer >= 1; received "):
        MCDropoutEnsemble(small_member, num_members=0)
    with pytest.raises(ValueError, match="`num_members` is required with a builder"):
        MCDropoutEnsemble(small_member)
    with pytest.raises(ValueError, match="`num_members`=3 but `members` lists 2 models"):
        MCDropoutEnsemble([member, small_member()], num_members=3)
    with pytest.raises(ValueError, match=r"is a single model .*\(`\[model\]` for one\)"):
        MCDropoutEnsemble(member)
    with pytest.raises(ValueError, match="member 0 is a str; expected a keras.Model"):
        MCDropoutEnsemble(lambda: "model", num_members=2)
    with pytest.raises(ValueError, match="the same model object appears more than once"):
        MCDropoutEnsemble([member, member])
    with pytest.raises(ValueError, match="`members` is an empty list"):
        MCDropoutEnsemble([])


def test_members_without_mc_dropout_are_rejected():
    inputs = keras.Input((6,))
    plain = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(inputs), name="plain")
    with pytest.raises(ValueError, match="member 0 \\('plain'\\) has no MCDropout layer with "
                                         "rate > 0, so Monte Carlo sampling would be "
                                         "deterministic"):
        MCDropoutEnsemble([plain])
    with pytest.raises(ValueError, match="member 1 .* sampling would be deterministic"):
        MCDropoutEnsemble([small_member(), small_member(rate=0.0)])

    class Subclassed(keras.Model):
        def __init__(self):
            super().__init__(name="subclassed")
            self.dropout = MCDropout(0.5)

        def call(self, x):
            return self.dropout(x)

    with pytest.raises(ValueError, match="member 0 \\('subclassed'\\) is not a built functional"):
        MCDropoutEnsemble([Subclassed()])


def test_mismatched_members_are_rejected():
    with pytest.raises(ValueError, match=r"member 1 .* has input shapes \[\(5,\), \(5,\)\] but "
                                         r"member 0 has \[\(6,\), \(6,\)\]"):
        MCDropoutEnsemble([small_member(), small_member(input_dim=5)])
    with pytest.raises(ValueError, match=r"member 1 .* has output shapes \[\(3,\), \(5,\)\] but "
                                         r"member 0 has \[\(3,\), \(4,\)\]"):
        MCDropoutEnsemble([small_member(), small_member(classes=(3, 5))])


@pytest.mark.parametrize(
    "input_order, output_order", [((1, 0), (0, 1)), ((0, 1), (1, 0)), ((1, 0), (1, 0))],
    ids=["inputs_swapped", "outputs_swapped", "both_swapped"],
)
def test_members_are_matched_by_input_and_output_names(input_order, output_order):
    """A member listing the same names in another order counts as the same member."""
    first, shared = small_member(), small_member()
    ordered = MCDropoutEnsemble([first, view(shared)])
    reordered = MCDropoutEnsemble([first, view(shared, input_order, output_order)])
    assert reordered.output_names == ["task_0", "task_1"]
    xs, _, _ = small_data(n=5, seed=6)
    for a, b in zip(ordered(xs), reordered(xs)):
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b), rtol=1e-6, atol=1e-7
        )
    by_name = reordered({"modality_1": xs[1], "modality_0": xs[0]})
    np.testing.assert_allclose(keras.ops.convert_to_numpy(by_name[1]),
                               keras.ops.convert_to_numpy(ordered(xs)[1]), rtol=1e-6, atol=1e-7)
    # Monte Carlo samples too: the same layers, seeds and masks give the same samples.
    results = []
    for ensemble in (ordered, reordered):
        ensemble.compile(run_eagerly=RUN_EAGERLY)
        results.append(ensemble.predict_uncertainty(
            xs, num_samples=3, seed=2, return_samples=True, verbose=0
        ))
    for task, classes in zip(("task_0", "task_1"), CLASSES):
        samples = results[1][task]["samples"]
        assert samples.shape == (2, 3, 5, classes)
        np.testing.assert_allclose(samples, results[0][task]["samples"], rtol=1e-6, atol=1e-7)
        assert not np.allclose(samples[1, 0], samples[1, 1])  # dropout was on


def test_members_with_other_names_are_rejected():
    first = small_member()
    with pytest.raises(ValueError, match=r"member 1 \('.*'\) has the input names \['image', "
                                         r"'modality_1'\] but member 0 has \['modality_0', "
                                         r"'modality_1'\]; members are matched by input name"):
        MCDropoutEnsemble([first, view(small_member(), input_names=["image", "modality_1"])])
    with pytest.raises(ValueError, match=r"member 2 .* has the output names \['diagnosis', "
                                         r"'task_1'\] but member 0 has \['task_0', 'task_1'\]"):
        MCDropoutEnsemble([first, small_member(),
                           view(small_member(), output_names=["diagnosis", "task_1"])])


def test_predict_uncertainty_errors():
    ensemble = MCDropoutEnsemble(small_member, num_members=1)
    ensemble.compile(run_eagerly=RUN_EAGERLY)
    xs, _, _ = small_data(n=4)
    for arg, value in (("num_samples", 0), ("batch_size", 0), ("samples_per_call", -1)):
        with pytest.raises(ValueError, match=f"`{arg}` must be an integer >= 1; received {arg}="):
            ensemble.predict_uncertainty(xs, **{arg: value})
    with pytest.raises(ValueError, match="`seed` must be None or an integer >= 0; received "
                                         "seed=-1"):
        ensemble.predict_uncertainty(xs, seed=-1)
    with pytest.raises(ValueError, match=r"`x` has 1 array\(s\); expected 2, one per input"):
        ensemble.predict_uncertainty(xs[0])
    with pytest.raises(ValueError,
                       match=r"input 'modality_1' has shape \(4, 5\); expected \('batch', 6\)"):
        ensemble.predict_uncertainty([xs[0], xs[1][:, :5]])
    with pytest.raises(ValueError, match="different batch sizes .*'modality_1': 3"):
        ensemble.predict_uncertainty([xs[0], xs[1][:3]])
    with pytest.raises(ValueError, match="`x` has the keys \\['a', 'modality_1'\\]"):
        ensemble.predict_uncertainty({"a": xs[0], "modality_1": xs[1]})
    with pytest.raises(ValueError, match="`x` is an empty batch"):
        ensemble.predict_uncertainty([x[:0] for x in xs])
    with pytest.raises(ValueError, match=r"input 'modality_0' has shape \(6,\)"):
        ensemble.predict_uncertainty([[0.0] * 6, xs[1]])
    with pytest.raises(ValueError, match="input 'modality_0' has 1 NaN or infinite value"):
        ensemble.predict_uncertainty([np.where(np.arange(24).reshape(4, 6) == 3, np.nan, xs[0]),
                                      xs[1]])
    logits = MCDropoutEnsemble([small_member(head_activation=None)])
    logits.compile(run_eagerly=RUN_EAGERLY)
    with pytest.raises(ValueError, match=r"output .task_0. must be class probabilities \(softmax\)"):
        logits.predict_uncertainty(xs, num_samples=2, verbose=0)


def test_numpy_num_members_is_an_integer():
    ensemble = MCDropoutEnsemble(small_member, num_members=np.int64(2))
    assert ensemble.num_members == 2
    assert MCDropoutEnsemble(ensemble.members, num_members=np.int32(2)).num_members == 2


def test_predict_uncertainty_refuses_samples_beyond_the_memory_share():
    ensemble = MCDropoutEnsemble(small_member, num_members=2)
    ensemble.compile(run_eagerly=RUN_EAGERLY)
    xs, _, _ = small_data(n=4)
    # 2 members x 10^7 samples x 4 examples x (3 + 4) classes x 4 bytes = 2.1 GiB on 1 GiB.
    from keras_drifa import _memory

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_memory, "physical_memory", lambda: 2**30)
        with pytest.raises(ValueError, match=r"predict_uncertainty: 2 members x 10000000 samples x "
                           r"4 examples x 7 classes of float32 samples would take 2.1 GiB, more "
                           r"than 50% of this machine's 1.0 GiB of memory; pass fewer num_samples"):
            ensemble.predict_uncertainty(xs, num_samples=10**7, verbose=0)
        result = ensemble.predict_uncertainty(xs, num_samples=2, verbose=0, allow_large=True)
    assert result["task_0"]["mean"].shape == (4, 3)


def test_predict_uncertainty_refuses_a_data_set_saying_what_to_pass():
    from keras_drifa.data import MultimodalDataset

    ensemble = MCDropoutEnsemble(small_member, num_members=1)
    xs, ys, _ = small_data(n=4)
    dataset = MultimodalDataset({"modality_0": xs[0], "modality_1": xs[1]},
                                {"task_0": ys[0], "task_1": ys[1]}, batch_size=2)
    with pytest.raises(ValueError, match=r"predict_uncertainty: `x` is a MultimodalDataset, a "
                       r"stream of batches; expected the input arrays themselves"):
        ensemble.predict_uncertainty(dataset)
