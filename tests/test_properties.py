"""Property-based tests (hypothesis): every generated input gives a result or the
documented `ValueError`, never another exception, and every result keeps its invariants.

Covered: the argument checks (`keras_drifa._checks`), the uncertainty and calibration
measures (`keras_drifa.uncertainty`), the CSV manifest's label handling
(`keras_drifa.data.load_csv_manifest`) and the `ExpectedCalibrationError` metric in eager
execution. NumPy-level where possible, so the whole set stays within seconds per backend.
"""

import csv
import math
import re

import keras
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from keras_drifa import _checks, uncertainty
from keras_drifa.data import load_csv_manifest
from keras_drifa.metrics import ExpectedCalibrationError

# Few examples, no deadline (the first call on a backend compiles), and the conftest's
# autouse seed fixture is harmless across examples.
FAST = settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

# Anything a user might pass for a number, a flag or a seed.
ANYTHING = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-1000, 1000).map(np.int64),
    st.floats(-1e6, 1e6).map(np.float32),
    st.booleans().map(np.bool_),
    st.text(max_size=5),
    st.lists(st.integers(0, 3), max_size=3),
)


def _names(where, name, message):
    """The documented message names the function and the argument."""
    return message.startswith(f"{where}: ") and name in message


@FAST
@given(value=ANYTHING, minimum=st.integers(0, 3))
def test_positive_int_accepts_integers_at_or_above_the_minimum_only(value, minimum):
    try:
        result = _checks.positive_int("f", "count", value, minimum=minimum)
    except ValueError as error:
        assert _names("f", "`count`", str(error))
        assert not (_checks.is_int(value) and value >= minimum)
        return
    assert type(result) is int and result == value and result >= minimum
    assert not isinstance(value, (bool, np.bool_))


@FAST
@given(value=ANYTHING)
def test_boolean_accepts_true_and_false_only(value):
    try:
        result = _checks.boolean("f", "flag", value)
    except ValueError as error:
        assert _names("f", "`flag`", str(error))
        assert not isinstance(value, (bool, np.bool_))
        return
    assert type(result) is bool and result == bool(value)


@FAST
@given(
    value=ANYTHING,
    low=st.one_of(st.none(), st.floats(-10, 10)),
    high=st.one_of(st.none(), st.floats(-10, 10)),
    open_low=st.booleans(),
    open_high=st.booleans(),
)
def test_number_returns_a_float_inside_the_interval_or_refuses(value, low, high, open_low, open_high):
    assume(low is not None or high is not None)
    try:
        result = _checks.number("f", "rate", value, low, high, open_low=open_low, open_high=open_high)
    except ValueError as error:
        assert _names("f", "`rate`", str(error))
        return
    assert type(result) is float and not math.isnan(result)
    assert not isinstance(value, (bool, np.bool_, str))
    if low is not None:
        assert result > low if open_low else result >= low
    if high is not None:
        assert result < high if open_high else result <= high


@FAST
@given(value=ANYTHING)
def test_seed_is_none_or_a_non_negative_integer(value):
    try:
        result = _checks.seed("f", value)
    except ValueError as error:
        assert _names("f", "`seed`", str(error))
        return
    assert result is None if value is None else (type(result) is int and result >= 0)


# Probability-like arrays: ranks 0 to 4, a few entries per axis, any float (zeros, NaN,
# infinities, negative numbers and rows that do not sum to one included).
ANY_FLOATS = st.floats(allow_nan=True, allow_infinity=True, width=32)
ARRAYS = hnp.arrays(
    np.float64,
    hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4),
    elements=st.one_of(ANY_FLOATS, st.sampled_from([0.0, 1.0, 0.5, 0.25])),
)


@st.composite
def softmax_arrays(draw, min_dims=2, max_dims=4):
    """Valid probabilities: non-negative rows normalised to sum to one (zeros included)."""
    shape = draw(hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=4))
    raw = draw(hnp.arrays(np.float64, shape, elements=st.floats(0, 10)))
    raw[..., 0] += 1e-3  # no all-zero row
    return raw / raw.sum(axis=-1, keepdims=True)


# Inputs that are not arrays of numbers: text, ragged lists, None, dicts.
NOT_ARRAYS = st.one_of(
    st.none(),
    st.text(max_size=4),
    st.just([[0.5, 0.5], [1.0]]),
    st.just({"a": 1}),
    st.lists(st.text(max_size=2), min_size=1, max_size=3),
)


def _probabilities_invariants(result, probs):
    assert result.dtype == np.float64 and result.ndim >= 2
    assert np.all(np.isfinite(result))
    tolerance = _checks.PROBABILITY_SUM_TOLERANCE
    assert np.all(result >= -tolerance) and np.all(result <= 1 + tolerance)
    assert np.all(np.abs(result.sum(axis=-1) - 1) <= tolerance)


@FAST
@given(probs=st.one_of(ARRAYS, softmax_arrays(), NOT_ARRAYS))
def test_probabilities_check_returns_valid_probabilities_or_refuses(probs):
    try:
        result = _checks.probabilities("f", "probs", probs)
    except ValueError as error:
        assert _names("f", "probs", str(error))
        return
    _probabilities_invariants(result, probs)


MEASURES = {
    "predictive_entropy": uncertainty.predictive_entropy,
    "expected_entropy": uncertainty.expected_entropy,
    "mutual_information": uncertainty.mutual_information,
}


@FAST
@given(probs=st.one_of(ARRAYS, softmax_arrays(), NOT_ARRAYS))
def test_uncertainty_measures_answer_or_refuse_with_a_value_error(probs):
    """Zeros, NaN, infinities, rows that do not sum to one, wrong ranks, text: a
    `ValueError` naming the function; valid probabilities: entropies between 0 and
    log(classes), and the mutual information at most the predictive entropy."""
    results = {}
    for name, measure in MEASURES.items():
        try:
            results[name] = measure(probs)
        except ValueError as error:
            assert str(error).startswith(f"{name}: ")
    try:
        summary = uncertainty.summarize_samples(probs)
    except ValueError as error:
        assert str(error).startswith("summarize_samples: ")
        summary = None
    # All refuse or all answer: they share one check.
    assert len(results) in (0, len(MEASURES)) and (summary is None) == (not results)
    if not results:
        return
    classes = np.asarray(probs).shape[-1]
    bound = math.log(classes) + 1e-6
    for name, values in results.items():
        assert values.shape == (np.asarray(probs).shape[-2],)
        assert np.all(values >= -1e-9) and np.all(values <= bound), name
    assert np.all(results["mutual_information"] <= results["predictive_entropy"] + 1e-9)
    np.testing.assert_allclose(summary["predictive_entropy"], results["predictive_entropy"])


@FAST
@given(probs=softmax_arrays())
def test_valid_probabilities_are_always_accepted(probs):
    for measure in MEASURES.values():
        assert np.all(np.isfinite(measure(probs)))


LABELS = st.one_of(
    hnp.arrays(np.float64, hnp.array_shapes(min_dims=0, max_dims=3, max_side=5), elements=ANY_FLOATS),
    hnp.arrays(np.int64, hnp.array_shapes(min_dims=1, max_dims=2, max_side=5),
               elements=st.integers(-2, 5)),
    NOT_ARRAYS,
)


@st.composite
def probs_and_labels(draw):
    probs = draw(st.one_of(softmax_arrays(2, 2), ARRAYS))
    if draw(st.booleans()) and probs.ndim == 2 and probs.shape[-1] > 0:
        labels = draw(hnp.arrays(np.int64, probs.shape[0], elements=st.integers(0, probs.shape[-1] - 1)))
    else:
        labels = draw(LABELS)
    return probs, labels


CALIBRATION = {
    "expected_calibration_error": (uncertainty.expected_calibration_error, (0.0, 1.0)),
    "negative_log_likelihood": (uncertainty.negative_log_likelihood, (0.0, -math.log(1e-12))),
    "brier_score": (uncertainty.brier_score, (0.0, 2.0)),
}


@FAST
@given(data=probs_and_labels(), num_bins=st.integers(1, 20))
def test_calibration_measures_answer_in_range_or_refuse(data, num_bins):
    probs, labels = data
    for name, (measure, (low, high)) in CALIBRATION.items():
        try:
            if name == "expected_calibration_error":
                value = measure(probs, labels, num_bins=num_bins)
            else:
                value = measure(probs, labels)
        except ValueError as error:
            assert str(error).startswith(f"{name}: ")
            continue
        assert isinstance(value, float) and low - 1e-9 <= value <= high + 1e-9, (name, value)


@FAST
@given(num_bins=ANYTHING)
def test_expected_calibration_error_checks_num_bins(num_bins):
    probs = np.array([[0.9, 0.1], [0.2, 0.8]])
    try:
        value = uncertainty.expected_calibration_error(probs, [0, 1], num_bins=num_bins)
    except ValueError as error:
        assert "`num_bins`" in str(error)
        return
    assert _checks.is_int(num_bins) and num_bins >= 1 and 0 <= value <= 1


# --- the Keras metric, eagerly ------------------------------------------------------------

# Few distinct shapes: on JAX each new shape compiles the eager operations once.
METRIC_PROBS = st.one_of(
    softmax_arrays(2, 2).filter(lambda p: p.shape[-1] >= 2),
    hnp.arrays(np.float32, st.sampled_from([(3, 2), (3, 3), (2, 2, 2), (3,)]),
               elements=st.one_of(st.floats(-2, 2, width=32), st.just(np.nan))),
)


@st.composite
def metric_inputs(draw):
    probs = draw(METRIC_PROBS).astype(np.float32)
    n = probs.shape[0] if probs.ndim else 1
    classes = probs.shape[-1] if probs.ndim else 1
    kind = draw(st.sampled_from(["index", "one_hot", "any"]))
    if kind == "index":
        labels = draw(hnp.arrays(np.int64, n, elements=st.integers(-1, classes)))
    elif kind == "one_hot" and probs.ndim == 2:
        labels = np.eye(classes, dtype=np.float32)[draw(hnp.arrays(np.int64, n, elements=st.integers(0, classes - 1)))]
    else:
        labels = draw(hnp.arrays(np.float32, st.sampled_from([(n,), (n, 1), (n, 3), (2, 2, 2)]),
                                 elements=st.one_of(st.floats(-1, 4, width=32), st.just(np.nan))))
    return labels, probs


@settings(FAST, max_examples=25)
@given(data=metric_inputs())
def test_calibration_metric_eagerly_agrees_with_numpy_or_refuses(data):
    """Eager `update_state`: logits, NaN, labels outside the classes and wrong ranks raise
    a `ValueError` naming the metric; accepted batches give the NumPy function's ECE."""
    labels, probs = data
    metric = ExpectedCalibrationError(num_bins=10)
    try:
        metric.update_state(labels, probs)
    except ValueError as error:
        event("refused")
        assert str(error).startswith("ExpectedCalibrationError: ")
        return
    event("accepted")
    # Rows of one-hot shape count as their arg-max class (smoothed labels are accepted).
    one_hot_shaped = labels.ndim == 2 and labels.shape[1] == probs.shape[1] > 1
    indices = labels.argmax(-1) if one_hot_shaped else labels.reshape(-1)
    expected = uncertainty.expected_calibration_error(probs.astype(np.float64), indices, 10)
    assert float(keras.ops.convert_to_numpy(metric.result())) == pytest.approx(expected, abs=1e-5)


# --- the CSV manifest's labels ----------------------------------------------------------

# Labels as a spreadsheet holds them: class words in several spellings, numbers (with
# leading zeros and signs), surrounding spaces.
LABEL_TEXT = st.one_of(
    st.sampled_from(["mel", "Mel", "MEL", " mel ", "m el", "nv", "NV", "bcc", "akiec"]),
    st.integers(-3, 12).map(str),
    st.sampled_from(["01", "1.0", "+2", "2.5", "10"]),
    st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), min_size=1, max_size=4),
)
IMAGES = 6


@pytest.fixture(scope="module")
def image_dir(tmp_path_factory):
    from PIL import Image

    folder = tmp_path_factory.mktemp("csv_images")
    for i in range(IMAGES):
        Image.fromarray(np.full((4, 4, 3), 40 * i, np.uint8)).save(folder / f"img_{i}.png")
    return folder


def _expected_order(labels):
    names = set(labels)
    if all(re.fullmatch(r"[+-]?\d+(\.\d*)?", n) for n in names):
        return sorted(names, key=lambda n: (float(n), n))
    return sorted(names)


@settings(FAST, max_examples=30)
@given(labels=st.lists(LABEL_TEXT, min_size=IMAGES, max_size=IMAGES))
def test_csv_labels_load_in_their_order_or_are_refused(labels, image_dir, tmp_path_factory):
    """Every label list loads with numeric labels in numeric order and text in text order,
    each row under its own label, or is refused with a `ValueError` naming the manifest
    (an empty label, one label in several spellings)."""
    manifest = tmp_path_factory.mktemp("manifest") / "labels.csv"
    with open(manifest, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["image_id", "dx"])
        writer.writerows([f"img_{i}", label] for i, label in enumerate(labels))
    try:
        splits = load_csv_manifest(
            manifest, image_dir, image_size=None, val_fraction=0, test_fraction=0, verbose=0
        )
    except ValueError as error:
        event("refused")
        message = str(error)
        assert message.startswith("load_csv_manifest: ") and str(manifest) in message
        stripped = [label.strip() for label in labels]
        spellings = {" ".join(s.split()).casefold() for s in stripped}
        assert "" in stripped or len(spellings) < len(set(stripped)), message
        return
    event("loaded")
    stripped = [label.strip() for label in labels]
    assert list(splits.class_names) == _expected_order(stripped)
    train = splits.train
    loaded = {source.rsplit("/", 1)[-1]: splits.class_names[int(label)]
              for source, label in zip(train.sources, train.labels)}
    assert loaded == {f"img_{i}.png": label for i, label in enumerate(stripped)}
