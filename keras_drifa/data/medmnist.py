"""`load_medmnist`: a MedMNIST `.npz` file (PathMNIST, DermaMNIST, BloodMNIST, ...)."""

import zipfile
import zlib

import keras
import numpy as np

from keras_drifa import _checks, _memory
from keras_drifa.data import _image_io, _loading
from keras_drifa.data.labelled_images import ImageSplits

SPLITS = ("train", "val", "test")


def load_medmnist(
    path,
    *,
    image_size=None,
    channels=3,
    class_names=None,
    val_fraction=None,
    test_fraction=None,
    seed=0,
    interpolation="bilinear",
    verbose=1,
    allow_large=False,
):
    """Loads a 2-D MedMNIST `.npz` file with its own or a new stratified split.

    The file holds `train_images`, `train_labels`, `val_images`, `val_labels`,
    `test_images` and `test_labels` (uint8 images `(N, H, W)` or `(N, H, W, 3)`, labels
    `(N, 1)`), as downloaded by the `medmnist` package or from zenodo.org/records/10519652.
    Nothing is downloaded here. Multi-label (ChestMNIST) and 3-D (OrganMNIST3D, ...)
    files are not supported.

    Args:
        path: the `.npz` file.
        image_size: `(height, width)` (or one int) to resize to, or `None` (default) to
            keep the file's size (28, 64, 128 or 224).
        channels: 3 (RGB; grayscale images are repeated) or 1 (grayscale).
        class_names: the class names in label order, a list or tuple of strings (MedMNIST
            files store only label numbers; its `INFO[flag]["label"]` has the names).
            Default: `"0"`, `"1"`, ... up to the largest label.
        val_fraction: `None` (default) keeps the file's validation split. Together with
            `test_fraction`, a number pools all images and splits them again, stratified.
        test_fraction: `None` keeps the file's test split, or the fraction for a new split.
        seed: integer seed of a new split.
        interpolation: "bilinear", "nearest", "bicubic", "lanczos" or "area".
        verbose: 1 (or True) shows a progress bar while resizing, 0 (or False) is silent.
        allow_large: the `.npy` headers in the file are read first: a shape the file cannot
            hold is an error, and images that would take more than half of the machine's
            memory as float32 raise a `ValueError`; `True` loads them anyway.

    Returns:
        An `ImageSplits` with `train`, `val` and `test` `LabelledImages`.

    Example:

    ```python
    splits = keras_drifa.data.load_medmnist("dermamnist.npz", image_size=64)
    train, val, test = splits
    ```
    """
    where = "load_medmnist"
    size, channels, verbose = _loading.check_options(
        where, image_size, channels, interpolation, "raise", seed, verbose
    )
    if (val_fraction is None) != (test_fraction is None):
        raise ValueError(
            f"{where}: pass both val_fraction and test_fraction to split the images again, "
            f"or neither to keep the file's split; received val_fraction={val_fraction!r}, "
            f"test_fraction={test_fraction!r}."
        )
    if val_fraction is not None:
        val_fraction, test_fraction = _checks.fractions(where, val_fraction, test_fraction)
    if class_names is not None:
        class_names = _checks.names(where, "class_names", class_names)
    path = _loading.existing_file(where, "path", path)
    parts = _read_archive(where, path, size, channels, allow_large)
    for s, (x, _) in parts.items():
        _check_images(where, path, s, x)
    if sum(len(x) for x, _ in parts.values()) == 0:
        raise ValueError(f"{where}: {path!r} holds no images: every split is empty.")
    sizes = {s: x.shape[1:3] for s, (x, _) in parts.items() if len(x)}
    if size is None and len(set(sizes.values())) > 1:
        raise ValueError(
            f"{where}: the splits of {path!r} have different image sizes {sizes}; pass "
            "image_size=(height, width) to resize them to one size."
        )

    labels = {s: _labels(where, path, s, y, len(x)) for s, (x, y) in parts.items()}
    largest = max((int(y.max()) for y in labels.values() if y.size), default=-1)
    if class_names is None:
        class_names = [str(k) for k in range(largest + 1)]
    elif largest >= len(class_names):
        raise ValueError(
            f"{where}: {path!r} has label {largest}, but class_names names only "
            f"{len(class_names)} classes {list(class_names)}."
        )
    all_labels = np.concatenate(list(labels.values()))
    _loading.check_no_empty_class(where, all_labels, class_names, False)

    data = {
        s: _loading.labelled(
            _images(where, path, s, parts[s][0], size, channels, interpolation, verbose),
            labels[s],
            class_names,
            [f"{path}:{s}[{i}]" for i in range(len(labels[s]))],
        )
        for s in SPLITS
    }
    if val_fraction is None:
        return ImageSplits(data["train"], data["val"], data["test"])
    pooled = _loading.labelled(
        np.concatenate([data[s].images for s in SPLITS]),
        all_labels,
        class_names,
        sum((data[s].sources for s in SPLITS), ()),
    )
    return _loading.splits(pooled, val_fraction, test_fraction, seed)


def _read_archive(where, path, size, channels, allow_large):
    """`{split: (images, labels)}` from the file, or an error that names it."""
    expected = [f"{s}_{kind}" for s in SPLITS for kind in ("images", "labels")]
    damaged = (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error)
    arrays = {}
    # Opened here, not by np.load, so that the file is closed whatever goes wrong.
    with _opened(where, path) as file:
        _check_headers(where, path, file, size, channels, allow_large)
        file.seek(0)
        try:
            archive = np.load(file, allow_pickle=False)
        except damaged as error:
            raise ValueError(
                f"{where}: {path!r} is not a readable .npz file: {error}"
            ) from error
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise ValueError(
                f"{where}: {path!r} holds a single array (a .npy file); a MedMNIST file is "
                f"an .npz archive of {expected}."
            )
        with archive:
            missing = [key for key in expected if key not in archive.files]
            if missing:
                raise ValueError(
                    f"{where}: {path!r} has no {missing}; a MedMNIST file holds {expected}, "
                    f"and this one holds {sorted(archive.files)}."
                )
            for key in expected:
                try:
                    arrays[key] = archive[key]
                except damaged as error:
                    raise ValueError(
                        f"{where}: cannot read {key} from {path!r} (a damaged or truncated "
                        f"file?): {error}"
                    ) from error
                if not isinstance(arrays[key], np.ndarray):  # NpzFile's raw bytes
                    raise ValueError(
                        f"{where}: {key} in {path!r} is not a NumPy array (.npy) but "
                        f"{len(arrays[key])} bytes of something else."
                    )
    return {s: (arrays[f"{s}_images"], arrays[f"{s}_labels"]) for s in SPLITS}


def _check_headers(where, path, file, size, channels, allow_large):
    """Reads the `.npy` headers inside the archive, before any array: a shape the entry
    cannot hold is damage, and a large one meets the memory guard (np.load would allocate
    first and fail, or be killed, after). Other damage (no header, pickled objects) is left
    to np.load, whose errors the caller words."""
    try:
        archive = zipfile.ZipFile(file)
    except (zipfile.BadZipFile, OSError):
        return  # not an archive: np.load says what it is
    images_bytes, described = 0, []
    with archive:
        for info in archive.infolist():
            name = info.filename[: -len(".npy")]
            if not info.filename.endswith(".npy"):
                continue
            try:
                with archive.open(info) as member:
                    version = np.lib.format.read_magic(member)
                    read_header = {
                        (1, 0): np.lib.format.read_array_header_1_0,
                        (2, 0): np.lib.format.read_array_header_2_0,
                    }.get(version)
                    if read_header is None:
                        continue
                    shape, _, dtype = read_header(member)
                    header_bytes = member.tell()
            except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error):
                continue
            if dtype.hasobject:
                continue
            claimed = int(np.prod(shape, dtype=object)) * dtype.itemsize
            if claimed > info.file_size - header_bytes:
                raise ValueError(
                    f"{where}: {path!r} entry {name} claims shape {shape} of {dtype} "
                    f"({claimed:,} bytes) but holds {info.file_size - header_bytes:,} bytes "
                    "of data; a damaged or forged file."
                )
            if name.endswith("_images") and len(shape) >= 3:
                height, width = size if size is not None else shape[1:3]
                count = int(shape[0])
                images_bytes += claimed + 4 * count * height * width * channels
                described.append(f"{name} {count}x{height}x{width}x{channels}")
    _memory.check_allocation(
        where,
        f"the images of {path!r} ({', '.join(described)} float32)",
        images_bytes,
        allow_large,
        "pass a smaller image_size",
    )


def _opened(where, path):
    try:
        return open(path, "rb")
    except OSError as error:
        raise ValueError(f"{where}: cannot open {path!r}: {error}") from error


def _labels(where, path, split, labels, count):
    if labels.ndim == 2 and labels.shape[1] > 1:
        raise ValueError(
            f"{where}: {path!r} has multi-label {split}_labels of shape {labels.shape} "
            "(like ChestMNIST); only single-label files are supported."
        )
    labels = labels.reshape(-1)
    if len(labels) != count or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"{where}: {path!r} {split}_labels must hold {count} integer labels, one per "
            f"image; received shape {labels.shape} and dtype {labels.dtype}."
        )
    if labels.size and labels.min() < 0:
        raise ValueError(f"{where}: {path!r} {split}_labels has negative label {labels.min()}.")
    return labels.astype("int32")


def _check_images(where, path, split, images):
    if images.ndim not in (3, 4) or (images.ndim == 4 and images.shape[-1] not in (1, 3)):
        raise ValueError(
            f"{where}: {path!r} {split}_images has shape {images.shape}; expected 2-D "
            "images (N, H, W) or (N, H, W, 1 or 3). 3-D MedMNIST volumes are not supported."
        )
    if images.dtype != np.uint8:
        raise ValueError(
            f"{where}: {path!r} {split}_images has dtype {images.dtype}; MedMNIST images "
            "are uint8 (0-255), which this loader scales to [0, 1]."
        )


def _images(where, path, split, images, size, channels, interpolation, verbose):
    if images.ndim == 3:
        images = images[..., None]
    images = images.astype("float32") / np.float32(255)
    if size is None or images.shape[1:3] == size:
        return _image_io.convert_channels(images, channels)
    progress = keras.utils.Progbar(len(images), unit_name="image") if verbose else None
    out = np.empty((len(images),) + size + (channels,), "float32")
    for i, image in enumerate(images):
        out[i] = _image_io.resize(image, size, channels, interpolation, where)
        if progress is not None:
            progress.update(i + 1)
    return out
