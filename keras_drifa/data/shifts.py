"""Shifted test sets with known ground truth: distribution shift and a failing modality.

`make_shifted(data, shift)` returns a copy of a test set in which the examples are changed
in one known way, so that an out-of-distribution score (`keras_drifa.ood`) can be checked
against the truth ("every example here is shifted, and it is the dermoscopy input that
broke"). Rows keep their order, so any labels kept beside the images still line up.

Shifts (`SHIFTS`):

- `"unseen_class"`: the evidence region shows a class no model trained on the data has
  seen (`make_synthetic(..., unseen_class=True)`: stripes and hue halfway between two
  trained classes). Needs a `SyntheticData`.
- `"noise_modality"`: the modality is replaced by noise, every pixel uniform in [0, 1]:
  a disconnected or failed sensor.
- `"wrong_modality"`: the modality gets a picture of another kind (by default an MRI slice
  converted to its channels; a cytology field when the modality is itself an MRI), drawn
  by `make_synthetic`: a mix-up of files or ports.
- `"noise"`: stronger pixel noise, zero-mean Gaussian of standard deviation `severity`
  (pixel units, images in [0, 1]; default 0.5), clipped to [0, 1].
- `"blur"`: a Gaussian blur of standard deviation `severity` pixels (default 2.0), edges
  reflected: a defocused microscope or dermoscope.
- `"swap"`: two modalities exchange their images (their shapes must match).

Example:

>>> from keras_drifa.data import make_shifted, make_synthetic
>>> data = make_synthetic(4, modalities=["cytology", "dermoscopy"], image_size=16)
>>> shifted = make_shifted(data, "noise_modality", modality="dermoscopy")
>>> shifted.modalities, bool((shifted.images["cytology"] == data.images["cytology"]).all())
(('dermoscopy',), True)
"""

import dataclasses
import math

import numpy as np

from keras_drifa import _checks
from keras_drifa.data import synthetic

SHIFTS = ("unseen_class", "noise_modality", "wrong_modality", "noise", "blur", "swap")
DEFAULT_SEVERITY = {"noise": 0.5, "blur": 2.0}
# make_synthetic's default pixel noise, for pictures drawn into plain image dicts.
_DEFAULT_NOISE = 0.05


@dataclasses.dataclass(frozen=True, eq=False)
class ShiftedData:
    """A shifted copy of a test set, made by `make_shifted`.

    Attributes:
        images: `{modality: float32 array (N, H, W, C)}`, the same keys and shapes as the
            source.
        labels: `{task: int32 array (N,)}`: the source's labels, what the model should
            have answered without the shift; `-1` where the shift leaves a task without a
            true class (an unseen class). Empty for a plain dict of images.
        codes: `{modality: int32 array (N,)}`, the class code drawn in the image each
            input now holds (swapped with `"swap"`; `-1`: an unseen class, noise or a
            picture of another kind). Empty for a plain dict of images.
        masks: `{modality: bool array (N, H, W)}`, where the class evidence now is (all
            `False` for noise and pictures of another kind). Empty for a plain dict.
        shift: the shift, one of `SHIFTS`.
        modalities: the modalities it changed.
        severity: its severity (`"noise"`, `"blur"`), else `None`.
    """

    images: dict
    labels: dict
    codes: dict
    masks: dict
    shift: str
    modalities: tuple
    severity: float = None

    @property
    def modality_names(self):
        return list(self.images)

    def __len__(self):
        return len(next(iter(self.images.values())))


def make_shifted(data, shift, *, modality=None, severity=None, kind=None, seed=0):
    """A copy of `data` with one known distribution shift (see `SHIFTS`).

    Modalities the shift does not name are returned bit-identical.

    Args:
        data: a `SyntheticData` from `keras_drifa.data.make_synthetic`, or a dict
            `{modality: images (N, H, W, C)}` in [0, 1] (any images: the shifts other
            than `"unseen_class"` do not need to know how they were made).
        shift: one of `SHIFTS`.
        modality: the modality to shift, or a list of them; `None`: every modality.
            `"swap"` takes two (`None`: the only two).
        severity: `"noise"`: the standard deviation of the added Gaussian noise (default
            0.5); `"blur"`: the standard deviation of the blur kernel in pixels (default
            2.0). Each a number > 0; the other shifts take none.
        kind: `"wrong_modality"` only: the kind of picture to put in, one of
            `make_synthetic`'s kinds (`"cytology"`, `"dermoscopy"`, `"mri"`). Default:
            `"mri"`, or `"cytology"` for a modality that is an MRI.
        seed: `None` (fresh randomness) or an integer >= 0; the same data, arguments and
            seed give the same result. `"unseen_class"` draws its images with this seed:
            the seed `data` was made with keeps every background and changes only the
            evidence; another draws new backgrounds as well.

    Returns:
        A `ShiftedData`.

    Example:

    >>> import numpy as np
    >>> from keras_drifa.data import make_synthetic
    >>> data = make_synthetic(3, modalities=["cytology", "dermoscopy"], image_size=16)
    >>> swapped = make_shifted(data, "swap")
    >>> bool(np.array_equal(swapped.images["cytology"], data.images["dermoscopy"]))
    True
    """
    fn = "make_shifted"
    _checks.choice(fn, "shift", shift, SHIFTS)
    source = data if isinstance(data, synthetic.SyntheticData) else None
    images = _images(fn, data.images if source is not None else data)
    names = _shifted_modalities(fn, shift, modality, list(images))
    severity = _severity(fn, shift, severity)
    if kind is not None and shift != "wrong_modality":
        raise ValueError(
            f"{fn}: `kind` applies to shift='wrong_modality' only; received kind={kind!r} "
            f"with shift={shift!r}."
        )
    if kind is not None:
        _checks.choice(fn, "kind", kind, tuple(synthetic.KINDS))
    seed = _checks.seed(fn, seed)
    if seed is None:
        seed = int(np.random.default_rng().integers(2**31))
    if shift == "unseen_class" and source is None:
        raise ValueError(
            f"{fn}: shift='unseen_class' draws new images, so `data` must be a SyntheticData "
            "from keras_drifa.data.make_synthetic; received a dict of images."
        )
    if shift == "unseen_class" and source.arguments is None:
        raise ValueError(
            f"{fn}: shift='unseen_class' draws new images alike, so `data` must record the "
            "make_synthetic arguments that made it; received a SyntheticData without "
            "`arguments`."
        )

    images = dict(images)
    codes = {m: c.copy() for m, c in source.codes.items()} if source is not None else {}
    masks = {m: k.copy() for m, k in source.masks.items()} if source is not None else {}
    index = {m: i for i, m in enumerate(images)}
    if shift == "swap":
        _check_swap(fn, images, names)
        a, b = names
        images[a], images[b] = images[b], images[a]
        if source is not None:
            codes[a], codes[b] = codes[b], codes[a]
            masks[a], masks[b] = masks[b], masks[a]
    elif shift in ("noise", "blur"):
        for m in names:
            rng = np.random.default_rng([seed, index[m]])
            images[m] = _noisy(rng, images[m], severity) if shift == "noise" else _blurred(
                images[m], severity
            )
    elif shift == "noise_modality":
        for m in names:
            rng = np.random.default_rng([seed, index[m]])
            images[m] = rng.random(images[m].shape, dtype=np.float32)
    elif shift == "wrong_modality":
        for m in names:
            images[m] = _wrong_picture(source, m, images[m], kind, seed)
    else:
        unseen = synthetic.make_synthetic(
            len(source), **{**source.arguments, "seed": seed, "unseen_class": True}
        )
        for m in names:
            images[m], masks[m] = unseen.images[m], unseen.masks[m]
    if shift in ("noise_modality", "wrong_modality", "unseen_class"):
        for m in names if source is not None else ():
            codes[m] = np.full(len(source), -1, "int32")
            if shift != "unseen_class":
                masks[m] = np.zeros_like(masks[m])
    return ShiftedData(
        images=images,
        labels=_labels(source, names, shift),
        codes=codes,
        masks=masks,
        shift=shift,
        modalities=tuple(names),
        severity=severity,
    )


def _images(fn, images):
    if not isinstance(images, dict) or not images:
        raise ValueError(
            f"{fn}: `data` must be a SyntheticData or a non-empty dict {{modality: images}}; "
            f"received {type(images).__name__}."
        )
    arrays = {}
    for m, x in images.items():
        x = np.asarray(x)
        if x.ndim != 4 or not np.issubdtype(x.dtype, np.number):
            raise ValueError(
                f"{fn}: the images of modality {m!r} have shape {x.shape} and dtype "
                f"{x.dtype}; expected numbers (num_examples, height, width, channels)."
            )
        arrays[m] = x.astype("float32", copy=False)
    sizes = {m: len(x) for m, x in arrays.items()}
    if len(set(sizes.values())) != 1:
        raise ValueError(
            f"{fn}: the modalities have different numbers of images {sizes}; expected one."
        )
    return arrays


def _shifted_modalities(fn, shift, modality, names):
    if modality is None:
        if shift == "swap" and len(names) != 2:
            raise ValueError(
                f"{fn}: shift='swap' needs two modalities; `data` has {len(names)} {names}, "
                "so pass modality=(first, second)."
            )
        chosen = list(names)
    else:
        chosen = [modality] if isinstance(modality, str) else modality
        if not isinstance(chosen, (list, tuple)) or not chosen:
            raise ValueError(
                f"{fn}: `modality` must be a modality name, a list of them or None; received "
                f"modality={modality!r}."
            )
        chosen = list(chosen)
        for m in chosen:
            if m not in names:
                raise ValueError(
                    f"{fn}: unknown modality {m!r}; expected one of {names}."
                )
        if len(set(chosen)) != len(chosen):
            raise ValueError(f"{fn}: `modality` names a modality twice: {chosen}.")
    if shift == "swap" and len(chosen) != 2:
        raise ValueError(
            f"{fn}: shift='swap' exchanges two modalities; received modality={modality!r}."
        )
    return chosen


def _severity(fn, shift, severity):
    if shift not in DEFAULT_SEVERITY:
        if severity is not None:
            raise ValueError(
                f"{fn}: `severity` applies to the shifts {tuple(DEFAULT_SEVERITY)}; received "
                f"severity={severity!r} with shift={shift!r}."
            )
        return None
    if severity is None:
        return DEFAULT_SEVERITY[shift]
    return _checks.number(fn, "severity", severity, 0, open_low=True)


def _check_swap(fn, images, names):
    a, b = names
    if images[a].shape != images[b].shape:
        raise ValueError(
            f"{fn}: shift='swap' needs images of one shape; modality {a!r} has "
            f"{images[a].shape[1:]} and {b!r} has {images[b].shape[1:]}."
        )


def _noisy(rng, x, std):
    noise = rng.normal(0.0, std, x.shape).astype("float32")
    return np.clip(x + noise, 0.0, 1.0)


def _blurred(x, sigma):
    """Separable Gaussian blur over height and width, edges reflected."""
    radius = max(1, math.ceil(3 * sigma))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps = (taps / taps.sum()).astype("float32")
    for axis in (1, 2):
        pad = [(0, 0)] * 4
        pad[axis] = (radius, radius)
        # Reflection needs the side to be longer than the radius: repeat it until it is.
        padded = np.pad(x, pad, mode="symmetric" if x.shape[axis] > radius else "wrap")
        out = np.zeros_like(x)
        for k, w in enumerate(taps):
            out += w * np.take(padded, np.arange(k, k + x.shape[axis]), axis=axis)
        x = out
    return x


def _kind_of(source, modality):
    if source is not None and source.arguments is not None:
        kinds = source.arguments["modalities"]
        return kinds[list(source.images).index(modality)]
    return modality if modality in synthetic.KINDS else None


def _wrong_picture(source, modality, x, kind, seed):
    """A picture of another kind at the size and channels of `x` (N, H, W, C)."""
    if kind is None:
        kind = "cytology" if _kind_of(source, modality) == "mri" else "mri"
    noise = (
        source.arguments["noise"]
        if source is not None and source.arguments is not None
        else _DEFAULT_NOISE
    )
    n, height, width, channels = x.shape
    drawn = synthetic.make_synthetic(
        n, modalities=[kind], image_size=(height, width), num_classes=2, noise=noise,
        channels=channels if channels in (1, 3) else 1, seed=seed,
    )
    picture = drawn.images[kind]
    if picture.shape[-1] != channels:  # 2 or 4 channels: repeat the gray one
        picture = np.repeat(picture, channels, axis=-1)
    return picture


def _labels(source, names, shift):
    if source is None:
        return {}
    labels = {t: y.copy() for t, y in source.labels.items()}
    if shift != "unseen_class":
        return labels
    if source.label_mode in ("paired", "same_quadrant"):  # one label from all modalities
        return {t: np.full_like(y, -1) for t, y in labels.items()}
    for m in names:
        labels[f"{m}_label"][:] = -1
    return labels
