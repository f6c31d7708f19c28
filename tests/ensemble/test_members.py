"""keras_drifa.ensemble.members: building the members, checking them, matching them by name."""

import keras
import numpy as np
import pytest
from drifa_testing import RUN_EAGERLY
from ensemble_testing import CLASSES, member_weights, small_data, small_member, view

from keras_drifa.ensemble import MCDropoutEnsemble
from keras_drifa.ensemble.members import architecture_key
from keras_drifa.layers import MCDropout


def test_builder_makes_independent_members_and_a_list_is_kept():
    ensemble = MCDropoutEnsemble(small_member, num_members=3)
    assert ensemble.num_members == 3 and len({id(m) for m in ensemble.members}) == 3
    assert all(isinstance(m, keras.Model) for m in ensemble.members)
    first = [member_weights(m)[0] for m in ensemble.members]
    assert not np.allclose(first[0], first[1]) and not np.allclose(first[1], first[2])
    a, b = small_member(), small_member()
    assert MCDropoutEnsemble([a, b]).members[1] is b
    assert MCDropoutEnsemble([a, b]).output_names == ["task_0", "task_1"]


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
    with pytest.raises(ValueError, match=r"`members` must be a non-empty list of models.*; received members=\[\]"):
        MCDropoutEnsemble([])


def test_numpy_num_members_is_an_integer():
    ensemble = MCDropoutEnsemble(small_member, num_members=np.int64(2))
    assert ensemble.num_members == 2
    assert MCDropoutEnsemble(ensemble.members, num_members=np.int32(2)).num_members == 2


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


def test_architecture_key_ignores_layer_names_only():
    a, b = small_member(), small_member()  # Keras numbers the layer names of the second
    assert [l.name for l in a.layers] != [l.name for l in b.layers]
    assert architecture_key(a) == architecture_key(b)
    assert architecture_key(a) != architecture_key(small_member(rate=0.3))


def test_architecture_key_reads_dropout_and_initializer_seeds_as_seeded():
    """Seeds set the first values of seed states and weights, which the compiled member step
    takes as inputs: members seeded apart share it. Seeded and unseeded members do not
    (PyTorch draws unseeded masks from its global generator)."""
    seeded = architecture_key(small_member(seed=10))
    assert architecture_key(small_member(seed=20)) == seeded
    assert architecture_key(small_member()) != seeded
    assert architecture_key(small_member(rate=0.3, seed=20)) != seeded
