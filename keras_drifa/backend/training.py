"""What training a compiled model needs on one backend: TensorFlow's training state before
the first trace, and PyTorch's parameters of sub-models."""

import keras
import numpy as np


def build_training_state(model, outputs):
    """Creates the variables a compiled model's train function would create on first use.

    TensorFlow's `tf.function` traces a function twice when its first trace creates
    variables, and Keras (without a distribution strategy) defers creating the optimizer's,
    the loss trackers' and the metrics' variables to the first trace of the train
    function: for DRIFA-Net that doubles the time to the first training step. Creating
    them here, once, right after `compile`, gives one trace. The JAX and PyTorch trainers
    create them before tracing already, so this is TensorFlow only.

    Args:
        model: a compiled `keras.Model`.
        outputs: the structure of the model's outputs (symbolic tensors), as `fit` sees
            them.
    """
    if keras.backend.backend() != "tensorflow":
        return
    from keras import tree

    # One example of zeros per output: only the structure and the shapes matter.
    y = tree.map_structure(
        lambda t: np.zeros((1,) + tuple(t.shape[1:]), keras.backend.standardize_dtype(t.dtype)),
        outputs,
    )
    model.compute_loss(x=None, y=y, y_pred=y)
    model.compute_metrics(x=None, y=y, y_pred=y, sample_weight=None)
    if model.optimizer is not None and not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    model.reset_metrics()


def track_submodels(model, submodels):
    """PyTorch: makes every variable of `submodels` a parameter of `model`.

    Keras's PyTorch layers keep their variables in one `torch.nn.ParameterDict` keyed by
    variable path. Models built by the same function (an ensemble's members) share their
    paths, so only the last one's variables would be parameters of `model`: the others
    would miss `zero_grad()` (their gradients would add up from step to step) and
    `DistributedDataParallel`'s gradient averaging. Registering each as a submodule of
    its own reaches them all (`parameters()` drops the duplicates). A no-op elsewhere.
    """
    if keras.backend.backend() != "torch":
        return
    import torch

    for index, submodel in enumerate(submodels):
        torch.nn.Module.add_module(model, f"keras_drifa_submodel_{index}", submodel)
