"""Fuzz-style tests of the loaders: damaged and odd files get the documented error, naming
the file, within seconds.

Random bytes, truncated files, headers that claim huge images or arrays, and things that
are not regular files (a FIFO, which blocks a reader until a writer comes; a link to
/dev/zero, which never ends; a directory named like an image) each go through the folder
loader, the CSV manifest loader and the MedMNIST loader. Each case runs in a thread with
a time limit, so a hang fails the test instead of stopping the suite.
"""

import io
import os
import struct
import threading
import time
import zipfile
import zlib

import numpy as np
import pytest
from PIL import Image

from keras_drifa.data import load_csv_manifest, load_image_folder, load_medmnist

TIME_LIMIT_S = 10
POSIX = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs and /dev/zero")


def _within_time_limit(call):
    """`call()`'s exception (or `None`) and the seconds it took; fails on a hang."""
    outcome = {}

    def target():
        try:
            call()
        except BaseException as error:  # noqa: BLE001 - reported to the test
            outcome["error"] = error

    thread = threading.Thread(target=target, daemon=True)
    start = time.perf_counter()
    thread.start()
    thread.join(TIME_LIMIT_S)
    assert not thread.is_alive(), f"the loader still runs after {TIME_LIMIT_S} s (a hang)"
    return outcome.get("error"), time.perf_counter() - start


def _png_bytes(size=(4, 4)):
    buffer = io.BytesIO()
    Image.fromarray(np.full(size + (3,), 100, np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def _jpeg_bytes():
    buffer = io.BytesIO()
    Image.fromarray(np.full((8, 8, 3), 100, np.uint8)).save(buffer, format="JPEG")
    return buffer.getvalue()


def _png_claiming(width, height):
    """A PNG signature and a valid IHDR chunk claiming `width` x `height`, then no data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr
    return b"\x89PNG\r\n\x1a\n" + chunk + struct.pack(">I", zlib.crc32(chunk[4:]))


def _jpeg_claiming(width, height):
    """A JPEG start and a baseline frame header claiming `width` x `height`, then nothing."""
    sof = struct.pack(">BHHB", 8, height, width, 3) + b"\x01\x11\x00\x02\x11\x00\x03\x11\x00"
    return b"\xff\xd8" + b"\xff\xc0" + struct.pack(">H", len(sof) + 2) + sof


RANDOM = np.random.default_rng(0).integers(0, 256, 600, dtype=np.uint8).tobytes()

# name: bytes of a damaged image file.
DAMAGED_IMAGES = {
    "random_bytes": RANDOM,
    "empty": b"",
    "png_signature_only": b"\x89PNG\r\n\x1a\n",
    "png_truncated": _png_bytes()[:40],
    "png_random_after_header": _png_bytes()[:33] + RANDOM,
    "png_claiming_100000x100000": _png_claiming(100_000, 100_000),
    "png_claiming_10000x10000": _png_claiming(10_000, 10_000),
    "jpeg_truncated": _jpeg_bytes()[:60],
    "jpeg_claiming_65000x65000": _jpeg_claiming(65_000, 65_000),
}


def _odd_entry(path, kind):
    """Makes `path` a FIFO, a link to /dev/zero, a directory, or a broken link."""
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dev_zero":
        os.symlink("/dev/zero", path)
    elif kind == "directory":
        os.mkdir(path)
        (path / "inside.png").write_bytes(_png_bytes())
    else:
        os.symlink(path.parent / "missing-target", path)


ODD_KINDS = ["fifo", "dev_zero", "directory", "broken_link"]


def _folder_with(tmp_path, name, make):
    """Two class folders of good images; `make(path)` adds `a/<name>`."""
    for label in ("a", "b"):
        (tmp_path / label).mkdir()
        for i in range(2):
            (tmp_path / label / f"good_{i}.png").write_bytes(_png_bytes())
    bad = tmp_path / "a" / name
    make(bad)
    return bad


def _assert_names_file(error, path, types=(ValueError,)):
    assert isinstance(error, types), f"{type(error).__name__}: {error}"
    assert str(path) in str(error), str(error)


@pytest.mark.parametrize("case", sorted(DAMAGED_IMAGES))
def test_image_folder_refuses_damaged_images_naming_them(tmp_path, case):
    bad = _folder_with(tmp_path, "bad.png", lambda p: p.write_bytes(DAMAGED_IMAGES[case]))
    error, elapsed = _within_time_limit(
        lambda: load_image_folder(tmp_path, image_size=None, val_fraction=0, verbose=0)
    )
    _assert_names_file(error, bad)
    assert elapsed < TIME_LIMIT_S


FILE_KINDS = ["fifo", "dev_zero", "broken_link"]


@POSIX
@pytest.mark.parametrize("kind", FILE_KINDS)
def test_image_folder_refuses_odd_files_named_like_images(tmp_path, kind):
    bad = _folder_with(tmp_path, "odd.png", lambda p: _odd_entry(p, kind))
    error, _ = _within_time_limit(
        lambda: load_image_folder(tmp_path, image_size=(4, 4), val_fraction=0, verbose=0)
    )
    _assert_names_file(error, bad)
    if kind != "broken_link":
        assert "not an image file" in str(error)


def test_image_folder_reads_the_images_inside_a_directory_named_like_one(tmp_path):
    """A directory is a container: the recursive default pattern finds what it holds."""
    _folder_with(tmp_path, "odd.png", lambda p: _odd_entry(p, "directory"))
    splits = load_image_folder(tmp_path, image_size=(4, 4), val_fraction=0, verbose=0)
    assert any(s.endswith(os.path.join("odd.png", "inside.png")) for s in splits.train.sources)
    assert len(splits.train) + len(splits.test) == 5


@POSIX
@pytest.mark.parametrize("kind", FILE_KINDS)
def test_image_folder_skips_odd_files_when_asked(tmp_path, kind):
    bad = _folder_with(tmp_path, "odd.png", lambda p: _odd_entry(p, kind))
    with pytest.warns(UserWarning, match="skipped 1 of"):
        splits = load_image_folder(
            tmp_path, image_size=(4, 4), val_fraction=0, on_error="skip", verbose=0
        )
    assert [source for source, _ in splits.skipped] == [str(bad)]


def _manifest(tmp_path, image_id):
    manifest = tmp_path / "manifest.csv"
    rows = ["image_id,dx", "good_0,a", "good_1,b", f"{image_id},a"]
    manifest.write_text("\n".join(rows) + "\n")
    return manifest


def _csv_folder(tmp_path, name, make):
    images = tmp_path / "images"
    images.mkdir()
    for i in range(2):
        (images / f"good_{i}.png").write_bytes(_png_bytes())
    bad = images / name
    make(bad)
    return images, bad


@pytest.mark.parametrize("case", sorted(DAMAGED_IMAGES))
def test_csv_manifest_refuses_damaged_images_naming_them(tmp_path, case):
    images, bad = _csv_folder(tmp_path, "bad.jpg", lambda p: p.write_bytes(DAMAGED_IMAGES[case]))
    manifest = _manifest(tmp_path, "bad")
    error, _ = _within_time_limit(
        lambda: load_csv_manifest(manifest, images, image_size=(4, 4), val_fraction=0,
                                  test_fraction=0, verbose=0)
    )
    _assert_names_file(error, bad)


@POSIX
@pytest.mark.parametrize("kind", ODD_KINDS)
@pytest.mark.parametrize("image_id", ["odd", "odd.png"])
def test_csv_manifest_refuses_odd_files_named_like_images(tmp_path, kind, image_id):
    images, bad = _csv_folder(tmp_path, "odd.png", lambda p: _odd_entry(p, kind))
    manifest = _manifest(tmp_path, image_id)
    error, _ = _within_time_limit(
        lambda: load_csv_manifest(manifest, images, image_size=(4, 4), val_fraction=0,
                                  test_fraction=0, verbose=0)
    )
    _assert_names_file(error, bad)


@POSIX
@pytest.mark.parametrize("kind", ["fifo", "dev_zero", "directory"])
def test_a_manifest_that_is_not_a_regular_file_is_refused(tmp_path, kind):
    manifest = tmp_path / "manifest.csv"
    _odd_entry(manifest, kind)
    images = tmp_path / "images"
    images.mkdir()
    error, _ = _within_time_limit(lambda: load_csv_manifest(manifest, images, verbose=0))
    _assert_names_file(error, manifest, FileNotFoundError)
    assert "is not an existing file (it is a" in str(error)


# --- MedMNIST .npz ------------------------------------------------------------------------


def _npz_bytes(**arrays):
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _valid_arrays(n=4):
    rng = np.random.default_rng(0)
    arrays = {}
    for split in ("train", "val", "test"):
        arrays[f"{split}_images"] = rng.integers(0, 256, (n, 8, 8), dtype=np.uint8)
        arrays[f"{split}_labels"] = (np.arange(n) % 2).reshape(n, 1).astype(np.uint8)
    return arrays


def _npz_with_member(name, data):
    """A valid archive whose member `name` is replaced by `data`."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for key, array in _valid_arrays().items():
            member = io.BytesIO()
            np.save(member, array)
            archive.writestr(f"{key}.npy", data if f"{key}.npy" == name else member.getvalue())
    return buffer.getvalue()


def _npy_header_claiming(shape):
    header = repr({"descr": "|u1", "fortran_order": False, "shape": shape}).encode()
    header += b" " * (63 - len(header) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header


VALID_NPZ = _npz_bytes(**_valid_arrays())
DAMAGED_NPZ = {
    "random_bytes": RANDOM,
    "empty": b"",
    "zip_truncated": VALID_NPZ[: len(VALID_NPZ) // 2],
    "zip_signature_then_random": b"PK\x03\x04" + RANDOM,
    "npy_random_member": _npz_with_member("train_images.npy", RANDOM),
    "npy_truncated_header": _npz_with_member("train_images.npy", b"\x93NUMPY\x01\x00\xff"),
    "npy_header_claiming_10**12": _npz_with_member(
        "train_images.npy", _npy_header_claiming((10**6, 10**3, 10**3))
    ),
    "npy_header_claiming_a_little_more": _npz_with_member(
        "val_images.npy", _npy_header_claiming((5, 8, 8))
    ),
    "npy_header_negative_shape": _npz_with_member("test_images.npy", _npy_header_claiming((-1, 8))),
}


@pytest.mark.parametrize("case", sorted(DAMAGED_NPZ))
def test_medmnist_refuses_damaged_files_naming_them(tmp_path, case):
    path = tmp_path / "damaged.npz"
    path.write_bytes(DAMAGED_NPZ[case])
    error, _ = _within_time_limit(lambda: load_medmnist(path, verbose=0))
    _assert_names_file(error, path)


@POSIX
@pytest.mark.parametrize("kind", ["fifo", "dev_zero", "directory", "broken_link"])
def test_medmnist_refuses_what_is_not_a_regular_file(tmp_path, kind):
    path = tmp_path / "odd.npz"
    _odd_entry(path, kind)
    error, _ = _within_time_limit(lambda: load_medmnist(path, verbose=0))
    _assert_names_file(error, path, FileNotFoundError)
