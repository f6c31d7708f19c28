"""Validation and normalisation of `build_model` arguments, one clear error per mistake."""

import re
from collections.abc import Mapping, Sequence

import numpy as np

from keras_drifa._checks import is_int as _is_int


# Names that are valid layer, tensor and module names on TensorFlow, JAX and PyTorch alike
# (PyTorch refuses "." in module names; TensorFlow refuses spaces and a leading "_" in
# the names of a traced function's inputs).
_PORTABLE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


def _check_names(kind, names):
    names = list(names)
    for n in names:
        if not isinstance(n, str) or not _PORTABLE_NAME.fullmatch(n):
            raise ValueError(
                f"build_model: {kind} names must start with a letter or digit and hold only "
                "letters, digits, '_' and '-' (names that work on every backend); received "
                f"{n!r} in {names}."
            )
    if len(set(names)) != len(names):
        raise ValueError(f"build_model: {kind} names must be unique; received {names}.")
    return names


def modality_names(modalities, names):
    """Returns the list of modality names from `modalities` (a count or names)."""
    if isinstance(modalities, (list, tuple)):
        if names is not None:
            raise ValueError(
                "build_model: modalities is already a list of names "
                f"{list(modalities)}; do not also pass modality_names={names!r}."
            )
        if not modalities:
            raise ValueError("build_model: modalities must name at least one modality; received [].")
        return _check_names("modality", modalities)
    if not _is_int(modalities) or modalities < 1:
        raise ValueError(
            f"build_model: modalities must be an integer >= 1 or a list of names; "
            f"received {modalities!r}."
        )
    if names is None:
        return [f"modality_{m}" for m in range(int(modalities))]
    if isinstance(names, str) or len(names) != modalities:
        raise ValueError(
            f"build_model: modality_names has {1 if isinstance(names, str) else len(names)} "
            f"entries {names!r}; expected {modalities}, one per modality."
        )
    return _check_names("modality", names)


def _check_shape(shape, which):
    if (
        not isinstance(shape, Sequence)
        or isinstance(shape, str)
        or len(shape) != 3
    ):
        dims = len(shape) if isinstance(shape, Sequence) and not isinstance(shape, str) else "no"
        raise ValueError(
            f"build_model: input_shape{which} has {dims} dimensions {shape!r}; expected "
            "(height, width, channels)."
        )
    height, width, channels = shape
    for dim_name, dim in (("height", height), ("width", width)):
        if dim is not None and (not _is_int(dim) or dim < 1):
            raise ValueError(
                f"build_model: input_shape{which} {tuple(shape)} has {dim_name}={dim!r}; "
                "expected a positive integer or None."
            )
    if not _is_int(channels) or channels < 1:
        raise ValueError(
            f"build_model: input_shape{which} {tuple(shape)} has channels={channels!r}; "
            "expected a positive integer."
        )
    return tuple(None if d is None else int(d) for d in shape)


def input_shapes(input_shape, names):
    """One `(height, width, channels)` tuple per modality."""
    is_nested = (
        isinstance(input_shape, Sequence)
        and not isinstance(input_shape, str)
        and len(input_shape) > 0
        and all(isinstance(s, Sequence) and not isinstance(s, str) for s in input_shape)
    )
    if not is_nested:
        shape = _check_shape(input_shape, "")
        return [shape] * len(names)
    if len(input_shape) != len(names):
        raise ValueError(
            f"build_model: input_shape lists {len(input_shape)} shapes {list(input_shape)}; "
            f"expected one shape for all modalities or {len(names)}, one per modality "
            f"{names}."
        )
    return [_check_shape(s, f" for modality {m}") for m, s in enumerate(input_shape)]


def tasks(num_classes, names):
    """A list of `(task_name, n_classes)` pairs, one per output head."""
    if isinstance(num_classes, Mapping):
        if names is not None:
            raise ValueError(
                "build_model: num_classes is a dict that already names the tasks "
                f"{list(num_classes)}; do not also pass task_names={names!r}."
            )
        names, counts = list(num_classes.keys()), list(num_classes.values())
        if not counts:
            raise ValueError("build_model: num_classes must define at least one task; received {}.")
    else:
        counts = [num_classes] if _is_int(num_classes) else num_classes
        if isinstance(counts, str) or not isinstance(counts, Sequence) or not counts:
            raise ValueError(
                "build_model: num_classes must be an int, a non-empty sequence of ints or a "
                f"dict {{task_name: n}}; received {num_classes!r}."
            )
        counts = list(counts)
        if names is None:
            names = [f"task_{t}" for t in range(len(counts))]
        elif isinstance(names, str) or len(names) != len(counts):
            raise ValueError(
                f"build_model: task_names has {1 if isinstance(names, str) else len(names)} "
                f"entries {names!r}; expected {len(counts)}, one per num_classes entry."
            )
    names = _check_names("task", names)
    for task, n in zip(names, counts):
        if not _is_int(n) or n < 2:
            raise ValueError(
                f"build_model: num_classes for task '{task}' is {n!r}; expected an integer >= 2."
            )
    return [(task, int(n)) for task, n in zip(names, counts)]


def stages(widths, blocks_per_stage):
    """Validated `(widths, blocks_per_stage)` as tuples of positive ints of equal length."""
    for arg, values in (("widths", widths), ("blocks_per_stage", blocks_per_stage)):
        if (
            isinstance(values, str)
            or not isinstance(values, Sequence)
            or not values
            or not all(_is_int(v) and v > 0 for v in values)
        ):
            raise ValueError(
                f"build_model: {arg} must be a non-empty sequence of positive integers; "
                f"received {arg}={values!r}."
            )
    if len(widths) != len(blocks_per_stage):
        raise ValueError(
            f"build_model: widths {tuple(widths)} has {len(widths)} stages but "
            f"blocks_per_stage {tuple(blocks_per_stage)} has {len(blocks_per_stage)}; "
            "expected one block count per stage."
        )
    return tuple(int(w) for w in widths), tuple(int(b) for b in blocks_per_stage)


def fusion_switches(fusion, fusions, use_mfa, use_mifa, use_block_mfa, drifa_backbone):
    """`(use_mfa, use_mifa, use_block_mfa)` as bools for `fusion`, or a clear error.

    The switches are DRIFA's ablations: unset (`None`) they are on for `fusion="drifa"`
    and off for every other fusion, whose branches are plain. Setting one on for another
    fusion, or the MFAs after the blocks without MFA, contradicts itself.
    """
    if not isinstance(fusion, str) or fusion not in fusions:
        raise ValueError(f"build_model: fusion must be one of {fusions}; received {fusion!r}.")
    switches = {"use_mfa": use_mfa, "use_mifa": use_mifa, "use_block_mfa": use_block_mfa}
    for arg, value in switches.items():
        if value is not None and not isinstance(value, (bool, np.bool_)):
            raise ValueError(
                f"build_model: `{arg}` must be True, False or None (the fusion's default); "
                f"received {arg}={value!r}."
            )
    if use_block_mfa is not None and not drifa_backbone:
        raise ValueError(
            f"build_model: use_block_mfa={use_block_mfa!r} shapes the 'drifa' backbone only "
            "(the MFAs after its RRA blocks); received it with another backbone."
        )
    if fusion != "drifa":
        for arg, value in switches.items():
            if value:
                raise ValueError(
                    f"build_model: {arg}=True switches on DRIFA attention, which only "
                    f"fusion='drifa' has; received it with fusion={fusion!r}, whose branches "
                    f"are plain ResNet branches. Leave {arg} unset or pass fusion='drifa'."
                )
        return False, False, False
    use_mfa = True if use_mfa is None else bool(use_mfa)
    use_mifa = True if use_mifa is None else bool(use_mifa)
    if use_block_mfa and not use_mfa:
        raise ValueError(
            "build_model: use_block_mfa=True asks for the MFAs after the RRA blocks, but "
            "use_mfa=False removes every MFA; received both. Leave use_block_mfa unset or "
            "pass use_mfa=True."
        )
    return use_mfa, use_mifa, use_mfa if use_block_mfa is None else bool(use_block_mfa)


def fusion_units(fusion, wide_fusions, units):
    """The fusion head's width: `None` (the branches' channels) or a positive integer."""
    if units is None:
        return None
    if fusion not in wide_fusions:
        raise ValueError(
            f"build_model: fusion_units sets the width of the {wide_fusions} fusion heads; "
            f"received fusion_units={units!r} with fusion={fusion!r}, whose head only "
            "concatenates and pools."
        )
    if not _is_int(units) or units < 1:
        raise ValueError(
            f"build_model: fusion_units must be None or an integer >= 1; received "
            f"fusion_units={units!r}."
        )
    return int(units)
