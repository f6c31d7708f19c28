"""README.md's code runs as written: every Python block, in order, in one session.

The blocks read like one notebook: later ones use names that earlier ones define. Names the
text leaves to the reader (your images and labels, your own backbone, downloaded data sets)
are provided here, small: two to four images per array, and tiny files in the layouts the
loaders expect, in a temporary working directory. A block preceded by the comment
`<!-- readme-test: skip: <reason> -->` is not run; the only such blocks are those that
need a download.
"""

import pathlib
import re

import keras
import numpy as np
import pytest
from drifa_testing import ONCE_ON_TORCH
from data.image_files import write_image

import keras_drifa

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"
SKIP = re.compile(r"<!-- readme-test: skip: (.+?) -->\s*$")


def readme_blocks():
    """`(line, code, skip_reason)` for every ```python block of the README."""
    lines = README.read_text().splitlines()
    blocks, i = [], 0
    while i < len(lines):
        if lines[i].strip() == "```python":
            previous = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
            skip = SKIP.match(previous.strip())
            end = lines.index("```", i + 1)
            blocks.append((i + 1, "\n".join(lines[i + 1 : end]), skip.group(1) if skip else None))
            i = end
        i += 1
    return blocks


def _images(n, size=128, channels=3, seed=0):
    return np.random.default_rng(seed).random((n, size, size, channels), dtype=np.float32)


def _one_hot(n, classes, seed=0):
    return np.eye(classes, dtype="float32")[np.random.default_rng(seed).integers(0, classes, n)]


def _reader_names():
    """The arrays and models the README's text leaves to the reader."""
    names = dict(
        x_pap_smear=_images(2, seed=1), x_dermoscopy=_images(2, seed=2),
        y_pap_smear=_one_hot(2, 5, 1), y_dermoscopy=_one_hot(2, 7, 2),
        xa=_images(2, seed=3), xb=_images(2, seed=4), ya=_one_hot(2, 5, 3), yb=_one_hot(2, 7, 4),
        feature_map=_images(2, size=8, channels=64, seed=5),
        features_a=_images(2, size=8, channels=64, seed=6),
        features_b=_images(2, size=4, channels=64, seed=7),
        x_a=_images(4, seed=8), x_b=_images(4, seed=9),
        y_a=_one_hot(4, 5, 8), y_b=_one_hot(4, 7, 9),
        v_a=_images(2, seed=10), v_b=_images(2, seed=11),
        w_a=_one_hot(2, 5, 10), w_b=_one_hot(2, 7, 11),
    )
    names["labels_a"], names["labels_b"] = names["y_a"].argmax(-1), names["y_b"].argmax(-1)
    inputs = keras.Input((224, 224, 3))
    x = keras.layers.Conv2D(8, 3, strides=4, padding="same", name="block1_out")(inputs)
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", name="block2_out")(x)
    x = keras.layers.Conv2D(16, 3, strides=2, padding="same", name="block3_out")(x)
    x = keras.layers.Conv2D(16, 3, strides=2, padding="same", name="block4_out")(x)
    names["my_model"] = keras.Model(inputs, x, name="my_model")
    return names


def _downloaded_data_sets(root):
    """Tiny stand-ins for the data sets the README loads, in their real layouts."""
    for split, n in (("Training", 3), ("Testing", 2)):
        for c, name in enumerate(("glioma", "meningioma", "notumor", "pituitary")):
            for i in range(n):
                write_image(root / "brain-tumor-mri" / split / name / f"{i}.jpg", seed=c * 10 + i)
    for c, name in enumerate(("im_Dyskeratotic", "im_Koilocytotic", "im_Metaplastic",
                              "im_Parabasal", "im_Superficial-Intermediate")):
        for i in range(5):
            write_image(root / "sipakmed" / name / "CROPPED" / f"{i}.bmp", seed=50 + c * 10 + i)
    rows = ["lesion_id,image_id,dx"]
    for c, dx in enumerate(("akiec", "bcc", "bkl", "df", "mel", "nv", "vasc")):
        for i in range(5):
            image_id = f"ISIC_{c}{i:04d}"
            part = "HAM10000_images_part_1" if i % 2 else "HAM10000_images_part_2"
            write_image(root / part / f"{image_id}.jpg", seed=200 + c * 10 + i)
            rows.append(f"HAM_{c}{i},{image_id},{dx}")
    (root / "HAM10000_metadata.csv").write_text("\n".join(rows) + "\n")
    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in (("train", 14), ("val", 7), ("test", 7)):
        arrays[f"{split}_images"] = rng.integers(0, 256, (n, 28, 28, 3), dtype=np.uint8)
        arrays[f"{split}_labels"] = (np.arange(n) % 7).reshape(n, 1).astype(np.uint8)
    np.savez(root / "dermamnist.npz", **arrays)


def test_every_block_is_found_and_only_downloads_are_skipped():
    blocks = readme_blocks()
    assert len(blocks) >= 14
    for line, _, reason in blocks:
        assert reason is None or "download" in reason, f"README line {line}: {reason}"


@ONCE_ON_TORCH
def test_blocks_run_in_order(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KERAS_BACKEND", keras.backend.backend())
    _downloaded_data_sets(tmp_path)
    # Calls that build the paper network (no `widths`, no `backbone`) get tiny widths here:
    # the README's code paths are the same, and training four paper-size networks would
    # cost minutes and gigabytes (tests/models checks the paper network itself).
    build_model = keras_drifa.build_model

    def small_build_model(*args, **kwargs):
        if "widths" not in kwargs and "backbone" not in kwargs:
            kwargs.update(widths=(8, 16, 16, 32), blocks_per_stage=(1, 1, 1, 1))
            small_builds.append(kwargs)
        return build_model(*args, **kwargs)

    small_builds = []
    monkeypatch.setattr(keras_drifa, "build_model", small_build_model)
    namespace = _reader_names()
    ran = 0
    for line, code, skip in readme_blocks():
        if skip:
            continue
        try:
            exec(compile(code, f"README.md, block at line {line}", "exec"), namespace)
        except Exception as error:
            raise AssertionError(f"README.md block at line {line} failed: {error!r}") from error
        ran += 1
    assert ran >= 13
    # What the blocks say they produce.
    assert (tmp_path / "drifa.keras").exists() and (tmp_path / "reliability.png").exists()
    assert namespace["u"]["task_0"]["mutual_information"].shape == (4,)
    assert len(small_builds) >= 4  # the quick start, the ensemble's members, the paper model
