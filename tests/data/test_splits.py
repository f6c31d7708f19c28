import numpy as np
import pytest

from keras_drifa.data import stratified_split


def test_every_class_is_split_in_proportion():
    labels = np.repeat([0, 1, 2], [100, 40, 7])
    train, val, test = stratified_split(labels, 0.2, 0.1, seed=0)
    assert np.bincount(labels[val]).tolist() == [20, 8, 1]
    assert np.bincount(labels[test]).tolist() == [10, 4, 1]
    assert np.bincount(labels[train]).tolist() == [70, 28, 5]
    everything = np.concatenate([train, val, test])
    assert sorted(everything.tolist()) == list(range(len(labels)))


def test_same_seed_same_split_and_shuffled_order():
    labels = np.repeat([0, 1], [50, 50])
    a, b, c = (
        stratified_split(labels, 0.2, 0.2, seed=5),
        stratified_split(labels, 0.2, 0.2, seed=5),
        stratified_split(labels, 0.2, 0.2, seed=6),
    )
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[1], c[1])
    assert not np.array_equal(a[0], np.sort(a[0]))  # not grouped by class or sorted


def test_zero_fractions_give_empty_splits():
    train, val, test = stratified_split(np.array([0, 1, 1]), 0, 0)
    assert len(train) == 3 and len(val) == 0 and len(test) == 0


@pytest.mark.parametrize(
    "args, message",
    [
        ((np.array([0.5, 1.0]), 0.1, 0.1), "integer class labels"),
        ((np.zeros((2, 2), int), 0.1, 0.1), "1-D array"),
        ((np.array([0, 1]), -0.1, 0.1), r"val_fraction` must be a number in \[0, 1\)"),
        ((np.array([0, 1]), 0.1, 1.0), r"test_fraction` must be a number in \[0, 1\)"),
        ((np.array([0, 1]), 0.5, 0.5), "must be below 1"),
        ((np.array([0, 0, 1, 1, 1, 1]), 0.3, 0.4), "class 0 has 2 samples"),
    ],
)
def test_bad_arguments_are_errors(args, message):
    with pytest.raises(ValueError, match=message):
        stratified_split(*args)
