"""Fixtures of the data tests."""

import pytest
from image_files import write_image


@pytest.fixture
def class_tree(tmp_path):
    """A folder-per-class tree: 6 'benign' PNGs, 4 grayscale 'malignant' JPEGs, 5 BMPs in
    a nested 'normal' folder, plus a text file and a hidden folder to be ignored."""
    root = tmp_path / "images"
    for i in range(6):
        write_image(root / "benign" / f"b{i}.png", seed=i)
    for i in range(4):
        write_image(root / "malignant" / f"m{i}.jpg", mode="L", seed=10 + i)
    for i in range(5):
        write_image(root / "normal" / "sub" / f"n{i}.BMP", seed=20 + i)
    (root / "benign" / "notes.txt").write_text("not an image")
    write_image(root / ".ipynb_checkpoints" / "x.png")
    return root
