"""keras_drifa/_checks.py: one rule per kind of argument, used across the public API."""

import json

import keras
import numpy as np
import pytest

import keras_drifa
from keras_drifa import _checks
from keras_drifa.layers import MFA


@pytest.mark.parametrize(
    "value, expected",
    [(3, True), (np.int64(3), True), (np.uint8(3), True), (True, False), (np.bool_(True), False),
     (3.0, False), ("3", False), (None, False)],
)
def test_is_int(value, expected):
    assert _checks.is_int(value) is expected


def test_positive_int_and_seed():
    assert _checks.positive_int("f", "n", np.int64(4)) == 4
    assert type(_checks.positive_int("f", "n", np.int64(4))) is int
    for bad in (0, -1, True, 2.0, "2"):
        with pytest.raises(ValueError, match=rf"f: `n` must be an integer >= 1; received n={bad!r}"):
            _checks.positive_int("f", "n", bad)
    assert _checks.seed("f", None) is None and _checks.seed("f", np.int32(7)) == 7
    with pytest.raises(ValueError, match=r"f: `seed` must be None or an integer >= 0; received seed=-1"):
        _checks.seed("f", -1)


def test_task_index():
    tasks = ["a", "b"]
    assert _checks.task_index("f", "b", tasks) == 1 and _checks.task_index("f", np.int64(0), tasks) == 0
    with pytest.raises(ValueError, match=r"f: task 'c' is not an output; expected one of \['a', 'b'\]"):
        _checks.task_index("f", "c", tasks)
    with pytest.raises(ValueError, match=r"f: task 2 is out of range"):
        _checks.task_index("f", 2, tasks)


def test_input_arrays_accepts_lists_dicts_and_one_array():
    a, b = np.zeros((2, 4, 4, 1)), np.ones((2, 3, 3, 2))
    shapes, dtypes = [(4, 4, 1), (None, None, 2)], ["float32", "float32"]
    from_list = _checks.input_arrays("f", [a, b], ["a", "b"], shapes, dtypes)
    from_dict = _checks.input_arrays("f", {"b": b, "a": a}, ["a", "b"], shapes, dtypes)
    for x, y in zip(from_list, from_dict):
        np.testing.assert_array_equal(x, y)
        assert x.dtype == np.float32
    (single,) = _checks.input_arrays("f", a, ["a"], shapes[:1], dtypes[:1])
    assert single.shape == (2, 4, 4, 1)


def test_input_arrays_refuses_what_would_give_wrong_numbers():
    a = np.zeros((2, 4, 4, 1), "float32")
    check = lambda x: _checks.input_arrays("f", x, ["a"], [(4, 4, 1)], ["float32"])  # noqa: E731
    with pytest.raises(ValueError, match=r"input 'a' has 1 NaN or infinite"):
        check(np.where(np.arange(32).reshape(a.shape) == 5, np.inf, a))
    with pytest.raises(ValueError, match=r"`x` is an empty batch"):
        check(a[:0])
    with pytest.raises(ValueError, match=r"input 'a' has shape \(2, 4, 4\); expected \('batch', 4, 4, 1\)"):
        check(a[..., 0])
    with pytest.warns(UserWarning, match=r"values up to 255.*divide them by 255"):
        check(a + 255)


def test_numpy_integers_are_accepted_and_stored_as_ints():
    layer = MFA(units=np.int64(8))
    assert layer.get_config()["units"] == 8 and type(layer.units) is int
    model = keras_drifa.build_model(
        np.int64(2), (np.int64(16), 16, 3), np.int64(3),
        widths=(np.int64(8), 16), blocks_per_stage=(1, np.int32(1)),
    )
    json.dumps(model.get_config())  # NumPy integers would not serialise
    assert model.output_shape == (None, 3)


def test_switches_take_booleans_only():
    assert _checks.boolean("f", "flag", np.bool_(False)) is False
    for bad in ("False", "no", 0, 1, None):
        with pytest.raises(ValueError, match=rf"f: `flag` must be True or False; received flag={bad!r}"):
            _checks.boolean("f", "flag", bad)
    # A string is truthy: "False" used to build the model *with* MFA.
    with pytest.raises(ValueError, match=r"build_model: `use_mfa` must be True, False or None \(the fusion's default\); received use_mfa='False'"):
        keras_drifa.build_model(2, (16, 16, 3), 3, widths=(8, 16), blocks_per_stage=(1, 1),
                                use_mfa="False")


@pytest.mark.parametrize("value,kwargs,message", [
    (0.0, dict(low=0, high=1, open_low=True), r"`x` must be a number in \(0, 1\]; received x=0.0"),
    (True, dict(low=0, high=1), r"in \[0, 1\]; received x=True"),
    ("0.5", dict(low=0, high=1), "received x='0.5'"),
    (float("nan"), dict(low=0), "must be a number >= 0"),
    (2, dict(high=1, open_high=True), "must be a number < 1"),
])
def test_number_names_the_interval(value, kwargs, message):
    with pytest.raises(ValueError, match=message):
        _checks.number("f", "x", value, **kwargs)


def test_number_accepts_numpy_numbers_and_returns_floats():
    assert _checks.number("f", "x", np.float32(0.5), 0, 1) == 0.5
    assert isinstance(_checks.number("f", "x", np.int64(1), 0, 1), float)


def test_input_arrays_refuse_data_sets_and_generators_saying_what_to_pass():
    from keras_drifa.data import MultimodalDataset

    x = np.zeros((4, 2, 2, 1), "float32")
    dataset = MultimodalDataset({"a": x}, {"t": np.eye(2)[[0, 1, 0, 1]]}, batch_size=2)
    for stream, kind in ((dataset, "MultimodalDataset"), ((b for b in [x]), "generator"),
                         (iter([x]), "list_iterator")):
        with pytest.raises(ValueError, match=rf"f: `x` is a {kind}, a stream of batches; expected "
                           r"the input arrays themselves, one per input \['a'\]"):
            _checks.input_arrays("f", stream, ["a"], [(2, 2, 1)], ["float32"])
    # Arrays, lists, dicts and backend tensors still pass.
    tensor = keras.ops.convert_to_tensor(x)
    for ok in (x, [x], {"a": x}, tensor):
        assert _checks.input_arrays("f", ok, ["a"], [(2, 2, 1)], ["float32"])[0].shape == x.shape
