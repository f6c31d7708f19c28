"""Fast Monte Carlo sampling of an ensemble's members.

The part of a member before its first MC dropout layer is deterministic, so it runs once
per batch (the prefix); the rest (the suffix) runs on those features repeated for many
samples at once, in one compiled call.
"""

import math

import keras
import numpy as np
from keras import ops

from keras_drifa import _graph
from keras_drifa.backend import rng as backend_rng
from keras_drifa.backend.compilation import as_list
from keras_drifa.ensemble.members import architecture_key, flat_outputs
from keras_drifa.mc_sampling import mc_dropout_layers, mc_sampling

# Upper bound on the prefix features (tiled over the samples of one call) fed to one
# compiled sampling call. Peak memory of a call is a small multiple of this; see README.
FEATURE_BYTES_PER_CALL = 64 * 2**20
# Seed states are drawn below 2**31 so they fit every backend's seed dtype.
_SEED_HIGH = 2**31 - 1


def split_at_mc_dropout(model):
    """Splits a functional model where its deterministic part ends.

    The prefix is everything that does not depend on an MC dropout layer; the suffix is
    the rest. A tensor is on the boundary when the prefix computes it and the suffix
    reads it (for DRIFA-Net: each branch's first RRA block output, which feeds the first
    MC dropout). Both share the model's layers and weights.

    Returns:
        `(prefix, suffix)`: `prefix` maps the model inputs to the boundary tensors,
        `suffix` maps the boundary tensors to the model outputs.
    """
    graph = _graph.functional(model)
    outputs = flat_outputs(graph)
    stochastic = set()  # nodes that depend on a dropout mask
    for node in _graph.topological_nodes(outputs):  # inputs first
        if _is_stochastic(node.operation) or any(
            _graph.producer(t) in stochastic for t in node.input_tensors
        ):
            stochastic.add(node)
    ends = _graph.boundary(outputs, lambda node: node not in stochastic)
    cut = _graph.split(graph, ends)
    return cut.head, cut.tail


def _is_stochastic(operation):
    return isinstance(operation, keras.layers.Layer) and any(
        layer.rate > 0 for layer in mc_dropout_layers(operation)
    )


class _RepeatSamples(keras.layers.Layer):
    """Stacks `num_samples` copies of the batch: `(B, ...)` -> `(num_samples * B, ...)`."""

    def __init__(self, num_samples, **kwargs):
        super().__init__(autocast=False, **kwargs)
        self.num_samples = num_samples

    def call(self, x):
        return ops.tile(x, (self.num_samples,) + (1,) * (len(x.shape) - 1))

    def compute_output_shape(self, input_shape):
        batch = None if input_shape[0] is None else input_shape[0] * self.num_samples
        return (batch,) + tuple(input_shape[1:])

    def get_config(self):
        config = super().get_config()
        config["num_samples"] = self.num_samples
        return config


def sampling_model(suffix, num_samples):
    """A model evaluating `suffix` on its inputs repeated `num_samples` times.

    Inputs: the boundary features `(B, ...)`, a list in `suffix`'s input order. Outputs:
    the suffix outputs for `num_samples * B` rows, sample-major (row `s * B + b` is sample
    `s` of example `b`). Every row draws its own dropout masks when MC sampling is on.
    """
    features = [
        keras.Input(batch_shape=tuple(t.shape), dtype=t.dtype) for t in suffix.inputs
    ]
    repeated = [_RepeatSamples(num_samples)(f) for f in features]
    return keras.Model(features, suffix(repeated))


def padded_batches(inputs, batch_size):
    """`(start, stop, batch)` for every batch of the arrays `inputs`. A last, smaller batch
    is padded (its last row repeated) to the size of the first, so that no compiled
    function sees a new shape (and recompiles)."""
    num_examples = len(inputs[0])
    size = min(batch_size, num_examples)
    return [
        (
            start,
            min(start + size, num_examples),
            [_padded(a[start : start + size], size) for a in inputs],
        )
        for start in range(0, num_examples, size)
    ]


class MemberSampler:
    """Draws Monte Carlo samples of an ensemble's members, fast.

    Prefix and sampling models are built on first use and kept (not tracked as layers).
    Members that share an architecture (equal configs up to layer names) share one copy
    of it, built from the first one's config, into which each member's weights are
    loaded for its turn; their prefix and sampling functions are then compiled once,
    whatever the number of members. A member whose architecture no other member has is
    sampled directly.

    Args:
        members: the ensemble's member models.
        routing: the `members.NameRouting` matching them to member 0.
    """

    def __init__(self, members, routing):
        self._members = members
        self._routing = routing
        self.clear()

    def clear(self):
        """Forgets every model built (e.g. after `compile` changed the settings)."""
        self._groups = None  # member index -> index of its first member of equal architecture
        self._copies = {}
        self._splits = {}
        self._samplers = {}

    def sample(self, m, batches, num_samples, samples_per_call, rng, out, settings,
               progbar=None):
        """Draws `num_samples` samples of member `m` for every batch.

        MC dropout is on and batch normalisation in inference mode; the member's seed
        states are restored afterwards.

        Args:
            m: the member's index.
            batches: `padded_batches` of the inputs, in member 0's input order.
            num_samples: samples per example.
            samples_per_call: samples per compiled call, or `None` to choose it from the
                first batch's features.
            rng: a `numpy.random.Generator` seeding every call's dropout masks.
            out: one array `(num_samples, num_examples, classes)` per output, in member
                0's output order, filled in place.
            settings: the model whose `run_eagerly` and `jit_compile` the calls follow.
            progbar: a `keras.utils.Progbar` advanced once per batch, or `None`.

        Returns:
            The samples per call used (given, or chosen on the first batch).
        """
        model = self._load(m)
        prefix = self._split(m, settings)[0]
        layers = mc_dropout_layers(model)
        saved_states = [ops.convert_to_numpy(layer.seed_generator.state) for layer in layers]
        try:
            with mc_sampling(model), backend_rng.isolated_rng():
                for start, stop, batch in batches:
                    features = as_list(
                        prefix.predict_on_batch(self._routing.inputs_for(m, batch))
                    )
                    if samples_per_call is None:
                        samples_per_call = _default_samples_per_call(features, num_samples)
                    calls = math.ceil(num_samples / samples_per_call)
                    per_call = math.ceil(num_samples / calls)
                    sampler = self._sampler(m, per_call, settings)
                    for c in range(calls):
                        reseed(layers, rng)
                        outputs = self._routing.outputs_of(
                            m, as_list(sampler.predict_on_batch(features))
                        )
                        first, last = c * per_call, min(num_samples, (c + 1) * per_call)
                        for task_out, values in zip(out, outputs):
                            values = values.reshape((per_call, len(batch[0]), -1))
                            task_out[first:last, start:stop] = (
                                values[: last - first, : stop - start]
                            )
                    if progbar is not None:
                        progbar.add(1)
        finally:
            for layer, state in zip(layers, saved_states):
                layer.seed_generator.state.assign(state)
        return samples_per_call

    def _group(self, m):
        if self._groups is None:
            keys = [architecture_key(member) for member in self._members]
            self._groups = [keys.index(key) for key in keys]
        return self._groups[m]

    def _model(self, m):
        group = self._group(m)
        if self._groups.count(group) == 1:
            return self._members[m]
        if group not in self._copies:
            first = self._members[group]
            self._copies[group] = type(first).from_config(first.get_config())
        return self._copies[group]

    def _load(self, m):
        """The model to sample member `m` with, holding member `m`'s weights."""
        model = self._model(m)
        if model is not self._members[m]:
            model.set_weights(self._members[m].get_weights())
        return model

    def _split(self, m, settings):
        group = self._group(m)
        if group not in self._splits:
            prefix, suffix = split_at_mc_dropout(self._model(m))
            _follow_compile_settings(prefix, settings)
            self._splits[group] = (prefix, suffix)
        return self._splits[group]

    def _sampler(self, m, num_samples, settings):
        key = (self._group(m), num_samples)
        if key not in self._samplers:
            sampler = sampling_model(self._split(m, settings)[1], num_samples)
            _follow_compile_settings(sampler, settings)
            self._samplers[key] = sampler
        return self._samplers[key]


def reseed(layers, rng):
    """Fresh dropout seeds from `rng`, so that masks follow the caller's seed.

    Every backend draws seeded masks from the layers' seed states. PyTorch draws the
    masks of unseeded layers (`MCDropout(seed=None)`, the default) from its global
    generator instead, which is seeded here too (inside `backend.rng.isolated_rng`).
    """
    for layer in layers:
        state = layer.seed_generator.state
        state.assign(rng.integers(0, _SEED_HIGH, size=state.shape).astype(np.dtype(state.dtype)))
    backend_rng.seed_global_rng(int(rng.integers(0, _SEED_HIGH)))


def _padded(array, size):
    """`array` with its last row repeated up to `size` rows (unchanged if it has them)."""
    missing = size - len(array)
    if missing <= 0:
        return array
    return np.concatenate([array, np.repeat(array[-1:], missing, axis=0)])


def _follow_compile_settings(model, settings):
    if settings.compiled:
        model.run_eagerly = settings.run_eagerly
        model.jit_compile = settings.jit_compile


def _default_samples_per_call(features, num_samples):
    batch = len(features[0])
    bytes_per_example = sum(f[0].nbytes for f in features)
    rows = max(1, FEATURE_BYTES_PER_CALL // max(1, bytes_per_example))
    return max(1, min(num_samples, rows // batch))
