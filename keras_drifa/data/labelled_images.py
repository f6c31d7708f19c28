"""`LabelledImages` and `ImageSplits`: what the data set loaders return."""

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True, eq=False)
class LabelledImages:
    """Images with one integer class label each, and the names of the classes.

    Attributes:
        images: float32 array `(N, height, width, channels)` with values in [0, 1].
        labels: int32 array `(N,)` of class indices into `class_names`.
        class_names: tuple of the class names, in label order.
        sources: tuple of `N` strings saying where each image came from (a file path,
            or `"file.npz:train[12]"`).

    Example:

    ```python
    splits = keras_drifa.data.load_image_folder("brain_mri/Training", image_size=128)
    x, y = splits.train.images, splits.train.one_hot()
    ```
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: tuple
    sources: tuple

    def __post_init__(self):
        images, labels = np.asarray(self.images), np.asarray(self.labels)
        if images.ndim != 4:
            raise ValueError(
                f"LabelledImages: images must have shape (N, height, width, channels); "
                f"received shape {images.shape}."
            )
        if labels.shape != (len(images),):
            raise ValueError(
                f"LabelledImages: labels must have shape ({len(images)},), one per image; "
                f"received shape {labels.shape}."
            )
        if len(self.sources) != len(images):
            raise ValueError(
                f"LabelledImages: sources must have {len(images)} entries, one per image; "
                f"received {len(self.sources)}."
            )
        if len(labels) and (labels.min() < 0 or labels.max() >= len(self.class_names)):
            raise ValueError(
                f"LabelledImages: labels must lie in [0, {len(self.class_names)}) for "
                f"class_names {tuple(self.class_names)}; received values from {labels.min()} "
                f"to {labels.max()}."
            )
        object.__setattr__(self, "class_names", tuple(self.class_names))
        object.__setattr__(self, "sources", tuple(self.sources))

    @property
    def num_classes(self):
        return len(self.class_names)

    def one_hot(self):
        """The labels as one-hot float32 rows `(N, num_classes)`."""
        return np.eye(self.num_classes, dtype="float32")[self.labels]

    def class_counts(self):
        """`{class name: number of images}`."""
        counts = np.bincount(self.labels, minlength=self.num_classes)
        return dict(zip(self.class_names, counts.tolist()))

    def subset(self, indices):
        """The images at `indices`, in that order."""
        indices = np.asarray(indices, dtype="intp")
        return LabelledImages(
            self.images[indices],
            self.labels[indices],
            self.class_names,
            tuple(self.sources[i] for i in indices),
        )

    def __len__(self):
        return len(self.labels)

    def __repr__(self):
        return (
            f"LabelledImages({len(self)} images of shape {tuple(self.images.shape[1:])}, "
            f"classes {self.class_counts()})"
        )


@dataclasses.dataclass(frozen=True, eq=False)
class ImageSplits:
    """Train, validation and test `LabelledImages` sharing one list of classes.

    Unpacks as `train, val, test = splits`.

    Attributes:
        train: the training images.
        val: the validation images (possibly empty).
        test: the test images (possibly empty).
        skipped: paths or ids of the images that could not be read and were skipped
            (`on_error="skip"`), each with the reason: `(source, reason)` pairs.
    """

    train: LabelledImages
    val: LabelledImages
    test: LabelledImages
    skipped: tuple = ()

    @property
    def class_names(self):
        return self.train.class_names

    def __iter__(self):
        return iter((self.train, self.val, self.test))

    def __repr__(self):
        return (
            f"ImageSplits(train={len(self.train)}, val={len(self.val)}, test={len(self.test)}, "
            f"classes={self.class_names}, skipped={len(self.skipped)})"
        )
