"""An ensemble's training step that compiles one member's forward and backward pass once,
whatever the number of members (JAX and TensorFlow).

Keras compiles a model's whole train step as one function. For an ensemble that function
holds every member's forward and backward pass, so XLA (or TensorFlow's graph optimiser)
compiles the member graph once per member: the first step of three DRIFA-Nets took 3.2
times that of one. Here the step is a Python loop instead, over three compiled functions:

1. the loss and gradients of one member, compiled once for all members (they share an
   architecture): member 0's layers run with each member's weights in turn, through
   `stateless_call`;
2. the optimizer's update of every member's weights, as Keras's own step does it
   (`optimizer.stateless_apply` on JAX, `optimizer.apply` on TensorFlow: element-wise,
   quick to compile);
3. the loss tracker (the members' summed loss) and the metrics of the members' mean
   prediction.

It computes what Keras's step computes for the ensemble: the loss is the sum of the
members' losses, each on its own predictions (with its own regularisation losses), the
per-task loss trackers average over the members, and the metrics measure the mean. Keras's
`fit` drives it as it drives its own step (callbacks, `steps_per_execution`), and the
training state is the same variables, so saved files do not change.
"""

import keras
from keras import ops, tree

from keras_drifa import _graph
from keras_drifa.backend import training as backend_training
from keras_drifa.ensemble.members import architecture_key, mean_outputs


def member_loop(ensemble, setting="auto"):
    """A `MemberLoop` for `ensemble`'s compiled training, or `None` where Keras's own
    train step applies: with `setting=False`, on TensorFlow unless `setting=True`, on
    PyTorch, in eager training (and non-XLA training on JAX), under a distribution, and
    for members of different architectures (or whose inputs or outputs are not in member
    0's order)."""
    if setting is False or (setting == "auto" and not backend_training.member_loop_by_default()):
        return None
    if not backend_training.member_loop_supported(ensemble):
        return None
    if not ensemble.members_in_order:
        return None
    if len({architecture_key(member) for member in ensemble.members}) != 1:
        return None
    return MemberLoop(ensemble)


class MemberLoop:
    """The train step of an ensemble whose members share an architecture (see the module).

    `train_step` is Keras's backend train step: `(state, data) -> (logs, state)` on JAX,
    where the state is the lists of trainable, non-trainable, optimizer and metrics
    variable values, and `data -> logs` on TensorFlow, which updates the variables. It
    runs eagerly and calls the compiled functions, built on first use. `test_step` is
    Keras's test step alike (the loss and metrics of the members' mean prediction, as
    `evaluate` and validation measure the ensemble), with each member's forward pass
    compiled once for all members.
    """

    def __init__(self, ensemble):
        self._ensemble = ensemble
        self._template = ensemble.members[0]
        self._trainable = [
            _positions(ensemble.trainable_variables, m.trainable_variables)
            for m in ensemble.members
        ]
        self._non_trainable = [
            _positions(ensemble.non_trainable_variables, m.non_trainable_variables)
            for m in ensemble.members
        ]
        jit_compile = ensemble.jit_compile
        # The arguments that hold a batch (inputs, targets, weights, predictions).
        self._member_step = backend_training.compile_function(
            backend_training.value_and_grad(self._member_loss), jit_compile=jit_compile,
            batch_argnums=(4, 5, 6, 7),
        )
        self._metrics = backend_training.compile_function(
            self._update_metrics, jit_compile=jit_compile, batch_argnums=(2, 3, 4, 5)
        )
        self._member_forward = backend_training.compile_function(
            self._forward, jit_compile=jit_compile, batch_argnums=(2,)
        )
        self._evaluate = backend_training.compile_function(
            self._evaluate_mean, jit_compile=jit_compile, batch_argnums=(1, 3, 4, 5)
        )
        if backend_training.functional_training_state():
            self._apply = backend_training.compile_function(
                self._apply_gradients, donate_argnums=(0, 2)
            )
            self.train_step = self._functional_step
            self.test_step = self._functional_test_step
        else:
            self._apply = backend_training.compile_function(
                self._apply_gradients_in_place, jit_compile=jit_compile
            )
            self.train_step = self._in_place_step
            self.test_step = self._in_place_test_step
            # The variables (every one exists since `compile`), listed once (a model
            # lists them by walking its layers). The weights are handed to the compiled
            # step as the backend's variables, read inside it: no copy, and every
            # member's weights match one traced signature.
            self._trainable_variables = [v.value for v in ensemble.trainable_variables]
            self._non_trainable_variables = list(ensemble.non_trainable_variables)
            self._metrics_variables = list(ensemble.metrics_variables)

    def _functional_step(self, state, data):
        trainable, non_trainable, optimizer_variables, metrics_variables = state
        grads, non_trainable, metrics_variables, losses, predictions = self._members(
            trainable, non_trainable, optimizer_variables, metrics_variables, data
        )
        trainable, optimizer_variables = self._apply(
            list(trainable), grads, list(optimizer_variables)
        )
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        logs, metrics_variables = self._metrics(
            metrics_variables, losses, x, y, predictions, sample_weight
        )
        return logs, (trainable, non_trainable, optimizer_variables, metrics_variables)

    def _in_place_step(self, data):
        # The metrics are passed as tensors, as the first member's step returns them to
        # the next.
        grads, non_trainable, metrics_variables, losses, predictions = self._members(
            self._trainable_variables,
            [v.value for v in self._non_trainable_variables],
            None,
            [ops.convert_to_tensor(v) for v in self._metrics_variables],
            data,
        )
        self._apply(grads)
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        logs, metrics_variables = self._metrics(
            metrics_variables, losses, x, y, predictions, sample_weight
        )
        _assign(self._non_trainable_variables, non_trainable)
        _assign(self._metrics_variables, metrics_variables)
        return logs

    def _functional_test_step(self, state, data):
        trainable, non_trainable, metrics_variables = state
        non_trainable, logs, metrics_variables = self._test(
            trainable, non_trainable, metrics_variables, data
        )
        return logs, (trainable, non_trainable, metrics_variables)

    def _in_place_test_step(self, data):
        non_trainable, logs, metrics_variables = self._test(
            self._trainable_variables,
            [v.value for v in self._non_trainable_variables],
            [ops.convert_to_tensor(v) for v in self._metrics_variables],
            data,
        )
        _assign(self._non_trainable_variables, non_trainable)
        _assign(self._metrics_variables, metrics_variables)
        return logs

    def _test(self, trainable, non_trainable, metrics_variables, data):
        """Every member's inference outputs in turn, then the loss and metrics of their
        mean: the new non-trainable values (seed states), the logs and metrics values."""
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        member_x = self._ensemble._routing.inputs_for(0, x)
        non_trainable = list(non_trainable)
        predictions, losses = [], []
        for t_positions, nt_positions in zip(self._trainable, self._non_trainable):
            y_pred, member_nt, member_losses = self._member_forward(
                [trainable[i] for i in t_positions],
                [non_trainable[i] for i in nt_positions],
                member_x,
            )
            for i, value in zip(nt_positions, member_nt):
                non_trainable[i] = value
            predictions.append(y_pred)
            losses.extend(member_losses)
        logs, metrics_variables = self._evaluate(
            metrics_variables, predictions, losses, x, y, sample_weight
        )
        return non_trainable, logs, metrics_variables

    def _forward(self, trainable, non_trainable, member_x):
        outputs, non_trainable, losses = self._template.stateless_call(
            trainable, non_trainable, member_x, training=False, return_losses=True
        )
        return self._ensemble._routing.outputs_of(0, outputs), non_trainable, losses

    def _evaluate_mean(self, metrics_variables, predictions, losses, x, y, sample_weight):
        """The ensemble's loss on the mean prediction (with every member's regularisation
        losses), the loss tracker and the metrics, as Keras's test step."""
        ensemble = self._ensemble
        mean = mean_outputs(predictions)
        batch_size = ops.shape(next(i for i in tree.flatten(x) if i is not None))[0]

        def update():
            with _graph.losses_overridden(ensemble, losses):
                loss = ensemble.compute_loss(x, y, mean, sample_weight, training=False)
            _graph.loss_tracker(ensemble).update_state(loss, sample_weight=batch_size)
            return ensemble.compute_metrics(x, y, mean, sample_weight)

        return _stateless(ensemble.metrics_variables, metrics_variables, update)

    def _members(self, trainable, non_trainable, optimizer_variables, metrics_variables, data):
        """Every member's loss and gradients, in turn: the gradients in the order of
        `trainable`, the new non-trainable and metrics values, the members' unscaled
        losses and predictions."""
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        member_x = self._ensemble._routing.inputs_for(0, x)
        non_trainable = list(non_trainable)
        grads = [None] * len(trainable)
        losses, predictions = [], []
        for t_positions, nt_positions in zip(self._trainable, self._non_trainable):
            (_, (loss, y_pred, member_nt, metrics_variables)), member_grads = (
                self._member_step(
                    [trainable[i] for i in t_positions],
                    [non_trainable[i] for i in nt_positions],
                    metrics_variables,
                    optimizer_variables,
                    member_x,
                    x,
                    y,
                    sample_weight,
                )
            )
            for i, grad in zip(t_positions, member_grads):
                grads[i] = grad
            for i, value in zip(nt_positions, member_nt):
                non_trainable[i] = value
            losses.append(loss)
            predictions.append(y_pred)
        return grads, non_trainable, metrics_variables, losses, predictions

    def _member_loss(
        self, trainable, non_trainable, metrics_variables, optimizer_variables, member_x, x,
        y, sample_weight,
    ):
        """One member's (scaled) loss, with the unscaled loss, its predictions, its new
        non-trainable state and the updated loss trackers. The optimizer's variables are
        given as values on JAX, read directly on TensorFlow (`None`)."""
        ensemble = self._ensemble
        outputs, non_trainable, member_losses = self._template.stateless_call(
            trainable, non_trainable, member_x, training=True, return_losses=True
        )
        y_pred = ensemble._routing.outputs_of(0, outputs)
        with _graph.losses_overridden(ensemble, member_losses):
            loss, metrics_variables = _stateless(
                ensemble.metrics_variables,
                metrics_variables,
                lambda: ensemble.compute_loss(x, y, y_pred, sample_weight, training=True),
            )
        unscaled = loss
        optimizer = ensemble.optimizer
        if optimizer is not None:
            mapping = []
            if optimizer_variables is not None:
                mapping = list(zip(optimizer.variables, optimizer_variables))
            with keras.StatelessScope(state_mapping=mapping):
                loss = optimizer.scale_loss(loss)
        return loss, (unscaled, y_pred, non_trainable, metrics_variables)

    def _apply_gradients(self, trainable, grads, optimizer_variables):
        return self._ensemble.optimizer.stateless_apply(optimizer_variables, grads, trainable)

    def _apply_gradients_in_place(self, grads):
        self._ensemble.optimizer.apply(grads, self._ensemble.trainable_variables)

    def _update_metrics(self, metrics_variables, losses, x, y, predictions, sample_weight):
        """The loss tracker (the members' summed loss) and the metrics of their mean."""
        ensemble = self._ensemble
        total = losses[0]
        for loss in losses[1:]:
            total = total + loss
        mean = mean_outputs(predictions)
        batch_size = ops.shape(next(i for i in tree.flatten(x) if i is not None))[0]

        def update():
            _graph.loss_tracker(ensemble).update_state(total, sample_weight=batch_size)
            return ensemble.compute_metrics(x, y, mean, sample_weight)

        return _stateless(ensemble.metrics_variables, metrics_variables, update)


def _positions(variables, of):
    """Where each variable of `of` sits in `variables` (by identity)."""
    index = {id(v): i for i, v in enumerate(variables)}
    return [index[id(v)] for v in of]


def _assign(variables, values):
    for variable, value in zip(variables, values):
        variable.assign(value)


def _stateless(variables, values, function):
    """Calls `function` with `variables` holding `values`; returns its result and the
    variables' values after it (unchanged ones as given)."""
    with keras.StatelessScope(state_mapping=list(zip(variables, values))) as scope:
        result = function()
    updated = []
    for variable, value in zip(variables, values):
        new = scope.get_current_value(variable)
        updated.append(value if new is None else new)
    return result, updated
