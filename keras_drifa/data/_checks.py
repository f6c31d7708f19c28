"""Argument checks shared by the data functions: one clear `ValueError` per mistake.

Every check takes `where` (the public function or class, for the message) and the
argument's name, and returns the value in its canonical Python type. NumPy scalars are
accepted wherever the matching Python type is (`np.int64(3)` as an int, `np.float32(0.1)`
as a number); `True` and `False` are never accepted as numbers, and numbers are never
accepted as `True` and `False` (except where documented, as `verbose=0` and `1`).
"""

import codecs
import math
import os

import numpy as np

from keras_drifa._checks import is_int  # noqa: F401 (one rule for integers, re-exported)


def is_number(value):
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )


def integer(where, name, value, minimum=None, maximum=None):
    """An int (or NumPy integer) in [minimum, maximum]; bools and floats are refused."""
    if not is_int(value) or (minimum is not None and value < minimum) or (
        maximum is not None and value > maximum
    ):
        if maximum is None:
            expected = f"an integer >= {minimum}" if minimum is not None else "an integer"
        else:
            expected = f"an integer from {minimum} to {maximum}"
        raise ValueError(f"{where}: {name} must be {expected}; received {value!r}.")
    return int(value)


def positive_int(where, name, value):
    return integer(where, name, value, minimum=1)


def seed(where, value):
    return integer(where, "seed", value, minimum=0)


def number(where, name, value, minimum=None, below=None):
    """A finite int or float (or NumPy number) >= minimum and < below; returns a float."""
    if (
        not is_number(value)
        or not math.isfinite(value)
        or (minimum is not None and not value >= minimum)
        or (below is not None and not value < below)
    ):
        if minimum is not None and below is not None:
            expected = f"a number in [{minimum}, {below})"
        elif minimum is not None:
            expected = f"a finite number >= {minimum}"
        else:
            expected = "a finite number"
        raise ValueError(f"{where}: {name} must be {expected}; received {value!r}.")
    return float(value)


def fractions(where, val_fraction, test_fraction):
    """The validation and test fractions of a split: each in [0, 1), together below 1."""
    val_fraction = number(where, "val_fraction", val_fraction, minimum=0, below=1)
    test_fraction = number(where, "test_fraction", test_fraction, minimum=0, below=1)
    if val_fraction + test_fraction >= 1:
        raise ValueError(
            f"{where}: val_fraction + test_fraction must be below 1 to leave training "
            f"data; received {val_fraction} + {test_fraction}."
        )
    return val_fraction, test_fraction


def boolean(where, name, value, allow_01=False):
    """`True` or `False` (or a NumPy bool); with `allow_01`, also the integers 0 and 1."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if allow_01 and is_int(value) and value in (0, 1):
        return bool(value)
    expected = "True or False" + (" (or 1 or 0)" if allow_01 else "")
    raise ValueError(f"{where}: {name} must be {expected}; received {value!r}.")


def verbose(where, value):
    """The `verbose` switch of the loaders: 1 (or True) shows a progress bar, 0 is silent."""
    return int(boolean(where, "verbose", value, allow_01=True))


def channels(where, value, allow_none=False):
    """1 (grayscale) or 3 (RGB); `None` passes when allowed."""
    if value is None and allow_none:
        return None
    if not is_int(value) or value not in (1, 3):
        raise ValueError(
            f"{where}: channels must be {'None, ' if allow_none else ''}1 (grayscale) or 3 "
            f"(RGB); received {value!r}."
        )
    return int(value)


def image_size(where, value, minimum=1, allow_none=False):
    """`size` or `(height, width)` -> `(height, width)`; `None` passes when allowed."""
    if value is None and allow_none:
        return None
    if is_int(value):
        value = (value, value)
    if (
        not isinstance(value, (list, tuple))
        or len(value) != 2
        or not all(is_int(v) and v >= minimum for v in value)
    ):
        raise ValueError(
            f"{where}: image_size must be an integer or (height, width) of integers >= "
            f"{minimum}{' or None' if allow_none else ''}; received {value!r}."
        )
    return int(value[0]), int(value[1])


def shard(where, value):
    """`None`, or `(index, count)`: integers with count >= 1 and 0 <= index < count -> a tuple."""
    if value is None:
        return None
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ValueError(
            f"{where}: shard must be None or (index, count), this worker's index and the "
            f"number of workers; received {value!r}."
        )
    received = f"shard={tuple(value)!r}"
    count = integer(where, f"the count in {received}", value[1], minimum=1)
    index = integer(where, f"the index in {received}", value[0], minimum=0, maximum=count - 1)
    return index, count


def choice(where, name, value, options):
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{where}: {name} must be one of {options}; received {value!r}.")
    return value


def text(where, name, value):
    """A non-empty string."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"{where}: {name} must be a non-empty string; received {value!r}.")
    return value


def names(where, name, value, what="names"):
    """A list or tuple of distinct, non-empty strings, in order -> a list."""
    if (
        not isinstance(value, (list, tuple))
        or not all(isinstance(v, str) and v for v in value)
        or len(set(value)) != len(value)
    ):
        raise ValueError(
            f"{where}: {name} must be a list of distinct {what} (non-empty strings, in "
            f"label order); received {value!r}."
        )
    return list(value)


def path(where, name, value):
    """A file system path (str, bytes or os.PathLike) -> str."""
    if not isinstance(value, (str, bytes, os.PathLike)) or not os.fspath(value):
        raise ValueError(
            f"{where}: {name} must be a path (a str or pathlib.Path); received {value!r}."
        )
    return os.fsdecode(value)


def encoding(where, value):
    """A text encoding Python knows, such as "utf-8" or "latin-1"."""
    try:
        codecs.lookup(text(where, "encoding", value))
    except LookupError:
        raise ValueError(
            f"{where}: encoding must be a text encoding such as 'utf-8' or 'latin-1'; "
            f"received {value!r}, which Python does not know."
        ) from None
    return value
