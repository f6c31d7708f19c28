"""The members of an `MCDropoutEnsemble`: building, checking and matching them by name."""

import json

import keras
from keras import ops, tree

from keras_drifa import _checks, _graph
from keras_drifa.mc_sampling import mc_dropout_layers

WHERE = "MCDropoutEnsemble"


def make_members(members, num_members):
    """The member models from a builder and `num_members`, or from a list of models."""
    if num_members is not None:
        num_members = _checks.positive_int(WHERE, "num_members", num_members)
    if isinstance(members, (list, tuple)):
        if not members:
            _checks.fail(WHERE, "members", "a non-empty list of models, or a builder with num_members", members)
        if num_members is not None and num_members != len(members):
            raise ValueError(
                f"{WHERE}: `num_members`={num_members} but `members` lists "
                f"{len(members)} models; omit num_members or make them agree."
            )
        members = list(members)
    elif isinstance(members, keras.Model):
        raise ValueError(
            f"{WHERE}: `members` is a single model '{members.name}'; expected a "
            "zero-argument builder with num_members, or a list of models (`[model]` for "
            "one)."
        )
    elif callable(members):
        if num_members is None:
            raise ValueError(
                f"{WHERE}: `num_members` is required with a builder; e.g. "
                "MCDropoutEnsemble(lambda: keras_drifa.build_model(...), num_members=5)."
            )
        members = [members() for _ in range(num_members)]
    else:
        raise ValueError(
            f"{WHERE}: `members` is a {type(members).__name__}; expected a "
            "zero-argument builder or a list of models."
        )
    for i, member in enumerate(members):
        if not isinstance(member, keras.Model):
            raise ValueError(
                f"{WHERE}: member {i} is a {type(member).__name__}; expected a "
                "keras.Model (from the list, or returned by the builder)."
            )
    return members


def check_members(members):
    """Validates the members; returns the `NameRouting` that matches them to member 0."""
    if len({id(m) for m in members}) != len(members):
        raise ValueError(
            f"{WHERE}: the same model object appears more than once in `members`; "
            "members must be distinct models (a builder returning a new model each call)."
        )
    for i, member in enumerate(members):
        if _graph.functional(member) is None:
            raise ValueError(
                f"{WHERE}: member {i} ('{member.name}') is not a built functional "
                "or Sequential model; expected models whose layer graph can be split at "
                "the first MC dropout layer (e.g. keras_drifa.build_model)."
            )
        if not any(layer.rate > 0 for layer in mc_dropout_layers(member)):
            raise ValueError(
                f"{WHERE}: member {i} ('{member.name}') has no MCDropout layer "
                "with rate > 0, so Monte Carlo sampling would be deterministic; build it "
                "with dropout_rate > 0 or add keras_drifa.layers.MCDropout layers."
            )
    routing = NameRouting(members)
    reference = _signature(members[0])
    for i, member in enumerate(members[1:], start=1):
        inputs, outputs = _signature(member)
        inputs, outputs = routing.input_shapes(i, inputs), routing.outputs_of(i, outputs)
        if inputs != reference[0]:
            raise ValueError(
                f"{WHERE}: member {i} ('{member.name}') has input shapes {inputs} "
                f"but member 0 has {reference[0]}; every member needs the same inputs."
            )
        try:
            tree.assert_same_structure(outputs, reference[1])
            same = tree.flatten(outputs) == tree.flatten(reference[1])
        except (ValueError, TypeError):
            same = False
        if not same:
            raise ValueError(
                f"{WHERE}: member {i} ('{member.name}') has output shapes "
                f"{outputs} but member 0 has {reference[1]}; every member needs the same "
                "outputs."
            )
    return routing


class NameRouting:
    """Feeds every member its inputs, and reads its outputs, by name in member 0's order.

    Members are functional models, which take a list of inputs and return a list of
    outputs by position; a member listing member 0's names in another order gets its
    inputs and has its outputs reordered. Dict inputs are passed as a list in the
    member's own input order; dict outputs are matched by key already; other output
    structures (a single output, nested lists) by position.
    """

    def __init__(self, members):
        reference = members[0]
        self._input_names = [input_names(m) for m in members]
        self._inputs = [
            _order("input", i, m, input_names(m), input_names(reference))
            for i, m in enumerate(members)
        ]
        self._outputs = [
            _order("output", i, m, output_names(m), output_names(reference))
            if _is_flat_list(output_structure(m))
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


def input_names(model):
    return [t.name for t in _graph.functional(model).inputs]


def output_structure(model):
    """The model's symbolic outputs, in their structure (a tensor, a list or a dict)."""
    return _graph.functional(model).output


def flat_outputs(model):
    return tree.flatten(output_structure(model))


def output_names(model):
    names = getattr(_graph.functional(model), "output_names", None)
    if not names:
        names = [f"output_{i}" for i in range(len(flat_outputs(model)))]
    return list(names)


def unlist(values):
    """A list of one value as the value itself (how a single-input model takes it)."""
    return values[0] if len(values) == 1 else list(values)


def _order(kind, i, member, names, reference):
    """Where member `i`'s `names` hold each of member 0's `reference` names; `None` when
    they are in the same order, or when both have one (matched whatever its name)."""
    if names == reference or len(names) == len(reference) == 1:
        return None
    if sorted(names) != sorted(reference) or len(set(names)) < len(names):
        raise ValueError(
            f"{WHERE}: member {i} ('{member.name}') has the {kind} names {names} "
            f"but member 0 has {reference}; members are matched by {kind} name, so every "
            f"member needs the same {kind} names (in any order)."
        )
    return [names.index(name) for name in reference]


def _is_flat_list(structure):
    return isinstance(structure, (list, tuple)) and not any(
        isinstance(s, (list, tuple, dict)) for s in structure
    )


def _signature(model):
    return (
        [tuple(t.shape[1:]) for t in model.inputs],
        tree.map_structure(lambda t: tuple(t.shape[1:]), output_structure(model)),
    )


# Layers whose seed only sets the first value of a `keras.random.SeedGenerator` state, which
# compiled steps take as an input like a weight: members that differ only in these seeds
# (or in their initializers' seeds, which act at build time) share one compiled step.
_SEED_STATE_LAYERS = (
    "MCDropout", "Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D",
    "GaussianDropout", "GaussianNoise", "AlphaDropout",
)


def architecture_key(model):
    """The model's config as canonical JSON, with layer names replaced by their position, so
    that two builds of one architecture (whatever names Keras gave their layers) match.

    Integer seeds of initializers (arguments named `*_initializer`) and of the dropout and
    noise layers in `_SEED_STATE_LAYERS` read as "seeded": they set initial values, not the
    computation. Whether a seed is given stays in the key (PyTorch draws unseeded masks
    from its global generator)."""
    names = {layer.name: f"#{i}" for i, layer in enumerate(model.layers)}
    names[model.name] = "#model"

    def canonical(value, initializer=False):
        if isinstance(value, dict):
            result = {
                k: canonical(v, initializer=k.endswith("_initializer")) for k, v in value.items()
            }
            config = result.get("config")
            seeds_state = initializer or value.get("class_name") in _SEED_STATE_LAYERS
            if seeds_state and isinstance(config, dict) and config.get("seed") is not None:
                config["seed"] = "seeded"
            return result
        if isinstance(value, (list, tuple)):
            return [canonical(v) for v in value]
        if isinstance(value, str):
            return names.get(value, value)
        return value

    shapes = [tuple(w.shape) for w in model.weights]
    return json.dumps([type(model).__name__, canonical(model.get_config()), shapes],
                      sort_keys=True, default=str)


def mean_outputs(per_member):
    """The mean of every member's outputs, in the structure of one member's."""
    return tree.map_structure(
        lambda *outputs: ops.mean(ops.stack(outputs, axis=0), axis=0), *per_member
    )
