"""Small image files for the loader tests, written by the tests themselves."""

import numpy as np
from PIL import Image


def write_image(path, size=(12, 10), mode="RGB", value=None, seed=0, **save_kwargs):
    """Writes an image file of `size` (width, height); its format follows the extension.

    `value` fills every pixel (a number or a tuple per channel); otherwise pixels are
    seeded random. Returns the pixels as written, as an array.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    width, height = size
    if value is not None:
        image = Image.new(mode, size, value)
    elif mode == "I;16":
        pixels = np.random.default_rng(seed).integers(0, 65536, (height, width), dtype=np.uint16)
        image = Image.fromarray(pixels)
    else:
        channels = {"RGB": 3, "L": 1}[mode]
        pixels = np.random.default_rng(seed).integers(
            0, 256, (height, width, channels), dtype=np.uint8
        )
        image = Image.fromarray(pixels[..., 0] if channels == 1 else pixels)
    image.save(path, **save_kwargs)
    return np.asarray(image)


def write_corrupt(path, content=b"this is not an image"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)


def write_truncated_jpeg(path):
    write_image(path, size=(64, 64), quality=95)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
