"""`load_csv_manifest`: images listed in a CSV file with their labels (HAM10000)."""

import csv
import os

from keras_drifa.data import _image_io, _loading


def load_csv_manifest(
    manifest,
    image_dirs,
    *,
    id_column="image_id",
    label_column="dx",
    class_names=None,
    image_size=(128, 128),
    channels=3,
    extensions=_image_io.IMAGE_EXTENSIONS,
    val_fraction=0.15,
    test_fraction=0.15,
    seed=0,
    interpolation="bilinear",
    on_error="raise",
    verbose=1,
):
    """Loads the images a CSV manifest lists, with their labels, into stratified splits.

    Every row of `manifest` names one image (`id_column`) and its class (`label_column`).
    An image id is a file name in one of `image_dirs`, with or without its extension: an
    id without one is completed with the extension of the one file of that name whose
    extension is in `extensions`. The defaults fit HAM10000's `HAM10000_metadata.csv`
    (`image_id` such as `ISIC_0027419`, diagnosis `dx`) with the images in
    `HAM10000_images_part_1/` and `HAM10000_images_part_2/`. Nothing is downloaded.

    Args:
        manifest: path of the CSV file (UTF-8, with a header row).
        image_dirs: a directory, or a list of directories, holding the image files (not
            searched recursively; an id found in several is taken from the first).
        id_column: the column of image ids.
        label_column: the column of class labels.
        class_names: the classes in label order. Default: the sorted distinct labels. If
            given, a label outside it is an error, and so is a class without rows.
        image_size: `(height, width)` (or one int) every image is resized to, or `None`
            to keep the files' size (all images must then share one size).
        channels: 3 (RGB) or 1 (grayscale).
        extensions: file extensions (case-insensitive) tried for ids without one.
        val_fraction: fraction of each class for validation, in [0, 1).
        test_fraction: fraction of each class for testing, in [0, 1).
        seed: integer seed of the split.
        interpolation: "bilinear", "nearest", "bicubic", "lanczos" or "area".
        on_error: "raise" (default) stops at the first missing, unreadable or corrupt
            image with an error naming it; "skip" leaves such images out, warns with
            their count, and lists them in the result's `skipped`. Problems with the
            manifest itself (missing columns, empty labels, unknown labels, duplicate
            ids) always raise.
        verbose: 1 shows a progress bar while reading, 0 is silent.

    Returns:
        An `ImageSplits` with `train`, `val` and `test` `LabelledImages`.

    Example:

    ```python
    splits = keras_drifa.data.load_csv_manifest(
        "HAM10000_metadata.csv", ["HAM10000_images_part_1", "HAM10000_images_part_2"])
    print(splits.class_names)  # ('akiec', 'bcc', 'bkl', 'df', 'mel', 'nv', 'vasc')
    ```
    """
    where = "load_csv_manifest"
    size = _loading.check_options(
        where, image_size, channels, interpolation, on_error, seed, allow_none_size=True
    )
    extensions = _loading.check_extensions(where, extensions)
    manifest = os.fspath(manifest)
    if not os.path.isfile(manifest):
        raise FileNotFoundError(f"{where}: manifest {manifest!r} is not an existing file.")
    if isinstance(image_dirs, (str, os.PathLike)):
        image_dirs = [image_dirs]
    if not image_dirs:
        raise ValueError(
            f"{where}: image_dirs must name at least one directory; received {image_dirs!r}."
        )
    image_dirs = [_loading.existing_directory(where, "image directory", d) for d in image_dirs]

    rows = _read_rows(where, manifest, id_column, label_column)
    class_names = _classes(where, manifest, rows, label_column, class_names)
    index = {name: label for label, name in enumerate(class_names)}
    files = _FileIndex(where, image_dirs, extensions)
    items = [(image_id, files.find(image_id)) for _, image_id, _ in rows]
    images, kept, skipped = _loading.read_all(
        where,
        items,
        size,
        channels,
        interpolation,
        on_error,
        verbose,
        searched=f" in {image_dirs} with an extension in {list(extensions)}",
    )
    labels = [index[rows[i][2]] for i in kept]
    _loading.check_no_empty_class(where, labels, class_names, bool(skipped))
    data = _loading.labelled(images, labels, class_names, [items[i][1] for i in kept])
    return _loading.splits(data, val_fraction, test_fraction, seed, skipped)


def _read_rows(where, manifest, id_column, label_column):
    """`(line, image_id, label)` for every data row, after checking the manifest."""
    with open(manifest, newline="", encoding="utf-8-sig") as file:
        reader = csv.DictReader(file)
        columns = reader.fieldnames or []
        missing = [c for c in (id_column, label_column) if c not in columns]
        if missing:
            raise ValueError(
                f"{where}: manifest {manifest!r} has no column {missing[0]!r} "
                f"(id_column={id_column!r}, label_column={label_column!r}); its header has "
                f"the columns {columns}."
            )
        rows, first_line = [], {}
        for row in reader:
            line = reader.line_num
            image_id = (row[id_column] or "").strip()
            label = (row[label_column] or "").strip()
            if not image_id:
                raise ValueError(
                    f"{where}: manifest {manifest!r} line {line} has an empty {id_column!r}."
                )
            if not label:
                raise ValueError(
                    f"{where}: manifest {manifest!r} line {line} (image {image_id!r}) has no "
                    f"label in column {label_column!r}; every image needs one."
                )
            if image_id in first_line:
                raise ValueError(
                    f"{where}: image id {image_id!r} appears twice in manifest {manifest!r}, "
                    f"on lines {first_line[image_id]} and {line}."
                )
            first_line[image_id] = line
            rows.append((line, image_id, label))
    if not rows:
        raise ValueError(f"{where}: manifest {manifest!r} lists no images.")
    return rows


def _classes(where, manifest, rows, label_column, class_names):
    present = sorted({label for _, _, label in rows})
    if class_names is None:
        return present
    if isinstance(class_names, str) or len(set(class_names)) != len(class_names):
        raise ValueError(
            f"{where}: class_names must be a list of distinct labels; received {class_names!r}."
        )
    known = set(class_names)
    unknown = [(line, label) for line, _, label in rows if label not in known]
    if unknown:
        values = sorted({label for _, label in unknown})
        raise ValueError(
            f"{where}: manifest {manifest!r} has {len(unknown)} rows whose {label_column!r} "
            f"is not in class_names {list(class_names)}: values {values} (first on line "
            f"{unknown[0][0]})."
        )
    return list(class_names)


class _FileIndex:
    """Finds the file of an image id in a list of directories, listing each once."""

    def __init__(self, where, directories, extensions):
        self.where, self.directories, self.extensions = where, directories, extensions
        self.by_name, self.by_stem = {}, {}
        for directory in directories:
            for entry in sorted(os.scandir(directory), key=lambda e: e.name):
                if not entry.is_file():
                    continue
                self.by_name.setdefault(entry.name, entry.path)
                stem, extension = os.path.splitext(entry.name)
                if extension.lower() in extensions:
                    self.by_stem.setdefault((directory, stem), []).append(entry.path)

    def find(self, image_id):
        """The path for `image_id`, or None if no directory has it."""
        if image_id in self.by_name:
            return self.by_name[image_id]
        for directory in self.directories:
            candidates = self.by_stem.get((directory, image_id), [])
            if len(candidates) > 1:
                raise ValueError(
                    f"{self.where}: image id {image_id!r} matches several files in "
                    f"{directory!r}: {[os.path.basename(c) for c in candidates]}; keep one, "
                    "or put the extension in the manifest."
                )
            if candidates:
                return candidates[0]
        return None
