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


def test_setting_the_epoch_gives_that_epochs_order():
    # A resumed run sets `epoch` (BackupAndRestore.resume_epoch) to see the rows in the
    # order of the uninterrupted run.
    def rows(dataset):
        return [r for i in range(len(dataset)) for r in _row_ids(dataset[i][0]["a"])]

    walked = _paired(seed=3)
    for _ in range(3):
        walked.on_epoch_end()
    resumed = _paired(seed=3)
    resumed.epoch = np.int64(3)
    assert resumed.epoch == 3 and rows(resumed) == rows(walked)
    for bad in (-1, 1.0, True):
        with pytest.raises(ValueError, match=r"epoch` must be an integer >= 0; received"):
            resumed.epoch = bad


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


def _expected_shards(order, count, batch_size):
    """The sharding rule written out: pad the order by wrap-around to a multiple of count,
    cut it into global batches of batch_size * count rows, split each into count parts."""
    padded = [order[i % len(order)] for i in range(-(-len(order) // count) * count)]
    shards = [[] for _ in range(count)]
    for start in range(0, len(padded), batch_size * count):
        batch = padded[start : start + batch_size * count]
        part = len(batch) // count
        for k in range(count):
            shards[k].append(batch[k * part : (k + 1) * part])
    return shards


def _batches(dataset, modality):
    return [_row_ids(dataset[i][0][modality]) for i in range(len(dataset))]


@pytest.mark.parametrize("n, count", [(12, 4), (10, 4), (11, 3), (2, 4), (7, 1)])
def test_shards_split_every_global_batch_and_together_cover_the_epoch(n, count):
    whole = _paired(n, batch_size=1)
    order = [r for batch in _batches(whole, "a") for r in batch]
    shards = [_paired(n, batch_size=2, shard=(k, count)) for k in range(count)]
    batches = [_batches(shard, "a") for shard in shards]
    assert batches == _expected_shards(order, count, batch_size=2)
    assert len({len(shard) for shard in shards}) == 1
    assert all(len(b) == 2 for shard in batches for b in shard[:-1])
    for k, shard in enumerate(shards):
        assert shard.num_samples == n and shard.shard == (k, count)
        for x, y in (shard[i] for i in range(len(shard))):
            assert _row_ids(x["a"]) == _row_ids(x["b"])
            np.testing.assert_array_equal(y["t"].argmax(-1), np.array(_row_ids(x["a"])) % 3)
    rows = [r for shard in batches for b in shard for r in b]
    padding = len(rows) - n
    assert padding == (-n) % count and padding <= count - 1
    assert sorted(rows) == sorted(order + order[:padding])  # disjoint apart from the padding
    if n % count == 0:  # the shards' batch b, side by side, is the global batch b
        everyone = _paired(n, batch_size=2 * count)
        for b in range(len(everyone)):
            x, y = everyone[b]
            parts = [shard[b] for shard in shards]
            for m in ("a", "b"):
                np.testing.assert_array_equal(np.concatenate([p[0][m] for p in parts]), x[m])
            np.testing.assert_array_equal(np.concatenate([p[1]["t"] for p in parts]), y["t"])


def test_shards_follow_the_seed_and_on_epoch_end_alike():
    def epochs(shard, epochs=3, seed=5):
        dataset = _paired(11, batch_size=2, seed=seed, shard=shard)
        return [[_row_ids(x["a"]) for x, _ in _epoch(dataset)] for _ in range(epochs)]

    sharded = [epochs((k, 3)) for k in range(3)]
    assert sharded == [epochs((k, 3)) for k in range(3)]  # same seed, same batches
    assert epochs((0, 3), seed=6) != sharded[0]
    unsharded = epochs(None)
    for epoch in range(3):
        order = [r for batch in unsharded[epoch] for r in batch]
        assert [s[epoch] for s in sharded] == _expected_shards(order, 3, batch_size=2)
    assert sharded[0][0] != sharded[0][1]  # reshuffled every epoch


def test_unpaired_shards_take_their_part_of_every_modality_order():
    sources = {"cells": _rows(25, k=3), "skin": _rows(6, k=2, channels=3)}

    def dataset(**kwargs):
        return MultimodalDataset(
            sources, mode="unpaired", num_classes={"task_0": 3, "task_1": 2}, seed=0, **kwargs
        )

    whole = dataset(batch_size=25)
    orders = {m: _row_ids(whole[0][0][m]) for m in sources}
    shards = [dataset(batch_size=3, shard=(k, 4)) for k in range(4)]
    assert [len(shard) for shard in shards] == [3, 3, 3, 3]
    for m, task, classes in (("cells", "task_0", 3), ("skin", "task_1", 2)):
        expected = _expected_shards(orders[m], 4, batch_size=3)
        for k, shard in enumerate(shards):
            assert _batches(shard, m) == expected[k]
            for i in range(len(shard)):
                x, y = shard[i]
                np.testing.assert_array_equal(
                    y[task].argmax(-1), np.array(_row_ids(x[m])) % classes
                )


def test_one_shard_is_the_whole_data_set_and_numpy_integers_are_accepted():
    whole, one = _paired(batch_size=3), _paired(batch_size=3, shard=(np.int64(0), np.int32(1)))
    assert one.shard == (0, 1) and all(type(v) is int for v in one.shard)
    assert _batches(one, "a") == _batches(whole, "a") and whole.shard is None


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
            "batch_size` must be an integer >= 1",
        ),
        (
            lambda a, y: MultimodalDataset({"a": a}, {"t": y}, num_classes=3, mode="aligned"),
            "mode` must be one of",
        ),
        (lambda a, y: MultimodalDataset({}, {"t": y}), "inputs must not be empty"),
        (
            lambda a, y: MultimodalDataset({"a": a}, {"t": y}, num_classes=3, shard=(4, 4)),
            r"`shard` must be \(index, count\) with the index an integer from 0 to 3; received shard=\(4, 4\)\.",
        ),
        (
            lambda a, y: MultimodalDataset({"a": a}, {"t": y}, num_classes=3, shard=(-1, 2)),
            r"`shard` must be \(index, count\) with the index an integer from 0 to 1; received shard=\(-1, 2\)\.",
        ),
        (
            lambda a, y: MultimodalDataset({"a": a}, {"t": y}, num_classes=3, shard=(0, 0)),
            r"`shard` must be \(index, count\) with the count an integer >= 1; received shard=\(0, 0\)\.",
        ),
        (
            lambda a, y: MultimodalDataset({"a": a}, {"t": y}, num_classes=3, shard=(True, 2)),
            r"`shard` must be \(index, count\) with the index an integer from 0 to 1; received shard=\(True, 2\)",
        ),
        (
            lambda a, y: MultimodalDataset({"a": a}, {"t": y}, num_classes=3, shard=(0, 2.0)),
            r"`shard` must be \(index, count\) with the count an integer >= 1; received shard=\(0, 2.0\)",
        ),
        (
            lambda a, y: MultimodalDataset({"a": a}, {"t": y}, num_classes=3, shard=(0, True)),
            r"`shard` must be \(index, count\) with the count an integer >= 1; received shard=\(0, True\)",
        ),
        (
            lambda a, y: MultimodalDataset({"a": a}, {"t": y}, num_classes=3, shard=2),
            r"shard` must be None or \(index, count\), .*; received shard=2\.",
        ),
        (
            lambda a, y: MultimodalDataset({"a": a}, {"t": y}, num_classes=3, shard=(0, 1, 2)),
            r"shard` must be None or \(index, count\), .*; received shard=\(0, 1, 2\)\.",
        ),
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


@pytest.mark.parametrize("shard", [None, (0, 2), (1, 2)])
def test_replicas_make_every_batch_divisible_among_the_devices(shard):
    rows = np.arange(13, dtype="float32")[:, None]
    ds = MultimodalDataset({"a": rows}, {"t": np.zeros(13, "int64")}, num_classes=2,
                           batch_size=4, shuffle=False, shard=shard, replicas=2)
    batches = [ds[i][0]["a"].ravel() for i in range(len(ds))]
    assert all(len(b) % 2 == 0 for b in batches)
    seen = np.concatenate(batches)
    count = 1 if shard is None else 2
    assert len(seen) * count - 13 <= count * 2 - 1  # the padding, repeated first rows


def test_replicas_must_divide_the_batch():
    with pytest.raises(ValueError, match="batch_size=5 is not a multiple of replicas=2"):
        MultimodalDataset({"a": np.zeros((4, 1))}, {"t": np.zeros(4, "int64")}, num_classes=2,
                          batch_size=5, replicas=2)
    with pytest.raises(ValueError, match="replicas"):
        MultimodalDataset({"a": np.zeros((4, 1))}, {"t": np.zeros(4, "int64")}, num_classes=2,
                          replicas=0)
