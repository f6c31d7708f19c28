"""The models of the paper's comparison: the ablation ladder and the fusion options' sizes."""

from keras_drifa.models.drifa_net import build_model
from keras_drifa.models.fusion import FUSIONS, WIDE_FUSIONS

# The ablation ladder, from DRIFA-Net down to the plain multi-branch ResNet: name ->
# `build_model` keyword arguments that make that rung (add your own size arguments).
ABLATIONS = {
    "DRIFA-Net": {},
    "without MIFA": {"use_mifa": False},
    "without MFA": {"use_mfa": False},
    "without block MFA": {"use_block_mfa": False},
    "ResNet baseline": {"fusion": "concat"},
}


def fusion_parameter_counts(fusions=FUSIONS, **kwargs):
    """Parameter counts of `build_model(fusion=f, **kwargs)` for every fusion option `f`.

    Builds each model once and counts its parameters (trainable and not), so budgets can be
    compared and matched (`fusion_units=` widens or narrows a baseline's head).

    Args:
        fusions: the fusion options to count, default all of `keras_drifa.models.FUSIONS`.
        **kwargs: `build_model` arguments shared by all, e.g. `widths=(16, 32, 64)`;
            `fusion_units` goes to the fusions that have a width only.

    Returns:
        `{fusion: parameter count}`, in the order of `fusions`.

    Example:

    ```python
    counts = keras_drifa.models.fusion_parameter_counts(
        input_shape=(32, 32, 3), widths=(8, 16), blocks_per_stage=(1, 1))
    for fusion, count in counts.items():
        print(f"{fusion:>16} {count:>12,}")
    ```
    """
    if "fusion" in kwargs:
        raise ValueError(
            "fusion_parameter_counts: pass the fusion options as `fusions`; received "
            f"fusion={kwargs['fusion']!r} among the build_model arguments."
        )
    if isinstance(fusions, str):
        fusions = [fusions]
    units = kwargs.pop("fusion_units", None)
    counts = {}
    for f in fusions:
        width = {"fusion_units": units} if units is not None and f in WIDE_FUSIONS else {}
        counts[f] = build_model(fusion=f, **width, **kwargs).count_params()
    return counts
