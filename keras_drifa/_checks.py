"""Argument checks shared by the public API: one rule per kind of argument, one clear error.

Every public function that takes an integer, a seed, model inputs or a task validates it
here, so `np.int64(3)` is accepted wherever `3` is, `True` is never a number, and the error
names the function, the argument, the value received and what was expected.
"""

import numbers
import warnings

import keras
import numpy as np


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


def _to_numpy(value):
    if keras.ops.is_tensor(value):
        return keras.ops.convert_to_numpy(value)
    return np.asarray(value)
