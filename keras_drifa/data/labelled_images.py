"""`LabelledImages` and `ImageSplits`: what the data set loaders return."""

import dataclasses
import warnings

import numpy as np

from keras_drifa import _checks


@dataclasses.dataclass(frozen=True, eq=False)
class LabelledImages:
    """Images with one integer class label each, and the names of the classes.

    Attributes:
        images: float32 array `(N, height, width, channels)` with values in [0, 1].
            Other numeric arrays are converted to float32 (not rescaled); NaN or infinite
            values are an error, and values outside [0, 1] (such as 0-255 pixels) give a
            warning.
        labels: int32 array `(N,)` of class indices into `class_names`.
        class_names: tuple of the class names (distinct strings), in label order.
        sources: tuple of `N` strings saying where each image came from (a file path,
            or `"file.npz:train[12]"`).

    Example:

    ```python
    data = LabelledImages(np.random.rand(4, 8, 8, 3), [0, 1, 1, 0],
                          ["benign", "malignant"], [f"img{i}.png" for i in range(4)])
    x, y = data.images, data.one_hot()     # float32 (4, 8, 8, 3) and (4, 2)
    train = data.subset([0, 1, 2])
    ```
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: tuple
    sources: tuple

    def __post_init__(self):
        where = "LabelledImages"
        class_names = tuple(_checks.names(where, "class_names", self.class_names, "class names"))
        if isinstance(self.sources, (str, bytes)) or not isinstance(self.sources, (list, tuple)):
            raise ValueError(
                f"{where}: sources must be a list or tuple of strings, one per image; "
                f"received {self.sources!r}."
            )
        images = _unit_images(where, self.images)
        labels = np.asarray(self.labels)
        if labels.shape != (len(images),):
            raise ValueError(
                f"{where}: labels must have shape ({len(images)},), one class index per "
                f"image; received shape {labels.shape}"
                + (" (one-hot rows? pass labels.argmax(-1))." if labels.ndim == 2 else ".")
            )
        if labels.size and not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(
                f"{where}: labels must be integer class indices; received dtype {labels.dtype}."
            )
        if len(self.sources) != len(images):
            raise ValueError(
                f"{where}: sources must have {len(images)} entries, one per image; "
                f"received {len(self.sources)}."
            )
        if len(labels) and (labels.min() < 0 or labels.max() >= len(class_names)):
            raise ValueError(
                f"{where}: labels must lie in [0, {len(class_names)}) for "
                f"class_names {class_names}; received values from {labels.min()} "
                f"to {labels.max()}."
            )
        _set_fields(self, images, labels.astype("int32"), class_names, tuple(self.sources))

    @property
    def num_classes(self):
        return len(self.class_names)

    def one_hot(self):
        """The labels as one-hot float32 rows `(N, num_classes)`."""
        return np.eye(self.num_classes, dtype="float32")[self.labels]

    def class_counts(self):
        """`{class name: number of images}`."""
        counts = np.bincount(self.labels, minlength=self.num_classes)
        return dict(zip(self.class_names, counts.tolist()))

    def subset(self, indices):
        """The images at `indices` (integers, in that order), or where `indices` is true
        (a boolean mask of `len(self)` entries)."""
        indices = np.asarray(indices)
        if indices.dtype == bool and indices.shape == (len(self),):
            indices = np.flatnonzero(indices)
        elif indices.size == 0 and indices.ndim == 1:
            indices = indices.astype("intp")
        elif indices.ndim != 1 or not np.issubdtype(indices.dtype, np.integer):
            raise ValueError(
                f"LabelledImages.subset: indices must be a 1-D list of integer positions or "
                f"a boolean mask of {len(self)} entries; received shape {indices.shape} and "
                f"dtype {indices.dtype}."
            )
        elif len(indices) and (indices.min() < -len(self) or indices.max() >= len(self)):
            raise ValueError(
                f"LabelledImages.subset: indices must lie in [{-len(self)}, {len(self)}) for "
                f"{len(self)} images; received values from {indices.min()} to {indices.max()}."
            )
        # Parts of valid data are valid: no need to check their pixels again.
        part = object.__new__(LabelledImages)
        _set_fields(
            part,
            self.images[indices],
            self.labels[indices],
            self.class_names,
            tuple(self.sources[i] for i in indices),
        )
        return part

    def __len__(self):
        return len(self.labels)

    def __repr__(self):
        return (
            f"LabelledImages({len(self)} images of shape {tuple(self.images.shape[1:])}, "
            f"classes {self.class_counts()})"
        )


def _set_fields(data, images, labels, class_names, sources):
    for name, value in zip(
        ("images", "labels", "class_names", "sources"), (images, labels, class_names, sources)
    ):
        object.__setattr__(data, name, value)


def _unit_images(where, images):
    """`images` as float32 `(N, H, W, C)`: an error for NaN/Inf, a warning outside [0, 1]."""
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(
            f"{where}: images must have shape (N, height, width, channels); "
            f"received shape {images.shape}."
        )
    if images.dtype == bool or not (
        np.issubdtype(images.dtype, np.integer) or np.issubdtype(images.dtype, np.floating)
    ):
        raise ValueError(
            f"{where}: images must be a numeric array with values in [0, 1]; received "
            f"dtype {images.dtype}."
        )
    images = images.astype("float32", copy=False)
    if not images.size:
        return images
    low, high = float(images.min()), float(images.max())  # NaN and Inf show here
    if not (np.isfinite(low) and np.isfinite(high)):
        bad = ~np.isfinite(images).reshape(len(images), -1)
        raise ValueError(
            f"{where}: images must be finite; received {int(bad.sum())} NaN or infinite "
            f"values (the first in image {int(np.flatnonzero(bad.any(axis=1))[0])})."
        )
    if low < 0 or high > 1:
        hint = (
            " They look like 0-255 pixels: divide them by 255."
            if low >= 0 and high <= 255
            else ""
        )
        warnings.warn(
            f"{where}: images should have values in [0, 1]; received values from {low:g} to "
            f"{high:g}.{hint}",
            stacklevel=4,
        )
    return images


@dataclasses.dataclass(frozen=True, eq=False)
class ImageSplits:
    """Train, validation and test `LabelledImages` sharing one list of classes.

    Unpacks as `train, val, test = splits`.

    Attributes:
        train: the training images.
        val: the validation images (possibly empty).
        test: the test images (possibly empty).
        skipped: paths or ids of the images that could not be read and were skipped
            (`on_error="skip"`), each with the reason: `(source, reason)` pairs.

    `describe()` returns a summary to print: classes, counts per class and split, and the
    skipped files with their reasons.
    """

    train: LabelledImages
    val: LabelledImages
    test: LabelledImages
    skipped: tuple = ()

    def __post_init__(self):
        for name in ("train", "val", "test"):
            part = getattr(self, name)
            if not isinstance(part, LabelledImages):
                raise ValueError(
                    f"ImageSplits: {name} must be a LabelledImages; received a "
                    f"{type(part).__name__}."
                )
            if part.class_names != self.train.class_names:
                raise ValueError(
                    f"ImageSplits: {name} has class_names {part.class_names}, but train has "
                    f"{self.train.class_names}; all splits must share one list of classes."
                )
        if isinstance(self.skipped, (str, bytes)) or not isinstance(self.skipped, (list, tuple)):
            raise ValueError(
                "ImageSplits: skipped must be a list or tuple of (source, reason) pairs; "
                f"received {self.skipped!r}."
            )
        object.__setattr__(self, "skipped", tuple(self.skipped))

    @property
    def class_names(self):
        return self.train.class_names

    def __iter__(self):
        return iter((self.train, self.val, self.test))

    def describe(self, max_skipped=10):
        """What was loaded, as text to print: the images' shape, the count of every class
        in every split, and the skipped files with their reasons (the first
        `max_skipped`).

        Example:

        ```python
        splits = keras_drifa.data.load_image_folder("brain-mri/Training", verbose=0)
        print(splits.describe())
        ```
        """
        max_skipped = _checks.integer("ImageSplits.describe", "max_skipped", max_skipped, 0)
        parts = {"train": self.train, "val": self.val, "test": self.test}
        shape = next((p.images.shape[1:] for p in parts.values() if len(p)), None)
        lines = [
            f"{sum(len(p) for p in parts.values())} images"
            + (f" of {shape[0]}x{shape[1]}x{shape[2]}" if shape else "")
            + f", {len(self.class_names)} classes"
        ]
        width = max(len(str(name)) for name in self.class_names + ("class",))
        lines.append("class".ljust(width) + "".join(f"{name:>8}" for name in parts) + "   total")
        counts = {name: part.class_counts() for name, part in parts.items()}
        for name in self.class_names:
            row = [counts[part][name] for part in parts]
            lines.append(
                str(name).ljust(width) + "".join(f"{c:>8}" for c in row) + f"{sum(row):>8}"
            )
        lines.append(f"skipped: {len(self.skipped)} file(s)")
        lines += [f"  {source}: {reason}" for source, reason in self.skipped[:max_skipped]]
        if len(self.skipped) > max_skipped:
            lines.append(f"  ... and {len(self.skipped) - max_skipped} more (see `skipped`)")
        return "\n".join(lines)

    def __repr__(self):
        return (
            f"ImageSplits(train={len(self.train)}, val={len(self.val)}, test={len(self.test)}, "
            f"classes={self.class_names}, skipped={len(self.skipped)})"
        )
