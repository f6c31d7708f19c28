"""`MCDropoutEnsemble`: Monte Carlo dropout models trained together and sampled fast."""

import copy

import keras
import numpy as np
from keras import ops, tree

from keras_drifa import _checks, _memory, _saving, uncertainty
from keras_drifa._progress import progress_bar
from keras_drifa.backend import training as backend_training
from keras_drifa.backend.compilation import as_list
from keras_drifa.distributed._torch_ddp import DataParallelTraining
from keras_drifa.ensemble.members import (
    check_members,
    flat_outputs,
    make_members,
    mean_outputs,
    output_names,
    output_structure,
    unlist,
)
from keras_drifa.ensemble.sampling import MemberSampler, padded_batches
from keras_drifa.ensemble.training import member_loop

DEFAULT_BATCH_SIZE = 32


@keras.saving.register_keras_serializable(package="keras_drifa")
class MCDropoutEnsemble(DataParallelTraining, keras.Model):
    """An ensemble of Monte Carlo dropout models, trained in one step and sampled fast.

    DRIFA-Net's uncertainty phase (Dhar et al., WACV 2025): several independently
    initialised members, each sampled many times with MC dropout switched on. Unlike the
    authors' notebook, every member's samples count, and the result includes uncertainty
    measures, not only the mean.

    - `fit` trains all members in one step. The loss is the sum of the members' losses,
      each on its own predictions, so each member learns as if trained alone (within
      the train step, the ensemble's outputs handed to `compute_loss` are every member's,
      see `compute_loss`). In the progress bar `loss` is that sum (about `num_members`
      times one model's loss) and the per-task losses are averaged over the members;
      metrics (`task_0_accuracy`, ...) measure the ensemble's mean prediction, in
      training as in validation and `evaluate` (where the loss too is that of the mean
      prediction).
    - The member loop (`member_loop`): when the members share an architecture (built by
      one builder, or with equal configs up to layer names and to the values of
      dropout and initializer seeds), the train and test steps
      compile one member's pass once and run it for each member in turn
      (`keras_drifa.ensemble.training`), so the first step waits about as long for 3 or 5
      members as for one (paper model on JAX: 1.19x for 3 members against 2.41x with
      Keras's step). It is on by default on JAX, where it also trains as fast. On
      TensorFlow it is off by default: with `FusedAdam` the first step of 3 paper models
      took 1.53x one model's (Keras's step: 3.8x), but Keras's one graph trains several
      members faster (it runs them side by side on the cores; the loop trained 3 members
      at 0.84x to 0.93x its rate); pass `member_loop=True` for short runs. PyTorch
      compiles nothing, so Keras's step always runs there.
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
        member_loop: `"auto"` (default): train with the member loop on JAX; `True`: also
            on TensorFlow; `False`: always with Keras's step over all members. Where it
            cannot apply (PyTorch, eager or distributed training, members of different
            architectures) Keras's step runs whatever the setting.
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

    def __init__(self, members, num_members=None, member_loop="auto", **kwargs):
        super().__init__(**kwargs)
        if not (member_loop == "auto" or member_loop is True or member_loop is False):
            raise ValueError(
                "MCDropoutEnsemble: `member_loop` must be 'auto', True or False; received "
                f"member_loop={member_loop!r}."
            )
        self.member_loop = member_loop
        members = make_members(members, num_members)
        self._routing = check_members(members)
        self.members = members
        backend_training.track_submodels(self, members)
        self.output_names = output_names(members[0])
        self._sampling_cache = MemberSampler(members, self._routing)
        # > 0 while Keras runs this ensemble's train step (see `train_step`).
        self._train_steps_running = 0
        # The member loop's train and test steps (see `make_train_function`), or None.
        self._member_loop = None
        self.built = True

    @property
    def num_members(self):
        return len(self.members)

    @property
    def members_in_order(self):
        """Whether every member lists its inputs and outputs in member 0's order (members
        may list the same names in any order; the ensemble matches them by name)."""
        return self._routing.in_order

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
        if self._train_steps_running:
            return outputs
        return mean_outputs(outputs)

    def make_train_function(self, force=False):
        """As `keras.Model.make_train_function`, with the member loop where it applies
        (`member_loop`): one member's forward and backward pass compiled once for all
        members (`keras_drifa.ensemble.training`)."""
        if self.train_function is not None and not force:
            return self.train_function
        return self._make_function_with_member_loop(super().make_train_function, force)

    def make_test_function(self, force=False):
        """As `keras.Model.make_test_function`, with each member's forward pass compiled
        once for all members where training is (see `make_train_function`)."""
        if self.test_function is not None and not force:
            return self.test_function
        return self._make_function_with_member_loop(super().make_test_function, force)

    def _make_function_with_member_loop(self, make_function, force):
        if self._member_loop is None:
            # One loop for the train and test steps (its compiled parts are shared).
            self._member_loop = member_loop(self, self.member_loop)
        if self._member_loop is None:
            return make_function(force=force)
        # With eager settings, Keras's trainer calls `train_step` and `test_step`
        # uncompiled (and handles `steps_per_execution`); the member loop compiles its
        # own parts.
        settings = (self.run_eagerly, self.jit_compile)
        self.run_eagerly, self.jit_compile = True, False
        try:
            return make_function(force=True)
        finally:
            self.run_eagerly, self.jit_compile = settings

    def test_step(self, *args, **kwargs):
        if self._member_loop is not None:
            return self._member_loop.test_step(*args, **kwargs)
        return super().test_step(*args, **kwargs)

    def train_step(self, *args, **kwargs):
        if self._member_loop is not None:
            return self._member_loop.train_step(*args, **kwargs)
        # Keras's train step (one per backend) hands the outputs of `self(x, training=True)`
        # to `compute_loss` and `compute_metrics`. Within it, `call` returns every
        # member's outputs, so that the loss sums each member's loss on its own
        # predictions (the dropout masks of this very call) and the metrics measure their
        # mean. Anywhere else a call returns the mean, so an ensemble inside another model
        # behaves like any layer. A count, not a flag: replicas may trace steps in turn.
        self._train_steps_running += 1
        try:
            return super().train_step(*args, **kwargs)
        finally:
            self._train_steps_running -= 1

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The loss of `y_pred`, as `keras.Model.compute_loss`.

        `y_pred` is either the ensemble's mean outputs (what calling it returns), whose
        loss is the ensemble's own, or a list of every member's outputs (what `call`
        returns within the train step, or `member_outputs`), whose loss is the sum of the
        members' losses, each on its own predictions. Keras counts the additional losses
        (`self.losses`, the members' regularisation) once in either.
        """
        if not self._per_member(y_pred):
            return super().compute_loss(x, y, y_pred, sample_weight, training=training)
        # Each member's loss also updates the per-task loss trackers, which thus average
        # over the members. Keras adds the additional losses to each member's loss.
        total = None
        for outputs in y_pred:
            loss = super().compute_loss(x, y, outputs, sample_weight, training=training)
            total = loss if total is None else total + loss
        additional = [ops.cast(ops.sum(loss), total.dtype) for loss in self.losses]
        if additional and len(y_pred) > 1:
            total = total - (len(y_pred) - 1) * sum(additional)
        return total

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        """As `keras.Model.compute_metrics`; every member's outputs (see `compute_loss`)
        are measured by their mean."""
        if self._per_member(y_pred):
            y_pred = mean_outputs(y_pred)
        return super().compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def _per_member(self, y_pred):
        """Whether `y_pred` lists each member's outputs rather than their mean: a list of
        `num_members` structures of all outputs each (a mean has all outputs once)."""
        num_outputs = len(self.output_names)
        return (
            isinstance(y_pred, (list, tuple))
            and len(y_pred) == self.num_members
            and all(len(tree.flatten(outputs)) == num_outputs for outputs in y_pred)
        )

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
        self._member_loop = None
        # Every metric, loss tracker and optimizer slot exists before the first step:
        # TensorFlow then traces Keras's step once, not twice (which doubled an
        # ensemble's first step), and the member loop's step reads and writes them as
        # lists, which must not grow in between.
        backend_training.build_training_state(self, output_structure(self.members[0]))

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
        where = "predict_uncertainty"
        num_samples = _checks.positive_int(where, "num_samples", num_samples)
        batch_size = self._batch_size(where, batch_size)
        if samples_per_call is not None:
            samples_per_call = _checks.positive_int(where, "samples_per_call", samples_per_call)
        if verbose not in ("auto", 0, 1, 2):
            raise ValueError(
                f"{where}: `verbose` must be 'auto', 0, 1 or 2; received verbose={verbose!r}."
            )
        rng = np.random.default_rng(_checks.seed(where, seed))
        inputs = self._input_arrays(x, where)
        num_examples = len(inputs[0])
        classes = [int(t.shape[-1]) for t in flat_outputs(self.members[0])]
        _memory.check_allocation(
            where,
            f"{self.num_members} members x {num_samples} samples x {num_examples} examples x "
            f"{sum(classes)} classes of float32 samples",
            4 * self.num_members * num_samples * num_examples * sum(classes),
            allow_large,
            "pass fewer num_samples, or call it on fewer examples at a time",
        )
        batches = padded_batches(inputs, batch_size)
        samples = [
            np.empty((self.num_members, num_samples, num_examples, c), "float32")
            for c in classes
        ]
        progbar = progress_bar(self.num_members * len(batches), verbose, unit_name="batch")
        for m in range(self.num_members):
            samples_per_call = self._sampling_cache.sample(
                m, batches, num_samples, samples_per_call, rng,
                out=[task_samples[m] for task_samples in samples], settings=self,
                progbar=progbar,
            )
        return {
            task: _summary(task, task_samples, return_samples)
            for task, task_samples in zip(self.output_names, samples)
        }

    def predict_members(self, x, batch_size=None, verbose=0):
        """Every member's deterministic prediction (dropout off), per task.

        Args:
            x: NumPy inputs, as for `predict_uncertainty`.
            batch_size: examples per batch (default 32).
            verbose: passed to each member's `predict`.

        Returns:
            `{task: float32 array (num_members, num_examples, num_classes)}`.
        """
        batch_size = self._batch_size("predict_members", batch_size)
        inputs = self._input_arrays(x, "predict_members")
        per_member = []
        for m, member in enumerate(self.members):
            outputs = member.predict(
                unlist(self._routing.inputs_for(m, inputs)), batch_size=batch_size,
                verbose=verbose,
            )
            per_member.append(as_list(self._routing.outputs_of(m, as_list(outputs))))
        return {
            task: np.stack([outputs[t] for outputs in per_member]).astype("float32")
            for t, task in enumerate(self.output_names)
        }

    @staticmethod
    def _batch_size(where, batch_size):
        if batch_size is None:
            return DEFAULT_BATCH_SIZE
        return _checks.positive_int(where, "batch_size", batch_size)

    def _input_arrays(self, x, where):
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
        config["member_loop"] = self.member_loop
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = copy.deepcopy(config)  # deserialization consumes the member configs
        members = [
            keras.saving.deserialize_keras_object(m, custom_objects=custom_objects)
            for m in config.pop("members")
        ]
        return cls(members, **config)


def _summary(task, samples, return_samples):
    """`uncertainty.summarize_samples` of one task's samples (and the samples if asked)."""
    try:
        result = uncertainty.summarize_samples(samples)
    except ValueError as error:
        raise ValueError(
            f"predict_uncertainty: the members' output '{task}' must be class "
            f"probabilities (softmax) for uncertainty measures. {error}"
        ) from None
    if return_samples:
        result["samples"] = samples
    return result
