"""Training recipes: the paper's schedule, and several seeds without recompiling."""

import keras
import numpy as np
from keras import ops, tree

from keras_drifa import _checks, _graph
from keras_drifa.callbacks.batch_norm_recalibration import BatchNormRecalibration
from keras_drifa.mc_sampling import mc_dropout_layers


def paper_schedule(recalibration_data, patience=5, min_learning_rate=1e-5, batch_size=32):
    """The callbacks of the paper's schedule, with batch-norm statistics that match.

    The authors reduce the learning rate on plateaus of the validation loss
    (`ReduceLROnPlateau(factor=0.2, patience=5, min_lr=1e-5)`) and keep the weights of
    the epoch with the lowest validation loss. This returns those two callbacks
    (`EarlyStopping` only restores the best weights: it never stops early) and puts a
    `BatchNormRecalibration` first, so that every validation loss, and the model you
    keep, use batch-norm statistics of the current weights (see
    `keras_drifa.recalibrate_batch_norm` for why DRIFA-Net needs it). A
    `TerminateOnNaN` last stops training at the first NaN loss (one NaN pixel or label
    would otherwise turn every weight into NaN without a word).

    Args:
        recalibration_data: inputs for the recalibration, e.g. a few hundred training
            examples (as for `model.predict`).
        patience: epochs without improvement before the learning rate drops.
        min_learning_rate: the learning rate never drops below this.
        batch_size: batch size of the recalibration passes.

    Returns:
        A list of callbacks for `fit` (which needs `validation_data`).

    Example:

    ```python
    model.fit(x, y, validation_data=(x_val, y_val), epochs=50,
              callbacks=keras_drifa.training.paper_schedule(x_subset))
    ```
    """
    patience = _checks.positive_int("paper_schedule", "patience", patience, minimum=0)
    min_learning_rate = _checks.number("paper_schedule", "min_learning_rate", min_learning_rate, 0)
    return [
        BatchNormRecalibration(recalibration_data, batch_size=batch_size),
        keras.callbacks.ReduceLROnPlateau(
            monitor="val_loss", factor=0.2, patience=patience, min_lr=min_learning_rate
        ),
        keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=2**31 - 1, restore_best_weights=True
        ),
        keras.callbacks.TerminateOnNaN(),
    ]


class SeededRuns:
    """Trains one compiled model from scratch once per seed, compiling only once.

    Compiling a DRIFA-Net's train, test and predict functions takes far longer than a
    short training on TensorFlow and JAX, and a new model object compiles its own. To
    repeat an experiment over seeds, keep one compiled model and call `start(seed)`
    before each run: the weights and the states of the dropout layers' seed generators
    become those a fresh build draws under `seed` (a new model from the model's config,
    never compiled) and the optimizer's state (step count, moments, learning rate)
    returns to what it was when `SeededRuns` was created. The model's compiled functions
    are reused. A run then depends on its seed only: not on the runs before it in the
    process, nor on when or under which seed the model was built.

    Args:
        model: a compiled functional `keras.Model` that has not trained yet (its
            optimizer's state at this point is the one every run starts from).

    Example:

    ```python
    model = keras_drifa.build_model(...)
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    runs = keras_drifa.training.SeededRuns(model)
    for seed in (0, 1, 2):
        runs.start(seed)
        model.fit(x, y, epochs=5)
        results.append(model.evaluate(x_test, y_test))
    ```
    """

    def __init__(self, model):
        if not isinstance(model, keras.Model) or not model.compiled:
            raise ValueError(
                "SeededRuns: model must be a compiled keras.Model; call model.compile(...) "
                f"first. Received {model!r:.80}."
            )
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        _build_loss_and_metrics(model)
        self.model = model
        self._optimizer_state = [ops.convert_to_numpy(v) for v in model.optimizer.variables]

    def start(self, seed):
        """Fresh initial weights drawn under `seed` and the optimizer's initial state.

        Also calls `keras.utils.set_random_seed(seed)`, so dropout masks and data
        shuffling of the run that follows are reproducible too. MC dropout's sampling
        switches (`keras_drifa.mc_sampling`) keep their state.
        """
        seed = _checks.seed("SeededRuns.start", seed, allow_none=False)
        keras.utils.set_random_seed(seed)
        fresh = type(self.model).from_config(self.model.get_config())
        self.model.set_weights(fresh.get_weights())
        # Dropout layers draw their seed generators' initial states from Python's `random`
        # when they are built; `set_weights` leaves those states as they are. On JAX and
        # TensorFlow the masks come from them (PyTorch's unseeded dropout draws from
        # torch's global generator, which `set_random_seed` seeds).
        for variable, state in zip(_dropout_seeds(self.model), _dropout_seeds(fresh)):
            variable.assign(state)
        for variable, value in zip(self.model.optimizer.variables, self._optimizer_state):
            variable.assign(value)
        keras.utils.set_random_seed(seed)
        return self.model


def _dropout_seeds(model):
    """The model's seed-generator states but MC dropout's sampling switches."""
    switches = {id(layer.sampling_switch.state) for layer in mc_dropout_layers(model)}
    return [v for v in _graph.seed_variables(model) if id(v) not in switches]


def _build_loss_and_metrics(model):
    """Builds the compiled loss and metrics now. The first `fit` would otherwise build them
    from a batch it takes off a data iterator made for the purpose, whose shuffling draws
    from the global generators that `set_random_seed` has just seeded: the first run
    would shuffle differently from every later run under the same seed."""
    outputs = model.outputs if len(model.outputs) > 1 else model.output
    # One example of zeros per output: only the structure and the shapes matter.
    y = tree.map_structure(
        lambda t: np.zeros(
            (1,) + tuple(d or 1 for d in t.shape[1:]), keras.backend.standardize_dtype(t.dtype)
        ),
        outputs,
    )
    model.compute_loss(x=None, y=y, y_pred=y)
    model.compute_metrics(x=None, y=y, y_pred=y, sample_weight=None)
    model.reset_metrics()
