"""Argument checks shared by the public API: one rule per kind of argument, one clear error.

Every public function validates its integers, seeds, switches, numbers, choices, names,
paths, model inputs and tasks here, so `np.int64(3)` is accepted wherever `3` is, `True`
is never a number nor `1` a bool, and every argument error reads
"{where}: `{name}` must be {expected}; received {name}={value!r}." (`fail`), naming the
entry point the user called, the argument, what was expected and the value received.
Each check returns the value in its canonical Python type. Checks of one module's own
structures (layer shapes, `build_model`'s modalities and tasks) live with that module and
use these for every generic rule.
"""

import codecs
import math
import numbers
import os
from collections.abc import Iterable, Mapping, Sequence
import warnings

import keras
import numpy as np

# Softmax outputs sum to one only up to rounding (float16 heads lose ~1e-3).
PROBABILITY_SUM_TOLERANCE = 1e-3


def is_int(value):
    """Python and NumPy integers; not bools."""
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def is_number(value):
    """Python and NumPy reals (integers and floats); not bools."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def fail(where, name, expected, value):
    """Raises the one `ValueError` every check raises:
    "{where}: `{name}` must be {expected}; received {name}={value!r}."."""
    raise ValueError(f"{where}: `{name}` must be {expected}; received {name}={value!r}.")


def integer(where, name, value, minimum=None, maximum=None, *, allow_none=False):
    """`value` as an `int` in [`minimum`, `maximum`] (either may be `None`: unbounded);
    `None` passes through where `allow_none`."""
    if value is None and allow_none:
        return None
    if not is_int(value) or (minimum is not None and value < minimum) or (
        maximum is not None and value > maximum
    ):
        if minimum is not None and maximum is not None:
            expected = f"an integer from {minimum} to {maximum}"
        elif minimum is not None:
            expected = f"an integer >= {minimum}"
        elif maximum is not None:
            expected = f"an integer <= {maximum}"
        else:
            expected = "an integer"
        fail(where, name, f"None or {expected}" if allow_none else expected, value)
    return int(value)


def positive_int(where, name, value, minimum=1, *, allow_none=False):
    """`value` as an `int` >= `minimum`, or a `ValueError` naming `where` and `name`."""
    return integer(where, name, value, minimum=minimum, allow_none=allow_none)


def boolean(where, name, value, *, allow_none=False, none_means=None, allow_01=False):
    """`value` as a `bool`: `True`, `False` or a NumPy bool; `"no"`, `0` and `None` are errors
    (a string is always truthy, so `use_mfa="False"` would silently mean `True`).

    `allow_none`: `None` passes through (`none_means` says what it means, for the message);
    `allow_01`: the integers 0 and 1 pass too (as `verbose=0`).
    """
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if value is None and allow_none:
        return None
    if allow_01 and is_int(value) and value in (0, 1):
        return bool(value)
    expected = "True, False or None" if allow_none else "True or False"
    if allow_none and none_means:
        expected += f" ({none_means})"
    if allow_01:
        expected += " (or 1 or 0)"
    fail(where, name, expected, value)


def verbose(where, value):
    """The `verbose` switch of the loaders: 1 (or True) shows a progress bar, 0 is silent."""
    return int(boolean(where, "verbose", value, allow_01=True))


def number(where, name, value, low=None, high=None, *, open_low=False, open_high=False):
    """`value` as a finite `float` in the interval from `low` to `high` (either may be
    `None`: unbounded; `open_*`: that end excluded), or a `ValueError` naming the interval.
    Bools, strings, NaN and infinities are refused."""
    if low is not None and high is not None:
        interval = f" in {'(' if open_low else '['}{low:g}, {high:g}{')' if open_high else ']'}"
    elif low is not None:
        interval = f" {'>' if open_low else '>='} {low:g}"
    elif high is not None:
        interval = f" {'<' if open_high else '<='} {high:g}"
    else:
        interval = ""
    # Compared as the float returned: NumPy compares np.float32(0.24) >= 0.24 in float32.
    as_float = math.nan
    if is_number(value):
        try:
            as_float = float(value)
        except OverflowError:  # a Python int beyond the float range
            pass
    inside = (
        math.isfinite(as_float)
        and (low is None or (as_float > low if open_low else as_float >= low))
        and (high is None or (as_float < high if open_high else as_float <= high))
    )
    if not inside:
        # A bounded interval already excludes NaN and infinities; an open-ended one says so.
        unbounded = low is None or high is None
        nonfinite = unbounded and is_number(value) and not math.isfinite(as_float)
        fail(where, name, f"a number{interval}" + (", not NaN or infinite" if nonfinite else ""),
             value)
    return as_float


def seed(where, value, name="seed", *, allow_none=True):
    """The library's seed convention: an integer >= 0, or `None` (a fresh draw each call)
    where `allow_none`."""
    if value is None and allow_none:
        return None
    if not is_int(value) or value < 0:
        fail(where, name, "None or an integer >= 0" if allow_none else "an integer >= 0", value)
    return int(value)


def choice(where, name, value, options):
    """One of `options` (strings)."""
    if not isinstance(value, str) or value not in options:
        fail(where, name, f"one of {tuple(options)}", value)
    return value


def text(where, name, value):
    """A non-empty string."""
    if not isinstance(value, str) or not value:
        fail(where, name, "a non-empty string", value)
    return value


def names(where, name, value, what="names"):
    """A list or tuple of distinct, non-empty strings, in order -> a list."""
    if (
        not isinstance(value, (list, tuple))
        or not all(isinstance(v, str) and v for v in value)
        or len(set(value)) != len(value)
    ):
        fail(where, name, f"a list of distinct {what} (non-empty strings, in label order)", value)
    return list(value)


def path(where, name, value):
    """A file system path (str, bytes or os.PathLike) -> str."""
    if not isinstance(value, (str, bytes, os.PathLike)) or not os.fspath(value):
        fail(where, name, "a path (a str or pathlib.Path)", value)
    return os.fsdecode(value)


def encoding(where, value, name="encoding"):
    """A text encoding Python knows, such as "utf-8" or "latin-1"."""
    expected = "a text encoding Python knows, such as 'utf-8' or 'latin-1'"
    if not isinstance(value, str) or not value:
        fail(where, name, expected, value)
    try:
        codecs.lookup(value)
    except LookupError:
        fail(where, name, expected, value)
    return value


def fractions(where, val_fraction, test_fraction):
    """The validation and test fractions of a split: each in [0, 1), together below 1."""
    val_fraction = number(where, "val_fraction", val_fraction, 0, 1, open_high=True)
    test_fraction = number(where, "test_fraction", test_fraction, 0, 1, open_high=True)
    if val_fraction + test_fraction >= 1:
        # The value received is the sum as written, so that both parts show.
        raise ValueError(
            f"{where}: `val_fraction + test_fraction` must be below 1 to leave training "
            f"data; received val_fraction + test_fraction={val_fraction!r} + {test_fraction!r}."
        )
    return val_fraction, test_fraction


def channels(where, value, allow_none=False, name="channels"):
    """1 (grayscale) or 3 (RGB); `None` passes when allowed."""
    if value is None and allow_none:
        return None
    if not is_int(value) or value not in (1, 3):
        fail(where, name, f"{'None, ' if allow_none else ''}1 (grayscale) or 3 (RGB)", value)
    return int(value)


def image_size(where, value, minimum=1, allow_none=False, name="image_size"):
    """`size` or `(height, width)` -> `(height, width)`; `None` passes when allowed."""
    if value is None and allow_none:
        return None
    pair = (value, value) if is_int(value) else value
    if (
        not isinstance(pair, (list, tuple))
        or len(pair) != 2
        or not all(is_int(v) and v >= minimum for v in pair)
    ):
        fail(
            where, name,
            f"an integer or (height, width) of integers >= {minimum}"
            f"{' or None' if allow_none else ''}",
            value,
        )
    return int(pair[0]), int(pair[1])


def shard(where, value, name="shard"):
    """`None`, or `(index, count)`: integers with count >= 1 and 0 <= index < count -> a tuple."""
    if value is None:
        return None
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        fail(
            where, name,
            "None or (index, count), this worker's index and the number of workers", value,
        )
    index, count = value
    if not is_int(count) or count < 1:
        fail(where, name, "(index, count) with the count an integer >= 1", tuple(value))
    if not is_int(index) or not 0 <= index < count:
        fail(
            where, name, f"(index, count) with the index an integer from 0 to {count - 1}",
            tuple(value),
        )
    return int(index), int(count)


# More bins than this leave nearly every bin empty, and the per-bin arrays would be large.
MAX_NUM_BINS = 100_000


def num_bins(where, value, name="num_bins"):
    """The number of equal-width confidence bins: an integer from 1 to `MAX_NUM_BINS`."""
    value = positive_int(where, name, value)
    if value > MAX_NUM_BINS:
        fail(
            where, name,
            f"at most {MAX_NUM_BINS:,} (calibration is usually measured with 10 to 20 bins)",
            value,
        )
    return value


def task_index(where, task, tasks):
    """The output index of `task`, given as an index or an output name."""
    if isinstance(task, str):
        if task not in tasks:
            fail(where, "task", f"one of the outputs {tasks}", task)
        return tasks.index(task)
    if not is_int(task) or not 0 <= task < len(tasks):
        fail(where, "task", f"an output name in {tasks} or an index from 0 to {len(tasks) - 1}",
             task)
    return int(task)


def input_arrays(where, x, names, shapes, dtypes, arg="x"):
    """`x` (one array, a list in input order or a dict by input name) as a list of arrays.

    Checks the count or the names, that every entry is a numeric array whose shape matches
    `(batch,) + shape` (`None` in `shapes`: any size), that all entries have one batch size
    of at least one, and that no value is NaN or infinite. Warns when an input looks like
    0-255 pixels (no negative value, some above 1.5). Returns the arrays cast to `dtypes`.
    """
    names = list(names)
    _not_a_stream(where, x, names, arg)
    if isinstance(x, dict):
        if set(x) != set(names):
            raise ValueError(
                f"{where}: `{arg}` has the keys {sorted(x, key=str)}; expected one array per "
                f"input {names}."
            )
        x = [x[name] for name in names]
    elif isinstance(x, (list, tuple)):
        x = list(x)
    else:
        x = [x]
    if len(x) != len(names):
        raise ValueError(
            f"{where}: `{arg}` has {len(x)} array(s); expected {len(names)}, one per input "
            f"{names}, as a list in that order or a dict."
        )
    arrays = []
    for name, value, shape, dtype in zip(names, x, shapes, dtypes):
        array = _to_numpy(value)
        expected = ("batch",) + tuple("any" if d is None else d for d in shape)
        if array.ndim != len(shape) + 1 or any(
            d is not None and d != a for d, a in zip(shape, array.shape[1:])
        ):
            raise ValueError(
                f"{where}: input '{name}' has shape {array.shape}; expected {expected}."
            )
        if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
            raise ValueError(
                f"{where}: input '{name}' has dtype {array.dtype}; expected numbers."
            )
        if np.issubdtype(array.dtype, np.inexact) and not np.isfinite(array).all():
            bad = int(np.sum(~np.isfinite(array)))
            raise ValueError(
                f"{where}: input '{name}' has {bad} NaN or infinite value(s); expected finite "
                "pixels (a NaN spreads through every feature map and every gradient)."
            )
        if array.size and float(array.min()) >= 0 and float(array.max()) > 1.5:
            warnings.warn(
                f"{where}: input '{name}' has values up to {float(array.max()):g}; "
                "keras-drifa models expect pixels scaled to [0, 1]. If these are 0-255 "
                "images, divide them by 255.",
                UserWarning,
                stacklevel=3,
            )
        arrays.append(array.astype(dtype, copy=False))
    sizes = {a.shape[0] for a in arrays}
    if len(sizes) != 1:
        raise ValueError(
            f"{where}: the inputs have different batch sizes "
            f"{dict(zip(names, [a.shape[0] for a in arrays]))}; expected one."
        )
    if 0 in sizes:
        raise ValueError(f"{where}: `{arg}` is an empty batch; expected at least one example.")
    return arrays


def _not_a_stream(where, x, names, arg):
    """Refuses data sets, generators and iterators, which would otherwise be read as one
    array: these functions need all of `x` in memory, as arrays."""
    if isinstance(x, (np.ndarray, Sequence, Mapping)) or hasattr(x, "__array__"):
        return
    # Generators, tf.data data sets and torch DataLoaders are iterables, not arrays.
    if isinstance(x, (keras.utils.PyDataset, Iterable)):
        raise ValueError(
            f"{where}: `{arg}` is a {type(x).__name__}, a stream of batches; expected the "
            f"input arrays themselves, one per input {names} (a list in that order or a "
            "dict), e.g. the arrays the data set was built from, or np.concatenate of the "
            "batches' inputs."
        )


def probabilities(fn, arg, probs, *, min_rank=2, max_rank=None):
    """Validated float64 copy of `probs`: classes last, in [0, 1], summing to one."""
    try:
        array = np.asarray(probs, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"{fn}: `{arg}` must be an array of probabilities; could not convert "
            f"{type(probs).__name__}: {error}"
        ) from None
    shape_hint = (
        "(..., num_examples, num_classes)" if max_rank is None else "(num_examples, num_classes)"
    )
    if array.ndim < min_rank or (max_rank is not None and array.ndim > max_rank):
        advice = (
            "; average Monte Carlo samples over their axes first"
            if max_rank is not None and array.ndim > max_rank
            else ""
        )
        raise ValueError(
            f"{fn}: `{arg}` has shape {array.shape} (rank {array.ndim}); expected "
            f"{shape_hint}{advice}."
        )
    if array.size == 0:
        raise ValueError(
            f"{fn}: `{arg}` has shape {array.shape}; expected at least one example and one "
            "class" + (" (and at least one sample on every sample axis)." if array.ndim > 2 else ".")
        )
    if not np.all(np.isfinite(array)):
        index = tuple(int(i) for i in np.argwhere(~np.isfinite(array))[0])
        raise ValueError(
            f"{fn}: `{arg}` contains a non-finite value {array[index]} at index {index}; "
            "expected probabilities."
        )
    low, high = array.min(), array.max()
    if low < -PROBABILITY_SUM_TOLERANCE or high > 1 + PROBABILITY_SUM_TOLERANCE:
        bad = low if low < -PROBABILITY_SUM_TOLERANCE else high
        index = tuple(int(i) for i in np.argwhere(array == bad)[0])
        raise ValueError(
            f"{fn}: `{arg}` has value {bad:.6g} at index {index}; expected probabilities in "
            "[0, 1] (pass softmax outputs, not logits)."
        )
    sums = array.sum(axis=-1)
    error = np.abs(sums - 1.0)
    if error.max() > PROBABILITY_SUM_TOLERANCE:
        index = tuple(int(i) for i in np.unravel_index(np.argmax(error), sums.shape))
        raise ValueError(
            f"{fn}: the probabilities in `{arg}` must sum to one over the last (class) axis; "
            f"the row at index {index} sums to {sums[index]:.6g} (tolerance "
            f"{PROBABILITY_SUM_TOLERANCE:g}). Pass softmax outputs, with classes on the last axis."
        )
    return array


def class_labels(fn, labels, num_examples, num_classes):
    """Integer class indices `(num_examples,)` from integer or one-hot labels."""
    try:
        array = np.asarray(labels)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{fn}: `labels` could not be converted to an array: {error}") from None
    expected = (
        f"integer class indices ({num_examples},) or one-hot ({num_examples}, {num_classes})"
    )
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise ValueError(f"{fn}: `labels` has dtype {array.dtype}; expected {expected}.")
    if array.shape == (num_examples, num_classes) and num_classes > 1:
        one_hot_rows = np.all((array == 0) | (array == 1), axis=-1) & (array.sum(axis=-1) == 1)
        if not np.all(one_hot_rows):
            row = int(np.argmin(one_hot_rows))
            raise ValueError(
                f"{fn}: `labels` has shape {array.shape} but is not one-hot (row {row} is "
                f"{array[row].tolist()}); expected {expected}."
            )
        return np.argmax(array, axis=-1)
    if array.shape == (num_examples, 1):
        array = array[:, 0]
    if array.shape != (num_examples,):
        raise ValueError(
            f"{fn}: `labels` has shape {array.shape}; expected {expected} to match the "
            "probabilities."
        )
    if not np.all(np.isfinite(array)) or not np.all(array == np.round(array)):
        index = int(np.argmax(~np.isfinite(array) | (array != np.round(array))))
        raise ValueError(
            f"{fn}: `labels` has the non-integer value {array[index]} at index {index}; "
            f"expected {expected}."
        )
    out_of_range = (array < 0) | (array >= num_classes)
    if np.any(out_of_range):
        index = int(np.argmax(out_of_range))
        raise ValueError(
            f"{fn}: `labels` has the value {array[index]} at index {index}, out of range for "
            f"{num_classes} classes; expected class indices in [0, {num_classes - 1}]."
        )
    return array.astype(np.int64)


def probabilities_and_labels(fn, probs, labels):
    """Validated `(num_examples, num_classes)` probabilities and integer labels."""
    probs = probabilities(fn, "probs", probs, max_rank=2)
    return probs, class_labels(fn, labels, *probs.shape)


def example_scores(fn, arg, scores, num_examples):
    """One finite float64 score per example, `(num_examples,)`."""
    try:
        scores = np.asarray(scores, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{fn}: `{arg}` must be an array of numbers: {error}") from None
    if scores.shape != (num_examples,):
        raise ValueError(
            f"{fn}: `{arg}` has shape {scores.shape}; expected ({num_examples},), one score "
            "per example."
        )
    if not np.all(np.isfinite(scores)):
        index = int(np.argmax(~np.isfinite(scores)))
        raise ValueError(
            f"{fn}: `{arg}` has the non-finite value {scores[index]} at index {index}."
        )
    return scores


def task_labels(fn, labels, task_names):
    """`{task: labels}` from one array (one task), a list in task order or a dict."""
    if isinstance(labels, Mapping):
        if set(labels) != set(task_names):
            raise ValueError(
                f"{fn}: `labels` has the tasks {sorted(labels)}; expected the tasks of "
                f"`predictions` {task_names}."
            )
        return dict(labels)
    if len(task_names) == 1:
        return {task_names[0]: labels}
    if not isinstance(labels, Sequence) or isinstance(labels, str) or len(labels) != len(
        task_names
    ):
        count = len(labels) if isinstance(labels, Sequence) else "not a list of"
        raise ValueError(
            f"{fn}: `predictions` has {len(task_names)} tasks {task_names} but `labels` has "
            f"{count} entries; expected one label array per task, as a list or a dict."
        )
    return dict(zip(task_names, labels))


def logits(fn, logits):
    """Validated float64 logits `(num_examples, num_classes)`, finite, two classes or more."""
    try:
        array = np.asarray(logits, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"{fn}: `logits` must be an array of numbers; could not convert "
            f"{type(logits).__name__}: {error}"
        ) from None
    if array.ndim != 2 or array.shape[0] < 1 or array.shape[1] < 2:
        raise ValueError(
            f"{fn}: `logits` has shape {array.shape}; expected (num_examples, num_classes) "
            "with at least one example and two classes."
        )
    if not np.all(np.isfinite(array)):
        index = tuple(int(i) for i in np.argwhere(~np.isfinite(array))[0])
        raise ValueError(
            f"{fn}: `logits` contains a non-finite value {array[index]} at index {index}."
        )
    return array


def _to_numpy(value):
    if keras.ops.is_tensor(value):
        return keras.ops.convert_to_numpy(value)
    return np.asarray(value)
