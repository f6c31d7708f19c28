"""keras_drifa.ood: every score and measure against an independent implementation, a closed
form or a hand-worked case; the model helpers on two small models."""

import keras
import numpy as np
import pytest
from sklearn.metrics import roc_auc_score, roc_curve

import keras_drifa
from keras_drifa import ood, referral, uncertainty


def _tied_scores(seed, n_in=40, n_out=30):
    """Scores on a coarse grid (many ties), the shifted ones somewhat higher."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 6, n_in) / 5, rng.integers(2, 8, n_out) / 5


# --- scores ---------------------------------------------------------------------------


def test_msp_and_entropy_match_uncertainty_and_referral():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(4), size=20)
    samples = rng.dirichlet(np.ones(4), size=(3, 5, 20))
    np.testing.assert_allclose(ood.msp(probs), 1 - probs.max(axis=1))
    np.testing.assert_allclose(ood.msp(samples), referral.score(samples, "max_softmax"))
    np.testing.assert_allclose(ood.entropy(probs), -(probs * np.log(probs)).sum(1))
    np.testing.assert_allclose(ood.entropy(samples), uncertainty.predictive_entropy(samples))
    np.testing.assert_allclose(
        ood.mutual_information(samples), uncertainty.mutual_information(samples)
    )


def test_max_logit_and_energy_by_hand():
    logits = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0], [1000.0, 1000.0, -1000.0]])
    assert ood.max_logit(logits).tolist() == [-3.0, -0.0, -1000.0]
    expected = [-np.log(np.e + np.e**2 + np.e**3), -np.log(3), -(1000 + np.log(2))]
    np.testing.assert_allclose(ood.energy(logits), expected, rtol=1e-12)
    # -T log sum exp(z / T), T = 2.
    np.testing.assert_allclose(
        ood.energy(logits[:1], temperature=2.0), [-2 * np.log(np.exp([0.5, 1, 1.5]).sum())]
    )


def test_ood_scores_computes_what_the_inputs_allow():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(6, 3))
    softmax = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    samples = rng.dirichlet(np.ones(3), size=(4, 6))
    from_logits = ood.ood_scores(logits=logits)
    assert list(from_logits) == ["msp", "entropy", "max_logit", "energy"]
    np.testing.assert_allclose(from_logits["msp"], 1 - softmax.max(1))
    np.testing.assert_allclose(from_logits["energy"], -np.log(np.exp(logits).sum(1)))
    everything = ood.ood_scores(probs=softmax, logits=logits, samples=samples)
    assert list(everything) == list(ood.SCORES)
    np.testing.assert_allclose(everything["entropy"], uncertainty.predictive_entropy(softmax))
    from_samples = ood.ood_scores(samples=samples)
    assert list(from_samples) == ["msp", "entropy", "mutual_information"]
    np.testing.assert_allclose(from_samples["msp"], 1 - samples.mean(0).max(1))
    assert all(s.shape == (6,) for s in everything.values())


# --- detection measures ---------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_detection_auroc_matches_sklearn_with_ties(seed):
    scores_in, scores_out = _tied_scores(seed)
    labels = np.r_[np.zeros(len(scores_in)), np.ones(len(scores_out))]
    expected = roc_auc_score(labels, np.r_[scores_in, scores_out])
    assert ood.detection_auroc(scores_in, scores_out) == pytest.approx(expected, abs=1e-12)


def test_detection_auroc_closed_forms():
    assert ood.detection_auroc([0.0, 0.1], [0.5, 0.9]) == 1.0
    assert ood.detection_auroc([0.5, 0.9], [0.0, 0.1]) == 0.0
    assert ood.detection_auroc([0.3] * 4, [0.3] * 3) == 0.5  # all tied: one half each
    # Pairs (in, out): (1, 2) wins, (3, 2) loses, (1, 3) wins, (3, 3) ties: 2.5 / 4.
    assert ood.detection_auroc([1, 3], [2, 3]) == 0.625


def test_fpr_at_tpr_by_hand():
    scores_in = [0.1, 0.2, 0.3, 0.4, 0.5]
    scores_out = [0.35, 0.45, 0.6, 0.7]
    # 3 of 4 shifted flagged needs t = 0.45, which flags the in-distribution 0.5 only.
    assert ood.fpr_at_tpr(scores_in, scores_out, tpr=0.75) == 0.2
    # 95% of 4 is 3.8: all 4 must be flagged, t = 0.35, flagging 0.4 and 0.5.
    assert ood.fpr_at_tpr(scores_in, scores_out) == 0.4
    assert ood.fpr_at_tpr(scores_in, scores_out, tpr=0.25) == 0.0  # t = 0.7
    # In-distribution scores tied with the threshold count as flagged.
    assert ood.fpr_at_tpr([0.5, 0.5, 0.1, 0.1], [0.5, 0.9]) == 0.5
    # 0.95 * 20 = 19 (not 19.000000000000004): 19 of the 20 shifted ones, t = 1.
    assert ood.fpr_at_tpr([1.0, 0.0], np.r_[0.0, np.ones(19)]) == 0.5


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("tpr", [0.5, 0.8, 0.95, 1.0])
def test_fpr_at_tpr_is_the_first_roc_point_reaching_tpr(seed, tpr):
    scores_in, scores_out = _tied_scores(seed)
    labels = np.r_[np.zeros(len(scores_in)), np.ones(len(scores_out))]
    fpr, tprs, _ = roc_curve(labels, np.r_[scores_in, scores_out], drop_intermediate=False)
    expected = fpr[np.argmax(tprs >= tpr - 1e-12)]
    assert ood.fpr_at_tpr(scores_in, scores_out, tpr) == pytest.approx(expected, abs=1e-12)


def test_detection_table():
    rng = np.random.default_rng(3)
    scores_in = {"msp": rng.random(50), "energy": rng.random(50) - 0.5}
    scores_out = {"msp": rng.random(40) + 0.2, "energy": rng.random(40)}
    table = ood.detection_table(scores_in, scores_out)
    assert list(table) == ["msp", "energy"]
    for name in table:
        assert table[name]["auroc"] == ood.detection_auroc(scores_in[name], scores_out[name])
        assert table[name]["fpr_at_tpr"] == ood.fpr_at_tpr(scores_in[name], scores_out[name])
    assert table["msp"]["auroc_change"] == 0.0
    assert table["energy"]["auroc_change"] == pytest.approx(
        table["energy"]["auroc"] - table["msp"]["auroc"]
    )
    assert table["energy"]["fpr_change"] == pytest.approx(
        table["energy"]["fpr_at_tpr"] - table["msp"]["fpr_at_tpr"]
    )
    lines = str(table).splitlines()
    assert lines[0].split() == ["score", "AUROC", "FPR95", "AUROC", "vs", "msp", "FPR95", "vs",
                                "msp"]
    assert len({len(line) for line in lines}) == 1 and lines[1].startswith("msp ")
    assert f"{table['energy']['auroc']:.4f}" in lines[2]
    plain = ood.detection_table(scores_in, scores_out, tpr=0.9, baseline=None)
    assert plain["energy"]["auroc_change"] is None
    assert str(plain).splitlines()[0].split() == ["score", "AUROC", "FPR@90%TPR"]


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: ood.detection_auroc([[0.1, 0.2]], [0.3]),
         r"detection_auroc: `scores_in` has shape \(1, 2\); expected \(num_examples,\)"),
        (lambda: ood.detection_auroc([0.1], []),
         r"detection_auroc: `scores_out` has shape \(0,\); expected \(num_examples,\)"),
        (lambda: ood.detection_auroc([0.1, np.nan], [0.3]),
         r"detection_auroc: `scores_in` has the non-finite value nan at index 1"),
        (lambda: ood.fpr_at_tpr([0.1], [0.3], tpr=0),
         r"fpr_at_tpr: `tpr` must be a number in \(0, 1\]; received tpr=0"),
        (lambda: ood.fpr_at_tpr([0.1], [0.3], tpr=1.5), r"`tpr` must be a number in \(0, 1\]"),
        (lambda: ood.max_logit([1.0, 2.0]),
         r"max_logit: `logits` has shape \(2,\); expected \(num_examples, num_classes\)"),
        (lambda: ood.energy([[1.0, np.inf]]),
         r"energy: `logits` contains a non-finite value inf at index \(0, 1\)"),
        (lambda: ood.energy([[1.0, 2.0]], temperature=0),
         r"energy: `temperature` must be a number > 0; received temperature=0"),
        (lambda: ood.mutual_information(np.full((3, 2), 0.5)),
         r"mutual_information: `samples` has shape \(3, 2\); expected Monte Carlo samples"),
        (lambda: ood.msp([[0.5, 0.7]]), r"msp: the probabilities in `probs` must sum to one"),
        (lambda: ood.ood_scores(), r"ood_scores: expected at least one of `probs`, `logits`"),
        (lambda: ood.ood_scores(probs=np.full((3, 2), 0.5), logits=np.zeros((4, 2))),
         r"ood_scores: the predictions have different \(num_examples, num_classes\)"),
        (lambda: ood.ood_scores(samples=np.full((3, 2), 0.5)),
         r"ood_scores: `samples` has shape \(3, 2\) \(rank 2\); expected"),
        (lambda: ood.detection_table({"msp": [0.1]}, {"energy": [0.2]}),
         r"detection_table: `scores_in` has the scores \['msp'\] and `scores_out` \['energy'\]"),
        (lambda: ood.detection_table({"energy": [0.1]}, {"energy": [0.2]}),
         r"detection_table: the baseline 'msp' is not among the scores \['energy'\]"),
        (lambda: ood.detection_table([0.1], [0.2]),
         r"detection_table: `scores_in` must be a non-empty dict"),
    ],
)
def test_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# --- Keras models ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_drifa():
    keras.utils.set_random_seed(0)
    return keras_drifa.build_model(
        modalities=2, input_shape=(16, 16, 3), num_classes=(3, 2), widths=(4, 8),
        blocks_per_stage=(1, 1),
    )


@pytest.fixture(scope="module")
def leans_on_a():
    """Two inputs, one softmax head that reads both but whose weights for `b` are zero."""
    a, b = keras.Input((2, 2, 1), name="a"), keras.Input((3,), name="b")
    features = keras.layers.Concatenate()([keras.layers.Flatten()(a), b])
    head = keras.layers.Dense(3, activation="softmax", name="task")
    model = keras.Model([a, b], head(features))
    kernel = np.random.default_rng(0).normal(size=(7, 3)).astype("float32") * 3
    kernel[4:] = 0.0
    head.set_weights([kernel, np.array([0.5, -0.5, 0.0], "float32")])
    return model


def test_predict_logits_of_drifa_net(tiny_drifa):
    rng = np.random.default_rng(0)
    x = [rng.random((6, 16, 16, 3), dtype=np.float32) for _ in range(2)]
    logits = ood.predict_logits(tiny_drifa, x, batch_size=4)
    probs = tiny_drifa.predict(x, verbose=0)
    assert list(logits) == tiny_drifa.output_names
    for task, p in zip(logits, probs):
        assert logits[task].shape == p.shape
        softmax = np.exp(logits[task]) / np.exp(logits[task]).sum(1, keepdims=True)
        np.testing.assert_allclose(softmax, p, atol=1e-5)


def test_predict_logits_by_hand(leans_on_a):
    rng = np.random.default_rng(1)
    x = {"a": rng.random((5, 2, 2, 1), dtype=np.float32), "b": rng.random((5, 3), np.float32)}
    kernel, bias = leans_on_a.get_layer("task").get_weights()
    expected = np.c_[x["a"].reshape(5, 4), x["b"]].astype(np.float64) @ kernel + bias
    np.testing.assert_allclose(ood.predict_logits(leans_on_a, x)["task"], expected, rtol=1e-6)


def test_modality_attribution(leans_on_a):
    rng = np.random.default_rng(2)
    x = [rng.random((8, 2, 2, 1), dtype=np.float32), rng.random((8, 3), np.float32)]
    scores = ood.modality_attribution(leans_on_a, x)["task"]
    assert list(scores) == ["a", "b"] and scores["a"].shape == (8,)
    np.testing.assert_allclose(scores["b"], 0.0, atol=1e-6)  # the head ignores b
    # By hand for a: the total variation distance to the prediction on the mean image.
    full = leans_on_a.predict(x, verbose=0)
    mean = np.broadcast_to(x[0].mean(0), x[0].shape)
    dropped = leans_on_a.predict([mean, x[1]], verbose=0)
    np.testing.assert_allclose(scores["a"], 0.5 * np.abs(full - dropped).sum(1), atol=1e-6)
    assert (scores["a"] > 0.01).all() and (scores["a"] <= 1).all()
    zeros = ood.modality_attribution(leans_on_a, x, fill=0.0)["task"]
    dropped = leans_on_a.predict([np.zeros_like(x[0]), x[1]], verbose=0)
    np.testing.assert_allclose(zeros["a"], 0.5 * np.abs(full - dropped).sum(1), atol=1e-6)
    given = ood.modality_attribution(leans_on_a, x, fill={"a": 0.0, "b": np.ones(3)})["task"]
    np.testing.assert_allclose(given["a"], zeros["a"], atol=1e-6)


def test_model_errors(leans_on_a):
    x = [np.zeros((2, 2, 2, 1), "float32"), np.zeros((2, 3), "float32")]
    inputs = keras.Input((3,), name="v")
    relu = keras.Model(inputs, keras.layers.Dense(2, activation="relu", name="out")(inputs))
    with pytest.raises(ValueError, match=r"predict_logits: output 'out' of model .* is computed "
                                         r"by Dense layer 'out'; expected a Dense\(\.\.\., "
                                         r"activation='softmax'\) head"):
        ood.predict_logits(relu, np.zeros((2, 3), "float32"))
    softmax = keras.Model(inputs, keras.layers.Softmax(name="p")(keras.layers.Dense(2)(inputs)))
    with pytest.raises(ValueError, match=r"computed by Softmax layer 'p'"):
        ood.predict_logits(softmax, np.zeros((2, 3), "float32"))
    with pytest.raises(ValueError, match=r"predict_logits: `model` must be a functional "
                                         r"keras.Model.*received int"):
        ood.predict_logits(3, x)
    with pytest.raises(ValueError, match=r"modality_attribution: input 'a' has shape \(2, 2, 2\)"):
        ood.modality_attribution(leans_on_a, [np.zeros((2, 2, 2)), x[1]])
    with pytest.raises(ValueError, match=r"modality_attribution: `fill` must be 'mean', a "
                                         r"finite number or \{modality: image\}; received "
                                         r"fill='median'"):
        ood.modality_attribution(leans_on_a, x, fill="median")
    with pytest.raises(ValueError, match=r"`fill` has the keys \['a'\]; expected one image per "
                                         r"modality \['a', 'b'\]"):
        ood.modality_attribution(leans_on_a, x, fill={"a": 0.0})
    with pytest.raises(ValueError, match=r"`fill` for modality 'b' has shape \(2,\); expected "
                                         r"an image broadcastable to \(3,\)"):
        ood.modality_attribution(leans_on_a, x, fill={"a": 0.0, "b": np.zeros(2)})
