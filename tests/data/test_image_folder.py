import numpy as np
import pytest
from image_files import write_corrupt, write_image, write_truncated_jpeg

from keras_drifa.data import load_image_folder


def _load(root, **kwargs):
    kwargs.setdefault("image_size", (8, 8))
    kwargs.setdefault("verbose", 0)
    return load_image_folder(root, **kwargs)


def _all(splits):
    return [item for part in splits for item in zip(part.sources, part.labels.tolist())]


def test_reads_every_class_folder_and_ignores_other_files(class_tree):
    splits = _load(class_tree, val_fraction=0, test_fraction=0)
    assert splits.class_names == ("benign", "malignant", "normal")
    assert splits.train.class_counts() == {"benign": 6, "malignant": 4, "normal": 5}
    assert len(splits.val) == len(splits.test) == 0 and splits.skipped == ()
    assert all(
        ".ipynb_checkpoints" not in s and not s.endswith(".txt") for s in splits.train.sources
    )
    for source, label in _all(splits):
        assert f"/{splits.class_names[label]}/" in source


def test_images_are_resized_scaled_and_converted(class_tree, tmp_path):
    splits = _load(class_tree, image_size=(6, 5), val_fraction=0, test_fraction=0)
    images = splits.train.images
    assert images.shape == (15, 6, 5, 3) and images.dtype == np.float32
    assert 0 <= images.min() and images.max() <= 1 and images.max() > 0.5
    gray = images[splits.train.labels == 1]  # the grayscale JPEGs, repeated to RGB
    np.testing.assert_array_equal(gray[..., 0], gray[..., 2])

    root = tmp_path / "flat"
    write_image(root / "white" / "w.png", value=(255, 255, 255))
    write_image(root / "red" / "r.png", value=(255, 0, 0))
    one = _load(root, channels=1, val_fraction=0, test_fraction=0).train
    assert one.images.shape == (2, 8, 8, 1)
    red, white = one.images[one.labels == 0], one.images[one.labels == 1]
    np.testing.assert_allclose(white, 1.0)
    np.testing.assert_allclose(red, 76 / 255, atol=1e-6)  # Pillow's luma of pure red


def test_keeps_the_file_size_when_image_size_is_none(tmp_path):
    pixels = write_image(tmp_path / "a" / "x.png", size=(7, 5))
    write_image(tmp_path / "b" / "y.png", size=(7, 5))
    train = _load(tmp_path, image_size=None, val_fraction=0, test_fraction=0).train
    assert train.images.shape == (2, 5, 7, 3)
    np.testing.assert_allclose(train.images[train.labels == 0][0], pixels / 255, atol=1e-6)
    write_image(tmp_path / "b" / "z.png", size=(9, 9))
    with pytest.raises(ValueError, match=r"z\.png.*has size \(9, 9\).*image_size"):
        _load(tmp_path, image_size=None, val_fraction=0, test_fraction=0)


def test_sixteen_bit_images_are_scaled_by_their_full_range(tmp_path):
    pixels = write_image(tmp_path / "mri" / "slice.png", size=(4, 3), mode="I;16")
    write_image(tmp_path / "other" / "x.png", size=(4, 3))
    train = _load(tmp_path, image_size=None, channels=1, val_fraction=0, test_fraction=0).train
    np.testing.assert_allclose(
        train.images[train.labels == 0][0, ..., 0], pixels / 65535, atol=1e-6
    )


def test_exif_orientation_is_applied(tmp_path):
    from PIL import Image

    exif = Image.Exif()
    exif[0x0112] = 6  # rotated 90 degrees: stored 12 wide, shown 12 high
    write_image(tmp_path / "a" / "x.jpg", size=(12, 4), exif=exif.tobytes())
    write_image(tmp_path / "b" / "y.jpg", size=(4, 12))
    train = _load(tmp_path, image_size=None, val_fraction=0, test_fraction=0).train
    assert train.images.shape == (2, 12, 4, 3)


def test_split_is_stratified_and_seeded(class_tree):
    splits = _load(class_tree, val_fraction=0.2, test_fraction=0.2, seed=3)
    assert splits.val.class_counts() == {"benign": 1, "malignant": 1, "normal": 1}
    assert splits.test.class_counts() == {"benign": 1, "malignant": 1, "normal": 1}
    assert sorted(_all(splits)) == sorted(_all(_load(class_tree, val_fraction=0, test_fraction=0)))
    assert _all(splits) == _all(_load(class_tree, val_fraction=0.2, test_fraction=0.2, seed=3))
    assert _all(splits) != _all(_load(class_tree, val_fraction=0.2, test_fraction=0.2, seed=4))
    np.testing.assert_array_equal(splits.train.one_hot().argmax(-1), splits.train.labels)


def test_class_names_choose_the_label_order(class_tree):
    splits = _load(
        class_tree, class_names=["normal", "benign", "malignant"], test_fraction=0, val_fraction=0
    )
    assert splits.train.class_counts() == {"normal": 5, "benign": 6, "malignant": 4}
    with pytest.raises(
        ValueError, match=r"no folder for \['cancer'\].*\['normal'\] are not in class_names"
    ):
        _load(class_tree, class_names=["benign", "malignant", "cancer"])


def test_pattern_selects_the_sipakmed_crops(tmp_path):
    for name in ("im_Dyskeratotic", "im_Parabasal"):
        write_image(tmp_path / name / "001.bmp", size=(40, 40))
        for i in range(3):
            write_image(tmp_path / name / "CROPPED" / f"001_0{i}.bmp", seed=i)
    splits = _load(tmp_path, pattern="CROPPED/*.bmp", val_fraction=0, test_fraction=0)
    assert len(splits.train) == 6 and all("/CROPPED/" in s for s in splits.train.sources)


def test_test_directory_becomes_the_test_split(class_tree, tmp_path):
    testing = tmp_path / "Testing"
    for name in ("benign", "malignant", "normal"):
        write_image(testing / name / "t.png")
    splits = _load(class_tree, test_directory=testing, val_fraction=0.2)
    assert len(splits.test) == 3 and all(s.startswith(str(testing)) for s in splits.test.sources)
    assert len(splits.train) + len(splits.val) == 15
    with pytest.raises(ValueError, match="already provides the test split"):
        _load(class_tree, test_directory=testing, test_fraction=0.1)
    write_image(testing / "extra" / "e.png")
    with pytest.raises(ValueError, match=r"test_directory .*\['extra'\] are not in class_names"):
        _load(class_tree, test_directory=testing)


def test_corrupt_image_raises_naming_the_file(class_tree):
    write_corrupt(class_tree / "benign" / "broken.png")
    with pytest.raises(
        ValueError, match=r"cannot read image .*benign/broken\.png.*on_error='skip'"
    ):
        _load(class_tree)


def test_truncated_image_raises(class_tree):
    write_truncated_jpeg(class_tree / "malignant" / "cut.jpg")
    with pytest.raises(ValueError, match=r"malignant/cut\.jpg"):
        _load(class_tree)


def test_skip_leaves_unreadable_images_out_with_a_warning_and_count(class_tree):
    write_corrupt(class_tree / "benign" / "broken.png")
    write_truncated_jpeg(class_tree / "malignant" / "cut.jpg")
    with pytest.warns(UserWarning, match="skipped 2 of 17 images"):
        splits = _load(class_tree, on_error="skip", val_fraction=0, test_fraction=0)
    assert len(splits.train) == 15
    assert sorted(s.rsplit("/", 1)[-1] for s, _ in splits.skipped) == ["broken.png", "cut.jpg"]


def test_a_class_emptied_by_skipping_is_an_error(tmp_path):
    write_image(tmp_path / "good" / "a.png")
    write_corrupt(tmp_path / "bad" / "b.png")
    with pytest.warns(UserWarning, match="skipped 1"):
        with pytest.raises(ValueError, match=r"\['bad'\] has no images left after skipping"):
            _load(tmp_path, on_error="skip")


def test_empty_class_folder_is_an_error(class_tree):
    (class_tree / "empty").mkdir()
    with pytest.raises(ValueError, match=r"class folder .*empty' has no images"):
        _load(class_tree)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(channels=2), "channels` must be 1 .* or 3"),
        (dict(image_size=(8, 0)), "image_size` must be"),
        (dict(on_error="ignore"), "on_error` must be one of"),
        (dict(interpolation="cubic"), "interpolation` must be one of"),
        (dict(extensions="png"), "extensions must be a non-empty list"),
        (
            dict(val_fraction=0.6, test_fraction=0.5),
            "val_fraction \\+ test_fraction` must be below 1",
        ),
    ],
)
def test_bad_arguments_are_named(class_tree, kwargs, message):
    with pytest.raises(ValueError, match=message):
        _load(class_tree, **kwargs)


def test_missing_or_flat_directories_are_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="is not an existing directory"):
        _load(tmp_path / "nowhere")
    write_image(tmp_path / "flat.png")
    with pytest.raises(ValueError, match="contains no class folders"):
        _load(tmp_path)


def test_numeric_class_folders_are_in_numeric_order(tmp_path):
    for k in (0, 1, 2, 10):
        write_image(tmp_path / str(k) / "a.png", size=(4, 4), seed=k)
    splits = _load(tmp_path, val_fraction=0, test_fraction=0)
    assert splits.class_names == ("0", "1", "2", "10")


def test_class_folders_differing_only_in_case_are_refused(tmp_path):
    for name in ("mel", "Mel", "nv"):
        write_image(tmp_path / name / "a.png", size=(4, 4))
    with pytest.raises(ValueError, match=r"names one class in 2 ways: 'Mel' \(a folder\), 'mel' "
                       r"\(a folder\); expected one spelling per class. Merge the folders."):
        _load(tmp_path)


def test_image_sizes_beyond_the_memory_share_are_refused_before_reading(tmp_path, monkeypatch):
    from keras_drifa import _memory

    for name in ("a", "b"):
        write_image(tmp_path / name / "1.png", size=(4, 4))
    monkeypatch.setattr(_memory, "physical_memory", lambda: 64 * 2**30)
    # The typo 224*224 reads as 50176 x 50176 images: 2 x 50176^2 x 3 x 4 bytes = 56 GiB.
    with pytest.raises(ValueError, match=r"load_image_folder: 2 images of 50176x50176x3 float32 "
                       r"would take 56.3 GiB, more than 50% of this machine's 64.0 GiB of memory; "
                       r"pass a smaller image_size, such as \(224, 224\) \(one int n means n x n "
                       r"images\), or pass allow_large=True"):
        _load(tmp_path, image_size=224 * 224)
    with pytest.raises(ValueError, match=r"2 images of 20000x20000x3 float32 would take 8.9 GiB"):
        monkeypatch.setattr(_memory, "physical_memory", lambda: 8 * 2**30)
        _load(tmp_path, image_size=(20000, 20000))
    # Without image_size, the first image's size is the estimate.
    monkeypatch.setattr(_memory, "physical_memory", lambda: 2**8)
    with pytest.raises(ValueError, match=r"2 images of 4x4x3 float32 would take"):
        _load(tmp_path, image_size=None)
    assert len(_load(tmp_path, image_size=None, allow_large=True, val_fraction=0,
                     test_fraction=0).train) == 2
    with pytest.raises(ValueError, match=r"`allow_large` must be True or False; received "
                       r"allow_large='yes'"):
        _load(tmp_path, allow_large="yes")


def test_describe_summarises_classes_counts_and_skipped_files(tmp_path):
    for name, count in (("glioma", 5), ("notumor", 4)):
        for i in range(count):
            write_image(tmp_path / name / f"{i}.png", size=(6, 6), seed=i)
    write_corrupt(tmp_path / "glioma" / "bad.png")
    with pytest.warns(UserWarning, match="skipped 1 of 10"):
        splits = _load(tmp_path, on_error="skip")
    text = splits.describe()
    lines = text.splitlines()
    assert lines[0] == "9 images of 8x8x3, 2 classes"
    assert lines[1].split() == ["class", "train", "val", "test", "total"]
    assert lines[2].split()[0] == "glioma" and lines[2].split()[-1] == "5"
    assert lines[3].split()[0] == "notumor" and lines[3].split()[-1] == "4"
    assert lines[4] == "skipped: 1 file(s)" and "bad.png: cannot identify image file" in lines[5]
    assert splits.describe(max_skipped=0).endswith("... and 1 more (see `skipped`)")
