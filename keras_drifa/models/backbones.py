"""Any backbone for DRIFA: MFA and MIFA on keras.applications, KerasHub, KerasCV or your network.

`build_model(..., backbone=...)` gives every modality its own copy of a backbone, taps it at a
few feature levels, refines each branch with an MFA and fuses the branches with a MIFA at every
level, and feeds the fused maps on into the rest of the backbone. The backbone ends at its last
feature level, whose fused maps go to the paper's head.

Four kinds of backbone are accepted:

- the name of a `keras.applications` model (`APPLICATION_BACKBONES`), built without its
  classifier, with `backbone_weights` (`None`, `"imagenet"` or a local weights file) and its
  ImageNet preprocessing inside the model, so the DRIFA model takes images in [0, 1];
- a KerasHub backbone with feature pyramid outputs (`keras_hub.models.ResNetBackbone(...)`
  or `.from_preset(...)`, any `keras_hub.models.Backbone` with `pyramid_outputs`), whose
  `pyramid_outputs` are the feature levels (install `keras-drifa[hub]`); it receives the
  images unchanged, so apply a preset's image converter (its scale and offset) to the
  images yourself when you load pretrained weights;
- a KerasCV backbone (`keras_cv.models.ResNetV2Backbone(...)`, ...), whose
  `pyramid_level_inputs` name the feature levels (install `keras-drifa[cv]`; KerasCV is
  deprecated in favour of KerasHub);
- any functional `keras.Model` (or `keras.Sequential`) with one image input, plus
  `feature_layers`, the names of the layers whose outputs are the feature levels.

Default feature levels of the `keras.applications` families: the last block output at stride
8, the last block output at stride 16, and the backbone's final feature map (stride 32):

| family | block outputs | e.g. (smallest member) |
|---|---|---|
| ResNet | `conv*_block*_out` | resnet50: conv3_block4_out, conv4_block6_out, conv5_block3_out |
| ResNetV2 | `conv*_block*_out` | resnet50v2: conv3_block3_out, conv4_block5_out, post_relu |
| EfficientNet, EfficientNetV2 | `block*_add` / `block*_project_bn` | efficientnetb0: block3b_add, block5c_add, top_activation |
| DenseNet | `conv*_block*_concat` | densenet121: conv3_block12_concat, conv4_block24_concat, relu |
| MobileNet | `conv_pw_*_relu` | mobilenet: conv_pw_5_relu, conv_pw_11_relu, conv_pw_13_relu |
| MobileNetV2 | `block_*_add` / `block_*_project_BN` | mobilenetv2: block_5_add, block_12_add, out_relu |
| MobileNetV3 | `expanded_conv_*_add` / `..._project_bn` | mobilenetv3small: expanded_conv_2_add, expanded_conv_7_add, its last activation |
| ConvNeXt | `*_stage_*_block_*_identity` | convnexttiny: convnext_tiny_stage_1_block_2_identity, ..._stage_2_block_8_identity, its final layer normalization |

KerasHub and KerasCV backbones default to their last three pyramid levels (`P3`, `P4`, `P5`
for ResNets).
"""

import difflib
import functools
import math
import os
import re
import tempfile

import keras

from keras_drifa import _checks, _graph
from keras_drifa.layers import MultiBranchFusionAttention, MultimodalInformationFusionAttention
from keras_drifa.models.image_preprocessing import ImageNetPreprocessing

DRIFA = "drifa"

# family: (keras.applications constructors, preprocessing mode, block outputs).
APPLICATION_FAMILIES = {
    "ResNet": (("ResNet50", "ResNet101", "ResNet152"), "caffe", r"conv\d_block\d+_out"),
    "ResNetV2": (("ResNet50V2", "ResNet101V2", "ResNet152V2"), "tf", r"conv\d_block\d+_out"),
    "EfficientNet": (
        tuple(f"EfficientNetB{i}" for i in range(8)),
        "pixels",
        r"block\d[a-z]_(add|project_bn)",
    ),
    "EfficientNetV2": (
        tuple(f"EfficientNetV2{size}" for size in ("B0", "B1", "B2", "B3", "S", "M", "L")),
        "pixels",
        r"block\d[a-z]_(add|project_bn)",
    ),
    "DenseNet": (("DenseNet121", "DenseNet169", "DenseNet201"), "torch", r"conv\d_block\d+_concat"),
    "MobileNet": (("MobileNet",), "tf", r"conv_pw_\d+_relu"),
    "MobileNetV2": (("MobileNetV2",), "tf", r"block_\d+_(add|project_BN)"),
    "MobileNetV3": (
        ("MobileNetV3Small", "MobileNetV3Large"),
        "pixels",
        r"expanded_conv(_\d+)?_(add|project_bn)",
    ),
    "ConvNeXt": (
        tuple(f"ConvNeXt{size}" for size in ("Tiny", "Small", "Base", "Large", "XLarge")),
        "pixels",
        r".+_stage_\d_block_\d+_identity",
    ),
}

# backbone name (lower case) -> (constructor, preprocessing mode, block outputs)
APPLICATION_BACKBONES = {
    constructor.lower(): (constructor, mode, blocks)
    for constructors, mode, blocks in APPLICATION_FAMILIES.values()
    for constructor in constructors
}

# Default levels of keras.applications backbones: the last block output at these strides,
# then the final feature map.
_DEFAULT_STRIDES = (8, 16)
_PYRAMID_DEFAULT_LEVELS = 3
# Stride probe for backbones whose input has no fixed height and width.
_PROBE_SIZE = 256


def is_drifa(backbone):
    return isinstance(backbone, str) and backbone.lower() == DRIFA


def check_drifa_arguments(
    backbone_weights, feature_layers, trainable_backbone, where="build_model"
):
    """The paper network is trained from scratch and has no layers to tap or freeze."""
    for arg, value, default in (
        ("backbone_weights", backbone_weights, None),
        ("feature_layers", feature_layers, None),
        ("trainable_backbone", trainable_backbone, True),
    ):
        if value is not default:
            raise ValueError(
                f"{where}: {arg}={value!r} applies only to other backbones; the default "
                f"backbone='drifa' is the paper network, trained from scratch. Pass e.g. "
                f"backbone='resnet50' to use it."
            )


def backbone_features(
    backbone,
    inputs,
    modality_names,
    *,
    backbone_weights=None,
    feature_layers=None,
    trainable_backbone=True,
    use_mfa=True,
    use_mifa=True,
    where="build_model",
):
    """Runs one copy of `backbone` per modality with MFA and MIFA at every feature level.

    Args:
        backbone: a `keras.applications` name, a KerasHub or KerasCV backbone or a functional
            `keras.Model` (see the module docstring).
        inputs: one `keras.Input` per modality, images in [0, 1].
        modality_names: the modality names; they prefix each copy's layer names.
        backbone_weights: `None`, `"imagenet"` or a weights file (`keras.applications`
            names only).
        feature_layers: layer names whose outputs are the feature levels, from the input
            towards the output; `None` for the defaults.
        trainable_backbone: `False` freezes the backbone copies (attention stays trainable).
        use_mfa, use_mifa: the ablation switches of `build_model`.
        where: the entry point that argument errors name.

    Returns:
        The fused feature maps of the last level, one per modality.
    """
    trainable_backbone = _checks.boolean(where, "trainable_backbone", trainable_backbone)
    if feature_layers is not None:
        _check_feature_layer_names(where, feature_layers)
    if isinstance(backbone, str):
        sources = _application_sources(where, backbone, inputs, modality_names, backbone_weights)
    else:
        sources = _model_sources(where, backbone, inputs, modality_names, backbone_weights)

    # Copies of a randomly initialised keras.applications network keep their own fresh
    # initialisation (as the paper's branches do); any other backbone's weights are copied.
    copy_weights = not isinstance(backbone, str) or backbone_weights is not None
    # A network built here from its name is built again when the model is rebuilt from its
    # config, so its unnamed layers must not take their names from Keras's process-wide
    # counters; the layers of a model passed in keep their (saved) names.
    built_here = isinstance(backbone, str)
    branches, levels = [], []
    for x, m, (model, preprocessing, default_levels) in zip(inputs, modality_names, sources):
        if feature_layers is None:
            levels.append(default_levels(model))
        else:
            levels.append(_tapped_levels(where, model, feature_layers))
        _check_levels(where, model, levels[-1])
        if preprocessing is not None:
            x = ImageNetPreprocessing(preprocessing, name=f"{m}_preprocessing")(x)
        branches.append(
            _BackboneCopy(
                model, x, m, copy_weights=copy_weights, trainable=trainable_backbone,
                naming=_ModelWideNames() if built_here else _own_name, where=where,
            )
        )

    for k in range(len(levels[0])):
        features = [branch(lv[k]) for branch, lv in zip(branches, levels)]
        channels = features[0].shape[-1]
        if use_mfa:
            features = [
                MultiBranchFusionAttention(channels, name=f"{m}_level{k + 1}_mfa")(x)
                for m, x in zip(modality_names, features)
            ]
        if use_mifa:
            features = MultimodalInformationFusionAttention(channels, name=f"mifa_level{k + 1}")(
                features
            )
        for branch, lv, x in zip(branches, levels, features):
            branch.replace(lv[k], x)
    return features


# --- keras.applications -------------------------------------------------------------------


def _application_sources(where, name, inputs, modality_names, weights):
    """One `(model, preprocessing mode, default levels)` per modality for a named backbone."""
    key = _application_key(name, caller=where)
    _check_application_weights(where, weights)
    constructor, mode, blocks = APPLICATION_BACKBONES[key]
    built = {}
    sources = []
    for x, m in zip(inputs, modality_names):
        shape = tuple(x.shape[1:])
        _check_rgb_input(where, key, shape, m)
        if shape not in built:
            built[shape] = _application(where, key, constructor, weights, shape)
        sources.append((built[shape], mode, functools.partial(_application_levels, blocks=blocks)))
    return sources


def default_feature_layers(backbone, input_shape=(224, 224, 3)):
    """The layers `build_model` taps by default in a `keras.applications` backbone.

    Args:
        backbone: a name from `APPLICATION_BACKBONES`, e.g. `"efficientnetb0"`.
        input_shape: the image shape to build the backbone for (random weights).

    Returns:
        The layer names of the default feature levels, from the input towards the output:
        the last block outputs at strides 8 and 16 and the final feature map.

    Example:

    >>> default_feature_layers("resnet50")
    ['conv3_block4_out', 'conv4_block6_out', 'conv5_block3_out']
    """
    key = _application_key(backbone, caller="default_feature_layers")
    constructor, _, blocks = APPLICATION_BACKBONES[key]
    model = _application(
        "default_feature_layers", key, constructor, None, tuple(input_shape)
    )
    return [_graph.producer_name(x) for x in _application_levels(model, blocks)]


def _application_key(name, caller="build_model"):
    key = name.lower() if isinstance(name, str) else None
    if key not in APPLICATION_BACKBONES:
        raise ValueError(
            f"{caller}: unknown backbone {name!r}; expected 'drifa' or one of the "
            f"keras.applications names {sorted(APPLICATION_BACKBONES)}, a KerasHub or KerasCV "
            "backbone, or a functional keras.Model with feature_layers."
        )
    return key


def _check_application_weights(where, weights):
    if weights is None or weights == "imagenet":
        return
    if not isinstance(weights, (str, os.PathLike)) or not os.path.isfile(weights):
        raise ValueError(
            f"{where}: backbone_weights must be None (random initialisation), 'imagenet' "
            f"or the path of an existing weights file; received {weights!r}."
        )


def _check_rgb_input(where, name, shape, modality):
    height, width, channels = shape
    if channels != 3:
        gray = ""
        if channels == 1:
            gray = " by repeating the gray channel (e.g. np.repeat(x, 3, axis=-1))"
        raise ValueError(
            f"{where}: backbone '{name}' is an ImageNet network for RGB images (3 "
            f"channels), but modality '{modality}' has input_shape {shape}. Convert the images "
            f"to RGB{gray} and use input_shape ({height}, {width}, 3), or pass your own "
            f"keras.Model built for {channels} channels with feature_layers=[...]."
        )
    for dim_name, dim in (("height", height), ("width", width)):
        if dim is not None and dim < 32:
            raise ValueError(
                f"{where}: backbone '{name}' downsamples by 32 and needs images of at "
                f"least 32x32; modality '{modality}' has input_shape {shape} ({dim_name} "
                f"{dim})."
            )


def _application(where, name, constructor, weights, shape):
    build = getattr(keras.applications, constructor)
    try:
        return build(include_top=False, weights=weights, input_shape=shape)
    except Exception as error:
        if weights != "imagenet" or not _is_download_failure(error):
            raise
        raise FileNotFoundError(_offline_message(where, name, error)) from None


def _is_download_failure(error):
    # keras.utils.get_file re-raises network errors as a bare Exception with this message.
    return isinstance(error, OSError) or str(error).startswith("URL fetch failure")


def _offline_message(where, name, error):
    folder = os.path.join(keras_cache_dir(), "models")
    origin = re.search(r"URL fetch failure on (\S+): ", str(error))
    cached = os.path.join(folder, os.path.basename(origin.group(1))) if origin else folder
    source = f" from {origin.group(1)}" if origin else ""
    return (
        f"{where}: backbone_weights='imagenet' needs the ImageNet weights of backbone "
        f"'{name}', which are not in the Keras cache and could not be downloaded{source} "
        f"({error}). Keras looks for them at {cached} (the 'models' folder under KERAS_HOME, "
        "default ~/.keras). Without network access, copy the file there from a machine that "
        "has it, pass its path as backbone_weights='/path/to/file.h5', or use "
        "backbone_weights=None to start from random weights."
    )


def keras_cache_dir():
    """The folder `keras.utils.get_file` caches downloads in, as Keras resolves it.

    `$KERAS_HOME`, else `~/.keras`; `/tmp/.keras` when that folder is not writable.
    Pretrained weights go to its `models` subfolder. (Keras reads `$KERAS_HOME` when it is
    imported; Keras has no public accessor for it.)
    """
    home = os.path.expanduser(os.environ.get("KERAS_HOME") or os.path.join("~", ".keras"))
    if not os.access(home, os.W_OK) and not os.access(os.path.dirname(home), os.W_OK):
        home = os.path.join("/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir(), ".keras")
    return home


def _application_levels(model, blocks):
    """The last block output at strides 8 and 16, then the final feature map."""
    candidates = [layer.output for layer in model.layers if re.fullmatch(blocks, layer.name)]
    strides = _strides(model, candidates)
    levels = [
        [x for x, s in zip(candidates, strides) if s == stride][-1] for stride in _DEFAULT_STRIDES
    ]
    return levels + [model.outputs[0]]


def _strides(model, tensors):
    """The downsampling factor of each feature map relative to the model input."""
    size = model.inputs[0].shape[1]
    heights = [x.shape[1] for x in tensors]
    if size is None or None in heights:
        size = _PROBE_SIZE
        probe = keras.Model(model.inputs, tensors)
        specs = probe.compute_output_spec(
            keras.KerasTensor((1, size, size, model.inputs[0].shape[-1]))
        )
        heights = [spec.shape[1] for spec in keras.tree.flatten(specs)]
    return [2 ** round(math.log2(size / height)) for height in heights]


# --- KerasHub and KerasCV backbones, functional models ------------------------------------


def _model_sources(where, backbone, inputs, modality_names, weights):
    if not isinstance(backbone, keras.Model):
        raise ValueError(
            f"{where}: backbone must be 'drifa', a keras.applications name (e.g. "
            f"'efficientnetb0'), a KerasHub or KerasCV backbone or a functional keras.Model; "
            f"received "
            f"{type(backbone).__name__} {backbone!r:.80}."
        )
    if weights is not None:
        raise ValueError(
            f"{where}: backbone_weights={weights!r} applies to keras.applications names "
            f"only; {type(backbone).__name__} '{backbone.name}' brings its own weights. Load "
            "them into it first (backbone.load_weights(path)) and pass backbone_weights=None."
        )
    try:
        model_inputs = backbone.inputs
    except (AttributeError, ValueError):
        model_inputs = None
    if not model_inputs:
        raise ValueError(
            f"{where}: backbone {type(backbone).__name__} '{backbone.name}' has no layer "
            "graph whose intermediate outputs can be tapped (a subclassed keras.Model, or a "
            "keras.Sequential without keras.Input). Build it with the functional API "
            "(keras.Model(inputs, outputs)) or keras.Sequential starting with keras.Input, "
            "then pass feature_layers."
        )
    if len(model_inputs) != 1:
        raise ValueError(
            f"{where}: backbone '{backbone.name}' has {len(model_inputs)} inputs; expected "
            "one image input, copied once per modality."
        )
    for x, m in zip(inputs, modality_names):
        _check_model_input(where, backbone, tuple(x.shape[1:]), m)

    pyramid = getattr(backbone, "pyramid_level_inputs", None)
    hub_pyramid = getattr(backbone, "pyramid_outputs", None)
    if pyramid:
        # KerasCV backbones built with include_rescaling=True divide by 255 themselves.
        preprocessing = "pixels" if getattr(backbone, "include_rescaling", False) else None
        default = functools.partial(_pyramid_levels, where, pyramid=pyramid)
    elif hub_pyramid:
        # KerasHub keeps the image converter outside the backbone: images arrive unchanged.
        preprocessing = None
        names = {level: _graph.producer_name(tensor) for level, tensor in hub_pyramid.items()}
        default = functools.partial(_pyramid_levels, where, pyramid=names)
    else:
        preprocessing = None
        default = functools.partial(_missing_feature_layers, where)
    return [(backbone, preprocessing, default)] * len(inputs)


def _check_model_input(where, backbone, shape, modality):
    expected = tuple(backbone.inputs[0].shape[1:])
    if len(expected) != 3:
        raise ValueError(
            f"{where}: backbone '{backbone.name}' takes inputs of shape {expected}; "
            "expected images (height, width, channels)."
        )
    if expected[-1] != shape[-1]:
        fix = (
            "Repeat the gray channel (e.g. np.repeat(x, 3, axis=-1)) and use input_shape "
            f"{shape[:2] + (3,)}"
            if shape[-1] == 1 and expected[-1] == 3
            else f"Convert the images to {expected[-1]} channels"
        )
        raise ValueError(
            f"{where}: backbone '{backbone.name}' takes {expected[-1]}-channel images "
            f"{expected}, but modality '{modality}' has input_shape {shape}. {fix}, or build "
            f"the backbone for {shape[-1]} channels (e.g. input_shape=(None, None, "
            f"{shape[-1]}))."
        )
    for axis, dim_name in ((0, "height"), (1, "width")):
        if expected[axis] is not None and expected[axis] != shape[axis]:
            raise ValueError(
                f"{where}: backbone '{backbone.name}' takes images of {dim_name} "
                f"{expected[axis]} {expected}, but modality '{modality}' has input_shape "
                f"{shape}. Resize the images or build the backbone with input_shape="
                f"(None, None, {expected[-1]})."
            )


def _pyramid_levels(where, model, pyramid):
    """The last pyramid levels of `pyramid`, `{"P3": layer name, ...}`, as tapped maps."""
    keys = sorted(pyramid, key=lambda key: int(str(key).lstrip("P")))
    return _tapped_levels(where, model, [pyramid[key] for key in keys[-_PYRAMID_DEFAULT_LEVELS:]])


def _missing_feature_layers(where, model):
    last_per_size = {}
    for layer in model.layers:
        shape = getattr(layer.output, "shape", None)
        if shape is not None and len(shape) == 4 and shape[1] is not None:
            last_per_size[shape[1:3]] = layer.name
    hint = list(last_per_size.values())[-3:]
    example = f" The last layers at each of its last resolutions are {hint}." if hint else ""
    raise ValueError(
        f"{where}: backbone '{model.name}' is your own keras.Model, so feature_layers is "
        "required: the names of the layers whose 4-D outputs are the feature levels, from "
        f"the input towards the output.{example}"
    )


# --- feature levels ------------------------------------------------------------------------


def _check_feature_layer_names(where, feature_layers):
    if (
        isinstance(feature_layers, str)
        or not isinstance(feature_layers, (list, tuple))
        or not feature_layers
        or not all(isinstance(name, str) for name in feature_layers)
    ):
        raise ValueError(
            f"{where}: feature_layers must be a non-empty list of layer names; received "
            f"{feature_layers!r}."
        )
    if len(set(feature_layers)) != len(feature_layers):
        raise ValueError(
            f"{where}: feature_layers lists a layer more than once: {list(feature_layers)}."
        )


def _tapped_levels(where, model, names):
    levels = []
    for name in names:
        try:
            layer = model.get_layer(name)
        except ValueError:
            close = difflib.get_close_matches(name, [layer.name for layer in model.layers], n=5)
            hint = f" Close names: {close}." if close else ""
            raise ValueError(
                f"{where}: feature layer '{name}' is not a layer of backbone "
                f"'{model.name}'.{hint} See [layer.name for layer in backbone.layers]."
            ) from None
        output = layer.output
        if not isinstance(output, keras.KerasTensor) or len(output.shape) != 4:
            shape = (
                output.shape
                if isinstance(output, keras.KerasTensor)
                else [x.shape for x in keras.tree.flatten(output)]
            )
            raise ValueError(
                f"{where}: feature layer '{name}' of backbone '{model.name}' outputs "
                f"{shape}; expected one 4-D feature map (batch, height, width, channels)."
            )
        levels.append(output)
    return levels


def _check_levels(where, model, levels):
    """Each level must be computed from the one before, so the fused maps flow on."""
    names = [_graph.producer_name(x) for x in levels]
    for k in range(1, len(levels)):
        if id(levels[k - 1]) not in _upstream_ids(levels[k]):
            raise ValueError(
                f"{where}: feature layer '{names[k]}' of backbone '{model.name}' is not "
                f"computed from '{names[k - 1]}'; list feature_layers {names} from the input "
                "towards the output, each one downstream of the one before."
            )


# --- copying a functional graph ------------------------------------------------------------
# Re-tracing a functional graph with other layers and substituted tensors walks its nodes
# (keras_drifa._graph, the module allowed Keras's private graph attributes).


def _upstream_ids(tensor):
    """The ids of every tensor `tensor` is computed from."""
    return _graph.ancestor_ids(tensor)


def _own_name(operation):
    return operation.name


class _ModelWideNames:
    """Copies of unnamed layers are numbered within the backbone, not the process.

    Keras names an unnamed layer after its class with a process-wide number
    (`rescaling_3`: the fourth `Rescaling` built so far), so a `keras.applications`
    network built twice names its unnamed layers differently. Their copies are numbered
    in the order they are made instead (`rescaling`, `rescaling_1`, ...), which is the
    same in every build of the model.
    """

    def __init__(self):
        self._counts = {}

    def __call__(self, operation):
        base = _snake_case(type(operation).__name__)
        if not re.fullmatch(rf"{re.escape(base)}(_\d+)?", operation.name):
            return operation.name
        count = self._counts.get(base, 0)
        self._counts[base] = count + 1
        return base if count == 0 else f"{base}_{count}"


def _snake_case(class_name):
    """The prefix of Keras's automatic names for instances of `class_name`."""
    name = re.sub(r"\W+", "", class_name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


class _BackboneCopy:
    """One modality's own copy of a functional backbone, traced lazily on its input.

    Calling it with a tensor of the original backbone returns the copy's version, copying
    (renamed `f"{prefix}_{naming(layer)}"`, with the original's weights if
    `copy_weights`) only the layers needed so far. `replace` substitutes a tensor, e.g. a
    feature map refined by attention, for everything traced after it.
    """

    def __init__(
        self, model, x, prefix, *, copy_weights, trainable, naming, where="build_model"
    ):
        self._where = where
        self._values = {id(model.inputs[0]): x}
        self._copies = {}
        self._prefix = prefix
        self._copy_weights = copy_weights
        self._trainable = trainable
        self._naming = naming

    def __call__(self, tensor):
        if id(tensor) in self._values:
            return self._values[id(tensor)]
        for node in _graph.nodes_after([tensor], self._values):
            args, kwargs = _graph.call_arguments(node, self._values)
            original = node.operation
            copy = self._copies.get(id(original))
            if copy is not None:  # a layer the backbone calls more than once
                outputs = copy(*args, **kwargs)
            else:
                copy = self._copies[id(original)] = _renamed_copy(
                    self._where, original, f"{self._prefix}_{self._naming(original)}", self._prefix
                )
                outputs = copy(*args, **kwargs)  # builds the copy
                if isinstance(copy, keras.layers.Layer):
                    if self._copy_weights:
                        copy.set_weights(original.get_weights())
                    if not self._trainable:
                        copy.trainable = False
            for x, y in zip(node.outputs, keras.tree.flatten(outputs)):
                self._values[id(x)] = y
        return self._values[id(tensor)]

    def replace(self, tensor, value):
        self._values[id(tensor)] = value


def _renamed_copy(where, operation, name, prefix):
    try:
        config = operation.get_config()
        config["name"] = name
        return operation.__class__.from_config(config)
    except Exception as error:
        raise ValueError(
            f"{where}: cannot copy backbone layer '{operation.name}' "
            f"({type(operation).__name__}) for modality '{prefix}': rebuilding it from its "
            f"get_config() failed ({error}). Every modality gets its own copy of the "
            "backbone, so each layer needs a get_config() that returns its constructor "
            "arguments."
        ) from error
