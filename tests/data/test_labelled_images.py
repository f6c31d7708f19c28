import numpy as np
import pytest

from keras_drifa.data import ImageSplits, LabelledImages


def _data(n=5):
    images = np.arange(n * 4, dtype="float32").reshape(n, 2, 2, 1) / (n * 4)
    return LabelledImages(
        images, np.array([0, 1, 1, 2, 0][:n]), ["a", "b", "c"], [f"f{i}" for i in range(n)]
    )


def test_one_hot_counts_and_subset():
    data = _data()
    assert data.num_classes == 3 and len(data) == 5
    np.testing.assert_array_equal(data.one_hot().argmax(-1), data.labels)
    assert data.one_hot().dtype == np.float32
    assert data.class_counts() == {"a": 2, "b": 2, "c": 1}
    part = data.subset([3, 0])
    assert part.sources == ("f3", "f0") and part.labels.tolist() == [2, 0]
    np.testing.assert_array_equal(part.images[0], data.images[3])
    assert "5 images of shape (2, 2, 1)" in repr(data)


def test_splits_unpack_and_share_class_names():
    data = _data()
    splits = ImageSplits(data.subset([0, 1, 2]), data.subset([3]), data.subset([4]))
    train, val, test = splits
    assert len(train) == 3 and len(val) == 1 and len(test) == 1
    assert splits.class_names == ("a", "b", "c") and splits.skipped == ()


@pytest.mark.parametrize(
    "images, labels, names, sources, message",
    [
        (np.zeros((2, 2, 2)), [0, 1], ["a", "b"], ["x", "y"], "images must have shape"),
        (np.zeros((2, 2, 2, 1)), [0], ["a", "b"], ["x", "y"], r"labels must have shape \(2,\)"),
        (np.zeros((2, 2, 2, 1)), [0, 1], ["a", "b"], ["x"], "sources must have 2 entries"),
        (np.zeros((2, 2, 2, 1)), [0, 2], ["a", "b"], ["x", "y"], r"labels must lie in \[0, 2\)"),
    ],
)
def test_inconsistent_parts_are_errors(images, labels, names, sources, message):
    with pytest.raises(ValueError, match=message):
        LabelledImages(images, np.array(labels), names, sources)
