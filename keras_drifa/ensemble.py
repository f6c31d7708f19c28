"""`MCDropoutEnsemble`: Monte Carlo dropout models trained together and sampled fast."""

import copy
import json
import math

import keras
import numpy as np
from keras import ops, tree

from keras_drifa import _checks, _graph, _memory, _saving, uncertainty
from keras_drifa.backend import rng as backend_rng
from keras_drifa.backend import training as backend_training
from keras_drifa._progress import progress_bar
from keras_drifa.distributed._torch_ddp import DataParallelTraining
from keras_drifa.mc_sampling import mc_dropout_layers, mc_sampling

DEFAULT_BATCH_SIZE = 32
# Upper bound on the prefix features (tiled over the samples of one call) fed to one
# compiled sampling call. Peak memory of a call is a small multiple of this; see README.
FEATURE_BYTES_PER_CALL = 64 * 2**20
# Seed states are drawn below 2**31 so they fit every backend's seed dtype.
_SEED_HIGH = 2**31 - 1


@keras.saving.register_keras_serializable(package="keras_drifa")
class MCDropoutEnsemble(DataParallelTraining, keras.Model):
    """An ensemble of Monte Carlo dropout models, trained in one step and sampled fast.

    DRIFA-Net's uncertainty phase (Dhar et al., WACV 2025): several independently
    initialised members, each sampled many times with MC dropout switched on. Unlike the
    authors' notebook, every member's samples count, and the result includes uncertainty
    measures, not only the mean.

    - `fit` trains all members in one compiled step. The loss is the sum of the members'
      losses, each on its own predictions, so each member learns as if trained alone. In
      the progress bar `loss` is that sum (about `num_members` times one model's loss) and
      the per-task losses are averaged over the members; metrics (`task_0_accuracy`, ...)
      measure the ensemble's mean prediction, in training as in validation and `evaluate`
      (where the loss too is that of the mean prediction).
    - Calling the ensemble returns the mean prediction in training too, so an ensemble
      can sit inside another model like any layer (that model's loss then trains the
      mean).
    - `predict` (and calling the ensemble) returns the members' mean probabilities, in the
      structure of one member's outputs; dropout is off, so it is deterministic.
    - `predict_uncertainty` draws Monte Carlo samples from every member and returns
      uncertainty measures per task.

    Members are matched by name: with several inputs (or outputs), every member needs the
    same input (output) names, in any order, with the same shapes; inputs are given, and
    results returned, in the first member's order and under its names (task names in
    results and metrics). A single input or output is matched whatever its name. Members
    must be functional (or Sequential) models with at least one
    `keras_drifa.layers.MCDropout` layer.

    Args:
        members: a zero-argument callable that builds a new member (called `num_members`
            times, so members are initialised independently), or a list of models.
        num_members: number of members to build; required with a builder, and if given
            with a list, must equal its length.
        **kwargs: standard model arguments (`name`, ...).

    Attributes:
        members: the member models (`keras.Model`), in order.

    Example:

    ```python
    ens = keras_drifa.MCDropoutEnsemble(
        lambda: keras_drifa.build_model(modalities=2, num_classes=(5, 7)), num_members=5)
    ens.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    ens.fit([x_a, x_b], [y_a, y_b], epochs=20)
    probs = ens.predict([x_a, x_b])
    u = ens.predict_uncertainty([x_a, x_b], num_samples=30)
    u["task_0"]["mutual_information"]      # per-example epistemic uncertainty
    ```
    """

    def __init__(self, members, num_members=None, **kwargs):
        super().__init__(**kwargs)
        members = _make_members(members, num_members)
        self._routing = _check_members(members)
        self.members = members
        backend_training.track_submodels(self, members)
        self.output_names = _output_names(members[0])
        self._sampling_cache = _SamplingCache()
        self.built = True

    @property
    def num_members(self):
        return len(self.members)

    def member_outputs(self, inputs, training=False):
        """Each member's outputs for `inputs` (given as to the ensemble), in member order,
        each in the structure and order of member 0's outputs."""
        routing = self._routing
        return [
            routing.outputs_of(m, member(routing.inputs_for(m, inputs), training=training))
            for m, member in enumerate(self.members)
        ]

    def call(self, inputs, training=False):
        outputs = self.member_outputs(inputs, training=training)
        # `fit`'s loss is the sum of the members' own losses, so `compute_loss` needs each
        # member's outputs of this very call (same dropout masks); it takes them from here,
        # within the same trace. The call itself always returns the mean, so an ensemble
        # inside another model behaves like any layer.
        object.__setattr__(self, "_member_outputs", outputs if training else None)
        return tree.map_structure(
            lambda *per_member: ops.mean(ops.stack(per_member, axis=0), axis=0), *outputs
        )

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        members = self.__dict__.get("_member_outputs")
        object.__setattr__(self, "_member_outputs", None)
        if not training or members is None:
            return super().compute_loss(x, y, y_pred, sample_weight, training=training)
        # Each member's loss on its own predictions (this also averages the per-task loss
        # trackers over the members). Keras adds the additional losses (`self.losses`, the
        # members' regularisation) to each; they count once in the total.
        total = None
        for member_outputs in members:
            loss = super().compute_loss(x, y, member_outputs, sample_weight, training=training)
            total = loss if total is None else total + loss
        additional = [ops.cast(ops.sum(loss), total.dtype) for loss in self.losses]
        if additional and len(members) > 1:
            total = total - (len(members) - 1) * sum(additional)
        return total

    def compile(
        self, optimizer="rmsprop", loss=None, metrics=None, weighted_metrics=None, **kwargs
    ):
        """Configures training as `keras.Model.compile`.

        With several tasks, a flat list of metrics (`metrics=["accuracy"]`) applies to
        every task, as in the issue's example; Keras 3 alone would ask for one list per
        output. A nested list or a dict is passed on unchanged.
        """
        super().compile(
            optimizer=optimizer,
            loss=loss,
            metrics=self._metrics_per_task(metrics),
            weighted_metrics=self._metrics_per_task(weighted_metrics),
            **kwargs,
        )
        # Sampling functions follow run_eagerly / jit_compile: rebuild them.
        self._sampling_cache.clear()

    def compile_from_config(self, config):
        # Keras skips compiling on load when `compile` is overridden; this one is safe.
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.optimizer is not None and self.built:
            self.optimizer.build(self.trainable_variables)

    def _metrics_per_task(self, metrics):
        if (
            len(self.output_names) < 2
            or not isinstance(metrics, (list, tuple))
            or any(isinstance(m, (list, tuple, dict)) for m in metrics)
        ):
            return metrics
        # A metric object per task, so tasks do not share state.
        return {
            task: [
                m.__class__.from_config(m.get_config())
                if isinstance(m, keras.metrics.Metric)
                else m
                for m in metrics
            ]
            for task in self.output_names
        }

    def predict_uncertainty(
        self,
        x,
        num_samples=30,
        batch_size=None,
        return_samples=False,
        seed=None,
        *,
        samples_per_call=None,
        verbose="auto",
        allow_large=False,
    ):
        """Monte Carlo dropout samples from every member, summarised per task.

        Each member is sampled `num_samples` times with its MC dropout layers on
        (`num_members * num_samples` samples per example); batch normalisation stays in
        inference mode. Fast path: the part of a member before its first MC dropout layer
        is deterministic, so it runs once per batch; the rest runs on those features
        repeated for `samples_per_call` samples at once, in one compiled call (eager
        when the ensemble was compiled with `run_eagerly=True`).

        Args:
            x: NumPy arrays structured like a member's inputs: one array, a list in input
                order or a dict keyed by the first member's input names.
            num_samples: MC samples per member, >= 1.
            batch_size: examples per batch (default 32).
            return_samples: also return the raw samples.
            seed: integer seed for the dropout masks. The same seed, inputs, `batch_size`
                and `samples_per_call` give the same result; `None` draws fresh masks.
            samples_per_call: samples evaluated per compiled call. Default: as many as
                keep the call's repeated prefix features within 64 MiB (memory stays
                bounded whatever `num_samples`). The last call of a batch may compute
                a few samples that are discarded.
            verbose: 1: a progress bar over members x batches; 2: one line at the end;
                0: silent; `"auto"`: 1 on a terminal or in a notebook, else 2.
            allow_large: the samples are kept for the summary (members x samples x
                examples x classes x 4 bytes); above half of the machine's memory that
                estimate raises a `ValueError` before anything runs, unless `True`.

        Returns:
            `{task_name: result}` for every output, where `result` has the keys of
            `keras_drifa.uncertainty.summarize_samples` (`"mean"`, `"predicted_class"`,
            `"predictive_entropy"`, `"expected_entropy"`, `"mutual_information"`,
            `"std"`) and, with `return_samples=True`, `"samples"`:
            `(num_members, num_samples, num_examples, num_classes)` float32.
        """
        num_samples = _positive_int("num_samples", num_samples)
        batch_size = DEFAULT_BATCH_SIZE if batch_size is None else _positive_int(
            "batch_size", batch_size
        )
        if samples_per_call is not None:
            samples_per_call = _positive_int("samples_per_call", samples_per_call)
        if verbose not in ("auto", 0, 1, 2):
            raise ValueError(
                f"predict_uncertainty: `verbose` must be 'auto', 0, 1 or 2; received "
                f"verbose={verbose!r}."
            )
        seed = _checks.seed("predict_uncertainty", seed)
        inputs = self._input_arrays(x)
        num_examples = len(inputs[0])
        classes = [int(t.shape[-1]) for t in _flat_outputs(self.members[0])]
        _memory.check_allocation(
            "predict_uncertainty",
            f"{self.num_members} members x {num_samples} samples x {num_examples} examples x "
            f"{sum(classes)} classes of float32 samples",
            4 * self.num_members * num_samples * num_examples * sum(classes),
            allow_large,
            "pass fewer num_samples, or call it on fewer examples at a time",
        )
        bounds = [
            (start, min(start + batch_size, num_examples))
            for start in range(0, num_examples, batch_size)
        ]
        task_names = self.output_names
        samples = [
            np.empty((self.num_members, num_samples, num_examples, t.shape[-1]), "float32")
            for t in _flat_outputs(self.members[0])
        ]
        rng = np.random.default_rng(seed)
        progbar = progress_bar(self.num_members * len(bounds), verbose, unit_name="batch")
        for m in range(self.num_members):
            # Members of one architecture are sampled through one shared copy, so that
            # the prefix and sampling functions compile once, not once per member.
            model = self._sampling_cache.load(self, m)
            prefix = self._sampling_cache.prefix(self, m)
            layers = mc_dropout_layers(model)
            saved_states = [ops.convert_to_numpy(layer.seed_generator.state) for layer in layers]
            try:
                with mc_sampling(model), backend_rng.isolated_rng():
                    for start, stop in bounds:
                        # A last, smaller batch is padded to the size of the first, so
                        # that no compiled function sees a new shape (and recompiles).
                        batch = [_padded(a[start:stop], bounds[0][1]) for a in inputs]
                        member_batch = self._routing.inputs_for(m, batch)
                        features = _as_list(prefix.predict_on_batch(_unlist(member_batch)))
                        if samples_per_call is None:
                            samples_per_call = _default_samples_per_call(
                                features, num_samples
                            )
                        calls = math.ceil(num_samples / samples_per_call)
                        per_call = math.ceil(num_samples / calls)
                        sampler = self._sampling_cache.sampler(self, m, per_call)
                        for c in range(calls):
                            _reseed(layers, rng)
                            outputs = self._routing.outputs_of(
                                m, _as_list(sampler.predict_on_batch(_unlist(features)))
                            )
                            first, last = c * per_call, min(num_samples, (c + 1) * per_call)
                            for task_samples, out in zip(samples, outputs):
                                out = out.reshape((per_call, len(batch[0]), out.shape[-1]))
                                task_samples[m, first:last, start:stop] = (
                                    out[: last - first, : stop - start]
                                )
                        if progbar is not None:
                            progbar.add(1)
            finally:
                for layer, state in zip(layers, saved_states):
                    layer.seed_generator.state.assign(state)
        results = {}
        for task, task_samples in zip(task_names, samples):
            try:
                results[task] = uncertainty.summarize_samples(task_samples)
            except ValueError as error:
                raise ValueError(
                    f"predict_uncertainty: the members' output '{task}' must be class "
                    f"probabilities (softmax) for uncertainty measures. {error}"
                ) from None
            if return_samples:
                results[task]["samples"] = task_samples
        return results

    def predict_members(self, x, batch_size=None, verbose=0):
        """Every member's deterministic prediction (dropout off), per task.

        Args:
            x: NumPy inputs, as for `predict_uncertainty`.
            batch_size: examples per batch (default 32).
            verbose: passed to each member's `predict`.

        Returns:
            `{task: float32 array (num_members, num_examples, num_classes)}`.
        """
        batch_size = DEFAULT_BATCH_SIZE if batch_size is None else _checks.positive_int(
            "predict_members", "batch_size", batch_size
        )
        inputs = self._input_arrays(x, "predict_members")
        per_member = []
        for m, member in enumerate(self.members):
            outputs = member.predict(
                _unlist(self._routing.inputs_for(m, inputs)), batch_size=batch_size,
                verbose=verbose,
            )
            per_member.append(_as_list(self._routing.outputs_of(m, _as_list(outputs))))
        return {
            task: np.stack([outputs[t] for outputs in per_member]).astype("float32")
            for t, task in enumerate(self.output_names)
        }

    def _input_arrays(self, x, where="predict_uncertainty"):
        """`x` as a list of NumPy arrays in the first member's input order, validated."""
        specs = list(self.members[0].inputs)
        return _checks.input_arrays(
            where,
            x,
            [t.name for t in specs],
            [tuple(t.shape[1:]) for t in specs],
            [keras.backend.standardize_dtype(t.dtype) for t in specs],
        )

    def save(self, filepath, overwrite=True, zipped=None, **kwargs):
        """Saves as `keras.Model.save`; a `.keras` file is replaced only by a complete one
        (written next to it, then moved into place), so a failed save keeps the old file."""
        return _saving.save_atomically(
            super().save, filepath, overwrite=overwrite, zipped=zipped, **kwargs
        )

    def get_config(self):
        config = super().get_config()
        config["members"] = [keras.saving.serialize_keras_object(m) for m in self.members]
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = copy.deepcopy(config)  # deserialization consumes the member configs
        members = [
            keras.saving.deserialize_keras_object(m, custom_objects=custom_objects)
            for m in config.pop("members")
        ]
        return cls(members, **config)


def _positive_int(arg, value):
    return _checks.positive_int("predict_uncertainty", arg, value)


def _as_list(value):
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _unlist(values):
    return values[0] if len(values) == 1 else list(values)


def _output_structure(model):
    return _graph.functional(model).output


def _flat_outputs(model):
    return tree.flatten(_output_structure(model))


def _output_names(model):
    names = getattr(_graph.functional(model), "output_names", None)
    if not names:
        names = [f"output_{i}" for i in range(len(_flat_outputs(model)))]
    return list(names)


def _make_members(members, num_members):
    if num_members is not None:
        num_members = _checks.positive_int("MCDropoutEnsemble", "num_members", num_members)
    if isinstance(members, (list, tuple)):
        if not members:
            raise ValueError("MCDropoutEnsemble: `members` is an empty list; expected models.")
        if num_members is not None and num_members != len(members):
            raise ValueError(
                f"MCDropoutEnsemble: `num_members`={num_members} but `members` lists "
                f"{len(members)} models; omit num_members or make them agree."
            )
        members = list(members)
    elif isinstance(members, keras.Model):
        raise ValueError(
            f"MCDropoutEnsemble: `members` is a single model '{members.name}'; expected a "
            "zero-argument builder with num_members, or a list of models (`[model]` for "
            "one)."
        )
    elif callable(members):
        if num_members is None:
            raise ValueError(
                "MCDropoutEnsemble: `num_members` is required with a builder; e.g. "
                "MCDropoutEnsemble(lambda: keras_drifa.build_model(...), num_members=5)."
            )
        members = [members() for _ in range(num_members)]
    else:
        raise ValueError(
            f"MCDropoutEnsemble: `members` is a {type(members).__name__}; expected a "
            "zero-argument builder or a list of models."
        )
    for i, member in enumerate(members):
        if not isinstance(member, keras.Model):
            raise ValueError(
                f"MCDropoutEnsemble: member {i} is a {type(member).__name__}; expected a "
                "keras.Model (from the list, or returned by the builder)."
            )
    return members


def _input_names(model):
    return [t.name for t in _graph.functional(model).inputs]


def _order(kind, i, member, names, reference):
    """Where member `i`'s `names` hold each of member 0's `reference` names; `None` when
    they are in the same order, or when both have one (matched whatever its name)."""
    if names == reference or len(names) == len(reference) == 1:
        return None
    if sorted(names) != sorted(reference) or len(set(names)) < len(names):
        raise ValueError(
            f"MCDropoutEnsemble: member {i} ('{member.name}') has the {kind} names {names} "
            f"but member 0 has {reference}; members are matched by {kind} name, so every "
            f"member needs the same {kind} names (in any order)."
        )
    return [names.index(name) for name in reference]


class _NameRouting:
    """Feeds every member its inputs, and reads its outputs, by name in member 0's order.

    Members are functional models, which take a list of inputs and return a list of
    outputs by position; a member listing member 0's names in another order gets its
    inputs and has its outputs reordered. Dict inputs are passed as a list in the
    member's own input order; dict outputs are matched by key already; other output
    structures (a single output, nested lists) by position.
    """

    def __init__(self, members):
        reference = members[0]
        self._input_names = [_input_names(m) for m in members]
        self._inputs = [
            _order("input", i, m, _input_names(m), _input_names(reference))
            for i, m in enumerate(members)
        ]
        self._outputs = [
            _order("output", i, m, _output_names(m), _output_names(reference))
            if _is_flat_list(_output_structure(m))
            else None
            for i, m in enumerate(members)
        ]

    @property
    def in_order(self):
        """Whether every member lists its inputs and outputs in member 0's order."""
        return all(order is None for order in self._inputs + self._outputs)

    def inputs_for(self, m, inputs):
        """`inputs` in member 0's order, in the order member `m` takes them."""
        if isinstance(inputs, dict) and set(inputs) == set(self._input_names[m]):
            # By name, in the member's own order (older Keras versions do not route dict
            # inputs of a functional model by name).
            return [inputs[name] for name in self._input_names[m]]
        order = self._inputs[m]
        if order is None or not isinstance(inputs, (list, tuple)):
            return inputs
        return [inputs[order.index(j)] for j in range(len(order))]

    def outputs_of(self, m, outputs):
        """Member `m`'s `outputs` (or a list of their shapes) in member 0's order."""
        order = self._outputs[m]
        return outputs if order is None else [outputs[j] for j in order]

    def input_shapes(self, m, shapes):
        """Member `m`'s input `shapes` in member 0's order."""
        order = self._inputs[m]
        return shapes if order is None else [shapes[j] for j in order]


def _is_flat_list(structure):
    return isinstance(structure, (list, tuple)) and not any(
        isinstance(s, (list, tuple, dict)) for s in structure
    )


def _signature(model):
    return (
        [tuple(t.shape[1:]) for t in model.inputs],
        tree.map_structure(lambda t: tuple(t.shape[1:]), _output_structure(model)),
    )


def _check_members(members):
    """Validates the members; returns the `_NameRouting` that matches them to member 0."""
    if len({id(m) for m in members}) != len(members):
        raise ValueError(
            "MCDropoutEnsemble: the same model object appears more than once in `members`; "
            "members must be distinct models (a builder returning a new model each call)."
        )
    for i, member in enumerate(members):
        if _graph.functional(member) is None:
            raise ValueError(
                f"MCDropoutEnsemble: member {i} ('{member.name}') is not a built functional "
                "or Sequential model; expected models whose layer graph can be split at "
                "the first MC dropout layer (e.g. keras_drifa.build_model)."
            )
        if not any(layer.rate > 0 for layer in mc_dropout_layers(member)):
            raise ValueError(
                f"MCDropoutEnsemble: member {i} ('{member.name}') has no MCDropout layer "
                "with rate > 0, so Monte Carlo sampling would be deterministic; build it "
                "with dropout_rate > 0 or add keras_drifa.layers.MCDropout layers."
            )
    routing = _NameRouting(members)
    reference = _signature(members[0])
    for i, member in enumerate(members[1:], start=1):
        inputs, outputs = _signature(member)
        inputs, outputs = routing.input_shapes(i, inputs), routing.outputs_of(i, outputs)
        if inputs != reference[0]:
            raise ValueError(
                f"MCDropoutEnsemble: member {i} ('{member.name}') has input shapes {inputs} "
                f"but member 0 has {reference[0]}; every member needs the same inputs."
            )
        try:
            tree.assert_same_structure(outputs, reference[1])
            same = tree.flatten(outputs) == tree.flatten(reference[1])
        except (ValueError, TypeError):
            same = False
        if not same:
            raise ValueError(
                f"MCDropoutEnsemble: member {i} ('{member.name}') has output shapes "
                f"{outputs} but member 0 has {reference[1]}; every member needs the same "
                "outputs."
            )
    return routing


def _is_stochastic(operation):
    return isinstance(operation, keras.layers.Layer) and any(
        layer.rate > 0 for layer in mc_dropout_layers(operation)
    )


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
    outputs = _flat_outputs(graph)
    stochastic = set()  # nodes that depend on a dropout mask
    for node in _graph.topological_nodes(outputs):  # inputs first
        if _is_stochastic(node.operation) or any(
            _graph.producer(t) in stochastic for t in node.input_tensors
        ):
            stochastic.add(node)
    boundary = _graph.boundary(outputs, lambda node: node not in stochastic)
    prefix = keras.Model(
        _unlist(list(graph.inputs)), _unlist(boundary), name=f"{model.name}_prefix"
    )
    suffix = keras.Model(_unlist(boundary), graph.output, name=f"{model.name}_suffix")
    return prefix, suffix


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

    Inputs: the boundary features `(B, ...)`. Outputs: the suffix outputs for
    `num_samples * B` rows, sample-major (row `s * B + b` is sample `s` of example `b`).
    Every row draws its own dropout masks when MC sampling is on.
    """
    features = [
        keras.Input(batch_shape=tuple(t.shape), dtype=t.dtype) for t in suffix.inputs
    ]
    repeated = [_RepeatSamples(num_samples)(f) for f in features]
    return keras.Model(_unlist(features), suffix(_unlist(repeated)))


class _SamplingCache:
    """Prefix and sampling models, built on first use (not tracked as layers).

    Members that share an architecture (equal configs up to layer names) share one copy of
    it, built from the first one's config; `load(m)` copies member `m`'s weights into the
    copy. Their prefix and sampling functions are then compiled once, whatever the number
    of members. A member whose architecture no other member has is sampled directly.
    """

    def __init__(self):
        self.clear()

    def clear(self):
        self._groups = None  # member index -> index of its first member of equal architecture
        self._copies = {}
        self._splits = {}
        self._samplers = {}

    def _group(self, ensemble, m):
        if self._groups is None:
            keys = [_architecture_key(member) for member in ensemble.members]
            self._groups = [keys.index(key) for key in keys]
        return self._groups[m]

    def _model(self, ensemble, m):
        group = self._group(ensemble, m)
        if self._groups.count(group) == 1:
            return ensemble.members[m]
        if group not in self._copies:
            first = ensemble.members[group]
            self._copies[group] = type(first).from_config(first.get_config())
        return self._copies[group]

    def load(self, ensemble, m):
        """The model to sample member `m` with, holding member `m`'s weights."""
        model = self._model(ensemble, m)
        if model is not ensemble.members[m]:
            model.set_weights(ensemble.members[m].get_weights())
        return model

    def _split(self, ensemble, m):
        group = self._group(ensemble, m)
        if group not in self._splits:
            prefix, suffix = split_at_mc_dropout(self._model(ensemble, m))
            _follow_compile_settings(prefix, ensemble)
            self._splits[group] = (prefix, suffix)
        return self._splits[group]

    def prefix(self, ensemble, m):
        return self._split(ensemble, m)[0]

    def sampler(self, ensemble, m, num_samples):
        key = (self._group(ensemble, m), num_samples)
        if key not in self._samplers:
            sampler = sampling_model(self._split(ensemble, m)[1], num_samples)
            _follow_compile_settings(sampler, ensemble)
            self._samplers[key] = sampler
        return self._samplers[key]


def _architecture_key(model):
    """The model's config as canonical JSON, with layer names replaced by their position, so
    that two builds of one architecture (whatever names Keras gave their layers) match."""
    names = {layer.name: f"#{i}" for i, layer in enumerate(model.layers)}
    names[model.name] = "#model"

    def canonical(value):
        if isinstance(value, dict):
            return {k: canonical(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [canonical(v) for v in value]
        if isinstance(value, str):
            return names.get(value, value)
        return value

    shapes = [tuple(w.shape) for w in model.weights]
    return json.dumps([type(model).__name__, canonical(model.get_config()), shapes],
                      sort_keys=True, default=str)


def _padded(array, size):
    """`array` with its last row repeated up to `size` rows (unchanged if it has them)."""
    missing = size - len(array)
    if missing <= 0:
        return array
    return np.concatenate([array, np.repeat(array[-1:], missing, axis=0)])


def _follow_compile_settings(model, ensemble):
    if ensemble.compiled:
        model.run_eagerly = ensemble.run_eagerly
        model.jit_compile = ensemble.jit_compile


def _default_samples_per_call(features, num_samples):
    batch = len(features[0])
    bytes_per_example = sum(f[0].nbytes for f in features)
    rows = max(1, FEATURE_BYTES_PER_CALL // max(1, bytes_per_example))
    return max(1, min(num_samples, rows // batch))


def _reseed(layers, rng):
    """Fresh dropout seeds from `rng`, so that masks follow the caller's seed.

    Every backend draws seeded masks from the layers' seed states. PyTorch draws the
    masks of unseeded layers (`MCDropout(seed=None)`, the default) from its global
    generator instead, which is seeded here too (inside `backend.rng.isolated_rng`).
    """
    for layer in layers:
        state = layer.seed_generator.state
        state.assign(rng.integers(0, _SEED_HIGH, size=state.shape).astype(np.dtype(state.dtype)))
    backend_rng.seed_global_rng(int(rng.integers(0, _SEED_HIGH)))
