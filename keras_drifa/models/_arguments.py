"""Validation and normalisation of `build_model` arguments, one clear error per mistake.

Every function takes `where`, the entry point the user called (`build_model` or
`DRIFANet`), and leaves the generic rules (integers, booleans, choices) to `_checks`.
"""

import re
from collections.abc import Mapping, Sequence

from keras_drifa import _checks


# Names that are valid layer, tensor and module names on TensorFlow, JAX and PyTorch alike
# (PyTorch refuses "." in module names; TensorFlow refuses spaces and a leading "_" in
# the names of a traced function's inputs).
_PORTABLE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


def _check_names(where, kind, names):
    names = list(names)
    for n in names:
        if not isinstance(n, str) or not _PORTABLE_NAME.fullmatch(n):
            raise ValueError(
                f"{where}: {kind} names must start with a letter or digit and hold only "
                "letters, digits, '_' and '-' (names that work on every backend); received "
                f"{n!r} in {names}."
            )
    if len(set(names)) != len(names):
        raise ValueError(f"{where}: {kind} names must be unique; received {names}.")
    return names


def modality_names(where, modalities, names):
    """Returns the list of modality names from `modalities` (a count or names)."""
    if isinstance(modalities, (list, tuple)):
        if names is not None:
            raise ValueError(
                f"{where}: modalities is already a list of names "
                f"{list(modalities)}; do not also pass modality_names={names!r}."
            )
        if not modalities:
            _checks.fail(
                where, "modalities", "an integer >= 1 or a list of at least one modality name",
                modalities,
            )
        return _check_names(where, "modality", modalities)
    if not _checks.is_int(modalities) or modalities < 1:
        _checks.fail(where, "modalities", "an integer >= 1 or a list of names", modalities)
    if names is None:
        return [f"modality_{m}" for m in range(int(modalities))]
    if isinstance(names, str) or len(names) != modalities:
        raise ValueError(
            f"{where}: modality_names has {1 if isinstance(names, str) else len(names)} "
            f"entries {names!r}; expected {modalities}, one per modality."
        )
    return _check_names(where, "modality", names)


def _check_shape(where, name, shape):
    if not isinstance(shape, Sequence) or isinstance(shape, str) or len(shape) != 3:
        _checks.fail(where, name, "(height, width, channels), 3 dimensions", shape)
    for dim_name, dim in zip(("height", "width", "channels"), shape):
        if (dim is None and dim_name != "channels") or (_checks.is_int(dim) and dim >= 1):
            continue
        expected = "an integer >= 1" + (" or None" if dim_name != "channels" else "")
        _checks.fail(where, name, f"(height, width, channels) with {dim_name} {expected}", shape)
    return tuple(None if d is None else int(d) for d in shape)


def input_shapes(where, input_shape, names):
    """One `(height, width, channels)` tuple per modality."""
    is_nested = (
        isinstance(input_shape, Sequence)
        and not isinstance(input_shape, str)
        and len(input_shape) > 0
        and all(isinstance(s, Sequence) and not isinstance(s, str) for s in input_shape)
    )
    if not is_nested:
        shape = _check_shape(where, "input_shape", input_shape)
        return [shape] * len(names)
    if len(input_shape) != len(names):
        raise ValueError(
            f"{where}: input_shape lists {len(input_shape)} shapes {list(input_shape)}; "
            f"expected one shape for all modalities or {len(names)}, one per modality "
            f"{names}."
        )
    return [_check_shape(where, f"input_shape[{m}]", s) for m, s in enumerate(input_shape)]


def tasks(where, num_classes, names):
    """A list of `(task_name, n_classes)` pairs, one per output head."""
    if isinstance(num_classes, Mapping):
        if names is not None:
            raise ValueError(
                f"{where}: num_classes is a dict that already names the tasks "
                f"{list(num_classes)}; do not also pass task_names={names!r}."
            )
        names, counts = list(num_classes.keys()), list(num_classes.values())
        if not counts:
            _checks.fail(where, "num_classes", "a non-empty dict {task_name: n}", num_classes)
    else:
        counts = [num_classes] if _checks.is_int(num_classes) else num_classes
        if isinstance(counts, str) or not isinstance(counts, Sequence) or not counts:
            _checks.fail(
                where, "num_classes",
                "an int, a non-empty sequence of ints or a dict {task_name: n}", num_classes,
            )
        counts = list(counts)
        if names is None:
            names = [f"task_{t}" for t in range(len(counts))]
        elif isinstance(names, str) or len(names) != len(counts):
            raise ValueError(
                f"{where}: task_names has {1 if isinstance(names, str) else len(names)} "
                f"entries {names!r}; expected {len(counts)}, one per num_classes entry."
            )
    names = _check_names(where, "task", names)
    return [
        (task, _checks.integer(where, f"num_classes[{task!r}]", n, minimum=2))
        for task, n in zip(names, counts)
    ]


def stages(where, widths, blocks_per_stage):
    """Validated `(widths, blocks_per_stage)` as tuples of positive ints of equal length."""
    for arg, values in (("widths", widths), ("blocks_per_stage", blocks_per_stage)):
        if (
            isinstance(values, str)
            or not isinstance(values, Sequence)
            or not values
            or not all(_checks.is_int(v) and v > 0 for v in values)
        ):
            _checks.fail(where, arg, "a non-empty sequence of positive integers", values)
    if len(widths) != len(blocks_per_stage):
        raise ValueError(
            f"{where}: widths {tuple(widths)} has {len(widths)} stages but "
            f"blocks_per_stage {tuple(blocks_per_stage)} has {len(blocks_per_stage)}; "
            "expected one block count per stage."
        )
    return tuple(int(w) for w in widths), tuple(int(b) for b in blocks_per_stage)


def fusion_switches(where, fusion, fusions, use_mfa, use_mifa, use_block_mfa, drifa_backbone):
    """`(use_mfa, use_mifa, use_block_mfa)` as bools for `fusion`, or a clear error.

    The switches are DRIFA's ablations: unset (`None`) they are on for `fusion="drifa"`
    and off for every other fusion, whose branches are plain. Setting one on for another
    fusion, or the MFAs after the blocks without MFA, contradicts itself.
    """
    _checks.choice(where, "fusion", fusion, fusions)
    switches = {
        arg: _checks.boolean(where, arg, value, allow_none=True, none_means="the fusion's default")
        for arg, value in (
            ("use_mfa", use_mfa), ("use_mifa", use_mifa), ("use_block_mfa", use_block_mfa)
        )
    }
    use_mfa, use_mifa, use_block_mfa = switches.values()
    if use_block_mfa is not None and not drifa_backbone:
        raise ValueError(
            f"{where}: use_block_mfa={use_block_mfa!r} shapes the 'drifa' backbone only "
            "(the MFAs after its RRA blocks); received it with another backbone."
        )
    if fusion != "drifa":
        for arg, value in switches.items():
            if value:
                raise ValueError(
                    f"{where}: {arg}=True switches on DRIFA attention, which only "
                    f"fusion='drifa' has; received it with fusion={fusion!r}, whose branches "
                    f"are plain ResNet branches. Leave {arg} unset or pass fusion='drifa'."
                )
        return False, False, False
    use_mfa = True if use_mfa is None else use_mfa
    use_mifa = True if use_mifa is None else use_mifa
    if use_block_mfa and not use_mfa:
        raise ValueError(
            f"{where}: use_block_mfa=True asks for the MFAs after the RRA blocks, but "
            "use_mfa=False removes every MFA; received both. Leave use_block_mfa unset or "
            "pass use_mfa=True."
        )
    return use_mfa, use_mifa, use_mfa if use_block_mfa is None else use_block_mfa


def fusion_units(where, fusion, wide_fusions, units):
    """The fusion head's width: `None` (the branches' channels) or a positive integer."""
    if units is None:
        return None
    if fusion not in wide_fusions:
        raise ValueError(
            f"{where}: fusion_units sets the width of the {wide_fusions} fusion heads; "
            f"received fusion_units={units!r} with fusion={fusion!r}, whose head only "
            "concatenates and pools."
        )
    return _checks.positive_int(where, "fusion_units", units, allow_none=True)
