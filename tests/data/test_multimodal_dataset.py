import keras
import numpy as np
import pytest
from drifa_testing import RUN_EAGERLY

from keras_drifa.data import LabelledImages, MultimodalDataset


def _rows(n, k=3, size=4, channels=1):
    """Images whose every pixel holds the row number, and labels row % k."""
    images = np.broadcast_to(
        np.arange(n, dtype="float32")[:, None, None, None], (n, size, size, channels)
    ).copy()
    return images, np.arange(n) % k


def _row_ids(x):
    return x[:, 0, 0, 0].astype(int).tolist()


def _epoch(dataset):
    batches = [dataset[i] for i in range(len(dataset))]
    dataset.on_epoch_end()
    return batches


def _paired(n=10, **kwargs):
    a, y = _rows(n)
    b, _ = _rows(n, channels=3)
    kwargs.setdefault("batch_size", 4)
    kwargs.setdefault("seed", 0)
    return MultimodalDataset({"a": a, "b": b}, {"t": y}, num_classes=3, **kwargs)


def test_paired_batches_keep_rows_aligned_and_cover_each_row_once():
    dataset = _paired()
    assert (
        len(dataset) == 3 and dataset.modality_names == ["a", "b"] and dataset.task_names == ["t"]
    )
    seen = []
    for x, y in _epoch(dataset):
        assert sorted(x) == ["a", "b"] and list(y) == ["t"]
        assert x["b"].shape[1:] == (4, 4, 3) and y["t"].shape[1:] == (3,)
        rows = _row_ids(x["a"])
        assert rows == _row_ids(x["b"])
        np.testing.assert_array_equal(y["t"].argmax(-1), np.array(rows) % 3)
        seen += rows
    assert [len(r) for r in (seen[:4], seen[4:8], seen[8:])] == [4, 4, 2]
    assert sorted(seen) == list(range(10)) and seen != list(range(10))


def test_shuffling_is_seeded_and_changes_every_epoch():
    def orders(dataset, epochs=2):
        return [[r for x, _ in _epoch(dataset) for r in _row_ids(x["a"])] for _ in range(epochs)]

    first, second = orders(_paired(seed=3))
    assert first != second and sorted(first) == sorted(second)
    assert orders(_paired(seed=3)) == [first, second]
    assert orders(_paired(seed=4))[0] != first
    assert orders(_paired(shuffle=False), 1) == [list(range(10))]


def test_unpaired_epoch_covers_the_longest_source_and_cycles_the_shorter():
    long, long_y = _rows(25, k=3)
    short, short_y = _rows(6, k=2, channels=3)
    dataset = MultimodalDataset(
        {
            "cells": (long, long_y),
            "skin": LabelledImages(short, short_y, ["x", "y"], list("abcdef")),
        },
        mode="unpaired",
        num_classes={"task_0": 3},
        batch_size=4,
        seed=0,
    )
    assert len(dataset) == 7 and dataset.task_names == ["task_0", "task_1"]
    cycles = []
    for _ in range(2):
        seen_long, seen_short = [], []
        for x, y in _epoch(dataset):
            seen_long += _row_ids(x["cells"])
            seen_short += _row_ids(x["skin"])
            np.testing.assert_array_equal(
                y["task_0"].argmax(-1), np.array(_row_ids(x["cells"])) % 3
            )
            np.testing.assert_array_equal(y["task_1"].argmax(-1), np.array(_row_ids(x["skin"])) % 2)
            assert y["task_1"].shape[1] == 2  # the LabelledImages' two classes
        assert sorted(seen_long) == list(range(25))
        assert sorted(np.bincount(seen_short, minlength=6).tolist()) == [4, 4, 4, 4, 4, 5]
        cycles += [seen_short[i : i + 6] for i in range(0, 24, 6)]
    assert all(sorted(c) == list(range(6)) for c in cycles)  # each cycle is a permutation
    assert len({tuple(c) for c in cycles}) > 4  # reshuffled, not repeated


def test_unpaired_without_shuffling_cycles_in_order():
    dataset = MultimodalDataset(
        [_rows(5), _rows(2)],
        mode="unpaired",
        task_names=["first", "second"],
        num_classes=3,
        batch_size=5,
        shuffle=False,
    )
    ((x, y),) = _epoch(dataset)
    assert _row_ids(x["modality_0"]) == [0, 1, 2, 3, 4]
    assert _row_ids(x["modality_1"]) == [0, 1, 0, 1, 0]
    assert list(y) == ["first", "second"]


def test_label_encodings():
    images, labels = _rows(6)
    sparse = MultimodalDataset([images], [labels], one_hot=False, batch_size=6, shuffle=False)
    np.testing.assert_array_equal(sparse[0][1]["task_0"], labels)
    one_hot = np.eye(3, dtype="float32")[labels]
    given = MultimodalDataset([images], {"t": one_hot}, batch_size=6, shuffle=False)
    np.testing.assert_array_equal(given[0][1]["t"], one_hot)
    assert (
        sparse.seed != MultimodalDataset([images], [labels], one_hot=False).seed
    )  # seed=None draws one


def test_augmentation_per_modality():
    images = np.zeros((8, 4, 4, 1), "float32")
    images[:, :, 0] = 1.0  # a bright left column; a horizontal flip moves it right
    dataset = MultimodalDataset(
        {"a": images, "b": images},
        {"t": np.zeros(8, int)},
        num_classes=2,
        batch_size=8,
        seed=0,
        augment={"a": keras.layers.RandomFlip("horizontal", seed=1), "b": lambda x: x * 0.5},
    )
    x, _ = dataset[0]
    flipped = x["a"][:, 0, 3, 0] == 1.0
    assert 0 < flipped.sum() < 8  # some rows flipped, some not
    np.testing.assert_array_equal(x["a"][~flipped], images[~flipped])
    np.testing.assert_array_equal(x["b"], images * 0.5)


def _toy_model(shapes, classes):
    inputs = [keras.Input(shape, name=m) for m, shape in shapes.items()]
    features = [keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(2, 3)(x)) for x in inputs]
    hidden = keras.layers.Concatenate()(features)
    outputs = [
        keras.layers.Dense(k, activation="softmax", name=t)(hidden) for t, k in classes.items()
    ]
    model = keras.Model(inputs, outputs)
    model.compile(
        "adam", loss={t: "categorical_crossentropy" for t in classes}, run_eagerly=RUN_EAGERLY
    )
    return model


def test_fit_unpaired_with_worker_threads():
    rng = np.random.default_rng(0)
    dataset = MultimodalDataset(
        {
            "cells": (
                rng.random((22, 8, 8, 3), dtype="float32"),
                rng.integers(0, 5, 22),
            ),  # a last batch of 2
            "skin": (rng.random((12, 8, 8, 1), dtype="float32"), rng.integers(0, 7, 12)),
        },
        mode="unpaired",
        num_classes={"task_0": 5, "task_1": 7},
        batch_size=4,
        seed=0,
        augment={"cells": keras.layers.RandomFlip(seed=0)},
        workers=2,
    )
    assert dataset.workers == 2
    model = _toy_model({"cells": (8, 8, 3), "skin": (8, 8, 1)}, {"task_0": 5, "task_1": 7})
    history = model.fit(dataset, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all() and len(history.history["loss"]) == 2
    assert dataset.epoch >= 2  # fit calls on_epoch_end after every epoch


@pytest.mark.parametrize(
    "build, message",
    [
        (
            lambda a, y: MultimodalDataset({"a": a, "b": a[:5]}, {"t": y}, num_classes=3),
            r"same number of rows; received \{'a': 10, 'b': 5, 't': 10\}",
        ),
        (
            lambda a, y: MultimodalDataset({"a": (a, y)}, {"t": y}, num_classes=3),
            "inputs are image arrays",
        ),
        (lambda a, y: MultimodalDataset({"a": a}), "mode='paired' needs targets"),
        (lambda a, y: MultimodalDataset({"a": a}, {"t": y}), r"pass num_classes=\{task: n\}"),
        (
            lambda a, y: MultimodalDataset({"a": a}, {"t": y}, num_classes={"u": 3}),
            r"num_classes names tasks \['u'\] that are not among the tasks \['t'\]",
        ),
        (
            lambda a, y: MultimodalDataset({"a": a}, {"t": y}, num_classes=2),
            r"must lie in \[0, 2\)",
        ),
        (
            lambda a, y: MultimodalDataset({"a": a}, {"t": y * 0.5}, num_classes=3),
            "1-D integer class indices",
        ),
        (
            lambda a, y: MultimodalDataset({"a": (a, y)}, {"t": y}, mode="unpaired"),
            "targets must be None",
        ),
        (
            lambda a, y: MultimodalDataset({"a": a}, mode="unpaired"),
            "must be a LabelledImages or an",
        ),
        (
            lambda a, y: MultimodalDataset({"a": (a, y[:3])}, mode="unpaired", num_classes=3),
            "10 images but 3 labels",
        ),
        (
            lambda a, y: MultimodalDataset({"a": (a, y)}, mode="unpaired", task_names=["x", "y"]),
            "task_names has 2 entries",
        ),
        (
            lambda a, y: MultimodalDataset({"a": a}, {"t": y}, task_names=["x"], num_classes=3),
            "task_names is for mode='unpaired'",
        ),
        (
            lambda a, y: MultimodalDataset({"a": a}, {"t": y}, num_classes=3, augment={"c": abs}),
            "names modality 'c'",
        ),
        (
            lambda a, y: MultimodalDataset({"a": a}, {"t": y}, num_classes=3, augment={"a": 1}),
            "must be a Keras layer or a function",
        ),
        (
            lambda a, y: MultimodalDataset({"a": a}, {"t": y}, num_classes=3, batch_size=0),
            "batch_size must be an integer >= 1",
        ),
        (
            lambda a, y: MultimodalDataset({"a": a}, {"t": y}, num_classes=3, mode="aligned"),
            "mode must be one of",
        ),
        (lambda a, y: MultimodalDataset({}, {"t": y}), "inputs must not be empty"),
        (
            lambda a, y: MultimodalDataset({"a": a[:0]}, {"t": y[:0]}, num_classes=3),
            "at least one row",
        ),
    ],
)
def test_bad_arguments_are_errors(build, message):
    images, labels = _rows(10)
    with pytest.raises(ValueError, match=message):
        build(images, labels)


def test_batch_index_out_of_range():
    with pytest.raises(IndexError, match="batch index 3 is out of range for 3 batches"):
        _paired()[3]
