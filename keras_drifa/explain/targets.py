"""What Grad-CAM explains: the target feature maps, the class scores, and the cut between them.

Fusion models read other branches after the target layers (MIFA fuses all branches after
every block), so the model is not a chain "before target -> after target". Instead the
graph is cut at the targets (`keras_drifa._graph.split`): a *head* sub-model runs every
layer the targets depend on and returns the targets plus every other tensor that the rest
of the network reads from that part; a *tail* sub-model takes those as inputs and computes
the class scores. Every layer runs exactly once per pass, and the gradient of a score with
respect to a target, with the other tail inputs held fixed, is the total derivative with
the model inputs held fixed, because none of them depends on a target.
"""

import keras

from keras_drifa import _graph
from keras_drifa.backend import compilation
from keras_drifa.models.drifa_net import FEATURES_SUFFIX
from keras_drifa.models.fusion import FUSION_CONCAT, FUSION_DROPOUT, FUSION_POOL


class _PreSoftmax(keras.layers.Layer):
    """Calls a softmax-activated layer with the identity instead, sharing its weights.

    Grad-CAM differentiates the class score before the softmax (Selvaraju et al. 2017): a
    confident softmax saturates in float32 and its gradient vanishes. The activation is
    swapped only for the duration of the call and restored afterwards.
    """

    def __init__(self, layer):
        super().__init__(name=f"{layer.name}_pre_softmax", dtype=layer.dtype_policy)
        self.layer = layer
        self.built = True

    def call(self, inputs):
        activation = self.layer.activation
        self.layer.activation = keras.activations.linear
        try:
            return self.layer(inputs)
        finally:
            self.layer.activation = activation

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)


def _score(output):
    """The tensor whose entries are the class scores of `output`: its logits if it ends in a
    softmax, else the output itself."""
    node = _graph.producer(output)
    layer = node.operation
    if len(node.input_tensors) != 1:
        return output
    (inputs,) = node.input_tensors
    if isinstance(layer, keras.layers.Softmax):
        return inputs
    if getattr(layer, "activation", None) is keras.activations.softmax:
        if isinstance(layer, keras.layers.Activation):
            return inputs
        return _PreSoftmax(layer)(inputs)
    return output


class Cut:
    """The model cut at one group of target feature maps (`keras_drifa._graph.split`).

    Attributes:
        head: `keras.Model` from the model inputs to the tail's inputs.
        tail: `keras.Model` whose inputs are the group's targets first, then every other
            tensor the rest of the graph reads, and whose outputs are the class scores of
            every task, then the model's outputs.
        num_targets: the number of targets in the group.
    """

    def __init__(self, model, targets, scores):
        # Scores first (gradients index them by task), then the model outputs that are not
        # scores themselves (a functional model cannot list a tensor twice).
        outputs = list(scores)
        self._output_index = []
        for tensor in model.outputs:
            ids = [id(t) for t in outputs]
            if id(tensor) not in ids:
                outputs.append(tensor)
                ids.append(id(tensor))
            self._output_index.append(ids.index(id(tensor)))
        halves = _graph.split(model, targets, outputs)
        self.head, self.tail = halves.head, halves.tail
        self.num_targets = len(targets)

    def tail_values(self, inputs):
        """The tail's input values (NumPy) for the model's input values `inputs` (a list)."""
        return compilation.forward(self.head, inputs)

    def outputs(self, values):
        """The model's outputs (NumPy) from the tail's input values."""
        results = compilation.forward(self.tail, values)
        return [results[i] for i in self._output_index]


class ExplainedGraph:
    """A functional model with one target feature map per modality, ready to explain.

    Args:
        model: a functional `keras.Model` (e.g. from `keras_drifa.build_model`).
        target_layers: `None` for the default targets, or one layer (name or object) per
            modality as a list, or a dict `{modality_name: layer}`.
        caller: name used in error messages.
    """

    def __init__(self, model, target_layers=None, caller="GradCAM"):
        self.caller = caller
        if not isinstance(model, keras.Model):
            raise ValueError(
                f"{caller}: model must be a keras.Model; received {type(model).__name__}."
            )
        try:
            inputs, outputs = list(model.inputs), list(model.outputs)
        except (AttributeError, ValueError):
            inputs = outputs = None
        if not inputs or not outputs or not all(_graph.is_symbolic(t) for t in inputs):
            raise ValueError(
                f"{caller}: model '{model.name}' has no functional graph (inputs and outputs "
                "made with keras.Input); expected a functional model such as one from "
                "keras_drifa.build_model."
            )
        self.model = model
        self.modalities = [_graph.producer(t).operation.name for t in inputs]
        self.tasks = [_graph.producer(t).operation.name for t in outputs]
        self.num_classes = [int(t.shape[-1]) for t in outputs]
        self.input_shapes = [tuple(t.shape[1:]) for t in inputs]
        self._nodes = _graph.topological_nodes(outputs)
        self.targets, self.target_names = self._resolve(target_layers)
        self._connected = [
            [id(target) in _graph.ancestor_ids(output) for output in outputs]
            for target in self.targets
        ]
        self.scores = [_score(t) for t in outputs]
        self.groups = self._groups()
        self.cuts = [
            Cut(model, [self.targets[m] for m in group], self.scores) for group in self.groups
        ]

    def _groups(self):
        # One cut for all targets, unless a target feeds another: then the total
        # derivative of the upstream one runs through the downstream one, which a joint
        # cut would hold fixed, so each target gets its own cut.
        ancestry = [_graph.ancestor_ids(t) for t in self.targets]
        nested = any(
            id(a) in ancestry[j]
            for i, a in enumerate(self.targets)
            for j in range(len(self.targets))
            if i != j
        )
        indices = list(range(len(self.targets)))
        return [[m] for m in indices] if nested else [indices]

    def _layers_with_4d_output(self):
        return [
            node.operation.name
            for node in self._nodes
            if not node.is_input and any(len(t.shape) == 4 for t in node.outputs)
        ]

    def _named_node(self, name):
        nodes = [n for n in self._nodes if n.operation.name == name]
        return nodes[0] if len(nodes) == 1 else None

    def _branch_features(self):
        """A `DRIFANet`'s `branch_features` in input order, if they are in this graph."""
        features = getattr(self.model, "branch_features", None)
        if not isinstance(features, dict) or set(features) != set(self.modalities):
            return None
        computed = {id(t) for node in self._nodes for t in node.outputs}
        targets = [features[m] for m in self.modalities]
        return targets if all(id(t) in computed for t in targets) else None

    def _default_targets(self):
        num_modalities = len(self.modalities)
        targets = self._branch_features()
        if targets is not None:
            return targets, [_graph.producer_name(t) for t in targets]
        # A functional model of one's own: the markers by name, or the fusion's inputs.
        markers = [self._named_node(f"{m}{FEATURES_SUFFIX}") for m in self.modalities]
        if all(node is not None and len(node.outputs) == 1 for node in markers):
            return [node.outputs[0] for node in markers], [n.operation.name for n in markers]
        concat = self._named_node(FUSION_CONCAT)
        if num_modalities > 1 and concat is not None:
            targets = list(concat.input_tensors)
            if len(targets) != num_modalities:
                raise ValueError(
                    f"{self.caller}: layer '{FUSION_CONCAT}' of model '{self.model.name}' "
                    f"reads {len(targets)} feature maps; expected {num_modalities}, one per "
                    f"modality {self.modalities}. Pass target_layers explicitly."
                )
            return targets, [_graph.producer(t).operation.name for t in targets]
        if num_modalities == 1:
            for name in (FUSION_DROPOUT, FUSION_POOL):
                node = self._named_node(name)
                if node is not None and len(node.input_tensors) == 1:
                    target = node.input_tensors[0]
                    return [target], [_graph.producer(target).operation.name]
            candidates = [
                t
                for node in self._nodes
                if not node.is_input
                for t in node.outputs
                if len(t.shape) == 4
            ]
            if candidates:
                return [candidates[-1]], [_graph.producer(candidates[-1]).operation.name]
            raise ValueError(
                f"{self.caller}: model '{self.model.name}' has no layer with a 4-D "
                "(batch, height, width, channels) output to explain."
            )
        raise ValueError(
            f"{self.caller}: model '{self.model.name}' has {num_modalities} inputs but neither "
            f"'<modality>{FEATURES_SUFFIX}' layers nor a '{FUSION_CONCAT}' layer, so there is "
            "no default target per modality; pass target_layers, one layer name per modality."
        )

    def _resolve(self, target_layers):
        if target_layers is None:
            targets, names = self._default_targets()
        else:
            layers = self._per_modality(target_layers)
            targets = [self._target_of(layer, m) for m, layer in enumerate(layers)]
            names = [layer if isinstance(layer, str) else layer.name for layer in layers]
        for m, (target, name) in enumerate(zip(targets, names)):
            if len(target.shape) != 4:
                raise ValueError(
                    f"{self.caller}: target layer '{name}' for modality "
                    f"'{self.modalities[m]}' outputs shape {tuple(target.shape)}; expected a "
                    "4-D (batch, height, width, channels) feature map. Layers with 4-D "
                    f"outputs: {self._layers_with_4d_output()[-8:]}."
                )
        for i in range(len(targets)):
            for j in range(i):
                if targets[i] is targets[j]:
                    raise ValueError(
                        f"{self.caller}: target_layers give modalities '{self.modalities[j]}' "
                        f"and '{self.modalities[i]}' the same feature map ('{names[i]}'); "
                        "expected one feature map per modality."
                    )
        self._check_modality_of_targets(targets, names)
        return targets, names

    def _check_modality_of_targets(self, targets, names):
        """A target computed from one input only must be that input's modality: a list in
        another order would return each modality's map under another's name."""
        input_ids = [id(t) for t in self.model.inputs]
        for m, (target, name) in enumerate(zip(targets, names)):
            ancestors = _graph.ancestor_ids(target) | {id(target)}
            sources = [i for i, input_id in enumerate(input_ids) if input_id in ancestors]
            if len(sources) == 1 and sources[0] != m:
                raise ValueError(
                    f"{self.caller}: target layer '{name}' is given for modality "
                    f"'{self.modalities[m]}' but is computed from input "
                    f"'{self.modalities[sources[0]]}' only; expected target_layers in input "
                    f"order {self.modalities}, or a dict {{modality_name: layer}}."
                )

    def _per_modality(self, target_layers):
        num_modalities = len(self.modalities)
        if isinstance(target_layers, (str, keras.layers.Layer)):
            target_layers = [target_layers]
        if isinstance(target_layers, dict):
            if set(target_layers) != set(self.modalities):
                raise ValueError(
                    f"{self.caller}: target_layers has keys {sorted(target_layers)}; expected "
                    f"one entry per modality {self.modalities}."
                )
            return [target_layers[m] for m in self.modalities]
        if not isinstance(target_layers, (list, tuple)) or len(target_layers) != num_modalities:
            count = len(target_layers) if isinstance(target_layers, (list, tuple)) else "no"
            raise ValueError(
                f"{self.caller}: target_layers={target_layers!r} gives {count} layers; "
                f"expected {num_modalities}, one per modality {self.modalities} (a list in "
                "that order or a dict)."
            )
        for layer in target_layers:
            if not isinstance(layer, (str, keras.layers.Layer)):
                raise ValueError(
                    f"{self.caller}: target_layers entries must be layer names or layers; "
                    f"received {layer!r}."
                )
        return list(target_layers)

    def _target_of(self, layer, modality):
        name = layer if isinstance(layer, str) else layer.name
        nodes = [
            n
            for n in self._nodes
            if (n.operation.name == name if isinstance(layer, str) else n.operation is layer)
        ]
        if not nodes:
            known = {layer.name for layer in self.model.layers}
            reason = (
                f"takes no part in computing the outputs of model '{self.model.name}'"
                if name in known
                else f"is not a layer of model '{self.model.name}'"
            )
            raise ValueError(
                f"{self.caller}: target layer '{name}' for modality "
                f"'{self.modalities[modality]}' {reason}; expected one of its layers with a "
                f"4-D output, e.g. {self._layers_with_4d_output()[-8:]}."
            )
        if len(nodes) > 1:
            raise ValueError(
                f"{self.caller}: target layer '{name}' is called {len(nodes)} times in model "
                f"'{self.model.name}', so its feature map is ambiguous; expected a layer "
                "called once."
            )
        outputs = nodes[0].outputs
        if len(outputs) == 1:
            return outputs[0]
        if len(outputs) == len(self.modalities):
            # A layer returning one map per modality (like MIFA) gives each its own.
            return outputs[modality]
        raise ValueError(
            f"{self.caller}: target layer '{name}' returns {len(outputs)} tensors; expected one "
            f"feature map, or one per modality ({len(self.modalities)})."
        )

    def connected(self, modality, task):
        """Whether the output of `task` depends on the target of `modality`."""
        return self._connected[modality][task]
