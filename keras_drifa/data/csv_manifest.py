"""`load_csv_manifest`: images listed in a CSV file with their labels (HAM10000)."""

import codecs
import csv
import os

from keras_drifa import _checks
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
    encoding="utf-8",
    allow_large=False,
):
    """Loads the images a CSV manifest lists, with their labels, into stratified splits.

    Every row of `manifest` names one image (`id_column`) and its class (`label_column`).
    An image id is a file name in one of `image_dirs`, with or without its extension: an
    id without one is completed with the extension of the one file of that name whose
    extension is in `extensions`. The defaults fit HAM10000's `HAM10000_metadata.csv`
    (`image_id` such as `ISIC_0027419`, diagnosis `dx`) with the images in
    `HAM10000_images_part_1/` and `HAM10000_images_part_2/`. Nothing is downloaded.

    Args:
        manifest: path of the comma-separated CSV file, with a header row.
        image_dirs: a directory, or a list or tuple of directories, holding the image files
            (not searched recursively; an id found in several is taken from the first).
        id_column: the column of image ids.
        label_column: the column of class labels (another column than `id_column`).
        class_names: the classes in label order (a list or tuple). Default: the distinct
            labels, sorted as numbers when all are numbers (`0, 1, 2, ..., 10`), else as
            text. If given, a label outside it is an error, and so is a class without rows.
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
            ids, two rows naming one file such as `ISIC_1` and `ISIC_1.jpg`, one label
            spelled in several ways such as `Mel` and `mel`, undecodable text) always
            raise, naming the file and lines. Surrounding spaces of ids and labels are
            ignored.
        verbose: 1 (or True) shows a progress bar while reading, 0 (or False) is silent.
        allow_large: the loader estimates the memory of the loaded images (images x
            height x width x channels x 4 bytes) before reading them, and raises a
            `ValueError` above half of the machine's memory (a typo such as
            `image_size=224*224` would otherwise be killed by the out-of-memory killer);
            `True` loads anyway.
        encoding: the manifest's text encoding: "utf-8" (default; a byte-order mark, as
            Excel writes, is ignored), or another such as "latin-1" or "utf-16".

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
    size, channels, verbose = _loading.check_options(
        where, image_size, channels, interpolation, on_error, seed, verbose
    )
    extensions = _loading.check_extensions(where, extensions)
    val_fraction, test_fraction = _checks.fractions(where, val_fraction, test_fraction)
    _checks.text(where, "id_column", id_column)
    _checks.text(where, "label_column", label_column)
    if id_column == label_column:
        raise ValueError(
            f"{where}: id_column and label_column must be different columns; both are "
            f"{id_column!r}."
        )
    encoding = _checks.encoding(where, encoding)
    if class_names is not None:
        class_names = _checks.names(where, "class_names", class_names, "labels")
    manifest = _loading.existing_file(where, "manifest", manifest)
    if isinstance(image_dirs, (str, bytes, os.PathLike)):
        image_dirs = [image_dirs]
    if not isinstance(image_dirs, (list, tuple)) or not image_dirs:
        raise ValueError(
            f"{where}: image_dirs must be a directory or a non-empty list of directories; "
            f"received {image_dirs!r}."
        )
    image_dirs = [_loading.existing_directory(where, "image directory", d) for d in image_dirs]

    rows = _read_rows(where, manifest, id_column, label_column, encoding)
    class_names = _classes(where, manifest, rows, label_column, class_names)
    index = {name: label for label, name in enumerate(class_names)}
    files = _FileIndex(where, image_dirs, extensions)
    items = [(image_id, files.find(image_id)) for _, image_id, _ in rows]
    _check_one_row_per_file(where, manifest, rows, items)
    images, kept, skipped = _loading.read_all(
        where,
        items,
        size,
        channels,
        interpolation,
        on_error,
        verbose,
        searched=f" in {image_dirs} with an extension in {list(extensions)}",
        allow_large=allow_large,
    )
    labels = [index[rows[i][2]] for i in kept]
    _loading.check_no_empty_class(where, labels, class_names, bool(skipped))
    data = _loading.labelled(images, labels, class_names, [items[i][1] for i in kept])
    return _loading.splits(data, val_fraction, test_fraction, seed, skipped)


def _read_rows(where, manifest, id_column, label_column, encoding):
    """`(line, image_id, label)` for every data row, after checking the manifest."""
    # UTF-8 also reads files that start with a byte-order mark.
    codec = "utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding
    try:
        with open(manifest, newline="", encoding=codec) as file:
            reader = csv.DictReader(file)
            return _checked_rows(where, manifest, reader, id_column, label_column)
    except UnicodeError as error:
        found = (
            f"it holds the byte {error.object[error.start:error.start + 1]!r}, which is "
            f"not valid there"
            if isinstance(error, UnicodeDecodeError)
            else str(error)
        )
        raise ValueError(
            f"{where}: cannot decode manifest {manifest!r} as {encoding} text: {found}. Pass "
            "its encoding, e.g. encoding='latin-1' or encoding='utf-16', or save it as "
            "UTF-8 CSV."
        ) from error
    except csv.Error as error:
        raise ValueError(
            f"{where}: manifest {manifest!r} line {reader.line_num + 1} is not valid CSV: "
            f"{error}."
        ) from error
    except OSError as error:
        raise ValueError(f"{where}: cannot read manifest {manifest!r}: {error}.") from error


def _checked_rows(where, manifest, reader, id_column, label_column):
    columns = reader.fieldnames
    if columns is None:
        raise ValueError(
            f"{where}: manifest {manifest!r} is empty; expected a header row with the "
            f"columns {id_column!r} and {label_column!r}, then one row per image."
        )
    missing = [c for c in (id_column, label_column) if c not in columns]
    if missing:
        hint = next(
            (
                f" The header looks separated by {name}, not commas: save the file as "
                "comma-separated CSV."
                for sep, name in ((";", "semicolons"), ("\t", "tabs"))
                if len(columns) == 1 and sep in columns[0]
            ),
            "",
        )
        raise ValueError(
            f"{where}: manifest {manifest!r} has no column {missing[0]!r} "
            f"(id_column={id_column!r}, label_column={label_column!r}); its header has "
            f"the columns {columns}.{hint}"
        )
    rows, first_line = [], {}
    for row in reader:
        line = reader.line_num
        if any(isinstance(value, str) and "\0" in value for value in row.values()):
            raise ValueError(
                f"{where}: manifest {manifest!r} line {line} contains a NUL character: it "
                "is not text in the given encoding (UTF-16? pass encoding='utf-16'), or "
                "it is not a CSV file."
            )
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


def _check_one_row_per_file(where, manifest, rows, items):
    """Ids such as `ISIC_1` and `ISIC_1.jpg` name one file: two rows would load it twice,
    possibly under two labels."""
    first = {}
    for (line, image_id, label), (_, path) in zip(rows, items):
        if path is None:
            continue
        key = os.path.realpath(path)
        if key in first:
            line_0, id_0, label_0 = first[key]
            raise ValueError(
                f"{where}: manifest {manifest!r} lines {line_0} ({id_0!r}, label {label_0!r}) "
                f"and {line} ({image_id!r}, label {label!r}) both name the file {path!r}; "
                "expected one row per image file."
            )
        first[key] = (line, image_id, label)


def _classes(where, manifest, rows, label_column, class_names):
    spellings = {}
    for line, _, label in rows:
        spellings.setdefault(label, f"first on line {line}")
    _loading.check_one_spelling(
        where, f"manifest {manifest!r} spells one label of column {label_column!r}", spellings,
        "Correct the manifest (labels are case-sensitive; surrounding spaces are ignored).",
    )
    present = _loading.class_order({label for _, _, label in rows})
    if class_names is None:
        return present
    known = set(class_names)
    unknown = [(line, label) for line, _, label in rows if label not in known]
    if unknown:
        values = sorted({label for _, label in unknown})
        raise ValueError(
            f"{where}: manifest {manifest!r} has {len(unknown)} rows whose {label_column!r} "
            f"is not in class_names {list(class_names)}: values {values} (first on line "
            f"{unknown[0][0]})."
        )
    empty = [name for name in class_names if name not in set(present)]
    if empty:
        raise ValueError(
            f"{where}: class{'es' if len(empty) > 1 else ''} {empty} "
            f"{'have' if len(empty) > 1 else 'has'} no rows in manifest {manifest!r}; every "
            f"class in class_names needs at least one image."
        )
    return list(class_names)


class _FileIndex:
    """Finds the file of an image id in a list of directories, listing each once."""

    def __init__(self, where, directories, extensions):
        self.where, self.directories, self.extensions = where, directories, extensions
        self.by_name, self.by_stem = {}, {}
        for directory in directories:
            with os.scandir(directory) as listing:
                entries = sorted(listing, key=lambda e: e.name)
            # Not only regular files: an id naming a directory, a FIFO or a device is
            # refused when read, with its name, rather than reported as missing.
            for entry in entries:
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
