import numpy as np
import pytest
from image_files import write_corrupt, write_image

from keras_drifa.data import load_csv_manifest

LESIONS = {"nv": 6, "mel": 4, "bkl": 3}


@pytest.fixture
def ham(tmp_path):
    """A HAM10000-like manifest; images split over two folders, ids without extension."""
    lines = ["lesion_id,image_id,dx,age"]
    n = 0
    for dx, count in LESIONS.items():
        for _ in range(count):
            part = tmp_path / ("part_1" if n % 2 else "part_2")
            write_image(part / f"ISIC_{n:07d}.jpg", size=(16, 12), seed=n)
            lines.append(f"HAM_{n},ISIC_{n:07d},{dx},50")
            n += 1
    manifest = tmp_path / "HAM10000_metadata.csv"
    manifest.write_text(
        "\n".join(lines) + "\n", encoding="utf-8-sig"
    )  # with a BOM, as Excel writes
    return manifest, [tmp_path / "part_1", tmp_path / "part_2"]


def _load(manifest, dirs, **kwargs):
    kwargs.setdefault("image_size", (8, 8))
    kwargs.setdefault("verbose", 0)
    return load_csv_manifest(manifest, dirs, **kwargs)


def _rewrite(manifest, edit):
    lines = manifest.read_text(encoding="utf-8-sig").splitlines()
    manifest.write_text("\n".join(edit(lines)) + "\n")


def test_reads_the_listed_images_with_their_labels(ham):
    manifest, dirs = ham
    splits = _load(manifest, dirs, val_fraction=0, test_fraction=0)
    assert splits.class_names == ("bkl", "mel", "nv")
    assert splits.train.class_counts() == {"bkl": 3, "mel": 4, "nv": 6}
    assert splits.train.images.shape == (13, 8, 8, 3)
    assert 0 <= splits.train.images.min() and splits.train.images.max() <= 1
    expected = [dx for dx, count in LESIONS.items() for _ in range(count)]  # by image number
    for source, label in zip(splits.train.sources, splits.train.labels):
        n = int(source.rsplit("ISIC_", 1)[1][:7])
        assert splits.class_names[label] == expected[n]


def test_ids_with_extensions_and_class_names(ham):
    manifest, dirs = ham
    _rewrite(
        manifest,
        lambda lines: [lines[0]]
        + [l.replace(",ISIC_0000000,", ",ISIC_0000000.jpg,") for l in lines[1:]],
    )
    splits = _load(
        manifest, dirs, class_names=["nv", "mel", "bkl"], val_fraction=0, test_fraction=0
    )
    assert splits.train.class_counts() == {"nv": 6, "mel": 4, "bkl": 3}


def test_split_is_stratified_and_seeded(ham):
    manifest, dirs = ham
    a = _load(manifest, dirs, val_fraction=0.25, test_fraction=0.25, seed=1)
    b = _load(manifest, dirs, val_fraction=0.25, test_fraction=0.25, seed=1)
    assert a.test.class_counts() == {"bkl": 1, "mel": 1, "nv": 2}
    assert a.test.sources == b.test.sources and a.train.sources == b.train.sources
    np.testing.assert_array_equal(a.train.images, b.train.images)


def test_missing_column_lists_the_header(ham):
    manifest, dirs = ham
    with pytest.raises(
        ValueError, match=r"no column 'diagnosis'.*\['lesion_id', 'image_id', 'dx', 'age'\]"
    ):
        _load(manifest, dirs, label_column="diagnosis")


def test_row_without_label_is_an_error(ham):
    manifest, dirs = ham
    _rewrite(manifest, lambda lines: lines[:3] + ["HAM_x,ISIC_0000002,,50"] + lines[4:])
    with pytest.raises(
        ValueError, match=r"line 4 \(image 'ISIC_0000002'\) has no label in column 'dx'"
    ):
        _load(manifest, dirs)


def test_unknown_label_is_an_error(ham):
    manifest, dirs = ham
    with pytest.raises(
        ValueError, match=r"3 rows whose 'dx' is not in class_names.*\['bkl'\].*line 12"
    ):
        _load(manifest, dirs, class_names=["nv", "mel"])


def test_class_without_rows_is_an_error(ham):
    manifest, dirs = ham
    with pytest.raises(ValueError, match=r"class(es)? \['vasc'\] has no rows in manifest"):
        _load(manifest, dirs, class_names=["bkl", "mel", "nv", "vasc"])


def test_duplicate_and_empty_ids_are_errors(ham):
    manifest, dirs = ham
    _rewrite(manifest, lambda lines: lines + [lines[1]])
    with pytest.raises(ValueError, match=r"'ISIC_0000000' appears twice .* lines 2 and 15"):
        _load(manifest, dirs)
    _rewrite(manifest, lambda lines: lines[:-1] + ["HAM_y,,nv,50"])
    with pytest.raises(ValueError, match="line 15 has an empty 'image_id'"):
        _load(manifest, dirs)


def test_manifest_without_rows_is_an_error(tmp_path):
    manifest = tmp_path / "m.csv"
    manifest.write_text("image_id,dx\n")
    with pytest.raises(ValueError, match="lists no images"):
        _load(manifest, tmp_path)
    with pytest.raises(FileNotFoundError, match="is not an existing file"):
        _load(tmp_path / "none.csv", tmp_path)


def test_missing_image_raises_naming_it_or_is_skipped(ham):
    manifest, dirs = ham
    (dirs[1] / "ISIC_0000002.jpg").unlink()
    with pytest.raises(
        ValueError, match=r"cannot read image 'ISIC_0000002': no image file found in .*part_1"
    ):
        _load(manifest, dirs)
    with pytest.warns(UserWarning, match="skipped 1 of 13 images"):
        splits = _load(manifest, dirs, on_error="skip", val_fraction=0, test_fraction=0)
    assert len(splits.train) == 12 and splits.skipped[0][0] == "ISIC_0000002"


def test_corrupt_image_raises_naming_the_file(ham):
    manifest, dirs = ham
    write_corrupt(dirs[0] / "ISIC_0000001.jpg")
    with pytest.raises(ValueError, match=r"cannot read image .*part_1/ISIC_0000001\.jpg"):
        _load(manifest, dirs)


def test_ambiguous_extension_is_an_error(ham):
    manifest, dirs = ham
    write_image(dirs[0] / "ISIC_0000001.png")
    with pytest.raises(
        ValueError, match=r"'ISIC_0000001' matches several files .*ISIC_0000001\.jpg"
    ):
        _load(manifest, dirs)


# --- Issue 21: one file in two rows, numeric labels, spelling variants ------------------------


def test_two_rows_naming_one_file_are_refused(ham):
    manifest, dirs = ham
    _rewrite(manifest, lambda lines: lines + ["HAM_x,ISIC_0000000.jpg,mel,50"])
    with pytest.raises(
        ValueError,
        match=r"lines 2 \('ISIC_0000000', label 'nv'\) and 15 \('ISIC_0000000.jpg', label "
        r"'mel'\) both name the file .*ISIC_0000000.jpg'; expected one row per image file",
    ):
        _load(manifest, dirs)


def test_numeric_labels_are_in_numeric_order(tmp_path):
    lines = ["image_id,dx"]
    for n in range(22):
        write_image(tmp_path / f"img_{n}.png", size=(4, 4), seed=n)
        lines.append(f"img_{n},{n % 11}")
    (tmp_path / "m.csv").write_text("\n".join(lines) + "\n")
    splits = _load(tmp_path / "m.csv", tmp_path, val_fraction=0, test_fraction=0)
    assert splits.class_names == tuple(str(k) for k in range(11))
    for source, label in zip(splits.train.sources, splits.train.labels):
        assert label == int(source.rsplit("img_", 1)[1][:-4]) % 11


def test_one_label_spelled_two_ways_is_refused(ham):
    manifest, dirs = ham
    _rewrite(manifest, lambda lines: lines[:2] + [lines[2].replace(",nv,", ",NV ,")] + lines[3:])
    with pytest.raises(
        ValueError,
        match=r"spells one label of column 'dx' in 2 ways: 'nv' \(first on line 2\), 'NV' "
        r"\(first on line 3\); expected one spelling per class",
    ):
        _load(manifest, dirs)
