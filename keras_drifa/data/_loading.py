"""What the file loaders share: argument checks, reading with a progress bar, skipping
unreadable files, and assembling stratified splits."""

import os
import re
import warnings

import keras
import numpy as np

from keras_drifa import _checks, _memory
from keras_drifa.data import _image_io
from keras_drifa.data.labelled_images import ImageSplits, LabelledImages
from keras_drifa.data.splits import stratified_split

_NUMBER = re.compile(r"[+-]?\d+(\.\d*)?")


def class_order(names):
    """Class names sorted as numbers when all are numbers (`'2'` before `'10'`), else as
    text."""
    if all(_NUMBER.fullmatch(name) for name in names):
        return sorted(names, key=lambda name: (float(name), name))
    return sorted(names)


def check_one_spelling(where, what, names, advice):
    """Refuses class names that differ only in case or inner spacing (`'Mel'`, `'mel'`,
    `'m el'`): they would silently become different classes. `names` maps each name to
    where it was found; `what` starts the message."""
    spellings = {}
    for name, found in names.items():
        spellings.setdefault(" ".join(name.split()).casefold(), []).append((name, found))
    for variants in spellings.values():
        if len(variants) > 1:
            shown = ", ".join(f"{name!r} ({found})" for name, found in variants)
            raise ValueError(
                f"{where}: {what} in {len(variants)} ways: {shown}; expected one spelling "
                f"per class. {advice}"
            )


def check_options(where, image_size, channels, interpolation, on_error, seed, verbose):
    """Checks the options every loader has; returns `(image_size, channels, verbose)`."""
    size = _checks.image_size(where, image_size, allow_none=True)
    channels = _checks.channels(where, channels)
    _checks.choice(where, "interpolation", interpolation, _image_io.INTERPOLATIONS)
    _checks.choice(where, "on_error", on_error, _image_io.ON_ERROR)
    _checks.seed(where, seed, allow_none=False)
    return size, channels, _checks.verbose(where, verbose)


def check_extensions(where, extensions):
    if (
        isinstance(extensions, str)
        or not extensions
        or not all(isinstance(e, str) and e.startswith(".") for e in extensions)
    ):
        raise ValueError(
            f"{where}: extensions must be a non-empty list of file extensions such as "
            f"('.png', '.jpg'); received {extensions!r}."
        )
    return tuple(e.lower() for e in extensions)


def _existing(where, name, path, kind, exists):
    path = _checks.path(where, name, path)
    if not exists(path):
        other = (_image_io.file_kind(path) or "a file") if os.path.exists(path) else None
        raise FileNotFoundError(
            f"{where}: {name} {path!r} is not an existing {kind}"
            + (f" (it is {other})." if other else ".")
        )
    return path


def existing_directory(where, name, path):
    return _existing(where, name, path, "directory", os.path.isdir)


def existing_file(where, name, path):
    """A regular file (or a link to one): a FIFO or a device would block or never end."""
    return _existing(where, name, path, "file", os.path.isfile)


def read_all(
    where, items, image_size, channels, interpolation, on_error, verbose, searched="",
    allow_large=False,
):
    """Reads `items`, a list of `(source, path)`; `path` None means no file was found
    (in `searched`, which the error message names). The memory the images will take is
    checked first (from `image_size`, or from the first image when it is `None`).

    Returns `(images, kept, skipped)`: the images of the readable items, their positions
    in `items`, and `(source, reason)` for each skipped one. Raises on the first failure
    when `on_error="raise"`.
    """
    if image_size is not None:
        check_memory(where, len(items), image_size + (channels,), allow_large)
    Image, _ = _image_io.pillow(where)
    errors = _image_io.read_errors(Image)
    images, kept, skipped = [], [], []
    progress = keras.utils.Progbar(len(items), unit_name="image") if verbose and items else None
    for i, (source, path) in enumerate(items):
        try:
            if path is None:
                raise FileNotFoundError(f"no image file found{searched}")
            image = _read_naming_warnings(path, image_size, channels, interpolation, where)
        except errors as error:
            reason = str(error) or type(error).__name__
            if on_error == "raise":
                raise ValueError(
                    f"{where}: cannot read image {path or source!r}: {reason}. Pass "
                    "on_error='skip' to skip unreadable images with a warning."
                ) from error
            skipped.append((path or source, reason))
        else:
            if images and image.shape != images[0].shape:
                raise ValueError(
                    f"{where}: image {path!r} has size {image.shape[:2]} but "
                    f"{items[kept[0]][1]!r} has {images[0].shape[:2]}; pass image_size="
                    "(height, width) to resize all images to one size."
                )
            if not images and image_size is None:
                check_memory(where, len(items), image.shape, allow_large)
            images.append(image)
            kept.append(i)
        if progress is not None:
            progress.update(i + 1)
    if skipped:
        shown = "; ".join(f"{s}: {r}" for s, r in skipped[:3])
        warnings.warn(
            f"{where}: skipped {len(skipped)} of {len(items)} images that could not be "
            f"read ({shown}{'; ...' if len(skipped) > 3 else ''}). The list is in the "
            "result's `skipped`.",
            stacklevel=3,
        )
    shape = (0,) + (tuple(image_size) if image_size else (0, 0)) + (channels,)
    stacked = np.stack(images) if images else np.zeros(shape, "float32")
    return stacked, kept, tuple(skipped)


def check_memory(where, count, shape, allow_large):
    """The memory guard for `count` float32 images of `shape` `(height, width, channels)`."""
    height, width, channels = shape
    _memory.check_allocation(
        where,
        f"{count} images of {height}x{width}x{channels} float32",
        4 * count * height * width * channels,
        allow_large,
        "pass a smaller image_size, such as (224, 224) (one int n means n x n images)",
    )


def _read_naming_warnings(path, image_size, channels, interpolation, where):
    """`_image_io.read_image`, with Pillow's warnings about the file (corrupt metadata, a
    possible decompression bomb) given again with the file's path."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        image = _image_io.read_image(path, image_size, channels, interpolation, where)
    for warning in caught:
        warnings.warn(
            f"{where}: image {path!r}: {warning.message}", warning.category, stacklevel=4
        )
    return image


def check_no_empty_class(where, labels, class_names, after_skipping):
    counts = np.bincount(labels, minlength=len(class_names))
    empty = [name for name, count in zip(class_names, counts) if count == 0]
    if empty:
        listed = _abridged([repr(name) for name in empty])
        raise ValueError(
            f"{where}: class{'es' if len(empty) > 1 else ''} [{listed}] "
            f"{'have' if len(empty) > 1 else 'has'} no images"
            + (" left after skipping unreadable files" if after_skipping else "")
            + "; every class needs at least one. Class counts: {"
            + _abridged([f"{name!r}: {count}" for name, count in zip(class_names, counts)])
            + "}."
        )


def _abridged(items, limit=10):
    """The first `limit` of `items`, comma-separated, for a message."""
    more = f", ... ({len(items) - limit} more)" if len(items) > limit else ""
    return ", ".join(str(item) for item in items[:limit]) + more


def splits(data, val_fraction, test_fraction, seed, skipped=(), test=None):
    """Stratified `ImageSplits` of `data` (a `LabelledImages`); a separate `test` set
    replaces the test fraction."""
    train, val, held_out = stratified_split(data.labels, val_fraction, test_fraction, seed)
    return ImageSplits(
        data.subset(train),
        data.subset(val),
        test if test is not None else data.subset(held_out),
        tuple(skipped),
    )


def labelled(images, labels, class_names, sources):
    return LabelledImages(images, np.asarray(labels, "int32"), tuple(class_names), tuple(sources))
