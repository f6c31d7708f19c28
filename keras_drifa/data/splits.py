"""`stratified_split`: seeded train/validation/test indices with every class in proportion."""

import numpy as np

from keras_drifa import _checks


def stratified_split(labels, val_fraction=0.15, test_fraction=0.15, seed=0):
    """Splits sample indices into train, validation and test sets, class by class.

    Within every class, `round(n * test_fraction)` samples go to the test set and
    `round(n * val_fraction)` to the validation set (halves round up); the rest train.
    Each returned index array is in a seeded random order, so arrays indexed with it
    are shuffled (Keras's `validation_split` takes the last rows without shuffling).

    Args:
        labels: integer class labels >= 0, shape `(N,)`. Empty labels give three empty
            index arrays.
        val_fraction: fraction of each class for validation, a number in [0, 1).
        test_fraction: fraction of each class for testing, in [0, 1).
            `val_fraction + test_fraction` must be below 1.
        seed: integer seed; the same labels, fractions and seed give the same split.

    Returns:
        `(train_indices, val_indices, test_indices)`, int arrays.

    Example:

    >>> labels = np.array([0] * 10 + [1] * 20)
    >>> train, val, test = stratified_split(labels, 0.2, 0.1, seed=0)
    >>> [len(train), len(val), len(test)], np.bincount(labels[val]).tolist()
    ([21, 6, 3], [2, 4])
    """
    where = "stratified_split"
    labels = np.asarray(labels)
    if labels.ndim != 1 or (labels.size and not np.issubdtype(labels.dtype, np.integer)):
        raise ValueError(
            f"{where}: labels must be a 1-D array of integer class labels; received "
            f"shape {labels.shape} and dtype {labels.dtype}"
            + (" (one-hot rows? pass labels.argmax(-1))." if labels.ndim == 2 else ".")
        )
    if labels.size and labels.min() < 0:
        raise ValueError(
            f"{where}: labels must be class indices >= 0; received {labels.min()} at index "
            f"{int(np.argmin(labels))}."
        )
    val_fraction, test_fraction = _checks.fractions(where, val_fraction, test_fraction)
    seed = _checks.seed(where, seed, allow_none=False)

    rng = np.random.default_rng(seed)
    parts = ([], [], [])
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        n_test = int(np.floor(len(members) * test_fraction + 0.5))
        n_val = int(np.floor(len(members) * val_fraction + 0.5))
        if n_test + n_val >= len(members):
            raise ValueError(
                f"{where}: class {label} has {len(members)} samples; with val_fraction="
                f"{val_fraction} and test_fraction={test_fraction} none would be left for "
                "training. Use smaller fractions or more data."
            )
        parts[2].append(members[:n_test])
        parts[1].append(members[n_test : n_test + n_val])
        parts[0].append(members[n_test + n_val :])
    return tuple(rng.permutation(np.concatenate(p)) if p else np.zeros((0,), "intp") for p in parts)
