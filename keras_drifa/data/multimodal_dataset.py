"""`MultimodalDataset`: batches `({modality: x}, {task: y})` for multimodal models."""

import math

import keras
import numpy as np

from keras_drifa import _checks
from keras_drifa.data.labelled_images import LabelledImages

MODES = ("paired", "unpaired")


class MultimodalDataset(keras.utils.PyDataset):
    """A `keras.utils.PyDataset` of `({modality: images}, {task: labels})` batches.

    Input and target names are the model's input and output names (those of
    `keras_drifa.build_model`), so `model.fit(dataset)` routes every array to the right
    branch and head. Two modes:

    - `"paired"`: row i of every modality and every target belongs to the same case (one
      patient, one synthetic sample). Rows stay aligned; all sources must have the same
      length.
    - `"unpaired"` (the paper's multitask setting): each modality comes from its own
      labelled data set with its own task, e.g. SIPaKMeD cells and HAM10000 lesions. Each
      batch holds one sample of every data set per row. An epoch covers the longest data
      set once; shorter ones are reshuffled and cycled to match (this replaces the
      authors' oversampling by augmentation), so every sample of a shorter set is seen
      about `longest / its length` times per epoch.

    The order is reshuffled at every `on_epoch_end` (which `fit` calls after each epoch)
    from `seed` and the number of epochs so far (`epoch`), so two runs with the same seed
    see the same batches. (`fit` also shuffles the order of the batches
    unless it is called with `shuffle=False`.) Augmentation runs per modality on each
    batch, in the workers when `workers > 1`.

    With `shard=(index, count)`, each of `count` data-parallel workers (processes) feeds
    its part of every global batch: the epoch order is computed over all rows, the same
    on every worker; global batch b is `batch_size * count` consecutive rows of it, split
    into `count` equal consecutive parts, and worker `index` yields part `index`. So
    `batch_size` is the per-worker batch, every worker has the same `len()`, and within
    an epoch the workers' rows are disjoint and together cover every row once. When
    `count` does not divide the number of rows, the order is padded to a multiple of
    `count` by repeating its first rows (at most `count - 1` rows per epoch are seen
    twice), so that the last global batch, which may be smaller, still splits evenly.
    `on_epoch_end` must run on every worker the same number of times (`fit` calls it once
    per epoch), which keeps the workers' orders in step. `fit(..., shuffle=False)` is not
    required: the shards stay disjoint in whatever order `fit` takes the batches. But
    `fit`'s default shuffling of the batches draws from Python's `random`, so seed it
    alike on every worker (`keras.utils.set_random_seed`), or pass `shuffle=False`, for
    every step to feed the parts of one global batch (keras-drifa's models default to
    `shuffle=False` under several processes).

    With `replicas=n` (the devices this worker feeds, `Cluster.local_replicas`), every
    batch has a multiple of `n` rows, as a step split over `n` devices needs: the order
    is padded (repeating its first rows) to a multiple of `count * n` rows (at most
    `count * n - 1` repeated rows), so the last batch splits evenly too.

    Args:
        inputs: paired: `{modality: images}` (or a list, named `modality_0`, ...), arrays
            with one row per case. Unpaired: `{modality: source}` (or a list), each source
            a `LabelledImages` or an `(images, labels)` tuple.
        targets: paired: `{task: labels}` (or a list, named `task_0`, ...), row-aligned
            with the inputs. Unpaired: must be `None` (the labels come with the sources).
        mode: `"paired"` or `"unpaired"`.
        task_names: unpaired only: the task of each modality, a list in modality order or
            a dict `{modality: task}`. Default `task_0`, `task_1`, ... in modality order.
        num_classes: `{task: classes}` or one int for all tasks, to one-hot encode integer
            labels. Not needed for `LabelledImages` sources, which know their classes.
        one_hot: `True` (default) turns 1-D integer labels into one-hot float32 rows (for
            categorical cross-entropy); 2-D labels pass as they are. `False` passes every
            label array as it is (e.g. for sparse categorical cross-entropy).
        batch_size: rows per batch; the last batch may be smaller.
        shuffle: reshuffle the rows every epoch (default). `False` keeps the given order
            (shorter unpaired sources then cycle as 0, 1, ..., n - 1, 0, 1, ...).
        seed: integer seed of the shuffling; `None` draws one at random.
        augment: `{modality: augmentation}`, each a Keras preprocessing layer, a
            `keras.Sequential` of them, or any function of a batch of images. Layers are
            called with `training=True`.
        shard: `None` (default: all rows) or `(index, count)`, this worker's index and
            the number of data-parallel workers, e.g.
            `(jax.process_index(), jax.process_count())`, or `Cluster.data_shard` of
            `keras_drifa.distributed.setup()`; see above.
        replicas: devices this worker's batches are split over (default 1); `batch_size`
            must be a multiple of it. See above.
        **kwargs: `workers`, `use_multiprocessing` and `max_queue_size` of
            `keras.utils.PyDataset`.

    Attributes:
        seed: the seed in use (drawn at random when `seed=None`).
        epoch: how many times `on_epoch_end` has run; the current order depends on it.
            Settable: a run resumed at epoch `e` (see
            `keras_drifa.callbacks.BackupAndRestore.resume_epoch`) sets `epoch = e` to see
            the rows in the order of the uninterrupted run.
        num_samples: rows per epoch (the longest source's length), over all shards.
        shard: the `(index, count)` in use, or `None`.
        replicas: the devices each batch is split over.

    Example:

    ```python
    splits_a = keras_drifa.data.load_image_folder("sipakmed", pattern="CROPPED/*.bmp")
    splits_b = keras_drifa.data.load_csv_manifest("HAM10000_metadata.csv", ["part_1", "part_2"])
    train = keras_drifa.data.MultimodalDataset(
        {"modality_0": splits_a.train, "modality_1": splits_b.train}, mode="unpaired",
        batch_size=32, seed=0,
        augment={"modality_0": keras.layers.RandomRotation(0.05)})
    model.fit(train, epochs=100)
    ```
    """

    def __init__(
        self,
        inputs,
        targets=None,
        *,
        mode="paired",
        task_names=None,
        num_classes=None,
        one_hot=True,
        batch_size=32,
        shuffle=True,
        seed=None,
        augment=None,
        shard=None,
        replicas=1,
        **kwargs,
    ):
        super().__init__(**kwargs)
        where = "MultimodalDataset"
        _checks.choice(where, "mode", mode, MODES)
        self.mode = mode
        self.batch_size = _checks.positive_int(where, "batch_size", batch_size)
        self.shuffle = _checks.boolean(where, "shuffle", shuffle)
        self.one_hot = _checks.boolean(where, "one_hot", one_hot)
        self.seed = (
            int(np.random.SeedSequence().entropy % 2**63)
            if seed is None
            else _checks.seed(where, seed, allow_none=False)
        )
        self.shard = _checks.shard(where, shard)
        self.replicas = _checks.positive_int(where, "replicas", replicas)
        if self.batch_size % self.replicas:
            raise ValueError(
                f"{where}: batch_size={self.batch_size} is not a multiple of replicas="
                f"{self.replicas}; every batch is split over the {self.replicas} devices, so "
                f"choose a batch_size divisible by {self.replicas}."
            )
        inputs = _named(where, "inputs", inputs, "modality")
        if mode == "paired":
            self._images, labels, known = _paired(where, inputs, targets, task_names)
            # Rows are aligned: every task reads the (shared) order of the first modality.
            self._task_source = {task: next(iter(self._images)) for task in labels}
        else:
            self._images, labels, known, self._task_source = _unpaired(
                where, inputs, targets, task_names
            )
        if isinstance(num_classes, dict) and set(num_classes) - set(labels):
            raise ValueError(
                f"{where}: num_classes names tasks {sorted(set(num_classes) - set(labels))} "
                f"that are not among the tasks {list(labels)}."
            )
        self._labels = {
            task: self._encode(where, task, y, num_classes, known.get(task))
            for task, y in labels.items()
        }
        self._augment = _augmentations(where, augment, list(self._images))
        self._lengths = {m: len(x) for m, x in self._images.items()}
        self.num_samples = max(self._lengths.values())
        count = self.shard[1] if self.shard else 1
        self._shard_samples = (
            math.ceil(self.num_samples / (count * self.replicas)) * self.replicas
        )
        self.epoch = 0

    @property
    def modality_names(self):
        return list(self._images)

    @property
    def task_names(self):
        return list(self._labels)

    def __len__(self):
        return math.ceil(self._shard_samples / self.batch_size)

    def __getitem__(self, index):
        if not 0 <= index < len(self):
            raise IndexError(
                f"MultimodalDataset: batch index {index} is out of range for {len(self)} batches."
            )
        batch = slice(index * self.batch_size, (index + 1) * self.batch_size)
        rows = {m: order[batch] for m, order in self._orders.items()}
        x = {}
        for m, images in self._images.items():
            x[m] = images[rows[m]]
            if m in self._augment:
                x[m] = _apply(self._augment[m], x[m])
        y = {task: labels[rows[self._task_source[task]]] for task, labels in self._labels.items()}
        return x, y

    @property
    def epoch(self):
        return self._epoch

    @epoch.setter
    def epoch(self, value):
        self._epoch = _checks.integer("MultimodalDataset", "epoch", value, minimum=0)
        self._orders = self._shard_orders(self._epoch_orders(self._epoch))

    def on_epoch_end(self):
        self.epoch += 1

    def _epoch_orders(self, epoch):
        """Row order of every modality for one epoch, a pure function of (seed, epoch)."""
        if self.mode == "paired":
            order = (
                np.random.default_rng([self.seed, epoch]).permutation(self.num_samples)
                if self.shuffle
                else np.arange(self.num_samples)
            )
            return {m: order for m in self._images}
        orders = {}
        for k, (m, length) in enumerate(self._lengths.items()):
            cycles = math.ceil(self.num_samples / length)
            if self.shuffle:
                rng = np.random.default_rng([self.seed, epoch, k])
                order = np.concatenate([rng.permutation(length) for _ in range(cycles)])
            else:
                order = np.tile(np.arange(length), cycles)
            orders[m] = order[: self.num_samples]
        return orders

    def _shard_orders(self, orders):
        """This shard's rows of the epoch orders: its part of every global batch, in order."""
        index, count = self.shard or (0, 1)
        if count * self._shard_samples == self.num_samples and count == 1:
            return orders
        full = self.num_samples // (self.batch_size * count) * self.batch_size * count
        sharded = {}
        for m, order in orders.items():
            padded = np.resize(order, count * self._shard_samples)  # wraps around
            sharded[m] = np.concatenate(
                [
                    padded[:full].reshape(-1, count, self.batch_size)[:, index].ravel(),
                    padded[full:].reshape(count, -1)[index],  # the smaller last batch
                ]
            )
        return sharded

    def _encode(self, where, task, labels, num_classes, known_classes):
        labels = np.asarray(labels)
        if not self.one_hot or labels.ndim == 2:
            return labels
        if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(
                f"{where}: labels of task {task!r} must be 1-D integer class indices or 2-D "
                f"one-hot rows; received shape {labels.shape} and dtype {labels.dtype}."
            )
        classes = num_classes.get(task) if isinstance(num_classes, dict) else num_classes
        if classes is None:
            classes = known_classes
        if classes is None:
            raise ValueError(
                f"{where}: task {task!r} has integer labels, so one-hot encoding needs its "
                "number of classes: pass num_classes={task: n} (or an int), a LabelledImages "
                "source, one-hot labels, or one_hot=False."
            )
        if len(labels) and (labels.min() < 0 or labels.max() >= classes):
            raise ValueError(
                f"{where}: labels of task {task!r} must lie in [0, {classes}); received "
                f"values from {labels.min()} to {labels.max()}."
            )
        return np.eye(classes, dtype="float32")[labels]


def _named(where, what, values, prefix):
    if isinstance(values, dict):
        if not values:
            raise ValueError(f"{where}: {what} must not be empty.")
        return dict(values)
    if isinstance(values, (list, tuple)) and values:
        return {f"{prefix}_{i}": v for i, v in enumerate(values)}
    raise ValueError(
        f"{where}: {what} must be a non-empty dict {{name: array}} or list; received "
        f"{type(values).__name__}."
    )


def _rows(where, name, array):
    array = np.asarray(array)
    if array.ndim < 1 or len(array) == 0:
        raise ValueError(
            f"{where}: {name} must have at least one row; received shape {array.shape}."
        )
    return array


def _paired(where, inputs, targets, task_names):
    if task_names is not None:
        raise ValueError(
            f"{where}: task_names is for mode='unpaired'; in paired mode the targets "
            "dict names the tasks."
        )
    if targets is None:
        raise ValueError(
            f"{where}: mode='paired' needs targets, {{task: labels}} aligned with the inputs."
        )
    for m, x in inputs.items():
        if isinstance(x, (LabelledImages, tuple)):
            raise ValueError(
                f"{where}: in paired mode inputs are image arrays, but modality {m!r} is a "
                f"{type(x).__name__}; pass its images, or use mode='unpaired' for data sets "
                "that each carry their own labels."
            )
    images = {m: _rows(where, f"modality {m!r}", x) for m, x in inputs.items()}
    labels = {
        t: _rows(where, f"targets of task {t!r}", y)
        for t, y in _named(where, "targets", targets, "task").items()
    }
    lengths = {**{m: len(x) for m, x in images.items()}, **{t: len(y) for t, y in labels.items()}}
    if len(set(lengths.values())) > 1:
        raise ValueError(
            f"{where}: mode='paired' keeps rows aligned, so every input and target needs the "
            f"same number of rows; received {lengths}. Use mode='unpaired' for independent "
            "data sets of different sizes."
        )
    return images, labels, {}


def _unpaired(where, inputs, targets, task_names):
    if targets is not None:
        raise ValueError(
            f"{where}: in mode='unpaired' every source carries its own labels "
            "(a LabelledImages or an (images, labels) tuple); targets must be None."
        )
    modalities = list(inputs)
    if task_names is None:
        task_names = {m: f"task_{i}" for i, m in enumerate(modalities)}
    elif isinstance(task_names, (list, tuple)):
        if len(task_names) != len(modalities):
            raise ValueError(
                f"{where}: task_names has {len(task_names)} entries {list(task_names)}; "
                f"expected {len(modalities)}, one per modality {modalities}."
            )
        task_names = dict(zip(modalities, task_names))
    elif not isinstance(task_names, dict) or set(task_names) != set(modalities):
        raise ValueError(
            f"{where}: task_names must be a list or a dict with one task per modality "
            f"{modalities}; received {task_names!r}."
        )
    if len(set(task_names.values())) != len(modalities):
        raise ValueError(f"{where}: task_names must be distinct; received {task_names!r}.")

    images, labels, known, source = {}, {}, {}, {}
    for m, item in inputs.items():
        task = task_names[m]
        if isinstance(item, LabelledImages):
            x, y, known[task] = item.images, item.labels, item.num_classes
        elif isinstance(item, tuple) and len(item) == 2:
            x, y = item
        else:
            raise ValueError(
                f"{where}: in mode='unpaired' modality {m!r} must be a LabelledImages or an "
                f"(images, labels) tuple; received {type(item).__name__}."
            )
        images[m] = _rows(where, f"modality {m!r}", x)
        labels[task] = _rows(where, f"labels of modality {m!r}", y)
        if len(labels[task]) != len(images[m]):
            raise ValueError(
                f"{where}: modality {m!r} has {len(images[m])} images but "
                f"{len(labels[task])} labels; expected one label per image."
            )
        source[task] = m
    return images, labels, known, source


def _augmentations(where, augment, modalities):
    if augment is None:
        return {}
    if not isinstance(augment, dict):
        raise ValueError(
            f"{where}: augment must be a dict {{modality: layer or function}}; received "
            f"{type(augment).__name__}."
        )
    for m, function in augment.items():
        if m not in modalities:
            raise ValueError(
                f"{where}: augment names modality {m!r}, which is not one of {modalities}."
            )
        if not callable(function):
            raise ValueError(
                f"{where}: augment for modality {m!r} must be a Keras layer or a function; "
                f"received {type(function).__name__}."
            )
    return dict(augment)


def _apply(function, images):
    out = (
        function(images, training=True)
        if isinstance(function, keras.layers.Layer)
        else function(images)
    )
    return keras.ops.convert_to_numpy(out)
