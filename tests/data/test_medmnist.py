import numpy as np
import pytest

from keras_drifa.data import load_medmnist

COUNTS = {"train": 30, "val": 9, "test": 12}


def _write(path, shape=(28, 28), classes=3, **overrides):
    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in COUNTS.items():
        arrays[f"{split}_images"] = rng.integers(0, 256, (n,) + shape, dtype=np.uint8)
        arrays[f"{split}_labels"] = (np.arange(n) % classes).reshape(n, 1).astype(np.uint8)
    arrays.update(overrides)
    arrays = {k: v for k, v in arrays.items() if v is not None}
    np.savez(path, **arrays)
    return arrays


def test_keeps_the_files_splits_scaled_to_unit_range(tmp_path):
    arrays = _write(tmp_path / "m.npz")
    splits = load_medmnist(tmp_path / "m.npz", verbose=0)
    assert [len(p) for p in splits] == list(COUNTS.values())
    assert splits.class_names == ("0", "1", "2")
    assert splits.train.images.shape == (30, 28, 28, 3) and splits.train.images.dtype == np.float32
    np.testing.assert_allclose(splits.val.images[..., 1], arrays["val_images"] / 255, atol=1e-6)
    np.testing.assert_array_equal(splits.test.labels, arrays["test_labels"][:, 0])
    assert splits.val.sources[4].endswith("m.npz:val[4]")


def test_resizes_and_converts_channels(tmp_path):
    arrays = _write(tmp_path / "rgb.npz", shape=(28, 28, 3))
    splits = load_medmnist(
        tmp_path / "rgb.npz", image_size=16, channels=1, class_names=["a", "b", "c"], verbose=0
    )
    assert splits.train.images.shape == (30, 16, 16, 1)
    assert splits.class_names == ("a", "b", "c")
    unresized = load_medmnist(tmp_path / "rgb.npz", channels=1, verbose=0).train.images
    luma = arrays["train_images"] @ np.array([0.299, 0.587, 0.114]) / 255
    np.testing.assert_allclose(unresized[..., 0], luma, atol=1e-5)
    # Resizing a constant image keeps the constant.
    _write(tmp_path / "flat.npz", val_images=np.full((9, 28, 28), 51, np.uint8))
    val = load_medmnist(tmp_path / "flat.npz", image_size=(20, 12), verbose=0).val.images
    assert val.shape == (9, 20, 12, 3)
    np.testing.assert_allclose(val, 0.2, atol=1e-5)


def test_resplits_the_pooled_images_when_asked(tmp_path):
    _write(tmp_path / "m.npz")
    splits = load_medmnist(
        tmp_path / "m.npz", val_fraction=0.2, test_fraction=0.2, seed=0, verbose=0
    )
    assert sum(len(p) for p in splits) == sum(COUNTS.values())
    assert splits.test.class_counts() == {"0": 3, "1": 3, "2": 3}
    with pytest.raises(ValueError, match="pass both val_fraction and test_fraction"):
        load_medmnist(tmp_path / "m.npz", val_fraction=0.2)


@pytest.mark.parametrize(
    "overrides, message",
    [
        (dict(val_labels=None), r"has no \['val_labels'\]"),
        (dict(train_labels=np.zeros((30, 14), np.uint8)), "multi-label train_labels"),
        (
            dict(test_images=np.zeros((12, 28, 28, 28), np.uint8)),
            "3-D MedMNIST volumes are not supported",
        ),
        (
            dict(train_images=np.zeros((30, 28, 28), np.float64)),
            "dtype float64; MedMNIST images are uint8",
        ),
        (dict(val_labels=np.zeros((8, 1), np.uint8)), "must hold 9 integer labels"),
    ],
)
def test_malformed_files_are_errors(tmp_path, overrides, message):
    _write(tmp_path / "m.npz", **overrides)
    with pytest.raises(ValueError, match=message):
        load_medmnist(tmp_path / "m.npz", verbose=0)


def test_labels_beyond_class_names_or_empty_classes_are_errors(tmp_path):
    _write(tmp_path / "m.npz")
    with pytest.raises(ValueError, match=r"has label 2, but class_names names only 2 classes"):
        load_medmnist(tmp_path / "m.npz", class_names=["a", "b"])
    with pytest.raises(ValueError, match=r"\['d'\] has no images"):
        load_medmnist(tmp_path / "m.npz", class_names=["a", "b", "c", "d"])


def test_unreadable_or_missing_files_are_errors(tmp_path):
    (tmp_path / "bad.npz").write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="is not a readable .npz file"):
        load_medmnist(tmp_path / "bad.npz")
    with pytest.raises(FileNotFoundError, match="is not an existing file"):
        load_medmnist(tmp_path / "none.npz")


# --- Issue 21: headers read before loading, the memory guard ---------------------------------


def _forge_header(path, key, shape):
    """Replaces entry `key` of the .npz by a .npy header claiming `shape` and 16 bytes."""
    import io
    import zipfile

    with zipfile.ZipFile(path) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    forged = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        forged, {"descr": "|u1", "fortran_order": False, "shape": shape}
    )
    entries[f"{key}.npy"] = forged.getvalue() + bytes(16)
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)


def test_a_header_claiming_more_than_the_file_holds_is_refused_before_loading(tmp_path):
    path = tmp_path / "m.npz"
    _write(path)
    _forge_header(path, "train_images", (10**6, 1000, 1000))
    with pytest.raises(ValueError, match=r"entry train_images claims shape \(1000000, 1000, 1000\) "
                       r"of uint8 \(1,000,000,000,000 bytes\) but holds 16 bytes of data"):
        load_medmnist(path, verbose=0, allow_large=True)


def test_images_beyond_the_memory_share_are_refused_unless_allowed(tmp_path, monkeypatch):
    from keras_drifa import _memory

    path = tmp_path / "m.npz"
    _write(path)
    monkeypatch.setattr(_memory, "physical_memory", lambda: 2**20)  # a 1 MiB machine
    with pytest.raises(ValueError, match=r"load_medmnist: the images of .*m.npz' \(train_images "
                       r"\d+x64x64x3, .*float32\) would take .* GiB, more than 50% of this "
                       r"machine's 0.0 GiB of memory; pass a smaller image_size, or pass "
                       r"allow_large=True"):
        load_medmnist(path, image_size=64, verbose=0)
    assert len(load_medmnist(path, image_size=64, verbose=0, allow_large=True).train)
