"""A Keras model's layers, graph and training state: the one module touching Keras internals.

Grad-CAM, Monte Carlo sampling, `plot_embeddings`, the backbone copies and batch-norm
recalibration all need to walk a functional model's graph or every layer inside a model,
which Keras 3 has no public API for; Grad-CAM and the ensemble's sampler both cut a graph
in two with `split`. Everything they need is here, built on these private
Keras attributes (and nothing else private):

- `Layer._flatten_layers(include_self=True)`: every layer inside a model, nested layers
  and models included (`Model.layers` lists only the top level).
- `KerasTensor._keras_history`: `(operation, node_index, tensor_index)` of the call that
  produced a symbolic tensor.
- `Operation._inbound_nodes`: the calls (nodes) of a layer; a node's `operation`,
  `input_tensors`, `outputs` and `is_input` are public attributes of the node.
- `Sequential._functional`: the functional model a built `keras.Sequential` wraps.
- `Node.arguments.fill_in(values)`: a node's call arguments with its symbolic input
  tensors replaced, to call a copied layer the way the original was called.
- `Trainer._initial_epoch`: the epoch `fit` starts at, set from `on_train_begin`, which
  is how Keras's own `BackupAndRestore` resumes (`keras_drifa.callbacks.BackupAndRestore`
  resumes at the epoch stored with its weights).
- `Trainer._loss_tracker`: the `loss` metric a train step updates, and
  `Layer._losses_override`: the losses `Layer.losses` returns while it is not empty, which
  Keras's JAX train step sets to the forward pass's losses. The ensemble's member-loop
  train step (`keras_drifa.ensemble.training`) does what that step does, one member at a
  time.

Sub-models are then made with the public API: `keras.Model(inputs, outputs)` accepts
intermediate symbolic tensors as inputs and outputs and shares the layers and weights.
"""

import contextlib

import keras


def set_initial_epoch(model, epoch):
    """Makes the `fit` now starting on `model` begin at `epoch` (from `on_train_begin`)."""
    model._initial_epoch = epoch


def all_layers(model):
    """Every layer of `model`, itself, nested layers and nested models included."""
    return list(model._flatten_layers(include_self=True))


def seed_variables(model):
    """The states of the model's random seed generators (dropout masks, MC dropout's
    sampling switches): its `variables` that are not `weights`, in `variables` order.

    Keras keeps them out of `weights`, so `set_weights`, `save_weights` and saved files
    leave them as they are."""
    weights = {id(v) for v in model.weights}
    return [v for v in model.variables if id(v) not in weights]


def functional(model):
    """The functional graph of a functional or built Sequential model, else `None`."""
    if isinstance(model, keras.Sequential):
        model = getattr(model, "_functional", None)
    if not isinstance(model, keras.Model):
        return None
    try:
        inputs, outputs = list(model.inputs), keras.tree.flatten(model.outputs)
    except (AttributeError, TypeError, ValueError):
        return None
    if not inputs or not outputs or not all(is_symbolic(t) for t in inputs + outputs):
        return None
    return model


def is_symbolic(tensor):
    """Whether `tensor` is a symbolic tensor of a functional graph."""
    return hasattr(tensor, "_keras_history")


def producer(tensor):
    """The node (one call of a layer) that computed the symbolic `tensor`."""
    operation, node_index, _ = tensor._keras_history
    return operation._inbound_nodes[node_index]


def producer_name(tensor):
    """The name of the layer that computed the symbolic `tensor`."""
    return tensor._keras_history[0].name


def topological_nodes(tensors):
    """The nodes computing `tensors`, each after the nodes it reads from."""
    order, done = [], set()
    stack = [(producer(t), False) for t in reversed(list(tensors))]
    while stack:
        node, expanded = stack.pop()
        if node in done:
            continue
        if expanded:
            done.add(node)
            order.append(node)
            continue
        stack.append((node, True))
        for parent in reversed(node.input_tensors):
            if producer(parent) not in done:
                stack.append((producer(parent), False))
    return order


def ancestor_ids(tensor):
    """Ids of every tensor `tensor` is computed from (itself excluded)."""
    return {id(t) for node in topological_nodes([tensor]) for t in node.input_tensors}


def nodes_after(tensors, known_ids):
    """The nodes that compute `tensors` from the tensors whose ids are in `known_ids`,
    in execution order (nodes behind a known tensor are not visited)."""
    order, seen = [], set()
    stack = [(producer(t), False) for t in reversed(list(tensors)) if id(t) not in known_ids]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if node in seen:
            continue
        seen.add(node)
        stack.append((node, True))
        for parent in reversed(node.input_tensors):
            if id(parent) not in known_ids:
                stack.append((producer(parent), False))
    return order


def boundary(outputs, in_head):
    """Cuts the graph computing `outputs` into a head and a tail.

    `in_head(node)` says which nodes belong to the head; the head must contain every
    ancestor of its nodes (model inputs included). Returns the boundary: every tensor the
    head computes (or a model input) that a tail node reads, plus outputs that the head
    computes itself, each once, in the order the tail first needs them. A tail sub-model
    `keras.Model(boundary, outputs)` then computes the outputs from the boundary, every
    layer running once, and `keras.Model(inputs, boundary)` is the head.
    """
    tensors, seen = [], set()

    def add(tensor):
        if id(tensor) not in seen:
            seen.add(id(tensor))
            tensors.append(tensor)

    for node in topological_nodes(outputs):
        if in_head(node):
            continue
        for tensor in node.input_tensors:
            if in_head(producer(tensor)):
                add(tensor)
    for tensor in outputs:
        if in_head(producer(tensor)):
            add(tensor)
    return tensors


def call_arguments(node, values):
    """`(args, kwargs)` of `node`'s call with every symbolic input tensor `t` replaced by
    `values[id(t)]`, to call another layer the way the node's layer was called."""
    return node.arguments.fill_in(values)


class Split:
    """A functional graph cut in two by `split`.

    Attributes:
        head: `keras.Model` from the model's inputs to every tensor the tail reads.
        tail: `keras.Model` from those tensors to the outputs. Its inputs are the cut
            tensors `at` first, in their order, then every other tensor that the rest of
            the graph reads from the head's part (model inputs included), in the order it
            first needs them.
    """

    def __init__(self, head, tail):
        self.head = head
        self.tail = tail


def split(model, at, outputs=None):
    """Cuts the functional graph of `model` at the symbolic tensors `at`.

    The head runs every layer call that `at` depend on (and the input layers); the tail
    runs the other calls that `outputs` need. Both are sub-models sharing the model's
    layers and weights (Keras functional models accept intermediate tensors as inputs),
    and `tail(head(inputs))` computes `outputs` with every layer running once. A fusion
    graph is not a chain: the tail may read several tensors of the head's part besides
    `at` (other branches, model inputs), and they become tail inputs too. The head's part
    is exactly what `at` depend on, so when no tensor of `at` depends on another, no tail
    input depends on one of `at`: a gradient with respect to one of them, the other tail
    inputs held fixed, is the total derivative with the model inputs held fixed.

    Args:
        model: a functional (or built Sequential) `keras.Model`.
        at: symbolic tensors of its graph.
        outputs: the tail's outputs, symbolic tensors of the graph in any structure;
            default: the model's outputs, in their structure.

    Returns:
        A `Split` with the `head` and `tail` models.
    """
    graph = functional(model)
    if outputs is None:
        outputs = graph.output
    head_part = set(topological_nodes(at))
    head_part.update(producer(t) for t in graph.inputs)
    at_ids = {id(t) for t in at}
    cut = list(at) + [
        t
        for t in boundary(keras.tree.flatten(outputs), lambda node: node in head_part)
        if id(t) not in at_ids
    ]
    return Split(
        head=keras.Model(list(graph.inputs), cut, name=f"{model.name}_head"),
        tail=keras.Model(cut, outputs, name=f"{model.name}_tail"),
    )


def loss_tracker(model):
    """The `loss` metric (a `keras.metrics.Mean`) of a compiled model's train step."""
    return model._loss_tracker


@contextlib.contextmanager
def losses_overridden(model, losses):
    """`model.losses` returns `losses` within the block (as in Keras's JAX train step,
    where they are the regularisation losses of a stateless forward pass)."""
    previous = model._losses_override
    model._losses_override = list(losses)
    try:
        yield
    finally:
        model._losses_override = previous
