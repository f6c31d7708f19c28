"""`load_image_folder`: images in one folder per class (brain MRI, SIPaKMeD, IQ-OTH/NCCD)."""

import os
import pathlib

import numpy as np

from keras_drifa import _checks
from keras_drifa.data import _image_io, _loading


def load_image_folder(
    directory,
    *,
    image_size=(128, 128),
    channels=3,
    class_names=None,
    pattern="**/*",
    extensions=_image_io.IMAGE_EXTENSIONS,
    val_fraction=0.15,
    test_fraction=None,
    test_directory=None,
    seed=0,
    interpolation="bilinear",
    on_error="raise",
    verbose=1,
    allow_large=False,
):
    """Loads a folder-per-class image tree into stratified train/validation/test splits.

    `directory` holds one sub-folder per class, named after it; the images of a class are
    the files under its folder that match `pattern` and have one of `extensions`:

    ```
    directory/
        glioma/     img_001.jpg  img_002.jpg ...
        meningioma/ ...
    ```

    This is the layout of the brain tumour MRI data set (`Training/` and `Testing/`, each
    with `glioma`, `meningioma`, `notumor`, `pituitary`), of IQ-OTH/NCCD (`Bengin cases`,
    `Malignant cases`, `Normal cases`) and of SIPaKMeD (`im_Dyskeratotic/CROPPED/*.bmp`,
    ...; pass `pattern="CROPPED/*.bmp"` for the single-cell crops). Nothing is
    downloaded. Images are scaled to [0, 1], resized to `image_size` and converted to
    `channels` channels; 16-bit grayscale images are scaled by 65535.

    Args:
        directory: the folder of class folders. Folder names starting with "." are ignored.
        image_size: `(height, width)` (or one int) every image is resized to, or `None`
            to keep the files' size (all images must then share one size).
        channels: 3 (RGB; grayscale images are repeated) or 1 (grayscale; RGB images are
            converted to luma).
        class_names: the class folders in label order (a list or tuple). Default: all
            class folders, sorted (as numbers when all names are numbers: `2` before
            `10`). Folders whose names differ only in case or spacing are an error. If
            given, it must name exactly the class folders present.
        pattern: glob pattern, relative to each class folder and inside it (no `..`), for
            the image files (default: every file at any depth).
        extensions: file extensions (case-insensitive) that count as images.
        val_fraction: fraction of each class for validation, in [0, 1).
        test_fraction: fraction of each class for testing. Default 0.15, or 0 when
            `test_directory` is given.
        test_directory: an optional second folder of class folders (e.g. the brain MRI
            `Testing/`) that becomes the test split as it is; it must have the same classes
            and must not be `directory` itself.
        seed: integer seed of the split.
        interpolation: "bilinear", "nearest", "bicubic", "lanczos" or "area".
        on_error: "raise" (default) stops at the first unreadable or corrupt image with an
            error naming it; "skip" leaves such images out, warns with their count, and
            lists them in the result's `skipped`.
        verbose: 1 (or True) shows a progress bar while reading, 0 (or False) is silent.
        allow_large: the loader estimates the memory of the loaded images (images x
            height x width x channels x 4 bytes) before reading them, and raises a
            `ValueError` above half of the machine's memory (a typo such as
            `image_size=224*224` would otherwise be killed by the out-of-memory killer);
            `True` loads anyway.

    Returns:
        An `ImageSplits` with `train`, `val` and `test` `LabelledImages` (float32 images
        `(N, height, width, channels)` in [0, 1], int32 labels, `class_names`, file paths).

    Example:

    ```python
    splits = keras_drifa.data.load_image_folder(
        "brain-tumor-mri-dataset/Training", test_directory="brain-tumor-mri-dataset/Testing",
        image_size=(128, 128))
    print(splits.class_names)  # ('glioma', 'meningioma', 'notumor', 'pituitary')
    ```
    """
    where = "load_image_folder"
    directory = _loading.existing_directory(where, "directory", directory)
    size, channels, verbose = _loading.check_options(
        where, image_size, channels, interpolation, on_error, seed, verbose
    )
    extensions = _loading.check_extensions(where, extensions)
    _check_pattern(where, pattern)
    if test_directory is not None:
        test_directory = _loading.existing_directory(where, "test_directory", test_directory)
        if os.path.samefile(directory, test_directory):
            raise ValueError(
                f"{where}: test_directory {test_directory!r} is directory {directory!r} "
                "itself; its images would be both trained and tested on. Pass a separate "
                "folder, or test_fraction instead."
            )
    if test_fraction is None:
        test_fraction = 0.0 if test_directory is not None else 0.15
    elif test_directory is not None and test_fraction != 0:
        raise ValueError(
            f"{where}: test_directory={test_directory!r} already provides the test split; "
            f"do not also pass test_fraction={test_fraction!r}."
        )
    val_fraction, test_fraction = _checks.fractions(where, val_fraction, test_fraction)

    class_names = _class_folders(where, "directory", directory, class_names)
    items, labels = _image_files(where, directory, class_names, pattern, extensions)
    num_main = len(items)
    if test_directory is not None:
        _class_folders(where, "test_directory", test_directory, class_names)
        test_items, test_labels = _image_files(
            where, test_directory, class_names, pattern, extensions
        )
        items, labels = items + test_items, labels + test_labels

    images, kept, skipped = _loading.read_all(
        where, items, size, channels, interpolation, on_error, verbose,
        allow_large=allow_large,
    )
    data = _loading.labelled(
        images, np.asarray(labels, "int32")[kept], class_names, [items[i][0] for i in kept]
    )
    in_test = np.asarray(kept, "intp") >= num_main
    main = data.subset(np.flatnonzero(~in_test))
    _loading.check_no_empty_class(where, main.labels, class_names, bool(skipped))
    test = data.subset(np.flatnonzero(in_test)) if test_directory is not None else None
    return _loading.splits(main, val_fraction, test_fraction, seed, skipped, test)


def _check_pattern(where, pattern):
    if not isinstance(pattern, str) or not pattern:
        raise ValueError(f"{where}: pattern must be a non-empty glob string; received {pattern!r}.")
    if os.path.isabs(pattern) or ".." in pathlib.PurePath(pattern).parts:
        raise ValueError(
            f"{where}: pattern must be relative to each class folder and stay inside it "
            f"(no leading '/' and no '..'), since the folder gives the label; received "
            f"{pattern!r}."
        )


def _class_folders(where, name, directory, class_names):
    with os.scandir(directory) as entries:
        found = sorted(
            entry.name
            for entry in entries
            if entry.is_dir() and not entry.name.startswith(".")
        )
    if not found:
        raise ValueError(
            f"{where}: {name} {directory!r} contains no class folders; expected one "
            "sub-folder of images per class."
        )
    _loading.check_one_spelling(
        where, f"{name} {directory!r} names one class", {f: "a folder" for f in found},
        "Merge the folders.",
    )
    found = _loading.class_order(found)
    if class_names is None:
        return found
    class_names = _checks.names(where, "class_names", class_names, "folder names")
    if set(class_names) != set(found):
        missing = sorted(set(class_names) - set(found))
        extra = sorted(set(found) - set(class_names))
        raise ValueError(
            f"{where}: class_names must name exactly the class folders in {name} "
            f"{directory!r}, which are {found}; "
            + "; ".join(
                part
                for part in (
                    f"no folder for {missing}" if missing else "",
                    f"folders {extra} are not in class_names" if extra else "",
                )
                if part
            )
            + "."
        )
    return class_names


def _image_files(where, directory, class_names, pattern, extensions):
    items, labels = [], []
    for label, name in enumerate(class_names):
        folder = pathlib.Path(directory, name)
        try:
            found = list(folder.glob(pattern))
        # pathlib refuses absolute patterns with NotImplementedError, others with ValueError.
        except (ValueError, NotImplementedError) as error:
            raise ValueError(
                f"{where}: pattern {pattern!r} is not a valid glob pattern: {error}."
            ) from error
        # Everything named like an image but a directory (whose images the pattern finds)
        # is kept: a broken link, a FIFO or a device then fails with its name when read,
        # instead of leaving a silent gap.
        files = sorted(
            str(path) for path in found if path.suffix.lower() in extensions and not path.is_dir()
        )
        if not files:
            raise ValueError(
                f"{where}: class folder {str(folder)!r} has no images: no file matches "
                f"pattern {pattern!r} with an extension in {list(extensions)}."
            )
        items += [(path, path) for path in files]
        labels += [label] * len(files)
    return items, labels
