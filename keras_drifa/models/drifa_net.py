"""`DRIFANet`: DRIFA-Net as a functional Keras model built from its hyperparameters, and
`build_model`, its front door."""

import contextvars
import copy
import os

import keras

from keras_drifa import _checks, _saving
from keras_drifa.backend import training as backend_training
from keras_drifa.distributed._torch_ddp import DataParallelTraining
from keras_drifa.layers import (
    MCDropout,
    MultiBranchFusionAttention,
    MultimodalInformationFusionAttention,
    RobustResidualAttentionBlock,
    SynchronizedBatchNormalization,
)
from keras_drifa.layers._initializers import StackedGlorotUniform
from keras_drifa.layers._validation import check_channels_last
from keras_drifa.layers.mc_dropout import MC_DROPOUT_MODES
from keras_drifa.models import _arguments, backbones, fusion as fusion_heads
from keras_drifa.models.fusion import FUSIONS

PAPER_WIDTHS = (64, 128, 256, 512)
PAPER_BLOCKS_PER_STAGE = (2, 2, 2, 2)
# Each branch ends in a zero-parameter Identity layer named f"{modality}{FEATURES_SUFFIX}",
# whose output is the branch's entry in `DRIFANet.branch_features`.
FEATURES_SUFFIX = "_features"
# The entry point that argument errors name: `build_model` while it builds, else `DRIFANet`.
_ENTRY_POINT = contextvars.ContextVar("keras_drifa_entry_point", default="DRIFANet")


@keras.saving.register_keras_serializable(package="keras_drifa")
class DRIFANet(DataParallelTraining, keras.Model):
    """DRIFA-Net (Dhar et al., WACV 2025), built from its hyperparameters.

    One ResNet-18-style branch per modality (no shared weights): a 7x7 stem with MFA, then
    stages of robust residual attention (RRA) blocks. After every block each branch gets MC
    dropout (all stages but the last) and an MFA (every block but the final one), then a
    MIFA fuses the branches. The head concatenates the branches, applies MC dropout and
    global average pooling, and ends in one softmax per task. The defaults are the paper
    configuration: 53,884,868 parameters, 19,200 of them non-trainable.

    DRIFA's attention also fits on other networks (`backbone=`): every modality gets its own
    copy of a `keras.applications` model, a KerasHub or KerasCV backbone or your functional
    `keras.Model`; at each feature level an MFA refines each branch and a MIFA fuses the
    branches, and the fused maps flow on through the backbone up to its last feature level,
    which feeds the same head. See `keras_drifa.models.backbones` for the default levels.

    For comparisons, `fusion=` builds the same branches without DRIFA's attention and
    fuses them in a baseline head instead (concatenation, an MLP, gated modality weights,
    cross-modal attention or a transformer over all modalities' tokens); `use_mfa`,
    `use_mifa` and `use_block_mfa` remove DRIFA's parts one at a time.
    `keras_drifa.models.ABLATIONS` lists the ablation ladder and
    `keras_drifa.models.fusion_parameter_counts` the size of every fusion option.

    Args:
        modalities: number of modalities, or a list of their names.
        input_shape: `(height, width, channels)` for every modality, or a list with one
            shape per modality (channels and spatial size may differ). Images are channels
            last: the model refuses to build while
            `keras.config.image_data_format()` is `"channels_first"`.
        num_classes: an int (one head), a sequence (one head each) or a dict
            `{task_name: n}`; each at least 2.
        backbone: `"drifa"` (the paper network), the name of a `keras.applications` model
            (e.g. `"efficientnetb0"`, `"resnet50"`, `"densenet121"`, `"mobilenetv2"`; see
            `keras_drifa.models.backbones.APPLICATION_BACKBONES`), a KerasHub backbone
            with `pyramid_outputs` (e.g. `keras_hub.models.ResNetBackbone`), a KerasCV
            backbone, or a functional `keras.Model` with one image input (then
            `feature_layers` is required). Inputs are images in [0, 1]: the ImageNet
            preprocessing of a named backbone is part of the model; a KerasHub backbone and
            your own model receive the images unchanged.
        backbone_weights: for `keras.applications` names: `None` (random), `"imagenet"` or
            the path of a weights file.
        feature_layers: names of backbone layers whose outputs are the feature levels, from
            the input towards the output. `None`: the family's default levels (the last
            block outputs at strides 8 and 16 and the final feature map) or a KerasCV
            backbone's last three pyramid levels.
        trainable_backbone: `False` freezes the backbone copies; the attention layers and
            heads still train.
        widths: filters of each stage of the `"drifa"` backbone; the stem uses `widths[0]`.
        blocks_per_stage: RRA blocks in each stage of the `"drifa"` backbone; the first
            block of every stage after the first has stride 2.
        dropout_rate: MC dropout rate in [0, 1); 0 removes the MC dropout layers. With
            another backbone only the head has MC dropout.
        fusion: how the modalities are fused (see `keras_drifa.models.fusion`):
            `"drifa"` (DRIFA-Net: MFA and MIFA in the branches, a concatenating head) or a
            baseline on plain branches (no MFA, no MIFA): `"concat"` (concatenation and
            pooling, the paper's baseline), `"mlp"` (plus a hidden ReLU layer),
            `"gated"` (`keras_drifa.layers.GatedModalityFusion`), `"cross_attention"`
            (`CrossModalAttentionFusion`, two modalities or more) or `"transformer"`
            (`MultimodalTransformerFusion`). The attention fusions need fixed image sizes.
        fusion_units: width of the `"mlp"`, `"gated"`, `"cross_attention"` and
            `"transformer"` heads (`None`: the branches' channels, `widths[-1]`), to match
            parameter budgets (`keras_drifa.models.fusion_parameter_counts`).
        use_mfa: `False` removes every MFA (the paper's MFA ablation). `None` (default):
            on with `fusion="drifa"`, off otherwise; `True` with another fusion is an
            error.
        use_mifa: `False` removes every MIFA (the MIFA ablation); `None` as `use_mfa`.
            With both `False` the model is `fusion="concat"`: a plain multi-branch ResNet
            with concatenation fusion.
        use_block_mfa: `False` removes only the MFAs that follow the RRA blocks (the
            "then MFA" column of the architecture table; the MFAs of the stem and inside
            the blocks stay). `None`: as `use_mfa`. `"drifa"` backbone only.
        batch_norm_momentum: momentum of the moving statistics of the `"drifa"`
            backbone's batch normalisation (Keras's and the authors' 0.99). Short
            trainings (a few hundred steps) predict better with 0.9: the moving averages
            then catch up with the weights.
        sync_batch_norm: `True` gives the `"drifa"` backbone
            `keras_drifa.layers.SynchronizedBatchNormalization`: when training on several
            devices (`keras_drifa.distributed`), batch statistics cover the global batch
            instead of each replica's part. The same computation as `False` on one device
            and the same weights (`set_weights` moves them; a `.weights.h5` file of one
            does not load into the other).
        mc_dropout: `"on_demand"` (deterministic inference; sample with
            `keras_drifa.mc_sampling(model)`) or `"always"` (the authors' always-on
            dropout).
        modality_names: names of the inputs (default `modality_0`, `modality_1`, ...).
        task_names: names of the outputs (default `task_0`, `task_1`, ...).
        name: model name.
        **kwargs: other `keras.Model` arguments (`trainable`).

    Attributes:
        branch_features: `{modality_name: tensor}`, the last feature map of each branch
            (the symbolic output of its zero-parameter `"<modality>_features"` layer), in
            input order. Grad-CAM explains these by default, and
            `keras.Model(model.inputs, model.branch_features)` computes them.
        modalities, num_classes, modality_names, task_names, widths, ...: the
            constructor's arguments, normalised: `modalities` and `num_classes` as counts
            (`num_classes` a tuple), the names as lists, `widths` and `blocks_per_stage`
            as tuples. `input_shape` is kept as `image_shape` (Keras's
            `Model.input_shape` has the batch dimension). A `keras.Model` backbone is
            kept as `keras.saving.serialize_keras_object(backbone)`, since every
            modality runs its own copy of it, which the model holds, not the original.

    `get_config` returns these hyperparameters, so a `.keras` file says what the model is
    rather than listing every layer, and `keras.models.load_model` rebuilds it with no
    `custom_objects`. `from_config` gives fresh weights, as Keras's rebuilding of a
    functional model does, and loads no `backbone_weights`: a `.keras` file brings its
    own weights, so it loads offline. (`keras.models.clone_model` returns a plain
    functional `keras.Model` with the same layers, as Keras clones every functional
    subclass whose constructor takes other arguments.) Files written by keras-drifa
    0.1.0, whose config is the whole layer graph, load too; such a model is saved in that
    form again and knows its `modality_names`, `task_names` and `branch_features`, while
    its other hyperparameter attributes are `None`.

    Beyond `keras.Model`: `compile` also creates the optimizer's, loss trackers' and
    metrics' variables, which Keras otherwise creates inside the first trace of the train
    function; on TensorFlow that makes the train function trace once instead of twice,
    halving the wait for the first training step (see docs/performance.md). And `save` to
    a `.keras` file is atomic: it writes a temporary file next to the target and moves it
    into place, so a save that fails (or a `keras.callbacks.ModelCheckpoint` interrupted
    while saving) leaves the previous file intact.

    Example:

    ```python
    model = keras_drifa.DRIFANet(["pap_smear", "dermoscopy"], input_shape=(32, 32, 3),
                                 num_classes=(5, 7), widths=(8, 16, 16, 32))
    model.compile(optimizer="adam", loss="categorical_crossentropy", loss_weights=[0.5, 0.5])
    model.fit([x_a, x_b], [y_a, y_b], epochs=2)
    model.branch_features["dermoscopy"]   # shape (None, 1, 1, 32)
    model.get_config()["widths"]          # (8, 16, 16, 32)
    ```
    """

    def __init__(
        self,
        modalities=2,
        input_shape=(128, 128, 3),
        num_classes=(5, 7),
        *,
        backbone=backbones.DRIFA,
        backbone_weights=None,
        feature_layers=None,
        trainable_backbone=True,
        widths=PAPER_WIDTHS,
        blocks_per_stage=PAPER_BLOCKS_PER_STAGE,
        dropout_rate=0.25,
        fusion="drifa",
        fusion_units=None,
        use_mfa=None,
        use_mifa=None,
        use_block_mfa=None,
        batch_norm_momentum=0.99,
        sync_batch_norm=False,
        mc_dropout="on_demand",
        modality_names=None,
        task_names=None,
        name="drifa_net",
        **kwargs,
    ):
        # === Arguments ===
        where = _ENTRY_POINT.get()
        check_channels_last(where)
        uses_drifa = backbones.is_drifa(backbone)
        switches = _arguments.fusion_switches(
            where, fusion, FUSIONS, use_mfa, use_mifa, use_block_mfa, uses_drifa
        )
        fusion_units = _arguments.fusion_units(
            where, fusion, fusion_heads.WIDE_FUSIONS, fusion_units
        )
        trainable_backbone = _checks.boolean(where, "trainable_backbone", trainable_backbone)
        sync_batch_norm = _checks.boolean(where, "sync_batch_norm", sync_batch_norm)
        modality_names = _arguments.modality_names(where, modalities, modality_names)
        shapes = _arguments.input_shapes(where, input_shape, modality_names)
        tasks = _arguments.tasks(where, num_classes, task_names)
        widths, blocks_per_stage = _arguments.stages(where, widths, blocks_per_stage)
        _check_fusion_inputs(where, fusion, modality_names, shapes)
        _check_backbone_arguments(
            where, backbone, backbone_weights, feature_layers, trainable_backbone,
            sync_batch_norm, widths, blocks_per_stage,
        )
        dropout_rate = _checks.number(where, "dropout_rate", dropout_rate, 0, 1, open_high=True)
        batch_norm_momentum = _checks.number(
            where, "batch_norm_momentum", batch_norm_momentum, 0, 1, open_high=True
        )
        mc_dropout = _checks.choice(where, "mc_dropout", mc_dropout, MC_DROPOUT_MODES)

        # === Functional model ===
        inputs, features, outputs = _network(
            where, modality_names, shapes, tasks, backbone, backbone_weights, feature_layers,
            trainable_backbone, widths, blocks_per_stage, dropout_rate, fusion, fusion_units,
            switches, batch_norm_momentum, sync_batch_norm, mc_dropout,
        )
        super().__init__(inputs=_unlist(inputs), outputs=_unlist(outputs), name=name, **kwargs)

        # === Config ===
        self.modalities = len(modality_names)
        self.image_shape = shapes[0] if len(set(shapes)) == 1 else list(shapes)
        self.num_classes = tuple(n for _, n in tasks)
        self.backbone = (
            backbone if isinstance(backbone, str) else keras.saving.serialize_keras_object(backbone)
        )
        self.backbone_weights = (
            os.fspath(backbone_weights) if isinstance(backbone_weights, os.PathLike) else backbone_weights
        )
        self.feature_layers = None if feature_layers is None else list(feature_layers)
        self.trainable_backbone = trainable_backbone
        self.widths = widths
        self.blocks_per_stage = blocks_per_stage
        self.dropout_rate = dropout_rate
        self.fusion = fusion
        self.fusion_units = fusion_units
        # The switches as given: `None` means "the fusion's default".
        self.use_mfa = _optional_bool(use_mfa)
        self.use_mifa = _optional_bool(use_mifa)
        self.use_block_mfa = _optional_bool(use_block_mfa)
        self.batch_norm_momentum = batch_norm_momentum
        self.sync_batch_norm = sync_batch_norm
        self.mc_dropout = mc_dropout
        self.modality_names = modality_names
        self.task_names = [task for task, _ in tasks]
        self.branch_features = dict(zip(modality_names, features))
        self._whole_graph_config = False

    def get_config(self):
        if self._whole_graph_config:
            # A model loaded from a 0.1.0 file: its config stays the whole graph.
            graph = keras.Model(inputs=self.input, outputs=self.output, name=self.name)
            return dict(graph.get_config(), trainable=self.trainable)
        return {
            "name": self.name,
            "trainable": self.trainable,
            "modalities": self.modalities,
            "input_shape": self.image_shape,
            "num_classes": self.num_classes,
            "backbone": self.backbone,
            "backbone_weights": self.backbone_weights,
            "feature_layers": self.feature_layers,
            "trainable_backbone": self.trainable_backbone,
            "widths": self.widths,
            "blocks_per_stage": self.blocks_per_stage,
            "dropout_rate": self.dropout_rate,
            "fusion": self.fusion,
            "fusion_units": self.fusion_units,
            "use_mfa": self.use_mfa,
            "use_mifa": self.use_mifa,
            "use_block_mfa": self.use_block_mfa,
            "batch_norm_momentum": self.batch_norm_momentum,
            "sync_batch_norm": self.sync_batch_norm,
            "mc_dropout": self.mc_dropout,
            "modality_names": self.modality_names,
            "task_names": self.task_names,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = copy.deepcopy(config)  # deserialising a backbone consumes its config
        if "layers" in config and "input_layers" in config:
            return cls._from_whole_graph_config(config, custom_objects)
        if isinstance(config.get("backbone"), dict):
            config["backbone"] = keras.saving.deserialize_keras_object(
                config["backbone"], custom_objects=custom_objects
            )
        # Fresh weights, as for every layer rebuilt from its config: a loaded file brings
        # its weights, so pretrained backbone weights are neither downloaded nor read.
        backbone_weights = config.pop("backbone_weights", None)
        model = cls(**config)
        model.backbone_weights = backbone_weights
        return model

    @classmethod
    def _from_whole_graph_config(cls, config, custom_objects):
        """A model saved by keras-drifa 0.1.0, whose config lists every layer and node.

        Keras rebuilds that graph as a plain functional model; the DRIFANet is then made
        over the same tensors (sharing the layers), as `keras.Model(inputs, outputs)`
        would make it.
        """
        graph = keras.Model.from_config(config, custom_objects=custom_objects)
        model = cls.__new__(cls)
        super(DRIFANet, model).__init__(
            inputs=graph.input, outputs=graph.output, name=graph.name, trainable=graph.trainable
        )
        for attribute in _HYPERPARAMETERS:
            setattr(model, attribute, None)
        model.modality_names = [t.name for t in model.inputs]
        model.task_names = list(model.output_names)
        # `build_model` added the markers; a DRIFANet made from tensors by hand may lack them.
        layers = {layer.name: layer for layer in model.layers}
        model.branch_features = {
            m: layers[f"{m}{FEATURES_SUFFIX}"].output
            for m in model.modality_names
            if f"{m}{FEATURES_SUFFIX}" in layers
        }
        model._whole_graph_config = True
        return model

    def save(self, filepath, overwrite=True, zipped=None, **kwargs):
        return _saving.save_atomically(
            super().save, filepath, overwrite=overwrite, zipped=zipped, **kwargs
        )

    def compile(self, *args, **kwargs):
        super().compile(*args, **kwargs)
        backend_training.build_training_state(
            self, self.outputs if len(self.outputs) > 1 else self.output
        )

    def compile_from_config(self, config):
        # Keras restores the compile state of a loaded model only for models that do not
        # override `compile`; this one's `compile` takes the same arguments.
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built:
            self.optimizer.build(self.trainable_variables)


# Attributes holding constructor arguments; a model loaded from a 0.1.0 file has them `None`.
_HYPERPARAMETERS = (
    "modalities", "image_shape", "num_classes", "backbone", "backbone_weights",
    "feature_layers", "trainable_backbone", "widths", "blocks_per_stage", "dropout_rate",
    "fusion", "fusion_units", "use_mfa", "use_mifa", "use_block_mfa", "batch_norm_momentum",
    "sync_batch_norm", "mc_dropout",
)


def build_model(
    modalities=2,
    input_shape=(128, 128, 3),
    num_classes=(5, 7),
    *,
    backbone=backbones.DRIFA,
    backbone_weights=None,
    feature_layers=None,
    trainable_backbone=True,
    widths=PAPER_WIDTHS,
    blocks_per_stage=PAPER_BLOCKS_PER_STAGE,
    dropout_rate=0.25,
    fusion="drifa",
    fusion_units=None,
    use_mfa=None,
    use_mifa=None,
    use_block_mfa=None,
    batch_norm_momentum=0.99,
    sync_batch_norm=False,
    mc_dropout="on_demand",
    modality_names=None,
    task_names=None,
    name="drifa_net",
):
    """Builds DRIFA-Net (Dhar et al., WACV 2025): `DRIFANet(...)` with these arguments.

    The front door of the library: the paper network by default (53,884,868 parameters,
    19,200 of them non-trainable), its ablations (`use_mfa`, `use_mifa`,
    `use_block_mfa`), the fusion baselines (`fusion=`) and DRIFA's attention on another
    network (`backbone=`). `DRIFANet` documents every argument.

    Returns:
        A `DRIFANet`, a functional `keras.Model` whose inputs and outputs carry the
        modality and task names, so `fit` takes lists or dicts. A single modality or task
        gives a single tensor.

    Example:

    ```python
    model = keras_drifa.build_model(modalities=2, input_shape=(32, 32, 3), num_classes=(5, 7),
                                    widths=(8, 16, 16, 32))
    model.compile(optimizer="adam", loss="categorical_crossentropy", loss_weights=[0.5, 0.5])
    model.fit([x_a, x_b], [y_a, y_b], epochs=2)

    transfer = keras_drifa.build_model(modalities=2, input_shape=(224, 224, 3),
                                       num_classes=(5, 7), backbone="efficientnetb0",
                                       backbone_weights="imagenet")
    ```
    """
    token = _ENTRY_POINT.set("build_model")
    try:
        return DRIFANet(
            modalities,
            input_shape,
            num_classes,
            backbone=backbone,
            backbone_weights=backbone_weights,
            feature_layers=feature_layers,
            trainable_backbone=trainable_backbone,
            widths=widths,
            blocks_per_stage=blocks_per_stage,
            dropout_rate=dropout_rate,
            fusion=fusion,
            fusion_units=fusion_units,
            use_mfa=use_mfa,
            use_mifa=use_mifa,
            use_block_mfa=use_block_mfa,
            batch_norm_momentum=batch_norm_momentum,
            sync_batch_norm=sync_batch_norm,
            mc_dropout=mc_dropout,
            modality_names=modality_names,
            task_names=task_names,
            name=name,
        )
    finally:
        _ENTRY_POINT.reset(token)


def _optional_bool(value):
    return None if value is None else bool(value)


def _unlist(values):
    return values if len(values) > 1 else values[0]


def _check_fusion_inputs(where, fusion, modality_names, shapes):
    if fusion == "cross_attention" and len(modality_names) < 2:
        raise ValueError(
            f"{where}: fusion='cross_attention' needs at least two modalities (each "
            f"attends to the others); received {len(modality_names)}: {modality_names}."
        )
    if fusion in fusion_heads.TOKEN_FUSIONS:
        for m, shape in zip(modality_names, shapes):
            if None in shape[:2]:
                raise ValueError(
                    f"{where}: fusion={fusion!r} needs fixed image sizes (its position "
                    "embeddings have one entry per feature-map pixel); received input_shape "
                    f"{shape} for modality '{m}'."
                )


def _check_backbone_arguments(
    where, backbone, backbone_weights, feature_layers, trainable_backbone, sync_batch_norm,
    widths, blocks_per_stage,
):
    if backbones.is_drifa(backbone):
        backbones.check_drifa_arguments(
            backbone_weights, feature_layers, trainable_backbone, where=where
        )
    elif sync_batch_norm:
        raise ValueError(
            f"{where}: sync_batch_norm=True applies to the 'drifa' backbone; received it "
            f"with backbone={backbone!r:.80}, whose batch normalisation layers are its own."
        )
    elif (widths, blocks_per_stage) != (PAPER_WIDTHS, PAPER_BLOCKS_PER_STAGE):
        raise ValueError(
            f"{where}: widths={widths} and blocks_per_stage={blocks_per_stage} shape the "
            f"'drifa' backbone only; received them with backbone={backbone!r:.80}."
        )


def _network(
    where, modality_names, shapes, tasks, backbone, backbone_weights, feature_layers,
    trainable_backbone, widths, blocks_per_stage, dropout_rate, fusion, fusion_units,
    switches, batch_norm_momentum, sync_batch_norm, mc_dropout,
):
    """`(inputs, branch features, outputs)` of the functional graph, as lists."""
    use_mfa, use_mifa, use_block_mfa = switches

    def dropout(x, layer_name):
        if dropout_rate == 0:
            return x
        return MCDropout(dropout_rate, mode=mc_dropout, name=layer_name)(x)

    inputs = [keras.Input(shape, name=m) for m, shape in zip(modality_names, shapes)]
    if backbones.is_drifa(backbone):
        features = _drifa_branches(
            inputs, modality_names, widths, blocks_per_stage, use_mfa, use_mifa, use_block_mfa,
            dropout, batch_norm_momentum, sync_batch_norm,
        )
    else:
        features = backbones.backbone_features(
            backbone,
            inputs,
            modality_names,
            backbone_weights=backbone_weights,
            feature_layers=feature_layers,
            trainable_backbone=trainable_backbone,
            use_mfa=use_mfa,
            use_mifa=use_mifa,
            where=where,
        )

    # Zero-parameter markers: the last feature map of each branch (`branch_features`).
    features = [
        keras.layers.Identity(name=f"{m}{FEATURES_SUFFIX}")(x)
        for m, x in zip(modality_names, features)
    ]
    pooled = fusion_heads.fused_vector(fusion, features, modality_names, dropout, fusion_units)
    # Softmax heads stay float32 under mixed precision, for numerically safe losses.
    outputs = [
        keras.layers.Dense(
            n, activation="softmax", kernel_initializer=StackedGlorotUniform(),
            dtype="float32", name=task,
        )(pooled)
        for task, n in tasks
    ]
    return inputs, features, outputs


def _drifa_branches(
    inputs, modality_names, widths, blocks_per_stage, use_mfa, use_mifa, use_block_mfa, dropout,
    momentum, sync_batch_norm,
):
    """The paper network: a stem per modality, then the RRA blocks with MFA, MIFA, dropout."""
    features = [
        _stem(x, widths[0], use_mfa, momentum, sync_batch_norm, prefix=m)
        for m, x in zip(modality_names, inputs)
    ]

    for block in _block_plan(widths, blocks_per_stage):
        k = block["index"]
        features = [
            RobustResidualAttentionBlock(
                block["filters"], block["strides"], use_mfa=use_mfa,
                batch_norm_momentum=momentum, sync_batch_norm=sync_batch_norm,
                name=f"{m}_block{k}",
            )(x)
            for m, x in zip(modality_names, features)
        ]
        if block["dropout"]:
            features = [dropout(x, f"{m}_block{k}_dropout") for m, x in zip(modality_names, features)]
        if block["mfa"] and use_block_mfa:
            features = [
                MultiBranchFusionAttention(block["filters"], name=f"{m}_block{k}_mfa")(x)
                for m, x in zip(modality_names, features)
            ]
        if use_mifa:
            features = MultimodalInformationFusionAttention(
                block["filters"], name=f"mifa_block{k}"
            )(features)
    return features


def _stem(x, filters, use_mfa, momentum, sync_batch_norm, prefix):
    x = keras.layers.Conv2D(
        filters, 7, strides=2, padding="same", kernel_initializer=StackedGlorotUniform(),
        name=f"{prefix}_stem_conv",
    )(x)
    if use_mfa:
        x = MultiBranchFusionAttention(filters, name=f"{prefix}_stem_mfa")(x)
    batch_norm = SynchronizedBatchNormalization if sync_batch_norm else keras.layers.BatchNormalization
    x = batch_norm(momentum=momentum, name=f"{prefix}_stem_bn")(x)
    x = keras.layers.ReLU(name=f"{prefix}_stem_relu")(x)
    return keras.layers.MaxPooling2D(3, strides=2, padding="same", name=f"{prefix}_stem_pool")(x)


def _block_plan(widths, blocks_per_stage):
    """One entry per RRA block, in order: the rows of the architecture table.

    Every stage but the first opens with a stride-2 block. MC dropout follows every block
    outside the last stage; an MFA follows every block but the final one.
    """
    plan = []
    last_stage = len(widths) - 1
    for stage, (filters, num_blocks) in enumerate(zip(widths, blocks_per_stage)):
        for b in range(num_blocks):
            plan.append(
                {
                    "index": len(plan) + 1,
                    "filters": filters,
                    "strides": 2 if stage > 0 and b == 0 else 1,
                    "dropout": stage < last_stage,
                    "mfa": True,
                }
            )
    plan[-1]["mfa"] = False
    return plan
