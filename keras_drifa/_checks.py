"""Argument checks shared by the public API: one rule per kind of argument, one clear error.

Every public function that takes an integer, a seed, model inputs or a task validates it
here, so `np.int64(3)` is accepted wherever `3` is, `True` is never a number, and the error
names the function, the argument, the value received and what was expected.
"""

import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
import warnings

import keras
import numpy as np

# Softmax outputs sum to one only up to rounding (float16 heads lose ~1e-3).
PROBABILITY_SUM_TOLERANCE = 1e-3


def is_int(value):
    """Python and NumPy integers; not bools."""
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def positive_int(where, name, value, minimum=1):
    """`value` as an `int` >= `minimum`, or a `ValueError` naming `where` and `name`."""
    if not is_int(value) or value < minimum:
        raise ValueError(
            f"{where}: `{name}` must be an integer >= {minimum}; received {name}={value!r}."
        )
    return int(value)


def boolean(where, name, value):
    """`value` as a `bool`: `True`, `False` or a NumPy bool; `"no"`, `0` and `None` are errors
    (a string is always truthy, so `use_mfa="False"` would silently mean `True`)."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(
            f"{where}: `{name}` must be True or False; received {name}={value!r}."
        )
    return bool(value)


def number(where, name, value, low=None, high=None, *, open_low=False, open_high=False):
    """`value` as a `float` in the interval from `low` to `high` (either may be `None`:
    unbounded; `open_*`: that end excluded), or a `ValueError` naming the interval. Bools,
    strings and NaN are refused."""
    interval = (
        f"in {'(' if open_low else '['}{low:g}, {high:g}{')' if open_high else ']'}"
        if low is not None and high is not None
        else f"{'>' if open_low else '>='} {low:g}" if low is not None
        else f"{'<' if open_high else '<='} {high:g}"
    )
    # Compared as the float returned: NumPy compares np.float32(0.24) >= 0.24 in float32.
    as_float = math.nan
    if isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)):
        try:
            as_float = float(value)
        except OverflowError:  # a Python int beyond the float range
            pass
    inside = (
        not math.isnan(as_float)
        and (low is None or (as_float > low if open_low else as_float >= low))
        and (high is None or (as_float < high if open_high else as_float <= high))
    )
    if not inside:
        raise ValueError(
            f"{where}: `{name}` must be a number {interval}; received {name}={value!r}."
        )
    return as_float


def seed(where, value, name="seed"):
    """The library's seed convention: `None` (a fresh draw each call) or an integer >= 0."""
    if value is None:
        return None
    if not is_int(value) or value < 0:
        raise ValueError(
            f"{where}: `{name}` must be None or an integer >= 0; received {name}={value!r}."
        )
    return int(value)


def task_index(where, task, tasks):
    """The output index of `task`, given as an index or an output name."""
    if isinstance(task, str):
        if task not in tasks:
            raise ValueError(f"{where}: task {task!r} is not an output; expected one of {tasks}.")
        return tasks.index(task)
    if not is_int(task) or not 0 <= task < len(tasks):
        raise ValueError(
            f"{where}: task {task!r} is out of range; expected a name in {tasks} or an "
            f"index 0 <= task < {len(tasks)}."
        )
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
