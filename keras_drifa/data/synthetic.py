"""`make_synthetic`: an embedded multimodal data set with known evidence regions."""

import dataclasses

import numpy as np

from keras_drifa import _checks

# The looks a synthetic modality can take, with their natural number of channels.
KINDS = {"cytology": 3, "dermoscopy": 3, "mri": 1}
LABEL_MODES = ("multitask", "paired", "same_quadrant")

# Samples are drawn in chunks from generators seeded by (seed, modality, chunk), so the
# first n samples do not depend on how many are generated, and memory stays bounded.
_CHUNK = 128
# The generator stream of the evidence positions of label_mode="same_quadrant", seeded by
# (seed, _LAYOUT_STREAM, chunk): apart from every modality's stream.
_LAYOUT_STREAM = 2**16


@dataclasses.dataclass(frozen=True, eq=False)
class SyntheticData:
    """Images, labels and evidence masks made by `make_synthetic`.

    Attributes:
        images: `{modality: float32 array (N, H, W, C)}` in [0, 1].
        masks: `{modality: bool array (N, H, W)}`, `True` where the class evidence is.
        labels: `{task: int32 array (N,)}` of class indices.
        codes: `{modality: int32 array (N,)}`, the class code drawn into each modality.
            In multitask mode it equals that modality's label; in paired mode the label is
            `sum(codes) % num_classes`; in same_quadrant mode the codes do not enter the
            label (they can serve as extra tasks).
        num_classes: `{task: number of classes}`, usable as `build_model(num_classes=...)`.
        label_mode: `"multitask"`, `"paired"` or `"same_quadrant"`.
        arguments: the `make_synthetic` arguments that made the data (`modalities` as a
            list of kinds, `image_size`, `num_classes`, `label_mode`, `noise`, `channels`,
            `seed`, `unseen_class`), so that more data can be drawn alike
            (`keras_drifa.data.make_shifted` does).
    """

    images: dict
    masks: dict
    labels: dict
    codes: dict
    num_classes: dict
    label_mode: str
    arguments: dict = None

    @property
    def modality_names(self):
        return list(self.images)

    @property
    def task_names(self):
        return list(self.labels)

    @property
    def input_shapes(self):
        """One `(height, width, channels)` per modality, for `build_model(input_shape=...)`."""
        return [tuple(x.shape[1:]) for x in self.images.values()]

    def targets(self, one_hot=True):
        """`{task: labels}`, one-hot float32 by default (for categorical cross-entropy)."""
        if not one_hot:
            return dict(self.labels)
        return {
            task: np.eye(self.num_classes[task], dtype="float32")[y]
            for task, y in self.labels.items()
        }

    def __len__(self):
        return len(next(iter(self.labels.values())))


def make_synthetic(
    num_samples=1000,
    modalities=2,
    image_size=64,
    num_classes=(5, 7),
    *,
    label_mode="multitask",
    noise=0.05,
    channels=None,
    seed=0,
    unseen_class=False,
):
    """Generates a deterministic multimodal image classification data set.

    Each modality has its own look: `"cytology"` (a pap-smear-like field of cells, RGB),
    `"dermoscopy"` (a skin lesion under a dermoscope with hairs, RGB) and `"mri"` (a
    grayscale head slice with a tumour). In every image one region carries the class
    evidence: the orientation of its striped texture and its colour (brightness in the
    MRI) encode the class; everything else (background, other cells, hairs, the skull) is
    drawn independently of the class. That region is returned as a ground-truth mask, so
    saliency maps such as Grad-CAM can be scored against it.

    Three label modes:

    - `"multitask"` (the paper's setting): every modality has its own task and label set,
      drawn independently, as when SIPaKMeD cells are paired with HAM10000 lesions.
    - `"paired"`: one task whose label is `sum(codes) % num_classes` of the class codes
      drawn in each modality. Each modality on its own carries exactly chance-level
      information about the label; all of them together determine it, so only a model
      that fuses the modalities can beat chance.
    - `"same_quadrant"`: one binary task: 1 when the evidence regions of all modalities
      sit in the same quadrant of their images, 0 otherwise (half the samples each). Each
      modality's evidence position alone is uniform over the quadrants whatever the label,
      and the class codes (texture and colour) do not enter it, so neither one image nor
      a vector pooled over an image's pixels carries the label: a model has to compare
      *where* the evidence sits in the images. The masks show where it is.

    Args:
        num_samples: number of samples (rows); every modality gets one image per row.
        modalities: a number of modalities (kinds cycle through cytology, dermoscopy,
            mri), or a list of kinds, e.g. `["dermoscopy", "mri"]`. A kind listed twice
            gets a numbered name (`"mri"`, `"mri_1"`).
        image_size: `size` or `(height, width)`, at least 16 pixels each.
        num_classes: multitask and same_quadrant: an int for every modality, or one int
            per modality (in same_quadrant mode they are the texture classes drawn as
            `codes`; the label has two classes). Paired: one int. Each at least 2.
        label_mode: `"multitask"`, `"paired"` or `"same_quadrant"` (two modalities or
            more).
        noise: standard deviation of the additive pixel noise (uniform, zero-mean), a
            finite number >= 0.
        channels: `None` keeps each kind's natural channels (3 for cytology and
            dermoscopy, 1 for mri); 1 or 3 converts every modality.
        seed: integer seed; the same arguments and seed give the same data, and the
            first n samples do not depend on `num_samples`.
        unseen_class: `True` draws every evidence region with a class no model trained on
            these classes has seen: code `c` is drawn as `c + 1/2`, its stripes and hue
            halfway between those of classes `c` and `c + 1` (stripe angle
            `pi * (c + 1/2) / K` instead of `pi * c / K`). Everything else is drawn as with
            `False`, so sample `i` differs from the in-distribution sample `i` of the same
            seed in its evidence region only. `codes` and `labels` still hold `c`: use
            these images as out-of-distribution examples, not to score accuracy.

    Returns:
        A `SyntheticData` with `images`, `masks`, `labels`, `codes`, `num_classes` (dicts
        keyed by modality or task name) and the `label_mode`. Tasks are named
        `f"{modality}_label"` in multitask mode and `"label"` in the other modes.

    Example:

    ```python
    data = keras_drifa.data.make_synthetic(2000, image_size=64)
    model = keras_drifa.build_model(modalities=data.modality_names,
                                    input_shape=data.input_shapes,
                                    num_classes=data.num_classes, widths=(16, 32, 32, 64))
    model.compile("adam", loss="categorical_crossentropy")
    model.fit(data.images, data.targets(), epochs=3)
    ```
    """
    where = "make_synthetic"
    num_samples = _checks.positive_int(where, "num_samples", num_samples)
    kinds = _kinds(modalities)
    height, width = _checks.image_size(where, image_size, minimum=16)
    label_mode = _checks.choice(where, "label_mode", label_mode, LABEL_MODES)
    if label_mode == "same_quadrant" and len(kinds) < 2:
        raise ValueError(
            "make_synthetic: label_mode='same_quadrant' compares the evidence positions of "
            f"two modalities or more; received modalities={modalities!r}."
        )
    classes = _class_counts(num_classes, len(kinds), label_mode)
    noise = _checks.number(where, "noise", noise, 0)
    channels = _checks.channels(where, channels, allow_none=True)
    seed = _checks.seed(where, seed, allow_none=False)
    unseen_class = _checks.boolean(where, "unseen_class", unseen_class)
    arguments = dict(
        modalities=list(kinds), image_size=(height, width), num_classes=num_classes,
        label_mode=label_mode, noise=noise, channels=channels, seed=seed,
        unseen_class=unseen_class,
    )

    names = _modality_names(kinds)
    if label_mode == "same_quadrant":
        same, quadrants = _quadrant_layout(seed, len(kinds), num_samples)
    images, masks, codes = {}, {}, {}
    for m, (name, kind) in enumerate(zip(names, kinds)):
        out_channels = channels or KINDS[kind]
        images[name] = np.empty((num_samples, height, width, out_channels), "float32")
        masks[name] = np.empty((num_samples, height, width), bool)
        codes[name] = np.empty((num_samples,), "int32")
        for start in range(0, num_samples, _CHUNK):
            n = min(_CHUNK, num_samples - start)
            rng = np.random.default_rng([seed, m, start // _CHUNK])
            # Always a whole chunk, so that sample i does not depend on num_samples.
            code = rng.integers(0, classes[m], _CHUNK)
            quadrant = None
            if label_mode == "same_quadrant":
                quadrant = quadrants[m, start : start + _CHUNK]
            if unseen_class:  # code c of K classes drawn as code 2c + 1 of 2K
                canvas = _RENDERERS[kind](
                    rng, 2 * code + 1, 2 * classes[m], height, width, quadrant
                )
            else:
                canvas = _RENDERERS[kind](rng, code, classes[m], height, width, quadrant)
            planes = canvas.planes[:, :n]
            planes += _pixel_noise(rng, canvas.planes.shape, noise)[:, :n]
            np.clip(planes, 0.0, 1.0, out=planes)
            np.stack(
                _convert_channels(planes, out_channels),
                axis=-1,
                out=images[name][start : start + n],
            )
            masks[name][start : start + n] = canvas.mask[:n]
            codes[name][start : start + n] = code[:n]

    if label_mode == "multitask":
        labels = {f"{name}_label": codes[name].copy() for name in names}
        counts = {f"{name}_label": k for name, k in zip(names, classes)}
    elif label_mode == "paired":
        labels = {"label": (sum(codes.values()) % classes[0]).astype("int32")}
        counts = {"label": classes[0]}
    else:
        labels = {"label": same[:num_samples].astype("int32")}
        counts = {"label": 2}
    return SyntheticData(images, masks, labels, codes, counts, label_mode, arguments)


def _quadrant_layout(seed, num_modalities, num_samples):
    """Whether each sample's evidence shares one quadrant, and each modality's quadrant.

    Returns `(same (n,), quadrants (M, n))` for whole chunks (n >= num_samples); quadrants
    are 0 top left, 1 top right, 2 bottom left, 3 bottom right. Half the samples are
    `same`; modality 0's quadrant is uniform, and so is every other modality's, given
    either label: a different quadrant for modality 1 when not `same`, any for the rest.
    """
    chunks = -(-num_samples // _CHUNK)
    same = np.empty(chunks * _CHUNK, bool)
    quadrants = np.empty((num_modalities, chunks * _CHUNK), "int64")
    for chunk in range(chunks):
        rng = np.random.default_rng([seed, _LAYOUT_STREAM, chunk])
        part = slice(chunk * _CHUNK, (chunk + 1) * _CHUNK)
        first = rng.integers(0, 4, _CHUNK)
        same[part] = rng.random(_CHUNK) < 0.5
        quadrants[0, part] = first
        for m in range(1, num_modalities):
            if m == 1:
                other = (first + rng.integers(1, 4, _CHUNK)) % 4
            else:
                other = rng.integers(0, 4, _CHUNK)
            quadrants[m, part] = np.where(same[part], first, other)
    return same, quadrants


def _kinds(modalities):
    if isinstance(modalities, (list, tuple)):
        if not modalities:
            raise ValueError("make_synthetic: modalities must name at least one kind; received [].")
        for kind in modalities:
            if kind not in KINDS:
                raise ValueError(
                    f"make_synthetic: unknown modality kind {kind!r} in {list(modalities)}; "
                    f"expected kinds from {sorted(KINDS)}."
                )
        return list(modalities)
    if not _checks.is_int(modalities) or modalities < 1:
        _checks.fail(
            "make_synthetic", "modalities",
            f"an integer >= 1 or a list of kinds from {sorted(KINDS)}", modalities,
        )
    order = list(KINDS)
    return [order[m % len(order)] for m in range(int(modalities))]


def _modality_names(kinds):
    names, seen = [], {}
    for kind in kinds:
        names.append(kind if kind not in seen else f"{kind}_{seen[kind]}")
        seen[kind] = seen.get(kind, 0) + 1
    return names


def _class_counts(num_classes, num_modalities, label_mode):
    def check(k):
        if not _checks.is_int(k) or k < 2:
            _checks.fail(
                "make_synthetic", "num_classes",
                "an integer >= 2 or one per modality, every class count an integer >= 2",
                num_classes,
            )
        return int(k)

    if label_mode == "paired":
        if not _checks.is_int(num_classes):
            _checks.fail(
                "make_synthetic", "num_classes",
                "one integer (label_mode='paired' has one task)", num_classes,
            )
        return [check(num_classes)] * num_modalities
    if isinstance(num_classes, (list, tuple)):
        if len(num_classes) != num_modalities:
            raise ValueError(
                f"make_synthetic: num_classes has {len(num_classes)} entries {num_classes!r}; "
                f"expected {num_modalities}, one per modality, or a single integer."
            )
        return [check(k) for k in num_classes]
    return [check(num_classes)] * num_modalities


# --- rendering -------------------------------------------------------------------------
# Vectorised over a chunk of n samples: per-sample parameters have shape (n, 1, 1). Images
# are drawn channel by channel ((C, n, H, W) planes, which keeps numpy's inner loops long).
# The background is computed on the whole (H, W) grid; cells, lesions, tumours and hairs
# are drawn only inside small windows of pixels around them.


def _param(rng, n, low, high):
    return rng.uniform(low, high, (n, 1, 1)).astype("float32")


def _grid(height, width):
    """Row and column coordinates, shaped (1, H, 1) and (1, 1, W)."""
    yy = np.arange(height, dtype="float32")[None, :, None]
    xx = np.arange(width, dtype="float32")[None, None, :]
    return yy, xx


class _Window:
    """Pixels of each sample to draw on, at `rows` and `cols` (broadcast to (n, h, w))."""

    def __init__(self, rows, cols, height, width):
        inside = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)
        batch = np.arange(len(rows), dtype="intp")[:, None, None]
        # Index into a plane of n * H * W pixels; outside the image, its spare pixel.
        self.flat = np.where(
            inside, (batch * height + rows) * width + cols, len(rows) * height * width
        )
        self.y, self.x = rows.astype("float32"), cols.astype("float32")

    @classmethod
    def around(cls, cy, cx, radius, height, width):
        """The square of pixels within `radius` of each sample's centre (cy, cx)."""
        r = int(np.ceil(radius))
        offsets = np.arange(-r, r + 1, dtype="intp")
        rows = np.floor(cy).astype("intp") + offsets[None, :, None]
        cols = np.floor(cx).astype("intp") + offsets[None, None, :]
        window = cls(rows, cols, height, width)
        window.dy, window.dx = window.y - cy, window.x - cx
        return window


class _Canvas:
    """Image planes (C, n, H, W) and evidence masks (n, H, W) being drawn.

    Every plane has one spare pixel at its end that absorbs the writes of window pixels
    outside the image, so drawing needs no (slow) boolean selection.
    """

    def __init__(self, n, height, width, channels):
        self.size = (height, width)
        self._planes = np.empty((channels, n * height * width + 1), "float32")
        self._planes[:, -1] = 0.0  # the spare pixel: never NaN, so drawing never warns
        self.planes = self._planes[:, :-1].reshape(channels, n, height, width)
        self._mask = np.zeros(n * height * width + 1, bool)
        self.mask = self._mask[:-1].reshape(n, height, width)

    def around(self, cy, cx, radius):
        return _Window.around(cy, cx, radius, *self.size)

    def paint(self, window, alpha, colour):
        """Blends `colour` (per channel: a number, (n, 1, 1) or per window pixel)."""
        for plane, value in zip(self._planes, colour):
            pixels = plane.take(window.flat)
            pixels += alpha * (value - pixels)
            plane[window.flat] = pixels

    def mark(self, window, inside):
        """Adds the window pixels where `inside` is true to the evidence mask."""
        self._mask[window.flat] = self._mask.take(window.flat) | inside


def _blob(rng, window, size, irregularity):
    """A random blob of mean radius `size`: an ellipse with a wavy border when
    `irregularity` > 0, a circle otherwise. Returns (inside, soft alpha)."""
    n = len(window.flat)
    if not irregularity:
        radius = size * _param(rng, n, 0.8, 1.2)
        edge = radius - np.sqrt(window.dx * window.dx + window.dy * window.dy)
        return edge > 0, np.clip(edge + 0.5, 0.0, 1.0)
    ry, rx = size * _param(rng, n, 0.8, 1.2), size * _param(rng, n, 0.8, 1.2)
    angle = _param(rng, n, 0.0, np.pi)
    cos, sin = np.cos(angle), np.sin(angle)
    u = (window.dx * cos + window.dy * sin) / rx
    v = (window.dy * cos - window.dx * sin) / ry
    radius = np.sqrt(u * u + v * v)
    # sin(3t + p) and sin(2t + q) of the polar angle t, from cos t and sin t.
    inverse = 1.0 / np.maximum(radius, np.float32(1e-6))
    c, s = u * inverse, v * inverse
    c3, s3 = c * (4 * c * c - 3), s * (3 - 4 * s * s)
    c2, s2 = c * c - s * s, 2 * s * c
    p, q = _param(rng, n, 0, 2 * np.pi), _param(rng, n, 0, 2 * np.pi)
    wave = (s3 * np.cos(p) + c3 * np.sin(p)) + 0.5 * (s2 * np.cos(q) + c2 * np.sin(q))
    edge = (1.0 + irregularity * wave - radius) * size  # distance to the border, in pixels
    return edge > 0, np.clip(edge + 0.5, 0.0, 1.0)


def _blob_window(canvas, centre, size, irregularity):
    """A window that holds any blob `_blob` draws at `centre` with this size."""
    return canvas.around(*centre, size * 1.2 * (1 + 1.5 * irregularity) + 1)


def _evidence(rng, code, num_classes, window, period):
    """The class signal: stripes at angle pi * code / num_classes, in [0, 1]."""
    n = len(code)
    theta = (np.pi * code / num_classes).astype("float32")[:, None, None]
    theta += rng.normal(0.0, 0.1 * np.pi / num_classes, (n, 1, 1)).astype("float32")
    phase = _param(rng, n, 0.0, 2 * np.pi)
    along = window.x * np.cos(theta) + window.y * np.sin(theta)
    return 0.5 + 0.5 * np.sin(along * np.float32(2 * np.pi / period) + phase)


def _tint(code, num_classes, base):
    """The region's colour per class: the kind's base colour mixed half and half with a hue
    that goes once round the colour wheel over the classes; one channel: a brightness ramp."""
    step = (code / num_classes).astype("float32")[:, None, None]
    if len(base) == 1:
        return [np.float32(base[0]) * (0.65 + 0.35 * step * num_classes / (num_classes - 1))]
    return [
        0.5 * np.float32(b) + 0.5 * (0.5 + 0.4 * np.cos(np.float32(2 * np.pi) * (step - k / 3)))
        for k, b in enumerate(base)
    ]


def _lesion(
    rng, canvas, code, num_classes, centre, size, irregularity, colour, contrast, nucleus=None
):
    """Draws the evidence region: a blob whose texture orientation and colour encode the
    class code, optionally with a plain nucleus `(size, colour)` at its centre."""
    window = _blob_window(canvas, centre, size, irregularity)
    inside, alpha = _blob(rng, window, size, irregularity)
    stripes = _evidence(rng, code, num_classes, window, max(4.0, min(canvas.size) / 12))
    shade = 1.0 - contrast + contrast * stripes
    colours = [shade * tint for tint in _tint(code, num_classes, colour)]
    if nucleus is not None:
        _, core = _blob(rng, window, nucleus[0], 0.0)
        core *= np.float32(0.8)
        colours = [c + core * (np.float32(k) - c) for c, k in zip(colours, nucleus[1])]
    canvas.paint(window, alpha, colours)
    canvas.mark(window, inside)


def _mottle(rng, n, yy, xx, scale, amplitude):
    """Smooth, class-free background variation: a random wave along the rows plus one
    along the columns (cheap: each is computed on one line of pixels)."""
    k = np.float32(2 * np.pi / scale)
    rows = np.sin(_param(rng, n, 0.3, 1.0) * k * yy + _param(rng, n, 0, 6.3))
    cols = np.sin(_param(rng, n, 0.3, 1.0) * k * xx + _param(rng, n, 0, 6.3))
    return np.float32(amplitude) * (rows + cols)


def _centre(rng, n, height, width, low=0.3, high=0.7):
    return _param(rng, n, low * height, high * height), _param(rng, n, low * width, high * width)


def _quadrant_centre(rng, quadrant, height, width, offset=0.25, jitter=0.05):
    """A centre inside `quadrant` (0 top left, 1 top right, 2 bottom left, 3 bottom right):
    `offset` +- `jitter` of the image size away from the image centre along each axis."""
    n = len(quadrant)
    down = np.where(quadrant >= 2, 1, -1).astype("float32")[:, None, None]
    right = np.where(quadrant % 2 == 1, 1, -1).astype("float32")[:, None, None]
    cy = height * (0.5 + down * offset + _param(rng, n, -jitter, jitter))
    cx = width * (0.5 + right * offset + _param(rng, n, -jitter, jitter))
    return cy, cx


def _cytology(rng, code, num_classes, height, width, quadrant=None):
    n, size = len(code), min(height, width)
    yy, xx = _grid(height, width)
    canvas = _Canvas(n, height, width, 3)
    tone, mottle = _param(rng, n, -0.03, 0.03), _mottle(rng, n, yy, xx, size, 0.015)
    for plane, base in zip(canvas.planes, (0.93, 0.84, 0.88)):
        np.add(base + tone, mottle, out=plane)
    for _ in range(3):  # class-free neighbouring cells, each with a nucleus
        window = _blob_window(canvas, _centre(rng, n, height, width, 0.0, 1.0), 0.09 * size, 0.0)
        _, cell = _blob(rng, window, 0.09 * size, 0.0)
        _, nucleus = _blob(rng, window, 0.035 * size, 0.0)
        cytoplasm = (0.70, 0.80 + tone, 0.90)
        colours = [c + nucleus * (k - c) for c, k in zip(cytoplasm, (0.35, 0.25, 0.50))]
        canvas.paint(window, np.maximum(cell, nucleus), colours)
    if quadrant is None:
        centre = _centre(rng, n, height, width)
    else:
        centre = _quadrant_centre(rng, quadrant, height, width)
    _lesion(
        rng,
        canvas,
        code,
        num_classes,
        centre,
        0.2 * size,
        0.08,
        (0.95, 0.55, 0.75),
        0.35,
        nucleus=(0.06 * size, (0.30, 0.18, 0.42)),
    )
    return canvas


def _dermoscopy(rng, code, num_classes, height, width, quadrant=None):
    n, size = len(code), min(height, width)
    yy, xx = _grid(height, width)
    canvas = _Canvas(n, height, width, 3)
    tone = _param(rng, n, -0.05, 0.05)
    r2 = ((yy - height / 2) / height) ** 2 + ((xx - width / 2) / width) ** 2
    light = 1.0 - 1.2 * r2 + _mottle(rng, n, yy, xx, size / 2, 0.02)  # dermoscope vignette
    for plane, base in zip(canvas.planes, (0.88, 0.68, 0.58)):
        np.multiply(base + tone, light, out=plane)
    if quadrant is None:
        centre = _centre(rng, n, height, width)
    else:
        centre = _quadrant_centre(rng, quadrant, height, width)
    _lesion(rng, canvas, code, num_classes, centre, 0.22 * size, 0.12, (0.55, 0.34, 0.24), 0.45)
    # Class-free hairs: thin wavy dark lines across the field, drawn in a band of rows
    # around the line in every column.
    band = np.arange(-3, 4, dtype="intp")[None, :, None]
    columns = np.arange(width, dtype="intp")[None, None, :]
    for _ in range(2):
        y0, slope = _param(rng, n, 0, height), _param(rng, n, -1.0, 1.0)
        amp = _param(rng, n, 0, 0.08 * size)
        freq = _param(rng, n, 0.5, 2.0) * np.float32(2 * np.pi / size)
        x = columns.astype("float32")
        line = y0 + slope * (x - width / 2) + amp * np.sin(freq * x + _param(rng, n, 0, 6.3))
        window = _Window(np.floor(line).astype("intp") + band, columns, height, width)
        distance = np.abs(window.y - line) / np.sqrt(1.0 + slope * slope)
        hair = np.clip(1.2 - distance, 0.0, 1.0) * (_param(rng, n, 0, 1) < 0.7)
        canvas.paint(window, hair, (0.18, 0.12, 0.10))
    return canvas


def _mri(rng, code, num_classes, height, width, quadrant=None):
    n, size = len(code), min(height, width)
    yy, xx = _grid(height, width)
    canvas = _Canvas(n, height, width, 1)
    hy, hx = _centre(rng, n, height, width, 0.45, 0.55)
    head_ry, head_rx = 0.42 * height, 0.36 * width
    head = np.sqrt(((yy - hy) / head_ry) ** 2 + ((xx - hx) / head_rx) ** 2)
    skull = np.clip(1.0 - np.abs(head - 0.97) * (size * 0.5), 0.0, 1.0)
    brain = np.clip((0.93 - head) * (size * 0.5), 0.0, 1.0)
    gyri = 0.33 + _mottle(rng, n, yy, xx, size / 5, 0.04)
    canvas.planes[0] = brain * gyri + 0.85 * skull
    if quadrant is None:
        # The tumour lies inside the brain: at most 45% of the way from the centre to the
        # skull.
        reach, turn = _param(rng, n, 0.0, 0.45), _param(rng, n, 0.0, 2 * np.pi)
        centre = hy + reach * head_ry * np.sin(turn), hx + reach * head_rx * np.cos(turn)
    else:  # close enough to the image centre to stay inside the brain
        centre = _quadrant_centre(rng, quadrant, height, width, offset=0.15, jitter=0.02)
    _lesion(rng, canvas, code, num_classes, centre, 0.14 * size, 0.1, (1.0,), 0.3)
    return canvas


_RENDERERS = {"cytology": _cytology, "dermoscopy": _dermoscopy, "mri": _mri}


def _pixel_noise(rng, shape, std):
    """Zero-mean uniform noise with standard deviation `std`, from random bytes.

    Uniform rather than Gaussian because drawing Gaussian floats would take most of the
    generation time.
    """
    levels = np.frombuffer(rng.bytes(int(np.prod(shape))), np.int8).reshape(shape)
    return (levels.astype("float32") + np.float32(0.5)) * np.float32(
        std / np.sqrt((256**2 - 1) / 12)
    )


def _convert_channels(planes, channels):
    """Image planes (C, n, H, W) -> a list of `channels` planes (gray <-> RGB)."""
    if len(planes) == channels:
        return list(planes)
    if channels == 3:
        return [planes[0]] * 3
    return [0.299 * planes[0] + 0.587 * planes[1] + 0.114 * planes[2]]
