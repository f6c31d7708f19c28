"""`GradCAM`: class activation maps for every modality of a multimodal model, on any backend."""

import contextlib
import warnings

import keras
import numpy as np

from keras_drifa import _checks
from keras_drifa._progress import progress_bar
from keras_drifa.backend import gradients as backend_gradients
from keras_drifa.ensemble import MCDropoutEnsemble
from keras_drifa.explain._methods import METHODS, class_activation_maps, normalise
from keras_drifa.explain._resize import resize_bilinear
from keras_drifa.explain.targets import ExplainedGraph
from keras_drifa.mc_sampling import mc_dropout_layers, mc_sampling


def _targets_key(target_layers):
    """A hashable key for `target_layers`; TypeError for values GradCAM does not accept."""
    if target_layers is None or isinstance(target_layers, str):
        return target_layers
    if isinstance(target_layers, keras.layers.Layer):
        return ("layer", id(target_layers))
    if isinstance(target_layers, dict):
        return ("dict",) + tuple(sorted((k, _targets_key(v)) for k, v in target_layers.items()))
    if isinstance(target_layers, (list, tuple)):
        return ("list",) + tuple(_targets_key(v) for v in target_layers)
    raise TypeError(f"unsupported target_layers {target_layers!r}")


def _explained_graph(model, target_layers):
    """The model cut at its targets, shared by every `GradCAM` of the same model and
    targets, so that sub-models compiled on JAX are compiled once. Cached on the model past
    Keras' attribute tracking: not part of its state, config or saved files."""
    try:
        key = _targets_key(target_layers)
        hash(key)
    except TypeError:
        key = None
    if not isinstance(model, keras.Model) or (key is None and target_layers is not None):
        # Not cacheable; ExplainedGraph says what is wrong with the arguments.
        return ExplainedGraph(model, target_layers, caller="GradCAM")
    cache = model.__dict__.get("_keras_drifa_explained_graphs")
    if cache is None:
        cache = {}
        object.__setattr__(model, "_keras_drifa_explained_graphs", cache)
    if key not in cache:
        cache[key] = ExplainedGraph(model, target_layers, caller="GradCAM")
    return cache[key]


def check_method(where, method):
    """`method` if it is one of `METHODS`, else a `ValueError` naming `where`."""
    if method not in METHODS:
        raise ValueError(
            f"{where}: `method` must be one of {METHODS}; received method={method!r}."
        )
    return method


class GradCAMResult(dict):
    """What `GradCAM` returns, whatever its arguments: a dict `{modality_name: maps}`.

    The dict holds the maps, `(batch, height, width)` float32 in [0, 1] at each modality's
    input size; with several passes (Monte Carlo samples or ensemble members) they are the
    per-pixel mean over the passes. Attributes:

    - `maps`: the same dict.
    - `mean`: the same dict (the mean over one pass is the map itself).
    - `std`: `{modality_name: (batch, height, width)}`, the per-pixel standard deviation
      over the passes, or `None` with a single pass.
    - `raw`: `{modality_name: ...}`, the maps before resizing and normalisation (the
      ReLU'd class activation maps at the target layer's resolution, whose magnitudes can
      be compared across modalities and samples): `(batch, h, w)` with one pass,
      `(passes, batch, h, w)` with several.
    - `passes`: how many maps were averaged per sample.

    Example:

    ```python
    result = keras_drifa.explain.GradCAM(model)([x_a, x_b])
    result["modality_0"].shape             # (batch, height, width)
    result.raw["modality_0"].shape         # (batch, h, w) at the target layer
    ```
    """

    def __init__(self, maps, raw, std=None, passes=1):
        super().__init__(maps)
        self.raw = raw
        self.std = std
        self.passes = passes

    @property
    def maps(self):
        return dict(self)

    @property
    def mean(self):
        return dict(self)

    def __repr__(self):
        shapes = ", ".join(f"{m!r}: {v.shape}" for m, v in self.items())
        return f"GradCAMResult({{{shapes}}}, passes={self.passes})"


class GradCAM:
    """Grad-CAM maps of a multimodal model: where in each modality the evidence for a class is.

    For every modality, the gradient of the class score with respect to a hidden feature
    map of that modality's branch weights the map's channels (Selvaraju et al., ICCV 2017).
    The resulting heatmap is resized (bilinearly) to the modality's input and divided by its
    maximum, so values lie in [0, 1], 0 meaning no positive evidence. The score is the class
    logit (the input of the softmax) when the output ends in a softmax, as in the paper: a
    confident softmax saturates and its gradient vanishes. The model runs in inference mode.

    The gradient is taken through the whole graph after the target layers, so fusion models
    whose later layers read every branch (DRIFA-Net's MIFA) are explained correctly. Only the
    autodiff call is backend-specific, so TensorFlow, JAX and PyTorch give the same maps.

    Methods: `"gradcam"` (channel weights are the averaged gradients), `"gradcam++"`
    (Chattopadhay et al., WACV 2018: positive gradients weighted per pixel, better with
    several instances of a class) and `"hirescam"` (Draelos and Carin 2020: gradient times
    feature map summed over channels, keeping the gradient's spatial detail).

    Explanation uncertainty: with `num_samples=T` the maps are computed T times with Monte
    Carlo dropout switched on (the model needs `keras_drifa.layers.MCDropout` layers), and
    the result holds their per-pixel mean and standard deviation (`std`), i.e. how sure the model
    is about *where* its evidence lies. For a `keras_drifa.MCDropoutEnsemble`, every member
    contributes (T samples each with `num_samples`, else one deterministic map each).

    Args:
        model: a functional `keras.Model` (e.g. from `keras_drifa.build_model`) or a
            `keras_drifa.MCDropoutEnsemble` of such models.
        target_layers: `None` for the last feature map of every modality's branch before
            the fusion head: for a `DRIFANet` (from `build_model`) its `branch_features`;
            for another functional model its `"<modality>_features"` layers if it has them
            (older models: the inputs of `"fusion_concat"`, or with one modality the input
            of `"fusion_dropout"` / `"fusion_pool"`); for another single-input model, the
            last 4-D feature map. Otherwise one layer per modality, by name or as a layer,
            in a list in input order or a dict `{modality_name: layer}`. A layer returning
            one map per modality (like MIFA) gives each modality its own.
        method: `"gradcam"`, `"gradcam++"` or `"hirescam"`.
        num_samples: `None` for deterministic maps, or an integer >= 2 of Monte Carlo
            dropout samples for the mean and standard deviation.
        batch_size: samples per forward and backward pass.

    Call arguments:
        inputs: one array per modality `(batch, height, width, channels)`, as a list in
            input order or a dict keyed by modality name (a single array for one modality).
        task: index or name of the output to explain.
        class_index: `None` for the predicted class (of the mean prediction over MC samples
            and members when there are several passes), an int for all samples, or one int
            per sample.
        verbose: `"auto"` shows progress when there is more than one pass (a live bar on
            a terminal or in a notebook, one line at the end elsewhere), 0 never, 1 always.

    Returns:
        A `GradCAMResult`, always: a dict `{modality_name: (batch, height, width)}` of
        float32 in [0, 1] at each modality's input size (the mean over the passes when
        there are several), with the attributes `std` (per-pixel standard deviation over
        the passes, `None` with one pass), `raw` (the maps before resizing and
        normalisation, at the target layer's resolution) and `passes`.

    Example:

    ```python
    model = keras_drifa.build_model(2, (64, 64, 3), (3, 4), widths=(8, 16),
                                    blocks_per_stage=(1, 1))
    cam = keras_drifa.explain.GradCAM(model)
    maps = cam([x_a, x_b], task="task_0")           # the predicted classes
    maps["modality_0"].shape                         # (batch, 64, 64)
    sampled = keras_drifa.explain.GradCAM(model, num_samples=20)([x_a, x_b])
    sampled.std["modality_0"]                        # where the model is unsure
    ```
    """

    def __init__(self, model, target_layers=None, method="gradcam", num_samples=None,
                 batch_size=32):
        check_method("GradCAM", method)
        if num_samples is not None:
            # A standard deviation needs two samples.
            num_samples = _checks.positive_int("GradCAM", "num_samples", num_samples, minimum=2)
        batch_size = _checks.positive_int("GradCAM", "batch_size", batch_size)
        ensemble = isinstance(model, MCDropoutEnsemble)
        members = list(model.members) if ensemble else [model]
        if ensemble and not model.members_in_order:
            # GradCAM feeds and reads every member in member 0's order.
            raise ValueError(
                f"GradCAM: the members of ensemble '{model.name}' list their inputs or "
                "outputs in different orders (the ensemble matches them by name); expected "
                "members with member 0's order for Grad-CAM, or explain each member alone."
            )
        self.graphs = [_explained_graph(member, target_layers) for member in members]
        self.graph = self.graphs[0]
        if num_samples is not None and not mc_dropout_layers(model):
            raise ValueError(
                f"GradCAM: num_samples={num_samples} needs Monte Carlo dropout, but model "
                f"'{model.name}' has no keras_drifa.layers.MCDropout layer; build it with "
                "dropout_rate > 0 or leave num_samples=None."
            )
        self.model = model
        self.method = method
        self.num_samples = num_samples
        self.batch_size = batch_size
        self._warned_coarse = set()
        for m, target in enumerate(self.graph.targets):
            self._warn_if_coarse(m, tuple(target.shape[1:3]))

    @property
    def modalities(self):
        """The modality (input) names, in input order."""
        return list(self.graph.modalities)

    @property
    def tasks(self):
        """The task (output) names, in output order."""
        return list(self.graph.tasks)

    @property
    def target_layers(self):
        """`{modality_name: layer_name}` of the explained feature maps (first member)."""
        return dict(zip(self.graph.modalities, self.graph.target_names))

    @property
    def _passes(self):
        """Maps averaged per sample: MC samples of every member (one each without MC)."""
        return len(self.graphs) * (self.num_samples or 1)

    def predict(self, inputs, task=0):
        """The probabilities that Grad-CAM explains by default (their argmax).

        The model's prediction of `task`, averaged over the members of an ensemble and,
        with `num_samples`, over that many Monte Carlo samples (MC dropout on).

        Args:
            inputs: as for calling: one array per modality, a list in input order or a
                dict by modality name.
            task: index or name of the output.

        Returns:
            `(batch, num_classes)` NumPy array.
        """
        arrays = self._input_arrays(inputs)
        task = self._task_index(task)
        with self._sampling():
            return np.concatenate([
                self._predict([a[start:start + self.batch_size] for a in arrays], task)
                for start in range(0, arrays[0].shape[0], self.batch_size)
            ])

    def __call__(self, inputs, task=0, class_index=None, verbose="auto"):
        arrays = self._input_arrays(inputs)
        task = self._task_index(task)
        class_index = self._class_indices(class_index, task, arrays[0].shape[0])
        for graph in self.graphs:
            for m, modality in enumerate(graph.modalities):
                if not graph.connected(m, task):
                    raise ValueError(
                        f"GradCAM: the output of task '{graph.tasks[task]}' does not depend "
                        f"on target layer '{graph.target_names[m]}' of modality "
                        f"'{modality}', so its gradient is zero everywhere and the map "
                        "would be blank; choose a target layer on a path to that output."
                    )
        if verbose not in ("auto", 0, 1):
            raise ValueError(
                f"GradCAM: `verbose` must be 'auto', 0 or 1; received verbose={verbose!r}."
            )

        starts = range(0, arrays[0].shape[0], self.batch_size)
        steps = len(starts) * self._passes
        progbar = progress_bar(steps, 0 if verbose == "auto" and steps == 1 else verbose, "pass")
        chunks, zero_gradient = [], []
        with self._sampling():
            for start in starts:
                stop = start + self.batch_size
                batch = [a[start:stop] for a in arrays]
                fixed = None if class_index is None else class_index[start:stop]
                chunk, zero = self._explain_batch(batch, task, fixed, progbar)
                chunks.append(chunk)
                zero_gradient.append(zero)
        self._warn_zero_gradients(np.concatenate(zero_gradient), task)
        for m, modality in enumerate(self.modalities):  # map sizes unknown until now
            self._warn_if_coarse(m, chunks[0][-1][modality].shape[-2:])
        results = tuple(
            {m: np.concatenate([c[i][m] for c in chunks], axis=-3) for m in self.modalities}
            for i in range(len(chunks[0]))
        )
        if self._passes == 1:
            maps, raw = results
            return GradCAMResult(maps, raw)
        mean, std, raw = results
        return GradCAMResult(mean, raw, std=std, passes=self._passes)

    def _explain_batch(self, batch, task, fixed, progbar):
        if fixed is None and self._passes > 1:
            # Every pass explains the same class: the one of the mean prediction, over MC
            # samples when sampling (the caller switched sampling on).
            fixed = np.argmax(self._predict(batch, task), axis=-1)
        # Welford's running mean and variance keep memory independent of the passes.
        count, mean, m2 = 0, None, None
        raw_passes = {m: [] for m in self.modalities}
        zero = np.zeros(batch[0].shape[0], bool)
        for graph in self.graphs:
            for _ in range(self.num_samples or 1):
                raw, zero_now = self._one_pass(graph, batch, task, fixed)
                zero |= zero_now
                maps = {
                    m: normalise(resize_bilinear(r, a.shape[1:3]))
                    for m, r, a in zip(self.modalities, raw, batch)
                }
                count += 1
                if mean is None:
                    mean = {m: np.zeros(maps[m].shape) for m in self.modalities}
                    m2 = {m: np.zeros(maps[m].shape) for m in self.modalities}
                for m, r in zip(self.modalities, raw):
                    delta = maps[m] - mean[m]
                    mean[m] += delta / count
                    m2[m] += delta * (maps[m] - mean[m])
                    raw_passes[m].append(r.astype(np.float32))
                if progbar is not None:
                    progbar.add(1)
        mean = {m: mean[m].astype(np.float32) for m in self.modalities}
        if self._passes == 1:
            return (mean, {m: raw_passes[m][0] for m in self.modalities}), zero
        std = {m: np.sqrt(m2[m] / count).astype(np.float32) for m in self.modalities}
        raw = {m: np.stack(raw_passes[m]) for m in self.modalities}
        return (mean, std, raw), zero

    def _one_pass(self, graph, batch, task, fixed):
        """Raw maps per modality for one forward and backward pass of one model, and which
        samples had an all-zero gradient."""
        chosen = {}

        def choose_class(scores):
            # Every cut of a pass explains the same class: the fixed one, else the first
            # cut's prediction.
            if "classes" not in chosen:
                chosen["classes"] = (
                    np.asarray(fixed) if fixed is not None else np.argmax(scores, axis=-1)
                )
            return chosen["classes"]

        raw = [None] * len(graph.modalities)
        zero = np.zeros(batch[0].shape[0], bool)
        for cut, group in zip(graph.cuts, graph.groups):
            values = cut.tail_values(batch)
            _, _, gradients = backend_gradients.class_score_gradients(
                cut.tail, values, cut.num_targets, task, choose_class
            )
            for k, m in enumerate(group):
                raw[m] = class_activation_maps(self.method, values[k], gradients[k])
                zero |= ~np.any(gradients[k] != 0, axis=(1, 2, 3))
        return raw, zero

    def _sampling(self):
        """MC dropout on with `num_samples`, else nothing."""
        if self.num_samples is None:
            return contextlib.nullcontext()
        return mc_sampling(self.model)

    def _predict(self, batch, task):
        """Mean predicted probabilities of `task` for one batch (a list of arrays), over the
        members and, when sampling is on, over `num_samples` draws."""
        draws = [
            cut.outputs(cut.tail_values(batch))[task]
            for cut in (graph.cuts[0] for graph in self.graphs)
            for _ in range(self.num_samples or 1)
        ]
        return np.mean(draws, axis=0)

    def _warn_if_coarse(self, modality, size):
        """Warns (once per modality) when the explained map is at most 2x2: then the map
        can at best say which quarter of the image holds the evidence, and at 1x1 it is a
        flat tint."""
        if None in size or max(size) > 2 or modality in self._warned_coarse:
            return
        self._warned_coarse.add(modality)
        name = self.graph.modalities[modality]
        height, width = self.graph.input_shapes[modality][:2]
        input_size = f"{height or '?'}x{width or '?'}"
        warnings.warn(
            f"GradCAM: target layer '{self.graph.target_names[modality]}' of modality "
            f"'{name}' gives {size[0]}x{size[1]} maps for {input_size} inputs, too coarse "
            "to localise evidence (a 1x1 map is a flat tint); explain an earlier, larger "
            "feature map with target_layers=..., or use larger inputs.",
            stacklevel=3,
        )

    def _warn_zero_gradients(self, zero, task):
        if zero.any():
            warnings.warn(
                f"GradCAM: the gradient of the explained class of task "
                f"'{self.graph.tasks[task]}' is zero everywhere at a target layer for "
                f"samples {np.flatnonzero(zero).tolist()} (e.g. dead ReLUs), so their maps "
                "for that modality are all zeros.",
                stacklevel=3,
            )

    def _input_arrays(self, inputs):
        """Validates `inputs` and returns one array per modality, in input order."""
        return _checks.input_arrays(
            "GradCAM",
            inputs,
            self.graph.modalities,
            self.graph.input_shapes,
            [keras.backend.standardize_dtype(t.dtype) for t in self.graph.model.inputs],
            arg="inputs",
        )

    def _task_index(self, task):
        """The output index of `task`, given as an index or a name."""
        return _checks.task_index("GradCAM", task, self.graph.tasks)

    def _class_indices(self, class_index, task, batch_size):
        """`None`, or one validated class index per sample."""
        if class_index is None:
            return None
        num_classes = self.graph.num_classes[task]
        name = self.graph.tasks[task]
        if _checks.is_int(class_index):
            indices = np.full(batch_size, int(class_index))
        else:
            indices = np.asarray(class_index)
            if indices.dtype == object or not (
                np.issubdtype(indices.dtype, np.integer) and indices.shape == (batch_size,)
            ):
                raise ValueError(
                    f"GradCAM: class_index must be None, an int or {batch_size} ints (one per "
                    f"sample); received {class_index!r}."
                )
        bad = indices[(indices < 0) | (indices >= num_classes)]
        if bad.size:
            raise ValueError(
                f"GradCAM: class_index {bad.tolist()} is out of range for task '{name}' with "
                f"{num_classes} classes; expected 0 <= class_index < {num_classes}."
            )
        return indices.astype(np.int64)
