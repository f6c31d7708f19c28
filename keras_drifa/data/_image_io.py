"""Reading, resizing and channel conversion of images with Pillow (the `data` extra)."""

import os
import stat
import struct

import numpy as np

IMAGE_EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".png", ".tif", ".tiff", ".webp")
INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "lanczos", "area")
ON_ERROR = ("raise", "skip")

# 16-bit grayscale images (common for MRI and CT exports), scaled by their full range.
_SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")


def pillow(where):
    """Imports Pillow, or says how to install it."""
    try:
        from PIL import Image, ImageOps
    except ImportError as error:
        raise ImportError(
            f"{where} reads image files with Pillow, which is not installed. Install it "
            "with `pip install keras-drifa[data]` (or `pip install pillow`)."
        ) from error
    return Image, ImageOps


def _resample(Image, interpolation):
    return {
        "nearest": Image.Resampling.NEAREST,
        "bilinear": Image.Resampling.BILINEAR,
        "bicubic": Image.Resampling.BICUBIC,
        "lanczos": Image.Resampling.LANCZOS,
        "area": Image.Resampling.BOX,
    }[interpolation]


def read_errors(Image):
    """The exceptions that mean "this file is not a readable image"."""
    return (OSError, ValueError, SyntaxError, EOFError, struct.error, Image.DecompressionBombError)


def file_kind(path):
    """What `path` is when it exists but is not a regular file ("a directory", "a FIFO
    (named pipe)", ...), following links; `None` for a regular file or no file at all."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return None
    kinds = (
        (stat.S_ISREG, None),
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((kind for test, kind in kinds if test(mode)), "not a regular file")


def read_image(path, image_size, channels, interpolation, where):
    """Reads one image file as float32 `(height, width, channels)` in [0, 1].

    `image_size` is `(height, width)` or `None` (keep the file's size). Raises one of
    `read_errors(...)` when the file cannot be decoded, or is not a regular file (opening
    a FIFO waits for a writer, and a device such as /dev/zero never ends).
    """
    kind = file_kind(path)
    if kind is not None:
        raise OSError(f"it is {kind}, not an image file")
    Image, ImageOps = pillow(where)
    with Image.open(path) as image:
        if image_size is not None and image.format == "JPEG":
            # Decode large JPEGs at a reduced scale that is still >= the target size.
            side = max(image_size)
            image.draft("RGB" if channels == 3 else "L", (side, side))
        image = ImageOps.exif_transpose(image)
        image.load()
        if image.mode in _SIXTEEN_BIT_MODES:
            array = np.asarray(image, dtype="float32")
            if array.min() < 0 or array.max() > 65535:
                raise ValueError(
                    f"32-bit integer pixel values from {array.min()} to {array.max()} do not "
                    "fit the 16-bit range [0, 65535] this loader scales to [0, 1]"
                )
            return resize(
                array[..., None] / np.float32(65535), image_size, channels, interpolation, where
            )
        if image.mode == "F":
            raise ValueError(
                "floating-point (mode 'F') images have no fixed range to scale to [0, 1]; "
                "convert them to 8- or 16-bit images first"
            )
        image = image.convert("RGB" if channels == 3 else "L")
        if image_size is not None and image.size != (image_size[1], image_size[0]):
            image = image.resize((image_size[1], image_size[0]), _resample(Image, interpolation))
        array = np.asarray(image, dtype="float32") / np.float32(255)
    return array.reshape(array.shape[:2] + (channels,))


def convert_channels(images, channels):
    """`(..., C)` float images with C in {1, 3} -> `channels` channels (gray <-> RGB)."""
    if images.shape[-1] == channels:
        return images
    if channels == 3:
        return np.repeat(images, 3, axis=-1)
    # ITU-R 601-2 luma, as Pillow's convert("L").
    return images @ np.array([[0.299], [0.587], [0.114]], "float32")


def resize(image, image_size, channels, interpolation, where):
    """Resizes one float image `(H, W, C)` in [0, 1] and converts its channels."""
    image = convert_channels(image, channels)
    if image_size is None or image.shape[:2] == tuple(image_size):
        return image.astype("float32", copy=False)
    Image, _ = pillow(where)
    method = _resample(Image, interpolation)
    planes = [
        np.asarray(
            Image.fromarray(np.ascontiguousarray(image[..., c], dtype="float32")).resize(
                (image_size[1], image_size[0]), method
            )
        )
        for c in range(image.shape[-1])
    ]
    # Bicubic and Lanczos overshoot slightly at sharp edges; keep the [0, 1] range.
    return np.clip(np.stack(planes, axis=-1), 0.0, 1.0)
