"""Argument checks shared by the data functions: one clear `ValueError` per mistake."""

import numpy as np


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def positive_int(where, name, value):
    if not _is_int(value) or value < 1:
        raise ValueError(f"{where}: {name} must be an integer >= 1; received {value!r}.")
    return int(value)


def seed(where, value):
    if not _is_int(value) or value < 0:
        raise ValueError(f"{where}: seed must be an integer >= 0; received {value!r}.")
    return int(value)


def image_size(where, value, minimum=1, allow_none=False):
    """`size` or `(height, width)` -> `(height, width)`; `None` passes when allowed."""
    if value is None and allow_none:
        return None
    if _is_int(value):
        value = (value, value)
    if (
        not isinstance(value, (list, tuple))
        or len(value) != 2
        or not all(_is_int(v) and v >= minimum for v in value)
    ):
        raise ValueError(
            f"{where}: image_size must be an integer or (height, width) of integers >= "
            f"{minimum}{' or None' if allow_none else ''}; received {value!r}."
        )
    return int(value[0]), int(value[1])


def choice(where, name, value, options):
    if value not in options:
        raise ValueError(f"{where}: {name} must be one of {options}; received {value!r}.")
    return value
