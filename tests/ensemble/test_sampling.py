"""keras_drifa.ensemble.sampling: `predict_uncertainty`, its fast sampler and the prefix split.

DRIFA-Net itself (the tiny configuration) is used where its graph matters: where the
deterministic prefix ends and whether the reused-prefix samples equal the full model's.
Those run eagerly on TensorFlow and JAX (`run_eagerly=True`), because compiling a
DRIFA-Net takes minutes there.
"""

import keras
import numpy as np
import pytest
from drifa_testing import RUN_EAGERLY, batch
from ensemble_testing import CLASSES, small_data, small_member

import keras_drifa
from keras_drifa import uncertainty
from keras_drifa.ensemble import MCDropoutEnsemble, sampling, split_at_mc_dropout
from keras_drifa.mc_sampling import mc_dropout_layers



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
    monkeypatch.setattr(sampling, "architecture_key", id)
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
    sampling.reseed(mc_dropout_layers(member), np.random.default_rng(21))
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


# Bad input -------------------------------------------------------------------------------


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
