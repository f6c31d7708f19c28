"""Bad input for the public functions of `keras_drifa.data` (MultimodalDataset aside), tried
as a hostile user would: wrong types, bools for numbers and numbers for bools, out-of-range
numbers, NaN and Inf, 0-255 images, empty inputs, unknown names, missing, corrupt,
truncated and wrongly encoded files.

Every case asserts the exception type and that the message names the argument (or file)
and the received value, or asserts the documented behaviour. NumPy scalars are accepted
wherever a Python int or float is. The data functions write no files, so nothing can be
left half-written.
"""

import gzip
import shutil
import warnings
import zipfile

import numpy as np
import pytest
from image_files import write_corrupt, write_image, write_truncated_jpeg

from keras_drifa.data import (
    ImageSplits,
    LabelledImages,
    load_csv_manifest,
    load_image_folder,
    load_medmnist,
    make_synthetic,
    stratified_split,
)


def _fails(error, fragments, function, *args, **kwargs):
    """Calls `function` and asserts it raises `error` whose message has every fragment."""
    with pytest.raises(error) as info:
        function(*args, **kwargs)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in: {message}"
    return message


def _same_splits(a, b):
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.images, y.images)
        assert x.sources == y.sources and np.array_equal(x.labels, y.labels)


# --- make_synthetic ---------------------------------------------------------------------

SYNTHETIC_CASES = [
    (dict(num_samples="4"), ["num_samples", "'4'", "integer >= 1"]),
    (dict(num_samples=4.0), ["num_samples", "4.0"]),
    (dict(num_samples=True), ["num_samples", "True"]),
    (dict(num_samples=None), ["num_samples", "None"]),
    (dict(num_samples=-3), ["num_samples", "-3"]),
    (dict(modalities="mri"), ["modalities", "'mri'", "list of kinds"]),
    (dict(modalities=True), ["modalities", "True"]),
    (dict(modalities=2.0), ["modalities", "2.0"]),
    (dict(modalities={"mri"}), ["modalities", "{'mri'}"]),
    (dict(modalities=[]), ["modalities", "[]"]),
    (dict(modalities=["mri", 3]), ["unknown modality kind 3", "cytology"]),
    (dict(modalities=["MRI"]), ["unknown modality kind 'MRI'"]),
    (dict(image_size="16"), ["image_size", "'16'"]),
    (dict(image_size=16.0), ["image_size", "16.0"]),
    (dict(image_size=True), ["image_size", "True"]),
    (dict(image_size=(16,)), ["image_size", "(16,)"]),
    (dict(image_size=(16, 16, 3)), ["image_size", "(16, 16, 3)"]),
    (dict(image_size=(16, 15)), ["image_size", ">= 16", "(16, 15)"]),
    (dict(num_classes="5"), ["num_classes='5'", "integer >= 2"]),
    (dict(num_classes=2.5), ["num_classes=2.5"]),
    (dict(num_classes=True), ["num_classes=True"]),
    (dict(num_classes=None), ["num_classes=None"]),
    (dict(num_classes={"a": 3}), ["num_classes={'a': 3}"]),
    (dict(num_classes=(3, 1)), ["num_classes=(3, 1)"]),
    (dict(label_mode=None), ["label_mode", "None", "'multitask'"]),
    (dict(label_mode="Paired"), ["label_mode", "'Paired'"]),
    (dict(label_mode="paired", num_classes=(3, 3)), ["one integer", "(3, 3)"]),
    (dict(noise="0.1"), ["noise", "'0.1'"]),
    (dict(noise=True), ["noise", "True"]),
    (dict(noise=None), ["noise", "None"]),
    (dict(noise=-0.1), ["noise", "-0.1", ">= 0"]),
    (dict(noise=float("nan")), ["noise", "nan", "finite"]),
    (dict(noise=float("inf")), ["noise", "inf", "finite"]),
    (dict(channels="3"), ["channels", "'3'"]),
    (dict(channels=3.0), ["channels", "3.0"]),
    (dict(channels=True), ["channels", "True"]),
    (dict(channels=2), ["channels", "2"]),
    (dict(seed="0"), ["seed", "'0'", "integer >= 0"]),
    (dict(seed=1.5), ["seed", "1.5"]),
    (dict(seed=True), ["seed", "True"]),
    (dict(seed=None), ["seed", "None"]),
    (dict(seed=-1), ["seed", "-1"]),
]


@pytest.mark.parametrize("kwargs, fragments", SYNTHETIC_CASES)
def test_make_synthetic_names_the_bad_argument(kwargs, fragments):
    _fails(ValueError, ["make_synthetic:"] + fragments, make_synthetic, **{"num_samples": 4, **kwargs})


def test_make_synthetic_takes_numpy_numbers():
    kwargs = dict(image_size=16, num_classes=(3, 4), noise=0.05, channels=3, seed=7)
    expected = make_synthetic(5, modalities=2, **kwargs)
    data = make_synthetic(
        np.int64(5),
        modalities=np.int32(2),
        image_size=np.int64(16),
        num_classes=(np.int64(3), np.uint8(4)),
        noise=np.float32(0.05),
        channels=np.int64(3),
        seed=np.int64(7),
    )
    assert data.input_shapes == expected.input_shapes and data.num_classes == expected.num_classes
    for m in data.modality_names:
        np.testing.assert_allclose(data.images[m], expected.images[m], atol=1e-6)
    paired = make_synthetic(4, image_size=16, num_classes=np.int64(3), label_mode="paired")
    assert paired.num_classes == {"label": 3}


def test_make_synthetic_never_warns():
    """Drawing reads no uninitialised memory (which could hold NaN and warn at random)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for seed in range(3):
            make_synthetic(
                130, modalities=["cytology", "dermoscopy", "mri"], image_size=16, num_classes=3,
                seed=seed,
            )


# --- stratified_split -------------------------------------------------------------------

LABELS = np.repeat([0, 1], 10)

SPLIT_CASES = [
    ((["a", "b"],), ["labels", "dtype <U1"]),
    (([True, False],), ["labels", "dtype bool"]),
    (([0.0, 1.0],), ["labels", "dtype float64"]),
    (([0, np.nan],), ["labels", "float64"]),
    ((np.eye(3, dtype=int),), ["labels", "shape (3, 3)", "one-hot", "argmax"]),
    ((5,), ["labels", "shape ()"]),
    (([0, 1, -1, 1],), ["labels", ">= 0", "-1 at index 2"]),
    ((LABELS, "0.1", 0.1), ["val_fraction", "'0.1'", "[0, 1)"]),
    ((LABELS, True, 0.1), ["val_fraction", "True"]),
    ((LABELS, None, 0.1), ["val_fraction", "None"]),
    ((LABELS, float("nan"), 0.1), ["val_fraction", "nan"]),
    ((LABELS, -0.1, 0.1), ["val_fraction", "-0.1"]),
    ((LABELS, 0.1, 1.0), ["test_fraction", "1.0"]),
    ((LABELS, 0.1, float("inf")), ["test_fraction", "inf"]),
    ((LABELS, 0.5, 0.5), ["val_fraction + test_fraction", "0.5 + 0.5"]),
    ((LABELS, 0.1, 0.1, "0"), ["seed", "'0'"]),
    ((LABELS, 0.1, 0.1, 1.5), ["seed", "1.5"]),
    ((LABELS, 0.1, 0.1, False), ["seed", "False"]),
    ((LABELS, 0.1, 0.1, -2), ["seed", "-2"]),
]


@pytest.mark.parametrize("args, fragments", SPLIT_CASES)
def test_stratified_split_names_the_bad_argument(args, fragments):
    _fails(ValueError, ["stratified_split:"] + fragments, stratified_split, *args)


def test_stratified_split_takes_numpy_numbers_and_empty_labels():
    expected = stratified_split(LABELS, 0.25, 0.25, seed=3)
    got = stratified_split(LABELS.astype(np.uint8).tolist(), np.float64(0.25), 0.25, np.int64(3))
    assert all(np.array_equal(a, b) for a, b in zip(expected, got))
    float32 = stratified_split(LABELS, np.float32(0.25), np.float32(0.25), seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(expected, float32))
    # Documented: no labels, three empty index arrays.
    assert [len(p) for p in stratified_split([], 0.2, 0.2)] == [0, 0, 0]


# --- LabelledImages and ImageSplits -----------------------------------------------------

IMAGES = np.linspace(0, 1, 3 * 4 * 4).reshape(3, 4, 4, 1).astype("float32")


def _parts(**overrides):
    parts = dict(images=IMAGES, labels=np.array([0, 1, 2]), class_names=("a", "b", "c"))
    parts["sources"] = ("x.png", "y.png", "z.png")
    parts.update(overrides)
    return parts


def _with_nan(value):
    images = IMAGES.copy()
    images[1, 2, 3, 0] = value
    return images


LABELLED_CASES = [
    (dict(images=IMAGES[0]), ["images", "(N, height, width, channels)", "(4, 4, 1)"]),
    (dict(images=np.full((3, 4, 4, 1), "a")), ["images", "numeric", "<U1"]),
    (dict(images=IMAGES > 0.5), ["images", "numeric", "bool"]),
    (dict(images=_with_nan(np.nan)), ["images", "finite", "1 NaN or infinite", "image 1"]),
    (dict(images=_with_nan(np.inf)), ["images", "finite", "image 1"]),
    (dict(labels=np.array([0.0, 1.0, 2.0])), ["labels", "integer", "float64"]),
    (dict(labels=np.array([True, False, True])), ["labels", "integer", "bool"]),
    (dict(labels=np.eye(3, dtype=int)), ["labels", "shape (3, 3)", "one-hot"]),
    (dict(labels=np.array([0, 1])), ["labels", "(3,)", "(2,)"]),
    (dict(labels=np.array([0, 1, 3])), ["labels", "[0, 3)", "from 0 to 3"]),
    (dict(labels=np.array([0, -1, 2])), ["labels", "from -1 to 2"]),
    (dict(class_names="abc"), ["class_names", "'abc'"]),
    (dict(class_names={"a", "b", "c"}), ["class_names", "distinct"]),
    (dict(class_names=("a", "a", "b")), ["class_names", "('a', 'a', 'b')"]),
    (dict(class_names=(0, 1, 2)), ["class_names", "strings", "(0, 1, 2)"]),
    (dict(class_names=("a", "", "c")), ["class_names", "non-empty"]),
    (dict(sources="xyz"), ["sources", "'xyz'"]),
    (dict(sources=None), ["sources", "None"]),
    (dict(sources=("x.png",)), ["sources", "3 entries", "received 1"]),
]


@pytest.mark.parametrize("overrides, fragments", LABELLED_CASES)
def test_labelled_images_names_the_bad_part(overrides, fragments):
    _fails(ValueError, ["LabelledImages:"] + fragments, LabelledImages, **_parts(**overrides))


@pytest.mark.parametrize(
    "images, fragments",
    [
        ((IMAGES * 255).astype(np.uint8), ["values from 0 to 255", "0-255 pixels", "255"]),
        (IMAGES * 255, ["values from 0 to 255", "divide them by 255"]),
        (IMAGES * 2 - 1, ["values from -1 to 1"]),
    ],
)
def test_labelled_images_warns_outside_the_unit_range(images, fragments):
    with pytest.warns(UserWarning, match=r"images should have values in \[0, 1\]") as record:
        data = LabelledImages(**_parts(images=images))
    assert all(f in str(record[0].message) for f in fragments)
    assert record[0].filename == __file__  # the warning points at the caller
    assert data.images.dtype == np.float32  # converted, not rescaled
    np.testing.assert_array_equal(data.images, np.asarray(images, "float32"))


def test_labelled_images_converts_lists_and_keeps_empty_sets():
    data = LabelledImages(IMAGES.tolist(), [0, 1, 2], ["a", "b", "c"], ["x", "y", "z"])
    assert data.images.dtype == np.float32 and data.labels.dtype == np.int32
    assert data.class_names == ("a", "b", "c") and data.sources == ("x", "y", "z")
    empty = LabelledImages(np.zeros((0, 4, 4, 1)), [], ["a"], [])
    assert len(empty) == 0 and empty.one_hot().shape == (0, 1)
    assert empty.class_counts() == {"a": 0}


@pytest.mark.parametrize(
    "indices, fragments",
    [
        ([3], ["indices", "[-3, 3)", "from 3 to 3"]),
        ([0, -4], ["indices", "from -4 to 0"]),
        ([0.5], ["indices", "integer", "float64"]),
        ([[0, 1]], ["indices", "1-D", "(1, 2)"]),
        ([True, False], ["indices", "boolean mask of 3", "bool"]),
        ("0", ["indices", "<U1"]),
    ],
)
def test_subset_names_bad_indices(indices, fragments):
    data = LabelledImages(**_parts())
    _fails(ValueError, ["LabelledImages.subset:"] + fragments, data.subset, indices)


def test_subset_takes_masks_negative_and_numpy_indices():
    data = LabelledImages(**_parts())
    assert data.subset([True, False, True]).sources == ("x.png", "z.png")
    assert data.subset(np.array([-1, 0], np.int8)).sources == ("z.png", "x.png")
    assert len(data.subset([])) == 0 and data.subset([]).images.shape == (0, 4, 4, 1)


def test_image_splits_checks_its_parts():
    data = LabelledImages(**_parts())
    other = LabelledImages(**_parts(class_names=("p", "q", "r")))
    _fails(ValueError, ["ImageSplits: val", "LabelledImages", "str"], ImageSplits, data, "v", data)
    _fails(ValueError, ["ImageSplits: test", "NoneType"], ImageSplits, data, data, None)
    _fails(
        ValueError, ["ImageSplits: val", "('p', 'q', 'r')", "('a', 'b', 'c')"],
        ImageSplits, data, other, data,
    )
    _fails(ValueError, ["ImageSplits: skipped", "'x.png'"], ImageSplits, data, data, data, "x.png")
    assert ImageSplits(data, data, data, [("x.png", "broken")]).skipped == (("x.png", "broken"),)


# --- load_image_folder ------------------------------------------------------------------


@pytest.fixture
def tree(tmp_path):
    """Two classes of four small PNGs each."""
    root = tmp_path / "images"
    for name in ("a", "b"):
        for i in range(4):
            write_image(root / name / f"{i}.png", seed=i)
    return root


def _folder(root, **kwargs):
    return load_image_folder(root, **{"image_size": 8, "verbose": 0, **kwargs})


FOLDER_CASES = [
    (dict(image_size=True), ["image_size", "True"]),
    (dict(image_size=8.0), ["image_size", "8.0"]),
    (dict(image_size="8"), ["image_size", "'8'"]),
    (dict(image_size=(8, 0)), ["image_size", "(8, 0)"]),
    (dict(channels=True), ["channels", "True"]),
    (dict(channels=3.0), ["channels", "3.0"]),
    (dict(channels="3"), ["channels", "'3'"]),
    (dict(channels=4), ["channels", "4"]),
    (dict(class_names={"a", "b"}), ["class_names", "distinct folder names"]),
    (dict(class_names="ab"), ["class_names", "'ab'"]),
    (dict(class_names=["a", "a"]), ["class_names", "['a', 'a']"]),
    (dict(class_names=[1, 2]), ["class_names", "[1, 2]"]),
    (dict(class_names=["a", "c"]), ["no folder for ['c']", "['b'] are not in class_names"]),
    (dict(pattern="/etc/*"), ["pattern", "'/etc/*'", "relative"]),
    (dict(pattern="../*/*"), ["pattern", "'../*/*'", "'..'"]),
    (dict(pattern=""), ["pattern", "''"]),
    (dict(pattern="a**b"), ["pattern", "'a**b'", "not a valid glob pattern"]),
    (dict(pattern=None), ["pattern", "None"]),
    (dict(extensions=["png"]), ["extensions", "['png']"]),
    (dict(extensions=[]), ["extensions", "[]"]),
    (dict(extensions=".png"), ["extensions", "'.png'"]),
    (dict(extensions=None), ["extensions", "None"]),
    (dict(val_fraction="0.1"), ["val_fraction", "'0.1'"]),
    (dict(val_fraction=True), ["val_fraction", "True"]),
    (dict(val_fraction=1.5), ["val_fraction", "1.5"]),
    (dict(test_fraction=float("nan")), ["test_fraction", "nan"]),
    (dict(test_fraction=-0.1), ["test_fraction", "-0.1"]),
    (dict(val_fraction=0.6, test_fraction=0.5), ["val_fraction + test_fraction"]),
    (dict(test_directory=5), ["test_directory", "5"]),
    (dict(seed="1"), ["seed", "'1'"]),
    (dict(seed=-1), ["seed", "-1"]),
    (dict(interpolation=None), ["interpolation", "None"]),
    (dict(interpolation="BILINEAR"), ["interpolation", "'BILINEAR'"]),
    (dict(on_error=True), ["on_error", "True"]),
    (dict(on_error="ignore"), ["on_error", "'ignore'"]),
    (dict(verbose="0"), ["verbose", "'0'", "True or False"]),
    (dict(verbose=2), ["verbose", "2"]),
    (dict(verbose=-1), ["verbose", "-1"]),
    (dict(verbose=0.5), ["verbose", "0.5"]),
    (dict(verbose=None), ["verbose", "None"]),
]


@pytest.mark.parametrize("kwargs, fragments", FOLDER_CASES)
def test_load_image_folder_names_the_bad_argument(tree, kwargs, fragments):
    # A corrupt image in the tree: arguments are checked before any image is read.
    write_corrupt(tree / "a" / "broken.png")
    _fails(ValueError, ["load_image_folder:"] + fragments, _folder, tree, **kwargs)


@pytest.mark.parametrize("directory", [None, 3, ""])
def test_load_image_folder_names_a_bad_directory_argument(directory):
    _fails(ValueError, ["directory", repr(directory), "path"], _folder, directory)


def test_load_image_folder_missing_file_or_same_directories(tree):
    _fails(FileNotFoundError, ["directory", "nowhere", "not an existing directory"], _folder,
           tree / "nowhere")
    _fails(FileNotFoundError, ["0.png", "(it is a file)"], _folder, tree / "a" / "0.png")
    _fails(FileNotFoundError, ["test_directory", "nowhere"], _folder, tree,
           test_directory=tree / "nowhere")
    _fails(ValueError, ["test_directory", str(tree), "both trained and tested"], _folder, tree,
           test_directory=str(tree) + "/")


def test_load_image_folder_takes_numpy_numbers_bools_and_bytes(tree):
    expected = _folder(tree, image_size=8, channels=3, seed=1, val_fraction=0.25)
    got = _folder(
        str(tree).encode(),
        image_size=(np.int64(8), np.int32(8)),
        channels=np.int64(3),
        seed=np.int64(1),
        val_fraction=np.float32(0.25),
        test_fraction=np.float64(0.15),
        verbose=False,
    )
    _same_splits(expected, got)
    _folder(tree, verbose=True)  # a progress bar


def _break_png(path):
    write_image(path, size=(64, 64))
    path.write_bytes(path.read_bytes()[:200])


def _break_bmp(path):
    write_image(path, size=(64, 64))
    path.write_bytes(path.read_bytes()[:1000])


def _thirty_two_bit_negative(path):
    from PIL import Image

    Image.new("I", (5, 5), -5).save(path)


def _float_tiff(path):
    from PIL import Image

    Image.new("F", (5, 5), 0.5).save(path)


def _dangling_link(path):
    path.symlink_to(path.parent / "does-not-exist.png")


BAD_FILES = [
    ("empty.png", lambda p: p.write_bytes(b""), "cannot identify image file"),
    ("text.png", lambda p: write_corrupt(p, b"just some text"), "cannot identify image file"),
    ("html.jpg", lambda p: write_corrupt(p, b"<html>404</html>"), "cannot identify image file"),
    ("cut.jpg", write_truncated_jpeg, "truncated"),
    ("cut.png", _break_png, "truncated"),
    ("cut.bmp", _break_bmp, "truncated"),
    ("negative.tif", _thirty_two_bit_negative, "do not fit the 16-bit range"),
    ("float.tif", _float_tiff, "mode 'F'"),
    ("link.png", _dangling_link, "No such file or directory"),
]


@pytest.mark.parametrize("name, make, reason", BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_load_image_folder_names_a_bad_file_and_can_skip_it(tree, name, make, reason):
    make(tree / "b" / name)
    path = str(tree / "b" / name)
    _fails(ValueError, ["load_image_folder: cannot read image", repr(path), reason,
                        "on_error='skip'"], _folder, tree)
    with pytest.warns(UserWarning, match=f"skipped 1 of 9 images.*{name}"):
        splits = _folder(tree, on_error="skip", val_fraction=0, test_fraction=0)
    assert len(splits.train) == 8 and splits.skipped[0][0] == path


def test_load_image_folder_names_a_decompression_bomb(tree, monkeypatch):
    from PIL import Image

    write_image(tree / "a" / "big.png", size=(40, 40))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 500)  # every 12x10 image is fine
    _fails(ValueError, [repr(str(tree / "a" / "big.png")), "decompression bomb"], _folder, tree)


def test_load_image_folder_names_the_file_of_pillows_warnings(tree, monkeypatch):
    from PIL import Image

    write_image(tree / "a" / "large.png", size=(40, 40))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 1600 pixels: a warning, no error
    with pytest.warns(Image.DecompressionBombWarning, match=r"large\.png'.*decompression bomb"):
        _folder(tree)


def test_load_image_folder_converts_every_pixel_format_to_the_unit_range(tmp_path):
    from PIL import Image

    modes = {"rgba.png": "RGBA", "palette.png": "P", "cmyk.jpg": "CMYK", "bw.png": "1",
             "la.png": "LA", "gray.png": "L"}
    (tmp_path / "a").mkdir()
    for name, mode in modes.items():
        Image.new(mode, (6, 5), 200 if mode in ("L", "P") else 0).save(tmp_path / "a" / name)
    write_image(tmp_path / "sixteen" / "x.png", size=(6, 5), mode="I;16")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        splits = _folder(tmp_path, channels=1, val_fraction=0, test_fraction=0)
    images = splits.train.images
    assert len(images) == len(modes) + 1 and images.dtype == np.float32
    assert 0 <= images.min() and images.max() <= 1


def test_load_image_folder_ignores_folders_named_like_images(tree):
    (tree / "a" / "folder.png").mkdir()
    assert len(_folder(tree, val_fraction=0, test_fraction=0).train) == 8


# --- load_csv_manifest ------------------------------------------------------------------


@pytest.fixture
def manifest(tmp_path):
    """A manifest of eight images in one folder, ids without extensions, labels x and y."""
    rows = ["image_id,dx"]
    for i in range(8):
        write_image(tmp_path / "images" / f"I{i}.png", seed=i)
        rows.append(f"I{i},{'xy'[i % 2]}")
    path = tmp_path / "manifest.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def _csv(manifest, **kwargs):
    if "image_dirs" not in kwargs:
        kwargs["image_dirs"] = manifest.parent / "images"
    return load_csv_manifest(manifest, **{"image_size": 8, "verbose": 0, **kwargs})


CSV_CASES = [
    (dict(image_dirs=None), ["image_dirs", "None"]),
    (dict(image_dirs=5), ["image_dirs", "5"]),
    (dict(image_dirs=[]), ["image_dirs", "[]"]),
    (dict(image_dirs={"images"}), ["image_dirs", "{'images'}"]),
    (dict(image_dirs=[None]), ["image directory", "None"]),
    (dict(id_column=None), ["id_column", "None", "non-empty string"]),
    (dict(id_column=""), ["id_column", "''"]),
    (dict(label_column=3), ["label_column", "3"]),
    (dict(id_column="dx"), ["id_column and label_column", "'dx'"]),
    (dict(label_column="diagnosis"), ["no column 'diagnosis'", "['image_id', 'dx']"]),
    (dict(class_names={"x", "y"}), ["class_names", "distinct labels"]),
    (dict(class_names="xy"), ["class_names", "'xy'"]),
    (dict(class_names=["x"]), ["4 rows whose 'dx' is not in class_names", "['y']"]),
    (dict(class_names=["x", "y", "z"]), ["class ['z'] has no rows in manifest"]),
    (dict(encoding="utf-9"), ["encoding", "'utf-9'"]),
    (dict(encoding=None), ["encoding", "None"]),
    (dict(val_fraction="0.2"), ["val_fraction", "'0.2'"]),
    (dict(test_fraction=1), ["test_fraction", "1"]),
    (dict(verbose="no"), ["verbose", "'no'"]),
    (dict(channels=True), ["channels", "True"]),
    (dict(seed=2.0), ["seed", "2.0"]),
    (dict(on_error="warn"), ["on_error", "'warn'"]),
]


@pytest.mark.parametrize("kwargs, fragments", CSV_CASES)
def test_load_csv_manifest_names_the_bad_argument(manifest, kwargs, fragments):
    write_corrupt(manifest.parent / "images" / "I3.png")  # never reached
    _fails(ValueError, ["load_csv_manifest:"] + fragments, _csv, manifest, **kwargs)


def test_load_csv_manifest_missing_paths(manifest):
    _fails(ValueError, ["manifest", "None", "path"], _csv, None, image_dirs=manifest.parent)
    _fails(FileNotFoundError, ["manifest", "none.csv", "not an existing file"], _csv,
           manifest.parent / "none.csv")
    _fails(FileNotFoundError, ["manifest", "(it is a directory)"], _csv, manifest.parent)
    _fails(FileNotFoundError, ["image directory", "nowhere"], _csv, manifest,
           image_dirs=[manifest.parent / "images", manifest.parent / "nowhere"])


def _latin1(text):
    return text.replace("x", "é").encode("latin-1")


def _binary_png(text):
    return b"\x89PNG\r\n\x1a\n" + bytes(range(256))


BAD_MANIFESTS = [
    ("latin-1", _latin1, ["cannot decode", "b'\\xe9'", "encoding='latin-1'"]),
    ("utf-16", lambda text: text.encode("utf-16"), ["cannot decode", "encoding='utf-16'"]),
    ("png bytes", _binary_png, ["cannot decode", "b'\\x89'"]),
    ("gzip", lambda text: gzip.compress(text.encode()), ["cannot decode"]),
    ("empty", lambda text: b"", ["is empty", "header row", "'image_id'"]),
    ("semicolons", lambda text: text.replace(",", ";").encode(),
     ["no column 'image_id'", "['image_id;dx']", "separated by semicolons"]),
    ("tabs", lambda text: text.replace(",", "\t").encode(), ["separated by tabs"]),
    ("NUL byte", lambda text: text.replace("I1,y", "I1,y\0").encode(),
     ["line 3", "NUL character"]),
    ("huge field", lambda text: text.encode() + b"I9," + b"z" * 200_000 + b"\n",
     ["line 10 is not valid CSV", "field larger than field limit"]),
    ("header only", lambda text: text.splitlines()[0].encode(), ["lists no images"]),
    ("no label", lambda text: text.replace("I2,x", "I2,").encode(),
     ["line 4 (image 'I2') has no label"]),
    ("short row", lambda text: text.replace("I2,x", "I2").encode(), ["line 4", "has no label"]),
    ("duplicate id", lambda text: (text + "I0,x\n").encode(), ["'I0' appears twice", "2 and 10"]),
]


@pytest.mark.parametrize("name, content, fragments", BAD_MANIFESTS,
                         ids=[b[0] for b in BAD_MANIFESTS])
def test_load_csv_manifest_names_a_bad_manifest(manifest, name, content, fragments):
    manifest.write_bytes(content(manifest.read_text()))
    _fails(ValueError, ["load_csv_manifest:", repr(str(manifest))] + fragments, _csv, manifest)


@pytest.mark.parametrize("encoding", ["latin-1", "utf-16", "utf-8"])
def test_load_csv_manifest_reads_the_encoding_it_is_given(manifest, encoding):
    text = manifest.read_text().replace(",x", ",é")
    manifest.write_bytes(("\ufeff" if encoding == "utf-8" else "").encode("utf-8")
                         + text.encode(encoding))
    splits = _csv(manifest, encoding=encoding, val_fraction=0, test_fraction=0)
    assert splits.class_names == ("y", "é")


def test_load_csv_manifest_names_a_missing_or_corrupt_image(manifest):
    (manifest.parent / "images" / "I2.png").unlink()
    write_truncated_jpeg(manifest.parent / "images" / "I5.png")
    _fails(ValueError, ["cannot read image 'I2'", "no image file found in", "images"], _csv,
           manifest)
    with pytest.warns(UserWarning, match="skipped 2 of 8 images"):
        splits = _csv(manifest, on_error="skip", val_fraction=0, test_fraction=0)
    assert [s for s, _ in splits.skipped] == ["I2", str(manifest.parent / "images" / "I5.png")]


def test_load_csv_manifest_takes_numpy_numbers(manifest):
    expected = _csv(manifest, seed=2, val_fraction=0.25, test_fraction=0.25)
    got = _csv(manifest, image_dirs=(manifest.parent / "images",), seed=np.int64(2),
               val_fraction=np.float32(0.25), test_fraction=np.float64(0.25),
               channels=np.int8(3), verbose=np.int64(0))
    _same_splits(expected, got)


# --- load_medmnist ----------------------------------------------------------------------

SPLIT_SIZES = {"train": 10, "val": 4, "test": 4}


def _npz(path, save=np.savez, **overrides):
    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in SPLIT_SIZES.items():
        arrays[f"{split}_images"] = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        arrays[f"{split}_labels"] = (np.arange(n) % 2).reshape(n, 1).astype(np.uint8)
    arrays.update(overrides)
    save(path, **{k: v for k, v in arrays.items() if v is not None})
    return path


def _medmnist(path, **kwargs):
    return load_medmnist(path, **{"verbose": 0, **kwargs})


MEDMNIST_ARGUMENT_CASES = [
    (dict(image_size=True), ["image_size", "True"]),
    (dict(image_size=(28, 28.0)), ["image_size", "(28, 28.0)"]),
    (dict(channels=3.0), ["channels", "3.0"]),
    (dict(channels=False), ["channels", "False"]),
    (dict(class_names={"a", "b"}), ["class_names", "distinct names"]),
    (dict(class_names="ab"), ["class_names", "'ab'"]),
    (dict(class_names=["a"]), ["has label 1", "only 1 classes", "['a']"]),
    (dict(val_fraction=0.2), ["pass both val_fraction and test_fraction", "test_fraction=None"]),
    (dict(val_fraction="0.1", test_fraction="0.1"), ["val_fraction", "'0.1'"]),
    (dict(val_fraction=0.1, test_fraction=True), ["test_fraction", "True"]),
    (dict(val_fraction=0.6, test_fraction=0.4), ["val_fraction + test_fraction"]),
    (dict(verbose="x"), ["verbose", "'x'"]),
    (dict(seed=-1), ["seed", "-1"]),
    (dict(interpolation="cubic"), ["interpolation", "'cubic'"]),
]


@pytest.mark.parametrize("kwargs, fragments", MEDMNIST_ARGUMENT_CASES)
def test_load_medmnist_names_the_bad_argument(tmp_path, kwargs, fragments):
    path = _npz(tmp_path / "m.npz")
    _fails(ValueError, ["load_medmnist:"] + fragments, _medmnist, path, **kwargs)


def test_load_medmnist_missing_paths(tmp_path):
    _fails(ValueError, ["path", "None"], _medmnist, None)
    _fails(FileNotFoundError, ["path", "none.npz", "not an existing file"], _medmnist,
           tmp_path / "none.npz")
    _fails(FileNotFoundError, ["(it is a directory)"], _medmnist, tmp_path)


def _truncate(fraction):
    def truncate(path):
        data = _npz(path).read_bytes()
        path.write_bytes(data[: int(len(data) * fraction)])

    return truncate


def _damage_member(save):
    def damage(path):
        data = bytearray(_npz(path, save=save).read_bytes())
        data[300:340] = b"\xff" * 40  # inside train_images, the first member
        path.write_bytes(bytes(data))

    return damage


def _garbage_members(path):
    with zipfile.ZipFile(path, "w") as archive:
        for split in SPLIT_SIZES:
            for kind in ("images", "labels"):
                archive.writestr(f"{split}_{kind}.npy", b"garbage")


BAD_ARCHIVES = [
    ("text", lambda p: p.write_text("not an archive"), ["is not a readable .npz file"]),
    ("empty", lambda p: p.write_bytes(b""), ["is not a readable .npz file"]),
    ("half", _truncate(0.5), ["is not a readable .npz file"]),
    ("tail cut", _truncate(0.99), ["is not a readable .npz file"]),
    ("crc", _damage_member(np.savez), ["cannot read train_images", "damaged or truncated"]),
    ("deflate", _damage_member(np.savez_compressed), ["cannot read train_images"]),
    ("garbage members", _garbage_members, ["train_images", "is not a NumPy array"]),
    ("npy", lambda p: shutil.copy(_npy(p), p), ["holds a single array (a .npy file)"]),
    ("pickled labels", lambda p: _npz(p, val_labels=np.array([[0]] * 4, dtype=object)),
     ["cannot read val_labels", "allow_pickle"]),
    ("missing key", lambda p: _npz(p, val_labels=None), ["has no ['val_labels']"]),
]


def _npy(path):
    np.save(path.with_suffix(".npy"), np.zeros((4, 28, 28), np.uint8))
    return path.with_suffix(".npy")


@pytest.mark.parametrize("name, make, fragments", BAD_ARCHIVES, ids=[b[0] for b in BAD_ARCHIVES])
def test_load_medmnist_names_a_damaged_file(tmp_path, name, make, fragments):
    path = tmp_path / "m.npz"
    make(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)  # the file is closed
        _fails(ValueError, ["load_medmnist:", repr(str(path))] + fragments, _medmnist, path)


BAD_CONTENTS = [
    (dict(train_images=np.random.rand(10, 28, 28)), ["train_images has dtype float64", "uint8"]),
    (dict(val_images=np.zeros((4, 28, 28), np.int16)), ["val_images has dtype int16"]),
    (dict(test_images=np.zeros((4, 28, 28, 2), np.uint8)), ["test_images has shape (4, 28, 28, 2)"]),
    (dict(train_images=np.array(3, np.uint8)), ["train_images has shape ()"]),
    (dict(train_labels=np.full((10, 1), -1, np.int64)), ["train_labels has negative label -1"]),
    (dict(train_labels=np.ones((10, 1), bool)), ["train_labels must hold 10 integer labels", "bool"]),
    (dict(val_labels=np.zeros((4, 1), np.float32)), ["val_labels", "float32"]),
    (dict(val_labels=np.zeros((3, 1), np.uint8)), ["val_labels must hold 4 integer labels"]),
    (dict(train_labels=np.zeros((10, 14), np.uint8)), ["multi-label train_labels"]),
    (dict(val_images=np.zeros((4, 64, 64), np.uint8)),
     ["different image sizes", "'val': (64, 64)", "image_size="]),
    ({f"{s}_{k}": np.zeros((0, 28, 28) if k == "images" else (0, 1), np.uint8)
      for s in SPLIT_SIZES for k in ("images", "labels")}, ["holds no images"]),
]


@pytest.mark.parametrize("overrides, fragments", BAD_CONTENTS)
def test_load_medmnist_names_bad_contents(tmp_path, overrides, fragments):
    path = _npz(tmp_path / "m.npz", **overrides)
    _fails(ValueError, ["load_medmnist:", repr(str(path))] + fragments, _medmnist, path)


def test_load_medmnist_labels_far_out_of_range_give_a_short_message(tmp_path):
    path = _npz(tmp_path / "m.npz", test_labels=np.full((4, 1), 250, np.uint8))
    message = _fails(ValueError, ["classes ['2', '3',", "(238 more)", "have no images"],
                     _medmnist, path)
    assert len(message) < 1000


def test_load_medmnist_takes_numpy_numbers_and_resizes_mixed_splits(tmp_path):
    path = _npz(tmp_path / "m.npz")
    expected = _medmnist(path, val_fraction=0.2, test_fraction=0.2, seed=4)
    got = _medmnist(path, val_fraction=np.float32(0.2), test_fraction=np.float64(0.2),
                    seed=np.int64(4), channels=np.int64(3), verbose=np.bool_(False))
    _same_splits(expected, got)
    mixed = _npz(tmp_path / "mixed.npz", val_images=np.zeros((4, 64, 64), np.uint8))
    assert _medmnist(mixed, image_size=32).val.images.shape == (4, 32, 32, 3)
    one_empty = _npz(tmp_path / "e.npz", val_images=np.zeros((0, 28, 28), np.uint8),
                     val_labels=np.zeros((0, 1), np.uint8))
    assert len(_medmnist(one_empty).val) == 0  # documented: an empty split stays empty
